"""Losses of nn.functional against torch 2.13 (float64, random upstream gradient)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F

REDUCTIONS = ["mean", "sum", "none"]

# kl_div(reduction='mean') warns in torch and in svertka alike
pytestmark = pytest.mark.filterwarnings("ignore:.*'mean' divides the total loss:UserWarning")


def _rng(seed):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- cross-entropy

# (id, input shape, options): options may hold weight (bool), ignore (how many targets are set
# to ignore_index), ignore_index, label_smoothing, scale (of the logits)
CE_INDEX_CASES = [
    ("basic", (4, 10), {}),
    ("weight", (5, 4), dict(weight=True)),
    ("ignore", (6, 4), dict(ignore=2)),
    ("ignore_custom_index", (6, 4), dict(ignore=2, ignore_index=1)),
    ("ignore_weight", (6, 4), dict(ignore=2, weight=True)),
    ("smoothing", (5, 4), dict(label_smoothing=0.1)),
    ("smoothing_weight", (5, 4), dict(label_smoothing=0.3, weight=True)),
    ("smoothing_weight_ignore", (6, 4), dict(label_smoothing=0.2, weight=True, ignore=2)),
    ("smoothing_1", (5, 4), dict(label_smoothing=1.0)),
    ("spatial_2d", (2, 3, 4, 5), {}),
    ("spatial_1d_weight_ignore", (3, 4, 5), dict(weight=True, ignore=3)),
    ("spatial_3d_smoothing", (2, 3, 2, 2, 3), dict(label_smoothing=0.1, weight=True, ignore=2)),
    ("unbatched", (7,), {}),
    ("unbatched_weight_smoothing", (7,), dict(weight=True, label_smoothing=0.2)),
    ("one_class", (4, 1), {}),
    ("large_logits", (4, 6), dict(scale=300.0)),
    ("empty_batch", (0, 5), {}),
    ("empty_batch_spatial", (2, 3, 0), dict(weight=True)),
    ("all_ignored", (3, 4), dict(ignore=3)),
    ("all_ignored_smoothing", (3, 4), dict(ignore=3, label_smoothing=0.1)),
]


def _ce_index_arrays(shape, opts, seed=0):
    rng = _rng(seed)
    x = rng.standard_normal(shape) * opts.get("scale", 2.0)
    C = shape[0] if len(shape) == 1 else shape[1]
    t_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    t = rng.integers(0, C, size=t_shape)
    ignore_index = opts.get("ignore_index", -100)
    if opts.get("ignore"):
        t.reshape(-1)[:opts["ignore"]] = ignore_index
    w = rng.uniform(0.2, 2.0, size=C) if opts.get("weight") else None
    kw = dict(ignore_index=ignore_index, label_smoothing=opts.get("label_smoothing", 0.0))
    return x, t, w, kw


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, shape, opts", CE_INDEX_CASES, ids=[c[0] for c in CE_INDEX_CASES])
def test_cross_entropy_matches_torch_class_indices(name, shape, opts, reduction):
    x, t, w, kw = _ce_index_arrays(shape, opts)
    kw["reduction"] = reduction
    arrays, grad = (x, t), [True, False]
    if w is not None:
        arrays, grad = (x, t, w), [True, False, False]  # torch: weight not differentiable here
    compare_with_torch(lambda x, t, w=None: F.cross_entropy(x, t, w, **kw),
                       lambda x, t, w=None: TF.cross_entropy(x, t, w, **kw), *arrays, grad=grad)


# (id, input shape, options): class-probability targets, the input's shape
CE_PROB_CASES = [
    ("basic", (4, 5), {}),
    ("weight", (4, 5), dict(weight=True)),
    ("smoothing", (4, 5), dict(label_smoothing=0.25)),
    ("smoothing_weight", (3, 4), dict(label_smoothing=0.1, weight=True)),
    ("spatial", (2, 3, 4), dict(weight=True)),
    ("spatial_2d", (2, 3, 2, 3), dict(label_smoothing=0.2)),
    ("unbatched", (6,), dict(weight=True)),
    ("empty_batch", (0, 4), {}),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, shape, opts", CE_PROB_CASES, ids=[c[0] for c in CE_PROB_CASES])
def test_cross_entropy_matches_torch_class_probabilities(name, shape, opts, reduction):
    rng = _rng(1)
    x = rng.standard_normal(shape) * 2
    p = rng.uniform(0.0, 1.0, shape)
    axis = 0 if len(shape) == 1 else 1
    with np.errstate(invalid="ignore"):
        p = p / p.sum(axis=axis, keepdims=True)
    kw = dict(reduction=reduction, label_smoothing=opts.get("label_smoothing", 0.0))
    C = shape[axis]
    arrays = (x, p) + ((rng.uniform(0.2, 2.0, C),) if opts.get("weight") else ())
    # input, target and weight are all differentiable here, as in torch
    compare_with_torch(lambda x, t, w=None: F.cross_entropy(x, t, w, **kw),
                       lambda x, t, w=None: TF.cross_entropy(x, t, w, **kw), *arrays)


@pytest.mark.parametrize("C", [2, 10, 1000])
def test_cross_entropy_of_uniform_logits_is_log_C(C):
    x = svertka.zeros(3, C, requires_grad=True)
    loss = F.cross_entropy(x, svertka.tensor([0, C - 1, C // 2]))
    assert abs(loss.item() - math.log(C)) < 1e-6
    loss.backward()  # softmax - onehot: 1/C everywhere but -(1 - 1/C) at the target
    assert abs(x.grad.numpy()[0, 0] - (1 / C - 1) / 3) < 1e-7


@pytest.mark.parametrize("name, shape, opts", CE_INDEX_CASES[:14:3],
                         ids=[c[0] for c in CE_INDEX_CASES[:14:3]])
def test_cross_entropy_float32_forward_matches_torch(name, shape, opts):
    x, t, w, kw = _ce_index_arrays(shape, opts)
    x32 = x.astype(np.float32)
    w32 = None if w is None else w.astype(np.float32)
    out = F.cross_entropy(svertka.tensor(x32), svertka.tensor(t),
                          None if w32 is None else svertka.tensor(w32), **kw)
    assert out.dtype == svertka.float32
    expected = TF.cross_entropy(torch.tensor(x32), torch.tensor(t),
                                None if w32 is None else torch.tensor(w32), **kw)
    assert_close(out, expected, rtol=1e-4)


def test_cross_entropy_float32_gradient_stays_float32():
    x = svertka.tensor(np.ones((3, 4), np.float32), requires_grad=True)
    F.cross_entropy(x, svertka.tensor([0, 1, -100]), label_smoothing=0.1,
                    weight=svertka.tensor(np.ones(4, np.float32))).backward()
    assert x.grad.dtype == svertka.float32


def test_cross_entropy_accepts_int32_targets():
    x = _rng(0).standard_normal((4, 3))
    t = np.array([0, 2, 1, 2], dtype=np.int32)
    out = F.cross_entropy(svertka.tensor(x), svertka.tensor(t))
    assert_close(out, TF.cross_entropy(torch.tensor(x), torch.tensor(t.astype(np.int64))))


def test_cross_entropy_legacy_reduce_maps_to_reduction():
    x, t = _rng(0).standard_normal((4, 3)), np.array([0, 2, 1, 2])
    with pytest.warns(UserWarning, match="size_average and reduce are deprecated"):
        out = F.cross_entropy(svertka.tensor(x), svertka.tensor(t), reduce=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = TF.cross_entropy(torch.tensor(x), torch.tensor(t), reduce=False)
    assert_close(out, expected)


def test_cross_entropy_weighted_mean_divides_by_summed_target_weights():
    x = svertka.tensor(_rng(4).standard_normal((4, 3)))
    t, w = svertka.tensor([0, 2, 2, -100]), svertka.tensor(np.array([1.0, 2.0, 4.0]))
    per_sample = F.cross_entropy(x, t, w, reduction="none").numpy()
    expected = per_sample.sum() / (1.0 + 4.0 + 4.0)  # the ignored sample counts for nothing
    assert abs(F.cross_entropy(x, t, w).item() - expected) < 1e-12


# ----------------------------------------------------------------------------- nll_loss

NLL_CASES = [
    ("basic", (4, 5), {}),
    ("weight", (4, 5), dict(weight=True)),
    ("ignore_weight", (6, 3), dict(weight=True, ignore=2)),
    ("spatial", (2, 3, 4, 2), dict(ignore=2)),
    ("unbatched", (5,), dict(weight=True)),
    ("empty_batch", (0, 3), {}),
    ("all_ignored", (2, 3), dict(ignore=2)),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, shape, opts", NLL_CASES, ids=[c[0] for c in NLL_CASES])
def test_nll_loss_matches_torch(name, shape, opts, reduction):
    x, t, w, kw = _ce_index_arrays(shape, opts, seed=2)
    kw = dict(ignore_index=kw["ignore_index"], reduction=reduction)
    arrays, grad = ((x, t), [True, False]) if w is None else ((x, t, w), [True, False, False])
    compare_with_torch(lambda x, t, w=None: F.nll_loss(x, t, w, **kw),
                       lambda x, t, w=None: TF.nll_loss(x, t, w, **kw), *arrays, grad=grad)


def test_nll_loss_of_log_softmax_is_cross_entropy():
    x = svertka.tensor(_rng(3).standard_normal((4, 6)))
    t = svertka.tensor([5, 0, 2, 2])
    assert_close(F.nll_loss(F.log_softmax(x, dim=1), t), F.cross_entropy(x, t))


# ----------------------------------------------------------------------------- pointwise losses

# (id, svertka call, torch call, input kind, target kind, weight): kinds pick the arrays below
POINTWISE = [
    ("mse", F.mse_loss, TF.mse_loss, "randn", "randn", False),
    ("mse_weight", F.mse_loss, TF.mse_loss, "randn", "randn", True),
    ("l1", F.l1_loss, TF.l1_loss, "randn", "ties", False),
    ("l1_weight", F.l1_loss, TF.l1_loss, "randn", "randn", True),
    ("smooth_l1", F.smooth_l1_loss, TF.smooth_l1_loss, "randn", "ties", False),
    ("smooth_l1_beta0.5", lambda x, t, **k: F.smooth_l1_loss(x, t, beta=0.5, **k),
     lambda x, t, **k: TF.smooth_l1_loss(x, t, beta=0.5, **k), "randn", "randn", False),
    ("smooth_l1_beta0", lambda x, t, **k: F.smooth_l1_loss(x, t, beta=0.0, **k),
     lambda x, t, **k: TF.smooth_l1_loss(x, t, beta=0.0, **k), "randn", "ties", False),
    ("huber", F.huber_loss, TF.huber_loss, "randn", "ties", False),
    ("huber_delta2_weight", lambda x, t, **k: F.huber_loss(x, t, delta=2.0, **k),
     lambda x, t, **k: TF.huber_loss(x, t, delta=2.0, **k), "randn", "randn", True),
    ("bce", F.binary_cross_entropy, TF.binary_cross_entropy, "prob", "prob", False),
    ("bce_weight", F.binary_cross_entropy, TF.binary_cross_entropy, "prob", "binary", True),
    ("bce_logits", F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
     "randn", "prob", False),
    ("bce_logits_weight", F.binary_cross_entropy_with_logits,
     TF.binary_cross_entropy_with_logits, "randn", "binary", True),
    ("bce_logits_large", F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
     "large", "binary", False),
    ("kl_div", F.kl_div, TF.kl_div, "logprob", "prob", False),
    ("kl_div_log_target", lambda x, t, **k: F.kl_div(x, t, log_target=True, **k),
     lambda x, t, **k: TF.kl_div(x, t, log_target=True, **k), "logprob", "logprob", False),
]
POINTWISE_IDS = [p[0] for p in POINTWISE]
SHAPE = (3, 4)


def _arrays(kind, seed, shape=SHAPE):
    rng = _rng(seed)
    if kind == "randn":
        return rng.standard_normal(shape) * 2
    if kind == "ties":  # half the targets equal the input (the kinks of l1, smooth_l1, huber)
        return None
    if kind == "prob":
        return rng.uniform(0.02, 0.98, shape)
    if kind == "binary":
        return rng.integers(0, 2, shape).astype(np.float64)
    if kind == "large":
        return rng.choice([-60.0, -30.0, -5.0, 5.0, 30.0, 60.0], shape)
    if kind == "logprob":
        return np.log(rng.uniform(0.05, 1.0, shape))
    raise KeyError(kind)


def _pointwise_arrays(x_kind, t_kind, weighted, shape=SHAPE):
    x = _arrays(x_kind, 0, shape)
    t = _arrays(t_kind, 1, shape)
    if t is None:
        t = _arrays("randn", 1, shape)
        t.reshape(-1)[::2] = x.reshape(-1)[::2]
        t.reshape(-1)[1] = x.reshape(-1)[1] + 1.0  # |d| == beta == delta
    w = _rng(2).uniform(0.1, 2.0, shape) if weighted else None
    return x, t, w


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, sv, th, x_kind, t_kind, weighted", POINTWISE, ids=POINTWISE_IDS)
def test_pointwise_loss_matches_torch(name, sv, th, x_kind, t_kind, weighted, reduction):
    x, t, w = _pointwise_arrays(x_kind, t_kind, weighted)
    arrays, grad = (x, t), [True, True]
    if w is not None:
        arrays = (x, t, w)
        # torch differentiates the weight of mse, l1 and huber, not of the bce losses
        grad = [True, True, not name.startswith("bce")]
    def kw(w):
        return dict(reduction=reduction) if w is None else dict(reduction=reduction, weight=w)

    compare_with_torch(lambda x, t, w=None: sv(x, t, **kw(w)),
                       lambda x, t, w=None: th(x, t, **kw(w)), *arrays, grad=grad)


@pytest.mark.parametrize("name, sv, th, x_kind, t_kind, weighted", POINTWISE, ids=POINTWISE_IDS)
def test_pointwise_loss_empty_batch_matches_torch(name, sv, th, x_kind, t_kind, weighted):
    x, t = np.zeros((0, 3)), np.zeros((0, 3))
    for reduction in REDUCTIONS:
        compare_with_torch(lambda x, t, r=reduction: sv(x, t, reduction=r),
                           lambda x, t, r=reduction: th(x, t, reduction=r), x, t)


@pytest.mark.parametrize("name, sv, th, x_kind, t_kind, weighted", POINTWISE, ids=POINTWISE_IDS)
def test_pointwise_loss_float32_forward_matches_torch(name, sv, th, x_kind, t_kind, weighted):
    x, t, _ = _pointwise_arrays(x_kind, t_kind, False)
    x, t = x.astype(np.float32), t.astype(np.float32)
    out = sv(svertka.tensor(x), svertka.tensor(t))
    assert out.dtype == svertka.float32
    assert_close(out, th(torch.tensor(x), torch.tensor(t)), rtol=1e-4)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits_pos_weight_matches_torch(reduction):
    x, t, w = _pointwise_arrays("randn", "prob", True, shape=(4, 3))
    pw = _rng(5).uniform(0.5, 3.0, 3)
    compare_with_torch(
        lambda x, t: F.binary_cross_entropy_with_logits(
            x, t, svertka.tensor(w), reduction=reduction, pos_weight=svertka.tensor(pw)),
        lambda x, t: TF.binary_cross_entropy_with_logits(
            x, t, torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw)), x, t)


def test_binary_cross_entropy_clamps_log_at_saturated_inputs():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.3])
    # the gradient of t is -logit(x): infinite at 0 and 1, as torch
    compare_with_torch(lambda x, t: F.binary_cross_entropy(x, t, reduction="sum"),
                       lambda x, t: TF.binary_cross_entropy(x, t, reduction="sum"), x, t)


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_batchmean_matches_torch(log_target):
    x = _arrays("logprob", 0, (4, 5))
    t = _arrays("logprob" if log_target else "prob", 1, (4, 5))
    compare_with_torch(lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=log_target),
                       lambda x, t: TF.kl_div(x, t, reduction="batchmean",
                                              log_target=log_target), x, t)


def test_mse_loss_broadcasts_target_with_warning():
    x, t = _rng(0).standard_normal((3, 4)), _rng(1).standard_normal((4,))
    with pytest.warns(UserWarning, match=r"mse_loss: using a target size \(\(4,\)\)"):
        compare_with_torch(F.mse_loss, lambda a, b: _quiet(TF.mse_loss, a, b), x, t)


def _quiet(fn, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args)


def test_pointwise_loss_gradcheck_smooth_l1_target():
    x = svertka.tensor(_rng(0).standard_normal((3, 2)), requires_grad=True)
    t = svertka.tensor(_rng(1).standard_normal((3, 2)), requires_grad=True)
    assert svertka.autograd.gradcheck(lambda a, b: F.smooth_l1_loss(a, b, beta=0.7), (x, t))


def _f32(a, grad=True):
    return svertka.tensor(np.asarray(a, dtype=np.float32), requires_grad=grad)


# (id, loss of (input, target, weight) in float32): every differentiable input's gradient
FLOAT32_GRADS = [
    ("mse", lambda x, t, w: F.mse_loss(x, t, weight=w)),
    ("l1", lambda x, t, w: F.l1_loss(x, t, weight=w)),
    ("smooth_l1", lambda x, t, w: F.smooth_l1_loss(x, t, beta=0.5)),
    ("huber", lambda x, t, w: F.huber_loss(x, t, weight=w)),
    ("bce", lambda x, t, w: F.binary_cross_entropy(x, t, weight=w.detach())),
    ("bce_logits", lambda x, t, w: F.binary_cross_entropy_with_logits(
        x, t, pos_weight=w.detach()[0])),
    ("kl_div", lambda x, t, w: F.kl_div(x, t, reduction="batchmean")),
    ("cross_entropy_probs", lambda x, t, w: F.cross_entropy(x, t, w[0], label_smoothing=0.1)),
    ("nll_loss", lambda x, t, w: F.nll_loss(x, svertka.tensor([0, 3, -100]))),
]


@pytest.mark.parametrize("name, loss", FLOAT32_GRADS, ids=[c[0] for c in FLOAT32_GRADS])
def test_loss_float32_gradients_stay_float32(name, loss):
    rng = _rng(7)
    x, t, w = (_f32(rng.uniform(0.05, 0.95, (3, 4))) for _ in range(3))
    out = loss(x, t, w)
    out.backward()
    assert out.dtype == svertka.float32
    for v in (x, t, w):
        assert v.grad is None or v.grad.dtype == svertka.float32


# ----------------------------------------------------------------------------- argument checks

def _t(*shape, dtype=np.float64, fill=0.5):
    return svertka.tensor(np.full(shape, fill, dtype=dtype))


def _i(*values):
    return svertka.tensor(np.array(values, dtype=np.int64))


ERRORS = [
    ("ce_target_shape", lambda: F.cross_entropy(_t(4, 10), _i(1, 2, 3)), ValueError,
     r"cross_entropy: target has shape \(3,\), expected \(4,\) for input of shape \(4, 10\)"),
    ("ce_target_shape_spatial", lambda: F.cross_entropy(_t(2, 3, 5), _i(1, 2)), ValueError,
     r"cross_entropy: target has shape \(2,\), expected \(2, 5\) for input of shape"),
    ("ce_class_out_of_range", lambda: F.cross_entropy(_t(3, 10), _i(1, 12, 3)), ValueError,
     r"cross_entropy: target classes must be in \[0, 10\) or ignore_index=-100, got class 12 "
     r"for C=10"),
    ("ce_negative_class", lambda: F.cross_entropy(_t(3, 10), _i(1, -1, 3)), ValueError,
     "got class -1 for C=10"),
    ("ce_class_out_of_range_beside_ignored",
     lambda: F.cross_entropy(_t(3, 10), _i(-100, 12, 3)), ValueError, "got class 12 for C=10"),
    ("ce_float_index_target", lambda: F.cross_entropy(_t(3, 10), _t(3)), TypeError,
     "cross_entropy: target must be an integer tensor of class indices, got target of dtype "
     "float64"),
    ("ce_int_prob_target", lambda: F.cross_entropy(_t(3, 4), _t(3, 4, dtype=np.int64)),
     TypeError, r"cross_entropy: target must be a floating-point tensor, got target of dtype "
                r"int64 \(a target of the input's shape \(3, 4\) holds class probabilities\)"),
    ("ce_bool_target", lambda: F.cross_entropy(_t(3, 4), _t(3, dtype=np.bool_)), TypeError,
     "dtype bool"),
    ("ce_bad_reduction", lambda: F.cross_entropy(_t(3, 4), _i(0, 1, 2), reduction="avg"),
     ValueError, "cross_entropy: reduction must be one of 'mean', 'sum', 'none', got "
                 "reduction='avg'"),
    ("ce_weight_size", lambda: F.cross_entropy(_t(3, 4), _i(0, 1, 2), weight=_t(5)), ValueError,
     r"cross_entropy: weight must be a 1-D tensor of C=4 class weights, got weight of shape "
     r"\(5,\)"),
    ("ce_weight_dtype", lambda: F.cross_entropy(_t(3, 4), _i(0, 1, 2),
                                                weight=_t(4, dtype=np.float32)), TypeError,
     "cross_entropy: input and weight must have the same dtype, got input of dtype float64 "
     "and weight of dtype float32"),
    ("ce_label_smoothing", lambda: F.cross_entropy(_t(3, 4), _i(0, 1, 2), label_smoothing=1.5),
     ValueError, r"cross_entropy: label_smoothing must be a probability in \[0, 1\], got "
                 "label_smoothing=1.5"),
    ("ce_ignore_index_probs", lambda: F.cross_entropy(_t(3, 4), _t(3, 4), ignore_index=0),
     ValueError, "cross_entropy: ignore_index is not supported for class-probability targets"),
    ("ce_ignore_index_type", lambda: F.cross_entropy(_t(3, 4), _i(0, 1, 2), ignore_index=1.5),
     TypeError, "cross_entropy: ignore_index must be an int, got ignore_index=1.5"),
    ("ce_0d_input", lambda: F.cross_entropy(_t(), _i(0)), ValueError,
     "cross_entropy: input must be"),
    ("ce_no_classes", lambda: F.cross_entropy(_t(3, 0), _i(0, 0, 0)), ValueError,
     r"cross_entropy: input has no classes \(C=0\)"),
    ("ce_int_input", lambda: F.cross_entropy(_t(3, 4, dtype=np.int64), _i(0, 1, 2)), TypeError,
     "cross_entropy: input must be a floating-point tensor"),
    ("ce_target_not_tensor", lambda: F.cross_entropy(_t(3, 4), [0, 1, 2]), TypeError,
     "cross_entropy: target must be a Tensor, got list"),
    ("nll_target_shape", lambda: F.nll_loss(_t(4, 10), _i(1, 2, 3)), ValueError,
     r"nll_loss: target has shape \(3,\), expected \(4,\) for input of shape \(4, 10\)"),
    ("nll_class_out_of_range", lambda: F.nll_loss(_t(2, 3), _i(0, 3)), ValueError,
     "nll_loss: target classes must be in \\[0, 3\\) or ignore_index=-100, got class 3 for C=3"),
    ("nll_float_target", lambda: F.nll_loss(_t(2, 3), _t(2)), TypeError,
     "nll_loss: target must be an integer tensor"),
    ("nll_bad_reduction", lambda: F.nll_loss(_t(2, 3), _i(0, 1), reduction="max"), ValueError,
     "nll_loss: reduction must be one of"),
    ("nll_weight_size", lambda: F.nll_loss(_t(2, 3), _i(0, 1), weight=_t(2, 3)), ValueError,
     r"nll_loss: weight must be a 1-D tensor of C=3 class weights, got weight of shape \(2, 3\)"),
    ("mse_bad_reduction", lambda: F.mse_loss(_t(2), _t(2), reduction="avg"), ValueError,
     "mse_loss: reduction must be one of 'mean', 'sum', 'none', got reduction='avg'"),
    ("mse_target_not_broadcastable", lambda: F.mse_loss(_t(2, 3), _t(4)), ValueError,
     r"mse_loss: target of shape \(4,\) does not broadcast with input of shape \(2, 3\)"),
    ("mse_target_dtype", lambda: F.mse_loss(_t(2), _t(2, dtype=np.float32)), TypeError,
     "mse_loss: input and target must have the same dtype, got input of dtype float64 and "
     "target of dtype float32"),
    ("mse_weight_shape", lambda: F.mse_loss(_t(2, 3), _t(2, 3), weight=_t(3)), ValueError,
     r"mse_loss: weight must have the input's shape \(2, 3\), got weight of shape \(3,\)"),
    ("l1_int_input", lambda: F.l1_loss(_t(2, dtype=np.int64), _t(2)), TypeError,
     "l1_loss: input must be a floating-point tensor"),
    ("l1_bad_reduction", lambda: F.l1_loss(_t(2), _t(2), reduction=None), ValueError,
     "l1_loss: reduction must be one of"),
    ("smooth_l1_negative_beta", lambda: F.smooth_l1_loss(_t(2), _t(2), beta=-1.0), ValueError,
     "smooth_l1_loss: beta must be non-negative, got beta=-1.0"),
    ("smooth_l1_beta_type", lambda: F.smooth_l1_loss(_t(2), _t(2), beta="1"), TypeError,
     "smooth_l1_loss: beta must be a real number, got beta='1'"),
    ("huber_zero_delta", lambda: F.huber_loss(_t(2), _t(2), delta=0.0), ValueError,
     "huber_loss: delta must be positive, got delta=0.0"),
    ("huber_bad_reduction", lambda: F.huber_loss(_t(2), _t(2), reduction="avg"), ValueError,
     "huber_loss: reduction must be one of"),
    ("bce_target_shape", lambda: F.binary_cross_entropy(_t(3), _t(1, 3)), ValueError,
     r"binary_cross_entropy: target has shape \(1, 3\), expected the input's shape \(3,\)"),
    ("bce_input_range", lambda: F.binary_cross_entropy(_t(3, fill=1.5), _t(3)), ValueError,
     r"binary_cross_entropy: input must hold probabilities in \[0, 1\], got values in "
     r"\[1.5, 1.5\]"),
    ("bce_weight_shape", lambda: F.binary_cross_entropy(_t(2, 3), _t(2, 3), weight=_t(2)),
     ValueError, r"binary_cross_entropy: weight must have a shape that broadcasts to the "
                 r"input's \(2, 3\), got weight of shape \(2,\)"),
    ("bce_bad_reduction", lambda: F.binary_cross_entropy(_t(2), _t(2), reduction="avg"),
     ValueError, "binary_cross_entropy: reduction must be one of"),
    ("bce_logits_target_shape", lambda: F.binary_cross_entropy_with_logits(_t(3), _t(3, 1)),
     ValueError, r"binary_cross_entropy_with_logits: target has shape \(3, 1\), expected the "
                 r"input's shape \(3,\)"),
    ("bce_logits_pos_weight_shape",
     lambda: F.binary_cross_entropy_with_logits(_t(2, 3), _t(2, 3), pos_weight=_t(2)),
     ValueError, r"binary_cross_entropy_with_logits: pos_weight must have a shape that "
                 r"broadcasts to the input's \(2, 3\), got pos_weight of shape \(2,\)"),
    ("bce_logits_target_dtype",
     lambda: F.binary_cross_entropy_with_logits(_t(3), _t(3, dtype=np.int64)), TypeError,
     "binary_cross_entropy_with_logits: target must be a floating-point tensor"),
    ("kl_div_bad_reduction", lambda: F.kl_div(_t(2), _t(2), reduction="avg"), ValueError,
     "kl_div: reduction must be one of 'none', 'batchmean', 'sum', 'mean'"),
    ("kl_div_log_target_type", lambda: F.kl_div(_t(2), _t(2), log_target=1), TypeError,
     "kl_div: log_target must be a bool"),
]


@pytest.mark.parametrize("name, call, exc, match", ERRORS, ids=[e[0] for e in ERRORS])
def test_loss_rejects_bad_arguments(name, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
