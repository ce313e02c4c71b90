"""Vision ops: ``PixelShuffle``, ``PixelUnshuffle`` and ``Interpolate`` (nearest and linear).

Interpolation is separable: along each spatial axis, output element ``o`` is
``w0[o] x[i0[o]] + w1[o] x[i1[o]]`` (nearest: one neighbour, weight 1). The forward gathers
the neighbours of each axis in turn; the backward is the transpose, a scatter-add. The source
indices never decrease with ``o``, so the scatter-add is a segment sum (``np.add.reduceat``
over runs of equal indices), vectorized over every other axis.

The index formulas replicate torch's CPU kernels (``area_pixel_compute_scale``,
``area_pixel_compute_source_index``, and the float32 rounding of the nearest modes), so
outputs and gradients agree with torch to rounding.
"""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function

# ------------------------------------------------------------------------------ pixel shuffle


def _shuffle(x, r):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""
    *lead, C, H, W = x.shape
    c = C // (r * r)
    n = len(lead)
    y = x.reshape(*lead, c, r, r, H, W)                           # (*, c, r1, r2, H, W)
    axes = tuple(range(n)) + tuple(n + a for a in (0, 3, 1, 4, 2))
    return y.transpose(axes).reshape(*lead, c, H * r, W * r)      # (*, c, H, r1, W, r2)


def _unshuffle(x, r):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""
    *lead, C, Hr, Wr = x.shape
    H, W = Hr // r, Wr // r
    n = len(lead)
    y = x.reshape(*lead, C, H, r, W, r)                           # (*, C, H, r1, W, r2)
    axes = tuple(range(n)) + tuple(n + a for a in (0, 2, 4, 1, 3))
    return y.transpose(axes).reshape(*lead, C * r * r, H, W)      # (*, C, r1, r2, H, W)


class PixelShuffle(Function):
    """``(*, C r^2, H, W) -> (*, C, H r, W r)``; the backward is the unshuffle."""

    @staticmethod
    def forward(ctx, x, upscale_factor=1):
        ctx.r = upscale_factor
        return np.ascontiguousarray(_shuffle(x, upscale_factor))

    @staticmethod
    def backward(ctx, gy):
        return np.ascontiguousarray(_unshuffle(gy, ctx.r))

    @staticmethod
    def backward_graph(ctx, gy):
        return PixelUnshuffle.apply(gy, downscale_factor=ctx.r)


class PixelUnshuffle(Function):
    """``(*, C, H r, W r) -> (*, C r^2, H, W)``; the backward is the shuffle."""

    @staticmethod
    def forward(ctx, x, downscale_factor=1):
        ctx.r = downscale_factor
        return np.ascontiguousarray(_unshuffle(x, downscale_factor))

    @staticmethod
    def backward(ctx, gy):
        return np.ascontiguousarray(_shuffle(gy, ctx.r))

    @staticmethod
    def backward_graph(ctx, gy):
        return PixelShuffle.apply(gy, upscale_factor=ctx.r)


# ------------------------------------------------------------------------------ interpolation


def _scale(I, O, align_corners, scale_factor, dtype):
    """torch's ``area_pixel_compute_scale``: output-to-input step, in ``dtype``."""
    if align_corners:
        return dtype((I - 1) / (O - 1)) if O > 1 else dtype(0)
    if scale_factor is not None and scale_factor > 0:
        return dtype(1.0 / scale_factor)
    return dtype(I) / dtype(O)


