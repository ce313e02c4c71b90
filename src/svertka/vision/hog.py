"""Histograms of oriented gradients (Dalal and Triggs 2005), with scikit-image's conventions.

The descriptor is laid out and computed as ``skimage.feature.hog``: centred differences
``[-1, 0, 1]`` inside the image (zero gradient on the border rows/columns), unsigned
orientations in ``[0, 180)`` degrees with hard binning into ``orientations`` equal bins (no
interpolation between bins or cells), cell histograms of gradient magnitudes divided by the
cell area, overlapping blocks of ``cells_per_block`` cells (stride one cell) normalised with
``'L1'``, ``'L1-sqrt'``, ``'L2'`` or ``'L2-Hys'`` (``eps = 1e-5``). Everything is vectorised:
the histograms are one ``bincount``, the blocks one sliding-window view.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from svertka import _validate as V

__all__ = ["hog", "hog_batch", "hog_gradients", "hog_cell_histograms", "normalize_blocks"]

BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")


def hog_gradients(image, channel_axis=None):
    """Row and column gradients of ``(..., H, W)`` images: centred differences
    (``x[i + 1] - x[i - 1]``), zero on the border rows and columns. With ``channel_axis`` (an
    axis before ``H``), per pixel the channel with the largest gradient magnitude is kept and
    the axis is removed.

    >>> import numpy as np
    >>> g_row, g_col = hog_gradients(np.array([[0., 1., 3.], [0., 1., 3.], [0., 1., 3.]]))
    >>> g_col
    array([[0., 3., 0.],
           [0., 3., 0.],
           [0., 3., 0.]])
    """
    g_row = np.zeros_like(image)
    g_col = np.zeros_like(image)
    g_row[..., 1:-1, :] = image[..., 2:, :] - image[..., :-2, :]
    g_col[..., :, 1:-1] = image[..., :, 2:] - image[..., :, :-2]
    if channel_axis is not None:
        best = np.expand_dims(np.hypot(g_row, g_col).argmax(axis=channel_axis), channel_axis)
        g_row = np.take_along_axis(g_row, best, axis=channel_axis).squeeze(channel_axis)
        g_col = np.take_along_axis(g_col, best, axis=channel_axis).squeeze(channel_axis)
    return g_row, g_col


def _bin_edges(orientations):
    """Bin edges in degrees as scikit-image computes them (single precision)."""
    step = np.float32(180.0 / orientations)
    return (step * np.arange(orientations + 1, dtype=np.float32)).astype(np.float64)


def hog_cell_histograms(g_row, g_col, orientations, pixels_per_cell):
    """Per cell, the sum of gradient magnitudes per orientation bin, divided by the cell area.

    ``g_row``, ``g_col``: ``(..., H, W)``. Returns ``(..., n_cells_row, n_cells_col,
    orientations)`` float64; pixels beyond the last full cell are ignored.
    """
    c_row, c_col = pixels_per_cell
    lead = g_row.shape[:-2]
    n_row, n_col = g_row.shape[-2] // c_row, g_row.shape[-1] // c_col
    g_row = g_row[..., :n_row * c_row, :n_col * c_col].astype(np.float64, copy=False)
    g_col = g_col[..., :n_row * c_row, :n_col * c_col].astype(np.float64, copy=False)
    magnitude = np.hypot(g_col, g_row)
    angle = np.rad2deg(np.arctan2(g_row, g_col)) % 180
    edges = _bin_edges(orientations)
    b = np.searchsorted(edges, angle, side="right") - 1             # edges[b] <= angle
    keep = angle < edges[-1]   # as scikit-image: an angle past the rounded top edge votes nowhere
    rows = np.arange(n_row * c_row) // c_row
    cols = np.arange(n_col * c_col) // c_col
    cell = rows[:, None] * n_col + cols[None, :]                      # (H', W')
    n_images = int(np.prod(lead))
    image = np.arange(n_images).reshape(lead + (1, 1))               # (..., 1, 1)
    index = (image * (n_row * n_col) + cell) * orientations + b       # (..., H', W')
    hist = np.bincount(index[keep], weights=magnitude[keep],
                       minlength=n_images * n_row * n_col * orientations)
    return hist.reshape(lead + (n_row, n_col, orientations)) / (c_row * c_col)


def normalize_blocks(hist, cells_per_block, block_norm="L2-Hys", eps=1e-5):
    """Overlapping blocks of cells, each normalised: ``(..., n_blocks_row, n_blocks_col,
    b_row, b_col, orientations)`` from cell histograms ``(..., n_cells_row, n_cells_col,
    orientations)``."""
    b_row, b_col = cells_per_block
    blocks = sliding_window_view(hist, (b_row, b_col), axis=(-3, -2))  # (.., Br, Bc, n, br, bc)
    blocks = np.moveaxis(blocks, -3, -1)                               # (.., Br, Bc, br, bc, n)
    axes = (-3, -2, -1)
    if block_norm == "L1":
        return blocks / (np.abs(blocks).sum(axis=axes, keepdims=True) + eps)
    if block_norm == "L1-sqrt":
        return np.sqrt(blocks / (np.abs(blocks).sum(axis=axes, keepdims=True) + eps))
    out = blocks / np.sqrt((blocks ** 2).sum(axis=axes, keepdims=True) + eps ** 2)
    if block_norm == "L2-Hys":
        out = np.minimum(out, 0.2)
        out = out / np.sqrt((out ** 2).sum(axis=axes, keepdims=True) + eps ** 2)
    return out


def _line(r0, c0, r1, c1):
    """Bresenham's line from ``(r0, c0)`` to ``(r1, c1)``, as ``skimage.draw.line``."""
    sr = 1 if r1 > r0 else -1
    sc = 1 if c1 > c0 else -1
    dr, dc = abs(r1 - r0), abs(c1 - c0)
    steep = dr > dc
    r, c = r0, c0
    if steep:
        r, c, dr, dc, sr, sc = c, r, dc, dr, sc, sr
    d = 2 * dr - dc
    points = []
    for _ in range(dc):
        points.append((c, r) if steep else (r, c))
        while d >= 0:
            r += sr
            d -= 2 * dc
        c += sc
        d += 2 * dr
    points.append((r1, c1))
    return points


