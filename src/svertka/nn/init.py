"""`svertka.nn.init`: in-place initialisation of tensors, with torch's formulas and names.

Every function fills its tensor in place (without recording a graph) from svertka's global
generator, so ``svertka.manual_seed`` makes it reproducible, and returns the tensor.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from svertka._validate import error
from svertka.random import get_rng
from svertka.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "trunc_normal_", "orthogonal_"]


def _fill(tensor, values, fn):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: tensor must be a svertka Tensor, got {type(tensor).__name__}")
    if values is not tensor._data:
        tensor._data[...] = values
    tensor._version[0] += 1
    return tensor


def _draw_dtype(tensor):
    # draw directly in single precision for float32/float16 tensors: 2-3x faster to build a
    # big model (VGG's 100M weights) than drawing float64 and casting
    return np.float64 if tensor._data.dtype == np.float64 else np.float32


def _uniform(tensor, low, high):
    """U(low, high) in the tensor's precision, written straight into its memory if possible."""
    dt = _draw_dtype(tensor)
    a = tensor._data
    if a.dtype == dt and a.flags.c_contiguous and a.flags.writeable:
        get_rng().random(out=a, dtype=dt)  # no temporary: VGG's 400 MB layer filled in place
        values = a
    else:
        values = get_rng().random(tuple(tensor.shape), dtype=dt)
    values *= dt(high - low)
    values += dt(low)
    return values


def _normal(tensor, mean, std):
    """N(mean, std^2) in the tensor's precision, written straight into its memory if possible."""
    dt = _draw_dtype(tensor)
    a = tensor._data
    if a.dtype == dt and a.flags.c_contiguous and a.flags.writeable:
        get_rng().standard_normal(out=a, dtype=dt)
        values = a
    else:
        values = get_rng().standard_normal(tuple(tensor.shape), dtype=dt)
    if std != 1:
        values *= dt(std)
    if mean != 0:
        values += dt(mean)
    return values


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity (torch's table).

    ============ ==========================================
    linear, conv 1
    sigmoid      1
    tanh         5/3
    relu         sqrt(2)
    leaky_relu   sqrt(2 / (1 + negative_slope^2)), slope 0.01 by default
    selu         3/4
    ============ ==========================================

    >>> round(calculate_gain("relu"), 6), calculate_gain("tanh")
    (1.414214, 1.6666666666666667)
    """
    linear = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d"]
    if nonlinearity in linear or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Real) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor, fn="init"):
    if tensor.ndim < 2:
        raise error(fn, f"fan in and fan out can not be computed for a tensor with fewer than "
                        f"2 dimensions, got shape {tuple(tensor.shape)}")
    receptive = int(np.prod(tensor.shape[2:], dtype=np.int64)) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode, fn):
    if mode not in ("fan_in", "fan_out"):
        raise error(fn, f"mode must be 'fan_in' or 'fan_out', got mode={mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, fn)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with values drawn from U(a, b)."""
    return _fill(tensor, _uniform(tensor, a, b), "uniform_")


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with values drawn from N(mean, std^2)."""
    return _fill(tensor, _normal(tensor, mean, std), "normal_")


def constant_(tensor, val):
    """Fill ``tensor`` with ``val`` in place, without recording gradients; return it."""
    return _fill(tensor, val, "constant_")


def zeros_(tensor):
    """Fill ``tensor`` with zeros in place, without recording gradients; return it."""
    return _fill(tensor, 0, "zeros_")


def ones_(tensor):
    """Fill ``tensor`` with ones in place, without recording gradients; return it."""
    return _fill(tensor, 1, "ones_")


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix."""
    if tensor.ndim != 2:
        raise error("eye_", f"only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape), "eye_")


def dirac_(tensor, groups=1):
    """Fill a 3-5-D conv weight so that the convolution is the identity (per group)."""
    if tensor.ndim not in (3, 4, 5):
        raise error("dirac_", f"only 3, 4 or 5-D tensors are supported, got shape "
                              f"{tuple(tensor.shape)}")
    out_per_group = tensor.shape[0] // groups
    n = min(out_per_group, tensor.shape[1])
    values = np.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    g = np.repeat(np.arange(groups), n)
    d = np.tile(np.arange(n), groups)
    values[(g * out_per_group + d, d) + centre] = 1
    return _fill(tensor, values, "dirac_")


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_uniform_")
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(tensor, _uniform(tensor, -a, a), "xavier_uniform_")


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor, "xavier_normal_")
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(tensor, _normal(tensor, 0.0, std), "xavier_normal_")


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan_mode)``.

    torch's layers call it with ``a=sqrt(5)``, which gives ``b = 1 / sqrt(fan_in)``.
    """
    if 0 in tensor.shape:
        return tensor
    fan = _fan(tensor, mode, "kaiming_uniform_")
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _fill(tensor, _uniform(tensor, -bound, bound), "kaiming_uniform_")


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan_mode)``."""
    if 0 in tensor.shape:
        return tensor
    fan = _fan(tensor, mode, "kaiming_normal_")
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _fill(tensor, _normal(tensor, 0.0, std), "kaiming_normal_")


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std^2) restricted to [a, b] (exact: out-of-range draws are redrawn)."""
    if not a < b:
        raise error("trunc_normal_", f"a must be less than b, got a={a}, b={b}")
    rng = get_rng()
    values = rng.normal(mean, std, tensor.shape)
    bad = (values < a) | (values > b)
    for _ in range(10_000):
        if not bad.any():
            break
        values[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (values < a) | (values > b)
    else:  # the interval holds almost no mass: fall back to clipping
        np.clip(values, a, b, out=values)
    return _fill(tensor, values, "trunc_normal_")


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal matrix (Saxe et al.)."""
    if tensor.ndim < 2:
        raise error("orthogonal_", f"only tensors with 2 or more dimensions are supported, got "
                                   f"shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = get_rng().normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape), "orthogonal_")
