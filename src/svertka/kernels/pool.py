"""Pooling kernels on ndarrays: max (with torch's flat indices), average and adaptive pooling.

Legend as in ``window.py``: ``N`` batch, ``C`` channels, ``I*`` input sizes, ``K*`` kernel
sizes, ``O*`` output sizes, ``S*`` strides, ``D*`` dilations, ``(lo, hi)`` padding pairs. Every
function is N-d (the number of spatial axes is ``len(kernel)``) and takes batched input
``(N, C, I...)``; ``P = prod(I)`` is the size of one input plane.

Window pooling loops over the ``prod(K)`` kernel offsets only: offset ``k`` sees the strided
slice ``xp[..., k*d : k*d + (O-1)*s + 1 : s]`` of the padded input (the windows of
``window.window_view``, read one tap at a time), so no ``(..., O, K)`` copy is made. Max
pooling is split in two: ``max_pool_indices`` (the argmax, not differentiable) and a gather
of the input at those indices (``gather_plane``), whose adjoint is a scatter-add
(``scatter_add_plane``); ``max_unpool`` is the scatter and its adjoint the gather.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from svertka.kernels.parallel import parallel
from svertka.kernels.window import out_shape, pad_constant

# ----------------------------------------------------------------------------- geometry

def pool_out_shape(spatial, kernel, stride, pads, dilation, ceil_mode):
    """Output sizes of a window pooling (torch's rule, ``ceil_mode`` included)."""
    return out_shape(spatial, kernel, stride, pads, dilation, ceil_mode)


def _full_pads(spatial, kernel, stride, pads, dilation, out):
    """``pads`` with the high side grown so that every window (ceil_mode) fits in ``xp``."""
    full = []
    for i, k, s, (lo, hi), d, o in zip(spatial, kernel, stride, pads, dilation, out):
        need = (o - 1) * s + (k - 1) * d + 1                  # padded length the windows read
        full.append((lo, max(hi, need - i - lo)))
    return tuple(full)


def _tap_slices(offset, stride, dilation, out):
    """Slices of the padded input that kernel offset ``offset`` reads, one per spatial axis."""
    return tuple(slice(k * d, k * d + (o - 1) * s + 1, s)
                 for k, s, d, o in zip(offset, stride, dilation, out))


def _flat(positions, spatial):
    """Flat plane indices from per-axis position arrays that broadcast against each other."""
    flat = np.zeros((), dtype=np.int64)
    for pos, size in zip(positions, spatial):
        flat = flat * size + pos
    return flat


def _grid(arrays):
    """Per-axis 1-D arrays reshaped to broadcast as an ``n``-axis grid."""
    n = len(arrays)
    return [np.asarray(a, dtype=np.int64).reshape((-1,) + (1,) * (n - 1 - i))
            for i, a in enumerate(arrays)]


# ----------------------------------------------------------------------------- max pooling

class _RunningArgmax:
    """Running maximum over taps with torch's rule: a tap wins when it is larger than the best
    so far, or NaN (so the first maximum wins ties and the last NaN wins). Remembers the
    number of the winning tap (``-1``: none won, every tap was ``-inf`` or padding).

    ``has_nan`` (from one ``min`` over the input) picks the slower NaN-aware update.
    """

    def __init__(self, shape, dtype, taps, has_nan):
        self.best = np.full(shape, -np.inf, dtype=dtype)
        self.arg = np.full(shape, -1, dtype=np.int16 if taps < 2**15 else np.int32)
        self._take = np.empty(shape, dtype=bool)
        self._nan = np.empty(shape, dtype=bool) if has_nan else None

    def update(self, v, tap):
        v = np.ascontiguousarray(v)              # strided taps: one copy beats three reads
        take = self._take
        np.greater(v, self.best, out=take)
        if self._nan is None:
            np.maximum(self.best, v, out=self.best)
        else:
            np.isnan(v, out=self._nan)
            np.logical_or(take, self._nan, out=take)
            np.copyto(self.best, v, where=take)
        np.copyto(self.arg, tap, where=take)


def _has_nan(x):
    return x.size > 0 and bool(np.isnan(np.min(x)))


def max_pool_indices(x, kernel, stride, pads, dilation, ceil_mode):
    """Flat index into each input plane of each window's maximum, and the empty windows.

    Returns ``(idx, empty)``: ``idx`` ``(N, C, O...)`` int64; ``empty`` is ``None``, or a
    boolean mask broadcasting to ``(O...)`` of the windows with no tap inside the input
    (possible only with dilation): torch gives them ``-inf`` and the index of their first tap
    past the low padding, which lies outside the window, so ``gather_plane`` must be told.

    Ties go to the first maximum in row-major window order, NaN wins (the last NaN), as in
    torch; a window whose taps are all ``-inf`` points at its first tap inside the input.
    """
    n = len(kernel)
    spatial = x.shape[-n:]
    out = pool_out_shape(spatial, kernel, stride, pads, dilation, ceil_mode)
    full = _full_pads(spatial, kernel, stride, pads, dilation, out)
    xp = pad_constant(x, full, -np.inf)                       # (N, C, I+lo+hi...)
    run = _RunningArgmax(x.shape[:-n] + out, x.dtype, math.prod(kernel), _has_nan(x))
    taps = itertools.product(*(range(k) for k in kernel)) if x.size else ()   # empty: no work
    for tap, offset in enumerate(taps):
        run.update(xp[(Ellipsis,) + _tap_slices(offset, stride, dilation, out)], tap)
    # Window starts and, where no tap won, torch's default: the first tap past low padding.
    start = _grid([np.arange(o) * s - lo for o, s, (lo, _) in zip(out, stride, full)])
    first = [st + np.maximum(0, -(st // d)) * d for st, d in zip(start, dilation)]
    none = run.arg < 0
    ks = np.unravel_index(np.where(none, 0, run.arg), kernel)     # per axis (N, C, O...)
    pos = [np.where(none, f, st + k * d) for st, f, k, d in zip(start, first, ks, dilation)]
    empty = None
    for f, size in zip(first, spatial):
        if (f >= size).any():
            empty = (f >= size) if empty is None else empty | (f >= size)
    return _flat(pos, spatial), empty


def _taps(kernel):
    return itertools.product(*(range(k) for k in kernel))


def _max_pool_geometry(x, kernel, stride, pads, dilation, ceil_mode):
    n = len(kernel)
    spatial = x.shape[-n:]
    out = pool_out_shape(spatial, kernel, stride, pads, dilation, ceil_mode)
    full = _full_pads(spatial, kernel, stride, pads, dilation, out)
    return spatial, out, full


def max_pool_values(x, kernel, stride, pads, dilation, ceil_mode):
    """The window maxima ``(N, C, O...)`` only (no argmax): a running ``np.maximum`` over
    the kernel offsets, each a strided view of the (``-inf``-padded) input.

    NaN propagates (a window holding a NaN is NaN), as in torch. When the windows tile the
    input (stride == kernel, no padding or dilation) the taps are views of ``x`` itself.
    Parts of the batch (the first axis) run on ``svertka.backends.get_num_threads()``
    threads.
    """
    spatial, out, full = _max_pool_geometry(x, kernel, stride, pads, dilation, ceil_mode)
    xp = pad_constant(x, full, -np.inf)                       # x itself when no padding
    if math.prod(out) == 0 or math.prod(kernel) == 0 or x.size == 0:
        return np.full(x.shape[:-len(kernel)] + out, -np.inf, dtype=x.dtype)
    y = np.empty(x.shape[:-len(kernel)] + out, dtype=x.dtype)
    taps = [_tap_slices(offset, stride, dilation, out) for offset in _taps(kernel)]

    xs, ys = (xp, y) if x.ndim > len(kernel) else (xp[None], y[None])

    def part(b):                                              # images b
        xb, yb = xs[b], ys[b]
        np.copyto(yb, xb[(Ellipsis,) + taps[0]])
        for sl in taps[1:]:
            np.maximum(yb, xb[(Ellipsis,) + sl], out=yb)

    parallel(part, xs.shape[0], x.nbytes, POOL_PARALLEL_MIN_BYTES)
    return y


def max_pool_backward(gy, x, kernel, stride, pads, dilation, ceil_mode, y=None):
    """Gradient of max pooling: each window's ``gy`` goes to its first maximum.

    ``y``, the forward's maxima, is recomputed when not given. 2x2 windows that tile a 2-D
    input exactly go through ``_max_pool2x2_backward``. Otherwise: one compare per kernel
    offset (``tap == y``) against ``y``; where
    windows do not overlap (stride >= kernel, no padding) each tap writes its own strided
    slice of ``gx``, otherwise the taps add into a padded buffer. Ties (two taps equal to the
    maximum) keep torch's rule, the first tap in row-major window order: a ``taken`` mask
    (skipped for non-overlapping windows when the hit count shows no tie).

    Returns ``None`` when ``y`` holds NaN or ``-inf`` (torch's index rules for those need
    ``max_pool_indices``); the caller falls back to the index path.

    Examples (ties go to the first maximum in row-major window order):

        >>> x = np.array([[[[1., 2., 0., 0.], [2., 2., 0., 0.]]]])    # (1, 1, 2, 4)
        >>> max_pool_backward(np.ones((1, 1, 1, 2)), x, (2, 2), (2, 2), ((0, 0), (0, 0)),
        ...                   (1, 1), False)
        array([[[[0., 1., 1., 0.],
                 [0., 0., 0., 0.]]]])
        >>> max_pool_backward(np.ones((1, 1, 1, 3)), x, (2, 2), (1, 1), ((0, 0), (0, 0)),
        ...                   (1, 1), False)
        array([[[[0., 2., 1., 0.],
                 [0., 0., 0., 0.]]]])
        >>> x[0, 0, 0, 0] = np.nan
        >>> max_pool_backward(np.ones((1, 1, 1, 2)), x, (2, 2), (2, 2), ((0, 0), (0, 0)),
        ...                   (1, 1), False) is None
        True
    """
    if x.size == 0:                        # an empty batch: no loop over the kernel's taps
        return np.zeros(x.shape, dtype=gy.dtype)
    if (y is None and len(kernel) == 2 and tuple(kernel) == (2, 2) == tuple(stride)
            and tuple(dilation) == (1, 1) and not any(lo or hi for lo, hi in pads)
            and x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0 and x.size):
        return _max_pool2x2_backward(gy, x)
    if y is None:
        y = max_pool_values(x, kernel, stride, pads, dilation, ceil_mode)
    if y.size and not np.isfinite(y.min()):
        return None
    spatial, out, full = _max_pool_geometry(x, kernel, stride, pads, dilation, ceil_mode)
    padded = any(lo or hi for lo, hi in full)
    disjoint = not padded and all((k - 1) * d < s for k, s, d in zip(kernel, stride, dilation))
    if disjoint:
        return _max_pool_backward_disjoint(gy, x, y, kernel, stride, dilation, out, spatial)
    xp = pad_constant(x, full, -np.inf)                       # x itself when no padding
    gxp = np.zeros(xp.shape, dtype=gy.dtype)
    hit = np.empty(y.shape, dtype=bool)
    g = np.empty(y.shape, dtype=gy.dtype)
    hits = 0
    for offset in _taps(kernel):
        sl = (Ellipsis,) + _tap_slices(offset, stride, dilation, out)
        np.equal(xp[sl], y, out=hit)
        hits += np.count_nonzero(hit)
        np.multiply(gy, hit, out=g)
        gxp[sl] += g
    if hits != y.size:                     # ties: only the first tap of each window keeps gy
        gxp[...] = 0
        taken = np.zeros(y.shape, dtype=bool)
        for offset in _taps(kernel):
            sl = (Ellipsis,) + _tap_slices(offset, stride, dilation, out)
            np.equal(xp[sl], y, out=hit)
            np.greater(hit, taken, out=hit)                   # hit and not taken
            taken |= hit
            np.multiply(gy, hit, out=g)
            gxp[sl] += g
    if xp is x:
        return gxp
    inner = tuple(slice(lo, lo + i) for i, (lo, _) in zip(spatial, full))
    return gxp[(Ellipsis,) + inner]


def tiles_2x2(x_shape, kernel, stride, pads, dilation):
    """Whether max pooling is 2x2 windows, stride 2, tiling a 2-D input exactly (the
    lecture CNN's pooling), which ``max_pool2x2_code`` handles."""
    return (len(kernel) == 2 and tuple(kernel) == (2, 2) == tuple(stride)
            and tuple(dilation) == (1, 1) and not any(lo or hi for lo, hi in pads)
            and x_shape[-1] % 2 == 0 and x_shape[-2] % 2 == 0 and math.prod(x_shape) > 0)


def max_pool2x2_code(x):
    """2x2 / stride-2 maxima of ``x (N, C, 2 Ho, 2 Wo)`` and the winning tap of each window.

    Returns ``(y, code)``: ``y (N, C, Ho, Wo)``; ``code`` uint8 ``(N*C*Ho, Wo)``, the tap
    ``2 * row + col`` of the window's first maximum in row-major order (torch's tie rule),
    or ``None`` when a maximum is NaN or ``-inf`` (torch's index rules for those need
    ``max_pool_indices``). The four taps are copied apart once into contiguous planes
    (one transposing copy beats strided arithmetic), then, separably, ``w = max(x?0, x?1)``
    and ``c = x?0 < x?1`` (the second column wins, strictly) per row of the window,
    ``y = max(w0, w1)`` and ``r = w0 < w1``; the code is ``2 r + (c1 if r else c0)``.
    Parts of the batch run on ``svertka.backends.get_num_threads()`` threads.

    >>> y, code = max_pool2x2_code(np.array([[[[1., 2., 0., 5.], [2., 2., 5., 5.]]]]))
    >>> y, code
    (array([[[[2., 5.]]]]), array([[1, 1]], dtype=uint8))
    """
    N, C, H, W = x.shape
    R, Wo = C * (H // 2), W // 2                              # window rows per image
    y = np.empty((N, C, H // 2, Wo), dtype=x.dtype)
    code = np.empty((N * R, Wo), dtype=np.uint8)
    finite = []

    def part(b):                                              # images b
        M = (b.stop - b.start) * R
        if M == 0:
            return
        taps = np.empty((2, 2, M, Wo), dtype=x.dtype)         # [row][col] of each window
        taps[...] = x[b].reshape(M, 2, Wo, 2).transpose(1, 3, 0, 2)
        (x00, x01), (x10, x11) = taps
        w0 = np.maximum(x00, x01)
        w1 = np.maximum(x10, x11)
        yb = y[b].reshape(M, Wo)
        np.maximum(w0, w1, out=yb)
        if not np.isfinite(yb.min()):
            finite.append(False)
            return
        c0 = np.less(x00, x01)
        col = np.less(x10, x11)
        r = np.less(w0, w1)
        col ^= c0
        col &= r
        col ^= c0                                             # c1 where r, else c0
        cb = code[b.start * R:b.stop * R]
        np.left_shift(r.view(np.uint8), 1, out=cb)
        cb |= col.view(np.uint8)

    parallel(part, N, x.nbytes, POOL_PARALLEL_MIN_BYTES)
    return y, (None if finite else code)


# Max pooling splits the batch over threads above this many input bytes (measured on the
# lecture CNN's (64, 32, 32, 32) and (64, 64, 16, 16) pools: forward 2.8 -> 1.6 ms and
# 1.3 -> 0.8 ms with 2 threads). Under it the hand-off to a thread (tens of microseconds)
# costs about what the second thread saves (LeNet-5's 1.2 MB pool).
POOL_PARALLEL_MIN_BYTES = 2 * 2**20


def max_pool2x2_code_backward(gy, code, x_shape):
    """Adjoint of ``max_pool2x2_code``: each window's ``gy`` to its tap ``code``, zero to the
    other three. ``gx`` viewed as ``(N*C*Ho, 2, Wo, 2)``: one ``gy * (code == k)`` per tap.

    >>> max_pool2x2_code_backward(np.ones((1, 1, 1, 2)), np.array([[1, 2]], np.uint8),
    ...                           (1, 1, 2, 4))
    array([[[[0., 1., 0., 0.],
             [0., 0., 1., 0.]]]])
    """
    M, Wo = code.shape
    N = x_shape[0]
    R = M // N if N else 0
    gx = np.empty((M, 2, Wo, 2), dtype=gy.dtype)
    g = gy.reshape(M, Wo)

    def part(b):                                              # images b
        rows = slice(b.start * R, b.stop * R)
        c, gr, gxr = code[rows], g[rows], gx[rows]
        hit = np.empty(c.shape, dtype=bool)
        for k in range(4):
            np.equal(c, k, out=hit)
            np.multiply(gr, hit, out=gxr[:, k >> 1, :, k & 1])

    parallel(part, N, gx.nbytes, POOL_PARALLEL_MIN_BYTES)
    return gx.reshape(x_shape)


def _max_pool2x2_backward(gy, x):
    """2x2 windows, stride 2, tiling ``x (N, C, 2 Ho, 2 Wo)``, done separably: the maxima of
    column pairs ``yw = max(x[..., 0::2], x[..., 1::2])``, then of row pairs of ``yw``. The
    gradient goes back the same way: to the first row of a pair where it holds the maximum,
    else the second (``gy - gy * hit``, exact), then to the first column likewise. Picking
    the first row, then the first column in it, is torch's row-major first maximum, ties
    included, with no tie bookkeeping. ``None`` when a maximum is NaN or ``-inf``."""
    x0, x1 = x[..., 0::2], x[..., 1::2]                        # (N, C, 2 Ho, Wo)
    yw = np.maximum(x0, x1)
    r0, r1 = yw[..., 0::2, :], yw[..., 1::2, :]                # (N, C, Ho, Wo)
    y = np.maximum(r0, r1)
    if not np.isfinite(y.min()):
        return None
    hit = np.equal(r0, y)
    hitw = np.equal(x0, yw)                                    # (N, C, 2 Ho, Wo)
    gyw = yw if yw.dtype == gy.dtype else np.empty(yw.shape, dtype=gy.dtype)  # yw is done
    g0 = gyw[..., 0::2, :]
    np.multiply(gy, hit, out=g0)
    np.subtract(gy, g0, out=gyw[..., 1::2, :])
    hit = hitw
    gx = np.empty(x.shape, dtype=gy.dtype)
    g0 = gx[..., 0::2]
    np.multiply(gyw, hit, out=g0)
    np.subtract(gyw, g0, out=gx[..., 1::2])
    return gx


def _max_pool_backward_disjoint(gy, x, y, kernel, stride, dilation, out, spatial):
    """Windows that do not overlap: every input element is in at most one window."""
    cover = all((o - 1) * s + (k - 1) * d + 1 == i and d == 1 and s == k
                for o, s, k, d, i in zip(out, stride, kernel, dilation, spatial))
    gx = (np.empty if cover else np.zeros)(x.shape, dtype=gy.dtype)
    hit = np.empty(y.shape, dtype=bool)
    hits = 0
    for offset in _taps(kernel):
        sl = (Ellipsis,) + _tap_slices(offset, stride, dilation, out)
        np.equal(x[sl], y, out=hit)
        hits += np.count_nonzero(hit)
        np.multiply(hit, gy, out=gx[sl])
    if hits == y.size:                     # one hit per window: no ties
        return gx
    taken = np.zeros(y.shape, dtype=bool)
    for offset in _taps(kernel):           # ties: only the first tap of each window keeps gy
        sl = (Ellipsis,) + _tap_slices(offset, stride, dilation, out)
        np.equal(x[sl], y, out=hit)
        np.greater(hit, taken, out=hit)                       # hit and not taken
        taken |= hit
        np.multiply(hit, gy, out=gx[sl])
    return gx


def gather_plane(x, idx, n, empty=None, fill=0):
    """``y[b, c, o] = x[b, c].flat[idx[b, c, o]]`` over the trailing ``n`` axes.

    Where the mask ``empty`` (broadcasting to ``idx``) is set, ``y`` is ``fill`` instead.
    """
    lead = x.shape[:-n]
    P = math.prod(x.shape[-n:])
    xf = x.reshape(lead + (P,))                               # (N, C, P)
    if empty is not None:
        idx = np.where(empty, 0, idx)
    idf = idx.reshape(lead + (math.prod(idx.shape[-n:]),))    # (N, C, prod(O))
    y = np.take_along_axis(xf, idf, axis=-1).reshape(idx.shape)
    if empty is not None:
        y[..., np.broadcast_to(empty, idx.shape[-n:])] = fill
    return y


def scatter_add_plane(g, idx, spatial, empty=None):
    """Adjoint of ``gather_plane``: ``gx[b, c].flat[idx] += g`` (repeated indices add up).

    Windows masked by ``empty`` send nothing. One ``bincount`` over ``N*C*P`` bins (it sums
    in float64; the result is cast back to ``g``'s dtype).
    """
    n = len(spatial)
    lead = idx.shape[:idx.ndim - n]
    B = math.prod(lead)
    P = math.prod(spatial)
    Q = math.prod(idx.shape[-n:])
    if empty is not None:
        g = np.where(empty, 0, g)
        idx = np.where(empty, 0, idx)
    bins = (np.arange(B, dtype=np.int64)[:, None] * P + idx.reshape(B, Q)).ravel()
    gx = np.bincount(bins, weights=g.reshape(B * Q), minlength=B * P)
    return gx.astype(g.dtype, copy=False).reshape(lead + tuple(spatial))


def max_unpool(x, idx, spatial):
    """``y[b, c].flat[idx] = x`` into zero planes of size ``spatial`` (the last write wins)."""
    n = len(spatial)
    lead = x.shape[:-n]
    B = math.prod(lead)
    y = np.zeros((B, math.prod(spatial)), dtype=x.dtype)      # (N*C, P_out)
    Q = math.prod(x.shape[-n:])
    np.put_along_axis(y, idx.reshape(B, Q), x.reshape(B, Q), axis=1)
    return y.reshape(lead + tuple(spatial))


# ----------------------------------------------------------------------------- average pooling

def _axis_counts(size, k, s, lo, hi, d, o):
    """Per output position along one axis: taps inside the padded input and inside the input.

    Windows are clipped to the padded input ``[-lo, size + hi)`` as torch does (the ceil_mode
    overhang does not count).
    """
    pos = (np.arange(o) * s - lo)[:, None] + np.arange(k) * d    # (O, K)
    with_pad = (pos < size + hi).sum(axis=1)
    inside = ((pos >= 0) & (pos < size)).sum(axis=1)
    return with_pad, inside


def avg_divisor(spatial, kernel, stride, pads, dilation, out, count_include_pad,
                divisor_override, dtype):
    """The divisor of every window, shaped ``(O...)`` (broadcasts over ``N, C``).

    Windows without any counted tap (only possible with dilation) get 1: their sum is 0.
    """
    if divisor_override is not None:
        return np.asarray(divisor_override, dtype=dtype)
    counts = [_axis_counts(i, k, s, lo, hi, d, o)[0 if count_include_pad else 1]
              for i, k, s, (lo, hi), d, o in zip(spatial, kernel, stride, pads, dilation, out)]
    div = np.ones((), dtype=np.int64)
    for c in _grid(counts):
        div = div * c
    return np.maximum(div, 1).astype(dtype)


def avg_pool_forward(x, kernel, stride, pads, dilation, ceil_mode, count_include_pad,
                     divisor_override):
    """Window sums (one strided add per kernel offset) divided by torch's divisor."""
    n = len(kernel)
    spatial = x.shape[-n:]
    out = pool_out_shape(spatial, kernel, stride, pads, dilation, ceil_mode)
    full = _full_pads(spatial, kernel, stride, pads, dilation, out)
    xp = pad_constant(x, full, 0)                             # (N, C, I+lo+hi...)
    if math.prod(out) == 0 or math.prod(kernel) == 0 or x.size == 0:
        acc = np.zeros(x.shape[:-n] + out, dtype=x.dtype)
    else:
        acc = None
        for offset in _taps(kernel):
            v = xp[(Ellipsis,) + _tap_slices(offset, stride, dilation, out)]
            if acc is None:
                acc = v.copy()                                # (N, C, O...)
            else:
                acc += v
    div = avg_divisor(spatial, kernel, stride, pads, dilation, out, count_include_pad,
                      divisor_override, x.dtype)
    if div.ndim and div.size and (div == div.flat[0]).all():
        div = div.flat[0]                                     # a scalar: a faster divide
    acc /= div
    return acc


def avg_pool_backward(gy, x_shape, kernel, stride, pads, dilation, count_include_pad,
                      divisor_override):
    """Each window's gradient spread evenly over its taps (one strided ``+=`` per offset)."""
    if gy.size == 0 or math.prod(x_shape) == 0:      # no loop over the taps of a huge kernel
        return np.zeros(tuple(x_shape), dtype=gy.dtype)
    n = len(kernel)
    spatial = tuple(x_shape[-n:])
    out = tuple(gy.shape[-n:])
    full = _full_pads(spatial, kernel, stride, pads, dilation, out)
    div = avg_divisor(spatial, kernel, stride, pads, dilation, out, count_include_pad,
                      divisor_override, gy.dtype)
    if div.ndim and div.size and (div == div.flat[0]).all():
        div = div.flat[0]
    g = gy / div
    if (not any(lo or hi for lo, hi in full)
            and all((k - 1) * d < s for k, s, d in zip(kernel, stride, dilation))):
        # Windows do not overlap and need no padding: each tap writes its own slice.
        cover = all((o - 1) * s + (k - 1) * d + 1 == i and d == 1 and s == k
                    for o, s, k, d, i in zip(out, stride, kernel, dilation, spatial))
        gx = (np.empty if cover else np.zeros)(tuple(x_shape), dtype=gy.dtype)
        for offset in _taps(kernel):
            gx[(Ellipsis,) + _tap_slices(offset, stride, dilation, out)] = g
        return gx
    gxp = np.zeros(tuple(x_shape[:-n]) + tuple(i + lo + hi for i, (lo, hi)
                                               in zip(spatial, full)), dtype=gy.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        gxp[(Ellipsis,) + _tap_slices(offset, stride, dilation, out)] += g
    inner = tuple(slice(lo, lo + i) for i, (lo, _) in zip(spatial, full))
    return gxp[(Ellipsis,) + inner]


# ----------------------------------------------------------------------------- adaptive pooling

def adaptive_bins(size, o):
    """torch's bins: ``start = floor(i * L / O)``, ``end = ceil((i + 1) * L / O)``.

    >>> adaptive_bins(5, 3)
    (array([0, 1, 3]), array([2, 4, 5]))
    """
    i = np.arange(o)
    return (i * size) // o, -((-(i + 1) * size) // o)


def adaptive_uniform(spatial, out):
    """Whether every axis splits into equal, disjoint bins (``size % o == 0``): adaptive
    average pooling is then average pooling with kernel = stride = ``size // o``."""
    return all(o > 0 and size % o == 0 for size, o in zip(spatial, out))


def adaptive_avg_uniform(x, out):
    """Adaptive average pooling with equal bins: a mean over the plane when ``out`` is all 1
    (global pooling, one ``einsum``), else one strided add per bin offset."""
    n = len(out)
    spatial = x.shape[-n:]
    if all(o == 1 for o in out):
        P = math.prod(spatial)
        lead = x.shape[:-n]
        s = np.einsum("bp->b", x.reshape((math.prod(lead), P)))
        return (s / P).astype(x.dtype, copy=False).reshape(lead + (1,) * n)
    kernel = tuple(size // o for size, o in zip(spatial, out))
    zero = ((0, 0),) * n
    return avg_pool_forward(x, kernel, kernel, zero, (1,) * n, False, True, None)


def adaptive_avg_uniform_backward(gy, x_shape, out):
    """Adjoint of ``adaptive_avg_uniform``: each bin's gradient spread evenly."""
    n = len(out)
    spatial = tuple(x_shape[-n:])
    if all(o == 1 for o in out):
        gx = np.empty(tuple(x_shape), dtype=gy.dtype)
        gx[...] = gy / math.prod(spatial)
        return gx
    kernel = tuple(size // o for size, o in zip(spatial, out))
    zero = ((0, 0),) * n
    return avg_pool_backward(gy, x_shape, kernel, kernel, zero, (1,) * n, True, None)


def _bin_taps(start, end, size):
    """``(M, W)`` gather indices of ``M`` contiguous ranges ``[start, end)`` of an axis of
    ``size``: row ``m`` lists ``start[m] .. end[m] - 1``, then ``size`` (a zero appended to the
    axis) up to the widest range's width ``W``."""
    width = int((end - start).max()) if start.size else 0
    taps = start[:, None] + np.arange(width)                              # (M, W)
    return np.where(taps < end[:, None], taps, size)


def _bin_sum(x, axis, taps):
    """``y[.., m, ..] = sum_j x[.., taps[m, j], ..]`` along ``axis``, index ``x.shape[axis]``
    reading a zero. Only the members of a bin are added (no multiply by a 0/1 matrix, which
    would spread an inf or a NaN of one bin to every bin as ``inf * 0``); the gathered block
    ``(.., M, W, ..)`` holds about ``max(L, M)`` to ``3 max(L, M)`` rows (``W`` is at most
    ``ceil(L / M) + 1``)."""
    zero = np.zeros(x.shape[:axis] + (1,) + x.shape[axis + 1:], dtype=x.dtype)
    xz = np.concatenate([x, zero], axis=axis)                             # (.., L + 1, ..)
    M, W = taps.shape
    g = np.take(xz, taps.reshape(-1), axis=axis)                          # (.., M * W, ..)
    g = g.reshape(x.shape[:axis] + (M, W) + x.shape[axis + 1:])           # (.., M, W, ..)
    return g.sum(axis=axis + 1)                                           # (.., M, ..)


def adaptive_avg_forward(x, out):
    """Adaptive average pooling of the trailing ``len(out)`` axes over torch's bins, one axis
    at a time (the bins are separable): each bin's members summed, then divided by its
    width. Loops over axes only."""
    n = len(out)
    y = x
    for ax, (size, o) in zip(range(x.ndim - n, x.ndim), zip(x.shape[-n:], out)):
        start, end = adaptive_bins(size, o)
        y = _bin_sum(y, ax, _bin_taps(start, end, size))
        y /= (end - start).astype(y.dtype).reshape((-1,) + (1,) * (x.ndim - 1 - ax))
    return y


def adaptive_avg_backward(gy, x_shape, out):
    """Adjoint of ``adaptive_avg_forward``: per axis, each input position gathers the scaled
    gradients of the (contiguous) bins that hold it: ``o`` with ``start[o] <= l < end[o]``."""
    n = len(out)
    g = gy
    for ax, (size, o) in zip(range(gy.ndim - n, gy.ndim), zip(x_shape[-n:], out)):
        start, end = adaptive_bins(size, o)
        g = g / (end - start).astype(g.dtype).reshape((-1,) + (1,) * (gy.ndim - 1 - ax))
        pos = np.arange(size)
        first = np.searchsorted(end, pos, side="right")                   # end[o] > l
        last = np.searchsorted(start, pos, side="right")                  # start[o] <= l
        g = _bin_sum(g, ax, _bin_taps(first, last, o))
    return g


def adaptive_max_indices(x, out):
    """Flat plane index of each adaptive bin's maximum, ``(N, C, O...)`` int64.

    Loops over the taps of the widest bin per axis (narrower bins repeat their last tap,
    which changes neither the maximum nor, with torch's strict ``>``, its index).
    """
    n = len(out)
    spatial = x.shape[-n:]
    taps = []
    for size, o in zip(spatial, out):
        start, end = adaptive_bins(size, o)
        width = int((end - start).max())
        taps.append(np.minimum(start[:, None] + np.arange(width), end[:, None] - 1))  # (O, W)
    widths = [t.shape[1] for t in taps]
    run = _RunningArgmax(x.shape[:-n] + tuple(out), x.dtype, math.prod(widths),
                          _has_nan(x))
    for tap, offset in enumerate(itertools.product(*(range(w) for w in widths))):
        v = x[(Ellipsis,) + np.ix_(*[t[:, j] for t, j in zip(taps, offset)])]   # (N, C, O...)
        run.update(v, tap)
    # No winner (all -inf): torch points at the bin's first element.
    ks = np.unravel_index(np.maximum(run.arg, 0), widths)            # per axis (N, C, O...)
    bins = _grid([np.arange(o) for o in out])
    return _flat([t[b, k] for t, b, k in zip(taps, bins, ks)], spatial)
