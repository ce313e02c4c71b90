"""Dropout of nn.functional: torch's deterministic cases, and the statistics of the masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F
from svertka.autograd import gradcheck

ALPHA = 1.7580993408473766


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _nonzero(shape, seed):
    """Inputs bounded away from 0, so that a 0 in the output can only come from the mask."""
    x = _rand(shape, seed)
    return np.where(x >= 0, x + 0.5, x - 0.5)


# (id, function, input shape, kwargs besides p and training); every kind of dropout
KINDS = [
    ("dropout", F.dropout, (4, 6, 5), {}),
    ("dropout1d", F.dropout1d, (4, 6, 5), {}),
    ("dropout1d_unbatched", F.dropout1d, (6, 5), {}),
    ("dropout2d", F.dropout2d, (3, 6, 4, 4), {}),
    ("dropout3d", F.dropout3d, (2, 6, 3, 3, 3), {}),
    ("dropout3d_unbatched", F.dropout3d, (6, 3, 3, 3), {}),
    ("alpha_dropout", F.alpha_dropout, (4, 6, 5), {}),
    ("feature_alpha_dropout", F.feature_alpha_dropout, (4, 6, 5), {}),
]
KIND_IDS = [k[0] for k in KINDS]


@pytest.mark.parametrize("name, fn, shape, kw", KINDS, ids=KIND_IDS)
def test_dropout_eval_is_identity(name, fn, shape, kw):
    x = svertka.tensor(_rand(shape, 0), requires_grad=True)
    assert fn(x, 0.5, False) is x


@pytest.mark.parametrize("name, fn, shape, kw", KINDS, ids=KIND_IDS)
def test_dropout_p0_is_identity(name, fn, shape, kw):
    x = svertka.tensor(_rand(shape, 0))
    assert fn(x, 0.0, True) is x


TORCH_FNS = {"dropout": TF.dropout, "dropout1d": TF.dropout1d, "dropout2d": TF.dropout2d,
             "dropout3d": TF.dropout3d, "alpha_dropout": TF.alpha_dropout,
             "feature_alpha_dropout": TF.feature_alpha_dropout}


@pytest.mark.parametrize("name, fn, shape, kw", KINDS, ids=KIND_IDS)
@pytest.mark.parametrize("p, training", [(1.0, True), (0.0, True), (0.5, False)],
                         ids=["p1_zeros", "p0", "eval"])
def test_dropout_deterministic_cases_match_torch(name, fn, shape, kw, p, training):
    th = TORCH_FNS[name.replace("_unbatched", "")]
    compare_with_torch(lambda x: fn(x, p, training), lambda x: th(x, p, training) * 1.0,
                       _rand(shape, 1))


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_zeros_about_p_of_elements(p):
    svertka.manual_seed(1)
    n = 200_000
    y = F.dropout(svertka.ones(n, dtype=svertka.float64), p).numpy()
    frac = np.mean(y == 0)
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(frac - p) < 5 * sigma


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.75])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_dropout_kept_elements_scaled_by_exactly_one_over_keep(p, dtype):
    svertka.manual_seed(2)
    x = _nonzero((50, 40), 3).astype(dtype)
    y = F.dropout(svertka.tensor(x), p)
    assert y.dtype == svertka.tensor(x).dtype
    y = y.numpy()
    kept = y != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_array_equal(y[kept], x[kept] * dtype(1.0 / (1.0 - p)))


@pytest.mark.parametrize("name, fn, shape, kw", KINDS, ids=KIND_IDS)
def test_dropout_backward_uses_the_forward_mask(name, fn, shape, kw):
    svertka.manual_seed(4)
    p = 0.4
    x = svertka.tensor(_nonzero(shape, 5), requires_grad=True)
    y = fn(x * 1.0, p, True)
    gy = _rand(shape, 6)
    y.backward(svertka.tensor(gy))
    if "alpha" in name:
        a = 1 / math.sqrt((ALPHA ** 2 * p + 1) * (1 - p))
        kept = y.detach().numpy() != -ALPHA * a * (1 - p)
        scale = a
    else:
        kept = y.detach().numpy() != 0
        scale = 1 / (1 - p)
    assert 0 < kept.mean() < 1
    assert_close(x.grad, np.where(kept, gy * scale, 0.0), rtol=1e-15)


@pytest.mark.parametrize("name, fn, shape, kw", KINDS, ids=KIND_IDS)
def test_dropout_gradcheck_with_fixed_mask(name, fn, shape, kw):
    def f(x):
        svertka.manual_seed(7)  # the same mask on every call of the finite differences
        return fn(x, 0.3, True)

    x = svertka.tensor(_rand(shape, 8), requires_grad=True)
    assert gradcheck(f, (x,))


def test_dropout_expectation_equals_input():
    svertka.manual_seed(9)
    x = svertka.full((400_000,), 3.0, dtype=svertka.float64)
    y = F.dropout(x, 0.3).numpy()
    # std of the mean: 3 * sqrt(p / (1 - p)) / sqrt(n)
    assert abs(y.mean() - 3.0) < 5 * 3 * math.sqrt(0.3 / 0.7) / math.sqrt(y.size)


@pytest.mark.parametrize("name, fn, shape, kw", [k for k in KINDS if k[0] not in
                                                 ("dropout", "alpha_dropout")],
                         ids=[k for k in KIND_IDS if k not in ("dropout", "alpha_dropout")])
def test_dropout_feature_zeros_whole_channels(name, fn, shape, kw):
    svertka.manual_seed(10)
    x = np.ones(shape)
    y = fn(svertka.tensor(x), 0.5, True).numpy()
    lead = 1 if "unbatched" in name else 2
    per_channel = y.reshape(shape[:lead] + (-1,))
    # every channel is constant: all dropped or all kept
    np.testing.assert_array_equal(per_channel, per_channel[..., :1].repeat(
        per_channel.shape[-1], axis=-1))
    values = np.unique(per_channel[..., 0])
    assert len(values) == 2  # both dropped and kept channels occur


def test_dropout2d_3d_input_warns_and_is_channelwise_over_n_c():
    svertka.manual_seed(11)
    x = svertka.ones(6, 5, 7, dtype=svertka.float64)
    with pytest.warns(UserWarning, match="dropout2d: received a 3-D input"):
        y = F.dropout2d(x, 0.5).numpy()
    assert (y.min(axis=2) == y.max(axis=2)).all()


def test_dropout_feature_fraction_of_channels_about_p():
    svertka.manual_seed(12)
    y = F.dropout2d(svertka.ones(400, 100, 2, 2, dtype=svertka.float64), 0.3).numpy()
    frac = np.mean(y[:, :, 0, 0] == 0)
    assert abs(frac - 0.3) < 5 * math.sqrt(0.3 * 0.7 / 40_000)


@pytest.mark.parametrize("name, fn, shape, kw", KINDS, ids=KIND_IDS)
def test_dropout_reproducible_with_manual_seed(name, fn, shape, kw):
    x = svertka.tensor(_rand(shape, 13))
    svertka.manual_seed(5)
    a = fn(x, 0.5, True).numpy()
    svertka.manual_seed(5)
    b = fn(x, 0.5, True).numpy()
    c = fn(x, 0.5, True).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_alpha_dropout_keeps_mean_and_variance(p):
    svertka.manual_seed(14)
    x = svertka.randn(400_000, dtype=svertka.float64)
    y = F.alpha_dropout(x, p, True).numpy()
    assert abs(y.mean()) < 0.01
    assert abs(y.std() - 1.0) < 0.01
    th = TF.alpha_dropout(torch.tensor(x.numpy()), p, True).numpy()  # same statistics as torch
    assert abs(y.mean() - th.mean()) < 0.02 and abs(y.std() - th.std()) < 0.02


def test_alpha_dropout_values_follow_torchs_formula():
    svertka.manual_seed(15)
    p = 0.2
    x = _nonzero((1000,), 16)
    y = F.alpha_dropout(svertka.tensor(x), p, True).numpy()
    a = 1 / math.sqrt((ALPHA ** 2 * p + 1) * (1 - p))
    dropped = np.isclose(y, -ALPHA * a * (1 - p), rtol=0, atol=1e-15)
    assert 0.1 < dropped.mean() < 0.3
    assert_close(y[~dropped], a * x[~dropped] + ALPHA * a * p)


def test_alpha_dropout_training_defaults_to_false():
    x = svertka.randn(5)
    assert F.alpha_dropout(x) is x
    assert F.feature_alpha_dropout(x.reshape(1, 5)) is not None


@pytest.mark.parametrize("name, fn, shape, kw", KINDS, ids=KIND_IDS)
def test_dropout_inplace_writes_input_and_keeps_grads(name, fn, shape, kw):
    svertka.manual_seed(17)
    x0 = _nonzero(shape, 18)
    t = svertka.tensor(x0)
    v = t._version_number
    out = fn(t, 0.5, True, True)
    assert out is t and t._version_number == v + 1
    svertka.manual_seed(17)
    expected = fn(svertka.tensor(x0), 0.5, True).numpy()
    np.testing.assert_array_equal(t.numpy(), expected)
    # through a non-leaf: the gradient uses the same mask
    svertka.manual_seed(17)
    leaf = svertka.tensor(x0, requires_grad=True)
    y = fn(leaf * 1.0, 0.5, True, True)
    y.backward(svertka.ones(*shape, dtype=svertka.float64))
    svertka.manual_seed(17)
    leaf2 = svertka.tensor(x0, requires_grad=True)
    fn(leaf2, 0.5, True).backward(svertka.ones(*shape, dtype=svertka.float64))
    np.testing.assert_array_equal(leaf.grad.numpy(), leaf2.grad.numpy())


def test_dropout_empty_input():
    x = svertka.zeros(0, 3)
    assert F.dropout(x, 0.5).shape == (0, 3)


ERRORS = [
    ("p_above_1", ValueError, r"^dropout: p must be a probability in \[0, 1\], got p=1\.5$",
     lambda: F.dropout(svertka.randn(3), p=1.5)),
    ("p_negative", ValueError, r"dropout2d: p must be a probability in \[0, 1\], got p=-0\.1",
     lambda: F.dropout2d(svertka.randn(2, 3, 4, 4), p=-0.1)),
    ("p_not_number", TypeError, r"alpha_dropout: p must be a probability in \[0, 1\], got "
     r"p='0.5'", lambda: F.alpha_dropout(svertka.randn(3), p="0.5")),
    ("dropout1d_4d", ValueError, r"dropout1d: input must be 2-D or 3-D \(unbatched \(C, L\) or "
     r"batched \(N, C, L\)\), got input of shape \(1, 2, 3, 4\)",
     lambda: F.dropout1d(svertka.randn(1, 2, 3, 4))),
    ("dropout2d_1d", ValueError, r"dropout2d: input must have at least 2 dimensions",
     lambda: F.dropout2d(svertka.randn(3))),
    ("dropout3d_0d", ValueError, r"dropout3d: input must have at least 1 dimension",
     lambda: F.dropout3d(svertka.tensor(1.0))),
    ("feature_alpha_1d", ValueError, r"feature_alpha_dropout: input must have at least 2 "
     r"dimensions", lambda: F.feature_alpha_dropout(svertka.randn(3), training=True)),
    ("int_input", TypeError, r"dropout: input must be a floating-point tensor, got input of "
     r"dtype int64", lambda: F.dropout(svertka.tensor([1, 2]))),
    ("not_tensor", TypeError, r"dropout: input must be a Tensor",
     lambda: F.dropout(np.ones(3))),
]


@pytest.mark.parametrize("exc, match, call", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_dropout_rejects_bad_arguments(exc, match, call):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("nd", [2, 5])
def test_dropout2d_other_ranks_warn(nd):
    with pytest.warns(UserWarning, match=f"dropout2d: received a {nd}-D input"):
        F.dropout2d(svertka.ones(*([2] * nd)), 0.5)


@pytest.mark.parametrize("nd", [1, 3])
def test_dropout3d_other_ranks_warn(nd):
    with pytest.warns(UserWarning, match=f"dropout3d: received a {nd}-D input"):
        F.dropout3d(svertka.ones(*([2] * nd)), 0.5)
