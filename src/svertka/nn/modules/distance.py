"""``CosineSimilarity`` and ``PairwiseDistance``: thin modules over ``nn.functional``."""

from __future__ import annotations

from svertka.nn import functional as F
from svertka.nn.modules.module import Module


class CosineSimilarity(Module):
    """``x1 . x2 / max(||x1|| * ||x2||, eps)`` along ``dim``, as ``torch.nn.CosineSimilarity``.

    Args:
        dim (int): the dimension of the vectors. Default: 1.
        eps (float): the floor of the norms' product. Default: 1e-8.

    Shape:
        - Input1, Input2: broadcastable shapes with the vectors along ``dim``.
        - Output: the broadcast shape without ``dim``.

    Examples::

        >>> import svertka
        >>> cos = svertka.nn.CosineSimilarity(dim=1)
        >>> cos(svertka.tensor([[1., 0.], [1., 1.]]), svertka.tensor([[1., 0.], [0., 1.]]))
        tensor([1.0000, 0.7071])
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """The ``p``-norm of ``x1 - x2 + eps`` along the last dimension, as
    ``torch.nn.PairwiseDistance``.

    Args:
        p (float): the norm degree. Default: 2.
        eps (float): added to the difference to avoid a zero norm. Default: 1e-6.
        keepdim (bool): keep the last dimension, of size 1. Default: ``False``.

    Shape:
        - Input1, Input2: ``(N, D)`` or ``(D)``, broadcastable.
        - Output: ``(N)`` or ``()``; ``(N, 1)`` with ``keepdim``.

    Examples::

        >>> import svertka
        >>> svertka.nn.PairwiseDistance()(svertka.tensor([[0., 0.]]), svertka.tensor([[3., 4.]]))
        tensor([5.0000])
    """

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