def _visualize(hist, pixels_per_cell, shape, dtype):
    """Per cell and bin a line through the cell centre, perpendicular to the bin's mid angle,
    with the bin's value (scikit-image's picture)."""
    c_row, c_col = pixels_per_cell
    n_row, n_col, n = hist.shape
    radius = min(c_row, c_col) // 2 - 1
    mid = np.pi * (np.arange(n) + 0.5) / n
    dr, dc = radius * np.sin(mid), radius * np.cos(mid)
    out = np.zeros(shape, dtype=dtype)
    centres_r = np.arange(n_row) * c_row + c_row // 2                 # (n_row,)
    centres_c = np.arange(n_col) * c_col + c_col // 2                 # (n_col,)
    for o in range(n):  # one line shape per bin, the same in every cell
        # int() of the first cell's end points, as scikit-image (rounding included)
        y, x = c_row // 2, c_col // 2
        r0, c0 = int(y - dc[o]) - y, int(x + dr[o]) - x
        r1, c1 = int(y + dc[o]) - y, int(x - dr[o]) - x
        for dy, dx in _line(r0, c0, r1, c1):  # a few pixels per line
            ys = centres_r + dy
            xs = centres_c + dx
            ok_y = (ys >= 0) & (ys < shape[0])
            ok_x = (xs >= 0) & (xs < shape[1])
            out[np.ix_(ys[ok_y], xs[ok_x])] += hist[np.ix_(ok_y, ok_x)][..., o]
    return out