def nearest_index(I, O, scale_factor=None, exact=False, dtype=np.float64, planar=False):
    """Source index of each of ``O`` outputs for 'nearest' (``floor(o * scale)``, torch's
    legacy rule) or 'nearest-exact' (``floor((o + 0.5) * scale)``) from ``I`` inputs.

    ``scale`` is ``1 / scale_factor`` when a scale factor is given, else ``I / O``. torch's
    1-D and 3-D kernels compute in float64 for float64 tensors and in float32 otherwise,
    'nearest-exact' as ``max((o + 0.5) scale - 0.5, 0) + 0.5``, and round the source position
    to float32 before the floor; its 2-D kernels (``planar=True``) compute ``(o + 0.5) scale``
    in float32 for every dtype. The rounding decides the index where the
    exact position is an integer (4 -> 41, o = 20: 20.5 * 4/41 = 2).

    >>> nearest_index(3, 7).tolist(), nearest_index(3, 7, exact=True).tolist()
    ([0, 0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 2, 2])
    >>> nearest_index(5, 8, scale_factor=1.7).tolist()
    [0, 0, 1, 1, 2, 2, 3, 4]
    >>> [int(nearest_index(4, 41, exact=True, planar=p)[20]) for p in (False, True)]
    [2, 1]
    """
    # torch's opmath type: float64 for float64 tensors, float32 for the others (uint8 too)
    op = np.float64 if dtype == np.float64 and not planar else np.float32
    scale = _scale(I, O, False, scale_factor, op)
    o = np.arange(O)
    if planar:
        src = (o.astype(op) + op(0.5)) * scale if exact else o.astype(op) * scale
    elif exact:
        if op is np.float32:
            # torch's float32 kernel fuses scale * (o + 0.5) - 0.5 into one rounding (FMA):
            # the float32 product is exact in float64
            src = (np.float64(scale) * (o + 0.5) - 0.5).astype(np.float32)
        else:
            src = scale * (o + 0.5) - 0.5
        src = np.maximum(src, op(0))
        src = (src + op(0.5)).astype(np.float32)
    else:
        src = (scale * o.astype(op)).astype(np.float32)
    return np.minimum(np.floor(src).astype(np.intp), I - 1)


def linear_weights(I, O, align_corners=False, scale_factor=None):
    """The two neighbours ``i0 <= i1`` and weights ``w0 + w1 = 1`` of each of ``O`` outputs.

    The source position is ``o * scale`` with ``align_corners`` (``scale = (I-1)/(O-1)``),
    else ``(o + 0.5) * scale - 0.5`` clamped at 0 (``scale = 1/scale_factor`` or ``I/O``).

    >>> i0, i1, w0, w1 = linear_weights(2, 4)
    >>> i0.tolist(), i1.tolist(), w1.tolist()
    ([0, 0, 0, 1], [1, 1, 1, 1], [0.0, 0.25, 0.75, 0.25])
    """
    scale = _scale(I, O, align_corners, scale_factor, np.float64)
    o = np.arange(O, dtype=np.float64)
    if align_corners:
        src = scale * o
    else:
        src = np.maximum(scale * (o + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.intp), I - 1)
    lam = np.clip(src - i0, 0.0, 1.0)
    i1 = i0 + (i0 < I - 1)
    return i0, i1, 1.0 - lam, lam


def _take_adjoint(g, idx, size, axis):
    """Transpose of ``np.take(x, idx, axis)`` for non-decreasing ``idx``: sums the entries of
    ``g`` that read the same input index (segment sums), zeros where none did."""
    if idx.size == 0:
        return np.zeros(g.shape[:axis] + (size,) + g.shape[axis + 1:], dtype=g.dtype)
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])    # first o of each run
    sums = np.add.reduceat(g, starts, axis=axis)                  # (..., runs, ...)
    hit = idx[starts]                                             # increasing input indices
    if hit.size == size:                                          # every input was read
        return sums
    gx = np.zeros(g.shape[:axis] + (size,) + g.shape[axis + 1:], dtype=g.dtype)
    if hit[-1] - hit[0] + 1 == hit.size:                          # a contiguous block
        gx[(slice(None),) * axis + (slice(hit[0], hit[-1] + 1),)] = sums
    else:
        gx[(slice(None),) * axis + (hit,)] = sums
    return gx


def _along(w, axis, ndim, dtype):
    """Weights ``(O,)`` shaped to broadcast along ``axis`` of an ``ndim``-D array."""
    shape = [1] * ndim
    shape[axis] = w.shape[0]
    return w.astype(dtype).reshape(shape)


