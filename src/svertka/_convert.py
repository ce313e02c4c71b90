"""Python data to ndarrays: what ``svertka.tensor(data)`` and the factories (``zeros``,
``x.new_ones``, ...) store, with torch's dtype inference. Below tensor.py: a tensor is
recognised as a ``TensorBase``."""

from __future__ import annotations

import numbers

import numpy as np

from svertka import _dtype
from svertka._device import check_device
from svertka._indexing import shape_args
from svertka._tensor_base import TensorBase
from svertka._validate import error, type_error


def infer_np_dtype(data):
    """torch's inference for Python data: floats -> default float, ints -> int64, bools -> bool."""
    flat = data
    while isinstance(flat, (list, tuple)) and len(flat):
        flat = flat[0]
    arr = np.asarray(data)
    if arr.dtype.kind in "biuf" and isinstance(data, (list, tuple)) and arr.size:
        leaves = list(_walk(data))
        if any(isinstance(x, np.generic) for x in leaves):
            return _promote_leaves(leaves)  # as torch: [np.float64(1)] is float64
    if arr.dtype == np.bool_:
        return np.dtype(np.bool_)
    if arr.dtype.kind in "iu":
        return np.dtype(np.int64)
    if arr.dtype.kind == "f":
        return _dtype.get_default_dtype().np
    raise type_error("tensor", f"could not infer dtype of {type(flat).__name__}")


def _promote_leaves(leaves):
    """The dtype torch gives a list holding NumPy scalars: those keep their dtype, Python ints
    count as int64 and floats as the default dtype; the highest category (bool < int < float)
    wins, NumPy's promotion within a category."""
    kinds = {"b": 0, "u": 1, "i": 1, "f": 2}
    result = None
    for x in leaves:
        if isinstance(x, np.generic):
            d = x.dtype
        elif isinstance(x, bool):
            d = np.dtype(np.bool_)
        elif isinstance(x, numbers.Integral):
            d = np.dtype(np.int64)
        else:
            d = _dtype.get_default_dtype().np
        if result is None or kinds[d.kind] > kinds[result.kind]:
            result = d
        elif kinds[d.kind] == kinds[result.kind]:
            result = np.result_type(result, d)
    return result


def to_array(data, dtype=None):
    """A new ndarray holding ``data`` (a number, nested lists, an ndarray or a Tensor)."""
    np_dt = _dtype.to_np(dtype)
    if isinstance(data, TensorBase):
        arr = data._data
        return np.array(arr, dtype=np_dt, copy=True)
    if isinstance(data, np.ndarray) or isinstance(data, np.generic):
        arr = np.array(data, dtype=np_dt, copy=True)
        _dtype.from_numpy_dtype(arr.dtype)  # refuse unsupported dtypes (object, complex, ...)
        return arr
    if isinstance(data, (list, tuple)) and any(isinstance(x, TensorBase) for x in _walk(data)):
        data = _nested_values(data)
    if isinstance(data, (numbers.Number, list, tuple)):
        try:
            arr = np.array(data, dtype=np_dt if np_dt is not None else infer_np_dtype(data))
        except ValueError as e:
            raise error("tensor", f"could not build a tensor from the data: {e}") from None
        return arr
    raise type_error("tensor", f"data must be a number, a (nested) list, a NumPy array or a "
                               f"Tensor, got {type(data).__name__}")


def _walk(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _walk(x)
        else:
            yield x


def _nested_values(data):
    if isinstance(data, TensorBase):
        return data._data.tolist()
    if isinstance(data, (list, tuple)):
        return [_nested_values(x) for x in data]
    return data


def factory_array(fn, shape, dtype, device, make):
    """The array of a factory (``zeros``, ``new_ones``, ...): ``make(shape, np_dtype)`` after
    the checks of the shape, the device and the dtype (default: the default dtype)."""
    shape = shape_args(shape, fn)
    if any(s < 0 for s in shape):
        raise error(fn, f"negative dimension in size {list(shape)}")
    check_device(device, fn)
    np_dt = _dtype.to_np(dtype) or _dtype.get_default_dtype().np
    return make(shape, np_dt)
