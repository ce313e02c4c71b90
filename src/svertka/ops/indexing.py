"""Index-driven ops: gather, scatter / scatter_add, index_select, embedding.

Each moves values by an integer index array; the backward moves the gradient the other way
(a gather's backward is a scatter-add and vice versa). Indices are assumed valid: the public
functions in ``svertka.tensor`` / ``nn.functional`` check them.
"""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.ops.movement import Getitem, IndexAccumulate
from svertka.ops.pad import Pad


def along_axis(index, axis):
    """The full advanced-index tuple that addresses ``a[..., index[...], ...]`` with ``index``
    along ``axis`` and the position itself along every other dim (``take_along_axis``'s
    addressing, for an index that may be smaller than the array in the other dims)."""
    nd = index.ndim
    out = []
    for d in range(nd):
        if d == axis:
            out.append(index)
        else:
            shape = [1] * nd
            shape[d] = index.shape[d]
            out.append(np.arange(index.shape[d]).reshape(shape))
    return tuple(out)


def _head(a, shape):
    """``a[:shape[0], :shape[1], ...]``: the leading block of ``a`` of the given shape."""
    return a[tuple(slice(0, s) for s in shape)]


class Gather(Function):
    """``out[i][j] = x[i][index[i][j]]`` (for ``axis=1``): torch's ``gather``."""

    @staticmethod
    def forward(ctx, x, index, axis):
        ctx.shape = x.shape
        ctx.index, ctx.axis = index, axis
        return x[along_axis(index, axis)]

    @staticmethod
    def backward(ctx, gy):
        g = np.zeros(ctx.shape, dtype=gy.dtype)
        np.add.at(g, along_axis(ctx.index, ctx.axis), gy)
        return g

    @staticmethod
    def backward_graph(ctx, gy):
        return IndexAccumulate.apply(gy, shape=ctx.shape, index=along_axis(ctx.index, ctx.axis))


class Scatter(Function):
    """``out = x`` with ``out[i][index[i][j]] = src[i][j]`` (``add=True``: ``+=``), out of
    place. ``src`` may be a scalar (then only ``x`` gets a gradient)."""

    @staticmethod
    def forward(ctx, x, src, index, axis, add=False):
        where = along_axis(index, axis)
        ctx.where, ctx.add, ctx.axis = where, add, axis
        ctx.src_shape = np.shape(src)
        out = np.array(x, copy=True)
        vals = _head(src, index.shape) if np.ndim(src) else src
        if add:
            np.add.at(out, where, vals)
        else:
            out[where] = vals
        return out

    @staticmethod
    def backward(ctx, gy):
        nx, ns = ctx.needs_input_grad
        gx = gs = None
        if nx:
            gx = gy
            if not ctx.add:
                gx = np.array(gy, copy=True)
                gx[ctx.where] = 0
        if ns:
            gs = np.zeros(ctx.src_shape, dtype=gy.dtype)
            _head(gs, ctx.where[ctx.axis].shape)[...] = gy[ctx.where]
        return gx, gs

    @staticmethod
    def backward_graph(ctx, gy):
        nx, ns = ctx.needs_input_grad
        gx = gs = None
        index = ctx.where[ctx.axis]
        if nx:
            gx = gy if ctx.add else Scatter.apply(gy, 0.0, index=index, axis=ctx.axis)
        if ns:
            gs = Getitem.apply(gy, index=ctx.where)                     # index's shape
            if tuple(index.shape) != tuple(ctx.src_shape):               # src is larger
                gs = Pad.apply(gs, pads=tuple((0, s - i) for s, i
                                              in zip(ctx.src_shape, index.shape)))
        return gx, gs


class IndexSelect(Function):
    """``np.take(x, index, axis)`` for a 1-D ``index``; backward scatter-adds along ``axis``."""

    @staticmethod
    def forward(ctx, x, index, axis):
        ctx.shape, ctx.index, ctx.axis = x.shape, index, axis
        return np.take(x, index, axis=axis)

    @staticmethod
    def backward(ctx, gy):
        g = np.zeros(ctx.shape, dtype=gy.dtype)
        np.add.at(np.moveaxis(g, ctx.axis, 0), ctx.index, np.moveaxis(gy, ctx.axis, 0))
        return g

    @staticmethod
    def backward_graph(ctx, gy):
        return IndexAccumulate.apply(gy, shape=ctx.shape,
                                     index=(slice(None),) * ctx.axis + (ctx.index,))


class Embedding(Function):
    """``weight[indices]``: rows of a table; backward scatter-adds the rows' gradients, the
    ``padding_idx`` row (if any) gets none."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None):
        ctx.shape, ctx.indices, ctx.padding_idx = weight.shape, indices, padding_idx
        return weight[indices]

    @staticmethod
    def backward(ctx, gy):
        n, d = ctx.shape
        g = np.zeros((n, d), dtype=gy.dtype)
        np.add.at(g, ctx.indices.reshape(-1), gy.reshape(ctx.indices.size, d))  # d may be 0
        if ctx.padding_idx is not None:
            g[ctx.padding_idx] = 0
        return g

    @staticmethod
    def backward_graph(ctx, gy):
        n, d = ctx.shape
        rows = ctx.indices.reshape(-1)
        g = gy.reshape(rows.size, d)                                    # (M, d)
        if ctx.padding_idx is not None:
            keep = rows != ctx.padding_idx % n
            if not keep.all():
                rows, g = rows[keep], Getitem.apply(g, index=keep)
        return IndexAccumulate.apply(g, shape=(n, d), index=(rows,))
