"""filter2d equals conv2d after F.pad (torch) and scipy.ndimage.correlate; the kernels."""

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
from svertka.vision import (
    box,
    filter2d,
    gaussian,
    gradient_magnitude_and_orientation,
    laplacian,
    sharpen,
    sobel_x,
    sobel_y,
)

MODES = {"zeros": ("constant", "constant"), "reflect": ("reflect", "mirror"),
         "replicate": ("replicate", "nearest"), "circular": ("circular", "wrap")}

CASES = [
    # image shape, kernel shape
    pytest.param((9, 11), (3, 3), id="grey-3x3"),
    pytest.param((8, 7, 3), (5, 5), id="colour-5x5"),
    pytest.param((6, 9), (2, 4), id="even-rectangular"),
    pytest.param((5, 6, 2), (1, 3), id="row-kernel"),
    pytest.param((4, 4), (1, 1), id="1x1"),
    pytest.param((5, 5), (5, 5), id="kernel-as-large-as-image"),
]


def _torch_filter(img, k, mode):
    x = img[None, None] if img.ndim == 2 else img.permute(2, 0, 1)[:, None]
    kh, kw = k.shape
    pad = (kw // 2, (kw - 1) // 2, kh // 2, (kh - 1) // 2)
    if any(pad):
        x = TF.pad(x, pad, mode=MODES[mode][0])
    y = TF.conv2d(x, k[None, None])[:, 0]
    return y[0] if img.ndim == 2 else y.permute(1, 2, 0)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("img_shape, k_shape", CASES)
def test_filter2d_equals_torch_conv2d_after_pad(img_shape, k_shape, mode):
    if mode == "reflect" and max(k_shape) // 2 >= min(img_shape[:2]):
        pytest.skip("reflect padding must be smaller than the image")
    rng = np.random.default_rng(0)
    img, k = rng.standard_normal(img_shape), rng.standard_normal(k_shape)
    compare_with_torch(lambda a, b: filter2d(a, b, mode), lambda a, b: _torch_filter(a, b, mode),
                       img, k)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("img_shape, k_shape", CASES)
def test_filter2d_equals_scipy_correlate(img_shape, k_shape, mode):
    if mode == "reflect" and max(k_shape) // 2 >= min(img_shape[:2]):
        pytest.skip("reflect padding must be smaller than the image")
    rng = np.random.default_rng(1)
    img, k = rng.standard_normal(img_shape), rng.standard_normal(k_shape)
    kk = k if len(img_shape) == 2 else k[:, :, None]
    expected = ndi.correlate(img, kk, mode=MODES[mode][1], cval=0.0)
    got = filter2d(img, k, padding_mode=mode)
    assert isinstance(got, np.ndarray)
    assert_close(got, expected)


def test_filter2d_float32_and_integer_images():
    rng = np.random.default_rng(2)
    img = rng.random((10, 12)).astype(np.float32)
    got = filter2d(img, gaussian(5, 1.2))
    assert got.dtype == np.float32
    assert_close(got, ndi.correlate(img.astype(np.float64), gaussian(5, 1.2), mode="mirror"),
                 rtol=1e-4)
    u8 = (rng.random((6, 6)) * 255).astype(np.uint8)
    assert filter2d(u8, box(3)).dtype == np.float32


def test_filter2d_of_a_tensor_stays_in_the_graph():
    x = svertka.randn(6, 6, requires_grad=True)
    y = filter2d(x, laplacian(), padding_mode="zeros")
    assert isinstance(y, svertka.Tensor) and y.requires_grad
    y.sum().backward()
    assert x.grad.shape == (6, 6)


def test_kernels_sum_and_shapes():
    assert box(3).sum() == pytest.approx(1.0) and box((2, 4)).shape == (2, 4)
    g = gaussian((5, 3), (1.0, 2.0))
    assert g.shape == (5, 3) and g.sum() == pytest.approx(1.0)
    assert np.allclose(g, g[::-1, ::-1])
    assert gaussian(7).sum() == pytest.approx(1.0)
    assert sobel_x().sum() == 0 and np.array_equal(sobel_y(), sobel_x().T)
    assert laplacian().sum() == 0 and sharpen().sum() == 1
    flat = np.full((5, 5), 0.3)
    assert_close(filter2d(flat, sharpen(), "replicate"), flat)
    ramp = np.tile(np.arange(6.0), (5, 1))
    assert_close(filter2d(ramp, sobel_x(), "replicate")[:, 1:-1], np.full((5, 4), 8.0))


def test_gaussian_matches_scipy_gaussian_filter():
    rng = np.random.default_rng(3)
    img = rng.standard_normal((12, 12))
    expected = ndi.gaussian_filter(img, 1.0, mode="mirror", truncate=3.0)   # 7 taps
    assert_close(filter2d(img, gaussian(7, 1.0)), expected)


@pytest.mark.parametrize("shape", [(9, 10), (7, 8, 3)], ids=["grey", "colour"])
def test_gradient_magnitude_and_orientation_match_scipy_sobel(shape):
    rng = np.random.default_rng(4)
    img = rng.random(shape)
    mag, ori = gradient_magnitude_and_orientation(img)
    planes = img[..., None] if img.ndim == 2 else img    # ndi.sobel smooths every other axis
    gx = np.stack([ndi.sobel(p, axis=1, mode="nearest") for p in np.moveaxis(planes, -1, 0)], -1)
    gy = np.stack([ndi.sobel(p, axis=0, mode="nearest") for p in np.moveaxis(planes, -1, 0)], -1)
    if img.ndim == 2:
        gx, gy = gx[..., 0], gy[..., 0]
    m = np.hypot(gx, gy)
    if img.ndim == 3:
        best = m.argmax(axis=2)[..., None]
        gx, gy, m = (np.take_along_axis(a, best, 2)[..., 0] for a in (gx, gy, m))
    assert_close(mag, m)
    assert_close(ori, np.arctan2(gy, gx))


def test_gradient_orientation_points_down_for_a_vertical_ramp():
    img = np.tile(np.arange(5.0)[:, None], (1, 5))
    _, ori = gradient_magnitude_and_orientation(svertka.tensor(img))
    assert_close(ori, np.full((5, 5), np.pi / 2))


def test_filter2d_rejects_bad_arguments():
    img = np.zeros((4, 4))
    with pytest.raises(TypeError, match="filter2d: image must be an ndarray or a Tensor"):
        filter2d("img", box(3))
    with pytest.raises(TypeError, match="filter2d: image must hold real numbers"):
        filter2d(np.array([["a"]]), box(3))
    with pytest.raises(ValueError, match=r"image must be 2-D \(H, W\) or 3-D"):
        filter2d(np.zeros(4), box(3))
    with pytest.raises(ValueError, match="kernel must be a non-empty 2-D array"):
        filter2d(img, np.ones(3))
    with pytest.raises(ValueError, match="padding_mode must be one of 'zeros'"):
        filter2d(img, box(3), padding_mode="mirror")
    with pytest.raises(TypeError, match="padding_mode must be a str"):
        filter2d(img, box(3), padding_mode=0)
    with pytest.raises(ValueError, match="reflect padding of 4 needs an image height above it"):
        filter2d(img, box(9))
    with pytest.raises(ValueError, match="circular padding of 5 wraps more than the image"):
        filter2d(img, box(11), padding_mode="circular")
    with pytest.raises(ValueError, match="gaussian: sigma must be a positive number"):
        gaussian(3, -1.0)
    with pytest.raises(ValueError, match="box: k must be a positive int"):
        box(0)
