"""Classic image filtering: ``filter2d`` (correlation, as ``conv2d``) and the kernels of the
lectures (box, Gaussian, Sobel, Laplacian, sharpen).

``filter2d`` is the lectures' bridge to CNNs: it *is* ``F.conv2d`` with one fixed filter per
channel, after ``F.pad`` with the chosen border mode. Tensors stay differentiable (w.r.t. the
image and the kernel).
"""

from __future__ import annotations

import numpy as np

from svertka import _validate as V

__all__ = ["filter2d", "box", "gaussian", "sobel_x", "sobel_y", "laplacian", "sharpen",
           "gradient_magnitude_and_orientation", "PADDING_MODES"]

# the lectures' names -> F.pad's modes; scipy.ndimage's equivalents in the comments
PADDING_MODES = {
    "zeros": "constant",     # ndimage 'constant' (cval=0)
    "zero": "constant",
    "reflect": "reflect",    # ndimage 'mirror': d c b | a b c d | c b a
    "replicate": "replicate",  # ndimage 'nearest': a a a | a b c d | d d d
    "circular": "circular",  # ndimage 'wrap': b c d | a b c d | a b c
}


def _as_tensor(fn, x, name):
    import svertka
    from svertka.tensor import Tensor

    if isinstance(x, Tensor):
        return x, True
    if isinstance(x, (np.ndarray, list, tuple)):
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise V.type_error(fn, f"{name} must hold real numbers, got dtype {arr.dtype}")
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
        return svertka.tensor(arr), False
    raise V.type_error(fn, f"{name} must be an ndarray or a Tensor, got {type(x).__name__}")


def filter2d(image, kernel, padding_mode="reflect"):
    """Correlate a grey ``(H, W)`` or colour ``(H, W, C)`` image with a 2-D kernel, per channel.

    ``out[i, j] = sum_{u, v} kernel[u, v] * padded[i + u, j + v]``, the same size as the image:
    the border is padded by ``k // 2`` before and ``(k - 1) // 2`` after each axis (the
    kernel's centre is ``kernel[k // 2]``, as ``scipy.ndimage.correlate``). Implemented as
    ``F.pad`` followed by ``F.conv2d`` with the channels as a batch.

    Args:
        image (ndarray or Tensor): ``(H, W)`` or ``(H, W, C)``; integer images become float32.
        kernel (ndarray or Tensor): ``(kH, kW)``; cast to the image's dtype.
        padding_mode (str): ``'zeros'`` (alias ``'zero'``), ``'reflect'`` (mirror without
            repeating the edge: scipy's ``'mirror'``), ``'replicate'`` (repeat the edge:
            scipy's ``'nearest'``) or ``'circular'`` (wrap: scipy's ``'wrap'``). Default
            ``'reflect'``.

    Returns:
        the filtered image, same shape, an ndarray for an ndarray input and a Tensor (in the
        autograd graph) for a Tensor input.

    Examples::

        >>> import numpy as np
        >>> from svertka.vision import filter2d, box, sobel_x
        >>> img = np.array([[0., 0., 1., 1.]] * 3)
        >>> filter2d(img, sobel_x(), padding_mode="replicate")
        array([[0., 4., 4., 0.],
               [0., 4., 4., 0.],
               [0., 4., 4., 0.]])
        >>> filter2d(np.ones((4, 5, 3)), box(3), padding_mode="zeros")[0, 0]
        array([0.44444444, 0.44444444, 0.44444444])
    """
    import svertka.nn.functional as F

    fn = "filter2d"
    x, was_tensor = _as_tensor(fn, image, "image")
    w, _ = _as_tensor(fn, kernel, "kernel")
    if x.ndim not in (2, 3):
        raise V.error(fn, f"image must be 2-D (H, W) or 3-D (H, W, C), got image of shape "
                          f"{tuple(x.shape)}")
    if w.ndim != 2 or 0 in tuple(w.shape):
        raise V.error(fn, f"kernel must be a non-empty 2-D array (kH, kW), got kernel of shape "
                          f"{tuple(w.shape)}")
    if not isinstance(padding_mode, str):
        raise V.type_error(fn, f"padding_mode must be a str, got padding_mode={padding_mode!r}")
    V.check_choice(padding_mode, tuple(PADDING_MODES), "padding_mode", fn)
    mode = PADDING_MODES[padding_mode]
    h, wd = x.shape[0], x.shape[1]
    kh, kw = w.shape
    pads = ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2))
    for (lo, hi), size, axis in zip(pads, (h, wd), ("height", "width")):
        if mode == "reflect" and max(lo, hi) >= size:
            raise V.error(fn, f"reflect padding of {max(lo, hi)} needs an image {axis} above it, "
                              f"got {axis} {size}", f"kernel {tuple(w.shape)}")
        if mode == "circular" and max(lo, hi) > size:
            raise V.error(fn, f"circular padding of {max(lo, hi)} wraps more than the image "
                              f"{axis} {size}", f"kernel {tuple(w.shape)}")
    if w.dtype != x.dtype:
        w = w.to(x.dtype)
    planes = x.unsqueeze(0) if x.ndim == 2 else x.permute(2, 0, 1)   # (C, H, W)
    planes = planes.unsqueeze(1)                                     # (C, 1, H, W)
    flat = (pads[1][0], pads[1][1], pads[0][0], pads[0][1])          # F.pad: last axis first
    if any(flat):
        planes = F.pad(planes, flat, mode=mode)
    y = F.conv2d(planes, w.reshape(1, 1, kh, kw))[:, 0]              # (C, H, W)
    y = y[0] if x.ndim == 2 else y.permute(1, 2, 0)
    return y if was_tensor else y.numpy()


