"""Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray 2016) for the 2-d forward pass.

Each 2x2 output tile is computed from a 4x4 input tile with 16 multiplications per channel
pair instead of 36: the input tiles are transformed (``B^T d B``), the weights
(``G g G^T``), the 16 transformed positions each become one GEMM
``(Co, C) @ (C, N*tiles)`` (one batched ``matmul`` over a stack of 16), and the products are
transformed back (``A^T m A``). The GEMMs do 2.25x fewer multiply-adds than im2col's; the
transforms are additions over the whole ``(C, N, tiles)`` tensor, which is 4x the input.

Applies to 2-d convolutions with a 3x3 kernel, stride 1, dilation 1 and one group (the plan
falls back to im2col elsewhere and for the gradients). Its rounding differs from the direct
sum's: the weight transform multiplies by 1/2 and the tile transforms add and subtract
inputs before the products, so in float32 its largest error is about twice torch's (5e-7 of
the output's largest value with 256 input channels, torch 2e-7); the tests hold it to 1e-5
against torch in float64 (float64: 1e-7, as every algorithm).

Not faster than im2col here, so ``'auto'`` never picks it (opt-in through
``svertka.backends.conv_algorithm("winograd")``): on ResNet-18's 3x3 layers (batch 32) and
the (1, 64, 56, 56) latency case it took 1.07-2.2x im2col's time at two threads and
0.92-1.6x at one. Its GEMMs have an inner size of ``C`` instead of ``9C``, which OpenBLAS
runs at a lower rate, and the transforms' elementwise passes over 4x the input and output
cost about what the fewer multiply-adds save. The numbers: ``benchmarks/RESULTS.md``
("Winograd F(2x2, 3x3)").
"""

from __future__ import annotations

import math

import numpy as np

from svertka.kernels import gemm
from svertka.kernels.parallel import parallel

__all__ = ["conv_winograd", "applies", "weight_transform", "BLOCK_BYTES"]

# The transformed tiles of a block of images are at most this many bytes per thread, so
# they are still in cache when the GEMMs read them.
BLOCK_BYTES = 4 * 2**20


def applies(kernel, stride, dilation, groups):
    """Whether F(2x2, 3x3) computes this convolution: a 3x3 kernel, stride 1, dilation 1 and
    one group.

    >>> applies((3, 3), (1, 1), (1, 1), 1), applies((3, 3), (2, 2), (1, 1), 1)
    (True, False)
    """
    return (tuple(kernel) == (3, 3) and all(s == 1 for s in stride)
            and all(d == 1 for d in dilation) and groups == 1)


def weight_transform(w):
    """``U = G g G^T`` for every ``(Co, C)`` pair of ``w`` ``(Co, C, 3, 3)``: ``(16, Co, C)``,
    position ``4 * a + b`` of the 4x4 transformed tile first.

    >>> weight_transform(np.ones((1, 1, 3, 3)))[:, 0, 0].reshape(4, 4)
    array([[1.  , 1.5 , 0.5 , 1.  ],
           [1.5 , 2.25, 0.75, 1.5 ],
           [0.5 , 0.75, 0.25, 0.5 ],
           [1.  , 1.5 , 0.5 , 1.  ]])
    """
    G = np.array([[1.0, 0.0, 0.0],
                  [0.5, 0.5, 0.5],
                  [0.5, -0.5, 0.5],
                  [0.0, 0.0, 1.0]], dtype=w.dtype)
    U = np.einsum("ai,ocij,bj->aboc", G, w, G, optimize=True)       # (4, 4, Co, C)
    return U.reshape((16,) + w.shape[:2])                            # (16, Co, C)


def _rows(x, axis, tiles, outs):
    """``B^T d`` along ``axis`` of ``x`` (its length ``2 * tiles + 2``), written into the 4
    arrays ``outs`` (``x``'s shape with ``tiles`` on ``axis``), from strided slices:
    ``B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]``."""
    def s(start):
        index = [slice(None)] * x.ndim
        index[axis] = slice(start, start + 2 * tiles, 2)
        return x[tuple(index)]
    d0, d1, d2, d3 = s(0), s(1), s(2), s(3)
    np.subtract(d0, d2, out=outs[0])
    np.add(d1, d2, out=outs[1])
    np.subtract(d2, d1, out=outs[2])
    np.subtract(d1, d3, out=outs[3])


def _views(buffer, shape):
    """The first ``prod(shape)`` elements of the flat ``buffer`` as a C-contiguous array."""
    return buffer[:math.prod(shape)].reshape(shape)


