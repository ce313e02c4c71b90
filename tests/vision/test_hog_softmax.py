"""The HOG + softmax baseline: features, registry, CLI training on the digits."""

import json

import numpy as np
import pytest
from skimage import feature
from tests._oracle import assert_close

import svertka
from svertka import models
from svertka.models.hog_softmax import HOGSoftmax, default_pixels_per_cell


@pytest.mark.parametrize("size, ppc", [((8, 8), (2, 2)), ((28, 28), (7, 7)), ((32, 32), (8, 8)),
                                       ((224, 96), (8, 8)), ((6, 12), (2, 3))],
                         ids=["digits", "mnist", "cifar", "large", "small-rect"])
def test_hog_softmax_default_pixels_per_cell(size, ppc):
    assert default_pixels_per_cell(size) == ppc


@pytest.mark.parametrize("input_size", [(1, 8, 8), (3, 32, 32)], ids=["grey", "colour"])
def test_hog_softmax_features_are_skimage_hog(input_size):
    m = models.get_model("hog-softmax", num_classes=4, in_channels=input_size[0],
                         input_size=input_size)
    x = svertka.rand(3, *input_size)
    f = m.features(x).numpy()
    assert f.shape == (3, m.num_features) and f.dtype == np.float32
    for n in range(3):
        img = x.numpy()[n]
        expected = feature.hog(img[0] if input_size[0] == 1 else img, 9, m.pixels_per_cell,
                               (2, 2), "L2", channel_axis=None if input_size[0] == 1 else 0)
        assert_close(f[n], expected, rtol=1e-4)
    y = m(x)
    assert tuple(y.shape) == (3, 4)
    y.sum().backward()
    assert m.classifier.weight.grad is not None
    assert sum(p.numel() for p in m.parameters()) == (m.num_features + 1) * 4


def test_hog_softmax_is_registered_with_digit_input():
    info = models.model_info("hog-softmax")
    assert info["input_size"] == (1, 8, 8)
    assert models.get_model("hog-softmax", input_size=(1, 8, 8)).num_features == 324


def test_hog_softmax_trains_above_90_percent_on_digits(tmp_path):
    from svertka import cli

    assert cli.main(["train", "--model", "hog-softmax", "--epochs", "30", "--quiet",
                     "--out", str(tmp_path)]) in (0, None)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.90


def test_hog_softmax_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"HOGSoftmax: input_size must be \(C, H, W\)"):
        HOGSoftmax(input_size=(8, 8))
    with pytest.raises(ValueError, match="in_channels=3 does not match input_size"):
        HOGSoftmax(in_channels=3, input_size=(1, 8, 8))
    with pytest.raises(ValueError, match="fewer than a block"):
        HOGSoftmax(input_size=(1, 8, 8), pixels_per_cell=(8, 8))
    with pytest.raises(ValueError, match="block_norm must be one of"):
        HOGSoftmax(block_norm="max")
    m = HOGSoftmax(input_size=(1, 8, 8))
    with pytest.raises(ValueError, match=r"expected inputs of shape \(N, \*\(1, 8, 8\)\)"):
        m(svertka.zeros(2, 1, 9, 9))


@pytest.mark.parametrize("input_size, ppc, cpb, orientations", [
    ((1, 8, 8), (2, 2), (3, 3), 9), ((3, 32, 32), (8, 8), (2, 2), 9),
    ((3, 13, 17), (3, 4), (2, 3), 7), ((2, 16, 16), (4, 4), (3, 3), 4),
], ids=["digits", "colour", "colour-odd", "two-channels-45deg-edges"])
@pytest.mark.parametrize("block_norm", ["L1", "L1-sqrt", "L2", "L2-Hys"])
def test_hog_features_equal_numpy_hog_batch(input_size, ppc, cpb, orientations, block_norm):
    """The traced op version of the model against the NumPy reference: bit for bit in the
    binning in float64, rounding only in float32, on random and on integer images (ties
    between channels, axis-aligned and 45-degree gradients, flat regions)."""
    from svertka.models.hog_softmax import hog_features
    from svertka.vision import hog_batch

    rng = np.random.default_rng(0)
    ints = rng.integers(0, 17, (6, *input_size)).astype(np.float64)
    ints[0] = 0
    ints[1, :, :, :5] = 5
    ints[2] = ints[2, :1]
    for x in (rng.random((6, *input_size)), ints):
        for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-6)):
            x = x.astype(dtype)
            want = hog_batch(x[:, 0] if input_size[0] == 1 else x, orientations, ppc, cpb,
                             block_norm)
            got = hog_features(svertka.tensor(x), orientations, ppc, cpb, block_norm).numpy()
            assert got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=0, atol=tol)


@pytest.mark.parametrize("input_size", [(1, 8, 8), (3, 6, 6)], ids=["grey", "colour"])
def test_hog_softmax_input_gradient_matches_finite_differences(input_size):
    """The magnitudes carry the gradient (the binning is piecewise constant); flat regions,
    where atan2(0, 0) and sqrt(0) sit, give finite gradients, not NaN."""
    from svertka.autograd.gradcheck import gradcheck

    svertka.manual_seed(0)
    m = models.get_model("hog-softmax", in_channels=input_size[0], input_size=input_size)
    m = m.double()
    x = np.random.default_rng(0).random((2, *input_size))
    x[0, :, :3] = 0.5                                    # a flat band: zero gradients
    xt = svertka.tensor(x, requires_grad=True)
    m(xt).sum().backward()
    assert np.isfinite(xt.grad.numpy()).all() and np.abs(xt.grad.numpy()).max() > 0
    assert gradcheck(m, (svertka.tensor(x[1:], requires_grad=True),))
