"""HOG + softmax: the classic-vision baseline (hand-made features, one linear layer)."""

from __future__ import annotations

import math

import numpy as np

from svertka import _validate as V
from svertka import nn
from svertka.models.registry import register


def default_pixels_per_cell(size):
    """Cells of ``size // 4`` pixels (a 4x4 grid of cells), at least 2 and at most 8 pixels:
    2x2-pixel cells on the 8x8 digits, 7x7 on 28x28 MNIST, 8x8 (Dalal and Triggs') from 32x32
    up."""
    return tuple(min(8, max(2, s // 4)) for s in size)


def _at_least(v, threshold):
    """1 where ``v >= threshold``, else 0, in ``v``'s float type, as recorded ops (floor and
    clamp): ``v - threshold`` has the sign of the exact difference (zero only when they are
    equal), so the step is exact, and the export sees ``Floor`` and ``Clip`` nodes rather than
    a comparison frozen into the file."""
    return ((v - threshold).floor() + 1).clamp(0, 1)


def hog_features(x, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2),
                 block_norm="L2"):
    """:func:`svertka.vision.hog_batch` of ``(N, C, H, W)`` images, written with svertka's
    ops so that it is traced (ONNX export) and differentiable: the same descriptor, computed
    in the images' float type (NumPy's reference computes the angles in float64).

    The steps of the reference, one op each: centred differences by a convolution with
    ``[-1, 0, 1]`` kernels, the borders zeroed by a mask; for colour images the channel with
    the largest gradient (the first on ties) picked by a one-hot mask of step functions;
    magnitude ``sqrt(g_row^2 + g_col^2)``; the angle ``atan2`` in degrees folded into
    ``[0, 180)`` as ``a - 180 floor(a / 180)`` (``np.mod``'s value); hard binning as
    differences of steps at the bin edges (``edges[b] <= angle < edges[b + 1]``, as
    ``searchsorted``); cell histograms as an average pool over each cell; the cells of each
    block gathered by a convolution with one-hot kernels, then normalised.
    In float64 the binning is bit-identical to the reference; in float32 an angle within
    about 1e-5 degrees of a bin edge may fall into the neighbouring bin.

    Args:
        x (Tensor): ``(N, C, H, W)`` float images.
        orientations, pixels_per_cell, cells_per_block, block_norm: as
            :func:`svertka.vision.hog`, already validated.

    Returns:
        ``(N, n_blocks_row * n_blocks_col * b_row * b_col * orientations)``, the rows of
        ``hog_batch``.
    """
    import svertka
    from svertka.nn import functional as F
    from svertka.vision.hog import _bin_edges

    N, C, H, W = x.shape                                                 # noqa: N806
    # centred differences x[i + 1] - x[i - 1] (rows, then columns) of each channel, exact:
    # every other product is by zero; zero on the border rows and columns
    k = np.zeros((2, 1, 3, 3))
    k[0, 0, :, 1] = k[1, 0, 1, :] = (-1, 0, 1)
    border = np.ones((2, H, W))
    border[0, [0, -1], :] = border[1, :, [0, -1]] = 0
    g = F.conv2d(x, svertka.tensor(np.tile(k, (C, 1, 1, 1)), dtype=x.dtype), padding=1,
                 groups=C)                                               # (N, C * 2, H, W)
    g = g * svertka.tensor(np.tile(border, (C, 1, 1)), dtype=x.dtype)
    if C > 1:
        # per pixel the channel with the largest magnitude, the first on ties: channel c
        # wins against j < c when strictly stronger, against j >= c when not weaker
        g = g.reshape(N, C, 2, H, W)
        m2 = (g * g).sum(2)                                              # (N, C, H, W)
        diff = m2.unsqueeze(2) - m2.unsqueeze(1)                          # (N, C, C, H, W)
        before = svertka.tensor(np.tril(np.ones((C, C)), -1).reshape(C, C, 1, 1), dtype=x.dtype)
        wins = before * (1 - _at_least(-diff, 0)) + (1 - before) * _at_least(diff, 0)
        best = _at_least(wins.sum(2), C)                                 # (N, C, H, W) one-hot
        g = (best.unsqueeze(2) * g).sum(1)                               # (N, 2, H, W)
    g_row, g_col = g[:, :1], g[:, 1:]                                    # (N, 1, H, W)
    # where the gradient is zero, sqrt(0 + 1) - 1 and atan2(0, 0 + 1) give the same values
    # as sqrt(0) and atan2(0, 0) with finite derivatives (0, not NaN) for backward
    m2 = (g * g).sum(1, keepdim=True)
    flat = _at_least(-m2, 0)                                             # 1 where m2 == 0
    magnitude = (m2 + flat).sqrt() - flat                                # (N, 1, H, W)
    angle = g_row.atan2(g_col + flat) * (180 / math.pi)
    angle = angle - 180 * (angle / 180).floor()                          # in [0, 180]
    edges = svertka.tensor(_bin_edges(orientations).reshape(1, -1, 1, 1), dtype=x.dtype)
    above = _at_least(angle, edges)                                      # (N, O + 1, H, W)
    votes = (above[:, :-1] - above[:, 1:]) * magnitude                   # (N, O, H, W)
    hist = F.avg_pool2d(votes, pixels_per_cell)                          # (N, O, nr, nc)
    # the K = b_row * b_col cells of each block: a convolution whose kernels are one-hot
    # (each output copies one cell, exactly: the other products are zeros)
    K = cells_per_block[0] * cells_per_block[1]                          # noqa: N806
    pick = np.eye(K).reshape(K, 1, *cells_per_block)                      # (K, 1, br, bc)
    pick = svertka.tensor(np.tile(pick, (orientations, 1, 1, 1)), dtype=x.dtype)
    blocks = F.conv2d(hist, pick, groups=orientations)                   # (N, O * K, Br, Bc)
    blocks = blocks.reshape(N, orientations, K, *blocks.shape[2:])       # (N, O, K, Br, Bc)
    blocks = blocks.permute(0, 3, 4, 2, 1)                               # (N, Br, Bc, K, O)
    if block_norm in ("L1", "L1-sqrt"):
        out = blocks / (blocks.abs().sum((3, 4), keepdim=True) + 1e-5)
        out = out.sqrt() if block_norm == "L1-sqrt" else out
    else:
        out = blocks / ((blocks * blocks).sum((3, 4), keepdim=True) + 1e-10).sqrt()
        if block_norm == "L2-Hys":
            out = out.clamp(max=0.2)
            out = out / ((out * out).sum((3, 4), keepdim=True) + 1e-10).sqrt()
    return out.reshape(N, -1)


class HOGSoftmax(nn.Module):
    """Histogram-of-oriented-gradients features of each image, then one ``nn.Linear``: a
    softmax classifier when trained with cross-entropy.

    The features are :func:`svertka.vision.hog_batch`'s (scikit-image's conventions:
    ``orientations`` unsigned bins, blocks of ``cells_per_block`` cells, ``block_norm``),
    computed by :func:`hog_features` with svertka's ops, so that the model exports to ONNX
    and a gradient reaches the input (through the magnitudes; the binning is piecewise
    constant). Only the linear layer has parameters. For colour inputs each pixel's gradient
    comes from its strongest channel.

    Args:
        num_classes (int): outputs. Default 10.
        in_channels (int): input channels. Default 1.
        input_size (tuple): the sample shape ``(C, H, W)``. Default ``(1, 32, 32)``.
        pixels_per_cell (tuple, optional): default :func:`default_pixels_per_cell` of ``(H, W)``.
        cells_per_block (tuple): default ``(2, 2)`` (Dalal and Triggs' blocks).
        orientations (int): default 9.
        block_norm (str): default ``'L2'``: on 2x2-cell blocks of tiny images the clipping of
            ``'L2-Hys'`` (scikit-image's default) costs accuracy (digits, 30 epochs: 88% with
            ``'L2-Hys'``, 92-93% with ``'L2'`` over seeds 0-3).

    Shape:
        - Input: ``(N, C, H, W)`` with ``(C, H, W) == input_size``.
        - Output: ``(N, num_classes)``.
    """

    def __init__(self, num_classes=10, in_channels=1, input_size=(1, 32, 32),
                 pixels_per_cell=None, cells_per_block=(2, 2), orientations=9,
                 block_norm="L2"):
        super().__init__()
        from svertka.vision.hog import BLOCK_NORMS

        fn = "HOGSoftmax"
        if not isinstance(input_size, (tuple, list)) or len(input_size) != 3:
            raise V.error(fn, f"input_size must be (C, H, W), got input_size={input_size!r}")
        self.input_size = tuple(int(v) for v in input_size)
        if in_channels != self.input_size[0]:
            raise V.error(fn, f"in_channels={in_channels} does not match input_size="
                              f"{self.input_size}")
        spatial = self.input_size[1:]
        self.pixels_per_cell = (default_pixels_per_cell(spatial) if pixels_per_cell is None
                                else V.ntuple(pixels_per_cell, 2, "pixels_per_cell", fn))
        self.cells_per_block = V.ntuple(cells_per_block, 2, "cells_per_block", fn)
        self.orientations = orientations
        self.block_norm = V.check_choice(block_norm, BLOCK_NORMS, "block_norm", fn)
        cells = [s // p for s, p in zip(spatial, self.pixels_per_cell)]
        blocks = [c - b + 1 for c, b in zip(cells, self.cells_per_block)]
        if min(blocks) < 1:
            raise V.error(fn, f"images of {spatial} pixels hold {cells} cells of "
                              f"{self.pixels_per_cell} pixels, fewer than a block of "
                              f"{self.cells_per_block} cells")
        self.num_features = (blocks[0] * blocks[1] * self.cells_per_block[0]
                             * self.cells_per_block[1] * orientations)
        self.classifier = nn.Linear(self.num_features, num_classes)

    def features(self, x):
        """HOG feature vectors ``(N, num_features)`` of a batch, in the classifier's dtype."""
        if tuple(x.shape[1:]) != self.input_size:
            raise V.error("HOGSoftmax", f"expected inputs of shape (N, *{self.input_size}), got "
                                        f"{tuple(x.shape)}")
        x = x.to(self.classifier.weight.dtype)
        return hog_features(x, self.orientations, self.pixels_per_cell, self.cells_per_block,
                            self.block_norm)

    def forward(self, x):
        return self.classifier(self.features(x))

    def extra_repr(self):
        return (f"input_size={self.input_size}, pixels_per_cell={self.pixels_per_cell}, "
                f"cells_per_block={self.cells_per_block}, orientations={self.orientations}, "
                f"block_norm={self.block_norm!r}, num_features={self.num_features}")


@register("hog-softmax", (1, 8, 8), "HOG features (4x4 cells, 2x2-cell blocks, 9 bins, L2) + "
                                     "a softmax classifier: the classic-vision baseline")
def hog_softmax(num_classes=10, in_channels=1, input_size=(1, 32, 32), pixels_per_cell=None,
                cells_per_block=(2, 2), orientations=9, block_norm="L2"):
    """HOG + softmax; see :class:`HOGSoftmax`. On the 8x8 digits: 2x2-pixel cells, 3x3 blocks
    of 2x2 cells, 324 features, 3,250 parameters.

    >>> import svertka
    >>> from svertka.models.hog_softmax import hog_softmax
    >>> m = hog_softmax(input_size=(1, 8, 8))
    >>> m.num_features, m(svertka.zeros(4, 1, 8, 8)).shape
    (324, svertka.Size([4, 10]))
    """
    return HOGSoftmax(num_classes, in_channels, input_size, pixels_per_cell, cells_per_block,
                      orientations, block_norm)
