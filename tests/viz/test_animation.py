"""animate_convolution: one GIF frame per output position; the taps are the convolution's."""

import numpy as np
import pytest
from PIL import Image

from svertka.analysis import conv_matrix
from svertka.viz import animate_convolution
from svertka.viz.animation import convolution_frames

CASES = [
    # input, kernel, stride, padding, dilation
    pytest.param(4, 3, 1, 0, 1, id="no-padding"),
    pytest.param(5, 3, 2, 1, 1, id="stride-2-padding-1"),
    pytest.param(7, 3, 1, 0, 2, id="dilated"),
    pytest.param((5, 6), (3, 2), (2, 1), (0, 1), 1, id="rectangular"),
    pytest.param(3, 3, 1, 2, 1, id="full-padding"),
]


@pytest.mark.parametrize("size, kernel, stride, padding, dilation", CASES)
def test_convolution_frames_cover_the_conv_matrix_taps(size, kernel, stride, padding, dilation):
    out, frames = convolution_frames(size, kernel, stride, padding, dilation)
    hw = (size, size) if isinstance(size, int) else size
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    p = (padding, padding) if isinstance(padding, int) else padding
    m = conv_matrix(np.ones((1, 1) + k), (1,) + hw, stride, padding, dilation, sparse=False)
    assert len(frames) == out[0] * out[1] == m.shape[0]
    for row, ((r, c), taps) in enumerate(frames):
        assert row == r * out[1] + c
        y, x = taps[:, 0] - p[0], taps[:, 1] - p[1]
        inside = (y >= 0) & (y < hw[0]) & (x >= 0) & (x < hw[1])
        assert sorted(y[inside] * hw[1] + x[inside]) == list(np.flatnonzero(m[row]))


@pytest.mark.parametrize("size, kernel, stride, padding, dilation",
                         [CASES[0], CASES[1], CASES[3]])
def test_animate_convolution_writes_a_gif_with_a_frame_per_output(tmp_path, size, kernel, stride,
                                                                  padding, dilation):
    path = str(tmp_path / "conv.gif")
    assert animate_convolution(size, kernel, stride, padding, dilation, path=path) == [path]
    out, _ = convolution_frames(size, kernel, stride, padding, dilation)
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == out[0] * out[1]


def test_animate_convolution_max_frames(tmp_path):
    path = str(tmp_path / "long.gif")
    animate_convolution(8, 2, path=path, max_frames=5, fps=5)
    with Image.open(path) as gif:
        assert gif.n_frames == 5


def test_animate_convolution_rejects_bad_arguments(tmp_path):
    path = str(tmp_path / "x.gif")
    with pytest.raises(ValueError, match=r"animate_convolution: the kernel \(5, 5\) with "
                                         r"dilation \(1, 1\) does not fit the padded input"):
        animate_convolution(3, 5, path=path)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        animate_convolution(5, 3, stride=0, path=path)
    with pytest.raises(ValueError, match="padding must be a non-negative int"):
        animate_convolution(5, 3, padding=-1, path=path)
    with pytest.raises(ValueError, match="fps must be a positive int"):
        animate_convolution(5, 3, fps=0, path=path)
