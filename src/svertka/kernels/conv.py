"""The one N-d convolution core: im2col / col2im and three GEMM kernels, on ndarrays only.

Every convolution of svertka (conv1d/2d/3d, grouped and depthwise, transposed, unfold/fold)
reduces to the functions here. Legend: ``N`` batch, ``C`` input channels, ``Co`` output
channels, ``G`` groups (``Cg = C // G``, ``Cog = Co // G``), ``I*`` input sizes, ``K*`` kernel
sizes, ``O*`` output sizes, ``P = prod(O)``, ``CK = Cg * prod(K)``; ``pads`` is one ``(lo, hi)``
pair per spatial axis (``'same'``, ``'valid'`` and asymmetric padding are all such pairs).

Layout, chosen so that the GEMMs dominate the time:

* the column matrix is ``(N, C, K1, .., Kn, O1, .., On)``, torch's ``unfold`` layout. It is
  built from the strided window view with ONE copy whose inner loop runs along the output
  positions (long and regularly strided), which NumPy copies far faster than a channels-last
  ``(N, O..., C*K...)`` layout whose inner loop is only ``Kn`` long;
* the forward GEMM is ``(G, Cog, CK) @ (N, G, CK, P) -> (N, G, Cog, P)``, which *is* the
  output ``(N, Co, O...)`` after a free reshape: no transpose of the output, and grouped /
  depthwise convolution is the ``G`` batch axis of ``np.matmul``, never a Python loop;
* a 1x1 kernel with stride 1 and no padding skips im2col: the input already is the column
  matrix;
* col2im (the adjoint of im2col) loops over the ``prod(K)`` kernel offsets with one strided
  ``+=`` each into a zero padded buffer, never over pixels or channels.
"""

from __future__ import annotations

import math

import numpy as np

from svertka.kernels.window import out_shape, pad_constant, window_view

__all__ = ["same_pads", "conv_out_shape", "im2col", "col2im", "conv_forward",
           "conv_input_grad", "conv_weight_grad", "conv_fft"]

# The forward's column matrix is kept for the weight gradient when it is at most this big.
KEEP_COLS_BYTES = 256 * 2**20


def same_pads(kernel, dilation):
    """``(lo, hi)`` pairs of ``padding='same'``: the extra odd pixel goes high, as in torch.

    >>> same_pads((3, 4), (1, 1))
    ((1, 1), (1, 2))
    """
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def conv_out_shape(spatial, kernel, stride, pads, dilation):
    """Output sizes ``floor((I + lo + hi - D*(K-1) - 1) / S) + 1`` per spatial axis.

    >>> conv_out_shape((32, 32), (5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1))
    (28, 28)
    """
    return out_shape(spatial, kernel, stride, pads, dilation)


def _is_pointwise(kernel, stride, pads, spatial, outs):
    """A 1x1 kernel, stride 1, no padding, output as large as the input: a plain GEMM."""
    return (all(k == 1 for k in kernel) and all(s == 1 for s in stride)
            and not any(lo or hi for lo, hi in pads) and tuple(spatial) == tuple(outs))


def im2col(x, kernel, stride, pads, dilation, out=None):
    """The column matrix ``(N, C, K1, .., Kn, O1, .., On)`` of ``x`` ``(N, C, I1, .., In)``.

    One padded copy (only when padding), a strided window view (no copy) and one contiguous
    copy. ``out`` may fix the output sizes (they must fit in the padded input).

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> im2col(x, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))[0, 0, :, :, 0, 0]
    array([[0., 1.],
           [4., 5.]])
    """
    n = len(kernel)
    xp = pad_constant(x, pads)
    view = window_view(xp, kernel, stride, dilation, out)        # (N, C, O..., K...)
    perm = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))
    return np.ascontiguousarray(view.transpose(perm))            # (N, C, K..., O...)