def box(k):
    """``k x k`` box (mean) filter, summing to 1.

    >>> box(2)
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    k = V.ntuple(k, 2, "k", "box")
    return np.full(k, 1.0 / (k[0] * k[1]))


def gaussian(k, sigma=None):
    """``k x k`` Gaussian filter ``exp(-(u^2 + v^2) / (2 sigma^2))`` on offsets from the centre,
    normalised to sum 1. ``sigma`` defaults to OpenCV's ``0.3 ((k - 1) / 2 - 1) + 0.8``.

    >>> g = gaussian(5, 1.0)
    >>> g.shape, round(float(g.sum()), 12), bool(g[2, 2] == g.max())
    ((5, 5), 1.0, True)
    """
    fn = "gaussian"
    k = V.ntuple(k, 2, "k", fn)
    if sigma is None:
        sigma = tuple(0.3 * ((n - 1) * 0.5 - 1) + 0.8 for n in k)
    elif isinstance(sigma, (int, float)) and not isinstance(sigma, bool):
        sigma = (float(sigma), float(sigma))
    if (not isinstance(sigma, (tuple, list)) or len(sigma) != 2
            or not all(isinstance(s, (int, float)) and s > 0 for s in sigma)):
        raise V.error(fn, f"sigma must be a positive number or a pair of them, got sigma={sigma!r}")
    axes = [np.exp(-((np.arange(n) - (n - 1) / 2) ** 2) / (2 * s * s)) for n, s in zip(k, sigma)]
    g = np.outer(axes[0], axes[1])
    return g / g.sum()


def sobel_x():
    """Sobel filter for the horizontal derivative (correlation: positive where the image gets
    brighter to the right).

    >>> sobel_x()
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    """
    return np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def sobel_y():
    """Sobel filter for the vertical derivative (positive where the image gets brighter
    downwards): the transpose of :func:`sobel_x`."""
    return sobel_x().T.copy()


def laplacian():
    """The 4-neighbour Laplacian ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]``."""
    return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def sharpen():
    """Sharpening: the identity minus the Laplacian, ``[[0, -1, 0], [-1, 5, -1], [0, -1, 0]]``
    (sums to 1, so flat regions are unchanged)."""
    return np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])


def gradient_magnitude_and_orientation(image, padding_mode="replicate"):
    """Sobel gradient magnitude ``sqrt(gx^2 + gy^2)`` and orientation ``atan2(gy, gx)`` in
    radians (``(-pi, pi]``, 0 pointing right, ``pi / 2`` down: image rows grow downwards).

    For a colour ``(H, W, C)`` image, each pixel takes the channel with the largest magnitude
    (as Dalal and Triggs' HOG).

    Args:
        image (ndarray or Tensor): ``(H, W)`` or ``(H, W, C)``.
        padding_mode (str): border mode of :func:`filter2d`. Default ``'replicate'``.

    Returns:
        ``(magnitude, orientation)``, two ``(H, W)`` ndarrays.

    >>> import numpy as np
    >>> mag, ori = gradient_magnitude_and_orientation(np.array([[0., 0., 1., 1.]] * 3))
    >>> mag[1], ori[1]
    (array([0., 4., 4., 0.]), array([0., 0., 0., 0.]))
    """
    from svertka.tensor import Tensor

    if isinstance(image, Tensor):
        image = image.detach().numpy()
    gx = filter2d(image, sobel_x(), padding_mode)
    gy = filter2d(image, sobel_y(), padding_mode)
    gx, gy = np.asarray(gx), np.asarray(gy)
    mag = np.hypot(gx, gy)
    if mag.ndim == 3:
        best = mag.argmax(axis=2)[..., None]
        gx = np.take_along_axis(gx, best, axis=2)[..., 0]
        gy = np.take_along_axis(gy, best, axis=2)[..., 0]
        mag = np.take_along_axis(mag, best, axis=2)[..., 0]
    return mag, np.arctan2(gy, gx)