class Interpolate(Function):
    """Resize the trailing ``len(size)`` axes by nearest or linear interpolation.

    Parameters: ``size`` (output sizes), ``mode`` ('nearest', 'nearest-exact' or 'linear'
    for every separable linear mode), ``align_corners`` and ``scale_factors`` (per axis, or
    ``None``: torch's kernels use ``1 / scale_factor`` in place of ``in / out`` when given).
    """

    @staticmethod
    def forward(ctx, x, size=(), mode="nearest", align_corners=False, scale_factors=None):
        n = len(size)
        lead = x.ndim - n
        sf = scale_factors or (None,) * n
        plans = []                                   # per axis: (axis, I, [(idx, w), ...])
        for axis, O, s in zip(range(lead, x.ndim), size, sf):
            I = x.shape[axis]
            if mode == "linear":
                i0, i1, w0, w1 = linear_weights(I, O, align_corners, s)
                taps = [(i0, _along(w0, axis, x.ndim, x.dtype)),
                        (i1, _along(w1, axis, x.ndim, x.dtype))]
                if O == I and not w1.any():
                    # Same size, no blending: a copy, as torch's (0 * a NaN neighbour is NaN).
                    taps = [(i0, None)]
            else:
                idx = nearest_index(I, O, s, mode == "nearest-exact", x.dtype.type, n == 2)
                taps = [(idx, None)]
            plans.append((axis, I, taps))
        y = x
        for axis, I, taps in plans:
            if len(taps) == 1 and np.array_equal(taps[0][0], np.arange(I)):
                continue                             # nearest to the same size: identity
            parts = [np.take(y, idx, axis=axis) if w is None else np.take(y, idx, axis=axis) * w
                     for idx, w in taps]
            y = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        ctx.plans = plans
        return y.copy() if y is x else y

    @staticmethod
    def backward(ctx, gy):
        g = gy
        for axis, I, taps in reversed(ctx.plans):
            if len(taps) == 1 and np.array_equal(taps[0][0], np.arange(I)):
                continue
            parts = [_take_adjoint(g if w is None else g * w, idx, I, axis) for idx, w in taps]
            g = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        return g

    @staticmethod
    def backward_graph(ctx, gy):
        return InterpolateBackward.apply(gy, src=ctx)


# ------------------------------------------------- interpolation's backward, differentiable again
#
# Interpolation is linear in its input, so its backward is a fixed linear map of ``gy`` (the
# transpose) and the transpose of that is the interpolation again. ``InterpolateBackward`` and
# ``Resample`` are those two maps as ops, both reading the plans of one ``Interpolate`` call
# (``src``, its node), so gradients of any order go back and forth between them.


def _resample(x, plans):
    """Interpolation of ``x`` by ``Interpolate``'s per-axis plans (its forward, given them)."""
    y = x
    for axis, I, taps in plans:
        if len(taps) == 1 and np.array_equal(taps[0][0], np.arange(I)):
            continue
        parts = [np.take(y, idx, axis=axis) if w is None else np.take(y, idx, axis=axis) * w
                 for idx, w in taps]
        y = parts[0] if len(parts) == 1 else parts[0] + parts[1]
    return y.copy() if y is x else y


class InterpolateBackward(Function):
    """``Interpolate``'s backward (the transpose of the call ``src``) as an op; its own
    backward is the interpolation (``Resample``)."""

    @staticmethod
    def forward(ctx, g, *, src):
        ctx.src = src
        gx = Interpolate.backward(src, g)
        return gx.copy() if gx is g else gx

    @staticmethod
    def backward(ctx, gy):
        return _resample(gy, ctx.src.plans)

    @staticmethod
    def backward_graph(ctx, gy):
        return Resample.apply(gy, src=ctx.src)


class Resample(Function):
    """The interpolation of the ``Interpolate`` call ``src`` applied to another input of its
    input's shape (the backward of ``InterpolateBackward``)."""

    @staticmethod
    def forward(ctx, x, *, src):
        ctx.src = src
        return _resample(x, src.plans)

    @staticmethod
    def backward(ctx, gy):
        return Interpolate.backward(ctx.src, gy)

    @staticmethod
    def backward_graph(ctx, gy):
        return InterpolateBackward.apply(gy, src=ctx.src)
