"""conv_matrix: M @ x.ravel() equals the convolution, M.T the transposed convolution."""

import numpy as np
import pytest
import scipy.sparse
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close

from svertka.analysis import conv_matrix

CASES = [
    # weight shape, input shape (C, *I), kwargs
    pytest.param((1, 1, 3), (1, 7), {}, id="1d"),
    pytest.param((2, 3, 4), (3, 11), dict(stride=3, padding=2, dilation=2), id="1d-all"),
    pytest.param((4, 3, 3, 3), (3, 6, 7), {}, id="2d"),
    pytest.param((2, 2, 3, 3), (2, 8, 8), dict(stride=2, padding=1), id="2d-stride-pad"),
    pytest.param((3, 1, 3, 2), (1, 9, 7), dict(dilation=(2, 3), padding=(0, 2)), id="2d-dilated"),
    pytest.param((2, 2, 1, 1), (2, 5, 4), dict(stride=(2, 3)), id="1x1-stride-larger"),
    pytest.param((2, 1, 5, 5), (1, 5, 5), {}, id="kernel-as-large-as-input"),
    pytest.param((2, 1, 4, 4), (1, 3, 3), dict(padding=1), id="kernel-as-large-as-padded"),
    pytest.param((4, 1, 3, 3), (2, 6, 6), dict(groups=2, padding=1), id="groups"),
    pytest.param((3, 1, 3, 3), (3, 5, 5), dict(groups=3, stride=2), id="depthwise"),
    pytest.param((2, 2, 2, 3, 2), (2, 4, 5, 4), dict(stride=(1, 2, 1), padding=1), id="3d"),
]
TORCH = {3: TF.conv1d, 4: TF.conv2d, 5: TF.conv3d}
TORCH_T = {3: TF.conv_transpose1d, 4: TF.conv_transpose2d, 5: TF.conv_transpose3d}


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("w_shape, in_shape, kwargs", CASES)
def test_conv_matrix_equals_conv(w_shape, in_shape, kwargs, sparse):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(w_shape)
    x = rng.standard_normal(in_shape)
    m = conv_matrix(w, in_shape, sparse=sparse, **kwargs)
    assert scipy.sparse.issparse(m) == sparse
    y = TORCH[len(w_shape)](torch.tensor(x[None]), torch.tensor(w), **kwargs)[0]
    assert m.shape == (y.numel(), x.size)
    assert_close((m @ x.ravel()).reshape(y.shape), y.numpy(), what="M @ x")


@pytest.mark.parametrize("w_shape, in_shape, kwargs", CASES)
def test_conv_matrix_transpose_is_conv_transpose(w_shape, in_shape, kwargs):
    rng = np.random.default_rng(1)
    w = rng.standard_normal(w_shape)
    m = conv_matrix(w, in_shape, **kwargs)
    x = torch.tensor(rng.standard_normal(in_shape)[None], requires_grad=True)
    y = TORCH[len(w_shape)](x, torch.tensor(w), **kwargs)
    gy = torch.tensor(rng.standard_normal(tuple(y.shape)))
    (gx,) = torch.autograd.grad(y, x, gy)   # the input gradient: a transposed convolution
    assert_close(m.T @ gy.numpy().ravel(), gx.numpy().ravel(), what="M.T @ gy")


def test_conv_matrix_transpose_matches_conv_transpose2d_directly():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((2, 3, 3, 3))       # conv: 3 -> 2 channels
    m = conv_matrix(w, (3, 7, 7), stride=2, padding=1)
    z = rng.standard_normal((2, 4, 4))
    y = TF.conv_transpose2d(torch.tensor(z[None]), torch.tensor(w), stride=2, padding=1)[0]
    assert_close((m.T @ z.ravel()).reshape(y.shape), y.numpy())


def test_conv_matrix_accepts_tensors_and_keeps_float32():
    import svertka

    w = svertka.ones(1, 1, 2, 2)
    m = conv_matrix(w, (1, 3, 3), sparse=False)
    assert m.dtype == np.float32
    assert m.sum() == 16.0


def test_conv_matrix_rejects_bad_arguments():
    w = np.ones((2, 3, 3, 3))
    with pytest.raises(TypeError, match="conv_matrix: weight must be a Tensor or an ndarray"):
        conv_matrix([[1.0]], (3, 5, 5))
    with pytest.raises(ValueError, match="weight must be 3-D, 4-D or 5-D"):
        conv_matrix(np.ones((3, 3)), (3, 5, 5))
    with pytest.raises(ValueError, match=r"input_shape must be a tuple of 3 positive ints"):
        conv_matrix(w, (5, 5))
    with pytest.raises(ValueError, match=r"expects 3 input channels .*got input_shape=\(4, 5"):
        conv_matrix(w, (4, 5, 5))
    with pytest.raises(ValueError, match="groups must be a positive int"):
        conv_matrix(w, (3, 5, 5), groups=0)
    with pytest.raises(ValueError, match=r"kernel \(3, 3\) .* is larger than the padded input"):
        conv_matrix(w, (3, 2, 5))
    with pytest.raises(ValueError, match="stride must be a positive int"):
        conv_matrix(w, (3, 5, 5), stride=0)
    with pytest.raises(TypeError, match="sparse must be None, True or False"):
        conv_matrix(w, (3, 5, 5), sparse="csr")
