"""Second derivatives of every loss against torch (float64): each pointwise loss, every
reduction, differentiable targets and weights; cross-entropy with class weights,
ignore_index, label smoothing and probability targets; nll_loss.

A few gradients (the target's of bce and of kl_div, bce_with_logits' with pos_weight, the
target's and weight's of cross-entropy with probabilities) are logarithms of the inputs:
their double backward goes through ``log``, whose own ``backward_graph`` comes with the
elementwise family; those cases are skipped until it exists.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import compare_double_backward

import svertka
import svertka.nn.functional as F
from svertka.ops.elementwise import Log

needs_log = pytest.mark.skipif(Log.backward_graph is None,
                               reason="needs Log.backward_graph (the elementwise family)")


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _u(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, shape)


def _both(name, **kw):
    return (lambda *a, **k: getattr(F, name)(*a, **kw, **k),
            lambda *a, **k: getattr(TF, name)(*a, **kw, **k))


def _weights(kw, tensor):
    """``kw`` with its class ``weight`` list as a float64 tensor of ``tensor``'s library."""
    return {k: tensor(np.array(v)) if k == "weight" else v for k, v in kw.items()}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("name,kw", [("mse_loss", {}), ("l1_loss", {}),
                                     ("smooth_l1_loss", {"beta": 0.7}),
                                     ("smooth_l1_loss", {"beta": 0.0}),
                                     ("huber_loss", {"delta": 0.6})],
                         ids=["mse", "l1", "smooth_l1", "smooth_l1_beta0", "huber"])
def test_regression_loss_second_derivatives_match_torch(name, kw, reduction):
    sv, th = _both(name, reduction=reduction, **kw)
    compare_double_backward(sv, th, _r(3, 4), _r(3, 4, seed=1))


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_weighted_loss_second_derivatives_match_torch(name, reduction):
    # weight differentiable; 'mean' of mse and l1 divides by its sum
    sv, th = _both(name, reduction=reduction)
    x, t, w = _r(3, 4), _r(3, 4, seed=1), _u(3, 4, seed=2)
    compare_double_backward(lambda a, b, c: sv(a, b, weight=c),
                            lambda a, b, c: th(a, b, weight=c), x, t, w)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_mse_loss_second_derivatives_match_torch_with_a_broadcast_target():
    sv, th = _both("mse_loss")
    compare_double_backward(sv, th, _r(3, 4), _r(1, 4, seed=1))


@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_binary_cross_entropy_second_derivatives_match_torch(reduction):
    sv, th = _both("binary_cross_entropy", reduction=reduction)
    x, t, w = _u(3, 4), _u(3, 4, seed=1), _u(4, seed=2)
    compare_double_backward(lambda a, b: sv(a, b, weight=svertka.tensor(w)),
                            lambda a, b: th(a, b, weight=torch.tensor(w)), x, t,
                            grad=[True, False])


@needs_log
def test_binary_cross_entropy_second_derivatives_match_torch_with_a_differentiable_target():
    sv, th = _both("binary_cross_entropy")
    compare_double_backward(sv, th, _u(3, 4), _u(3, 4, seed=1))


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_bce_with_logits_second_derivatives_match_torch(reduction):
    sv, th = _both("binary_cross_entropy_with_logits", reduction=reduction)
    x = _r(3, 4) * 4
    x[0, 0] = 40.0                                           # sigmoid's tails stay finite
    x[0, 1] = -40.0
    compare_double_backward(sv, th, x, _u(3, 4, seed=1))


@pytest.mark.parametrize("target_grad", [False, pytest.param(True, marks=needs_log)])
def test_bce_with_logits_second_derivatives_match_torch_with_pos_weight(target_grad):
    pw, w = _u(4, seed=2) * 3, _u(3, 1, seed=3)
    compare_double_backward(
        lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, weight=svertka.tensor(w), pos_weight=svertka.tensor(pw)),
        lambda a, b: TF.binary_cross_entropy_with_logits(
            a, b, weight=torch.tensor(w), pos_weight=torch.tensor(pw)),
        _r(3, 4) * 3, _u(3, 4, seed=1), grad=[True, target_grad])


