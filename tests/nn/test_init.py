"""nn.init and the layers' default initialisation follow torch's distributions."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import svertka
from svertka import nn
from svertka.nn import init

SHAPES = {"linear": (256, 512), "conv": (64, 32, 5, 5)}


def _pair(shape):
    svertka.manual_seed(0)
    torch.manual_seed(0)
    return svertka.empty(*shape), torch.empty(*shape)


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("name,kwargs", [
    ("xavier_uniform_", {}), ("xavier_uniform_", {"gain": 2.0}), ("xavier_normal_", {}),
    ("kaiming_uniform_", {}), ("kaiming_uniform_", {"a": math.sqrt(5)}),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_", {"nonlinearity": "relu"}), ("trunc_normal_", {"std": 0.02}),
    ("trunc_normal_", {"a": -0.5, "b": 1.0}), ("uniform_", {"a": -0.3, "b": 0.7}),
    ("normal_", {"mean": 1.0, "std": 0.1}), ("orthogonal_", {"gain": 1.5}),
])
def test_init_distribution_matches_torch(name, kwargs, shape):
    s, t = _pair(shape)
    getattr(init, name)(s, **kwargs)
    getattr(torch.nn.init, name)(t, **kwargs)
    a, b = s.numpy().astype(np.float64), t.numpy().astype(np.float64)
    n = a.size
    assert abs(a.mean() - b.mean()) < 6 * b.std() / math.sqrt(n) + 1e-12
    assert abs(a.std() / b.std() - 1) < 0.03
    # the same distribution: a two-sample Kolmogorov-Smirnov test
    assert stats.ks_2samp(a.ravel()[:20000], b.ravel()[:20000]).pvalue > 1e-4
    if name == "trunc_normal_":
        lo, hi = kwargs.get("a", -2.0), kwargs.get("b", 2.0)
        assert a.min() >= lo and a.max() <= hi


def test_orthogonal_rows_are_orthonormal():
    w = init.orthogonal_(svertka.empty(20, 50))
    np.testing.assert_allclose(w.numpy() @ w.numpy().T, np.eye(20), atol=1e-5)


@pytest.mark.parametrize("nonlinearity,param", [("linear", None), ("sigmoid", None),
                                                ("tanh", None), ("relu", None),
                                                ("leaky_relu", None), ("leaky_relu", 0.2),
                                                ("selu", None), ("conv2d", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12)


def test_constant_zeros_ones_eye_dirac_match_torch():
    for fn, shape, args in [("constant_", (3, 4), (0.5,)), ("zeros_", (3, 4), ()),
                            ("ones_", (3, 4), ()), ("eye_", (3, 5), ()),
                            ("dirac_", (4, 4, 3, 3), ()), ("dirac_", (6, 2, 3), (2,))]:
        s, t = svertka.empty(*shape), torch.empty(*shape)
        getattr(init, fn)(s, *args)
        getattr(torch.nn.init, fn)(t, *args)
        np.testing.assert_array_equal(s.numpy(), t.numpy(), err_msg=fn)


def test_init_errors_name_the_function():
    with pytest.raises(ValueError, match="xavier_uniform_: fan in and fan out can not be "
                                         r"computed .* got shape \(5,\)"):
        init.xavier_uniform_(svertka.empty(5))
    with pytest.raises(ValueError, match="kaiming_normal_: mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_normal_(svertka.empty(3, 3), mode="fan")
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_init_is_reproducible_with_manual_seed():
    svertka.manual_seed(3)
    a = init.kaiming_uniform_(svertka.empty(4, 4)).numpy().copy()
    svertka.manual_seed(3)
    b = init.kaiming_uniform_(svertka.empty(4, 4)).numpy()
    np.testing.assert_array_equal(a, b)


LAYERS = [
    ("Linear", (512, 256), {}),
    ("Conv2d", (32, 64, 5), {}),
    ("Conv1d", (16, 64, 7), {"groups": 4}),
    ("Conv3d", (8, 32, 3), {}),
    ("ConvTranspose2d", (64, 32, 4), {"stride": 2}),
    ("Bilinear", (30, 40, 50), {}),
]


@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=[x[0] for x in LAYERS])
def test_layer_default_init_matches_torch(name, args, kwargs):
    svertka.manual_seed(0)
    torch.manual_seed(0)
    s = getattr(nn, name)(*args, **kwargs)
    t = getattr(torch.nn, name)(*args, **kwargs)
    fan_in = torch.nn.init._calculate_fan_in_and_fan_out(t.weight)[0]
    if name == "Bilinear":
        fan_in = args[0]
    bound = 1 / math.sqrt(fan_in)   # kaiming_uniform(a=sqrt(5)) and the bias rule both give it
    for (ns, ps), (nt, pt) in zip(s.named_parameters(), t.named_parameters()):
        assert ns == nt and tuple(ps.shape) == tuple(pt.shape)
        a, b = ps.detach().numpy(), pt.detach().numpy()
        assert np.abs(b).max() <= bound  # the reference agrees with the formula
        assert np.abs(a).max() <= bound, ns
        if a.size > 1000:
            assert np.abs(a).max() > 0.99 * bound, ns
            assert abs(a.std() / (bound / math.sqrt(3)) - 1) < 0.05, ns
            assert stats.ks_2samp(a.ravel()[:20000], b.ravel()[:20000]).pvalue > 1e-4, ns
