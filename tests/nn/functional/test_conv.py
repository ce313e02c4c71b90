"""Convolutions of nn.functional against torch 2.13 (float64, random upstream gradient)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _ids(table):
    return [c[0] for c in table]


# (id, input shape, weight shape, kwargs)
CONV_CASES = {
    1: [
        ("plain", (2, 3, 9), (4, 3, 3), {}),
        ("stride2_pad1", (2, 3, 9), (4, 3, 3), dict(stride=2, padding=1)),
        ("dilation2", (2, 3, 11), (4, 3, 3), dict(dilation=2, padding=2)),
        ("same_even_kernel", (2, 3, 8), (4, 3, 4), dict(padding="same")),
        ("same_even_kernel_dilation3", (2, 3, 12), (2, 3, 2), dict(padding="same",
                                                                  dilation=3)),
        ("valid", (2, 3, 8), (4, 3, 3), dict(padding="valid")),
        ("groups3", (2, 6, 8), (9, 2, 3), dict(groups=3, padding=1)),
        ("depthwise", (2, 4, 8), (4, 1, 3), dict(groups=4)),
        ("depthwise_multiplier2", (2, 4, 8), (8, 1, 3), dict(groups=4, stride=2)),
        ("kernel_1", (2, 5, 7), (3, 5, 1), {}),
        ("kernel_1_stride2", (2, 5, 7), (3, 5, 1), dict(stride=2)),
        ("kernel_fills_padded_input", (2, 3, 5), (4, 3, 7), dict(padding=1)),
        ("stride_larger_than_kernel", (2, 3, 11), (4, 3, 2), dict(stride=4)),
        ("empty_batch", (0, 3, 8), (4, 3, 3), dict(padding=1)),
        ("unbatched", (3, 8), (4, 3, 3), dict(padding="same")),
    ],
    2: [
        ("plain", (2, 3, 6, 7), (4, 3, 3, 3), {}),
        ("stride_tuple", (2, 3, 7, 8), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0))),
        ("dilation_tuple", (2, 3, 8, 9), (4, 3, 3, 3), dict(dilation=(2, 1), padding=1)),
        ("same_even_kernel", (2, 3, 6, 7), (4, 3, 4, 2), dict(padding="same")),
        ("same_dilated", (2, 3, 7, 7), (4, 3, 2, 3), dict(padding="same", dilation=(3, 2))),
        ("valid", (2, 3, 6, 6), (4, 3, 3, 3), dict(padding="valid")),
        ("groups2", (2, 4, 6, 6), (6, 2, 3, 3), dict(groups=2, padding=1)),
        ("depthwise", (2, 4, 6, 6), (4, 1, 3, 3), dict(groups=4, padding=1)),
        ("depthwise_stride2", (2, 4, 7, 7), (8, 1, 3, 3), dict(groups=4, stride=2)),
        ("depthwise_dilated", (2, 3, 7, 8), (3, 1, 2, 3), dict(groups=3, dilation=(2, 1),
                                                              stride=(1, 2), padding=(0, 1))),
        ("groups2_one_output_each", (2, 4, 5, 5), (2, 2, 3, 3), dict(groups=2, stride=2)),
        ("kernel_1x1", (2, 5, 4, 5), (3, 5, 1, 1), {}),
        ("kernel_1x1_groups", (2, 6, 4, 5), (4, 3, 1, 1), dict(groups=2)),
        ("kernel_1x1_padded", (2, 5, 4, 5), (3, 5, 1, 1), dict(padding=1)),
        ("kernel_fills_padded_input", (2, 3, 4, 5), (4, 3, 6, 7), dict(padding=1)),
        ("stride_larger_than_kernel", (2, 3, 9, 9), (4, 3, 2, 2), dict(stride=3)),
        ("many_channels_few_positions", (3, 4, 3, 3), (16, 4, 3, 3), {}),
        ("empty_batch", (0, 3, 5, 5), (4, 3, 3, 3), dict(padding=1)),
        ("unbatched", (3, 5, 6), (4, 3, 3, 3), dict(padding=1)),
        ("everything", (2, 6, 9, 8), (4, 3, 3, 2), dict(stride=(2, 1), padding=(2, 1),
                                                        dilation=(2, 3), groups=2)),
    ],
    3: [
        ("plain", (2, 2, 4, 5, 4), (3, 2, 2, 3, 2), {}),
        ("stride_pad", (2, 2, 5, 5, 5), (3, 2, 3, 3, 3), dict(stride=2, padding=1)),
        ("same_even_kernel", (1, 2, 4, 5, 3), (3, 2, 2, 2, 3), dict(padding="same")),
        ("dilation_groups", (2, 4, 6, 5, 5), (4, 2, 2, 2, 2), dict(dilation=(2, 1, 2),
                                                                  groups=2)),
        ("depthwise", (1, 3, 4, 4, 4), (3, 1, 3, 3, 3), dict(groups=3, padding=1)),
        ("kernel_1x1x1", (2, 3, 3, 4, 2), (2, 3, 1, 1, 1), {}),
        ("empty_batch", (0, 2, 4, 4, 4), (3, 2, 3, 3, 3), {}),
        ("unbatched", (2, 4, 4, 3), (3, 2, 2, 2, 2), dict(padding=1)),
    ],
}

_SV_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_TH_CONV = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}
_ALL_CONV = [(n,) + c for n, cases in CONV_CASES.items() for c in cases]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("n, name, xs, ws, kw", _ALL_CONV,
                         ids=[f"conv{c[0]}d-{c[1]}" for c in _ALL_CONV])
def test_conv_forward_and_grads_match_torch(n, name, xs, ws, kw):
    x, w, b = _rand(xs, 1), _rand(ws, 2), _rand(ws[:1], 3)
    compare_with_torch(lambda x, w, b: _SV_CONV[n](x, w, b, **kw),
                       lambda x, w, b: _TH_CONV[n](x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_conv_grads_match_torch_without_bias(n):
    name, xs, ws, kw = CONV_CASES[n][1]
    compare_with_torch(lambda x, w: _SV_CONV[n](x, w, **kw),
                       lambda x, w: _TH_CONV[n](x, w, **kw), _rand(xs, 4), _rand(ws, 5))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_conv_grad_of_input_only_matches_torch(n):
    name, xs, ws, kw = CONV_CASES[n][0]
    x, w = _rand(xs, 6), _rand(ws, 7)
    compare_with_torch(lambda x, w: _SV_CONV[n](x, w, **kw),
                       lambda x, w: _TH_CONV[n](x, w, **kw), x, w, grad=[True, False])


@pytest.mark.parametrize("n, name, xs, ws, kw", [(1,) + CONV_CASES[1][1],
                                                 (2,) + CONV_CASES[2][-1],
                                                 (3,) + CONV_CASES[3][3]],
                         ids=["conv1d-stride2_pad1", "conv2d-everything",
                              "conv3d-dilation_groups"])
def test_conv_forward_float32_matches_torch(n, name, xs, ws, kw):
    x, w = _rand(xs, 8).astype(np.float32), _rand(ws, 9).astype(np.float32)
    b = _rand(ws[:1], 10).astype(np.float32)
    y = _SV_CONV[n](svertka.tensor(x), svertka.tensor(w), svertka.tensor(b), **kw)
    assert y.dtype == svertka.float32
    assert_close(y, _TH_CONV[n](torch.tensor(x), torch.tensor(w), torch.tensor(b), **kw),
                 rtol=1e-4)


# (id, input shape, weight shape (C_in, C_out/groups, K...), kwargs)
CONVT_CASES = {
    1: [
        ("plain", (2, 3, 5), (3, 4, 3), {}),
        ("stride2_pad1_outpad1", (2, 3, 5), (3, 2, 3), dict(stride=2, padding=1,
                                                           output_padding=1)),
        ("dilation_outpad_below_dilation", (2, 3, 4), (3, 2, 2), dict(dilation=3,
                                                                     output_padding=2)),
        ("groups3", (2, 6, 5), (6, 2, 3), dict(groups=3, stride=2)),
        ("kernel_1", (2, 3, 5), (3, 4, 1), {}),
        ("stride_larger_than_kernel", (2, 3, 4), (3, 2, 2), dict(stride=3)),
        ("empty_batch", (0, 3, 5), (3, 2, 3), {}),
        ("unbatched", (3, 5), (3, 2, 3), dict(stride=2)),
        ("stride1_padded_outpad_below_dilation", (2, 1, 6), (1, 2, 3),
         dict(padding=1, dilation=2, output_padding=1)),
    ],
    2: [
        ("plain", (2, 3, 4, 5), (3, 4, 3, 3), {}),
        ("stride2_pad1_outpad1", (2, 3, 4, 4), (3, 2, 4, 4), dict(stride=2, padding=1,
                                                                 output_padding=1)),
        ("tuples", (2, 4, 4, 5), (4, 3, 3, 2), dict(stride=(2, 3), padding=(0, 1),
                                                    output_padding=(1, 2), dilation=(2, 1),
                                                    groups=2)),
        ("depthwise", (2, 4, 4, 4), (4, 1, 3, 3), dict(groups=4, stride=2, padding=1)),
        ("kernel_1x1", (2, 3, 4, 5), (3, 4, 1, 1), {}),
        ("kernel_1x1_dilated_outpad", (2, 3, 4, 5), (3, 4, 1, 1), dict(dilation=3,
                                                                      output_padding=2)),
        ("padding_eats_output", (2, 3, 3, 3), (3, 2, 3, 3), dict(padding=2)),
        ("empty_batch", (0, 3, 4, 4), (3, 2, 3, 3), dict(stride=2)),
        # issue 19: the stride-1 path read the output_padding rows from outside its input
        ("stride1_padded_outpad_below_dilation", (2, 1, 6, 6), (1, 2, 3, 3),
         dict(padding=1, dilation=2, output_padding=1)),
        ("unbatched", (3, 4, 4), (3, 2, 3, 3), dict(stride=2, padding=1)),
    ],
    3: [
        ("plain", (2, 2, 3, 3, 2), (2, 3, 2, 2, 2), {}),
        ("stride_pad_outpad", (1, 2, 3, 3, 3), (2, 2, 3, 3, 3), dict(stride=2, padding=1,
                                                                    output_padding=1)),
        ("groups", (2, 4, 3, 2, 3), (4, 1, 2, 3, 2), dict(groups=2, dilation=(1, 2, 1))),
        ("unbatched", (2, 3, 3, 2), (2, 2, 2, 2, 2), dict(stride=2)),
        ("stride1_padded_outpad_below_dilation", (1, 2, 4, 3, 4), (2, 1, 3, 2, 3),
         dict(padding=(1, 0, 2), dilation=(2, 3, 3), output_padding=(1, 2, 1))),
    ],
}

_SV_CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_TH_CONVT = {1: TF.conv_transpose1d, 2: TF.conv_transpose2d, 3: TF.conv_transpose3d}
_ALL_CONVT = [(n,) + c for n, cases in CONVT_CASES.items() for c in cases]


@pytest.mark.parametrize("n, name, xs, ws, kw", _ALL_CONVT,
                         ids=[f"conv_transpose{c[0]}d-{c[1]}" for c in _ALL_CONVT])
def test_conv_transpose_forward_and_grads_match_torch(n, name, xs, ws, kw):
    x, w = _rand(xs, 11), _rand(ws, 12)
    b = _rand((ws[1] * kw.get("groups", 1),), 13)
    compare_with_torch(lambda x, w, b: _SV_CONVT[n](x, w, b, **kw),
                       lambda x, w, b: _TH_CONVT[n](x, w, b, **kw), x, w, b)


def test_conv_transpose2d_forward_float32_matches_torch():
    name, xs, ws, kw = CONVT_CASES[2][2]
    x, w = _rand(xs, 14).astype(np.float32), _rand(ws, 15).astype(np.float32)
    y = F.conv_transpose2d(svertka.tensor(x), svertka.tensor(w), **kw)
    assert y.dtype == svertka.float32
    assert_close(y, TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), **kw), rtol=1e-4)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(stride=(2, 3),
                                                                         dilation=(1, 2),
                                                                         groups=2)],
                         ids=["plain", "stride2_pad1", "strided_dilated_grouped"])
def test_conv_transpose2d_is_adjoint_of_conv2d(kw):
    x = _rand((2, 4, 9, 10), 16)
    w = _rand((6, 4 // kw.get("groups", 1), 3, 3), 17)
    y_conv = F.conv2d(svertka.tensor(x), svertka.tensor(w), **kw)
    y = _rand(tuple(y_conv.shape), 18)
    # output_padding restores the input rows that conv's last window did not reach
    s = np.broadcast_to(kw.get("stride", 1), 2)
    d = np.broadcast_to(kw.get("dilation", 1), 2)
    p = kw.get("padding", 0)
    reach = [(o - 1) * si - 2 * p + di * 2 + 1
             for o, si, di in zip(y_conv.shape[2:], s, d)]
    op = tuple(int(i - r) for i, r in zip(x.shape[2:], reach))
    xt = F.conv_transpose2d(svertka.tensor(y), svertka.tensor(w), **kw,
                            output_padding=op).numpy()
    lhs = float(np.sum(y_conv.numpy() * y))
    rhs = float(np.sum(x * xt))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


# ------------------------------------------------------------------------------ unfold / fold

UNFOLD_CASES = [
    ("k2", (2, 3, 4, 5), dict(kernel_size=2)),
    ("k3_pad1_stride2", (2, 3, 6, 7), dict(kernel_size=3, padding=1, stride=2)),
    ("tuples_dilated", (2, 2, 6, 7), dict(kernel_size=(2, 3), dilation=(1, 2), padding=(1, 0),
                                          stride=(2, 1))),
    ("k1", (1, 3, 3, 4), dict(kernel_size=1)),
    ("kernel_is_input", (2, 2, 3, 4), dict(kernel_size=(3, 4))),
    ("empty_batch", (0, 2, 4, 4), dict(kernel_size=2)),
    ("unbatched", (3, 4, 5), dict(kernel_size=2, stride=2)),
]


@pytest.mark.parametrize("name, xs, kw", UNFOLD_CASES, ids=_ids(UNFOLD_CASES))
def test_unfold_matches_torch(name, xs, kw):
    compare_with_torch(lambda x: F.unfold(x, **kw), lambda x: TF.unfold(x, **kw), _rand(xs, 19))


@pytest.mark.parametrize("name, xs, kw", UNFOLD_CASES, ids=_ids(UNFOLD_CASES))
def test_fold_matches_torch(name, xs, kw):
    cols = TF.unfold(torch.tensor(_rand(xs, 20)), **kw).numpy()
    size = xs[-2:]
    compare_with_torch(lambda c: F.fold(c, size, **kw), lambda c: TF.fold(c, size, **kw),
                       cols + _rand(cols.shape, 21))


def test_fold_of_unfold_counts_block_coverage():
    x = svertka.ones(1, 1, 3, 3)
    y = F.fold(F.unfold(x, 2), (3, 3), 2)
    assert y.numpy()[0, 0].tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]


# ------------------------------------------------------------------------------ unshared conv

def _locally_connected_reference(x, w, b, stride, padding):
    """Slow, explicit loops over positions: the definition of the layer."""
    O1, O2, Co, C, K1, K2 = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    y = np.zeros((x.shape[0], Co, O1, O2))
    for i in range(O1):
        for j in range(O2):
            patch = xp[:, :, i * stride[0]:i * stride[0] + K1, j * stride[1]:j * stride[1] + K2]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", patch, w[i, j])
    return y if b is None else y + b


LC_CASES = [
    ("k3", (2, 3, 5, 6), (3, 4, 2, 3, 3, 3), dict(), True),
    ("stride2_pad1", (2, 2, 5, 5), (3, 3, 3, 2, 3, 3), dict(stride=2, padding=1), True),
    ("k1_no_bias", (1, 3, 3, 4), (3, 4, 2, 3, 1, 1), dict(), False),
    ("tuples", (2, 2, 6, 5), (2, 5, 2, 2, 2, 3), dict(stride=(3, 1), padding=(0, 1)), True),
]


@pytest.mark.parametrize("name, xs, ws, kw, with_bias", LC_CASES, ids=_ids(LC_CASES))
def test_locally_connected2d_matches_reference(name, xs, ws, kw, with_bias):
    x, w = _rand(xs, 22), _rand(ws, 23)
    b = _rand((ws[2], ws[0], ws[1]), 24) if with_bias else None
    y = F.locally_connected2d(svertka.tensor(x), svertka.tensor(w),
                              None if b is None else svertka.tensor(b), **kw)
    s = kw.get("stride", 1)
    p = kw.get("padding", 0)
    s, p = (s, s) if isinstance(s, int) else s, (p, p) if isinstance(p, int) else p
    assert_close(y, _locally_connected_reference(x, w, b, s, p))


@pytest.mark.parametrize("name, xs, ws, kw, with_bias", LC_CASES, ids=_ids(LC_CASES))
def test_locally_connected2d_passes_gradcheck(name, xs, ws, kw, with_bias):
    args = [svertka.tensor(_rand(xs, 25), requires_grad=True),
            svertka.tensor(_rand(ws, 26), requires_grad=True)]
    if with_bias:
        args.append(svertka.tensor(_rand((ws[2], ws[0], ws[1]), 27), requires_grad=True))
    assert svertka.autograd.gradcheck(lambda *a: F.locally_connected2d(*a, **kw), tuple(args))


def test_locally_connected2d_accepts_unbatched_input():
    x, w = _rand((3, 5, 6), 28), _rand((3, 4, 2, 3, 3, 3), 29)
    y = F.locally_connected2d(svertka.tensor(x), svertka.tensor(w))
    assert_close(y, _locally_connected_reference(x[None], w, None, (1, 1), (0, 0))[0])


def test_locally_connected2d_with_shared_weights_is_conv2d():
    x, w = _rand((2, 3, 5, 6), 30), _rand((4, 3, 3, 3), 31)
    wl = np.broadcast_to(w, (3, 4) + w.shape).copy()
    y = F.locally_connected2d(svertka.tensor(x), svertka.tensor(wl))
    assert_close(y, TF.conv2d(torch.tensor(x), torch.tensor(w)))


# ------------------------------------------------------------------------------ gradcheck

@pytest.mark.parametrize("fn, xs, ws, kw", [
    (F.conv1d, (2, 2, 5), (3, 2, 2), dict(padding="same", dilation=2)),
    (F.conv2d, (1, 4, 4, 5), (2, 2, 3, 2), dict(stride=2, padding=1, groups=2)),
    (F.conv_transpose2d, (1, 2, 3, 3), (2, 3, 2, 2), dict(stride=2, output_padding=1)),
    (F.conv3d, (1, 2, 3, 3, 3), (2, 2, 2, 2, 2), {}),
], ids=["conv1d_same_dilated", "conv2d_strided_grouped", "conv_transpose2d_outpad",
        "conv3d"])
def test_conv_passes_gradcheck(fn, xs, ws, kw):
    x = svertka.tensor(_rand(xs, 32), requires_grad=True)
    w = svertka.tensor(_rand(ws, 33), requires_grad=True)
    assert svertka.autograd.gradcheck(lambda x, w: fn(x, w, **kw), (x, w))


# ------------------------------------------------------------------------------ lectures

def test_conv1d_box_filter_smooths_noisy_sine_like_np_convolve():
    t = np.linspace(0, 2 * np.pi, 50)
    noisy = np.sin(t) + 0.3 * np.random.default_rng(34).standard_normal(50)
    box = np.ones(5) / 5
    y = F.conv1d(svertka.tensor(noisy).reshape(1, 1, 50), svertka.tensor(box).reshape(1, 1, 5),
                 padding=2)
    smooth = y.numpy()[0, 0]
    assert_close(smooth, np.convolve(noisy, box, mode="same"))
    inner = slice(2, -2)                                  # zero padding damps the ends
    assert np.abs(smooth - np.sin(t))[inner].mean() < np.abs(noisy - np.sin(t))[inner].mean()


@pytest.mark.parametrize("i, k, s, p, d", [(32, 5, 1, 0, 1), (32, 5, 1, 2, 1), (7, 3, 2, 1, 1),
                                           (10, 3, 3, 0, 2), (227, 11, 4, 0, 1)],
                         ids=["valid5", "same5", "stride2", "stride3_dilated", "alexnet"])
def test_conv2d_output_size_follows_formula(i, k, s, p, d):
    y = F.conv2d(svertka.zeros(1, 1, i, i), svertka.zeros(1, 1, k, k), stride=s, padding=p,
                 dilation=d)
    o = (i + 2 * p - d * (k - 1) - 1) // s + 1
    assert tuple(y.shape) == (1, 1, o, o)


def test_conv2d_parameter_count_of_ten_5x5x3_filters_is_760():
    weight, bias = svertka.zeros(10, 3, 5, 5), svertka.zeros(10)
    assert weight.numel() + bias.numel() == 760 == 10 * (5 * 5 * 3) + 10
    assert tuple(F.conv2d(svertka.zeros(1, 3, 32, 32), weight, bias).shape) == (1, 10, 28, 28)


def test_conv2d_weight_grad_is_correlation_of_input_with_output_grad():
    x, w = _rand((2, 3, 6, 7), 35), _rand((4, 3, 3, 2), 36)
    gy = _rand((2, 4, 4, 6), 37)
    xt, wt = svertka.tensor(x), svertka.tensor(w, requires_grad=True)
    F.conv2d(xt, wt).backward(svertka.tensor(gy))
    # dL/dw[o, c, i, j] = sum_{n, p, q} x[n, c, p + i, q + j] * gy[n, o, p, q]
    expect = np.zeros_like(w)
    for i in range(3):
        for j in range(2):
            expect[:, :, i, j] = np.einsum("ncpq,nopq->oc", x[:, :, i:i + 4, j:j + 6], gy)
    assert_close(wt.grad, expect)


# ------------------------------------------------------------------------------ errors

def _t(*shape, dtype=np.float64):
    return svertka.tensor(np.zeros(shape, dtype=dtype))


ERROR_CASES = [
    ("channel_mismatch", lambda: F.conv2d(_t(1, 3, 5, 5), _t(8, 4, 3, 3)),
     ValueError, r"conv2d: input has 3 channels, weight expects 4 \(weight \(8, 4, 3, 3\), "
                 r"groups=1\)"),
    ("groups_not_dividing_input", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 1, 3, 3), groups=2),
     ValueError, r"conv2d: groups must divide the 3 input channels, got groups=2"),
    ("groups_not_dividing_output", lambda: F.conv1d(_t(1, 4, 5), _t(3, 2, 3), groups=2),
     ValueError, r"conv1d: groups must divide the 3 output channels, got groups=2"),
    ("groups_zero", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), groups=0),
     ValueError, r"conv2d: groups must be a positive int, got groups=0"),
    ("groups_float", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), groups=1.0),
     TypeError, r"conv2d: groups must be a positive int, got groups=1.0"),
    ("kernel_larger_than_padded", lambda: F.conv2d(_t(1, 3, 2, 2), _t(4, 3, 5, 5), padding=1),
     ValueError, r"conv2d: kernel size \(5, 5\) \(with dilation\) is larger than the padded "
                 r"input \(4, 4\)"),
    ("kernel_larger_than_padded_context",
     lambda: F.conv2d(_t(3, 2, 2), _t(4, 3, 5, 5), padding=(1, 0)),
     ValueError, r"^conv2d: kernel size \(5, 5\) \(with dilation\) is larger than the padded "
                 r"input \(4, 2\) \(input \(3, 2, 2\), weight \(4, 3, 5, 5\), "
                 r"padding=\(1, 0\)\)$"),
    ("stride_bool_in_tuple", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), stride=(1, True)),
     ValueError, r"conv2d: stride must be a positive int or a tuple of 2 positive ints, got "
                 r"stride=\(1, True\)"),
    ("stride_beyond_int64", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), stride=(1, 2**63)),
     ValueError, r"conv2d: stride must fit in int64"),
    ("dilated_kernel_larger", lambda: F.conv1d(_t(1, 3, 6), _t(4, 3, 3), dilation=3),
     ValueError, r"conv1d: kernel size \(7,\) \(with dilation\) is larger"),
    ("negative_padding", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), padding=-1),
     ValueError, r"conv2d: padding must be a non-negative int .* got padding=-1"),
    ("stride_zero", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), stride=0),
     ValueError, r"conv2d: stride must be a positive int .* got stride=0"),
    ("stride_tuple_wrong_length", lambda: F.conv3d(_t(1, 3, 5, 5, 5), _t(4, 3, 3, 3, 3),
                                                   stride=(1, 2)),
     ValueError, r"conv3d: stride must be a positive int or a tuple of 3 positive ints"),
    ("dilation_zero", lambda: F.conv1d(_t(1, 3, 5), _t(4, 3, 3), dilation=0),
     ValueError, r"conv1d: dilation must be a positive int"),
    ("input_rank", lambda: F.conv2d(_t(3, 5), _t(4, 3, 3, 3)),
     ValueError, r"conv2d: input must be 3-D or 4-D .* got input of shape \(3, 5\)"),
    ("weight_rank", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3)),
     ValueError, r"conv2d: weight must be 4-D .* got weight of shape \(4, 3, 3\)"),
    ("bad_padding_string", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), padding="full"),
     ValueError, r"conv2d: padding must be one of 'same', 'valid', got padding='full'"),
    ("same_with_stride", lambda: F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), padding="same",
                                          stride=2),
     ValueError, r"conv2d: padding='same' is not supported for strided convolutions, "
                 r"got stride=\(2, 2\)"),
    ("bias_shape", lambda: F.conv2d(_t(1, 3, 5, 5), _t(8, 3, 3, 3), _t(4)),
     ValueError, r"conv2d: bias must have shape \(8,\), got bias of shape \(4,\)"),
    ("input_not_tensor", lambda: F.conv2d(np.zeros((1, 3, 5, 5)), _t(4, 3, 3, 3)),
     TypeError, r"conv2d: input must be a Tensor, got ndarray"),
    ("integer_input", lambda: F.conv1d(svertka.zeros(1, 3, 5, dtype=svertka.int64),
                                       _t(4, 3, 3)),
     TypeError, r"conv1d: input must be a floating-point tensor"),
    ("dtype_mismatch", lambda: F.conv1d(_t(1, 3, 5, dtype=np.float32), _t(4, 3, 3)),
     TypeError, r"conv1d: input and weight must have the same dtype"),
    ("transpose_channel_mismatch", lambda: F.conv_transpose2d(_t(1, 3, 4, 4), _t(4, 2, 3, 3)),
     ValueError, r"conv_transpose2d: input has 3 channels, weight expects 4 "
                 r"\(weight \(4, 2, 3, 3\), groups=1\)"),
    ("transpose_groups", lambda: F.conv_transpose1d(_t(1, 3, 4), _t(3, 2, 3), groups=2),
     ValueError, r"conv_transpose1d: groups must divide the 3 input channels"),
    ("transpose_output_padding_too_big",
     lambda: F.conv_transpose2d(_t(1, 3, 4, 4), _t(3, 2, 3, 3), stride=2, output_padding=2),
     ValueError, r"conv_transpose2d: output_padding must be smaller than either stride or "
                 r"dilation, got output_padding=\(2, 2\) \(stride=\(2, 2\)"),
    ("transpose_output_padding_equal_to_both",
     lambda: F.conv_transpose1d(_t(1, 3, 4), _t(3, 2, 3), output_padding=1),
     ValueError, r"conv_transpose1d: output_padding must be smaller than either stride or "
                 r"dilation"),
    ("transpose_negative_output_padding",
     lambda: F.conv_transpose1d(_t(1, 3, 4), _t(3, 2, 3), output_padding=-1),
     ValueError, r"conv_transpose1d: output_padding must be a non-negative int"),
    ("transpose_string_padding",
     lambda: F.conv_transpose1d(_t(1, 3, 4), _t(3, 2, 3), padding="same"),
     TypeError, r"conv_transpose1d: padding must be a non-negative int"),
    ("transpose_output_too_small",
     lambda: F.conv_transpose2d(_t(1, 3, 1, 1), _t(3, 2, 1, 1), padding=1),
     ValueError, r"conv_transpose2d: output size \(-1, -1\) is too small"),
    ("transpose_bias_shape",
     lambda: F.conv_transpose2d(_t(1, 4, 3, 3), _t(4, 3, 3, 3), _t(3), groups=2),
     ValueError, r"conv_transpose2d: bias must have shape \(6,\), got bias of shape \(3,\)"),
    ("transpose_input_rank", lambda: F.conv_transpose3d(_t(3, 4, 4), _t(3, 2, 3, 3, 3)),
     ValueError, r"conv_transpose3d: input must be 4-D or 5-D"),
    ("unfold_rank", lambda: F.unfold(_t(3, 4), 2),
     ValueError, r"unfold: input must be 3-D or 4-D"),
    ("unfold_kernel_too_big", lambda: F.unfold(_t(1, 1, 3, 3), 4),
     ValueError, r"unfold: kernel size \(4, 4\) \(with dilation\) is larger than the padded"),
    ("unfold_kernel_zero", lambda: F.unfold(_t(1, 1, 3, 3), 0),
     ValueError, r"unfold: kernel_size must be a positive int"),
    ("fold_channels_not_divisible", lambda: F.fold(_t(1, 5, 4), 3, 2),
     ValueError, r"fold: the size of the channel dimension of input \(5\) must be divisible "
                 r"by prod\(kernel_size\)=4"),
    ("fold_wrong_block_count", lambda: F.fold(_t(1, 4, 5), 3, 2),
     ValueError, r"fold: input has 5 blocks, but output_size=\(3, 3\) gives 2 \* 2 = 4 blocks"),
    ("fold_rank", lambda: F.fold(_t(4), 3, 2), ValueError, r"fold: input must be 2-D or 3-D"),
    ("lc_weight_rank", lambda: F.locally_connected2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3)),
     ValueError, r"locally_connected2d: weight must be 6-D"),
    ("lc_positions", lambda: F.locally_connected2d(_t(1, 3, 5, 5), _t(2, 2, 4, 3, 3, 3)),
     ValueError, r"locally_connected2d: weight is for \(2, 2\) output positions, but the "
                 r"output is \(3, 3\)"),
    ("lc_channels", lambda: F.locally_connected2d(_t(1, 2, 5, 5), _t(3, 3, 4, 3, 3, 3)),
     ValueError, r"locally_connected2d: input has 2 channels, weight expects 3"),
    ("lc_bias", lambda: F.locally_connected2d(_t(1, 3, 5, 5), _t(3, 3, 4, 3, 3, 3), _t(4)),
     ValueError, r"locally_connected2d: bias must have shape \(4, 3, 3\), got bias of shape "
                 r"\(4,\)"),
]


@pytest.mark.parametrize("name, call, exc, match", ERROR_CASES, ids=_ids(ERROR_CASES))
def test_conv_rejects_bad_arguments(name, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda x, w: F.conv2d(x, w, padding=10**9), "padded input of shape"),
    (lambda x, w: F.conv2d(x, w, padding=2**63), "padding must fit in int64"),
    (lambda x, w: F.conv2d(x, w, stride=2**63), "stride must fit in int64"),
    (lambda x, w: F.conv_transpose2d(x, w, stride=2**40), "would have"),
    (lambda x, w: F.unfold(x, 1, padding=2**40), "padded input of shape"),
], ids=["conv_padding_1e9", "conv_padding_2pow63", "conv_stride_2pow63",
        "transpose_huge_output", "unfold_huge_padding"])
def test_conv_rejects_huge_integers_with_own_message(call, match):
    """Sizes computed from huge arguments are refused before NumPy allocates (it said 'array
    is too big' or raised OverflowError)."""
    with pytest.raises(ValueError, match=match):
        call(svertka.ones(1, 1, 3, 3), svertka.ones(1, 1, 1, 1))


@pytest.mark.parametrize("shape, contiguous", [
    ((5, 3, 7, 6), True), ((5, 3, 7, 6), False), ((4, 2, 9), True), ((3, 2, 0, 4), True),
    ((0, 3, 4, 4), True), ((2, 4, 2, 2, 3), True)], ids=str)
def test_conv_bias_grad_is_the_sum_over_batch_and_positions(shape, contiguous):
    from svertka.ops.conv import _bias_grad
    gy = np.random.default_rng(5).standard_normal(shape)
    if not contiguous:
        gy = np.asfortranarray(gy)
    want = gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))
    got = _bias_grad(gy)
    assert got.shape == (shape[1],) and got.dtype == gy.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
