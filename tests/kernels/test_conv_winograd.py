"""Winograd's F(2x2, 3x3) forward (``kernels/conv/winograd.py``) agrees with the reference
convolution and with torch, and the plan takes it only where it applies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

from svertka import backends
from svertka.kernels import gemm
from svertka.kernels.conv import plan, reference, winograd

# (id, x shape, Co, pads): odd and even output sizes, asymmetric and zero padding, padding
# of 2, maps smaller than a tile, an empty batch
CASES = [
    ("pad1_even", (2, 3, 6, 8), 4, ((1, 1), (1, 1))),
    ("pad1_odd", (3, 2, 7, 5), 3, ((1, 1), (1, 1))),
    ("valid_odd", (2, 3, 5, 8), 5, ((0, 0), (0, 0))),
    ("asymmetric", (1, 2, 4, 6), 2, ((2, 0), (0, 3))),
    ("pad2", (2, 2, 5, 5), 3, ((2, 2), (2, 2))),
    ("one_pixel", (3, 4, 1, 1), 2, ((1, 1), (1, 1))),
    ("one_output", (2, 3, 3, 3), 2, ((0, 0), (0, 0))),
    ("empty_batch", (0, 3, 4, 4), 2, ((1, 1), (1, 1))),
]
IDS = [c[0] for c in CASES]


def _inputs(xs, Co, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(xs).astype(dtype),
            rng.standard_normal((Co, xs[1], 3, 3)).astype(dtype))


@pytest.mark.parametrize("block_bytes", [1, winograd.BLOCK_BYTES], ids=["blocks", "whole"])
@pytest.mark.parametrize("name, xs, Co, pads", CASES, ids=IDS)
def test_conv_winograd_matches_reference_float64(name, xs, Co, pads, block_bytes):
    # block_bytes=1: one image per block, so the blocks and a thread's last, partial block
    # are exercised
    x, w = _inputs(xs, Co, np.float64)
    y = winograd.conv_winograd(x, w, pads, block_bytes)
    ref = reference.forward(x, w, (1, 1), pads, (1, 1), 1)
    assert y.dtype == np.float64 and y.flags.c_contiguous
    assert_close(y, ref, rtol=1e-10, atol=1e-12, what=name)


@pytest.mark.parametrize("threads", [1, 2])
def test_conv_winograd_matches_reference_split_over_threads(threads, monkeypatch):
    monkeypatch.setattr(gemm, "blas_threads", lambda: threads)
    x, w = _inputs((5, 3, 7, 9), 4, np.float64)
    y = winograd.conv_winograd(x, w, ((1, 1), (1, 1)), 1)
    assert_close(y, reference.forward(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
                 rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-7), (np.float32, 1e-5)],
                         ids=["float64", "float32"])
def test_conv2d_winograd_matches_torch(dtype, rtol):
    # float32: the transforms round about twice as much as a direct sum (module docstring)
    x, w = _inputs((2, 64, 9, 10), 8, np.float64, seed=1)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    with backends.conv_algorithm("winograd"):
        y = plan.conv_forward(x.astype(dtype), w.astype(dtype), (1, 1), ((1, 1), (1, 1)),
                              (1, 1), 1)
    assert y.dtype == dtype
    assert_close(y, ref, rtol=rtol, what=f"winograd {np.dtype(dtype).name} vs torch")


@pytest.mark.parametrize("xs, ws, stride, dilation, groups, expected", [
    ((2, 4, 8, 8), (4, 4, 3, 3), (1, 1), (1, 1), 1, "winograd"),
    ((2, 4, 8, 8), (4, 4, 3, 3), (2, 2), (1, 1), 1, "im2col"),
    ((2, 4, 8, 8), (4, 4, 3, 3), (1, 1), (2, 2), 1, "im2col"),
    ((2, 4, 8, 8), (4, 2, 3, 3), (1, 1), (1, 1), 2, "im2col"),
    ((2, 4, 8, 8), (4, 4, 5, 5), (1, 1), (1, 1), 1, "im2col"),
    ((2, 4, 8), (4, 4, 3), (1,), (1,), 1, "im2col"),
    ((2, 4, 5, 5, 5), (4, 4, 3, 3, 3), (1, 1, 1), (1, 1, 1), 1, "im2col"),
], ids=["3x3", "stride2", "dilated", "grouped", "5x5", "1d", "3d"])
def test_conv_winograd_path_only_where_it_applies(xs, ws, stride, dilation, groups,
                                                  expected):
    pads = ((1, 1),) * (len(xs) - 2)
    path = plan.forward_path(xs, ws, stride, pads, dilation, groups, algorithm="winograd")
    assert (path == "winograd") == (expected == "winograd"), path


def test_conv_winograd_gradients_take_im2col_and_match_reference():
    # a forward-only kernel: under 'winograd' the backward takes im2col's paths
    rng = np.random.default_rng(3)
    x, w = _inputs((2, 3, 6, 7), 4, np.float64)
    gy = rng.standard_normal((2, 4, 6, 7))
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    y, saved = plan.conv_forward(x, w, *args, keep=True, algorithm="winograd")
    assert saved is None
    gx, gw = plan.conv_backward(gy, x, w, *args, algorithm="winograd")
    assert plan.backward_path(x.shape, w.shape, gy.shape, *args,
                              algorithm="winograd") == plan.backward_path(
        x.shape, w.shape, gy.shape, *args, algorithm="im2col")
    assert_close(gx, reference.input_grad(gy, w, x.shape, *args), rtol=1e-10, atol=1e-12)
    assert_close(gw, reference.weight_grad(x, gy, w.shape, *args), rtol=1e-10, atol=1e-12)


def test_conv_auto_never_picks_winograd():
    # measured slower than im2col (benchmarks/RESULTS.md): opt-in only
    for xs in ((32, 64, 32, 32), (32, 128, 16, 16), (1, 64, 56, 56)):
        ws = (xs[1], xs[1], 3, 3)
        assert plan.forward_path(xs, ws, (1, 1), ((1, 1), (1, 1)), (1, 1), 1) != "winograd"