def conv_winograd(x, w, pads=((0, 0), (0, 0)), block_bytes=BLOCK_BYTES):
    """Cross-correlation of ``x`` ``(N, C, H, W)`` with ``w`` ``(Co, C, 3, 3)`` at stride 1,
    dilation 1, one group, by Winograd's F(2x2, 3x3); ``pads`` are two ``(lo, hi)`` pairs.

    The batch is split over the BLAS's threads, and each thread walks its part in blocks of
    images whose transformed tiles take at most ``block_bytes`` (they stay in cache between
    the transforms and the GEMMs). Odd output sizes are computed on one more row or column
    of zero padding and cropped. Agrees with ``conv_forward`` to rounding (float32: see the
    module's text).

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv_winograd(x, np.ones((1, 1, 3, 3)), ((1, 1), (1, 1)))[0, 0]
    array([[10., 18., 24., 18.],
           [27., 45., 54., 39.],
           [51., 81., 90., 63.],
           [42., 66., 72., 50.]])
    """
    N, C, H, W = x.shape
    Co = w.shape[0]
    dtype = np.result_type(x, w)
    (ylo, yhi), (xlo, xhi) = pads
    Oh, Ow = H + ylo + yhi - 2, W + xlo + xhi - 2
    if Oh < 1 or Ow < 1:
        raise ValueError(f"conv_winograd: kernel (3, 3) is larger than the padded input "
                         f"({H + ylo + yhi}, {W + xlo + xhi})")
    Th, Tw = -(-Oh // 2), -(-Ow // 2)                                # tiles per axis
    T = Th * Tw
    U = weight_transform(w.astype(dtype, copy=False))                # (16, Co, C)
    y = np.empty((N, Co, Th, 2, Tw, 2), dtype=dtype)                 # 2x2 tiles in place
    if N == 0:
        return y.reshape(N, Co, 2 * Th, 2 * Tw)[:, :, :Oh, :Ow].copy()
    threads = max(1, min(gemm.blas_threads(), N))
    step = max(1, min(-(-N // threads), block_bytes // (16 * C * T * y.itemsize)))

    def part(span):                                                  # batch items span
        m = min(step, span.stop - span.start)
        # The padded images: only their interior is ever written, so the border (and the
        # extra row or column of an odd output size) stays zero.
        xp = np.zeros((m, C, 2 * Th + 2, 2 * Tw + 2), dtype=dtype)  # (m, C, Hp, Wp)
        rows = np.empty(4 * m * C * Th * (2 * Tw + 2), dtype=dtype)
        tiles = np.empty(16 * C * m * T, dtype=dtype)
        sums = np.empty(8 * Co * m * T, dtype=dtype)
        out = np.empty(Co * m * T, dtype=dtype)
        for i in range(span.start, span.stop, step):
            n = min(span.stop, i + step) - i
            xp[:n, :, ylo:ylo + H, xlo:xlo + W] = x[i:i + n]
            R = _views(rows, (4, C, n, Th, 2 * Tw + 2))              # B^T d, channels first
            _rows(xp[:n].transpose(1, 0, 2, 3), 2, Th, R)
            V = _views(tiles, (4, 4, C, n, Th, Tw))                  # B^T d B
            for a in range(4):
                _rows(R[a], 3, Tw, V[a])
            M = np.matmul(U, V.reshape(16, C, n * T))                # (16, Co, n*T)
            M = M.reshape(4, 4, Co, n, Th, Tw)
            # A^T m A, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]: rows, then columns, each
            # output position written into its place of the 2x2 tiles.
            S = _views(sums, (2, 4, Co, n, Th, Tw))
            np.add(M[0], M[1], out=S[0])
            S[0] += M[2]
            np.subtract(M[1], M[2], out=S[1])
            S[1] -= M[3]
            t = _views(out, (Co, n, Th, Tw))
            for r in range(2):
                np.add(S[r, 0], S[r, 1], out=t)
                t += S[r, 2]
                y[i:i + n, :, :, r, :, 0] = t.transpose(1, 0, 2, 3)
                np.subtract(S[r, 1], S[r, 2], out=t)
                t -= S[r, 3]
                y[i:i + n, :, :, r, :, 1] = t.transpose(1, 0, 2, 3)

    with gemm.single_threaded_blas():
        parallel(part, N, 0, min_bytes=0, threads=threads)
    y = y.reshape(N, Co, 2 * Th, 2 * Tw)
    if (2 * Th, 2 * Tw) != (Oh, Ow):
        y = np.ascontiguousarray(y[:, :, :Oh, :Ow])
    return y
