"""HOG + softmax: the classic-vision baseline (hand-made features, one linear layer)."""

from __future__ import annotations

from svertka import _validate as V
from svertka import nn
from svertka.models.registry import register


def default_pixels_per_cell(size):
    """Cells of ``size // 4`` pixels (a 4x4 grid of cells), at least 2 and at most 8 pixels:
    2x2-pixel cells on the 8x8 digits, 7x7 on 28x28 MNIST, 8x8 (Dalal and Triggs') from 32x32
    up."""
    return tuple(min(8, max(2, s // 4)) for s in size)


class HOGSoftmax(nn.Module):
    """Histogram-of-oriented-gradients features of each image, then one ``nn.Linear``: a
    softmax classifier when trained with cross-entropy.

    The features are computed in ``forward`` with NumPy (:func:`svertka.vision.hog_batch`,
    scikit-image's conventions: ``orientations`` unsigned bins, blocks of ``cells_per_block``
    cells, ``block_norm``); no gradient flows to the input, only the linear layer learns.
    For colour inputs each pixel's gradient comes from its strongest channel.

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
        """HOG feature vectors ``(N, num_features)`` of a batch (a Tensor, no graph)."""
        import svertka
        from svertka.vision.hog import hog_batch

        if tuple(x.shape[1:]) != self.input_size:
            raise V.error("HOGSoftmax", f"expected inputs of shape (N, *{self.input_size}), got "
                                        f"{tuple(x.shape)}")
        images = x.detach().numpy()
        images = images[:, 0] if images.shape[1] == 1 else images
        f = hog_batch(images, self.orientations, self.pixels_per_cell, self.cells_per_block,
                      self.block_norm)
        return svertka.tensor(f.astype(self.classifier.weight.detach().numpy().dtype))

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
