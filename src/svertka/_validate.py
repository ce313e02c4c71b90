"""Argument normalisation and the one error format of svertka.

Every user-facing check raises ``ValueError`` (values, shapes) or ``TypeError`` (types) with a
message of the form ``"<public function>: <what is wrong, with numbers> (<context>)"``; when an
argument is at fault the message ends with ``got name=value``, for example::

    conv2d: stride must be a positive int or a tuple of 2 positive ints, got stride=(2, 0)

The helpers here are used by ``nn.functional`` (where checks run) and by the modules.
"""

from __future__ import annotations

import numbers

import numpy as np

from svertka._tensor_base import TensorBase


def _fmt(value):
    if isinstance(value, np.ndarray):
        return f"array(shape={value.shape}, dtype={value.dtype})"
    return repr(value)


def error(fn, message, context=None):
    """Build (not raise) the ValueError of the project's format."""
    text = f"{fn}: {message}"
    if context:
        text += f" ({context})"
    return ValueError(text)


def type_error(fn, message, context=None):
    text = f"{fn}: {message}"
    if context:
        text += f" ({context})"
    return TypeError(text)


def is_int(value):
    if type(value) is int:                  # the common case, without the ABC check's cost
        return True
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)


# Integers that size or index a tensor must fit in int64, as in torch.
INT64_MAX = 2**63 - 1

# The most elements a tensor that an op would create may hold: 2**36 (64 Gi elements, 512 GiB
# in float64) is far beyond any machine this runs on, and far below NumPy's own limit, so a
# size computed from huge arguments is refused with the op's name instead of NumPy's words.
MAX_NUMEL = 2**36


def check_int(value, name, fn, *, minimum=None, what=None):
    """``value`` as an int (an integer within int64, and ``>= minimum`` if given)."""
    what = what or ("an int" if minimum is None else f"an int >= {minimum}")
    if not is_int(value):
        raise type_error(fn, f"{name} must be {what}, got {name}={_fmt(value)}")
    value = int(value)
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise error(fn, f"{name} must be {what} that fits in int64, got {name}={value}")
    if minimum is not None and value < minimum:
        raise error(fn, f"{name} must be {what}, got {name}={value}")
    return value


def check_real(value, name, fn, what="a real number", *, minimum=None):
    """``value`` as a float; TypeError for strings, None, bools and the like, ValueError when
    ``minimum`` is given and ``value`` is below it (or NaN)."""
    if type(value) is float:                # the common case, without the ABC check's cost
        if minimum is not None and not value >= minimum:
            raise error(fn, f"{name} must be >= {minimum}, got {name}={value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating,
                                                         np.integer)):
        raise type_error(fn, f"{name} must be {what}, got {name}={_fmt(value)}")
    value = float(value)
    if minimum is not None and not value >= minimum:
        raise error(fn, f"{name} must be >= {minimum}, got {name}={value!r}")
    return value


def check_shape(value, name, fn):
    """An int or a sequence of non-negative ints as a shape tuple a tensor may have."""
    items = (value,) if is_int(value) else value
    if not isinstance(items, (tuple, list)) or not all(is_int(v) for v in items):
        raise type_error(fn, f"{name} must be an int or a tuple of ints, got "
                             f"{name}={_fmt(value)}")
    items = tuple(int(v) for v in items)
    if any(v < 0 for v in items):
        raise error(fn, f"{name} must be non-negative, got {name}={_fmt(value)}")
    return check_numel(items, fn, name)


def check_numel(shape, fn, what="output", context=None):
    """Raise unless a tensor of ``shape`` would have at most ``MAX_NUMEL`` elements."""
    numel = 1
    for s in shape:
        numel *= int(s)
    if numel > MAX_NUMEL:
        raise error(fn, f"the {what} of shape {tuple(int(s) for s in shape)} would have "
                        f"{numel} elements, more than the {MAX_NUMEL} allowed", context)
    return shape


