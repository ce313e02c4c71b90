"""Distances between rows of two tensors: ``cosine_similarity``, ``pairwise_distance``.

Both are compositions of differentiable tensor ops (norms, products, clamps).
"""

from __future__ import annotations

import numpy as np

from svertka._validate import check_dim, check_float_tensor, error, type_error

__all__ = ["cosine_similarity", "pairwise_distance"]


def _pair(x1, x2, fn):
    for name, t in (("x1", x1), ("x2", x2)):
        check_float_tensor(t, name, fn)
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise error(fn, f"shapes {tuple(x1.shape)} and {tuple(x2.shape)} do not "
                        f"broadcast") from None
    return shape


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``x1 . x2 / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (broadcasting).

    Args:
        x1, x2: float tensors that broadcast to one shape.
        dim: the dimension of the vectors (default 1).
        eps: the smallest norm divided by (default 1e-8); as in torch, the gradient flows
            through the norm as if it were not clamped.

    Shape:
        x1, x2 broadcastable; output: the broadcast shape without ``dim``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.cosine_similarity(svertka.tensor([[1., 0.], [0., 1.]]),
        ...                     svertka.tensor([[0., 2.], [0., 3.]]))
        tensor([0., 1.])
    """
    fn = "cosine_similarity"
    shape = _pair(x1, x2, fn)
    d = check_dim(dim, len(shape), fn)
    if not isinstance(eps, (int, float)) or eps < 0:
        raise error(fn, f"eps must be a non-negative number, got eps={eps!r}")
    # Broadcast first: ``dim`` may be an axis that only one of the two has (torch expands too).
    x1 = x1 if tuple(x1.shape) == tuple(shape) else x1.expand(*shape)
    x2 = x2 if tuple(x2.shape) == tuple(shape) else x2.expand(*shape)
    n1 = _clamped_norm(x1, d, eps)
    n2 = _clamped_norm(x2, d, eps)
    return ((x1 / n1) * (x2 / n2)).sum(d)


def _clamped_norm(x, dim, eps):
    """``max(||x||, eps)`` in value, with the gradient of ``||x||`` (torch clamps the norm in
    place under ``no_grad``, so its gradient passes as if unclamped)."""
    n = x.norm(2, dim, keepdim=True)
    nd = n.detach()
    return n + (nd.clamp(min=eps) - nd)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` along the last dimension.

    Shape:
        x1, x2 ``(N, D)`` or ``(D,)`` (broadcastable); output ``(N)`` (``(N, 1)`` with
        ``keepdim``).

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.pairwise_distance(svertka.tensor([[3., 0.]]), svertka.tensor([[0., 4.]]),
        ...                     eps=0.0)
        tensor([5.])
    """
    fn = "pairwise_distance"
    _pair(x1, x2, fn)
    if not isinstance(p, (int, float)) or p < 0:
        raise error(fn, f"p must be a non-negative number, got p={p!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise type_error(fn, f"eps must be a number, got eps={eps!r}")
    if not isinstance(keepdim, (bool, np.bool_)):
        raise type_error(fn, f"keepdim must be a bool, got keepdim={keepdim!r}")
    diff = x1 - x2 + eps
    if p == 2:
        return diff.norm(2, -1, keepdim)
    if p == float("inf"):
        return diff.abs().amax(-1, keepdim)
    if p == 1:
        return diff.abs().sum(-1, keepdim)
    if p == 0:
        return (diff != 0).to(diff.dtype).sum(-1, keepdim)
    return (diff.abs() ** p).sum(-1, keepdim) ** (1.0 / p)
