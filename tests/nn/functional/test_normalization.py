"""Normalisation of nn.functional vs torch: batch/instance/group/layer/rms norm, local response
norm, normalize; running statistics; float32; argument checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F
from svertka.autograd import gradcheck


def _rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _positive(shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


# (id, input shape): every rank batch norm accepts, and small edge cases
RANKS = [
    ("NC", (5, 3)),
    ("NCL", (4, 3, 5)),
    ("NCHW", (2, 3, 4, 5)),
    ("NCDHW", (2, 2, 3, 3, 4)),
    ("two_values_per_channel", (1, 3, 2)),
    ("one_image_NCHW", (1, 3, 4, 5)),
    ("one_channel", (6, 1, 3)),
]
RANK_IDS = [r[0] for r in RANKS]

# which affine parameters are given: (weight, bias)
AFFINE = [("affine", (True, True)), ("plain", (False, False)), ("weight_only", (True, False)),
          ("bias_only", (False, True))]
AFFINE_IDS = [a[0] for a in AFFINE]


def _affine_arrays(C, which, seed, shape=None):
    shape = (C,) if shape is None else shape
    arrays = []
    if which[0]:
        arrays.append(_positive(shape, seed + 1))
    if which[1]:
        arrays.append(_rand(shape, seed + 2))
    return arrays


def _split(params, which):
    """The weight and bias tensors from the positional rest, None where absent."""
    params = list(params)
    w = params.pop(0) if which[0] else None
    b = params.pop(0) if which[1] else None
    return w, b


def _running(C, seed, dtype=np.float64):
    return _rand(C, seed + 3, dtype), _positive(C, seed + 4).astype(dtype)


# ---------------------------------------------------------------------------- batch norm
@pytest.mark.parametrize("name, shape", RANKS, ids=RANK_IDS)
@pytest.mark.parametrize("aname, which", AFFINE, ids=AFFINE_IDS)
def test_batch_norm_training_matches_torch(name, shape, aname, which):
    C = shape[1]
    rm, rv = _running(C, 0)
    sv_rm, sv_rv = svertka.tensor(rm), svertka.tensor(rv)
    th_rm, th_rv = torch.tensor(rm), torch.tensor(rv)

    def sv(x, *p):
        return F.batch_norm(x, sv_rm, sv_rv, *_split(p, which), training=True, momentum=0.2)

    def th(x, *p):
        return TF.batch_norm(x, th_rm, th_rv, *_split(p, which), training=True, momentum=0.2)

    compare_with_torch(sv, th, _rand(shape), *_affine_arrays(C, which, 0))
    assert_close(sv_rm, th_rm, what="running_mean")
    assert_close(sv_rv, th_rv, what="running_var")


@pytest.mark.parametrize("name, shape", RANKS, ids=RANK_IDS)
@pytest.mark.parametrize("aname, which", AFFINE[:2], ids=AFFINE_IDS[:2])
def test_batch_norm_eval_matches_torch(name, shape, aname, which):
    C = shape[1]
    rm, rv = _running(C, 1)

    def sv(x, *p):
        return F.batch_norm(x, svertka.tensor(rm), svertka.tensor(rv), *_split(p, which))

    def th(x, *p):
        return TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), *_split(p, which))

    compare_with_torch(sv, th, _rand(shape, 1), *_affine_arrays(C, which, 1))


@pytest.mark.parametrize("name, shape", RANKS[:4], ids=RANK_IDS[:4])
def test_batch_norm_training_without_running_stats_matches_torch(name, shape):
    compare_with_torch(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                       lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
                       _rand(shape, 2), *_affine_arrays(shape[1], (True, True), 2))


@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0, 0.0], ids=lambda m: f"momentum{m}")
def test_batch_norm_running_stats_match_torch_after_several_updates(momentum):
    shape = (3, 4, 5, 2)
    sv_rm, sv_rv = svertka.zeros(4), svertka.ones(4)
    th_rm, th_rv = torch.zeros(4), torch.ones(4)
    for step in range(4):
        x = _rand(shape, 10 + step) * (step + 1) + step
        F.batch_norm(svertka.tensor(x), sv_rm, sv_rv, training=True, momentum=momentum)
        TF.batch_norm(torch.tensor(x), th_rm, th_rv, training=True, momentum=momentum)
        assert_close(sv_rm, th_rm, what=f"running_mean after {step + 1} updates")
        assert_close(sv_rv, th_rv, what=f"running_var after {step + 1} updates")
    # and eval with the tracked statistics
    x = _rand(shape, 20)
    assert_close(F.batch_norm(svertka.tensor(x), sv_rm, sv_rv),
                 TF.batch_norm(torch.tensor(x), th_rm, th_rv))


def test_batch_norm_running_stats_update_in_place_and_bump_version():
    rm, rv = svertka.zeros(3), svertka.ones(3)
    rm_data, v0 = rm._data, rm._version_number
    x = svertka.tensor(_rand((4, 3)), requires_grad=True)
    y = F.batch_norm(x, rm, rv, training=True)
    assert rm._data is rm_data and rm._version_number == v0 + 1
    assert not rm.requires_grad and rm.grad_fn is None
    y.sum().backward()  # the update does not invalidate the graph
    assert x.grad is not None


def test_batch_norm_eval_does_not_touch_running_stats():
    rm, rv = svertka.tensor(_rand(3)), svertka.tensor(_positive(3))
    before = rm.numpy().copy(), rv.numpy().copy(), rm._version_number
    F.batch_norm(svertka.tensor(_rand((4, 3, 2))), rm, rv, training=False)
    np.testing.assert_array_equal(rm.numpy(), before[0])
    np.testing.assert_array_equal(rv.numpy(), before[1])
    assert rm._version_number == before[2]


def test_batch_norm_empty_batch_matches_torch():
    sv_rm, sv_rv, th_rm, th_rv = svertka.zeros(3), svertka.ones(3), torch.zeros(3), torch.ones(3)
    y = F.batch_norm(svertka.zeros(0, 3, 4), sv_rm, sv_rv, training=True)
    TF.batch_norm(torch.zeros(0, 3, 4), th_rm, th_rv, training=True)
    assert tuple(y.shape) == (0, 3, 4)
    assert_close(sv_rm, th_rm)
    assert_close(sv_rv, th_rv)


@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_batch_norm_float32_forward_matches_torch_and_keeps_dtype(training):
    shape = (4, 3, 5, 5)
    x = _rand(shape, 5, np.float32) * 3 + 2
    w, b = _positive(3, 5).astype(np.float32), _rand(3, 6, np.float32)
    rm, rv = _running(3, 5, np.float32)
    sv_rm, sv_rv = svertka.tensor(rm), svertka.tensor(rv)
    th_rm, th_rv = torch.tensor(rm), torch.tensor(rv)
    sx = svertka.tensor(x, requires_grad=True)
    sw, sb = svertka.tensor(w, requires_grad=True), svertka.tensor(b, requires_grad=True)
    y = F.batch_norm(sx, sv_rm, sv_rv, sw, sb, training=training)
    ty = TF.batch_norm(torch.tensor(x), th_rm, th_rv, torch.tensor(w), torch.tensor(b),
                       training=training)
    assert y.dtype == svertka.float32
    assert_close(y, ty, rtol=1e-4)
    assert sv_rm._data.dtype == np.float32 and sv_rv._data.dtype == np.float32
    assert_close(sv_rm, th_rm, rtol=1e-4)
    assert_close(sv_rv, th_rv, rtol=1e-4)
    y.backward(svertka.tensor(_rand(shape, 7, np.float32)))
    assert sx.grad.dtype == svertka.float32 and sw.grad.dtype == svertka.float32
    assert sb.grad.dtype == svertka.float32


def test_batch_norm_gradcheck_training():
    x = svertka.tensor(_rand((3, 2, 4), 8), requires_grad=True)
    w = svertka.tensor(_positive(2, 8), requires_grad=True)
    b = svertka.tensor(_rand(2, 9), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                     (x, w, b))


def test_batch_norm_gradcheck_eval():
    x = svertka.tensor(_rand((3, 2, 4), 8), requires_grad=True)
    w = svertka.tensor(_positive(2, 8), requires_grad=True)
    rm, rv = svertka.tensor(_rand(2, 3)), svertka.tensor(_positive(2, 4))
    assert gradcheck(lambda x, w: F.batch_norm(x, rm, rv, w), (x, w))


# ---------------------------------------------------------------------------- instance norm
IN_SHAPES = [("NCL", (3, 4, 5)), ("NCHW", (2, 3, 4, 5)), ("NCDHW", (2, 2, 3, 2, 4)),
             ("two_positions", (2, 3, 2)), ("one_sample", (1, 3, 6))]
IN_IDS = [s[0] for s in IN_SHAPES]


@pytest.mark.parametrize("name, shape", IN_SHAPES, ids=IN_IDS)
@pytest.mark.parametrize("aname, which", AFFINE[:3], ids=AFFINE_IDS[:3])
def test_instance_norm_matches_torch(name, shape, aname, which):
    C = shape[1]
    rm, rv = _running(C, 0)
    sv_rm, sv_rv = svertka.tensor(rm), svertka.tensor(rv)
    th_rm, th_rv = torch.tensor(rm), torch.tensor(rv)

    def sv(x, *p):
        return F.instance_norm(x, sv_rm, sv_rv, *_split(p, which), momentum=0.3)

    def th(x, *p):
        return TF.instance_norm(x, th_rm, th_rv, *_split(p, which), momentum=0.3)

    compare_with_torch(sv, th, _rand(shape), *_affine_arrays(C, which, 0))
    assert_close(sv_rm, th_rm, what="running_mean")
    assert_close(sv_rv, th_rv, what="running_var")


@pytest.mark.parametrize("name, shape", IN_SHAPES[:3], ids=IN_IDS[:3])
def test_instance_norm_without_running_stats_matches_torch(name, shape):
    compare_with_torch(lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                       lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
                       _rand(shape, 3), *_affine_arrays(shape[1], (True, True), 3))


@pytest.mark.parametrize("name, shape", IN_SHAPES[:3], ids=IN_IDS[:3])
def test_instance_norm_running_stats_eval_matches_torch(name, shape):
    rm, rv = _running(shape[1], 4)

    def sv(x, w, b):
        return F.instance_norm(x, svertka.tensor(rm), svertka.tensor(rv), w, b,
                               use_input_stats=False)

    def th(x, w, b):
        return TF.instance_norm(x, torch.tensor(rm), torch.tensor(rv), w, b,
                                use_input_stats=False)

    compare_with_torch(sv, th, _rand(shape, 4), *_affine_arrays(shape[1], (True, True), 4))


def test_instance_norm_running_stats_match_torch_after_several_updates():
    sv_rm, sv_rv = svertka.zeros(3), svertka.ones(3)
    th_rm, th_rv = torch.zeros(3), torch.ones(3)
    for step in range(3):
        x = _rand((2, 3, 4, 3), 40 + step) * (step + 1) - step
        F.instance_norm(svertka.tensor(x), sv_rm, sv_rv, momentum=0.4)
        TF.instance_norm(torch.tensor(x), th_rm, th_rv, momentum=0.4)
        assert_close(sv_rm, th_rm, what=f"running_mean after {step + 1} updates")
        assert_close(sv_rv, th_rv, what=f"running_var after {step + 1} updates")


def test_instance_norm_eval_on_NC_input_matches_torch():
    rm, rv = _running(3, 6)
    compare_with_torch(
        lambda x: F.instance_norm(x, svertka.tensor(rm), svertka.tensor(rv),
                                  use_input_stats=False),
        lambda x: TF.instance_norm(x, torch.tensor(rm), torch.tensor(rv), use_input_stats=False),
        _rand((2, 3), 6))


def test_instance_norm_float32_forward_matches_torch_and_keeps_dtype():
    x = _rand((2, 3, 4, 4), 5, np.float32) * 2 - 1
    rm, rv = _running(3, 5, np.float32)
    sv_rm, sv_rv = svertka.tensor(rm), svertka.tensor(rv)
    th_rm, th_rv = torch.tensor(rm), torch.tensor(rv)
    y = F.instance_norm(svertka.tensor(x), sv_rm, sv_rv)
    assert y.dtype == svertka.float32 and sv_rm.dtype == svertka.float32
    assert_close(y, TF.instance_norm(torch.tensor(x), th_rm, th_rv), rtol=1e-4)
    assert_close(sv_rm, th_rm, rtol=1e-4)
    assert_close(sv_rv, th_rv, rtol=1e-4)


# ---------------------------------------------------------------------------- group norm
# (id, input shape, num_groups): groups 1 and C, and in between
GN_CASES = [
    ("groups1_NCHW", (2, 6, 3, 3), 1),
    ("groupsC_NCHW", (2, 6, 3, 3), 6),
    ("groups2_NCHW", (2, 6, 3, 3), 2),
    ("groups3_NCL", (3, 6, 4), 3),
    ("groups2_NC", (4, 4), 2),
    ("groups2_NCDHW", (2, 4, 2, 3, 2), 2),
    ("groups1_one_sample", (1, 3, 5), 1),
]
GN_IDS = [c[0] for c in GN_CASES]


@pytest.mark.parametrize("name, shape, G", GN_CASES, ids=GN_IDS)
@pytest.mark.parametrize("aname, which", AFFINE[:3], ids=AFFINE_IDS[:3])
def test_group_norm_matches_torch(name, shape, G, aname, which):
    compare_with_torch(lambda x, *p: F.group_norm(x, G, *_split(p, which)),
                       lambda x, *p: TF.group_norm(x, G, *_split(p, which)),
                       _rand(shape), *_affine_arrays(shape[1], which, 0))


def test_group_norm_float32_forward_matches_torch_and_keeps_dtype():
    x = _rand((2, 6, 4, 4), 5, np.float32) * 2 + 1
    w, b = _positive(6, 5).astype(np.float32), _rand(6, 6, np.float32)
    y = F.group_norm(svertka.tensor(x), 3, svertka.tensor(w), svertka.tensor(b))
    assert y.dtype == svertka.float32
    assert_close(y, TF.group_norm(torch.tensor(x), 3, torch.tensor(w), torch.tensor(b)),
                 rtol=1e-4)


# ---------------------------------------------------------------------------- layer norm
# (id, input shape, normalized_shape)
LN_CASES = [
    ("last_dim_int", (4, 5), 5),
    ("last_dim", (2, 3, 5), (5,)),
    ("two_dims", (2, 3, 4, 5), (4, 5)),
    ("list_shape", (2, 3, 4), [3, 4]),
    ("all_dims", (3, 4), (3, 4)),
    ("NCHW_over_CHW", (2, 3, 2, 2), (3, 2, 2)),
    ("size2", (6, 2), 2),
]
LN_IDS = [c[0] for c in LN_CASES]


@pytest.mark.parametrize("name, shape, ns", LN_CASES, ids=LN_IDS)
@pytest.mark.parametrize("aname, which", AFFINE[:3], ids=AFFINE_IDS[:3])
def test_layer_norm_matches_torch(name, shape, ns, aname, which):
    wshape = (ns,) if isinstance(ns, int) else tuple(ns)
    compare_with_torch(lambda x, *p: F.layer_norm(x, ns, *_split(p, which)),
                       lambda x, *p: TF.layer_norm(x, wshape, *_split(p, which)),
                       _rand(shape), *_affine_arrays(None, which, 0, wshape))


def test_layer_norm_float32_forward_matches_torch_and_keeps_dtype():
    x = _rand((3, 4, 8), 5, np.float32) + 3
    w, b = _positive(8, 5).astype(np.float32), _rand(8, 6, np.float32)
    y = F.layer_norm(svertka.tensor(x), (8,), svertka.tensor(w), svertka.tensor(b))
    assert y.dtype == svertka.float32
    assert_close(y, TF.layer_norm(torch.tensor(x), (8,), torch.tensor(w), torch.tensor(b)),
                 rtol=1e-4)


# ---------------------------------------------------------------------------- rms norm
@pytest.mark.parametrize("name, shape, ns", LN_CASES[:4], ids=LN_IDS[:4])
@pytest.mark.parametrize("with_weight", [True, False], ids=["weight", "no_weight"])
@pytest.mark.parametrize("eps", [None, 1e-3], ids=["eps_default", "eps1e-3"])
def test_rms_norm_matches_torch(name, shape, ns, with_weight, eps):
    wshape = (ns,) if isinstance(ns, int) else tuple(ns)
    which = (with_weight, False)
    compare_with_torch(lambda x, *p: F.rms_norm(x, ns, *_split(p, which)[:1], eps=eps),
                       lambda x, *p: TF.rms_norm(x, wshape, *_split(p, which)[:1], eps=eps),
                       _rand(shape), *_affine_arrays(None, which, 0, wshape))


def test_rms_norm_float32_forward_matches_torch_and_keeps_dtype():
    x = _rand((3, 8), 5, np.float32)
    y = F.rms_norm(svertka.tensor(x), 8)
    assert y.dtype == svertka.float32
    assert_close(y, TF.rms_norm(torch.tensor(x), (8,)), rtol=1e-4)


# ---------------------------------------------------------------------------- local response
# (id, input shape, size, alpha, beta, k): 3-D to 5-D, even and odd windows, window > C
LRN_CASES = [
    ("3d_size3", (2, 5, 4), 3, 1e-4, 0.75, 1.0),
    ("4d_size2", (2, 5, 3, 3), 2, 0.5, 0.75, 1.0),
    ("4d_size5_alexnet", (2, 7, 3, 3), 5, 1e-4, 0.75, 2.0),
    ("4d_size1", (2, 3, 2, 2), 1, 0.3, 0.5, 1.0),
    ("5d_size4", (1, 6, 2, 2, 3), 4, 0.8, 1.2, 0.5),
    ("window_wider_than_C", (2, 3, 4), 8, 1.0, 0.75, 1.0),
    ("one_channel", (2, 1, 5), 3, 1.0, 0.75, 1.0),
    ("beta_zero", (2, 4, 3), 3, 1.0, 0.0, 1.0),
]
LRN_IDS = [c[0] for c in LRN_CASES]


@pytest.mark.parametrize("name, shape, size, alpha, beta, k", LRN_CASES, ids=LRN_IDS)
def test_local_response_norm_matches_torch(name, shape, size, alpha, beta, k):
    compare_with_torch(lambda x: F.local_response_norm(x, size, alpha, beta, k),
                       lambda x: TF.local_response_norm(x, size, alpha, beta, k),
                       _rand(shape) * 2)


def test_local_response_norm_float32_forward_matches_torch_and_keeps_dtype():
    x = _rand((2, 6, 3, 3), 1, np.float32) * 3
    y = F.local_response_norm(svertka.tensor(x), 3, alpha=0.5)
    assert y.dtype == svertka.float32
    assert_close(y, TF.local_response_norm(torch.tensor(x), 3, alpha=0.5), rtol=1e-4)


def test_local_response_norm_empty_input_is_returned():
    x = svertka.zeros(0, 3, 4)
    assert F.local_response_norm(x, 2) is x


# ---------------------------------------------------------------------------- normalize
# (id, input (a callable of the seed), p, dim, eps)
NORMALIZE_CASES = [
    ("p2_dim1", (3, 4), 2.0, 1, 1e-12),
    ("p2_dim0", (3, 4), 2.0, 0, 1e-12),
    ("p1_dim_neg1", (2, 3, 4), 1.0, -1, 1e-12),
    ("p3", (3, 5), 3.0, 1, 1e-12),
    ("p_half", (3, 5), 0.5, 1, 1e-12),
    ("p_inf", (3, 5), float("inf"), 1, 1e-12),
    ("p_int2", (3, 5), 2, 1, 1e-12),
    ("eps_active", (3, 4), 2.0, 1, 10.0),
    ("1d", (6,), 2.0, 0, 1e-12),
]
NORMALIZE_IDS = [c[0] for c in NORMALIZE_CASES]


@pytest.mark.parametrize("name, shape, p, dim, eps", NORMALIZE_CASES, ids=NORMALIZE_IDS)
def test_normalize_matches_torch(name, shape, p, dim, eps):
    compare_with_torch(lambda x: F.normalize(x, p, dim, eps),
                       lambda x: TF.normalize(x, p, dim, eps), _rand(shape))


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, float("inf")], ids=lambda p: f"p{p}")
def test_normalize_zero_rows_and_zero_entries_match_torch(p):
    x = _rand((3, 4))
    x[0] = 0.0
    x[1, :2] = 0.0
    compare_with_torch(lambda t: F.normalize(t, p), lambda t: TF.normalize(t, p), x)


def test_normalize_inf_norm_ties_share_the_gradient_as_torch():
    x = np.array([[1.0, -3.0, 3.0, 2.0]])
    compare_with_torch(lambda t: F.normalize(t, float("inf")),
                       lambda t: TF.normalize(t, float("inf")), x)


def test_normalize_float32_forward_matches_torch_and_keeps_dtype():
    x = _rand((4, 5), 2, np.float32)
    y = F.normalize(svertka.tensor(x))
    assert y.dtype == svertka.float32
    assert_close(y, TF.normalize(torch.tensor(x)), rtol=1e-4)


# ---------------------------------------------------------------------------- argument checks
def _t(*shape):
    return svertka.tensor(_rand(shape))


BAD = [
    ("bn_running_mean_size", ValueError, r"batch_norm: running_mean must have shape \(3,\)",
     lambda: F.batch_norm(_t(2, 3), _t(4), _t(3))),
    ("bn_running_var_size", ValueError, r"batch_norm: running_var must have shape \(3,\)",
     lambda: F.batch_norm(_t(2, 3), _t(3), _t(2))),
    ("bn_weight_size", ValueError, r"batch_norm: weight must have shape \(3,\).*got weight of "
     r"shape \(2,\)", lambda: F.batch_norm(_t(2, 3), _t(3), _t(3), _t(2))),
    ("bn_bias_size", ValueError, r"batch_norm: bias must have shape \(3,\)",
     lambda: F.batch_norm(_t(2, 3), None, None, None, _t(3, 1), training=True)),
    ("bn_rank", ValueError, r"batch_norm: input must be at least 2-D .*got input of shape \(3,\)",
     lambda: F.batch_norm(_t(3), _t(3), _t(3))),
    ("bn_one_value", ValueError, r"batch_norm: expected more than 1 value per channel when "
     r"training, got input size \(1, 3\)",
     lambda: F.batch_norm(_t(1, 3), _t(3), _t(3), training=True)),
    ("bn_one_value_spatial", ValueError, r"expected more than 1 value per channel",
     lambda: F.batch_norm(_t(1, 3, 1, 1), None, None, training=True)),
    ("bn_eval_without_stats", ValueError, r"batch_norm: running_mean and running_var must be "
     r"given when training=False", lambda: F.batch_norm(_t(2, 3), None, None)),
    ("bn_one_running_stat", ValueError, r"batch_norm: running_mean and running_var must both",
     lambda: F.batch_norm(_t(2, 3), _t(3), None, training=True)),
    ("bn_momentum_none", TypeError,
     r"batch_norm: momentum must be a real number, got momentum=None",
     lambda: F.batch_norm(_t(2, 3), _t(3), _t(3), training=True, momentum=None)),
    ("bn_negative_eps", ValueError, r"batch_norm: eps must be >= 0.0, got eps=-1.0",
     lambda: F.batch_norm(_t(2, 3), _t(3), _t(3), eps=-1.0)),
    ("bn_not_tensor", TypeError, r"batch_norm: input must be a Tensor, got ndarray",
     lambda: F.batch_norm(_rand((2, 3)), _t(3), _t(3))),
    ("bn_int_input", TypeError, r"batch_norm: input must be a floating-point tensor",
     lambda: F.batch_norm(svertka.tensor([[1, 2], [3, 4]]), _t(2), _t(2))),
    ("bn_weight_not_tensor", TypeError, r"batch_norm: weight must be a Tensor",
     lambda: F.batch_norm(_t(2, 3), _t(3), _t(3), _rand(3))),
    ("bn_int_running_mean", TypeError, r"batch_norm: running_mean must be a floating-point "
     r"tensor", lambda: F.batch_norm(_t(2, 3), svertka.tensor([1, 2, 3]), _t(3))),
    ("bn_weight_size_context", ValueError, r"^batch_norm: weight must have shape \(3,\) \(one "
     r"value per channel of input \(2, 3, 4\)\), got weight of shape \(3, 1\)$",
     lambda: F.batch_norm(_t(2, 3, 4), _t(3), _t(3), _t(3, 1))),
    ("in_running_mean_size", ValueError, r"instance_norm: running_mean must have shape \(3,\)",
     lambda: F.instance_norm(_t(2, 3, 4), _t(2), _t(3))),
    ("in_weight_size", ValueError, r"instance_norm: weight must have shape \(3,\)",
     lambda: F.instance_norm(_t(2, 3, 4), weight=_t(4))),
    ("in_rank", ValueError, r"instance_norm: input must be at least 2-D",
     lambda: F.instance_norm(_t(3))),
    ("in_one_position", ValueError, r"instance_norm: expected more than 1 spatial element when "
     r"training, got input size \(2, 3, 1\)", lambda: F.instance_norm(_t(2, 3, 1))),
    ("in_eval_without_stats", ValueError, r"instance_norm: running_mean and running_var must "
     r"be given when use_input_stats=False",
     lambda: F.instance_norm(_t(2, 3, 4), use_input_stats=False)),
    ("gn_not_dividing", ValueError, r"group_norm: num_groups must be a positive divisor of the "
     r"number of channels \(C=6 .*got num_groups=4", lambda: F.group_norm(_t(2, 6, 3), 4)),
    ("gn_zero_groups", ValueError, r"group_norm: num_groups must be a positive divisor.*"
     r"num_groups=0", lambda: F.group_norm(_t(2, 6, 3), 0)),
    ("gn_float_groups", TypeError, r"group_norm: num_groups must be a positive int, got "
     r"num_groups=2.0", lambda: F.group_norm(_t(2, 6, 3), 2.0)),
    ("gn_weight_size", ValueError, r"group_norm: weight must have shape \(6,\)",
     lambda: F.group_norm(_t(2, 6, 3), 2, _t(3))),
    ("gn_bias_size", ValueError, r"group_norm: bias must have shape \(6,\)",
     lambda: F.group_norm(_t(2, 6, 3), 2, None, _t(5))),
    ("gn_rank", ValueError, r"group_norm: input must be at least 2-D",
     lambda: F.group_norm(_t(6), 2)),
    ("ln_shape_mismatch", ValueError, r"layer_norm: normalized_shape must equal the trailing "
     r"dims of input of shape \(2, 4\), got normalized_shape=\(3,\)",
     lambda: F.layer_norm(_t(2, 4), (3,))),
    ("ln_shape_too_long", ValueError, r"layer_norm: normalized_shape must equal the trailing",
     lambda: F.layer_norm(_t(4), (2, 4))),
    ("ln_weight_shape", ValueError, r"layer_norm: weight must have shape \(4,\) "
     r"\(normalized_shape\), got weight of shape \(3,\)",
     lambda: F.layer_norm(_t(2, 4), 4, _t(3))),
    ("ln_bias_shape", ValueError, r"layer_norm: bias must have shape \(2, 4\)",
     lambda: F.layer_norm(_t(2, 4), (2, 4), None, _t(8))),
    ("ln_bad_shape_type", TypeError, r"layer_norm: normalized_shape must be an int or a tuple "
     r"of ints, got normalized_shape=4.0", lambda: F.layer_norm(_t(2, 4), 4.0)),
    ("rms_shape_mismatch", ValueError, r"rms_norm: normalized_shape must equal the trailing",
     lambda: F.rms_norm(_t(2, 4), 3)),
    ("rms_weight_shape", ValueError, r"rms_norm: weight must have shape \(4,\)",
     lambda: F.rms_norm(_t(2, 4), 4, _t(2))),
    ("lrn_rank", ValueError, r"local_response_norm: input must be at least 3-D \(N, C, \*\), "
     r"got input of shape \(2, 3\)", lambda: F.local_response_norm(_t(2, 3), 2)),
    ("lrn_size_zero", ValueError, r"local_response_norm: size must be a positive int, got "
     r"size=0", lambda: F.local_response_norm(_t(2, 3, 4), 0)),
    ("lrn_size_float", TypeError, r"local_response_norm: size must be a positive int, got "
     r"size=2.0", lambda: F.local_response_norm(_t(2, 3, 4), 2.0)),
    ("lrn_alpha_type", TypeError, r"local_response_norm: alpha must be a real number, got "
     r"alpha='a'", lambda: F.local_response_norm(_t(2, 3, 4), 2, "a")),
    ("normalize_dim", ValueError, r"normalize: dim out of range",
     lambda: F.normalize(_t(2, 3), dim=2)),
    ("normalize_negative_p", ValueError, r"normalize: p must be a positive number, inf or 0, "
     r"got p=-1.0", lambda: F.normalize(_t(2, 3), p=-1)),
    ("normalize_p_type", TypeError, r"normalize: p must be a real number, got p='fro'",
     lambda: F.normalize(_t(2, 3), p="fro")),
]
BAD_IDS = [b[0] for b in BAD]


@pytest.mark.parametrize("name, exc, match, call", BAD, ids=BAD_IDS)
def test_normalization_rejects_bad_arguments(name, exc, match, call):
    with pytest.raises(exc, match=match):
        call()


# ---------------------------------------------------------------------------- empty inputs
# (id, call of a functional module: svertka's F or torch's); torch's shapes that it accepts
EMPTY = [
    ("batch_norm_training", lambda x, f: f.batch_norm(x, None, None, training=True)),
    ("instance_norm", lambda x, f: f.instance_norm(x)),
    ("group_norm", lambda x, f: f.group_norm(x, 3)),
    ("layer_norm", lambda x, f: f.layer_norm(x, (3, 4))),
    ("rms_norm", lambda x, f: f.rms_norm(x, (4,))),
    ("normalize", lambda x, f: f.normalize(x)),
]


@pytest.mark.parametrize("shape", [(0, 3, 4), (2, 3, 0)], ids=["empty_batch", "empty_spatial"])
@pytest.mark.parametrize("name, call", EMPTY, ids=[e[0] for e in EMPTY])
def test_normalization_empty_input_matches_torch(name, call, shape):
    if name == "instance_norm" and shape[0] > 0:
        pytest.skip("torch rejects 0 spatial elements (not more than 1)")
    if name in ("layer_norm", "rms_norm") and shape[-1] == 0:
        pytest.skip("the normalized_shape does not match")
    compare_with_torch(lambda x: call(x, F), lambda x: call(x, TF), np.zeros(shape))


# ---------------------------------------------------------------------------- graph details
# (id, svertka call, torch call): layouts and which inputs need gradients
LAYOUT = [
    ("batch_norm", lambda f, x, w, b: f.batch_norm(x, None, None, w, b, training=True)),
    ("group_norm", lambda f, x, w, b: f.group_norm(x, 2, w, b)),
    ("instance_norm", lambda f, x, w, b: f.instance_norm(x, weight=w, bias=b)),
]


@pytest.mark.parametrize("name, call", LAYOUT, ids=[c[0] for c in LAYOUT])
def test_normalization_grads_match_torch_on_fortran_order_input(name, call):
    x = np.asfortranarray(_rand((3, 4, 5, 2), 30))
    compare_with_torch(lambda *a: call(F, *a), lambda *a: call(TF, *a), x,
                       *_affine_arrays(4, (True, True), 30))


@pytest.mark.parametrize("grad", [[False, True, True], [True, False, True], [True, True, False]],
                         ids=["params_only", "no_weight_grad", "no_bias_grad"])
@pytest.mark.parametrize("name, call", LAYOUT, ids=[c[0] for c in LAYOUT])
def test_normalization_grads_match_torch_when_some_inputs_are_constant(name, call, grad):
    compare_with_torch(lambda *a: call(F, *a), lambda *a: call(TF, *a), _rand((3, 4, 5), 31),
                       *_affine_arrays(4, (True, True), 31), grad=grad)


def test_batch_norm_backward_rejects_weight_modified_in_place():
    x = svertka.tensor(_rand((4, 3)), requires_grad=True)
    w = svertka.tensor(_positive(3), requires_grad=True)
    y = F.batch_norm(x, None, None, w, training=True)
    with svertka.no_grad():
        w.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ---------------------------------------------------------------------------- issue 19

@pytest.mark.parametrize("size", [5, 9, 10, 11, 64])
def test_local_response_norm_window_wider_than_channels_matches_torch(size):
    x = _rand((2, 5, 3, 3))
    compare_with_torch(lambda t: F.local_response_norm(t, size, alpha=0.5),
                       lambda t: TF.local_response_norm(t, size, alpha=0.5), x)


@pytest.mark.parametrize("size", [10**9, 2**40])
def test_local_response_norm_work_is_independent_of_size(size, monkeypatch):
    """A window of 2**40 channels loops only over the channels that exist (the loop went to
    size // 2: ~30 s for 10**9, forever for 2**40); the divisor is still ``size``."""
    from svertka.ops import norm as N

    x = _rand((2, 5, 3))
    t = svertka.tensor(x, requires_grad=True)
    y = F.local_response_norm(t, size, alpha=1.0)
    y.backward(svertka.ones(2, 5, 3))
    base = 1.0 + (x * x).sum(axis=1, keepdims=True) / size      # every channel in the window
    assert_close(y.detach().numpy(), x / base ** 0.75)
    assert N._channel_window_sum(np.ones((1, 3)), size // 2, (size - 1) // 2).tolist() == \
        [[3.0, 3.0, 3.0]]
