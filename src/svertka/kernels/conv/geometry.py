"""Geometry of a convolution: output sizes, padding pairs, the slab a kernel offset reads.

Legend (every module of ``kernels.conv``): ``N`` batch, ``C`` input channels, ``Co`` output
channels, ``G`` groups (``Cg = C // G``, ``Cog = Co // G``), ``I*`` input sizes, ``K*`` kernel
sizes, ``O*`` output sizes, ``P = prod(O)``, ``CK = Cg * prod(K)``; ``pads`` is one ``(lo, hi)``
pair per spatial axis (``'same'``, ``'valid'`` and asymmetric padding are all such pairs).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from svertka.kernels.window import out_shape

__all__ = ["same_pads", "conv_out_shape", "is_pointwise", "is_depthwise", "offset_slices",
           "offset_slabs",
           "padded_shape", "crop", "flat_grid", "to_grid", "from_grid", "onto_grid",
           "as_conv_weight_and_pads"]


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


def is_pointwise(kernel, stride, pads, spatial, outs):
    """A 1x1 kernel, stride 1, no padding, output as large as the input: a plain GEMM."""
    return (all(k == 1 for k in kernel) and all(s == 1 for s in stride)
            and not any(lo or hi for lo, hi in pads) and tuple(spatial) == tuple(outs))


def is_depthwise(x_shape, w_shape, groups):
    """``groups == C == Co``: one filter per channel."""
    return groups == x_shape[1] and w_shape[1] == 1 and w_shape[0] == groups


def offset_slices(offs, stride, dilation, outs):
    """The strided slab of the padded input read by kernel offset ``offs``: ``(N, C, O...)``."""
    return (slice(None), slice(None)) + tuple(
        slice(k * d, k * d + s * (o - 1) + 1, s)
        for k, d, s, o in zip(offs, dilation, stride, outs))


@functools.lru_cache(maxsize=256)
def offset_slabs(kernel, stride, dilation, outs):
    """``(offs, offset_slices(offs, ...)[2:])`` for every kernel offset in row-major order:
    the spatial part of each slab, made once per geometry (tuples of ints only), so that a
    loop over the offsets of a repeated call builds no slices.

    >>> offset_slabs((1, 2), (1, 1), (1, 1), (3, 3))[1]
    ((0, 1), (slice(0, 3, 1), slice(1, 4, 1)))
    """
    return tuple((offs, offset_slices(offs, stride, dilation, outs)[2:])
                 for offs in itertools.product(*map(range, kernel)))


def padded_shape(x_shape, pads):
    """``x_shape`` with ``lo + hi`` added to each spatial size."""
    return tuple(x_shape[:2]) + tuple(i + lo + hi for i, (lo, hi) in zip(x_shape[2:], pads))


def crop(a, x_shape, pads):
    """The unpadded part ``x_shape`` of a padded array (a view)."""
    if not any(lo or hi for lo, hi in pads):
        return a
    return a[(slice(None), slice(None)) + tuple(slice(lo, lo + i)
                                                for i, (lo, _) in zip(x_shape[2:], pads))]


def flat_grid(padded, outs, kernel, dilation):
    """Stride-1 'flat shift' geometry on the flattened padded grid ``padded`` (spatial).

    Output position ``o`` sits at flat index ``sum(o_i * st_i)`` of the padded grid (``st``
    its C-order strides), so the input a kernel offset ``k`` reads for ALL outputs is one
    contiguous slice ``[shift_k, shift_k + L)`` of the flattened input. Returns ``L`` (the
    span of the outputs, garbage positions between rows included) and the shifts.
    """
    st = [math.prod(padded[i + 1:]) for i in range(len(padded))]
    L = sum((o - 1) * s for o, s in zip(outs, st)) + 1
    shifts = [sum(k * d * s for k, d, s in zip(offs, dilation, st))
              for offs in np.ndindex(*kernel)]
    return L, shifts


def to_grid(a, padded, L):
    """``a`` ``(N, C, O...)`` placed on the padded grid, flattened: ``(N, C, L)``, zeros at
    the positions between the outputs' rows."""
    N, C = a.shape[:2]
    g = np.zeros((N, C, math.prod(padded)), dtype=a.dtype)
    g.reshape((N, C) + tuple(padded))[(slice(None), slice(None)) + tuple(
        slice(0, o) for o in a.shape[2:])] = a
    return g[:, :, :L]


def from_grid(g, padded, outs):
    """Inverse of ``to_grid``: ``(N, C, >= L)`` on the padded grid to ``(N, C, O...)``."""
    N, C = g.shape[:2]
    full = np.empty((N, C, math.prod(padded)), dtype=g.dtype)
    full[:, :, :g.shape[2]] = g
    return np.ascontiguousarray(full.reshape((N, C) + tuple(padded))[
        (slice(None), slice(None)) + tuple(slice(0, o) for o in outs)])


def onto_grid(buf, rows, padded, pads):
    """Write ``rows`` ``(B, I...)`` into the flattened grid ``buf`` ``(B, prod(padded))`` at
    offsets ``lo`` of ``pads``; the rest of ``buf`` is left as it is (zero)."""
    inner = (slice(None),) + tuple(slice(lo, lo + i) for (lo, _), i in zip(pads, rows.shape[1:]))
    buf.reshape((buf.shape[0],) + tuple(padded))[inner] = rows


def as_conv_weight_and_pads(w, pads, dilation, groups, spatial, outs):
    """The weight ``(G*Cg, Cog, K...)`` (flipped, input and output channels swapped within
    each group) and the padding of ``gy`` that make the stride-1 input gradient a
    convolution. The high padding comes from the sizes (``spatial``, the result's, and
    ``outs``, gy's), not from ``hi`` alone: a transposed convolution's ``output_padding``
    makes the result longer than the forward convolution's input, and those extra
    positions read zeros from the padding."""
    n = w.ndim - 2
    kernel = tuple(w.shape[2:])
    Co, Cg = w.shape[:2]
    Cog = Co // groups
    wf = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    wt = wf.reshape((groups, Cog, Cg) + kernel).swapaxes(1, 2)      # (G, Cg, Cog, K...)
    wt = np.ascontiguousarray(wt).reshape((groups * Cg, Cog) + kernel)
    gpads = tuple((d * (k - 1) - lo, i - o + lo)
                  for (lo, _), k, d, i, o in zip(pads, kernel, dilation, spatial, outs))
    return wt, gpads

