"""Movement ops: reshape, permute, expand, repeat, indexing, cat/stack, flip.

Ops marked ``is_view`` return NumPy views where NumPy can, and share the input's version
counter, so an in-place change through either one is seen by the graph's checks.
"""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.autograd.graph import sum_to
from svertka.ops.elementwise import unbroadcast


class Reshape(Function):
    """A new shape of the same elements (a view when NumPy can make one)."""

    is_view = True

    @staticmethod
    def forward(ctx, a, shape=None):
        ctx.in_shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(ctx.in_shape)

    @staticmethod
    def backward_graph(ctx, gy):
        """``gy`` reshaped back, recorded."""
        return Reshape.apply(gy, shape=ctx.in_shape)


class Permute(Function):
    """The dimensions reordered by ``axes`` (a view)."""

    is_view = True

    @staticmethod
    def forward(ctx, a, axes=None):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, gy):
        return gy.transpose(np.argsort(ctx.axes))

    @staticmethod
    def backward_graph(ctx, gy):
        return Permute.apply(gy, axes=tuple(int(a) for a in np.argsort(ctx.axes)))


class Expand(Function):
    """A broadcast view to ``shape``; the gradient is summed over the broadcast dimensions."""

    is_view = True

    @staticmethod
    def forward(ctx, a, shape=None):
        ctx.in_shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, gy):
        return unbroadcast(gy, ctx.in_shape)

    @staticmethod
    def backward_graph(ctx, gy):
        """``gy`` summed back to the input's shape, recorded."""
        return sum_to(gy, ctx.in_shape)


class Repeat(Function):
    """``Tensor.repeat``: tile the tensor; the gradient sums the tiles."""

    @staticmethod
    def forward(ctx, a, reps=None):
        lead = len(reps) - a.ndim
        shape = (1,) * lead + a.shape
        ctx.shapes = (a.shape, shape, reps)
        return np.tile(a.reshape(shape), reps)

    @staticmethod
    def backward(ctx, gy):
        in_shape, shape, reps = ctx.shapes
        # (r0, s0, r1, s1, ...) then sum the r axes
        split = [d for pair in zip(reps, shape) for d in pair]
        g = gy.reshape(split).sum(axis=tuple(range(0, 2 * len(reps), 2)))
        return g.reshape(in_shape)

    @staticmethod
    def backward_graph(ctx, gy):
        in_shape, shape, reps = ctx.shapes
        split = [d for pair in zip(reps, shape) for d in pair]
        g = gy.reshape(split).sum(dim=tuple(range(0, 2 * len(reps), 2)))
        return g.reshape(in_shape)


def is_basic_index(index):
    """True when the index has only ints, slices, None and Ellipsis (NumPy basic indexing)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis
               for i in items)


class Getitem(Function):
    """``x[index]``; basic indexing is a view, advanced indexing a copy.

    Backward writes the gradient into the selected places; for integer-array indices that
    may repeat an element, ``np.add.at`` accumulates repeated places.
    """

    @staticmethod
    def forward(ctx, a, index=None):
        ctx.in_shape = a.shape
        ctx.in_dtype = a.dtype
        ctx.index = index
        return np.asarray(a[index])

    @staticmethod
    def backward(ctx, gy):
        return _accumulate_at(gy, ctx.in_shape, ctx.index)

    @staticmethod
    def backward_graph(ctx, gy):
        return IndexAccumulate.apply(gy, shape=ctx.in_shape, index=ctx.index)


def _accumulate_at(g, shape, index):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated places add up)."""
    out = np.zeros(shape, dtype=g.dtype)
    if is_basic_index(index) or _is_single_bool_mask(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


class IndexAccumulate(Function):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeated places add up): the
    backward of ``Getitem`` as an op, so that it can be differentiated again (its own
    backward is ``g[index]``)."""

    @staticmethod
    def forward(ctx, g, shape=None, index=None):
        ctx.index = index
        return _accumulate_at(g, shape, index)

    @staticmethod
    def backward(ctx, gy):
        return np.asarray(gy[ctx.index])

    @staticmethod
    def backward_graph(ctx, gy):
        return Getitem.apply(gy, index=ctx.index)


def _is_single_bool_mask(index):
    return isinstance(index, np.ndarray) and index.dtype == np.bool_


class IndexPut(Function):
    """``x[index] = v`` out of place: the result equals ``x`` with ``v`` written at ``index``."""

    @staticmethod
    def forward(ctx, a, v, index=None):
        out = np.array(a, copy=True)
        out[index] = v
        ctx.index = index
        ctx.v_shape = np.shape(v)
        return out

    @staticmethod
    def backward(ctx, gy):
        na, nv = ctx.needs_input_grad
        ga = gv = None
        if na:
            ga = np.array(gy, copy=True)
            ga[ctx.index] = 0
        if nv:
            gv = unbroadcast(np.asarray(gy[ctx.index]), ctx.v_shape)
        return ga, gv

    @staticmethod
    def backward_graph(ctx, gy):
        na, nv = ctx.needs_input_grad
        ga = IndexPut.apply(gy, 0.0, index=ctx.index) if na else None
        gv = sum_to(Getitem.apply(gy, index=ctx.index), ctx.v_shape) if nv else None
        return ga, gv


class Cat(Function):
    """The arrays joined along ``axis``; the gradient is split back along it."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, gy):
        bounds = np.cumsum(ctx.sizes)[:-1]
        parts = np.split(gy, bounds, axis=ctx.axis)
        return tuple(p if n else None for p, n in zip(parts, ctx.needs_input_grad))

    @staticmethod
    def backward_graph(ctx, gy):
        bounds = np.concatenate([[0], np.cumsum(ctx.sizes)]).tolist()
        lead = (slice(None),) * ctx.axis
        return tuple(Getitem.apply(gy, index=lead + (slice(lo, hi),)) if n else None
                     for lo, hi, n in zip(bounds[:-1], bounds[1:], ctx.needs_input_grad))


class Stack(Function):
    """The arrays stacked along a new ``axis``."""

    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, gy):
        parts = np.moveaxis(gy, ctx.axis, 0)
        return tuple(p if n else None for p, n in zip(parts, ctx.needs_input_grad))

    @staticmethod
    def backward_graph(ctx, gy):
        lead = (slice(None),) * ctx.axis
        return tuple(Getitem.apply(gy, index=lead + (i,)) if n else None
                     for i, n in enumerate(ctx.needs_input_grad))


class Flip(Function):
    """The elements reversed along ``axes`` (a copy, as ``torch.flip``)."""

    @staticmethod
    def forward(ctx, a, axes=None):
        ctx.axes = axes
        return np.flip(a, axes).copy()  # torch.flip copies

    @staticmethod
    def backward(ctx, gy):
        return np.flip(gy, ctx.axes)

    @staticmethod
    def backward_graph(ctx, gy):
        return Flip.apply(gy, axes=ctx.axes)
