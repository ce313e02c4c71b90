"""The direct algorithm: a loop over kernel offsets, each one ``einsum`` over the whole batch.

Depthwise convolutions take a multiply-add per offset instead, over blocks of the batch of at
most ``block_bytes`` (so the ``prod(K)`` passes over a block stay in cache), on the threads of
``parallel``. ``reference.py`` holds the same idea without any of the speed-ups.
"""

from __future__ import annotations

import numpy as np

from svertka.kernels.conv.geometry import crop, is_depthwise, offset_slices, padded_shape
from svertka.kernels.parallel import parallel
from svertka.kernels.window import pad_constant

__all__ = ["forward", "input_grad", "weight_grad"]


def _blocks(span, item_bytes, block_bytes):
    """Cache-sized blocks of the batch items ``span`` (a slice with a start and a stop)."""
    step = max(1, block_bytes // max(1, item_bytes))
    return [slice(i, min(span.stop, i + step)) for i in range(span.start, span.stop, step)]


def forward(x, w, stride, pads, dilation, groups, outs, block_bytes):
    """For every kernel offset, ``y += w[..., k] . x_shifted`` (an einsum).

    Depthwise: a multiply-add per offset, per cache-sized block of the batch.
    """
    N, C = x.shape[:2]
    Co, Cg = w.shape[:2]
    kernel = tuple(w.shape[2:])
    xp = pad_constant(x, pads)                                       # (N, C, Ip...)
    dtype = np.result_type(x, w)
    if is_depthwise(x.shape, w.shape, groups):
        n = len(kernel)
        taps = w.reshape((Co,) + kernel + (1,) * n)                  # (C, K..., 1...)
        y = np.empty((N, Co) + outs, dtype=dtype)
        tmp = np.empty_like(y)

        def part(b):                                                 # batch items b
            for blk in _blocks(b, y[0].nbytes, block_bytes):
                xb, yb, tb = xp[blk], y[blk], tmp[blk]
                for i, offs in enumerate(np.ndindex(*kernel)):
                    src = xb[offset_slices(offs, stride, dilation, outs)]   # (B, C, O...)
                    tap = taps[(slice(None),) + offs]
                    if i == 0:
                        np.multiply(src, tap, out=yb)
                    else:
                        np.multiply(src, tap, out=tb)
                        yb += tb

        parallel(part, N, y.nbytes)
        return y
    y = np.zeros((N, Co) + outs, dtype=dtype)
    Cog = Co // groups
    yg = y.reshape((N, groups, Cog) + outs)                          # (N, G, Cog, O...)
    wg = w.reshape((groups, Cog, Cg) + kernel)                       # (G, Cog, Cg, K...)
    for offs in np.ndindex(*kernel):
        xs = xp[offset_slices(offs, stride, dilation, outs)]        # (N, C, O...)
        xs = xs.reshape((N, groups, Cg) + outs)                      # (N, G, Cg, O...)
        yg += np.einsum("gab,ngb...->nga...", wg[(Ellipsis,) + offs], xs)
    return y


def input_grad(gy, w, x_shape, stride, pads, dilation, groups, block_bytes):
    """For every kernel offset, ``gx_shifted += w[..., k]^T . gy`` (an einsum).

    Depthwise: ``gy`` times that tap of every channel's filter, added into its strided slab,
    per cache-sized block of the batch; never the ``prod(K)`` times larger column gradient.
    """
    kernel = tuple(w.shape[2:])
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    Cg = w.shape[1]
    gxp = np.zeros(padded_shape(x_shape, pads), dtype=np.result_type(gy, w))
    if is_depthwise(x_shape, w.shape, groups):
        n = len(kernel)
        taps = w.reshape((Co,) + kernel + (1,) * n)                  # (C, K..., 1...)
        tmp = np.empty_like(gy, dtype=gxp.dtype)

        def part(b):                                                 # batch items b
            for blk in _blocks(b, gy[0].nbytes, block_bytes):
                g, t, dst = gy[blk], tmp[blk], gxp[blk]
                for offs in np.ndindex(*kernel):
                    np.multiply(g, taps[(slice(None),) + offs], out=t)   # (B, C, O...)
                    dst[offset_slices(offs, stride, dilation, outs)] += t

        parallel(part, N, gy.nbytes)
        return crop(gxp, x_shape, pads)
    Cog = Co // groups
    gyg = gy.reshape((N, groups, Cog) + outs)                        # (N, G, Cog, O...)
    wg = w.reshape((groups, Cog, Cg) + kernel)                       # (G, Cog, Cg, K...)
    for offs in np.ndindex(*kernel):
        dst = gxp[offset_slices(offs, stride, dilation, outs)]      # (N, C, O...) view
        dst.reshape((N, groups, Cg) + outs)[...] += np.einsum(
            "gab,nga...->ngb...", wg[(Ellipsis,) + offs], gyg)
    return crop(gxp, x_shape, pads)


def weight_grad(x, gy, w_shape, stride, pads, dilation, groups, block_bytes):
    """For every kernel offset, ``gw[..., k] = sum_n,o gy . x_shifted``."""
    kernel = tuple(w_shape[2:])
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    Cg = w_shape[1]
    Cog = Co // groups
    xp = pad_constant(x, pads)
    gw = np.zeros((groups, Cog, Cg) + kernel, dtype=np.result_type(x, gy))
    sp = "ijklmopqrs"[:len(outs)]                                   # spatial subscripts
    if is_depthwise(x.shape, w_shape, groups):
        partials = {}

        def part(b):                                                 # batch items b
            taps = np.zeros((Co,) + kernel, dtype=gw.dtype)          # (C, K...)
            for blk in _blocks(b, gy[0].nbytes, block_bytes):
                g, xb = gy[blk], xp[blk]
                for offs in np.ndindex(*kernel):
                    xs = xb[offset_slices(offs, stride, dilation, outs)]    # (B, C, O...)
                    taps[(slice(None),) + offs] += np.einsum(f"nc{sp},nc{sp}->c", g, xs)
            partials[b.start] = taps

        parallel(part, N, gy.nbytes)
        return sum(partials[k] for k in sorted(partials)).reshape(w_shape)
    gyg = gy.reshape((N, groups, Cog) + outs)                        # (N, G, Cog, O...)
    for offs in np.ndindex(*kernel):
        xs = xp[offset_slices(offs, stride, dilation, outs)]        # (N, C, O...)
        xs = xs.reshape((N, groups, Cg) + outs)
        gw[(Ellipsis,) + offs] = np.einsum(f"nga{sp},ngb{sp}->gab", gyg, xs)
    return gw.reshape(w_shape)

