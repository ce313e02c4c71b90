"""torch's type promotion for the operands of an op (Tensors or Python scalars)."""

from __future__ import annotations

import numbers

import numpy as np

from svertka import _dtype
from svertka._tensor_base import TensorBase
from svertka._validate import error, type_error


def _category(np_dtype):
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[np_dtype.kind]


def result_dtype(a, b):
    """torch's type promotion for two operands (Tensors or Python scalars).

    Python scalars and 0-d tensors do not widen a dimensioned tensor of the same category:
    ``float32 tensor * 2.0`` and ``float32 tensor + float64 0-d tensor`` stay float32, while an
    int tensor times a Python float becomes the default float dtype.
    """
    (da, pa), (db, pb) = dtype_priority(a), dtype_priority(b)
    return promote(da, pa, db, pb)


def dtype_priority(x):
    """``(NumPy dtype, priority)`` of an operand for :func:`promote`: a Tensor, or a Python
    scalar (an ``int`` counts as int64, a ``float`` as the default dtype)."""
    if isinstance(x, TensorBase):
        return x._data.dtype, (1 if x._data.ndim else 0)
    if isinstance(x, bool):
        return np.dtype(np.bool_), -1
    if isinstance(x, numbers.Integral):
        return np.dtype(np.int64), -1
    if isinstance(x, numbers.Real):
        return _dtype.get_default_dtype().np, -1
    raise type_error("svertka", f"unsupported operand type {type(x).__name__}")


def promote(da, pa, db, pb):
    """The result dtype of NumPy dtypes ``da``, ``db`` with priorities ``pa``, ``pb``
    (1: a dimensioned tensor, 0: a 0-d tensor, -1: a Python scalar)."""
    ca, cb = _category(da), _category(db)
    if pa == pb:
        if ca != cb:  # e.g. int64 tensor + float32 tensor -> float32 (numpy would say float64)
            return da if ca > cb else db
        return np.result_type(da, db)
    (dh, _), (dl, pl) = ((da, pa), (db, pb)) if pa > pb else ((db, pb), (da, pa))
    if _category(dl) > _category(dh):
        return dl  # a scalar of a higher category decides (Python floats: the default dtype)
    return dh


def common_dtype(tensors):
    """The dtype every tensor of a list is cast to (``cat``, ``einsum``): promoted pairwise from
    the first, the running result counting as a dimensioned tensor."""
    dt = tensors[0]._data.dtype
    for t in tensors[1:]:
        dt = promote(dt, 1, t._data.dtype, 1 if t._data.ndim else 0)
    return dt


def operand(x, np_dtype):
    """The operand cast to the promoted dtype (differentiably for tensors)."""
    if isinstance(x, TensorBase):
        return x if x._data.dtype == np_dtype else x.to(np_dtype)
    # astype, not asarray(dtype=): an int that does not fit wraps around, as in torch
    # (uint8 tensor + -3), where NumPy 2 would raise OverflowError
    return np.asarray(x).astype(np_dtype)[()]


def check_broadcast(name, *operands):
    """Raise the project's ValueError, naming the op and the shapes, unless they broadcast."""
    shapes = [tuple(np.shape(x._data if isinstance(x, TensorBase) else x)) for x in operands]
    if len(shapes) == 2 and (shapes[0] == shapes[1] or not shapes[0] or not shapes[1]):
        return  # the common cases, without the cost of broadcast_shapes
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        listed = ", ".join(str(s) for s in shapes[:-1]) + f" and {shapes[-1]}"
        raise error(name, f"shapes {listed} do not broadcast") from None