def col2im(cols, x_shape, kernel, stride, pads, dilation):
    """The adjoint of ``im2col``: sum the columns ``(N, C, K..., O...)`` back into ``x_shape``.

    Any strides are accepted for ``cols``. The loop runs over the ``prod(K)`` kernel offsets;
    each adds one strided slab ``(N, C, O...)`` into a zero padded buffer. Returns a view of
    that buffer with the padding cropped off.

    >>> cols = np.ones((1, 1, 2, 2, 2, 2))
    >>> col2im(cols, (1, 1, 3, 3), (2, 2), (1, 1), ((0, 0), (0, 0)), (1, 1))[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    n = len(kernel)
    outs = cols.shape[2 + n:]
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(x_shape[2:], pads))
    gxp = np.zeros(tuple(x_shape[:2]) + padded, dtype=cols.dtype)
    if cols.size:
        lead = (slice(None), slice(None))
        for offs in np.ndindex(*kernel):
            dst = lead + tuple(slice(k * d, k * d + s * (o - 1) + 1, s)
                               for k, d, s, o in zip(offs, dilation, stride, outs))
            gxp[dst] += cols[lead + offs]                            # (N, C, O...)
    if not any(lo or hi for lo, hi in pads):
        return gxp
    crop = (slice(None), slice(None)) + tuple(slice(lo, lo + i)
                                              for i, (lo, _) in zip(x_shape[2:], pads))
    return gxp[crop]


def _columns(x, kernel, stride, pads, dilation, groups, out):
    """The column matrix as ``(N, G, CK, P)`` (no copy at all for pointwise kernels)."""
    N, C = x.shape[:2]
    if _is_pointwise(kernel, stride, pads, x.shape[2:], out):
        P = math.prod(x.shape[2:])
        return x.reshape(N, groups, C // groups, P)                 # (N, G, Cg, P)
    cols = im2col(x, kernel, stride, pads, dilation, out)            # (N, C, K..., O...)
    P = math.prod(cols.shape[2 + len(kernel):])
    CK = C // groups * math.prod(kernel)
    return cols.reshape(N, groups, CK, P)                            # (N, G, CK, P)


def conv_forward(x, w, stride, pads, dilation, groups, out=None, keep_cols=False):
    """Cross-correlation ``y = x * w`` (torch's conv) as one batched GEMM.

    Args:
        x: input ``(N, C, I1, .., In)``.
        w: weight ``(Co, C // groups, K1, .., Kn)``; the rank ``n`` is ``w.ndim - 2``.
        stride, dilation: ``n`` ints each. pads: ``n`` ``(lo, hi)`` pairs.
        groups: ``G``; ``C`` and ``Co`` are multiples of it.
        out: optional output sizes (default: the usual formula).
        keep_cols: also return the column matrix ``(N, G, CK, P)`` for ``conv_weight_grad``.

    Returns:
        ``y`` ``(N, Co, O1, .., On)``, or ``(y, cols)`` with ``keep_cols``.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv_forward(x, np.ones((1, 1, 3)), (1,), ((1, 1),), (1,), 1)
    array([[[1., 3., 6., 9., 7.]]])
    """
    kernel = w.shape[2:]
    N = x.shape[0]
    Co = w.shape[0]
    if out is None:
        out = conv_out_shape(x.shape[2:], kernel, stride, pads, dilation)
    out = tuple(out)
    cols = _columns(x, kernel, stride, pads, dilation, groups, out)  # (N, G, CK, P)
    wm = w.reshape(groups, Co // groups, math.prod(w.shape[1:]))   # (G, Cog, CK)
    y = np.matmul(wm, cols).reshape((N, Co) + out)                   # (N, G, Cog, P) = y
    return (y, cols) if keep_cols else y


def conv_input_grad(gy, w, x_shape, stride, pads, dilation, groups):
    """``gx`` of ``conv_forward``: a GEMM ``w^T @ gy`` into columns, then col2im.

    Also the forward of the transposed convolution (``gy`` is then its input, ``x_shape`` its
    output shape).

    Args:
        gy: ``(N, Co, O1, .., On)``. w: ``(Co, C // groups, K...)``.
        x_shape: ``(N, C, I1, .., In)``, the shape of the result.

    >>> gy = np.ones((1, 1, 3))
    >>> conv_input_grad(gy, np.ones((1, 1, 3)), (1, 1, 5), (1,), ((0, 0),), (1,), 1)
    array([[[1., 2., 3., 2., 1.]]])
    """
    kernel = tuple(w.shape[2:])
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    P = math.prod(outs)
    Cog = Co // groups
    if Cog == 1 and x_shape[1] == groups:
        return _depthwise_input_grad(gy, w, x_shape, stride, pads, dilation)
    wm = w.reshape(groups, Cog, math.prod(w.shape[1:]))             # (G, Cog, CK)
    gym = gy.reshape(N, groups, Cog, P)                              # (N, G, Cog, P)
    if Cog == 1:
        # N*G GEMMs with an inner size of 1 are all call overhead: broadcast instead.
        gcols = wm.transpose(0, 2, 1) * gym                          # (N, G, CK, P)
    else:
        gcols = np.matmul(wm.transpose(0, 2, 1), gym)                # (N, G, CK, P)
    if _is_pointwise(kernel, stride, pads, x_shape[2:], outs):
        return gcols.reshape(x_shape)
    gcols = gcols.reshape(tuple(x_shape[:2]) + kernel + outs)       # (N, C, K..., O...)
    return col2im(gcols, x_shape, kernel, stride, pads, dilation)


def _depthwise_input_grad(gy, w, x_shape, stride, pads, dilation):
    """``gx`` of a depthwise convolution (one input and one output channel per group).

    col2im with the columns made on the fly: per kernel offset, ``gy`` scaled by that tap of
    every channel's filter is added into its strided slab. This never materialises the
    ``prod(K)`` times larger column gradient, and replaces ``N * C`` GEMMs of inner size 1.
    """
    kernel = tuple(w.shape[2:])
    outs = tuple(gy.shape[2:])
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(x_shape[2:], pads))
    gxp = np.zeros(tuple(x_shape[:2]) + padded, dtype=gy.dtype)
    if gy.size:
        taps = w.reshape((w.shape[0],) + kernel + (1,) * len(kernel))  # (C, K..., 1...)
        tmp = np.empty_like(gy)
        lead = (slice(None), slice(None))
        for offs in np.ndindex(*kernel):
            dst = lead + tuple(slice(k * d, k * d + s * (o - 1) + 1, s)
                               for k, d, s, o in zip(offs, dilation, stride, outs))
            np.multiply(gy, taps[(slice(None),) + offs], out=tmp)    # (N, C, O...)
            gxp[dst] += tmp
    crop = (slice(None), slice(None)) + tuple(slice(lo, lo + i)
                                              for i, (lo, _) in zip(x_shape[2:], pads))
    return gxp[crop]


def conv_weight_grad(x, gy, w_shape, stride, pads, dilation, groups, cols=None):
    """``gw`` of ``conv_forward``: the correlation of ``x`` with ``gy``, a GEMM of the columns.

    ``cols`` is the forward's column matrix ``(N, G, CK, P)`` when it was kept; else it is
    rebuilt from ``x``.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv_weight_grad(x, np.ones((1, 1, 3)), (1, 1, 3), (1,), ((0, 0),), (1,), 1)
    array([[[3., 6., 9.]]])
    """
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    P = math.prod(outs)
    Cog = Co // groups
    if cols is None:
        cols = _columns(x, tuple(w_shape[2:]), stride, pads, dilation, groups, outs)
    gym = gy.reshape(N, groups, Cog, P)                              # (N, G, Cog, P)
    CK = cols.shape[2]
    if N == 0:
        return np.zeros(w_shape, dtype=gy.dtype)
    if Cog <= P:
        # N GEMMs over the positions, then a sum: the (N, G, Cog, CK) partials are smaller
        # than the columns, and no copy of the columns is needed.
        gw = np.matmul(gym, cols.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, Cog, CK)
    else:
        # Few positions, many channels: one GEMM over (N, P) per group is cheaper than large
        # partials; it needs the batch next to the positions (one copy of each operand).
        gyt = np.ascontiguousarray(gym.transpose(1, 2, 0, 3)).reshape(groups, Cog, N * P)
        colt = np.ascontiguousarray(cols.transpose(1, 2, 0, 3)).reshape(groups, CK, N * P)
        gw = np.matmul(gyt, colt.transpose(0, 2, 1))                  # (G, Cog, CK)
    return gw.reshape(w_shape)


def conv_fft(x, w, pads=None):
    """Cross-correlation with stride 1, dilation 1 and one group, via ``np.fft.rfftn``.

    The lectures' FFT implementation, forward only: the convolution theorem turns the sum
    over kernel offsets into a product of spectra, summed over input channels by a GEMM per
    frequency. Agrees with ``conv_forward`` to rounding.

    Args:
        x: ``(N, C, I1, .., In)``. w: ``(Co, C, K1, .., Kn)``. pads: ``(lo, hi)`` pairs.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> np.round(conv_fft(x, np.ones((1, 1, 3)), ((1, 1),)), 6)
    array([[[1., 3., 6., 9., 7.]]])
    """
    n = w.ndim - 2
    kernel = w.shape[2:]
    if pads is not None:
        x = pad_constant(x, pads)
    N, C = x.shape[:2]
    Co = w.shape[0]
    spatial = x.shape[2:]
    outs = tuple(i - k + 1 for i, k in zip(spatial, kernel))
    if min(outs, default=1) < 1:
        raise ValueError(f"conv_fft: kernel {tuple(kernel)} is larger than the padded input "
                         f"{tuple(spatial)}")
    axes = tuple(range(2, 2 + n))
    # Correlation is convolution with the flipped kernel; the full linear convolution has
    # length I + K - 1 per axis and the 'valid' part starts at K - 1.
    size = tuple(i + k - 1 for i, k in zip(spatial, kernel))
    wf = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    X = np.fft.rfftn(x, s=size, axes=axes)                           # (N, C, F...)
    W = np.fft.rfftn(wf, s=size, axes=axes)                          # (Co, C, F...)
    F = X.shape[2:]
    Xm = X.reshape(N, C, math.prod(X.shape[2:])).transpose(2, 0, 1)     # (F, N, C)
    Wm = W.reshape(Co, C, math.prod(W.shape[2:])).transpose(2, 1, 0)    # (F, C, Co)
    Y = np.matmul(Xm, Wm).transpose(1, 2, 0).reshape((N, Co) + F)    # (N, Co, F...)
    y = np.fft.irfftn(Y, s=size, axes=axes)
    valid = (slice(None), slice(None)) + tuple(slice(k - 1, k - 1 + o)
                                               for k, o in zip(kernel, outs))
    return np.ascontiguousarray(y[valid], dtype=x.dtype)
