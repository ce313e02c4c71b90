"""Activation functions with torch.nn.functional's names, signatures and defaults.

Each function checks its arguments (errors name the function and the argument), then applies
one op of ``svertka.ops.activation``. Functions with ``inplace=True`` write the result into the
input's memory and bump its version counter (``Tensor._set_from``), as torch's ``relu_`` does.

``softmax``, ``log_softmax`` and ``softmin`` with ``dim=None`` follow torch's legacy implicit
rule (``dim=0`` for 0-, 1- and 3-D inputs, else ``dim=1``) and warn, as torch does; pass
``dim`` explicitly.
"""

from __future__ import annotations

import warnings

import numpy as np

from svertka._validate import (
    check_choice,
    check_dim,
    check_float_tensor,
    check_real,
    check_same_dtype,
    check_tensor,
    error,
    type_error,
)
from svertka.ops import activation as A

__all__ = ["relu", "relu_", "relu6", "elu", "elu_", "selu", "selu_", "celu", "celu_",
           "leaky_relu", "leaky_relu_", "prelu", "gelu", "sigmoid", "tanh", "silu",
           "softplus", "softsign", "mish", "hardtanh", "hardtanh_", "hardsigmoid", "hardswish",
           "softmax", "log_softmax", "softmin", "logsigmoid", "threshold", "threshold_",
           "tanhshrink", "hardshrink", "softshrink", "glu"]


# ----------------------------------------------------------------------------- helpers

def _input(input, fn, floating=True):
    if floating:
        return check_float_tensor(input, "input", fn)
    check_tensor(input, "input", fn)
    if input._data.dtype.kind == "b":  # as torch: clipping a bool is not defined
        raise type_error(fn, "input must be a numeric tensor, got input of dtype bool")
    return input


def _pointwise(fn, op, input, inplace=False, floating=True, **params):
    _input(input, fn, floating)
    if input._data.dtype.kind in "iu":
        info = np.iinfo(input._data.dtype)
        for name, value in params.items():
            if isinstance(value, float) and not info.min <= value <= info.max:
                raise error(fn, f"{name} must be finite and within {info.dtype} for an "
                                f"integer input, got {name}={value!r}")
    out = op.apply(input, **params)
    if inplace:
        return input._set_from(out, fn + "_")
    return out


# ----------------------------------------------------------------------------- ReLU family

def relu(input, inplace=False):
    """``max(x, 0)`` elementwise; the gradient passes only where ``x > 0``.

    Args:
        input: a tensor of any shape and dtype.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``, the same shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.relu(svertka.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    return _pointwise("relu", A.Relu, input, inplace, floating=False)


def relu_(input):
    """In-place ``relu``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([-1.0, 3.0])
        >>> _ = F.relu_(x); x
        tensor([0., 3.])
    """
    return relu(input, inplace=True)


def relu6(input, inplace=False):
    """``min(max(x, 0), 6)``, i.e. ``hardtanh(x, 0, 6)``.

    Args:
        input: a tensor of any shape.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.relu6(svertka.tensor([-1.0, 3.0, 8.0]))
        tensor([0., 3., 6.])
    """
    return _pointwise("relu6", A.Hardtanh, input, inplace, floating=False, min_val=0.0,
                      max_val=6.0)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` if ``x > 0`` else ``negative_slope * x``.

    Args:
        input: a floating-point tensor of any shape.
        negative_slope: the slope for negative inputs. Default: 0.01.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.leaky_relu(svertka.tensor([-2.0, 3.0]), 0.5)
        tensor([-1.,  3.])
    """
    slope = check_real(negative_slope, "negative_slope", "leaky_relu")
    return _pointwise("leaky_relu", A.LeakyRelu, input, inplace, negative_slope=slope)


