"""svertka's dtypes: thin names over NumPy dtypes, printed and promoted as torch does."""

from __future__ import annotations

import builtins

import numpy as np


class dtype:
    """A tensor element type (``svertka.float32`` ...); ``.np`` is the NumPy dtype.

    Compares equal to itself and to the matching NumPy dtype, so ``t.dtype == np.float32``
    holds as well as ``t.dtype == svertka.float32``.
    """

    __slots__ = ("name", "np", "is_floating_point")

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"

    def __repr__(self):
        return f"svertka.{self.name}"

    def __eq__(self, other):
        if isinstance(other, dtype):
            return self.np == other.np
        try:
            return self.np == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.np)

    @property
    def itemsize(self):
        return self.np.itemsize


float16 = dtype("float16", np.float16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool_ = dtype("bool", np.bool_)

_BY_NP = {d.np: d for d in (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)}

_default_float = float32


def get_default_dtype():
    """The dtype of tensors made from Python floats (float32 unless ``set_default_dtype`` changed
    it).
    """
    return _default_float


def set_default_dtype(d):
    """Set the dtype of tensors made from Python floats (float32 or float64)."""
    global _default_float
    d = to_dtype(d)
    if d not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported, got {d}")
    _default_float = d


def from_numpy_dtype(np_dtype):
    np_dtype = np.dtype(np_dtype)
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(f"svertka: unsupported dtype {np_dtype} (supported: "
                        f"{', '.join(str(d.name) for d in _BY_NP.values())})") from None


def to_dtype(d):
    """Accept a svertka dtype, a NumPy dtype or type, or a name like 'float32'."""
    if isinstance(d, dtype):
        return d
    if d is builtins.float:
        return _default_float
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool_
    try:
        return from_numpy_dtype(np.dtype(d))
    except TypeError:
        raise TypeError(f"svertka: cannot interpret {d!r} as a dtype") from None


def to_np(d):
    """The NumPy dtype for any accepted dtype spelling (None stays None)."""
    return None if d is None else to_dtype(d).np
