"""The bodies of Tensor's larger operations, shared by the method and the free function.

``x.topk(2)`` and ``svertka.topk(x, 2)`` run :func:`topk` here; the free functions
``svertka.cat``, ``matmul``, ``where``, ``maximum``, ``einsum``, ... live here too. This module
sits below tensor.py and never imports it (tensor.py imports this module): it recognises tensors
as :class:`~svertka._tensor_base.TensorBase` and makes new tensors only through ops
(``Function.apply``). A non-differentiable result (indices, counts, draws) is returned as an
ndarray, which the Tensor method wraps.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from svertka import _dtype
from svertka._indexing import (
    check_index_along,
    check_range,
    dims,
    int_index,
    shape_args,
    sort_indices,
    topk_indices,
)
from svertka._promotion import (
    check_broadcast,
    common_dtype,
    dtype_priority,
    operand,
    promote,
    result_dtype,
)
from svertka._tensor_base import TensorBase
from svertka._validate import check_dim, check_float_tensor, error, is_int, type_error
from svertka.autograd.engine import run_backward
from svertka.ops import movement as V
from svertka.ops import reduce as R
from svertka.ops.elementwise import Maximum, Minimum, Where
from svertka.ops.indexing import Gather, IndexSelect, Scatter
from svertka.ops.linalg import Einsum, Tri, parse_equation
from svertka.ops.matmul import MatMul
from svertka.ops.scan import Cumprod, Cumsum
from svertka.random import get_rng


# ---------------------------------------------------------------------- backward
def backward(t, gradient, retain_graph, create_graph, inputs):
    """``Tensor.backward``: the upstream gradient checked, then the engine."""
    if not t._requires_grad:
        raise RuntimeError("backward: element 0 of tensors does not require grad and does "
                           "not have a grad_fn")
    if gradient is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs; this "
                f"tensor has shape {tuple(t.shape)}: pass gradient= (shaped like it)")
        g = np.ones(t._data.shape, dtype=t._data.dtype)
    else:
        g = gradient._data if isinstance(gradient, TensorBase) else np.asarray(gradient)
        if g.shape != t._data.shape:
            raise RuntimeError(f"backward: gradient has shape {g.shape}, but the tensor has "
                               f"shape {t._data.shape}")
        g = g.astype(t._data.dtype, copy=False)
    if inputs is not None:
        raise NotImplementedError("backward: inputs= is not supported; use "
                                  "svertka.autograd.grad(outputs, inputs)")
    if create_graph:
        # the backward recorded as a graph: .grad gets Tensors that can be differentiated
        from svertka.autograd.function import _constant
        from svertka.autograd.graph import run_backward_graph

        if isinstance(gradient, TensorBase):  # may itself require grad: keep its graph
            root = gradient if gradient._data.dtype == t._data.dtype else gradient.to(t.dtype)
        else:
            root = _constant(g)
        run_backward_graph([t], [root])
        return
    run_backward([t], [g], retain_graph=bool(retain_graph))


# ---------------------------------------------------------------------- reductions
def var_std(x, op, fn, dim, unbiased, keepdim, correction):
    """``var``/``std`` (``op``: ``ops.reduce.Var``/``Std``)."""
    if isinstance(dim, bool):  # var(unbiased) legacy positional form
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if x._data.dtype.kind not in "fc":
        raise error(fn, f"input dtype must be floating point, got {x.dtype}")
    return op.apply(x, axis=dims(dim, x.ndim, fn), correction=correction, keepdim=keepdim)


def extreme(x, dim, keepdim, which, fn):
    """``max``/``min`` (``which``: ``np.max``/``np.min``): the extreme element, the
    elementwise extreme with a tensor ``dim``, or ``(values, index array)`` along ``dim``."""
    if dim is None:
        if x._data.size == 0:
            raise error(fn, "operation does not have an identity: the tensor is empty")
        return R.MaxMin.apply(x, axis=None, keepdim=False, which=which)
    if isinstance(dim, TensorBase):  # max(other): elementwise
        return x.maximum(dim) if which is np.max else x.minimum(dim)
    axis = check_dim(dim, x.ndim, fn)
    if x._data.ndim == 0:
        return x, np.zeros((), dtype=np.int64)
    if x._data.shape[axis] == 0:
        raise error(fn, f"expected reduction dim {axis} to have non-zero size")
    # NaN propagates as the max (argmax picks it), as in torch
    idx = (np.argmax if which is np.max else np.argmin)(x._data, axis=axis)
    values = R.MaxMinDim.apply(x, axis=axis, keepdim=keepdim, indices=idx)
    if keepdim:
        idx = np.expand_dims(idx, axis)
    return values, idx.astype(np.int64)


def aextreme(x, dim, keepdim, which, fn):
    """``amax``/``amin``: the extreme over ``dim`` (all dims for ``()``)."""
    axis = dims(dim, x.ndim, fn) if dim != () else None
    for d in range(x.ndim) if axis is None else axis:
        if x._data.shape[d] == 0:
            raise error(fn, f"expected reduction dim {d} to have non-zero size")
    return R.MaxMin.apply(x, axis=axis, keepdim=keepdim, which=which)


def arg(x, dim, keepdim, argfn, fn):
    """The int64 index array of ``argmax``/``argmin`` (``argfn``: ``np.argmax``/``argmin``)."""
    if dim is None:
        r = np.asarray(argfn(x._data.reshape(-1)))
        if keepdim:
            r = r.reshape((1,) * x.ndim)
        return r.astype(np.int64)
    axis = check_dim(dim, x.ndim, fn)
    if x.ndim == 0:
        return np.zeros((), dtype=np.int64)
    r = argfn(x._data, axis=axis)
    if keepdim:
        r = np.expand_dims(r, axis)
    return np.asarray(r, dtype=np.int64)


def norm(x, p, dim, keepdim):
    if p == 2 and x._data.dtype.kind in "fc":
        return R.Norm2.apply(x, axis=dims(dim, x.ndim, "norm"), keepdim=keepdim)
    if p == 2:
        return (x * x).sum(dim, keepdim).sqrt()
    if p == 1:
        return x.abs().sum(dim, keepdim)
    if p in (float("inf"), "inf"):
        return x.abs().amax(dim if dim is not None else (), keepdim)
    return (x.abs() ** p).sum(dim, keepdim) ** (1.0 / p)


# ---------------------------------------------------------------------- movement
def flatten(x, start_dim, end_dim):
    if x.ndim == 0:
        return x.reshape(1)
    s = check_dim(start_dim, x.ndim, "flatten")
    e = check_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise error("flatten", f"start_dim cannot come after end_dim, got "
                               f"start_dim={start_dim}, end_dim={end_dim}")
    shape = x._data.shape
    new = shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:]
    return x.reshape(new)


def unflatten(x, dim, sizes):
    d = check_dim(dim, x.ndim, "unflatten")
    shape = x.shape
    sizes = tuple(sizes)
    known = int(np.prod([s for s in sizes if s != -1], dtype=np.int64))
    if sizes.count(-1) == 0 and known != shape[d] or sizes.count(-1) > 1 or (
            sizes.count(-1) == 1 and (known == 0 or shape[d] % known)):
        raise error("unflatten", f"provided sizes {list(sizes)} don't multiply up to the "
                                 f"size of dim {dim} ({shape[d]}) in the input tensor")
    return x.reshape(shape[:d] + sizes + shape[d + 1:])


def squeeze(x, dim):
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = dims(dim, x.ndim, "squeeze") or ()
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1))
    return x.reshape(shape)


def permute(x, order):
    """``x.permute(*dims)`` (``order``: the ints, or one sequence of them)."""
    order = shape_args(order, "permute")
    if len(order) != x.ndim:
        raise error("permute", f"number of dims don't match: the tensor has {x.ndim} "
                               f"dims, got dims={order}")
    axes = tuple(check_dim(d, x.ndim, "permute") for d in order)
    if len(set(axes)) != len(axes):
        raise error("permute", f"repeated dim in dims={order}")
    return V.Permute.apply(x, axes=axes)


def transpose(x, dim0, dim1):
    if x.ndim == 0:
        return x
    a = check_dim(dim0, x.ndim, "transpose")
    b = check_dim(dim1, x.ndim, "transpose")
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return V.Permute.apply(x, axes=tuple(axes))


def expand(x, sizes):
    """``x.expand(*sizes)``: ``-1`` keeps a size; new dims lead."""
    sizes = shape_args(sizes, "expand")
    if len(sizes) < x.ndim:
        raise error("expand", f"the number of sizes provided ({len(sizes)}) must be greater "
                              f"or equal to the number of dimensions in the tensor "
                              f"({x.ndim})")
    shape = x.shape
    lead = len(sizes) - x.ndim
    target = []
    for i, s in enumerate(sizes):
        own = shape[i - lead] if i >= lead else None
        if s == -1:
            if own is None:
                raise error("expand", f"-1 is not allowed in a leading, non-existing "
                                      f"dimension, got sizes={sizes}")
            s = own
        elif own is not None and own != 1 and own != s:
            raise error("expand", f"the expanded size of the tensor ({s}) must match the "
                                  f"existing size ({own}) at non-singleton dimension {i}; "
                                  f"target sizes {list(sizes)}, tensor sizes {list(shape)}")
        target.append(s)
    return V.Expand.apply(x, shape=tuple(target))


def repeat(x, reps):
    reps = shape_args(reps, "repeat")
    if len(reps) < x.ndim:
        raise error("repeat", f"number of repeat dims ({len(reps)}) can not be smaller than "
                              f"the number of dimensions of the tensor ({x.ndim})")
    return V.Repeat.apply(x, reps=reps)


# ---------------------------------------------------------------------- joining and splitting
def _check_cat(tensors, dim, fn, stack=False):
    if isinstance(tensors, TensorBase) or not isinstance(tensors, (list, tuple)):
        raise type_error(fn, f"expected a sequence of Tensors, got {type(tensors).__name__}")
    if len(tensors) == 0:
        raise error(fn, "expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, TensorBase):
            raise type_error(fn, f"expected Tensor as element {i} in argument 0, but got "
                                 f"{type(t).__name__}")
    ref = tensors[0].shape
    nd = len(ref) + (1 if stack else 0)
    axis = check_dim(dim, nd, fn)
    for i, t in enumerate(tensors[1:], 1):
        s = t.shape
        if stack:
            if s != ref:
                raise error(fn, f"stack expects each tensor to be equal size, but got "
                                f"{list(ref)} at entry 0 and {list(s)} at entry {i}")
        elif len(s) != len(ref) or any(a != b for j, (a, b) in enumerate(zip(ref, s))
                                        if j != axis):
            raise error(fn, f"sizes of tensors must match except in dimension {axis}: "
                            f"expected {list(ref)} (except dim {axis}) but got {list(s)} "
                            f"for tensor number {i} in the list")
    dt = common_dtype(tensors)
    return axis, [operand(t, dt) for t in tensors]


def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension."""
    axis, ts = _check_cat(tensors, dim, "cat")
    return V.Cat.apply(*ts, axis=axis)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Stack same-shaped tensors along a new dimension."""
    axis, ts = _check_cat(tensors, dim, "stack", stack=True)
    return V.Stack.apply(*ts, axis=axis)


def split(tensor, split_size_or_sections, dim=0):
    """Split into chunks of ``split_size`` (the last may be smaller) or of the given sizes."""
    d = check_dim(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if is_int(split_size_or_sections):
        size = int(split_size_or_sections)
        if size <= 0 and n > 0:
            raise error("split", f"split_size must be positive, got split_size={size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if n else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise error("split", f"split_sizes {sizes} must sum to the size of dim {dim} ({n})")
    out, start = [], 0
    for s in sizes:
        out.append(tensor.narrow(d, start, s))
        start += s
    return tuple(out)


def chunk(tensor, chunks, dim=0):
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer pieces if it divides so)."""
    if not is_int(chunks) or chunks <= 0:
        raise error("chunk", f"chunks must be a positive int, got chunks={chunks!r}")
    d = check_dim(dim, tensor.ndim, "chunk")
    n = tensor.shape[d]
    size = max(-(-n // chunks), 1)
    return split(tensor, size, d)


# ---------------------------------------------------------------------- sorting and selection
class ValuesIndices(tuple):
    """``(values, indices)`` of ``sort``, ``topk``, ``max(dim)``, ``min(dim)``, also by name
    as in torch (the Tensor method wraps the index array)."""

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


def _take_sorted(x, idx, axis):
    """(values, indices) with values gathered from ``x`` at ``idx`` along ``axis``."""
    if x.ndim == 0:
        return x.clone(), idx
    return Gather.apply(x, index=idx, axis=axis), idx


def topk(x, k, dim, largest):
    """``(values, index array)`` of ``Tensor.topk``."""
    axis = check_dim(dim, x.ndim, "topk")
    n = x._data.shape[axis] if x.ndim else 1
    if not is_int(k) or not 0 <= k <= n:
        raise error("topk", f"k must be an int in [0, {n}] (the size of dim {axis}), "
                            f"got k={k!r}")
    return _take_sorted(x, topk_indices(x._data, k, axis, largest), axis)


def sort(x, dim, descending):
    """``(values, index array)`` of ``Tensor.sort``."""
    axis = check_dim(dim, x.ndim, "sort")
    return _take_sorted(x, sort_indices(x._data, axis, descending, "sort"), axis)


def argsort(x, dim, descending):
    axis = check_dim(dim, x.ndim, "argsort")
    return sort_indices(x._data, axis, descending, "argsort")


def nonzero(x, as_tuple):
    if as_tuple:
        a = x._data if x.ndim else x._data.reshape(1)
        return tuple(i.astype(np.int64) for i in np.nonzero(a))
    return np.argwhere(x._data).astype(np.int64)


def unique(x, return_inverse, return_counts, dim):
    axis = None if dim is None else check_dim(dim, x.ndim, "unique")
    vals, inv, counts = np.unique(x._data, return_inverse=True, return_counts=True, axis=axis)
    inv = inv.reshape(x._data.shape if axis is None else -1).astype(np.int64)
    out = [vals]
    if return_inverse:
        out.append(inv)
    if return_counts:
        out.append(counts.astype(np.int64))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(x, weights, minlength):
    a = x._data
    if a.dtype.kind not in "iub" or a.ndim != 1:
        raise error("bincount", f"input must be a 1-D tensor of non-negative ints, got "
                                f"shape {tuple(a.shape)} dtype {x.dtype}")
    if a.size and a.min() < 0:
        raise error("bincount", f"input must be non-negative, got a value {a.min()}")
    if not is_int(minlength) or minlength < 0:
        raise error("bincount", f"minlength must be a non-negative int, got "
                                f"minlength={minlength!r}")
    if weights is None:
        return np.bincount(a, minlength=minlength).astype(np.int64)
    w = weights._data if isinstance(weights, TensorBase) else np.asarray(weights)
    if w.shape != a.shape:
        raise error("bincount", f"weights must have the shape of input {tuple(a.shape)}, "
                                f"got weights of shape {tuple(w.shape)}")
    dt = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
    return np.bincount(a, w, minlength=minlength).astype(dt)


# ---------------------------------------------------------------------- gather and scatter
def gather(x, dim, index):
    axis, idx = check_index_along(x, dim, index, "gather")
    return Gather.apply(x, index=idx, axis=axis)


def _scatter(x, dim, index, src, add, fn):
    axis, idx = check_index_along(x, dim, index, fn)
    if isinstance(src, TensorBase):
        if src.ndim != idx.ndim:
            raise error(fn, f"index has {idx.ndim} dimensions, src has {src.ndim}")
        bad = [d for d in range(idx.ndim) if idx.shape[d] > src.shape[d]]
        if bad:
            raise error(fn, f"index {tuple(idx.shape)} is larger than src "
                            f"{tuple(src.shape)} in dimension {bad[0]}")
        src = src.to(x.dtype)
    elif add:
        raise type_error(fn, f"src must be a Tensor, got {type(src).__name__}")
    else:
        src = x._data.dtype.type(src)
    return Scatter.apply(x, src, index=idx, axis=axis, add=add)


def scatter(x, dim, index, src, value, reduce):
    if src is None:
        src = value
    if reduce not in (None, "add"):
        raise error("scatter", f"reduce must be None or 'add' ('multiply' is not "
                               f"supported), got reduce={reduce!r}")
    if reduce == "add" and not isinstance(src, TensorBase):
        src = x.new_full(tuple(int_index(index, "scatter").shape), src)
    return _scatter(x, dim, index, src, reduce == "add", "scatter")


def scatter_add(x, dim, index, src):
    return _scatter(x, dim, index, src, True, "scatter_add")


def index_select(x, dim, index):
    axis = check_dim(dim, x.ndim, "index_select")
    idx = int_index(index, "index_select")
    if idx.ndim > 1:
        raise error("index_select", f"index must be 0-D or 1-D, got index of shape "
                                    f"{tuple(idx.shape)}")
    n = x._data.shape[axis] if x.ndim else 1
    check_range(idx, n, axis, "index_select")
    if x.ndim == 0:
        return x.reshape(()) if idx.size == 1 else x.reshape(1)[idx.reshape(-1)]
    return IndexSelect.apply(x, index=idx.reshape(-1), axis=axis)


# ---------------------------------------------------------------------- scans and triangles
def cumsum(x, dim, dtype):
    axis = check_dim(dim, x.ndim, "cumsum")
    np_dt = _dtype.to_np(dtype)
    if np_dt is None and x._data.dtype.kind in "bui":
        np_dt = np.dtype(np.int64)  # torch sums integers and bools as int64
    y = x if np_dt is None or np_dt.kind not in "fc" else x.to(np_dt)
    if x.ndim == 0:
        return y.clone()
    return Cumsum.apply(y, axis=axis, dtype=np_dt)


def cumprod(x, dim, dtype):
    axis = check_dim(dim, x.ndim, "cumprod")
    y = x.to(dtype) if dtype is not None else x
    if y._data.dtype.kind in "bui":
        y = y.to(_dtype.int64)
    if x.ndim == 0:
        return y.clone()
    return Cumprod.apply(y, axis=axis)


def tri(x, diagonal, upper, fn):
    if x.ndim < 2:
        raise error(fn, f"input must have at least 2 dimensions, got shape {tuple(x.shape)}")
    if not is_int(diagonal):
        raise type_error(fn, f"diagonal must be an int, got diagonal={diagonal!r}")
    return Tri.apply(x, diagonal=int(diagonal), upper=upper)


# ---------------------------------------------------------------------- products
def _constant(array, np_dtype):
    """An operand given as Python data or an ndarray (no Tensor), cast as a tensor of it
    would be: the array itself when it has the dtype already."""
    return array if array.dtype == np_dtype else array.astype(np_dtype)


def matmul(input, other):
    """Matrix product with torch's rules for 1-D operands and batch broadcasting.

    Raises ``ValueError`` naming both shapes when the inner dimensions differ.
    """
    constant = not isinstance(other, TensorBase)
    if constant:
        other = np.asarray(other)
    a, b = input.shape, other.shape
    if len(a) == 0 or len(b) == 0:
        raise error("matmul", f"both arguments need at least 1 dimension, got shapes "
                              f"{tuple(a)} and {tuple(b)}")
    k1 = a[-1]
    k2 = b[0] if len(b) == 1 else b[-2]
    if k1 != k2:
        raise error("matmul", f"shapes {tuple(a)} and {tuple(b)} cannot be multiplied "
                              f"({k1} != {k2})")
    ba, bb = a[:-2], b[:-2]
    try:
        np.broadcast_shapes(ba, bb)
    except ValueError:
        raise error("matmul", f"batch dimensions of shapes {tuple(a)} and {tuple(b)} do not "
                              f"broadcast") from None
    if constant:  # promoted as a dimensioned tensor
        dt = promote(*dtype_priority(input), other.dtype, 1)
        return MatMul.apply(operand(input, dt), _constant(other, dt))
    dt = result_dtype(input, other)
    return MatMul.apply(operand(input, dt), operand(other, dt))


def matrix_product(fn, a, b, nd):
    """``mm`` (``nd=2``) and ``bmm`` (``nd=3``): ``a @ b`` without broadcasting."""
    for name, t in (("input", a), ("mat2", b)):
        if not isinstance(t, TensorBase):
            raise type_error(fn, f"{name} must be a Tensor, got {type(t).__name__}")
        if t.ndim != nd:
            raise error(fn, f"{name} must be a {nd}-D tensor, got shape {tuple(t.shape)}")
    sa, sb = tuple(a.shape), tuple(b.shape)
    if nd == 3 and sa[0] != sb[0]:
        raise error(fn, f"batch sizes of shapes {sa} and {sb} differ ({sa[0]} != {sb[0]})")
    if sa[-1] != sb[-2]:
        raise error(fn, f"shapes {sa} and {sb} cannot be multiplied ({sa[-1]} != {sb[-2]})")
    return a.matmul(b)


def vector_product(fn, equation, a, b, same=False):
    """``dot`` (``"i,i->"``) and ``outer`` (``"i,j->ij"``) of two 1-D tensors."""
    for name, t in (("input", a), ("other", b)):
        if not isinstance(t, TensorBase):
            raise type_error(fn, f"{name} must be a Tensor, got {type(t).__name__}")
        if t.ndim != 1:
            raise error(fn, f"{name} must be a 1-D tensor, got shape {tuple(t.shape)}")
    if same and a.shape[0] != b.shape[0]:
        raise error(fn, f"inconsistent tensor size, expected input {tuple(a.shape)} and "
                        f"other {tuple(b.shape)} to have the same number of elements")
    return einsum(equation, a, b)


def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``.

    Operands may also be passed as one list. Every operand gets a gradient (an einsum of the
    upstream gradient with the other operands). ``...`` is not supported (ValueError).

    Examples::

        >>> import svertka
        >>> a = svertka.tensor([[1., 2.], [3., 4.]])
        >>> svertka.einsum("ii->", a)
        tensor(5.)
        >>> svertka.einsum("ij,j->i", a, svertka.tensor([1., 1.]))
        tensor([3., 7.])
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a str, got {type(equation).__name__}")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for k, t in enumerate(operands):
        if not isinstance(t, TensorBase):
            raise TypeError(f"einsum: operand {k} must be a Tensor, got {type(t).__name__}")
    try:
        ins, out = parse_equation(equation, [t.ndim for t in operands])
    except ValueError as e:
        raise ValueError(f"einsum: {e}") from None
    sizes = {}
    for k, (s, t) in enumerate(zip(ins, operands)):
        for c, n in zip(s, t.shape):
            if sizes.setdefault(c, n) != n:
                raise ValueError(f"einsum: subscript {c!r} has size {n} for operand {k} which "
                                 f"does not match the previous size {sizes[c]}")
    dt = common_dtype(operands)
    return Einsum.apply(*(operand(t, dt) for t in operands), ins=ins, out=out)


# ---------------------------------------------------------------------- elementwise
def maximum(input, other):
    """The elementwise maximum of ``input`` and ``other``, broadcasting; NaN propagates.

    Examples::

        >>> import svertka
        >>> svertka.maximum(svertka.tensor([1., 5.]), svertka.tensor([3., 2.]))
        tensor([3., 5.])
    """
    check_broadcast("maximum", input, other)
    dt = result_dtype(input, other)
    return Maximum.apply(operand(input, dt), operand(other, dt))


def minimum(input, other):
    """The elementwise minimum of ``input`` and ``other``, broadcasting; NaN propagates.

    Examples::

        >>> import svertka
        >>> svertka.minimum(svertka.tensor([1., 5.]), svertka.tensor([3., 2.]))
        tensor([1., 2.])
    """
    check_broadcast("minimum", input, other)
    dt = result_dtype(input, other)
    return Minimum.apply(operand(input, dt), operand(other, dt))


def where(condition, input, other):
    """``condition ? input : other`` elementwise, with broadcasting; differentiable in both."""
    cond = condition._data if isinstance(condition, TensorBase) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise type_error("where", f"condition must be a bool tensor, got dtype {cond.dtype}")
    constant = not isinstance(input, TensorBase) and not isinstance(other, TensorBase)
    if constant and isinstance(input, (bool, int, float)) and isinstance(
            other, (bool, int, float)):
        # two Python numbers: torch's scalar rules (where(m, 1.0, 0.0) is float32)
        dt = result_dtype(input, other)
        return Where.apply(cond, np.asarray(input, dt), np.asarray(other, dt))
    if constant:
        input = np.asarray(input)
    check_broadcast("where", cond, input, other)
    if constant:  # promoted as a tensor of the array's dtype
        dt = promote(input.dtype, 1 if input.ndim else 0, *dtype_priority(other))
        return Where.apply(cond, _constant(input, dt), operand(other, dt))
    dt = result_dtype(input, other)
    return Where.apply(cond, operand(input, dt), operand(other, dt))


def isclose(x, other, rtol, atol, equal_nan):
    """``Tensor.isclose``: the bool array of ``|x - other| <= atol + rtol * |other|``."""
    b = other._data if isinstance(other, TensorBase) else other
    check_broadcast("isclose", x, b)
    return np.asarray(np.isclose(x._data, b, rtol, atol, equal_nan))


# ---------------------------------------------------------------------- softmax
def softmax(x, dim, op, fn):
    """``Tensor.softmax``/``log_softmax`` (``op``: ``ops.activation.Softmax``/``LogSoftmax``,
    which ``nn.functional`` applies too) of a floating-point tensor along ``dim``; ``None``
    picks torch's legacy implicit dim with a warning, as ``nn.functional.softmax`` does."""
    check_float_tensor(x, "input", fn)
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {fn} has been deprecated. Change the "
                      f"call to include dim=X as an argument.", UserWarning, stacklevel=2)
    return op.apply(x, dim=check_dim(dim, x.ndim, fn))


# ---------------------------------------------------------------------- random draws
def bernoulli(x):
    p = x._data
    if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1 or np.isnan(p).any()):
        raise error("bernoulli", "all probabilities must be in [0, 1]")
    dt = p.dtype if p.dtype.kind == "f" else _dtype.get_default_dtype().np
    return (get_rng().random(p.shape) < p).astype(dt)


