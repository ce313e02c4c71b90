"""Shapes and indices: the checks and normalisations behind ``reshape``, ``x[...]``, ``gather``,
``scatter``, ``sort`` and ``topk``, with torch's messages. NumPy only, no Tensor class."""

from __future__ import annotations

import math
import numbers

import numpy as np

from svertka._tensor_base import TensorBase
from svertka._validate import check_dim, error, is_int, type_error


def shape_args(shape, fn):
    """A shape given as ints or as one sequence (``reshape(2, 3)``, ``reshape((2, 3))``)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(is_int(s) for s in shape):
        raise type_error(fn, f"shape must be ints, got {shape}")
    return tuple(int(s) for s in shape)


def resolve_shape(shape, size, fn="reshape"):
    """The target shape of ``reshape``/``view``, with one ``-1`` inferred; messages as torch's:
    ``reshape: shape '[3, 5]' is invalid for input of size 12``."""
    if shape.count(-1) > 1:
        raise error(fn, f"only one dimension can be inferred, got shape {list(shape)}")
    for i, s in enumerate(shape):
        if s < -1:
            raise error(fn, f"invalid shape dimension {s} at index {i}, got shape {list(shape)}")
    given = shape
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or size % known:
            raise _invalid_shape(given, size, fn)
        shape = tuple(size // known if s == -1 else s for s in shape)
    if math.prod(shape) != size:                  # Python ints: exact, and cheaper than np.prod
        raise _invalid_shape(given, size, fn)
    return shape


def _invalid_shape(shape, size, fn):
    return error(fn, f"shape '{list(shape)}' is invalid for input of size {size}")


def numpy_index(index, x=None):
    """Turn Tensors and lists inside an index into NumPy arrays; with ``x``, check the index
    against ``x``'s shape and raise torch's ``IndexError`` (naming index, dim and size)."""
    def conv(i):
        if isinstance(i, TensorBase):
            a = i._data
            if a.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            return a if a.ndim else a.item() if a.dtype.kind != "b" else a
        if isinstance(i, list):
            a = np.asarray(i)
            if a.dtype.kind not in "iub" and a.size:
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            return a.astype(np.int64) if a.size == 0 else a
        return i

    items = tuple(conv(i) for i in index) if isinstance(index, tuple) else (conv(index),)
    if x is not None:
        check_index(items, x._data.shape)
    return items if isinstance(index, tuple) else items[0]


def check_index(items, shape):
    """Raise torch's IndexError for indices outside ``shape`` (NumPy's messages say 'axis')."""
    def consumes(i):
        if i is None or i is Ellipsis or isinstance(i, (bool, np.bool_)):
            return 0
        if isinstance(i, np.ndarray) and i.dtype == np.bool_:
            return i.ndim
        return 1

    ndim = len(shape)
    used = sum(consumes(i) for i in items)
    if used > ndim:
        raise IndexError(f"too many indices for tensor of dimension {ndim}")
    dim = 0
    for i in items:
        if i is Ellipsis:
            dim += ndim - used
        elif isinstance(i, (numbers.Integral, np.integer)) and not isinstance(
                i, (bool, np.bool_)):
            size = shape[dim]
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            dim += 1
        elif isinstance(i, np.ndarray) and i.dtype == np.bool_:
            for k, n in enumerate(i.shape):
                if n != shape[dim + k]:
                    raise IndexError(f"The shape of the mask {list(i.shape)} at index {k} does "
                                     f"not match the shape of the indexed tensor "
                                     f"{list(shape)} at index {dim + k}")
            dim += i.ndim
        elif isinstance(i, np.ndarray) and i.dtype.kind in "iu":
            size = shape[dim]
            bad = (i < -size) | (i >= size)
            if bad.any():
                raise IndexError(f"index {i[bad].flat[0]} is out of bounds for dimension {dim} "
                                 f"with size {size}")
            dim += 1
        elif i is not None and not isinstance(i, (bool, np.bool_)):
            dim += 1


def int_index(index, fn, name="index"):
    """The int64 array of an index Tensor (TypeError for other dtypes)."""
    a = index._data if isinstance(index, TensorBase) else None
    if a is None:
        raise type_error(fn, f"{name} must be a Tensor of int64, got {type(index).__name__}")
    if a.dtype.kind not in "iu":
        raise type_error(fn, f"{name} must be an integer tensor, got dtype {index.dtype}")
    return a.astype(np.int64, copy=False)


def check_range(idx, n, axis, fn):
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise error(fn, f"index {bad} is out of bounds for dimension {axis} with size {n}")


def check_index_along(x, dim, index, fn):
    """Checks of gather/scatter: same number of dims, index no larger than the input in the
    other dims, values in range along ``dim``."""
    idx = int_index(index, fn)
    xnd = max(x.ndim, 1)
    axis = check_dim(dim, xnd, fn)
    if max(idx.ndim, 1) != xnd:
        raise error(fn, f"index has {idx.ndim} dimensions, input has {x.ndim}")
    shape = x._data.shape or (1,)
    idx = idx.reshape(idx.shape or (1,))
    for d in range(xnd):
        if d != axis and idx.shape[d] > shape[d]:
            raise error(fn, f"index {tuple(idx.shape)} is larger than input "
                            f"{tuple(shape)} in dimension {d}")
    check_range(idx, shape[axis], axis, fn)
    if x.ndim == 0:
        idx = idx.reshape(())
    return axis, idx


def sort_indices(a, axis, descending, fn):
    """Stable argsort along ``axis``, int64; NaN counts as the largest value (as in torch).

    Descending order is the ascending stable sort of the reversed array, reversed: equal values
    keep their original order, and no negation is needed (bools, unsigned ints, NaN).
    """
    if a.ndim == 0:
        return np.zeros((), dtype=np.int64)
    if not descending:
        return np.argsort(a, axis=axis, kind="stable").astype(np.int64, copy=False)
    n = a.shape[axis]
    asc = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return (n - 1 - np.flip(asc, axis)).astype(np.int64, copy=False)


def topk_indices(a, k, axis, largest):
    """The positions of the ``k`` largest (smallest) values along ``axis``, in sorted order,
    equal values by position. For small ``k`` an ``argpartition`` picks the candidates first
    (which of several values tied at the k-th place is kept is unspecified, as in torch)."""
    if a.ndim == 0:
        return np.zeros((), dtype=np.int64)
    n = a.shape[axis]
    if 0 < k and 4 * k <= n:
        kth = n - k if largest else k - 1
        part = np.argpartition(a, kth, axis=axis)
        part = np.moveaxis(part, axis, -1)
        part = part[..., n - k:] if largest else part[..., :k]
        part = np.sort(np.moveaxis(part, -1, axis), axis=axis)  # ties: by position
        order = sort_indices(np.take_along_axis(a, part, axis=axis), axis, largest, "topk")
        return np.take_along_axis(part, order, axis=axis).astype(np.int64, copy=False)
    idx = sort_indices(a, axis, largest, "topk")
    return np.take(idx, np.arange(k), axis=axis)


def dims(dim, ndim, fn):
    """Normalise ``dim`` (None, int or sequence) to None or a sorted tuple of axes."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        axes = tuple(sorted(check_dim(d, ndim, fn) for d in dim))
        if len(set(axes)) != len(axes):
            raise error(fn, f"dim {tuple(dim)} appears multiple times in the list of dims")
    else:
        axes = (check_dim(dim, ndim, fn),)
    # a 0-d tensor accepts dim 0 or -1 (as torch): that reduces its one element
    return axes if axes and ndim else None
