"""Colour spaces: RGB <-> HSV (all components in [0, 1]) and RGB -> grey.

Images are channel-last ``(..., 3)`` arrays with values in ``[0, 1]`` (as matplotlib's and
scikit-image's conversions).
"""

from __future__ import annotations

import numpy as np

from svertka import _validate as V

__all__ = ["rgb_to_gray", "rgb_to_hsv", "hsv_to_rgb"]

REC601 = (0.299, 0.587, 0.114)   # ITU-R BT.601 luma (PIL, OpenCV)
REC709 = (0.2125, 0.7154, 0.0721)  # BT.709 as scikit-image's rgb2gray


def _rgb(fn, image, name="image"):
    from svertka.tensor import Tensor

    if isinstance(image, Tensor):
        image = image.detach().numpy()
    if not isinstance(image, np.ndarray):
        raise V.type_error(fn, f"{name} must be an ndarray or a Tensor, got "
                               f"{type(image).__name__}")
    if image.ndim < 1 or image.shape[-1] != 3:
        raise V.error(fn, f"{name} must have 3 channels on the last axis (..., 3), got {name} of "
                          f"shape {image.shape}")
    if image.dtype.kind == "u" and image.dtype.itemsize == 1:
        return image.astype(np.float32) / 255
    if image.dtype.kind != "f":
        return image.astype(np.float64)
    return image


def rgb_to_gray(image, weights=REC601):
    """Luma ``w_r R + w_g G + w_b B`` of an ``(..., 3)`` image (uint8 is scaled to [0, 1]).

    A Tensor input gives a Tensor in the autograd graph (the conversion is linear).

    Args:
        image (ndarray or Tensor): ``(..., 3)``.
        weights (tuple of 3 floats): default ITU-R BT.601 ``(0.299, 0.587, 0.114)``;
            ``svertka.vision.color.REC709`` gives scikit-image's ``rgb2gray``.

    >>> import numpy as np
    >>> rgb_to_gray(np.array([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]]))
    array([1.   , 0.299])
    """
    import svertka
    from svertka.tensor import Tensor

    fn = "rgb_to_gray"
    if (not isinstance(weights, (tuple, list)) or len(weights) != 3
            or not all(isinstance(w, (int, float)) for w in weights)):
        raise V.type_error(fn, f"weights must be a tuple of 3 floats, got weights={weights!r}")
    if isinstance(image, Tensor):
        if image.ndim < 1 or image.shape[-1] != 3:
            raise V.error(fn, f"image must have 3 channels on the last axis (..., 3), got image "
                              f"of shape {tuple(image.shape)}")
        w = svertka.tensor(np.asarray(weights, dtype=image.detach().numpy().dtype))
        return (image * w).sum(-1)
    x = _rgb(fn, image)
    return x @ np.asarray(weights, dtype=x.dtype)


def rgb_to_hsv(image):
    """RGB to HSV, every component in ``[0, 1]`` (hue in turns: 0 red, 1/3 green, 2/3 blue);
    grey pixels have hue and saturation 0 (as matplotlib and scikit-image).

    >>> import numpy as np
    >>> rgb_to_hsv(np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.2, 0.2, 0.2]]))
    array([[0. , 1. , 1. ],
           [0.5, 1. , 0.5],
           [0. , 0. , 0.2]])
    """
    x = _rgb("rgb_to_hsv", image)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    v = x.max(axis=-1)
    delta = v - x.min(axis=-1)
    safe_v = np.where(v > 0, v, 1)
    s = np.where(v > 0, delta / safe_v, 0)
    d = np.where(delta > 0, delta, 1)
    # the sector of the largest channel; ties resolved red, then green (as skimage)
    h = np.where(v == r, ((g - b) / d) % 6,
                 np.where(v == g, (b - r) / d + 2, (r - g) / d + 4)) / 6
    h = np.where(delta > 0, h, 0)
    return np.stack([h, s, v], axis=-1).astype(x.dtype, copy=False)


def hsv_to_rgb(image):
    """HSV (components in ``[0, 1]``) back to RGB: the inverse of :func:`rgb_to_hsv`.

    >>> import numpy as np
    >>> hsv_to_rgb(np.array([[0.0, 1.0, 1.0], [0.5, 1.0, 0.5]]))
    array([[1. , 0. , 0. ],
           [0. , 0.5, 0.5]])
    """
    x = _rgb("hsv_to_rgb", image)
    h, s, v = x[..., 0], x[..., 1], x[..., 2]
    h6 = (h % 1.0) * 6
    i = np.floor(h6).astype(int) % 6
    f = h6 - np.floor(h6)
    p = v * (1 - s)
    q = v * (1 - s * f)
    t = v * (1 - s * (1 - f))
    # per sector (0..5): which of v, t, p, q is red, green, blue
    choices = np.stack([v, q, p, p, t, v, t, v, v, q, p, p, p, p, t, v, v, q], axis=-1)
    table = np.array([[0, 6, 12], [1, 7, 13], [2, 8, 14], [3, 9, 15], [4, 10, 16],
                      [5, 11, 17]])
    idx = table[i]                                                # (..., 3)
    return np.take_along_axis(choices, idx, axis=-1).astype(x.dtype, copy=False)
