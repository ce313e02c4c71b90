"""Colour conversions against scikit-image (and matplotlib), round trips."""

import numpy as np
import pytest
from skimage import color as skcolor
from tests._oracle import assert_close

import svertka
from svertka.vision import hsv_to_rgb, rgb_to_gray, rgb_to_hsv
from svertka.vision.color import REC709


def _images():
    rng = np.random.default_rng(0)
    img = rng.random((6, 7, 3))
    img[0, 0] = [0.5, 0.5, 0.5]         # grey
    img[0, 1] = [0, 0, 0]               # black
    img[0, 2] = [1, 0, 1]               # magenta: hue wraps
    img[0, 3] = [0.2, 0.9, 0.9]         # green/blue tie
    img[0, 4] = [0.9, 0.9, 0.1]         # red/green tie
    return img


def test_rgb_to_hsv_matches_skimage():
    img = _images()
    assert_close(rgb_to_hsv(img), skcolor.rgb2hsv(img))


def test_hsv_to_rgb_matches_skimage_and_inverts():
    img = _images()
    hsv = skcolor.rgb2hsv(img)
    assert_close(hsv_to_rgb(hsv), skcolor.hsv2rgb(hsv))
    assert_close(hsv_to_rgb(rgb_to_hsv(img)), img)
    hue_one = np.array([1.0, 1.0, 1.0])          # hue 1 is red again
    assert_close(hsv_to_rgb(hue_one), np.array([1.0, 0.0, 0.0]))


def test_hsv_matches_matplotlib():
    from matplotlib.colors import hsv_to_rgb as mpl_h2r
    from matplotlib.colors import rgb_to_hsv as mpl_r2h

    img = _images()
    assert_close(rgb_to_hsv(img), mpl_r2h(img))
    assert_close(hsv_to_rgb(rgb_to_hsv(img)), mpl_h2r(mpl_r2h(img)))


def test_rgb_to_gray_matches_skimage_with_rec709_and_is_bt601_by_default():
    img = _images()
    assert_close(rgb_to_gray(img, REC709), skcolor.rgb2gray(img))
    assert_close(rgb_to_gray(img), img @ np.array([0.299, 0.587, 0.114]))


def test_color_uint8_and_float32():
    u8 = (_images() * 255).astype(np.uint8)
    assert rgb_to_hsv(u8).dtype == np.float32
    assert_close(rgb_to_gray(u8), u8.astype(np.float64) / 255 @ np.array([0.299, 0.587, 0.114]),
                 rtol=1e-6)
    f32 = _images().astype(np.float32)
    assert hsv_to_rgb(rgb_to_hsv(f32)).dtype == np.float32


def test_rgb_to_gray_of_a_tensor_is_differentiable():
    x = svertka.tensor(_images(), requires_grad=True)
    y = rgb_to_gray(x)
    assert isinstance(y, svertka.Tensor) and tuple(y.shape) == (6, 7)
    y.sum().backward()
    assert_close(x.grad.numpy()[0, 0], np.array([0.299, 0.587, 0.114]))


def test_color_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"rgb_to_hsv: image must have 3 channels on the last "
                                         r"axis \(\.\.\., 3\), got image of shape \(4, 4\)"):
        rgb_to_hsv(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="hsv_to_rgb: image must be an ndarray or a Tensor"):
        hsv_to_rgb([0.1, 0.2, 0.3])
    with pytest.raises(TypeError, match="rgb_to_gray: weights must be a tuple of 3 floats"):
        rgb_to_gray(np.zeros((2, 3)), weights=(1, 2))
    with pytest.raises(ValueError, match="rgb_to_gray: image must have 3 channels"):
        rgb_to_gray(svertka.zeros(2, 4))