def multinomial(x, num_samples, replacement):
    w = x._data
    if w.ndim not in (1, 2) or w.dtype.kind != "f":
        raise error("multinomial", f"input must be a 1-D or 2-D float tensor of weights, "
                                   f"got shape {tuple(w.shape)} dtype {x.dtype}")
    if not is_int(num_samples) or num_samples <= 0:
        raise error("multinomial", f"num_samples must be a positive int, got "
                                   f"num_samples={num_samples!r}")
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise error("multinomial", "weights must be finite and non-negative")
    total = rows.sum(axis=1, keepdims=True)
    if (total <= 0).any():
        raise error("multinomial", "the weights of every row must have a positive sum")
    if not replacement and num_samples > int((rows > 0).sum(axis=1).min()):
        raise error("multinomial", f"cannot sample num_samples={num_samples} without "
                                   f"replacement from fewer non-zero weights")
    rng = get_rng()
    if replacement:
        cdf = np.cumsum(rows / total, axis=1)
        cdf[:, -1] = 1.0
        u = rng.random((rows.shape[0], num_samples))
        idx = (u[:, :, None] >= cdf[:, None, :]).sum(axis=2)
        idx = np.minimum(idx, rows.shape[1] - 1)
    else:  # Gumbel top-k: the order of k draws without replacement
        with np.errstate(divide="ignore"):
            keys = np.log(rows) - np.log(-np.log(rng.random(rows.shape)))
        idx = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    idx = idx.astype(np.int64)
    return idx.reshape(-1) if w.ndim == 1 else idx
