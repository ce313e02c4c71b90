"""The N-d convolution core on ndarrays: im2col/col2im, the three GEMM kernels, the FFT path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close

from svertka.kernels import conv as K


def _rand(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _torch_conv(x, w, stride, pads, dilation, groups):
    n = w.ndim - 2
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]       # F.pad's order: last axis first
    xt = TF.pad(torch.tensor(x), flat)
    conv = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}[n]
    return conv(xt, torch.tensor(w), stride=stride, dilation=dilation, groups=groups).numpy()


# (id, x shape, w shape, stride, pads, dilation, groups)
KERNEL_CASES = [
    ("1d_asymmetric_pads", (2, 3, 9), (4, 3, 3), (1,), ((0, 2),), (1,), 1),
    ("2d_asymmetric_strided", (2, 4, 7, 8), (6, 2, 3, 2), (2, 1), ((1, 0), (2, 3)), (1, 2), 2),
    ("2d_pointwise", (2, 5, 4, 3), (3, 5, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ("2d_pointwise_grouped", (2, 6, 4, 3), (6, 2, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 3),
    ("2d_depthwise", (2, 4, 6, 6), (8, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4),
    ("2d_many_channels_few_positions", (3, 4, 3, 3), (32, 4, 2, 2), (1, 1), ((0, 0), (0, 0)),
     (1, 1), 1),
    ("2d_grouped_few_positions", (3, 4, 3, 3), (32, 2, 2, 2), (1, 1), ((0, 0), (0, 0)),
     (1, 1), 2),
    ("3d_dilated", (1, 2, 5, 6, 5), (3, 2, 2, 2, 2), (1, 2, 1), ((0, 0), (1, 1), (0, 1)),
     (2, 1, 2), 1),
]


@pytest.mark.parametrize("name, xs, ws, s, pads, d, g", KERNEL_CASES,
                         ids=[c[0] for c in KERNEL_CASES])
def test_conv_forward_matches_torch_with_asymmetric_pads(name, xs, ws, s, pads, d, g):
    x, w = _rand(xs, 1), _rand(ws, 2)
    assert_close(K.conv_forward(x, w, s, pads, d, g), _torch_conv(x, w, s, pads, d, g))


@pytest.mark.parametrize("name, xs, ws, s, pads, d, g", KERNEL_CASES,
                         ids=[c[0] for c in KERNEL_CASES])
def test_conv_input_and_weight_grads_match_torch(name, xs, ws, s, pads, d, g):
    x, w = _rand(xs, 3), _rand(ws, 4)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    n = w.ndim - 2
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]
    conv = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}[n]
    yt = conv(TF.pad(xt, flat), wt, stride=s, dilation=d, groups=g)
    gy = _rand(tuple(yt.shape), 5)
    yt.backward(torch.tensor(gy))
    assert_close(K.conv_input_grad(gy, w, x.shape, s, pads, d, g), xt.grad, what="gx")
    assert_close(K.conv_weight_grad(x, gy, w.shape, s, pads, d, g), wt.grad, what="gw")
    _, saved = K.conv_forward(x, w, s, pads, d, g, keep=True)
    assert_close(K.conv_weight_grad(x, gy, w.shape, s, pads, d, g, saved=saved), wt.grad,
                 what="gw from kept columns")


def test_conv_forward_skips_im2col_for_pointwise_kernels():
    x = _rand((2, 6, 4, 5), 6)
    _, saved = K.conv_forward(x, _rand((4, 3, 1, 1), 7), (1, 1), ((0, 0), (0, 0)), (1, 1), 2,
                              keep=True)
    assert np.shares_memory(saved.cols, x)            # the input itself is the column matrix


def test_conv_forward_keeps_float32():
    x, w = _rand((2, 3, 5, 5), 8, np.float32), _rand((4, 3, 3, 3), 9, np.float32)
    y = K.conv_forward(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    gy = np.ones_like(y)
    assert y.dtype == np.float32
    assert K.conv_input_grad(gy, w, x.shape, (1, 1), ((1, 1),) * 2, (1, 1), 1).dtype == np.float32
    assert K.conv_weight_grad(x, gy, w.shape, (1, 1), ((1, 1),) * 2, (1, 1), 1).dtype \
        == np.float32


@pytest.mark.parametrize("xs, kernel, s, pads, d", [
    ((2, 3, 7, 8), (3, 2), (2, 1), ((1, 0), (0, 2)), (1, 2)),
    ((1, 2, 9), (4,), (3,), ((2, 2),), (1,)),
    ((1, 2, 4, 5, 4), (2, 2, 3), (1, 2, 1), ((0, 1), (0, 0), (1, 1)), (2, 1, 1)),
], ids=["2d", "1d_stride_below_kernel", "3d"])
def test_col2im_is_adjoint_of_im2col(xs, kernel, s, pads, d):
    x = _rand(xs, 10)
    cols = K.im2col(x, kernel, s, pads, d)
    c = _rand(cols.shape, 11)
    back = K.col2im(c, xs, kernel, s, pads, d)
    assert back.shape == xs
    lhs, rhs = np.sum(cols * c), np.sum(x * back)
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)


def test_im2col_matches_torch_unfold_layout():
    x = _rand((2, 3, 6, 7), 12)
    cols = K.im2col(x, (2, 3), (2, 1), ((1, 1), (0, 0)), (1, 2))
    expect = TF.unfold(torch.tensor(x), (2, 3), dilation=(1, 2), padding=(1, 0), stride=(2, 1))
    assert_close(cols.reshape(2, 18, -1), expect)


@pytest.mark.parametrize("kernel, dilation, pads", [
    ((3,), (1,), ((1, 1),)), ((4,), (1,), ((1, 2),)), ((2, 3), (3, 2), ((1, 2), (2, 2))),
    ((1, 1, 1), (1, 1, 1), ((0, 0),) * 3)], ids=["odd", "even", "dilated", "pointwise"])
def test_same_pads_put_the_extra_pixel_high(kernel, dilation, pads):
    assert K.same_pads(kernel, dilation) == pads


@pytest.mark.parametrize("xs, ws, pads", [
    ((2, 3, 20), (4, 3, 5), ((2, 2),)),
    ((2, 3, 9, 10), (4, 3, 3, 4), ((1, 1), (1, 2))),
    ((2, 3, 9, 10), (4, 3, 9, 1), None),
    ((1, 2, 5, 6, 4), (3, 2, 2, 3, 2), ((0, 1), (1, 1), (0, 0))),
], ids=["1d", "2d_same_even", "2d_kernel_as_tall_as_input", "3d"])
def test_conv_fft_agrees_with_gemm_path(xs, ws, pads):
    x, w = _rand(xs, 13), _rand(ws, 14)
    n = w.ndim - 2
    gemm = K.conv_forward(x, w, (1,) * n, pads or ((0, 0),) * n, (1,) * n, 1)
    assert_close(K.conv_fft(x, w, pads), gemm, rtol=1e-12)


def test_conv_fft_keeps_float32():
    x, w = _rand((1, 2, 8, 8), 15, np.float32), _rand((3, 2, 3, 3), 16, np.float32)
    y = K.conv_fft(x, w)
    assert y.dtype == np.float32
    assert_close(y, K.conv_forward(x, w, (1, 1), ((0, 0),) * 2, (1, 1), 1), rtol=1e-5)


def test_conv_fft_rejects_kernel_larger_than_input():
    with pytest.raises(ValueError, match=r"conv_fft: kernel \(5,\) is larger than the padded "
                                         r"input \(3,\)"):
        K.conv_fft(np.zeros((1, 1, 3)), np.zeros((1, 1, 5)))


@pytest.mark.parametrize("kernel, stride, dilation, outs", [
    ((3, 2), (2, 1), (1, 3), (4, 5)), ((1,), (3,), (2,), (7,)), ((2, 2, 2), (1, 1, 1), (1, 1, 1),
                                                                (3, 1, 2))])
def test_offset_slabs_match_offset_slices_in_row_major_order(kernel, stride, dilation, outs):
    from svertka.kernels.conv.geometry import offset_slabs, offset_slices
    got = offset_slabs(kernel, stride, dilation, outs)
    assert [o for o, _ in got] == list(np.ndindex(*kernel))
    for offs, slab in got:
        assert slab == offset_slices(offs, stride, dilation, outs)[2:]


@pytest.mark.parametrize("keep", [True, False])
def test_conv_forward_channels_last_adds_bias_like_torch(keep):
    # the bias is added in the copy out of the channels-last GEMM (LeNet-5's second conv)
    from svertka.kernels.conv import plan
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((8, 6, 14, 14)), rng.standard_normal((16, 6, 5, 5))
    b = rng.standard_normal(16)
    pads = ((0, 0), (0, 0))
    path = plan.forward_path(x.shape, w.shape, (1, 1), pads, (1, 1), 1, keep=keep)
    assert path == ("channels_last" if keep else "channels_last_blocks")
    got = plan.conv_forward(x, w, (1, 1), pads, (1, 1), 1, keep=keep, bias=b)
    y = got[0] if keep else got
    want = TF.conv2d(torch.tensor(x), torch.tensor(w), torch.tensor(b)).numpy()
    assert_close(y, want)
    if keep:
        plan.release(got[1])


def test_conv_channels_last_blocks_run_small_work_on_the_calling_thread(monkeypatch):
    # a small convolution's column blocks are not handed to another thread
    from svertka.kernels.conv import columns
    seen = []
    real = columns.parallel

    def recording(fn, n, nbytes, min_bytes=None, threads=None):
        seen.append(threads)
        return real(fn, n, nbytes, min_bytes, threads)

    monkeypatch.setattr(columns, "parallel", recording)
    monkeypatch.setattr(columns.gemm, "blas_threads", lambda: 2)
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((4, 2, 6, 6)), rng.standard_normal((3, 2, 3, 3))
    pads = ((1, 1), (1, 1))
    y, _ = columns.forward_channels_last(x, w, (1, 1), pads, (1, 1), (6, 6), False, 2**20)
    assert seen == [1]
    want = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    assert_close(y, want)


def test_conv_window_last_is_a_read_only_view_of_the_input():
    from svertka.kernels.conv import columns
    xl = np.arange(2 * 5 * 5 * 3, dtype=np.float64).reshape(2, 5, 5, 3)
    v = columns._window_last(xl, (2, 3), (2, 1), (1, 1), (2, 3))    # (N, O1, O2, K1, K2, C)
    assert v.shape == (2, 2, 3, 2, 3, 3) and not v.flags.writeable
    assert np.shares_memory(v, xl)
    np.testing.assert_array_equal(v[1, 1, 2, 1, 0], xl[1, 3, 2])