def ntuple(value, n, name, fn, *, minimum=1):
    """Normalise an int or a length-``n`` sequence of ints to a tuple of ``n`` ints >= minimum.

    >>> ntuple(3, 2, "stride", "conv2d")
    (3, 3)
    >>> ntuple((2, 0), 2, "stride", "conv2d")
    Traceback (most recent call last):
    ...
    ValueError: conv2d: stride must be a positive int or a tuple of 2 positive ints, got stride=(2, 0)
    """
    # the common cases first (called for every argument of every convolution and pooling)
    if type(value) is int:
        if minimum <= value <= INT64_MAX:
            return (value,) * n
    elif (type(value) is tuple and len(value) == n
          and all(type(v) is int and minimum <= v <= INT64_MAX for v in value)):
        return value
    kind = {1: "positive", 0: "non-negative"}.get(minimum, f">= {minimum}")
    what = f"{kind} int or a tuple of {n} {kind} ints"
    if is_int(value):
        items = (int(value),) * n
    elif isinstance(value, (tuple, list)) and len(value) == n and all(is_int(v) for v in value):
        items = tuple(int(v) for v in value)
    else:
        if isinstance(value, (tuple, list)) or is_int(value):
            raise error(fn, f"{name} must be a {what}, got {name}={_fmt(value)}")
        raise type_error(fn, f"{name} must be a {what}, got {name}={_fmt(value)}")
    if any(v < minimum for v in items):
        raise error(fn, f"{name} must be a {what}, got {name}={_fmt(value)}")
    if any(v > INT64_MAX for v in items):
        raise error(fn, f"{name} must fit in int64, got {name}={_fmt(value)}")
    return items


def check_tensor(x, name, fn):
    """Raise TypeError unless ``x`` is a svertka Tensor (modules call it on their input too,
    so that ``layer("x")`` names the layer instead of failing on ``"x".ndim``)."""
    if not isinstance(x, TensorBase):
        raise type_error(fn, f"{name} must be a Tensor, got {type(x).__name__}")
    return x


def check_float_tensor(x, name, fn, like=None, context=None):
    """Raise TypeError unless ``x`` is a Tensor of a floating-point dtype (and, when ``like``
    is given, of ``like``'s dtype, see ``check_same_dtype``); ``context`` ends the message."""
    check_tensor(x, name, fn)
    dt = x._data.dtype
    if dt.kind != "f":
        raise type_error(fn, f"{name} must be a floating-point tensor, got {name} of dtype {dt}",
                         context)
    if like is not None:
        check_same_dtype(x, name, like, fn)
    return x


def check_same_dtype(x, name, like, fn, like_name="input"):
    """Raise TypeError unless the Tensors ``x`` and ``like`` (named ``like_name``) share a dtype."""
    dt, want = x._data.dtype, like._data.dtype
    if dt != want:
        raise type_error(fn, f"{like_name} and {name} must have the same dtype, got {like_name} "
                             f"of dtype {want} and {name} of dtype {dt}")
    return x


def check_ndim(x, allowed, name, fn, meaning=None):
    """Raise unless ``x.ndim`` is in ``allowed`` (an int or a tuple of ints)."""
    allowed = (allowed,) if is_int(allowed) else tuple(allowed)
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        extra = f" {meaning}" if meaning else ""
        raise error(fn, f"{name} must be {want}{extra}, got {name} of shape {tuple(x.shape)}")


def check_choice(value, choices, name, fn):
    if value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        raise error(fn, f"{name} must be one of {opts}, got {name}={_fmt(value)}")
    return value


def check_dim(dim, ndim, fn, name="dim"):
    """Normalise a possibly negative dimension index, as torch does."""
    if not is_int(dim):
        raise type_error(fn, f"{name} must be an int, got {name}={_fmt(dim)}")
    lo, hi = (-ndim, ndim - 1) if ndim > 0 else (-1, 0)
    if not lo <= dim <= hi:
        raise error(fn, f"{name} out of range (expected to be in range of [{lo}, {hi}]), "
                        f"got {name}={dim}")
    return dim % ndim if ndim > 0 else 0


def check_probability(p, name, fn):
    if not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
        raise error(fn, f"{name} must be a probability in [0, 1], got {name}={_fmt(p)}")
    return float(p)