def leaky_relu_(input, negative_slope=0.01):
    """In-place ``leaky_relu``."""
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input, weight):
    """``x`` if ``x > 0`` else ``weight * x``, with a learned weight per channel.

    Args:
        input: a floating-point tensor ``(N, C, *)`` (or ``(C,)``-less: 0- or 1-D, where only
            a single weight applies).
        weight: a 0-D or 1-D tensor of 1 or ``C`` elements, broadcast over channel dim 1.

    Shape:
        Input ``(N, C, *)``; weight ``(1,)`` or ``(C,)``; output the input's shape.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x = svertka.tensor([[-1.0, -1.0], [2.0, -4.0]])
        >>> F.prelu(x, svertka.tensor([0.5, 0.25]))
        tensor([[-0.5000, -0.2500],
                [ 2.0000, -1.0000]])
    """
    fn = "prelu"
    _input(input, fn)
    check_tensor(weight, "weight", fn)
    if weight.ndim > 1:
        raise error(fn, f"weight must be 0-D or 1-D, got weight of shape {tuple(weight.shape)}")
    check_same_dtype(weight, "weight", input, fn)
    n = weight.numel()
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if n != channels:
            raise error(fn, f"weight must have 1 element or one per input channel ({channels}),"
                            f" got weight of shape {tuple(weight.shape)}",
                        f"input {tuple(input.shape)}, channels on dim 1")
    return A.Prelu.apply(input, weight)


def elu(input, alpha=1.0, inplace=False):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``.

    Args:
        input: a floating-point tensor of any shape.
        alpha: the value approached for large negative ``x``. Default: 1.0.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.elu(svertka.tensor([0.0, 2.0]))
        tensor([0., 2.])
    """
    alpha = check_real(alpha, "alpha", "elu")
    return _pointwise("elu", A.Elu, input, inplace, alpha=alpha)


def elu_(input, alpha=1.0):
    """In-place ``elu``."""
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    """``scale * elu(x, alpha)`` with SELU's constants ``alpha = 1.6732632423543772``,
    ``scale = 1.0507009873554805`` (self-normalising).

    Args:
        input: a floating-point tensor of any shape.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.selu(svertka.tensor([0.0, 1.0], dtype=svertka.float64))
        tensor([0.0000, 1.0507], dtype=svertka.float64)
    """
    return _pointwise("selu", A.Elu, input, inplace, alpha=A.SELU_ALPHA, scale=A.SELU_SCALE)


def selu_(input):
    """In-place ``selu``."""
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Args:
        input: a floating-point tensor of any shape.
        alpha: non-zero. Default: 1.0.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.celu(svertka.tensor([0.0, 2.0]), alpha=2.0)
        tensor([0., 2.])
    """
    alpha = check_real(alpha, "alpha", "celu")
    if alpha == 0:
        raise error("celu", "alpha must be non-zero, got alpha=0")
    return _pointwise("celu", A.Elu, input, inplace, alpha=alpha, input_scale=1.0 / alpha)


def celu_(input, alpha=1.0):
    """In-place ``celu``."""
    return celu(input, alpha, inplace=True)


def gelu(input, approximate="none"):
    """Gaussian error linear unit ``x * Phi(x)``, ``Phi`` the standard normal CDF (computed
    with a vectorized ``erf`` accurate to 1e-15); ``approximate="tanh"`` uses
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.

    Args:
        input: a floating-point tensor of any shape.
        approximate: ``'none'`` or ``'tanh'``. Default: ``'none'``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.gelu(svertka.tensor([-1.0, 0.0, 1.0], dtype=svertka.float64))
        tensor([-0.1587,  0.0000,  0.8413], dtype=svertka.float64)
    """
    check_choice(approximate, ("none", "tanh"), "approximate", "gelu")
    return _pointwise("gelu", A.Gelu, input, approximate=approximate)


def silu(input, inplace=False):
    """``x * sigmoid(x)`` (swish).

    Args:
        input: a floating-point tensor of any shape.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.silu(svertka.tensor([0.0, 100.0]))
        tensor([  0., 100.])
    """
    return _pointwise("silu", A.Silu, input, inplace)


def mish(input, inplace=False):
    """``x * tanh(softplus(x))``.

    Args:
        input: a floating-point tensor of any shape.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.mish(svertka.tensor([0.0, 50.0]))
        tensor([ 0., 50.])
    """
    return _pointwise("mish", A.Mish, input, inplace)


# ----------------------------------------------------------------------------- sigmoid family