def hog(image, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3),
        block_norm="L2-Hys", visualize=False, feature_vector=True, channel_axis=None, *,
        transform_sqrt=False):
    """Histogram of Oriented Gradients of a grey or colour image (``skimage.feature.hog``).

    Args:
        image (ndarray or Tensor): ``(H, W)``, or colour with ``channel_axis`` naming the
            channel axis (e.g. ``-1`` for ``(H, W, C)``).
        orientations (int): number of orientation bins over ``[0, 180)`` degrees. Default 9.
        pixels_per_cell (tuple of 2 ints): cell size in pixels. Default ``(8, 8)``.
        cells_per_block (tuple of 2 ints): block size in cells. Default ``(3, 3)``.
        block_norm (str): ``'L1'``, ``'L1-sqrt'``, ``'L2'`` or ``'L2-Hys'`` (L2, clip at
            0.2, L2 again). Default ``'L2-Hys'``.
        visualize (bool): also return a picture of the cell histograms.
        feature_vector (bool): flatten the descriptor. Default True.
        channel_axis (int, optional): the channel axis of a colour image.
        transform_sqrt (bool): square root of the image first (gamma compression).

    Returns:
        the descriptor, ``(n_blocks_row, n_blocks_col, b_row, b_col, orientations)`` or
        flattened, in the image's float type (float32 stays float32, other types give
        float64); with ``visualize``, the pair ``(descriptor, hog_image)``.

    Shape:
        ``n_cells = size // pixels_per_cell`` and ``n_blocks = n_cells - cells_per_block + 1``
        per axis.

    Examples::

        >>> import numpy as np
        >>> from svertka.vision import hog
        >>> img = np.tile(np.arange(16.0), (16, 1))          # a horizontal ramp
        >>> h = hog(img, pixels_per_cell=(4, 4), cells_per_block=(2, 2), feature_vector=False)
        >>> h.shape
        (3, 3, 2, 2, 9)
        >>> int(h[1, 1, 0, 0].argmax())                      # the gradient points along x: 0 deg
        0
    """
    from svertka.tensor import Tensor

    fn = "hog"
    if isinstance(image, Tensor):
        image = image.detach().numpy()
    if not isinstance(image, np.ndarray):
        raise V.type_error(fn, f"image must be an ndarray or a Tensor, got "
                               f"{type(image).__name__}")
    if image.dtype.kind not in "biuf":
        raise V.type_error(fn, f"image must hold real numbers, got dtype {image.dtype}")
    if channel_axis is not None:
        channel_axis = V.check_dim(channel_axis, image.ndim, fn, "channel_axis")
        image = np.moveaxis(image, channel_axis, 0)                     # (C, H, W)
    spatial = image.ndim - (channel_axis is not None)
    if spatial != 2:
        raise V.error(fn, f"only images with two spatial dimensions are supported; pass "
                          f"channel_axis for colour images, got image of shape {image.shape} "
                          f"with channel_axis={channel_axis}")
    if not V.is_int(orientations) or orientations <= 0:
        raise V.error(fn, f"orientations must be a positive int, got orientations={orientations!r}")
    pixels_per_cell = V.ntuple(pixels_per_cell, 2, "pixels_per_cell", fn)
    cells_per_block = V.ntuple(cells_per_block, 2, "cells_per_block", fn)
    V.check_choice(block_norm, BLOCK_NORMS, "block_norm", fn)
    dtype = np.float32 if image.dtype == np.float32 else np.float64
    image = image.astype(dtype, copy=False)
    if transform_sqrt:
        if (image < 0).any():
            raise V.error(fn, "transform_sqrt needs a non-negative image, got a minimum of "
                              f"{image.min()}")
        image = np.sqrt(image)
    _check_size(fn, image.shape[-2:], pixels_per_cell, cells_per_block)
    g_row, g_col = hog_gradients(image, None if channel_axis is None else 0)
    hist = hog_cell_histograms(g_row, g_col, orientations, pixels_per_cell)
    out = normalize_blocks(hist, cells_per_block, block_norm).astype(dtype)
    if feature_vector:
        out = out.ravel()
    if visualize:
        return out, _visualize(hist, pixels_per_cell, image.shape[-2:], dtype)
    return out


def _check_size(fn, shape, pixels_per_cell, cells_per_block):
    need = tuple(c * b for c, b in zip(pixels_per_cell, cells_per_block))
    if shape[0] < need[0] or shape[1] < need[1]:
        raise V.error(fn, f"the image of {shape[0]}x{shape[1]} pixels is too small "
                          f"for blocks of {cells_per_block} cells of {pixels_per_cell} pixels: "
                          f"it needs at least {need[0]} rows and {need[1]} columns")


def hog_batch(images, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(3, 3),
              block_norm="L2-Hys"):
    """HOG feature vectors of a batch at once: ``(N, H, W)`` grey or ``(N, C, H, W)`` images
    (channels first, as svertka's tensors; the strongest channel's gradient per pixel).

    Row ``n`` equals ``hog(images[n], ..., channel_axis=0 if C else None)``; one vectorised
    pass, no loop over the images.

    Returns:
        ``(N, D)`` in the images' float type, ``D = n_blocks_row * n_blocks_col * b_row *
        b_col * orientations``.

    >>> import numpy as np
    >>> hog_batch(np.zeros((5, 8, 8)), pixels_per_cell=(2, 2), cells_per_block=(2, 2)).shape
    (5, 324)
    """
    from svertka.tensor import Tensor

    fn = "hog_batch"
    if isinstance(images, Tensor):
        images = images.detach().numpy()
    if not isinstance(images, np.ndarray) or images.dtype.kind not in "biuf":
        raise V.type_error(fn, "images must be a real ndarray or Tensor")
    if images.ndim not in (3, 4):
        raise V.error(fn, f"images must be 3-D (N, H, W) or 4-D (N, C, H, W), got images of "
                          f"shape {images.shape}")
    pixels_per_cell = V.ntuple(pixels_per_cell, 2, "pixels_per_cell", fn)
    cells_per_block = V.ntuple(cells_per_block, 2, "cells_per_block", fn)
    V.check_choice(block_norm, BLOCK_NORMS, "block_norm", fn)
    _check_size(fn, images.shape[-2:], pixels_per_cell, cells_per_block)
    dtype = np.float32 if images.dtype == np.float32 else np.float64
    images = images.astype(dtype, copy=False)
    g_row, g_col = hog_gradients(images, 1 if images.ndim == 4 else None)   # (N, H, W)
    hist = hog_cell_histograms(g_row, g_col, orientations, pixels_per_cell)
    out = normalize_blocks(hist, cells_per_block, block_norm).astype(dtype)
    return out.reshape(len(images), -1)
