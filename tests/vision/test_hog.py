"""hog against skimage.feature.hog on real images (camera, astronaut) and edge cases."""

import numpy as np
import pytest
from skimage import data, feature, transform
from tests._oracle import assert_close

import svertka
from svertka.vision import hog, hog_batch

CAMERA = transform.rescale(data.camera(), 0.25, anti_aliasing=True)          # (128, 128)
ASTRONAUT = transform.rescale(data.astronaut(), 0.25, anti_aliasing=True,
                              channel_axis=-1)                                 # (128, 128, 3)
RNG = np.random.default_rng(0)

CASES = [
    # image, channel_axis, orientations, pixels_per_cell, cells_per_block
    pytest.param(CAMERA, None, 9, (8, 8), (3, 3), id="camera-default"),
    pytest.param(CAMERA, None, 8, (6, 5), (2, 2), id="camera-rect-cells"),
    pytest.param(CAMERA, None, 7, (16, 16), (1, 1), id="camera-7-bins-one-cell-blocks"),
    pytest.param(CAMERA[:61, :45], None, 12, (4, 4), (2, 3), id="camera-ragged-crop"),
    pytest.param(ASTRONAUT, -1, 9, (8, 8), (2, 2), id="astronaut-colour"),
    pytest.param(np.moveaxis(ASTRONAUT, -1, 0), 0, 6, (10, 10), (2, 2), id="channel-first"),
    pytest.param(data.camera()[::6, ::6], None, 9, (8, 8), (3, 3), id="uint8"),
    pytest.param(RNG.random((24, 24)), None, 9, (8, 8), (3, 3), id="noise-one-block"),
    pytest.param(np.zeros((16, 16)), None, 9, (8, 8), (2, 2), id="flat"),
]


@pytest.mark.parametrize("block_norm", ["L1", "L1-sqrt", "L2", "L2-Hys"])
@pytest.mark.parametrize("image, channel_axis, orientations, ppc, cpb", CASES)
def test_hog_matches_skimage(image, channel_axis, orientations, ppc, cpb, block_norm):
    got = hog(image, orientations, ppc, cpb, block_norm, feature_vector=False,
              channel_axis=channel_axis)
    expected = feature.hog(image, orientations, ppc, cpb, block_norm, feature_vector=False,
                           channel_axis=channel_axis)
    assert got.dtype == expected.dtype
    # scikit-image sums each cell in single precision: agreement to ~1e-7 relative
    assert_close(got, expected, rtol=1e-5)


def test_hog_visualization_matches_skimage():
    for ppc, orientations in (((8, 8), 9), ((5, 7), 4), ((16, 16), 12)):
        fv, picture = hog(CAMERA, orientations, ppc, (2, 2), visualize=True)
        fv_sk, picture_sk = feature.hog(CAMERA, orientations, ppc, (2, 2), visualize=True)
        assert_close(fv, fv_sk, rtol=1e-5)
        assert_close(picture, picture_sk, rtol=1e-5)


def test_hog_float32_and_sqrt_and_tensor():
    img32 = CAMERA.astype(np.float32)
    got = hog(img32)
    assert got.dtype == np.float32
    assert_close(got, feature.hog(img32), rtol=1e-4)
    assert_close(hog(CAMERA, transform_sqrt=True), feature.hog(CAMERA, transform_sqrt=True),
                 rtol=1e-5)
    assert_close(hog(svertka.tensor(CAMERA)), feature.hog(CAMERA), rtol=1e-5)


def test_hog_descriptor_layout():
    h = hog(CAMERA, 9, (8, 8), (3, 3), feature_vector=False)
    assert h.shape == (14, 14, 3, 3, 9)
    assert hog(CAMERA).shape == (14 * 14 * 3 * 3 * 9,)
    # block (r, c) holds cells r..r+2, c..c+2: neighbouring blocks share their cells' votes
    l1 = hog(CAMERA, 9, (8, 8), (1, 1), block_norm="L1", feature_vector=False)
    assert np.allclose(l1.sum(axis=(2, 3, 4)), 1.0, atol=1e-2)   # eps = 1e-5


def test_hog_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"hog: the image of 10x40 pixels is too small for "
                                         r"blocks of \(3, 3\) cells of \(8, 8\) pixels"):
        hog(np.zeros((10, 40)))
    with pytest.raises(ValueError, match="only images with two spatial dimensions are "
                                         "supported; pass channel_axis"):
        hog(np.zeros((32, 32, 3)))
    with pytest.raises(ValueError, match="block_norm must be one of 'L1', 'L1-sqrt'"):
        hog(CAMERA, block_norm="L3")
    with pytest.raises(ValueError, match="orientations must be a positive int"):
        hog(CAMERA, orientations=0)
    with pytest.raises(ValueError, match="pixels_per_cell must be a positive int"):
        hog(CAMERA, pixels_per_cell=(8, 0))
    with pytest.raises(ValueError, match="channel_axis out of range"):
        hog(ASTRONAUT, channel_axis=3)
    with pytest.raises(TypeError, match="hog: image must be an ndarray or a Tensor"):
        hog([[0.0]])
    with pytest.raises(TypeError, match="image must hold real numbers"):
        hog(np.zeros((32, 32), dtype=complex))
    with pytest.raises(ValueError, match="transform_sqrt needs a non-negative image"):
        hog(-CAMERA, transform_sqrt=True)


@pytest.mark.parametrize("channels", [None, 3], ids=["grey", "colour"])
def test_hog_batch_equals_hog_per_image(channels):
    rng = np.random.default_rng(5)
    shape = (4, 20, 18) if channels is None else (4, channels, 20, 18)
    images = rng.random(shape).astype(np.float32)
    got = hog_batch(images, 6, (4, 3), (2, 2), "L1-sqrt")
    assert got.dtype == np.float32
    for n in range(4):
        one = feature.hog(images[n], 6, (4, 3), (2, 2), "L1-sqrt",
                          channel_axis=None if channels is None else 0)
        assert_close(got[n], one, rtol=1e-4)


def test_hog_batch_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"hog_batch: images must be 3-D \(N, H, W\) or 4-D"):
        hog_batch(np.zeros((8, 8)))
    with pytest.raises(TypeError, match="hog_batch: images must be a real ndarray or Tensor"):
        hog_batch([np.zeros((8, 8))])
    with pytest.raises(ValueError, match="hog_batch: the image of 8x8 pixels is too small"):
        hog_batch(np.zeros((2, 8, 8)))
