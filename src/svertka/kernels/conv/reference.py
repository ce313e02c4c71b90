"""The plain direct convolution: the one to read first, and the tests' second oracle.

A convolution (torch's, a cross-correlation) adds, for every kernel offset ``k``, the weight
tap ``w[:, :, k]`` times the slab of the padded input that this offset sees:

    y[n, co, o] = sum over c, k of  w[co, c, k] * x_padded[n, c, o * stride + k * dilation]

so the code is a loop over the ``prod(K)`` kernel offsets, each one ``einsum`` over the
input channels of every group (``g`` group, ``a`` output and ``b`` input channel in it).
The two gradients are the same loop read backwards: ``gx`` adds
each offset's ``w[:, :, k]^T . gy`` into the slab it came from, and ``gw[:, :, k]`` is the
sum over the batch and the output positions of ``gy`` times that slab. No blocks, threads,
workspaces or column matrices: ``kernels.conv.plan`` chooses among the fast algorithms, and
every one of them must agree with this file.

Legend: ``x`` ``(N, C, I...)``, ``w`` ``(Co, C // groups, K...)``, ``gy`` ``(N, Co, O...)``;
``pads`` one ``(lo, hi)`` pair per spatial axis.
"""

from __future__ import annotations

import numpy as np

from svertka.kernels.conv.geometry import conv_out_shape, crop, offset_slices, padded_shape
from svertka.kernels.window import pad_constant

__all__ = ["forward", "input_grad", "weight_grad"]


def _groups(a, groups):
    """``a`` ``(N, C, ...)`` -> ``(N, G, C // G, ...)`` (a view)."""
    return a.reshape((a.shape[0], groups, a.shape[1] // groups) + a.shape[2:])


def forward(x, w, stride, pads, dilation, groups):
    """``y`` of the convolution of ``x`` with ``w``.

    >>> forward(np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 3)), (1,), ((1, 1),), (1,), 1)
    array([[[1., 3., 6., 9., 7.]]])
    """
    kernel = w.shape[2:]
    outs = conv_out_shape(x.shape[2:], kernel, stride, pads, dilation)
    xp = pad_constant(x, pads)                                       # (N, C, Ip...)
    y = np.zeros((x.shape[0], w.shape[0]) + tuple(outs), dtype=np.result_type(x, w))
    yg, wg = _groups(y, groups), _groups(w[None], groups)[0]        # (N, G, Cog, O...)
    for k in np.ndindex(*kernel):
        xs = _groups(xp[offset_slices(k, stride, dilation, outs)], groups)  # (N, G, Cg, O...)
        tap = wg[(Ellipsis,) + k]                                    # (G, Cog, Cg)
        yg += np.einsum("gab,ngb...->nga...", tap, xs)
    return y


def input_grad(gy, w, x_shape, stride, pads, dilation, groups):
    """``gx`` of ``forward`` for the output gradient ``gy``; ``x_shape`` is the input's shape.

    >>> input_grad(np.ones((1, 1, 3)), np.ones((1, 1, 3)), (1, 1, 5), (1,), ((0, 0),), (1,), 1)
    array([[[1., 2., 3., 2., 1.]]])
    """
    kernel = w.shape[2:]
    outs = gy.shape[2:]
    gxp = np.zeros(padded_shape(x_shape, pads), dtype=np.result_type(gy, w))
    gyg, wg = _groups(gy, groups), _groups(w[None], groups)[0]      # (N, G, Cog, O...)
    for k in np.ndindex(*kernel):
        slab = _groups(gxp[offset_slices(k, stride, dilation, outs)], groups)  # a view
        tap = wg[(Ellipsis,) + k]                                    # (G, Cog, Cg)
        slab += np.einsum("gab,nga...->ngb...", tap, gyg)
    return crop(gxp, x_shape, pads)


def weight_grad(x, gy, w_shape, stride, pads, dilation, groups):
    """``gw`` of ``forward`` for the output gradient ``gy``.

    >>> weight_grad(np.arange(5.0).reshape(1, 1, 5), np.ones((1, 1, 3)), (1, 1, 3), (1,),
    ...             ((0, 0),), (1,), 1)
    array([[[3., 6., 9.]]])
    """
    kernel = w_shape[2:]
    outs = gy.shape[2:]
    xp = pad_constant(x, pads)
    gw = np.zeros(w_shape, dtype=np.result_type(x, gy))
    gwg, gyg = _groups(gw[None], groups)[0], _groups(gy, groups)    # (G, Cog, Cg, K...)
    o = "xyz"[:len(outs)]                                            # the output positions
    for k in np.ndindex(*kernel):
        xs = _groups(xp[offset_slices(k, stride, dilation, outs)], groups)  # (N, G, Cg, O...)
        gwg[(Ellipsis,) + k] = np.einsum(f"nga{o},ngb{o}->gab", gyg, xs)
    return gw