def sigmoid(input):
    """``1 / (1 + exp(-x))``, stable for large ``|x|``.

    Args:
        input: a floating-point tensor of any shape.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.sigmoid(svertka.tensor([-1000.0, 0.0, 1000.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return _pointwise("sigmoid", A.Sigmoid, input)


def tanh(input):
    """Hyperbolic tangent.

    Args:
        input: a floating-point tensor of any shape.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.tanh(svertka.tensor([0.0, 100.0]))
        tensor([0., 1.])
    """
    return _pointwise("tanh", A.Tanh, input)


def logsigmoid(input):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))``, stable for large ``|x|``.

    Args:
        input: a floating-point tensor of any shape.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.logsigmoid(svertka.tensor([-1000.0, 1000.0]))
        tensor([-1000.,     0.])
    """
    return _pointwise("logsigmoid", A.LogSigmoid, input)


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``; reverts to ``x`` where ``beta x > threshold``.

    Args:
        input: a floating-point tensor of any shape.
        beta: non-zero. Default: 1.0.
        threshold: above ``beta x > threshold`` the function is linear. Default: 20.0.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.softplus(svertka.tensor([0.0, 30.0], dtype=svertka.float64))
        tensor([ 0.6931, 30.0000], dtype=svertka.float64)
    """
    beta = check_real(beta, "beta", "softplus")
    threshold = check_real(threshold, "threshold", "softplus")
    if beta == 0:
        raise error("softplus", "beta must be non-zero, got beta=0")
    return _pointwise("softplus", A.Softplus, input, beta=beta, threshold=threshold)


def softsign(input):
    """``x / (1 + |x|)``.

    Args:
        input: a floating-point tensor of any shape.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.softsign(svertka.tensor([-3.0, 1.0]))
        tensor([-0.7500,  0.5000])
    """
    return _pointwise("softsign", A.Softsign, input)


def hardsigmoid(input, inplace=False):
    """``clip(x / 6 + 1/2, 0, 1)``.

    Args:
        input: a floating-point tensor of any shape.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.hardsigmoid(svertka.tensor([-4.0, 0.0, 4.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return _pointwise("hardsigmoid", A.Hardsigmoid, input, inplace)


def hardswish(input, inplace=False):
    """``x * hardsigmoid(x)``.

    Args:
        input: a floating-point tensor of any shape.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.hardswish(svertka.tensor([-4.0, 0.0, 4.0]))
        tensor([-0., 0., 4.])
    """
    return _pointwise("hardswish", A.Hardswish, input, inplace)


# ----------------------------------------------------------------------------- clamps, shrinks

def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``clip(x, min_val, max_val)``.

    Args:
        input: a tensor of any shape.
        min_val: lower bound. Default: -1.0.
        max_val: upper bound, ``>= min_val``. Default: 1.0.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.hardtanh(svertka.tensor([-3.0, 0.5, 3.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    lo = check_real(min_val, "min_val", "hardtanh")
    hi = check_real(max_val, "max_val", "hardtanh")
    if lo > hi:
        raise error("hardtanh", f"min_val must not exceed max_val, got min_val={min_val!r} "
                                f"and max_val={max_val!r}")
    return _pointwise("hardtanh", A.Hardtanh, input, inplace, floating=False, min_val=lo,
                      max_val=hi)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place ``hardtanh``."""
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold(input, threshold, value, inplace=False):
    """``x`` where ``x > threshold``, else ``value``.

    Args:
        input: a tensor of any shape.
        threshold: the value to threshold at.
        value: the value that replaces elements ``<= threshold``.
        inplace: write the result into ``input``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.threshold(svertka.tensor([0.5, 1.0, 2.0]), 1.0, -5.0)
        tensor([-5., -5.,  2.])
    """
    th = check_real(threshold, "threshold", "threshold")
    val = check_real(value, "value", "threshold")
    return _pointwise("threshold", A.Threshold, input, inplace, floating=False, threshold=th,
                      value=val)


def threshold_(input, threshold, value):
    """In-place ``threshold``."""
    return globals()["threshold"](input, threshold, value, inplace=True)


def tanhshrink(input):
    """``x - tanh(x)``.

    Args:
        input: a floating-point tensor of any shape.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.tanhshrink(svertka.tensor([0.0]))
        tensor([0.])
    """
    return _pointwise("tanhshrink", A.Tanhshrink, input)


def _lambd(lambd, fn):
    lambd = check_real(lambd, "lambd", fn)
    if not 0 <= lambd < float("inf"):          # NaN and inf too, as torch
        raise error(fn, f"lambd must be non-negative, got lambd={lambd!r}", "a finite number")
    return lambd


def hardshrink(input, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0.

    Args:
        input: a floating-point tensor of any shape.
        lambd: non-negative. Default: 0.5.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.hardshrink(svertka.tensor([-1.0, 0.5, 0.7]))
        tensor([-1.0000,  0.0000,  0.7000])
    """
    return _pointwise("hardshrink", A.Hardshrink, input, lambd=_lambd(lambd, "hardshrink"))


def softshrink(input, lambd=0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between.

    Args:
        input: a floating-point tensor of any shape.
        lambd: non-negative. Default: 0.5.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.softshrink(svertka.tensor([-2.0, 0.25, 1.5]))
        tensor([-1.5000,  0.0000,  1.0000])
    """
    return _pointwise("softshrink", A.Softshrink, input, lambd=_lambd(lambd, "softshrink"))


# ----------------------------------------------------------------------------- softmax family

def _softmax_dim(fn, input, dim, dtype, stacklevel):
    _input(input, fn)
    if dtype is not None:
        input = input.to(dtype)
        _input(input, fn)
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {fn} has been deprecated. Change the "
                      f"call to include dim=X as an argument.", UserWarning,
                      stacklevel=stacklevel)
    return input, check_dim(dim, input.ndim, fn)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``exp(x_i) / sum_j exp(x_j)`` along ``dim`` (the max is subtracted first: no overflow).

    Args:
        input: a floating-point tensor.
        dim: the dimension the entries of which sum to 1. ``None`` picks torch's legacy
            implicit dim (0 for 0-, 1- and 3-D inputs, else 1) with a ``UserWarning``.
        dtype: if given, the input is cast to it first.

    Shape:
        Input ``(*)``; output ``(*)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.softmax(svertka.tensor([[1.0, 1.0], [0.0, 1000.0]]), dim=1)
        tensor([[0.5000, 0.5000],
                [0.0000, 1.0000]])
    """
    input, dim = _softmax_dim("softmax", input, dim, dtype, _stacklevel)
    return A.Softmax.apply(input, dim=dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """``softmax(-x)`` along ``dim``; arguments as ``softmax``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.softmin(svertka.tensor([0.0, 1000.0]), dim=0)
        tensor([1., 0.])
    """
    input, dim = _softmax_dim("softmin", input, dim, dtype, _stacklevel)
    return A.Softmax.apply(input, dim=dim, sign=-1)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """``x - log(sum exp(x))`` along ``dim``, computed stably; arguments as ``softmax``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.log_softmax(svertka.tensor([0.0, 0.0], dtype=svertka.float64), dim=0)
        tensor([-0.6931, -0.6931], dtype=svertka.float64)
    """
    input, dim = _softmax_dim("log_softmax", input, dim, dtype, _stacklevel)
    return A.LogSoftmax.apply(input, dim=dim)


def glu(input, dim=-1):
    """Gated linear unit: ``a * sigmoid(b)`` where ``a, b`` are the halves of ``input`` along
    ``dim``.

    Args:
        input: a floating-point tensor whose size along ``dim`` is even.
        dim: the dimension to split. Default: -1.

    Shape:
        Input ``(*1, M, *2)``; output ``(*1, M/2, *2)``.

    Examples::

        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> F.glu(svertka.tensor([[1.0, 2.0, 0.0, 1000.0]])).shape
        svertka.Size([1, 2])
    """
    fn = "glu"
    _input(input, fn)
    if input.ndim == 0:
        raise error(fn, "input must have at least 1 dimension to be halved, got a 0-D input")
    d = check_dim(dim, input.ndim, fn)
    size = input.shape[d]
    if size % 2:
        raise error(fn, f"the size of dimension {dim} must be even to be halved, got size "
                        f"{size}", f"input {tuple(input.shape)}")
    return A.Glu.apply(input, dim=d)
