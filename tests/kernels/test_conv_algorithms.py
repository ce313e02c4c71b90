"""Every convolution algorithm and every path of the plan agrees with ``reference.py``, the
plain direct convolution (forward, input and weight gradients), and the paths agree with
each other."""

from __future__ import annotations

import numpy as np
import pytest
from tests._oracle import assert_close

from svertka import backends
from svertka.kernels import conv as K
from svertka.kernels import parallel as KPar
from svertka.kernels.conv import geometry, plan, reference, workspace

ALGORITHMS = ("im2col", "implicit_gemm", "fft", "direct", "winograd")

# (id, x shape, w shape, stride, pads, dilation, groups)
CASES = [
    ("1d_same", (2, 3, 11), (4, 3, 3), (1,), ((1, 1),), (1,), 1),
    ("1d_asymmetric_pads", (2, 3, 9), (4, 3, 3), (1,), ((0, 2),), (1,), 1),
    ("1d_strided_dilated", (2, 2, 13), (3, 2, 3), (2,), ((1, 2),), (2,), 1),
    ("2d_3x3_pad1", (2, 4, 6, 7), (5, 4, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ("2d_valid", (3, 2, 7, 6), (4, 2, 3, 2), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ("2d_stride2", (2, 3, 8, 8), (4, 3, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),
    ("2d_stride_larger_than_kernel", (2, 2, 9, 9), (3, 2, 2, 2), (3, 3),
     ((0, 0), (0, 0)), (1, 1), 1),
    ("2d_asymmetric_strided_grouped", (2, 4, 7, 8), (6, 2, 3, 2), (2, 1), ((1, 0), (2, 3)),
     (1, 2), 2),
    ("2d_dilated", (2, 3, 9, 9), (2, 3, 3, 3), (1, 1), ((2, 2), (2, 2)), (2, 2), 1),
    ("2d_grouped", (2, 6, 5, 5), (6, 2, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 3),
    ("2d_depthwise", (2, 4, 6, 6), (4, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4),
    ("2d_depthwise_strided", (3, 5, 7, 8), (5, 1, 3, 3), (2, 2), ((1, 1), (1, 0)),
     (1, 1), 5),
    ("2d_depthwise_multiplier2", (2, 3, 6, 6), (6, 1, 3, 3), (1, 1), ((1, 1), (1, 1)),
     (1, 1), 3),
    ("2d_pointwise", (2, 5, 4, 3), (3, 5, 1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),
    ("2d_pointwise_on_1x1_maps", (3, 6, 1, 1), (4, 6, 1, 1), (1, 1), ((0, 0), (0, 0)),
     (1, 1), 1),
    ("2d_pointwise_on_1x1_maps_grouped", (3, 6, 1, 1), (4, 3, 1, 1), (1, 1),
     ((0, 0), (0, 0)), (1, 1), 2),
    ("2d_pointwise_strided", (2, 5, 5, 5), (3, 5, 1, 1), (2, 2), ((0, 0), (0, 0)), (1, 1), 1),
    ("2d_large_kernel", (2, 2, 12, 12), (3, 2, 7, 7), (1, 1), ((3, 3), (3, 3)), (1, 1), 1),
    ("2d_kernel_as_large_as_padded_input", (2, 2, 4, 4), (3, 2, 5, 5), (1, 1),
     ((1, 0), (0, 1)), (1, 1), 1),
    ("2d_pad_larger_than_kernel", (1, 2, 4, 4), (2, 2, 2, 2), (1, 1), ((3, 2), (2, 3)),
     (1, 1), 1),
    ("2d_many_channels_few_positions", (3, 4, 3, 3), (32, 4, 2, 2), (1, 1),
     ((0, 0), (0, 0)), (1, 1), 1),
    ("2d_single_image", (1, 3, 5, 5), (2, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ("2d_empty_batch", (0, 3, 5, 5), (2, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1),
    ("3d_dilated", (1, 2, 5, 6, 5), (3, 2, 2, 2, 2), (1, 2, 1), ((0, 0), (1, 1), (0, 1)),
     (2, 1, 2), 1),
    ("3d_same", (2, 2, 4, 4, 4), (3, 2, 3, 3, 3), (1, 1, 1), ((1, 1),) * 3, (1, 1, 1), 1),
    ("3d_depthwise", (2, 3, 4, 4, 4), (3, 1, 3, 3, 3), (1, 1, 1), ((1, 1),) * 3,
     (1, 1, 1), 3),
    # at least FOLD_MAX_P output positions: im2col's blocked depthwise path
    ("2d_depthwise_blocked", (2, 4, 13, 14), (4, 1, 3, 3), (1, 1), ((1, 1), (1, 1)),
     (1, 1), 4),
    ("2d_depthwise_blocked_valid", (2, 3, 15, 16), (3, 1, 3, 3), (1, 1), ((0, 0), (0, 0)),
     (1, 1), 3),
    ("2d_depthwise_blocked_asymmetric_dilated", (2, 3, 14, 15), (3, 1, 3, 2), (1, 1),
     ((0, 2), (1, 0)), (2, 3), 3),
    ("2d_depthwise_blocked_5x5", (1, 2, 14, 14), (2, 1, 5, 5), (1, 1), ((2, 2), (2, 2)),
     (1, 1), 2),
    ("2d_depthwise_blocked_single_channel", (3, 1, 13, 13), (1, 1, 3, 3), (1, 1),
     ((1, 1), (1, 1)), (1, 1), 1),
    ("1d_depthwise_blocked", (2, 3, 200), (3, 1, 5), (1,), ((2, 1),), (1,), 3),
    ("3d_depthwise_blocked", (1, 2, 6, 6, 6), (2, 1, 3, 3, 3), (1, 1, 1), ((1, 1),) * 3,
     (1, 1, 1), 2),
]
IDS = [c[0] for c in CASES]


def _rand(shape, seed, dtype):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _all_three(algorithm, x, w, gy, s, pads, d, g):
    y = K.conv_forward(x, w, s, pads, d, g, algorithm=algorithm)
    gx = K.conv_input_grad(gy, w, x.shape, s, pads, d, g, algorithm=algorithm)
    gw = K.conv_weight_grad(x, gy, w.shape, s, pads, d, g, algorithm=algorithm)
    return y, gx, gw


def _inputs(xs, ws, s, pads, d, g, dtype):
    x, w = _rand(xs, 1, dtype), _rand(ws, 2, dtype)
    out = K.conv_out_shape(xs[2:], ws[2:], s, pads, d)
    gy = _rand((xs[0], ws[0]) + out, 3, dtype)
    return x, w, gy


def _reference_three(x, w, gy, s, pads, d, g):
    return (reference.forward(x, w, s, pads, d, g),
            reference.input_grad(gy, w, x.shape, s, pads, d, g),
            reference.weight_grad(x, gy, w.shape, s, pads, d, g))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name, xs, ws, s, pads, d, g", CASES, ids=IDS)
def test_conv_algorithms_match_reference_float64(name, xs, ws, s, pads, d, g, algorithm):
    x, w, gy = _inputs(xs, ws, s, pads, d, g, np.float64)
    got = _all_three(algorithm, x, w, gy, s, pads, d, g)
    ref = _reference_three(x, w, gy, s, pads, d, g)
    for what, u, v in zip(("y", "gx", "gw"), got, ref):
        assert u.dtype == np.float64, what
        assert u.shape == v.shape, what
        assert_close(u, v, rtol=1e-10, what=f"{what} {algorithm} vs reference", atol=1e-12)


def test_conv_reference_matches_torch():
    # the oracle itself against torch, on a grouped, strided, dilated, padded case
    import torch
    x, w, gy = _inputs((2, 4, 9, 8), (6, 2, 3, 2), (2, 1), ((1, 1), (2, 2)), (1, 2), 2,
                       np.float64)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                    groups=2)
    yt.backward(torch.tensor(gy))
    ref = _reference_three(x, w, gy, (2, 1), ((1, 1), (2, 2)), (1, 2), 2)
    for what, u, v in zip(("y", "gx", "gw"), ref, (yt, xt.grad, wt.grad)):
        assert_close(u, v.detach().numpy(), rtol=1e-12, what=what, atol=1e-12)


# Thresholds of the plan shrunk so that the small CASES take the paths otherwise reserved
# for large feature maps (folded, blocked, chunked, fused backward), and left as they are.
SMALL_TUNABLES = {"FOLD_MAX_P": 4, "DEPTHWISE_TAPS_MAX_POSITIONS": 0,
                  "NCHW_BLOCK_BYTES": 512, "DEPTHWISE_BLOCK_BYTES": 512,
                  "BLOCK_BYTES": 256, "CL_CHUNK_BYTES": 512, "KEEP_COLS_BYTES": 256,
                  "GX_AS_CONV_MAX_RATIO": 1e9}


@pytest.mark.parametrize("small", [False, True], ids=["default_tunables", "small_tunables"])
@pytest.mark.parametrize("need", ["both", "x", "w"])
@pytest.mark.parametrize("name, xs, ws, s, pads, d, g", CASES, ids=IDS)
def test_conv_plan_entries_match_reference(name, xs, ws, s, pads, d, g, need, small,
                                           monkeypatch):
    # one forward (keeping what the plan keeps) and one backward per pass, as ops/conv does
    if small:
        for attr, value in SMALL_TUNABLES.items():
            monkeypatch.setattr(plan, attr, value)
        monkeypatch.setattr(KPar, "PARALLEL_MIN_BYTES", 0)
    x, w, gy = _inputs(xs, ws, s, pads, d, g, np.float64)
    need_x, need_w = need in ("both", "x"), need in ("both", "w")
    if need_w:
        y, saved = K.conv_forward(x, w, s, pads, d, g, keep=True)
    else:
        y, saved = K.conv_forward(x, w, s, pads, d, g), None
    gx, gw = K.conv_backward(gy, x, w, s, pads, d, g, need_x, need_w, saved)
    assert saved is None or saved.cols is None                   # released by the backward
    ref_y, ref_gx, ref_gw = _reference_three(x, w, gy, s, pads, d, g)
    assert_close(y, ref_y, rtol=1e-10, what="y", atol=1e-12)
    if need_x:
        assert_close(gx, ref_gx, rtol=1e-10, what="gx", atol=1e-12)
    else:
        assert gx is None
    if need_w:
        assert_close(gw, ref_gw, rtol=1e-10, what="gw", atol=1e-12)
    else:
        assert gw is None


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name, xs, ws, s, pads, d, g", CASES, ids=IDS)
def test_conv_transpose_entries_match_reference(name, xs, ws, s, pads, d, g, algorithm):
    # the transposed convolution of ``gy`` is the input gradient of the convolution of x;
    # its gradients are that convolution's forward and weight gradient, roles swapped
    x, w, gy = _inputs(xs, ws, s, pads, d, g, np.float64)
    y = K.conv_transpose_forward(gy, w, s, pads, d, g, xs[2:], algorithm=algorithm)
    assert y.flags.c_contiguous
    assert_close(y, reference.input_grad(gy, w, xs, s, pads, d, g), rtol=1e-10, atol=1e-12)
    ggy, gw = K.conv_transpose_backward(x, gy, w, s, pads, d, g, algorithm=algorithm)
    assert_close(ggy, reference.forward(x, w, s, pads, d, g), rtol=1e-10, atol=1e-12)
    assert_close(gw, reference.weight_grad(x, gy, w.shape, s, pads, d, g), rtol=1e-10,
                 atol=1e-12)


F32_CASES = [c for c in CASES if c[0] in ("2d_3x3_pad1", "2d_asymmetric_strided_grouped",
                                          "2d_depthwise", "2d_large_kernel", "1d_same",
                                          "3d_dilated", "2d_pointwise",
                                          "2d_depthwise_blocked",
                                          "2d_depthwise_blocked_asymmetric_dilated")]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name, xs, ws, s, pads, d, g", F32_CASES, ids=[c[0] for c in F32_CASES])
def test_conv_algorithms_match_reference_float32(name, xs, ws, s, pads, d, g, algorithm):
    x, w, gy = _inputs(xs, ws, s, pads, d, g, np.float32)
    got = _all_three(algorithm, x, w, gy, s, pads, d, g)
    ref = _reference_three(x, w, gy, s, pads, d, g)
    for what, u, v in zip(("y", "gx", "gw"), got, ref):
        assert u.dtype == np.float32, f"{what} of {algorithm}: {u.dtype}"
        assert_close(u, v, rtol=1e-4, what=f"{what} {algorithm} vs reference")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv_algorithms_kept_columns_give_same_weight_grad(algorithm):
    x, w, gy = _inputs((2, 3, 6, 6), (4, 3, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                       np.float64)
    y, saved = K.conv_forward(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, keep=True,
                              algorithm=algorithm)
    gw = K.conv_weight_grad(x, gy, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, saved,
                            algorithm=algorithm)
    K.release(saved)
    ref = K.conv_weight_grad(x, gy, w.shape, (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                             algorithm="direct")
    assert_close(gw, ref, rtol=1e-10)


def test_conv_workspace_reuses_released_columns():
    ws = workspace.Workspace()
    a = ws.take((300, 1000), np.float32)
    ws.give(a.reshape(-1))                               # any view of it hands it back
    assert ws.nbytes == a.nbytes
    b = ws.take((300, 1000), np.float32)
    assert np.shares_memory(a, b)
    assert ws.nbytes == 0


def test_conv_workspace_reuses_a_block_for_another_shape_and_dtype():
    ws = workspace.Workspace()
    a = ws.take((400, 1000), np.float32)                 # 1.6 MB
    ws.give(a)
    b = ws.take((150, 1000), np.float64)                 # 1.2 MB: fits, more than half
    assert np.shares_memory(a, b) and b.shape == (150, 1000) and b.dtype == np.float64
    b[...] = 1.0
    ws.give(b)
    c = ws.take((100, 1000), np.float32)                 # 0.4 MB: under the minimum
    assert not np.shares_memory(a, c)
    d = ws.take((600, 1000), np.float32)                 # too big for the block
    assert not np.shares_memory(a, d)


def test_conv_workspace_ignores_arrays_it_did_not_make():
    ws = workspace.Workspace()
    foreign = np.empty((300, 1000), np.float32)
    ws.give(foreign)
    ws.give(foreign.reshape(-1))
    assert ws.nbytes == 0
    assert not np.shares_memory(ws.take((300, 1000), np.float32), foreign)


def test_conv_workspace_release_ignores_pointwise_view_of_input():
    x = np.ones((2, 8, 256, 256), np.float32)          # pointwise: the columns are x itself
    w = np.ones((4, 8, 1, 1), np.float32)
    _, saved = K.conv_forward(x, w, (1, 1), ((0, 0), (0, 0)), (1, 1), 1, keep=True,
                              algorithm="im2col")
    assert np.may_share_memory(saved.cols, x)
    before = K.WORKSPACE.nbytes
    K.release(saved)
    assert K.WORKSPACE.nbytes == before


def test_conv_workspace_drops_everything_past_its_limit():
    ws = workspace.Workspace(limit=3 * 2**20)
    a, b = ws.take((2**18, 2), np.float32), ws.take((2**18, 2), np.float32)   # 2 MiB each
    ws.give(a)
    ws.give(b)
    assert ws.nbytes == 2 * 2**20


@pytest.fixture
def no_taps(monkeypatch):
    """The blocked depthwise path for the small batches below (the taps would take them)."""
    monkeypatch.setattr(plan, "DEPTHWISE_TAPS", False)


# (id, x shape, w shape, pads, dilation): depthwise at stride 1 with P >= FOLD_MAX_P
BLOCKED_CASES = [
    ("3x3_pad1", (3, 4, 13, 14), (4, 1, 3, 3), ((1, 1), (1, 1)), (1, 1)),
    ("same_even_kernel", (2, 3, 13, 13), (3, 1, 4, 2), ((1, 2), (0, 1)), (1, 1)),
    ("dilated_valid", (2, 2, 17, 16), (2, 1, 3, 3), ((0, 0), (0, 0)), (2, 1)),
    ("1d", (2, 3, 170), (3, 1, 3), ((1, 1),), (1,)),
]


def _blocked_three(x, w, gy, pads, d):
    n = w.ndim - 2
    s, g = (1,) * n, x.shape[1]
    return (K.conv_forward(x, w, s, pads, d, g, algorithm="im2col"),
            K.conv_input_grad(gy, w, x.shape, s, pads, d, g, algorithm="im2col"),
            K.conv_weight_grad(x, gy, w.shape, s, pads, d, g, algorithm="im2col"))


@pytest.mark.usefixtures("no_taps")
@pytest.mark.parametrize("block_bytes, threads", [(2**20, 1), (1, 1), (3000, 3)],
                         ids=["one_block", "one_row_per_block", "uneven_blocks_3_threads"])
@pytest.mark.parametrize("name, xs, ws, pads, d", BLOCKED_CASES,
                         ids=[c[0] for c in BLOCKED_CASES])
def test_conv_depthwise_blocked_matches_whole_columns(name, xs, ws, pads, d, block_bytes,
                                                      threads, monkeypatch):
    n = len(ws) - 2
    x, w, gy = _inputs(xs, ws, (1,) * n, pads, d, xs[1], np.float64)
    monkeypatch.setattr(plan, "DEPTHWISE_BLOCKED", False)
    whole = _blocked_three(x, w, gy, pads, d)
    monkeypatch.setattr(plan, "DEPTHWISE_BLOCKED", True)
    monkeypatch.setattr(plan, "DEPTHWISE_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(KPar, "PARALLEL_MIN_BYTES", 0)
    previous = backends.set_num_threads(threads)
    try:
        blocked = _blocked_three(x, w, gy, pads, d)
    finally:
        backends.set_num_threads(previous)
    for what, u, v in zip(("y", "gx", "gw"), blocked, whole):
        assert u.shape == v.shape, what
        assert_close(u, v, rtol=1e-10, what=what, atol=1e-12)


@pytest.mark.usefixtures("no_taps")
def test_conv_depthwise_blocked_accepts_non_contiguous_inputs():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 2, 14, 13)).transpose(1, 0, 2, 3)    # (2, 4, 14, 13) view
    gy = rng.standard_normal((14, 13, 2, 4)).transpose(2, 3, 0, 1)   # (2, 4, 14, 13) view
    w = rng.standard_normal((4, 1, 3, 3))
    pads = ((1, 1), (1, 1))
    got = _blocked_three(x, w, gy, pads, (1, 1))
    ref = _blocked_three(np.ascontiguousarray(x), w, np.ascontiguousarray(gy), pads, (1, 1))
    for what, u, v in zip(("y", "gx", "gw"), got, ref):
        assert_close(u, v, rtol=1e-12, what=what)


@pytest.mark.usefixtures("no_taps")
def test_conv_depthwise_blocked_forward_with_bias_on_an_empty_batch():
    x, w = np.zeros((0, 4, 13, 13)), np.ones((4, 1, 3, 3))
    y = K.conv_forward(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 4, algorithm="im2col",
                       bias=np.ones(4))
    assert y.shape == (0, 4, 13, 13)


@pytest.mark.usefixtures("no_taps")
def test_conv_depthwise_blocked_results_survive_later_calls():
    # the padded input and the gy grid come from the workspace: results must not alias it
    x, w, gy = _inputs((2, 4, 13, 13), (4, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4,
                       np.float64)
    first = [a.copy() for a in _blocked_three(x, w, gy, ((1, 1), (1, 1)), (1, 1))]
    kept = _blocked_three(x, w, gy, ((1, 1), (1, 1)), (1, 1))
    _blocked_three(x + 1.0, w - 1.0, gy * 2.0, ((1, 1), (1, 1)), (1, 1))
    for u, v in zip(kept, first):
        np.testing.assert_array_equal(u, v)


@pytest.mark.usefixtures("no_taps")
def test_conv_depthwise_blocked_forward_keeps_no_columns():
    x, w, _ = _inputs((2, 4, 13, 13), (4, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4,
                      np.float32)
    y, saved = K.conv_forward(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 4, keep=True,
                              algorithm="im2col")
    assert saved is None
    assert y.dtype == np.float32 and y.shape == (2, 4, 13, 13) and y.flags.c_contiguous


@pytest.mark.usefixtures("no_taps")
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name, xs, ws, pads, d", BLOCKED_CASES,
                         ids=[c[0] for c in BLOCKED_CASES])
def test_conv_depthwise_backward_matches_separate_gradients(name, xs, ws, pads, d, dtype, rtol):
    n = len(ws) - 2
    s, g = (1,) * n, xs[1]
    x, w, gy = _inputs(xs, ws, s, pads, d, g, dtype)
    assert plan.backward_path(x.shape, w.shape, gy.shape, s, pads, d, g) == "depthwise"
    gx, gw = K.conv_backward(gy, x, w, s, pads, d, g)
    ref_gx = K.conv_input_grad(gy, w, x.shape, s, pads, d, g, algorithm="direct")
    ref_gw = K.conv_weight_grad(x, gy, w.shape, s, pads, d, g, algorithm="direct")
    assert gx.dtype == gw.dtype == dtype
    assert gx.shape == x.shape and gw.shape == w.shape
    assert_close(gx, ref_gx, rtol=rtol, what="gx", atol=1e-12)
    assert_close(gw, ref_gw, rtol=rtol, what="gw", atol=1e-12)


# (id, x shape, w shape, gy shape, stride, pads, groups, algorithm, expected)
APPLIES_CASES = [
    ("depthwise_3x3", (2, 4, 13, 13), (4, 1, 3, 3), (2, 4, 13, 13), (1, 1), ((1, 1), (1, 1)),
     4, None, True),
    ("explicit_im2col", (2, 4, 13, 13), (4, 1, 3, 3), (2, 4, 13, 13), (1, 1),
     ((1, 1), (1, 1)), 4, "im2col", True),
    ("direct_algorithm", (2, 4, 13, 13), (4, 1, 3, 3), (2, 4, 13, 13), (1, 1),
     ((1, 1), (1, 1)), 4, "direct", False),
    ("strided", (2, 4, 26, 26), (4, 1, 3, 3), (2, 4, 13, 13), (2, 2), ((1, 1), (1, 1)), 4,
     None, False),
    ("multiplier_2", (2, 4, 13, 13), (8, 1, 3, 3), (2, 8, 13, 13), (1, 1), ((1, 1), (1, 1)),
     4, None, False),
    ("dense", (2, 4, 13, 13), (4, 4, 3, 3), (2, 4, 13, 13), (1, 1), ((1, 1), (1, 1)), 1,
     None, False),
    ("few_positions", (2, 4, 6, 6), (4, 1, 3, 3), (2, 4, 6, 6), (1, 1), ((1, 1), (1, 1)), 4,
     None, False),
    ("pad_larger_than_kernel", (2, 4, 13, 13), (4, 1, 3, 3), (2, 4, 17, 17), (1, 1),
     ((3, 3), (3, 3)), 4, None, False),
    ("empty_batch", (0, 4, 13, 13), (4, 1, 3, 3), (0, 4, 13, 13), (1, 1), ((1, 1), (1, 1)),
     4, None, False),
]


@pytest.mark.parametrize("name, xs, ws, gys, s, pads, g, algorithm, expected", APPLIES_CASES,
                         ids=[c[0] for c in APPLIES_CASES])
def test_conv_depthwise_backward_applies_rules(name, xs, ws, gys, s, pads, g, algorithm,
                                               expected):
    assert plan.depthwise_backward_applies(xs, ws, gys, s, pads, (1, 1), g,
                                        algorithm) is expected


def test_conv_depthwise_backward_applies_not_when_switched_off(monkeypatch):
    args = ((2, 4, 13, 13), (4, 1, 3, 3), (2, 4, 13, 13), (1, 1), ((1, 1), (1, 1)), (1, 1), 4)
    monkeypatch.setattr(plan, "DEPTHWISE_FUSED_BACKWARD", False)
    assert not plan.depthwise_backward_applies(*args)
    monkeypatch.setattr(plan, "DEPTHWISE_FUSED_BACKWARD", True)
    monkeypatch.setattr(plan, "DEPTHWISE_BLOCKED", False)
    assert not plan.depthwise_backward_applies(*args)


BIAS_CASES = [c for c in CASES if c[0] in ("2d_3x3_pad1", "2d_depthwise", "2d_depthwise_blocked",
                                           "1d_depthwise_blocked", "2d_stride2",
                                           "2d_empty_batch")]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name, xs, ws, s, pads, d, g", BIAS_CASES,
                         ids=[c[0] for c in BIAS_CASES])
def test_conv_forward_bias_is_added_to_the_output(name, xs, ws, s, pads, d, g, algorithm):
    x, w, _ = _inputs(xs, ws, s, pads, d, g, np.float32)
    b = _rand(ws[0], 4, np.float32)
    y = K.conv_forward(x, w, s, pads, d, g, algorithm=algorithm, bias=b)
    ref = K.conv_forward(x, w, s, pads, d, g, algorithm=algorithm)
    assert y.dtype == np.float32
    assert_close(y, ref + b.reshape((-1,) + (1,) * (len(xs) - 2)), rtol=1e-6)


# (id, matrix bytes, per-matrix cap, total cap, already kept, expected)
KEEP_CASES = [
    ("fits_both_caps", 1024, 4096, 8192, 0, True),
    ("exactly_at_the_per_matrix_cap", 4096, 4096, 8192, 0, True),
    ("over_the_per_matrix_cap", 4104, 4096, 8192, 0, False),
    ("total_cap_reached", 4096, 4096, 8192, 2, False),
    ("total_cap_exactly_filled", 4096, 4096, 8192, 1, True),
]


@pytest.mark.parametrize("name, nbytes, cap, total, already, expected", KEEP_CASES,
                         ids=[c[0] for c in KEEP_CASES])
def test_conv_keep_cols_respects_caps(monkeypatch, name, nbytes, cap, total, already,
                                      expected):
    monkeypatch.setattr(plan, "KEEP_COLS_BYTES", cap)
    monkeypatch.setattr(plan, "KEEP_COLS_TOTAL_BYTES", total + K.kept_bytes())
    held = [np.zeros(cap // 8) for _ in range(already)]
    assert all(plan.keep_cols(a) for a in held)
    assert plan.keep_cols(np.zeros(nbytes // 8)) is expected


def test_conv_keep_cols_total_goes_back_when_the_matrix_is_dropped():
    before = K.kept_bytes()
    a = np.zeros(1000)
    assert plan.keep_cols(a)
    assert K.kept_bytes() == before + a.nbytes
    del a
    assert K.kept_bytes() == before


def test_conv_keep_cols_training_step_keeps_and_gives_back_columns():
    import svertka
    import svertka.nn.functional as F
    before = K.kept_bytes()
    x = svertka.randn(2, 3, 8, 8)
    w = svertka.randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert K.kept_bytes() == before + 2 * 27 * 64 * 4
    y.sum().backward()
    assert K.kept_bytes() == before
    assert w.grad.shape == (4, 3, 3, 3)


def test_conv_keep_cols_keeps_only_small_column_matrices():
    # the lecture CNN's first layer at batch 64 (7 MB of float32 columns) keeps none (its
    # weight gradient rebuilds them in blocks); LeNet-5's first layer (4.8 MB) keeps them
    rng = np.random.default_rng(43)
    x = rng.standard_normal((64, 3, 32, 32), dtype=np.float32)
    w = rng.standard_normal((32, 3, 3, 3), dtype=np.float32)
    _, saved = K.conv_forward(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1, keep=True)
    assert saved is None
    x = rng.standard_normal((64, 1, 28, 28), dtype=np.float32)
    w = rng.standard_normal((6, 1, 5, 5), dtype=np.float32)
    _, saved = K.conv_forward(x, w, (1, 1), ((2, 2), (2, 2)), (1, 1), 1, keep=True)
    assert saved is not None and saved.cols.nbytes == 64 * 25 * 784 * 4
    K.release(saved)


def _case_arrays(case, seed):
    """Random ``x``, ``w`` and an upstream gradient ``gy`` for a CASES entry."""
    _, xs, ws, s, pads, d, g = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    gy = rng.standard_normal(K.conv_forward(x, w, s, pads, d, g).shape)
    return x, w, gy


def _im2col_three(case, x, w, gy):
    """``(y, gx, gw)`` under the im2col algorithm, ``gw`` from rebuilt columns."""
    _, xs, ws, s, pads, d, g = case
    return (K.conv_forward(x, w, s, pads, d, g, algorithm="im2col"),
            K.conv_input_grad(gy, w, xs, s, pads, d, g, algorithm="im2col"),
            K.conv_weight_grad(x, gy, ws, s, pads, d, g, algorithm="im2col"))


@pytest.mark.parametrize("case", [c for c in CASES if c[6] == 1 and c[1][0] > 1],
                         ids=lambda c: c[0])
def test_channels_last_columns_match_nchw_columns(case, monkeypatch):
    _, xs, ws, s, pads, d, g = case
    x, w, gy = _case_arrays(case, 17)
    y0 = K.conv_forward(x, w, s, pads, d, g, algorithm="im2col")

    def three():
        y, saved = K.conv_forward(x, w, s, pads, d, g, keep=True, algorithm="im2col")
        cols = None if saved is None else saved.cols
        return (cols, *_im2col_three(case, x, w, gy),
                K.conv_weight_grad(x, gy, ws, s, pads, d, g, saved, algorithm="im2col"))

    monkeypatch.setattr(plan, "CHANNELS_LAST", True)
    cols, *last = three()
    P = int(np.prod(y0.shape[2:]))
    if cols is not None and not geometry.is_pointwise(ws[2:], s, pads, xs[2:], y0.shape[2:]):
        assert cols.shape == (xs[0] * P, int(np.prod(ws[2:])) * xs[1])   # channels-last
    monkeypatch.setattr(plan, "CHANNELS_LAST", False)
    _, *nchw = three()
    for a, b in zip(last, nchw):
        assert_close(a, b, rtol=1e-12)


def test_channels_last_rule_picks_small_outputs_and_few_channels():
    assert plan._channels_last(64, 64, 8 * 8, 8 * 8, 1, False)          # ResNet's 8x8 stage
    assert plan._channels_last(64, 32, 16 * 16, 16 * 16, 1, False)      # lecture CNN's 2nd layer
    assert plan._channels_last(32, 128, 16 * 16, 8 * 8, 1, False)       # stride 2 from 16x16
    assert not plan._channels_last(32, 128, 16 * 16, 16 * 16, 1, False)  # many channels, 16x16
    assert not plan._channels_last(32, 64, 32 * 32, 32 * 32, 1, False)   # 32x32: NCHW faster
    assert not plan._channels_last(32, 64, 32 * 32, 16 * 16, 1, False)   # stride 2 from 32x32
    assert not plan._channels_last(32, 64, 8 * 8, 8 * 8, 2, False)       # grouped
    assert not plan._channels_last(1, 64, 8 * 8, 8 * 8, 1, False)        # one image


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("case", [c for c in CASES if c[6] == 1 and c[1][0] > 1],
                         ids=lambda c: c[0])
def test_conv_input_grad_batch_last_matches_reference(case, threads, monkeypatch):
    # the col2im with the batch innermost, over any stride, dilation and padding, with its
    # adds split over the channels on several threads
    from svertka.kernels.conv import columns
    _, xs, ws, s, pads, d, g = case
    x, w, gy = _case_arrays(case, 23)
    monkeypatch.setattr(KPar, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(KPar, "NUM_THREADS", threads)
    gx = columns.input_grad_batch_last(gy, w, xs, s, pads, d)
    assert gx.flags.c_contiguous
    assert_close(gx, reference.input_grad(gy, w, xs, s, pads, d, g), rtol=1e-10, atol=1e-12)


def test_conv_input_grad_path_is_batch_last_on_small_dense_maps():
    def path(xs, ws, s, p, g=1):
        S, P = (s, s), ((p, p), (p, p))
        out = K.conv_out_shape(xs[2:], ws[2:], S, P, (1, 1))
        return plan._input_grad_path((xs[0], ws[0]) + out, ws, xs, S, P, (1, 1), g, "im2col")

    assert path((64, 6, 14, 14), (16, 6, 5, 5), 1, 0) == "col2im_batch_last"   # LeNet conv2
    assert path((64, 32, 8, 8), (64, 32, 3, 3), 2, 1) == "col2im_batch_last"    # stride 2
    assert path((32, 64, 16, 16), (128, 64, 3, 3), 2, 1) == "col2im"     # many outputs: GEMM
    assert path((32, 64, 16, 16), (64, 64, 1, 1), 2, 0) == "col2im"      # one offset
    assert path((32, 64, 32, 32), (64, 64, 3, 3), 2, 1) == "col2im"      # larger maps: NCHW
    assert path((32, 64, 16, 16), (128, 32, 3, 3), 2, 1, g=2) == "col2im"   # grouped
    assert path((1, 6, 14, 14), (16, 6, 5, 5), 1, 0) == "col2im"         # one image


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("case", [c for c in CASES if c[6] == 1 and c[1][0] > 1],
                         ids=lambda c: c[0])
def test_channels_last_columns_in_blocks_match_whole(case, threads, monkeypatch):
    # columns that are not kept are built a few images at a time on each thread: one image
    # per block must give what whole columns give
    from svertka.kernels import gemm
    _, xs, ws, s, pads, d, g = case
    x, w, gy = _case_arrays(case, 19)

    def three():
        y, saved = K.conv_forward(x, w, s, pads, d, g, keep=True, algorithm="im2col")
        gw = K.conv_weight_grad(x, gy, ws, s, pads, d, g, saved, algorithm="im2col")
        K.release(saved)
        return y, K.conv_input_grad(gy, w, xs, s, pads, d, g, algorithm="im2col"), gw

    whole = three()                               # kept columns, built whole
    monkeypatch.setattr(plan, "CL_CHUNK_BYTES", 1)
    monkeypatch.setattr(gemm, "blas_threads", lambda: threads)
    blocked = _im2col_three(case, x, w, gy)       # not kept: blocks of one image
    for a, b in zip(blocked, whole):
        assert_close(a, b, rtol=1e-12)


# (id, x shape, w shape, pads, dilation, groups): stride 1 on feature maps large enough for
# NCHW columns (more than CHANNELS_LAST_MAX_I input positions)
FUSED_CASES = [
    ("2d_same", (2, 3, 20, 18), (4, 3, 3, 3), ((1, 1), (1, 1)), (1, 1), 1),
    ("2d_asymmetric_dilated", (2, 2, 20, 19), (3, 2, 3, 2), ((2, 1), (0, 1)), (2, 1), 1),
    ("2d_valid_5x5", (3, 2, 24, 24), (3, 2, 5, 5), ((0, 0), (0, 0)), (1, 1), 1),
    ("2d_grouped", (2, 4, 20, 20), (6, 2, 3, 3), ((1, 1), (1, 1)), (1, 1), 2),
    ("1d_same_even_kernel", (2, 3, 300), (5, 3, 4), ((1, 2),), (1,), 1),
    ("3d_same", (2, 2, 7, 7, 7), (3, 2, 3, 3, 3), ((1, 1),) * 3, (1, 1, 1), 1),
]


@pytest.mark.parametrize("case", FUSED_CASES, ids=lambda c: c[0])
def test_fused_backward_matches_separate_gx_and_gw(case, monkeypatch):
    import torch
    _, xs, ws, pads, d, g = case
    n = len(ws) - 2
    s = (1,) * n
    rng = np.random.default_rng(23)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    gy = rng.standard_normal(K.conv_forward(x, w, s, pads, d, g).shape)
    assert plan.backward_path(xs, ws, gy.shape, s, pads, d, g) == "fused"
    gx, gw = K.conv_backward(gy, x, w, s, pads, d, g)
    assert_close(gx, K.conv_input_grad(gy, w, xs, s, pads, d, g, algorithm="im2col"),
                 rtol=1e-12)
    assert_close(gw, K.conv_weight_grad(x, gy, ws, s, pads, d, g, algorithm="im2col"),
                 rtol=1e-12)
    # and through autograd (ConvNd picks the fused path) against torch
    import svertka
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
            3: torch.nn.functional.conv3d}[n]
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    conv(torch.nn.functional.pad(xt, flat), wt, dilation=d, groups=g).backward(
        torch.tensor(gy))
    xv, wv = svertka.tensor(x, requires_grad=True), svertka.tensor(w, requires_grad=True)
    y = svertka.ops.conv.ConvNd.apply(xv, wv, None, stride=s, pads=pads, dilation=d, groups=g)
    y.backward(svertka.tensor(gy))
    assert_close(xv.grad, xt.grad, rtol=1e-10)
    assert_close(wv.grad, wt.grad, rtol=1e-10)


# (id, x shape, w shape, pads, dilation): dense, stride 1, small maps (channels-last
# columns), at most as many channels as positions
FUSED_CL_CASES = [
    ("2d_same", (3, 4, 8, 8), (6, 4, 3, 3), ((1, 1), (1, 1)), (1, 1)),
    ("2d_asymmetric_dilated", (2, 3, 7, 6), (4, 3, 3, 2), ((2, 0), (0, 1)), (2, 1)),
    ("2d_valid", (2, 4, 9, 9), (3, 4, 3, 3), ((0, 0), (0, 0)), (1, 1)),
    ("1d_same_even_kernel", (3, 5, 9), (4, 5, 4), ((1, 2),), (1,)),
    ("3d_same", (2, 3, 4, 5, 4), (4, 3, 3, 3, 2), ((1, 1), (0, 1), (1, 0)), (1, 1, 1)),
]


@pytest.mark.parametrize("chunk_bytes", [1, 2**30], ids=["one_image_per_block", "whole"])
@pytest.mark.parametrize("case", FUSED_CL_CASES, ids=lambda c: c[0])
def test_fused_channels_last_backward_matches_separate_and_torch(case, chunk_bytes,
                                                                 monkeypatch):
    import torch

    import svertka
    _, xs, ws, pads, d = case
    n = len(ws) - 2
    s = (1,) * n
    rng = np.random.default_rng(47)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    gy = rng.standard_normal(K.conv_forward(x, w, s, pads, d, 1).shape)
    monkeypatch.setattr(plan, "CL_CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(KPar, "PARALLEL_MIN_BYTES", 0)
    assert plan.backward_path(xs, ws, gy.shape, s, pads, d, 1) == "fused_channels_last"
    gx, gw = K.conv_backward(gy, x, w, s, pads, d, 1)
    monkeypatch.setattr(plan, "CL_FUSED_BACKWARD", False)
    assert plan.backward_path(xs, ws, gy.shape, s, pads, d, 1) == "separate"
    gx_sep, gw_sep = K.conv_backward(gy, x, w, s, pads, d, 1)
    assert_close(gx, gx_sep, rtol=1e-12)
    assert_close(gw, gw_sep, rtol=1e-12)
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
            3: torch.nn.functional.conv3d}[n]
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    conv(torch.nn.functional.pad(xt, flat), wt, dilation=d).backward(torch.tensor(gy))
    monkeypatch.setattr(plan, "CL_FUSED_BACKWARD", True)
    xv, wv = svertka.tensor(x, requires_grad=True), svertka.tensor(w, requires_grad=True)
    svertka.ops.conv.ConvNd.apply(xv, wv, None, stride=s, pads=pads, dilation=d,
                                  groups=1).backward(svertka.tensor(gy))
    assert_close(xv.grad, xt.grad, rtol=1e-10)
    assert_close(wv.grad, wt.grad, rtol=1e-10)


def test_fused_channels_last_backward_only_dense_with_few_channels():
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1))
    assert plan.backward_path((4, 32, 16, 16), (64, 32, 3, 3), (4, 64, 16, 16), *args,
                              1) == "fused_channels_last"                 # lecture CNN's
    # not with more channels than positions (ResNet-18's 4x4 maps), groups or stride 2
    assert plan.backward_path((4, 512, 4, 4), (512, 512, 3, 3), (4, 512, 4, 4), *args,
                              1) == "separate"
    assert plan.backward_path((4, 32, 16, 16), (64, 16, 3, 3), (4, 64, 16, 16), *args,
                              2) != "fused_channels_last"
    assert plan.backward_path((4, 32, 16, 16), (64, 32, 3, 3), (4, 64, 8, 8), (2, 2),
                              ((1, 1), (1, 1)), (1, 1), 1) == "separate"


def test_fused_backward_is_not_used_where_columns_are_channels_last_or_strided():
    assert not plan.fused_backward_applies((2, 3, 8, 8), (4, 3, 3, 3), (2, 4, 8, 8), (1, 1),
                                        ((1, 1), (1, 1)), (1, 1), 1)      # small map
    assert not plan.fused_backward_applies((2, 3, 16, 16), (4, 3, 3, 3), (2, 4, 8, 8), (2, 2),
                                        ((1, 1), (1, 1)), (1, 1), 1)      # stride 2


# Large NCHW feature maps whose columns are not kept go through the blocked driver (a few
# images per block and thread); whole column matrices (NCHW_BLOCKED off) are the reference.
NCHW_BLOCKED_CASES = [(name, xs, ws, (1,) * (len(ws) - 2), pads, d, g)
                      for name, xs, ws, pads, d, g in FUSED_CASES] + [
    ("2d_stride2", (3, 3, 34, 34), (4, 3, 3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),
    ("2d_stride2_grouped", (3, 4, 34, 33), (6, 2, 3, 3), (2, 2), ((1, 0), (1, 1)), (1, 1), 2),
]


@pytest.mark.parametrize("block_bytes, blas_threads", [(2**30, 2), (1, 1), (5000, 3)],
                         ids=["whole_halves", "one_image_per_block", "uneven_blocks"])
@pytest.mark.parametrize("case", NCHW_BLOCKED_CASES, ids=lambda c: c[0])
def test_nchw_blocked_columns_match_whole_columns(case, block_bytes, blas_threads,
                                                  monkeypatch):
    from svertka.kernels import gemm
    _, xs, ws, s, pads, d, g = case
    x, w, gy = _case_arrays(case, 29)
    P = int(np.prod(gy.shape[2:]))
    assert not plan._channels_last(xs[0], xs[1], int(np.prod(xs[2:])), P, g, False)
    assert not plan._fold(xs[0], P)

    def four():
        y = K.conv_forward(x, w, s, pads, d, g, algorithm="im2col")
        y_kept, saved = K.conv_forward(x, w, s, pads, d, g, keep=True, algorithm="im2col")
        out = [y, y_kept, K.conv_input_grad(gy, w, xs, s, pads, d, g, algorithm="im2col"),
               K.conv_weight_grad(x, gy, ws, s, pads, d, g, algorithm="im2col")]
        if plan.fused_backward_applies(xs, ws, gy.shape, s, pads, d, g):
            out += list(K.conv_backward(gy, x, w, s, pads, d, g))
        return out, saved

    monkeypatch.setattr(plan, "NCHW_BLOCKED", False)
    whole, _ = four()
    monkeypatch.setattr(plan, "NCHW_BLOCKED", True)
    monkeypatch.setattr(plan, "NCHW_BLOCK_BYTES", block_bytes)
    monkeypatch.setattr(gemm, "blas_threads", lambda: blas_threads)
    blocked, saved = four()
    assert saved is not None                    # asked to keep and within the caps: whole
    K.release(saved)
    for a, b in zip(blocked, whole):
        assert_close(a, b, rtol=1e-12)


def test_nchw_blocked_forward_builds_no_columns_it_would_not_keep(monkeypatch):
    # asked to keep columns the caps would refuse, the forward builds them in blocks and
    # returns none; within the caps it builds and returns them whole
    x = np.random.default_rng(31).standard_normal((2, 3, 20, 20))
    w = np.random.default_rng(32).standard_normal((4, 3, 3, 3))
    pads = ((1, 1), (1, 1))
    y, saved = K.conv_forward(x, w, (1, 1), pads, (1, 1), 1, keep=True)
    assert saved is not None and saved.cols.shape == (2, 1, 27, 400)
    K.release(saved)
    monkeypatch.setattr(plan, "KEEP_COLS_BYTES", 1000)
    y2, saved2 = K.conv_forward(x, w, (1, 1), pads, (1, 1), 1, keep=True)
    assert saved2 is None
    assert_close(y2, y, rtol=1e-12)


def test_nchw_blocked_results_do_not_share_the_block_buffers():
    # the outputs are fresh arrays: a second call must not change the first one's results
    rng = np.random.default_rng(33)
    x, w = rng.standard_normal((2, 3, 20, 20)), rng.standard_normal((4, 3, 3, 3))
    pads = ((1, 1), (1, 1))
    y = K.conv_forward(x, w, (1, 1), pads, (1, 1), 1)
    first = y.copy()
    K.conv_forward(2 * x, w, (1, 1), pads, (1, 1), 1)
    np.testing.assert_array_equal(y, first)


# (id, x shape, w shape, stride, pads, dilation): depthwise with fewer than FOLD_MAX_P outputs
TAPS_CASES = [
    ("1x1_map_pad1", (3, 5, 1, 1), (5, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ("2x2_map", (2, 6, 2, 2), (6, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),
    ("stride2_asymmetric", (2, 3, 9, 8), (3, 1, 3, 2), (2, 2), ((1, 0), (0, 1)), (1, 1)),
    ("dilation_past_the_map", (2, 3, 3, 3), (3, 1, 3, 3), (1, 1), ((3, 3), (3, 3)), (3, 3)),
    ("1d", (2, 4, 7), (4, 1, 5), (1,), ((2, 2),), (1,)),
    ("3d_strided", (1, 2, 5, 4, 4), (2, 1, 3, 3, 3), (2, 1, 1), ((1, 1),) * 3, (1, 1, 1)),
]


@pytest.mark.parametrize("threads", [1, 3], ids=["one_thread", "channels_over_3_threads"])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("need", ["both", "x", "w"])
@pytest.mark.parametrize("name, xs, ws, s, pads, d", TAPS_CASES, ids=[c[0] for c in TAPS_CASES])
def test_conv_depthwise_taps_match_reference(name, xs, ws, s, pads, d, need, dtype, rtol,
                                             threads, monkeypatch):
    monkeypatch.setattr(KPar, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(KPar, "NUM_THREADS", threads)
    g = xs[1]
    x, w, gy = _inputs(xs, ws, s, pads, d, g, dtype)
    x = np.asfortranarray(x)                                         # any layout
    bias = _rand((xs[1],), 4, dtype)
    assert plan.forward_path(x.shape, w.shape, s, pads, d, g) == "depthwise_taps"
    need_x, need_w = need in ("both", "x"), need in ("both", "w")
    assert plan.backward_path(x.shape, w.shape, gy.shape, s, pads, d, g, need_x,
                              need_w) == "depthwise_taps"
    y = K.conv_forward(x, w, s, pads, d, g, bias=bias)
    gx, gw = K.conv_backward(gy, x, w, s, pads, d, g, need_x, need_w)
    ref_y, ref_gx, ref_gw = _reference_three(x, w, gy, s, pads, d, g)
    assert y.dtype == dtype and y.flags.c_contiguous
    assert_close(y, ref_y + bias.reshape((-1,) + (1,) * (x.ndim - 2)), rtol=rtol, what="y")
    if need_x:
        assert gx.flags.c_contiguous
        assert_close(gx, ref_gx, rtol=rtol, what="gx")
    else:
        assert gx is None
    if need_w:
        assert_close(gw, ref_gw, rtol=rtol, what="gw")
    else:
        assert gw is None


def test_conv_depthwise_taps_only_on_small_maps(monkeypatch):
    s, pads, d = (1, 1), ((1, 1), (1, 1)), (1, 1)
    small, ws = (2, 4, 8, 8), (4, 1, 3, 3)
    assert plan.forward_path(small, ws, s, pads, d, 4) == "depthwise_taps"
    assert plan.backward_path(small, ws, small, s, pads, d, 4) == "depthwise_taps"
    # 13x13 = 169 outputs, at least FOLD_MAX_P: the taps for a few images only
    one, four = (1, 4, 13, 13), (7, 4, 13, 13)
    assert plan.forward_path(one, ws, s, pads, d, 4) == "depthwise_taps"
    assert plan.forward_path(four, ws, s, pads, d, 4) == "depthwise"
    assert plan.backward_path(four, ws, four, s, pads, d, 4) == "depthwise"
    monkeypatch.setattr(plan, "DEPTHWISE_TAPS", False)
    assert plan.forward_path(small, ws, s, pads, d, 4) == "folded"
    assert plan.backward_path(small, ws, small, s, pads, d, 4) == "separate"


def test_conv_pointwise_on_1x1_maps_is_one_gemm_over_the_batch():
    s, pads, d = (1, 1), ((0, 0), (0, 0)), (1, 1)
    assert plan.forward_path((8, 16, 1, 1), (4, 16, 1, 1), s, pads, d, 1) == "pointwise_folded"
    assert plan.forward_path((8, 16, 1, 1), (4, 8, 1, 1), s, pads, d, 2) == "pointwise_folded"
    assert plan.forward_path((1, 16, 1, 1), (4, 16, 1, 1), s, pads, d, 1) == "columns"
    assert plan.forward_path((8, 16, 2, 2), (4, 16, 1, 1), s, pads, d, 1) != "pointwise_folded"
    # (the agreement with the reference: the "2d_pointwise_on_1x1_maps" cases above)


def test_conv_forward_path_batch_below_threads_takes_whole_columns(monkeypatch):
    # the blocked paths split the batch over the threads: one image would run on one thread
    args = ((1, 64, 56, 56), (64, 64, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    monkeypatch.setattr(plan.gemm, "blas_threads", lambda: 2)
    assert plan.forward_path(*args) == "columns"
    assert plan.forward_path((2,) + args[0][1:], *args[1:]) == "nchw_blocks"
    monkeypatch.setattr(plan, "SPLIT_SMALL_BATCH", False)
    assert plan.forward_path(*args) == "nchw_blocks"


def test_conv_columns_of_one_image_match_reference():
    # one image's columns are copied in parts over the channels
    x, w, gy = _inputs((1, 6, 9, 8), (4, 6, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                       np.float64)
    previous = backends.set_num_threads(3)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(KPar, "PARALLEL_MIN_BYTES", 0)
            mp.setattr(plan, "forward_path", lambda *a, **k: "columns")
            y = K.conv_forward(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    finally:
        backends.set_num_threads(previous)
    assert_close(y, reference.forward(x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), 1), rtol=1e-12,
                 atol=1e-12)


def test_conv_depthwise_forward_keeps_no_columns_where_the_backward_takes_the_taps():
    # an 8x8 map: the forward takes the folded columns, the backward the taps
    x, w, gy = _inputs((2, 4, 8, 8), (4, 1, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4,
                       np.float64)
    args = ((1, 1), ((1, 1), (1, 1)), (1, 1), 4)
    y, saved = K.conv_forward(x, w, *args, keep=True)
    assert saved is None
    assert plan.backward_path(x.shape, w.shape, gy.shape, *args, saved=saved) == \
        "depthwise_taps"
