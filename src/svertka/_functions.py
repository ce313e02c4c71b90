"""``svertka.exp(x)``, ``svertka.sum(x, dim)``...: torch's free-function spellings of the
Tensor methods, each the method called on its first argument."""

from __future__ import annotations

from svertka.tensor import Tensor, maximum, minimum

_METHODS = [
    "abs", "neg", "exp", "log", "sqrt", "rsqrt", "reciprocal", "square", "sin", "cos", "tanh",
    "sigmoid", "relu", "clamp", "pow", "sign", "floor", "ceil", "round", "add", "sub", "mul",
    "div", "sum", "mean", "var", "std", "prod", "logsumexp", "amax", "amin", "argmax",
    "argmin", "all", "any", "norm", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze",
    "permute", "transpose", "t", "flip", "narrow", "unbind", "masked_fill", "clone", "detach",
    "numel", "isnan", "isinf", "isfinite", "equal", "allclose", "logical_not", "softmax",
    "log_softmax",
]

__all__ = list(_METHODS) + ["max", "min", "clip", "absolute", "negative", "multiply",
                            "divide", "subtract", "is_tensor"]


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
    return isinstance(obj, Tensor)


clip = globals()["clamp"]
absolute = globals()["abs"]
negative = globals()["neg"]
multiply = globals()["mul"]
divide = globals()["div"]
subtract = globals()["sub"]
