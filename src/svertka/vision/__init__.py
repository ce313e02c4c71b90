"""svertka.vision: classic image processing next to the CNNs it led to.

* :func:`filter2d` (correlation through ``F.pad`` + ``F.conv2d``) and the kernels
  :func:`box`, :func:`gaussian`, :func:`sobel_x`, :func:`sobel_y`, :func:`laplacian`,
  :func:`sharpen`; :func:`gradient_magnitude_and_orientation`;
* colour: :func:`rgb_to_gray`, :func:`rgb_to_hsv`, :func:`hsv_to_rgb`;
* :func:`hog`: histograms of oriented gradients (scikit-image's conventions).
"""

from svertka.vision.color import hsv_to_rgb, rgb_to_gray, rgb_to_hsv
from svertka.vision.filters import (
    box,
    filter2d,
    gaussian,
    gradient_magnitude_and_orientation,
    laplacian,
    sharpen,
    sobel_x,
    sobel_y,
)
from svertka.vision.hog import hog, hog_batch

__all__ = ["filter2d", "box", "gaussian", "sobel_x", "sobel_y", "laplacian", "sharpen",
           "gradient_magnitude_and_orientation", "rgb_to_gray", "rgb_to_hsv", "hsv_to_rgb",
           "hog", "hog_batch"]
