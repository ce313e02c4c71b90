"""`Embedding`: a lookup table of learnable rows."""

from __future__ import annotations

from svertka import _dtype
from svertka import _validate as V
from svertka._creation import empty
from svertka.autograd import grad_mode
from svertka.nn import functional as F
from svertka.nn import init
from svertka.nn.modules.module import Module
from svertka.nn.parameter import Parameter


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, as ``torch.nn.Embedding``.

    Args:
        num_embeddings: the size of the table.
        embedding_dim: the size of each vector.
        padding_idx: a row initialised to zeros that gets no gradient (negative counts from
            the end).

    Shape:
        input ``(*)`` int64 indices, output ``(*, embedding_dim)``; weight initialised
        N(0, 1).

    Examples::

        >>> import svertka
        >>> emb = svertka.nn.Embedding(10, 3, padding_idx=0)
        >>> emb
        Embedding(10, 3, padding_idx=0)
        >>> emb(svertka.tensor([[1, 2, 0]])).shape
        svertka.Size([1, 3, 3])
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        num_embeddings = V.check_int(num_embeddings, "num_embeddings", "Embedding", minimum=0,
                                     what="a non-negative int")
        embedding_dim = V.check_int(embedding_dim, "embedding_dim", "Embedding", minimum=0,
                                    what="a non-negative int")
        V.check_numel((num_embeddings, embedding_dim), "Embedding", "weight")
        if padding_idx is not None:
            if not V.is_int(padding_idx) or not -num_embeddings <= padding_idx < num_embeddings:
                raise V.error("Embedding", f"padding_idx must be within num_embeddings "
                                           f"({num_embeddings}), got padding_idx={padding_idx!r}")
            padding_idx = int(padding_idx) % num_embeddings
        for name, value, default in (("max_norm", max_norm, None),
                                     ("scale_grad_by_freq", scale_grad_by_freq, False),
                                     ("sparse", sparse, False)):
            if value != default:
                raise V.error("Embedding", f"{name} is not supported, got {name}={value!r}")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            dt = _dtype.to_dtype(dtype) if dtype is not None else None
            self.weight = Parameter(empty(num_embeddings, embedding_dim, dtype=dt),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise V.error("Embedding", f"_weight must have shape ({num_embeddings}, "
                                           f"{embedding_dim}), got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        """Draw the weight from ``N(0, 1)``; the row ``padding_idx`` becomes zeros."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with grad_mode.no_grad():
                self.weight[self.padding_idx] = 0.0

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is a copy of the 2-D ``embeddings`` (frozen unless
        ``freeze=False``), as torch's.
        """
        if embeddings.ndim != 2:
            raise V.error("Embedding.from_pretrained", f"embeddings must be 2-D, got shape "
                                                       f"{tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings.detach().clone(), _freeze=freeze)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
