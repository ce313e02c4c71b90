"""Values of an imported graph (svertka Tensors or NumPy arrays) and the helpers the
operator handlers share: conversions, ONNX padding lists, the error for what is not
implemented."""

from __future__ import annotations

import numpy as np

import svertka.nn.functional as F
from svertka._creation import as_tensor
from svertka.nn.parameter import Parameter
from svertka.tensor import Tensor


class Unsupported(Exception):
    """A node svertka cannot run (an attribute value or mode it does not implement)."""


# ------------------------------------------------------------------------------- values

def as_value(x):
    """A graph input as the forward sees it: float data as a Tensor, the rest as NumPy."""
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    return as_tensor(arr) if arr.dtype.kind == "f" else arr


def to_output(v):
    if isinstance(v, Tensor):
        return v
    try:
        return as_tensor(np.ascontiguousarray(v))
    except (TypeError, ValueError):     # a dtype svertka has no tensor for (uint32, ...)
        return v


def _is_t(v):
    return isinstance(v, Tensor)


def _t(v):
    """``v`` as a Tensor (NumPy arrays and scalars wrapped, keeping their dtype)."""
    return v if isinstance(v, Tensor) else as_tensor(np.ascontiguousarray(v))


def _np(v):
    """``v`` as an ndarray (a Tensor's data, detached: used for shapes and constants)."""
    return v.detach().numpy() if isinstance(v, Tensor) else np.asarray(v)


def _ints(v):
    return [int(i) for i in _np(v).reshape(-1)]


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


def _pairs(pads, n):
    """ONNX ``[x1_begin, x2_begin, ..., x1_end, x2_end, ...]`` as ``((lo, hi), ...)``."""
    pads = list(pads) if pads is not None else [0] * (2 * n)
    return tuple((int(pads[i]), int(pads[i + n])) for i in range(n))


def _same_pairs(spatial, kernel, stride, dilation, auto_pad):
    """SAME_UPPER / SAME_LOWER padding: the output is ``ceil(in / stride)`` long; the odd
    pixel of padding goes at the end (UPPER) or the beginning (LOWER)."""
    pairs = []
    for i, k, s, d in zip(spatial, kernel, stride, dilation):
        total = max((-(-i // s) - 1) * s + (k - 1) * d + 1 - i, 0)
        small = total // 2
        pairs.append((small, total - small) if auto_pad == "SAME_UPPER" else
                     (total - small, small))
    return tuple(pairs)


def _window_pairs(a, x_shape, kernel, stride, dilation):
    auto = a.get("auto_pad", "NOTSET")
    n = len(kernel)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return _same_pairs(x_shape[2:], kernel, stride, dilation, auto)
    if auto == "VALID":
        return ((0, 0),) * n
    return _pairs(a.get("pads"), n)


def _pad_flat(pairs):
    """``((lo, hi), ...)`` of the spatial axes as ``F.pad``'s flat tuple (last axis first)."""
    return tuple(v for lo, hi in reversed(pairs) for v in (lo, hi))


def _zero_pad(x, pairs, value=0.0):
    if all(lo == 0 and hi == 0 for lo, hi in pairs):
        return x
    return F.pad(x, _pad_flat(pairs), mode="constant", value=value)


def _param(arr):
    return Parameter(as_tensor(np.array(arr)))


def _owned(b, names):
    """``{attr: onnx name}`` for the inputs a module takes over (``None`` entries dropped)."""
    return {attr: b.input(i) for attr, i in names.items() if b.input(i) is not None}
