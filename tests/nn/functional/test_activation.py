"""Activations of nn.functional against torch 2.13 (float64, random upstream gradient)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F
from svertka.ops.activation import erf, erfc


def _rand(shape, seed, scale=3.0):
    return np.random.default_rng(seed).standard_normal(shape) * scale


# (id, svertka function, torch function): the same call on both sides
ACTIVATIONS = [
    ("relu", F.relu, TF.relu),
    ("relu6", F.relu6, TF.relu6),
    ("leaky_relu", F.leaky_relu, TF.leaky_relu),
    ("leaky_relu_slope0.2", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2)),
    ("elu", F.elu, TF.elu),
    ("elu_alpha0.5", lambda x: F.elu(x, 0.5), lambda x: TF.elu(x, 0.5)),
    ("selu", F.selu, TF.selu),
    ("celu", F.celu, TF.celu),
    ("celu_alpha2", lambda x: F.celu(x, 2.0), lambda x: TF.celu(x, 2.0)),
    ("gelu", F.gelu, TF.gelu),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     lambda x: TF.gelu(x, approximate="tanh")),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("silu", F.silu, TF.silu),
    ("softplus", F.softplus, TF.softplus),
    ("softplus_beta2_threshold5", lambda x: F.softplus(x, 2.0, 5.0),
     lambda x: TF.softplus(x, 2.0, 5.0)),
    ("softplus_beta0.5", lambda x: F.softplus(x, beta=0.5), lambda x: TF.softplus(x, beta=0.5)),
    ("softsign", F.softsign, TF.softsign),
    ("mish", F.mish, TF.mish),
    ("hardtanh", F.hardtanh, TF.hardtanh),
    ("hardtanh_-2_3", lambda x: F.hardtanh(x, -2.0, 3.0), lambda x: TF.hardtanh(x, -2.0, 3.0)),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid),
    ("hardswish", F.hardswish, TF.hardswish),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid),
    ("threshold", lambda x: F.threshold(x, 0.5, -2.0), lambda x: TF.threshold(x, 0.5, -2.0)),
    ("tanhshrink", F.tanhshrink, TF.tanhshrink),
    ("hardshrink", F.hardshrink, TF.hardshrink),
    ("hardshrink_lambd1", lambda x: F.hardshrink(x, 1.0), lambda x: TF.hardshrink(x, 1.0)),
    ("softshrink", F.softshrink, TF.softshrink),
    ("softshrink_lambd1", lambda x: F.softshrink(x, 1.0), lambda x: TF.softshrink(x, 1.0)),
]
ACT_IDS = [a[0] for a in ACTIVATIONS]

# the exact points where some activation changes formula
KINKS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.0, -3.0, 6.0, 2.0, -2.0, 5.0, 2.5, 20.0,
                  10.0])

INPUTS = {
    "randn": _rand((3, 4, 5), 0),
    "large": np.array([-50.0, -30.0, -19.5, -7.3, 7.3, 19.5, 21.0, 30.0, 50.0]),
    "small": _rand((7,), 1, scale=1e-3),
    "kinks": KINKS,
    "scalar": np.array(0.7),
    "empty": np.zeros((0, 3)),
}


@pytest.mark.parametrize("name, sv, th", ACTIVATIONS, ids=ACT_IDS)
@pytest.mark.parametrize("case", list(INPUTS))
def test_activation_matches_torch(name, sv, th, case):
    compare_with_torch(sv, th, INPUTS[case])


@pytest.mark.parametrize("name, sv, th", ACTIVATIONS, ids=ACT_IDS)
def test_activation_float32_forward_matches_torch(name, sv, th):
    x = np.concatenate([_rand((40,), 2), INPUTS["large"]]).astype(np.float32)
    y = sv(svertka.tensor(x))
    assert y.dtype == svertka.float32
    assert_close(y, th(torch.tensor(x)), rtol=1e-4)


@pytest.mark.parametrize("name, sv, th", ACTIVATIONS, ids=ACT_IDS)
def test_activation_float32_grad_keeps_dtype(name, sv, th):
    x = svertka.tensor(_rand((5,), 3).astype(np.float32), requires_grad=True)
    sv(x).backward(svertka.ones(5, dtype=svertka.float32))
    assert x.grad.dtype == svertka.float32


@pytest.mark.parametrize("name, sv, th", [a for a in ACTIVATIONS if a[0] in
                                          ("relu", "relu6", "hardtanh", "threshold")],
                         ids=["relu", "relu6", "hardtanh", "threshold"])
def test_activation_integer_input_stays_integer(name, sv, th):
    x = np.array([-3, 0, 1, 2, 8])
    y = sv(svertka.tensor(x))
    assert y.dtype == svertka.int64
    np.testing.assert_array_equal(y.numpy(), th(torch.tensor(x)).numpy())


def test_relu_backward_routes_gradient_only_where_input_positive():
    # the lecture example: the upstream gradient flows where x > 0, and is 0 elsewhere
    x = svertka.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], requires_grad=True)
    F.relu(x).backward(svertka.tensor([10.0, 20.0, 30.0, 40.0, 50.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 40.0, 50.0])


@pytest.mark.parametrize("x", [-800.0, -50.0, 50.0, 800.0])
def test_sigmoid_family_stable_for_large_inputs(x):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        t = svertka.tensor([x], dtype=svertka.float64)
        assert np.isfinite(F.sigmoid(t).numpy()).all()
        assert np.isfinite(F.logsigmoid(t).numpy()).all()
        assert np.isfinite(F.softplus(t).numpy()).all()
    assert_close(F.logsigmoid(t), TF.logsigmoid(torch.tensor([x])))


# ----------------------------------------------------------------------------- erf

def test_erf_relative_error_below_1e_15():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    x = np.concatenate([np.linspace(-6, 6, 241), [1e-300, 1e-8, 0.9999999, 1.0, 2.4999, 2.5, 26.0]])
    ref = np.array([float(mpmath.erf(v)) for v in x])
    nz = ref != 0
    rel = np.abs(erf(x)[nz] - ref[nz]) / np.abs(ref[nz])
    assert rel.max() < 1e-15
    assert erf(np.array([0.0]))[0] == 0.0


def test_erfc_relative_error_in_the_tail():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    x = np.linspace(2.5, 26.5, 97)
    ref = np.array([float(mpmath.erfc(v)) for v in x])
    assert (np.abs(erfc(x) - ref) / ref).max() < 2e-15


def test_erf_limits_and_nan():
    y = erf(np.array([np.inf, -np.inf, np.nan, 40.0]))
    np.testing.assert_array_equal(y[[0, 1, 3]], [1.0, -1.0, 1.0])
    assert np.isnan(y[2])
    assert erf(np.array([0.5], dtype=np.float32)).dtype == np.float32
    assert abs(float(erf(np.array([0.5], dtype=np.float32))[0]) - math.erf(0.5)) < 1e-7


# ----------------------------------------------------------------------------- prelu

PRELU_CASES = [
    ("4d_per_channel", (2, 3, 4, 5), (3,)),
    ("4d_shared", (2, 3, 4, 5), (1,)),
    ("2d_per_channel", (4, 6), (6,)),
    ("3d_per_channel", (2, 3, 5), (3,)),
    ("1d_shared", (5,), (1,)),
    ("scalar_weight_0d", (2, 3, 4), ()),
    ("0d_input", (), (1,)),
    ("empty_batch", (0, 3, 4), (3,)),
]


@pytest.mark.parametrize("xs, ws", [c[1:] for c in PRELU_CASES], ids=[c[0] for c in PRELU_CASES])
def test_prelu_matches_torch(xs, ws):
    x = _rand(xs, 4)
    w = np.random.default_rng(5).uniform(-1, 1, ws)
    compare_with_torch(F.prelu, TF.prelu, x, w)


# ----------------------------------------------------------------------------- softmax family

SOFTMAX_CASES = [
    ("3d_dim0", (3, 4, 5), 0),
    ("3d_dim1", (3, 4, 5), 1),
    ("3d_dim_last", (3, 4, 5), -1),
    ("2d_dim1", (4, 7), 1),
    ("1d", (6,), 0),
    ("size1_dim", (3, 1), 1),
    ("scalar", (), 0),
    ("empty_other_dim", (0, 4), 1),
    ("empty_softmax_dim", (3, 0), 1),
]
SOFTMAX_FNS = [
    ("softmax", F.softmax, TF.softmax),
    ("log_softmax", F.log_softmax, TF.log_softmax),
    ("softmin", F.softmin, TF.softmin),
]


@pytest.mark.parametrize("fname, sv, th", SOFTMAX_FNS, ids=[f[0] for f in SOFTMAX_FNS])
@pytest.mark.parametrize("shape, dim", [c[1:] for c in SOFTMAX_CASES],
                         ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax_family_matches_torch(fname, sv, th, shape, dim):
    compare_with_torch(lambda x: sv(x, dim), lambda x: th(x, dim), _rand(shape, 6))


@pytest.mark.parametrize("fname, sv, th", SOFTMAX_FNS, ids=[f[0] for f in SOFTMAX_FNS])
def test_softmax_family_stable_for_large_inputs(fname, sv, th):
    x = np.array([[1000.0, 999.0, -1000.0], [-800.0, -801.0, -805.0]])
    with np.errstate(over="raise"):
        compare_with_torch(lambda t: sv(t, 1), lambda t: th(t, 1), x)


@pytest.mark.parametrize("fname, sv, th", SOFTMAX_FNS, ids=[f[0] for f in SOFTMAX_FNS])
def test_softmax_family_float32(fname, sv, th):
    x = _rand((4, 5), 7).astype(np.float32)
    y = sv(svertka.tensor(x), 1)
    assert y.dtype == svertka.float32
    assert_close(y, th(torch.tensor(x), 1), rtol=1e-4)


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
def test_softmax_implicit_dim_follows_torch_with_warning(shape):
    x = _rand(shape, 8)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = F.softmax(svertka.tensor(x))
    with pytest.warns(UserWarning):
        expected = TF.softmax(torch.tensor(x))
    assert_close(y, expected)


def test_softmax_dtype_argument_casts_first():
    x = svertka.tensor([1.0, 2.0], dtype=svertka.float32)
    y = F.softmax(x, 0, dtype=svertka.float64)
    assert y.dtype == svertka.float64
    assert_close(y, TF.softmax(torch.tensor([1.0, 2.0]), 0))


# ----------------------------------------------------------------------------- glu

GLU_CASES = [
    ("last_dim", (3, 4, 6), -1),
    ("dim0", (4, 3), 0),
    ("dim1", (2, 8, 3), 1),
    ("1d", (2,), 0),
]


@pytest.mark.parametrize("shape, dim", [c[1:] for c in GLU_CASES], ids=[c[0] for c in GLU_CASES])
def test_glu_matches_torch(shape, dim):
    compare_with_torch(lambda x: F.glu(x, dim), lambda x: TF.glu(x, dim), _rand(shape, 9))


# ----------------------------------------------------------------------------- in place

INPLACE = [
    ("relu", lambda x: F.relu(x, inplace=True), F.relu_, TF.relu),
    ("relu6", lambda x: F.relu6(x, inplace=True), None, TF.relu6),
    ("elu", lambda x: F.elu(x, inplace=True), F.elu_, TF.elu),
    ("selu", lambda x: F.selu(x, inplace=True), F.selu_, TF.selu),
    ("celu", lambda x: F.celu(x, inplace=True), F.celu_, TF.celu),
    ("leaky_relu", lambda x: F.leaky_relu(x, inplace=True), F.leaky_relu_, TF.leaky_relu),
    ("hardtanh", lambda x: F.hardtanh(x, inplace=True), F.hardtanh_, TF.hardtanh),
    ("hardsigmoid", lambda x: F.hardsigmoid(x, inplace=True), None, TF.hardsigmoid),
    ("hardswish", lambda x: F.hardswish(x, inplace=True), None, TF.hardswish),
    ("silu", lambda x: F.silu(x, inplace=True), None, TF.silu),
    ("mish", lambda x: F.mish(x, inplace=True), None, TF.mish),
    ("threshold", lambda x: F.threshold(x, 0.1, 2.0, inplace=True),
     lambda x: F.threshold_(x, 0.1, 2.0), lambda x: TF.threshold(x, 0.1, 2.0)),
]


@pytest.mark.parametrize("name, sv_inplace, sv_underscore, th", INPLACE,
                         ids=[c[0] for c in INPLACE])
def test_activation_inplace_writes_input_and_bumps_version(name, sv_inplace, sv_underscore, th):
    x = _rand((3, 4), 10)
    for fn in (sv_inplace, sv_underscore):
        if fn is None:
            continue
        t = svertka.tensor(x)
        v = t._version_number
        out = fn(t)
        assert out is t
        assert t._version_number == v + 1
        assert_close(t, th(torch.tensor(x)))


@pytest.mark.parametrize("name, sv_inplace, sv_underscore, th", INPLACE,
                         ids=[c[0] for c in INPLACE])
def test_activation_inplace_grads_match_torch(name, sv_inplace, sv_underscore, th):
    def run(mul, act):
        def f(x):
            y = mul(x)  # a non-leaf, which may be modified in place
            return act(y)
        return f

    compare_with_torch(run(lambda x: x * 2.0, sv_inplace),
                       run(lambda x: x * 2.0, lambda y: th(y).clone()), _rand((3, 4), 11))


def test_activation_inplace_rejects_leaf_requiring_grad():
    x = svertka.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        F.relu(x, inplace=True)


# ----------------------------------------------------------------------------- argument checks

ERRORS = [
    ("prelu_weight_size", ValueError, r"prelu: weight must have 1 element or one per input "
     r"channel \(3\), got weight of shape \(2,\)",
     lambda: F.prelu(svertka.randn(2, 3, 4), svertka.ones(2))),
    ("prelu_weight_2d", ValueError, r"prelu: weight must be 0-D or 1-D",
     lambda: F.prelu(svertka.randn(2, 3), svertka.ones(3, 1))),
    ("prelu_weight_dtype", TypeError, r"prelu: input and weight must have the same dtype",
     lambda: F.prelu(svertka.randn(2, 3), svertka.ones(3, dtype=svertka.float64))),
    ("prelu_weight_not_tensor", TypeError, r"prelu: weight must be a Tensor",
     lambda: F.prelu(svertka.randn(2, 3), 0.25)),
    ("softmax_dim_range", ValueError, r"softmax: dim out of range \(expected to be in range "
     r"of \[-2, 1\]\), got dim=2", lambda: F.softmax(svertka.randn(2, 3), 2)),
    ("log_softmax_dim_range", ValueError, r"log_softmax: dim out of range",
     lambda: F.log_softmax(svertka.randn(2, 3), -3)),
    ("softmin_dim_type", TypeError, r"softmin: dim must be an int, got dim=1.0",
     lambda: F.softmin(svertka.randn(2, 3), 1.0)),
    ("softmax_int_input", TypeError, r"softmax: input must be a floating-point tensor, got "
     r"input of dtype int64", lambda: F.softmax(svertka.tensor([1, 2]), 0)),
    ("glu_odd", ValueError, r"glu: the size of dimension -1 must be even to be halved, got "
     r"size 5 \(input \(2, 5\)\)", lambda: F.glu(svertka.randn(2, 5))),
    ("glu_scalar", ValueError, r"glu: input must have at least 1 dimension",
     lambda: F.glu(svertka.tensor(1.0))),
    ("glu_dim_range", ValueError, r"glu: dim out of range",
     lambda: F.glu(svertka.randn(2, 4), 2)),
    ("gelu_approximate", ValueError, r"gelu: approximate must be one of 'none', 'tanh', got "
     r"approximate='erf'", lambda: F.gelu(svertka.randn(3), approximate="erf")),
    ("celu_alpha_zero", ValueError, r"celu: alpha must be non-zero, got alpha=0",
     lambda: F.celu(svertka.randn(3), 0.0)),
    ("softplus_beta_zero", ValueError, r"softplus: beta must be non-zero, got beta=0",
     lambda: F.softplus(svertka.randn(3), beta=0)),
    ("hardtanh_bounds", ValueError, r"hardtanh: min_val must not exceed max_val, got "
     r"min_val=2.0 and max_val=1.0", lambda: F.hardtanh(svertka.randn(3), 2.0, 1.0)),
    ("softshrink_negative", ValueError, r"softshrink: lambd must be non-negative, got "
     r"lambd=-1.0", lambda: F.softshrink(svertka.randn(3), -1.0)),
    ("hardshrink_negative", ValueError, r"hardshrink: lambd must be non-negative",
     lambda: F.hardshrink(svertka.randn(3), -0.5)),
    ("leaky_relu_slope_type", TypeError, r"leaky_relu: negative_slope must be a real number, "
     r"got negative_slope='a'", lambda: F.leaky_relu(svertka.randn(3), "a")),
    ("elu_alpha_type", TypeError, r"elu: alpha must be a real number",
     lambda: F.elu(svertka.randn(3), None)),
    ("threshold_value_type", TypeError, r"threshold: value must be a real number",
     lambda: F.threshold(svertka.randn(3), 0.0, "x")),
    ("relu_not_tensor", TypeError, r"relu: input must be a Tensor, got ndarray",
     lambda: F.relu(np.zeros(3))),
    ("sigmoid_int_input", TypeError, r"sigmoid: input must be a floating-point tensor",
     lambda: F.sigmoid(svertka.tensor([1, 2]))),
]


@pytest.mark.parametrize("exc, match, call", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_activation_rejects_bad_arguments(exc, match, call):
    with pytest.raises(exc, match=match):
        call()


def test_prelu_and_glu_float32_forward_and_grad_dtype():
    x = _rand((2, 4, 3), 12).astype(np.float32)
    w = np.array([0.1, -0.2, 0.3, 0.4], dtype=np.float32)
    tx, tw = svertka.tensor(x, requires_grad=True), svertka.tensor(w, requires_grad=True)
    y = F.prelu(tx, tw)
    assert y.dtype == svertka.float32
    assert_close(y, TF.prelu(torch.tensor(x), torch.tensor(w)), rtol=1e-4)
    y.sum().backward()
    assert tx.grad.dtype == svertka.float32 and tw.grad.dtype == svertka.float32
    g = F.glu(svertka.tensor(x), 1)
    assert g.dtype == svertka.float32
    assert_close(g, TF.glu(torch.tensor(x), 1), rtol=1e-4)
