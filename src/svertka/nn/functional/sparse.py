"""Lookups by integer index: ``one_hot``, ``embedding``."""

from __future__ import annotations

import numpy as np

from svertka._validate import (
    INT64_MAX,
    check_float_tensor,
    check_numel,
    check_tensor,
    error,
    is_int,
    type_error,
)
from svertka.ops.indexing import Embedding
from svertka.tensor import Tensor

__all__ = ["one_hot", "embedding"]


def _long(x, name, fn):
    check_tensor(x, name, fn)
    if x._data.dtype.kind not in "iu":
        raise type_error(fn, f"{name} must be an integer (int64) tensor, got {name} of dtype "
                             f"{x.dtype}")
    return x._data.astype(np.int64, copy=False)


def one_hot(tensor, num_classes=-1):
    """Class indices to one-hot rows: ``out[..., c] = 1`` where ``tensor[...] == c``.

    Args:
        tensor: int64 class indices of any shape, in ``[0, num_classes)``.
        num_classes: the number of classes; -1 (default) means ``tensor.max() + 1``.

    Shape:
        input ``(*)``, output ``(*, num_classes)``, int64.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.one_hot(svertka.tensor([0, 2, 1]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1],
                [0, 1, 0]])
    """
    fn = "one_hot"
    a = _long(tensor, "tensor", fn)
    if not is_int(num_classes) or not -1 <= num_classes <= INT64_MAX:
        raise error(fn, f"num_classes must be -1 or a non-negative int, got "
                        f"num_classes={num_classes!r}")
    if a.size and a.min() < 0:
        raise error(fn, f"class values must be non-negative, got a value {a.min()}")
    if num_classes == -1:
        if a.size == 0:
            raise error(fn, "can not infer the total number of classes from an empty tensor; "
                            "pass num_classes")
        num_classes = int(a.max()) + 1
    if a.size and a.max() >= num_classes:
        raise error(fn, f"class values must be smaller than num_classes, got a value "
                        f"{a.max()} with num_classes={num_classes}")
    check_numel(a.shape + (num_classes,), fn, context=f"num_classes={num_classes}")
    out = (a[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor._make(out)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` picked by ``input``: ``out[...] = weight[input[...]]``.

    Args:
        input: int64 indices of any shape, in ``[0, num_embeddings)``.
        weight: the table, ``(num_embeddings, embedding_dim)``, float.
        padding_idx: a row (negative counts from the end) that gets no gradient.
        max_norm, scale_grad_by_freq, sparse: not supported (must keep their defaults).

    Shape:
        input ``(*)``, weight ``(V, D)``, output ``(*, D)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> w = svertka.arange(6.).reshape(3, 2)
        >>> F.embedding(svertka.tensor([[2, 0]]), w)
        tensor([[[4., 5.],
                 [0., 1.]]])
    """
    fn = "embedding"
    idx = _long(input, "input", fn)
    check_tensor(weight, "weight", fn)
    if weight.ndim != 2:
        raise error(fn, f"weight must be 2-D (num_embeddings, embedding_dim), got weight of "
                        f"shape {tuple(weight.shape)}")
    check_float_tensor(weight, "weight", fn)
    for name, value, default in (("max_norm", max_norm, None),
                                 ("scale_grad_by_freq", scale_grad_by_freq, False),
                                 ("sparse", sparse, False)):
        if value != default:
            raise error(fn, f"{name} is not supported, got {name}={value!r}")
    n = weight.shape[0]
    if padding_idx is not None:
        if not is_int(padding_idx) or not -n <= padding_idx < n:
            raise error(fn, f"padding_idx must be within num_embeddings ({n}), got "
                            f"padding_idx={padding_idx!r}")
        padding_idx = int(padding_idx) % n
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise error(fn, f"index {bad} is out of range for {n} embeddings")
    return Embedding.apply(weight, indices=idx, padding_idx=padding_idx)
