"""``svertka.exp(x)``, ``svertka.sum(x, dim)``...: torch's free-function spellings of the
Tensor methods, each the method called on its first argument."""

from __future__ import annotations

import numpy as np

from svertka._tensor_ops import einsum
from svertka.tensor import Tensor, maximum, minimum

_METHODS = [
    "abs", "neg", "exp", "log", "sqrt", "rsqrt", "reciprocal", "square", "sin", "cos", "tanh",
    "sigmoid", "relu", "clamp", "pow", "sign", "floor", "ceil", "round", "add", "sub", "mul",
    "div", "sum", "mean", "var", "std", "prod", "logsumexp", "amax", "amin", "argmax",
    "argmin", "all", "any", "norm", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze",
    "permute", "transpose", "t", "flip", "narrow", "unbind", "masked_fill", "clone", "detach",
    "numel", "isnan", "isinf", "isfinite", "equal", "allclose", "logical_not", "softmax",
    "log_softmax",
    # more ops
    "topk", "sort", "argsort", "gather", "scatter", "scatter_add", "index_select", "nonzero",
    "cumsum", "cumprod", "tril", "triu", "mm", "bmm", "dot", "inner", "outer", "ger", "log1p",
    "expm1", "erf", "atan2", "arctan2", "isclose", "unique", "bincount", "bernoulli",
    "multinomial", "abs_", "exp_", "log_", "sqrt_", "neg_", "sigmoid_", "tanh_", "relu_",
]

__all__ = list(_METHODS) + ["max", "min", "clip", "absolute", "negative", "multiply",
                            "divide", "subtract", "is_tensor", "einsum", "meshgrid", "normal"]


def _make(name):
    def function(input, *args, **kwargs):
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``svertka.{name}(input, ...)`` is ``input.{name}(...)``."
    return function


for _name in _METHODS:
    globals()[_name] = _make(_name)
del _name


def max(input, dim=None, keepdim=False):  # noqa: A001
    """``max(input)``: the largest element; ``max(input, dim)``: (values, indices);
    ``max(input, other)``: the elementwise maximum, as in torch."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return input.max(dim, keepdim)


def min(input, dim=None, keepdim=False):  # noqa: A001
    """The ``min`` counterpart of :func:`max`."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return input.min(dim, keepdim)


def is_tensor(obj):
    """Whether ``obj`` is a svertka Tensor (a Parameter included)."""
    return isinstance(obj, Tensor)


clip = globals()["clamp"]
absolute = globals()["abs"]
negative = globals()["neg"]
multiply = globals()["mul"]
divide = globals()["div"]
subtract = globals()["sub"]


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors, as ``torch.meshgrid`` (differentiable).

    Examples::

        >>> import svertka
        >>> gx, gy = svertka.meshgrid(svertka.arange(3), svertka.arange(2), indexing="ij")
        >>> gx.shape
        svertka.Size([3, 2])
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be one of 'ij', 'xy', got "
                         f"indexing={indexing!r}")
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"meshgrid: expected Tensor as element {k}, got "
                            f"{type(t).__name__}")
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expected 0-D or 1-D tensors, got element {k} of shape "
                             f"{tuple(t.shape)}")
    ts = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    out = []
    for k, t in enumerate(ts):
        view = [1] * len(ts)
        view[k] = shape[k]
        out.append(t.reshape(view).expand(*shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def normal(mean, std=1.0, size=None, *, dtype=None, requires_grad=False):
    """Normal draws: ``normal(mean, std, size)`` with numbers, or elementwise with tensors of
    means and/or standard deviations (broadcast), from ``svertka.random``.

    Examples::

        >>> import svertka
        >>> svertka.normal(0.0, 1.0, size=(2, 3)).shape
        svertka.Size([2, 3])
    """
    from svertka import _dtype
    from svertka.random import get_rng

    tensors = [a for a in (mean, std) if isinstance(a, Tensor)]
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if np.any(np.asarray(s) < 0):
        raise ValueError("normal: std must be non-negative")
    if tensors:
        if size is not None:
            raise ValueError("normal: size is only allowed with number mean and std")
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        dt = tensors[0]._data.dtype
    else:
        if size is None:
            raise ValueError("normal: size is required when mean and std are numbers")
        shape = tuple(size) if isinstance(size, (tuple, list)) else (size,)
        dt = _dtype.to_np(dtype) if dtype is not None else _dtype.get_default_dtype().np
    out = Tensor._make(np.asarray(get_rng().normal(m, s, shape)).astype(dt))
    if requires_grad:
        out.requires_grad_(True)
    return out