@pytest.mark.parametrize("reduction", ["none", "batchmean", "sum"])
@pytest.mark.parametrize("log_target,target_grad",
                         [(True, True), (False, False),
                          pytest.param(False, True, marks=needs_log)],
                         ids=["log_target", "prob_target", "prob_target_grad"])
def test_kl_div_second_derivatives_match_torch(log_target, target_grad, reduction):
    sv, th = _both("kl_div", reduction=reduction, log_target=log_target)
    t = _r(3, 4, seed=1) if log_target else _u(3, 4, seed=1)
    if not log_target:
        t[0, 0] = 0.0                                        # 0 log 0 = 0 (the loss term)
    compare_double_backward(sv, th, _r(3, 4), t, grad=[True, target_grad])


_CE = [
    ("plain_mean", dict(), (4, 3)),
    ("plain_sum", dict(reduction="sum"), (4, 3)),
    ("none_spatial", dict(reduction="none"), (2, 3, 2, 2)),
    ("weight_ignore", dict(weight=[0.5, 2.0, 1.5], ignore_index=1), (5, 3)),
    ("smoothing_weight", dict(weight=[0.5, 2.0, 1.5], label_smoothing=0.2), (4, 3, 2)),
    ("smoothing_ignore_none", dict(label_smoothing=0.3, ignore_index=0, reduction="none"),
     (5, 3)),
    ("unbatched", dict(), (3,)),
]


@pytest.mark.parametrize("kw,shape", [c[1:] for c in _CE], ids=[c[0] for c in _CE])
def test_cross_entropy_second_derivatives_match_torch_with_class_indices(kw, shape):
    rng = np.random.default_rng(1)
    t = rng.integers(0, shape[1] if len(shape) > 1 else shape[0],
                     (shape[0],) + shape[2:] if len(shape) > 1 else ())
    kw_sv, kw_th = _weights(kw, svertka.tensor), _weights(kw, torch.tensor)
    compare_double_backward(lambda z: F.cross_entropy(z, svertka.tensor(t), **kw_sv),
                            lambda z: TF.cross_entropy(z, torch.tensor(t), **kw_th),
                            _r(*shape) * 2)


@pytest.mark.parametrize("eps", [0.0, 0.25])
@pytest.mark.parametrize("grads", [(True, False, False),
                                   pytest.param((True, True, True), marks=needs_log)],
                         ids=["logits", "all"])
def test_cross_entropy_second_derivatives_match_torch_with_probabilities(grads, eps):
    p = _u(4, 3, 2, seed=1)
    p /= p.sum(axis=1, keepdims=True)
    compare_double_backward(
        lambda z, t, w: F.cross_entropy(z, t, weight=w, label_smoothing=eps),
        lambda z, t, w: TF.cross_entropy(z, t, weight=w, label_smoothing=eps),
        _r(4, 3, 2), p, _u(3, seed=2) + 0.5, grad=list(grads))


@pytest.mark.parametrize("kw", [dict(), dict(reduction="none"),
                                dict(weight=[0.5, 2.0, 1.5], ignore_index=2)],
                         ids=["mean", "none", "weight_ignore"])
def test_nll_loss_second_derivatives_match_torch(kw):
    t = np.array([0, 2, 1, 2])
    kw_sv, kw_th = _weights(kw, svertka.tensor), _weights(kw, torch.tensor)
    # squared: nll is linear in its input
    compare_double_backward(lambda x: F.nll_loss(x * x, svertka.tensor(t), **kw_sv),
                            lambda x: TF.nll_loss(x * x, torch.tensor(t), **kw_th), _r(4, 3))


def test_cross_entropy_hessian_vector_product_of_a_linear_model_matches_torch():
    # the usual second-order use: H v of a classifier's loss w.r.t. its weights
    x, t = _r(6, 1, 4), np.array([0, 1, 2, 1, 0, 2])
    w0, v = _r(3, 4, seed=1), _r(3, 4, seed=2)

    def hvp(mod, F_, tensor):
        w = tensor(w0, requires_grad=True)
        loss = F_.cross_entropy((tensor(x) * w).sum(dim=2), tensor(t))    # x @ w.T
        (g,) = mod.autograd.grad(loss, w, create_graph=True)
        return mod.autograd.grad((g * tensor(v)).sum(), w)[0]

    a = hvp(svertka, F, svertka.tensor)
    b = hvp(torch, TF, torch.tensor)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9)
