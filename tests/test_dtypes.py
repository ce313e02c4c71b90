"""dtypes: type promotion against torch for a table of (dtype, dtype or scalar) pairs, true
division of integers, comparisons giving bool, casts (and their gradients), default dtype."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close, compare_with_torch

import svertka
from svertka.tensor import result_dtype


@pytest.fixture(autouse=True)
def torch_float32_default():
    """Promotion involves the default dtype: give torch its own (the oracle sets float64)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(old)


NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def _pair(lib, name, ndim):
    dt = getattr(lib, name)
    values = [1, 0, 1] if name == "bool" else [1, 2, 3]
    t = lib.tensor(values, dtype=dt)
    return t if ndim else t[0]


def _fmt(d):
    return str(d).replace("torch.", "").replace("svertka.", "")


def _check(make_a, make_b, ops=("add", "mul", "div")):
    """Compare result dtypes and values of ops on (svertka, torch) operands."""
    for op in ops:
        sa, sb = make_a(svertka), make_b(svertka)
        ta, tb = make_a(torch), make_b(torch)
        s = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b,
             "div": lambda a, b: a / b}[op]
        try:
            t = s(ta, tb)
        except RuntimeError:
            continue  # torch refuses (e.g. an overflowing scalar); not part of the table
        r = s(sa, sb)
        assert _fmt(r.dtype) == _fmt(t.dtype), f"{op}: {_fmt(r.dtype)} != torch's {_fmt(t.dtype)}"
        assert_close(r.to(svertka.float64), t.double(), rtol=1e-3, what=op)


PAIRS = [(a, b) for i, a in enumerate(NAMES) for b in NAMES[i:]]


@pytest.mark.parametrize("a,b", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_promotion_of_two_tensors_matches_torch(a, b):
    _check(lambda lib: _pair(lib, a, 1), lambda lib: _pair(lib, b, 1))


ZERO_D = [(a, b) for a in NAMES for b in ("bool", "int32", "int64", "float32", "float64")]


@pytest.mark.parametrize("a,b", ZERO_D, ids=[f"{a}-0d_{b}" for a, b in ZERO_D])
def test_promotion_with_0d_tensor_matches_torch(a, b):
    _check(lambda lib: _pair(lib, a, 1), lambda lib: _pair(lib, b, 0))
    _check(lambda lib: _pair(lib, b, 0), lambda lib: _pair(lib, a, 1))


SCALARS = [("int", 2), ("float", 2.5), ("bool", True), ("negative_int", -3)]


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("kid,scalar", SCALARS, ids=[s[0] for s in SCALARS])
def test_promotion_with_python_scalar_matches_torch(a, kid, scalar):
    _check(lambda lib: _pair(lib, a, 1), lambda lib: scalar)
    _check(lambda lib: scalar, lambda lib: _pair(lib, a, 1))
    _check(lambda lib: _pair(lib, a, 0), lambda lib: scalar)


@pytest.mark.parametrize("a,scalar", [("uint8", -3), ("uint8", 300), ("int8", 200),
                                      ("int32", 2**40)], ids=str)
def test_int_scalar_that_does_not_fit_wraps_around_like_torch(a, scalar):
    s = _pair(svertka, a, 1) + scalar
    t = _pair(torch, a, 1) + scalar
    assert _fmt(s.dtype) == _fmt(t.dtype)
    assert s.tolist() == t.tolist()


def test_result_dtype_table():
    f32, i64 = svertka.tensor([1.0]), svertka.tensor([1])
    assert result_dtype(f32, 2.0) == np.float32
    assert result_dtype(i64, 2.0) == np.float32
    assert result_dtype(i64, 2) == np.int64
    assert result_dtype(svertka.tensor([True]), 2) == np.int64
    assert result_dtype(f32, svertka.tensor(1.0, dtype=svertka.float64)) == np.float32
    assert result_dtype(i64, svertka.tensor(1.0, dtype=svertka.float64)) == np.float64
    assert result_dtype(svertka.tensor([1], dtype=svertka.int32), i64) == np.int64


def test_result_dtype_rejects_unsupported_operand():
    with pytest.raises(TypeError, match="svertka: unsupported operand type str"):
        result_dtype(svertka.ones(1), "a")


@pytest.mark.parametrize("a", ["int64", "int32", "uint8", "bool"])
def test_int_true_division_gives_float_like_torch(a):
    s = _pair(svertka, a, 1) / _pair(svertka, "int64", 1)
    t = _pair(torch, a, 1) / _pair(torch, "int64", 1)
    assert s.dtype == svertka.float32 and str(t.dtype) == "torch.float32"
    assert_close(s, t, rtol=1e-6)
    assert (3 / svertka.tensor([2])).dtype == svertka.float32
    assert (svertka.tensor([3]) / 2).tolist() == [1.5]


def test_int_true_division_follows_default_dtype():
    svertka.set_default_dtype(svertka.float64)
    try:
        assert (svertka.tensor([1]) / svertka.tensor([2])).dtype == svertka.float64
        assert svertka.tensor([1.5]).dtype == svertka.float64
        assert (svertka.tensor([1]) * 0.5).dtype == svertka.float64
    finally:
        svertka.set_default_dtype(svertka.float32)
    assert svertka.tensor([1.5]).dtype == svertka.float32


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_give_bool(a, op):
    s = getattr(_pair(svertka, a, 1), op)(_pair(svertka, "float32", 1))
    t = getattr(_pair(torch, a, 1), op)(_pair(torch, "float32", 1))
    assert s.dtype == svertka.bool
    assert_close(s, t)
    assert getattr(_pair(svertka, a, 1), op)(1).dtype == svertka.bool


# ---------------------------------------------------------------------- casts
CASTS = [
    ("float", lambda x: x.float()),
    ("double", lambda x: x.double()),
    ("to_dtype", lambda x: x.to(svertka.float32 if isinstance(x, svertka.Tensor)
                                else torch.float32)),
    ("type_as", lambda x: x.type_as(x.float())),
]


@pytest.mark.parametrize("kid,fn", CASTS, ids=[c[0] for c in CASTS])
def test_float_cast_grads_match_torch(kid, fn):
    a = np.random.default_rng(0).standard_normal((2, 3))
    out = compare_with_torch(lambda x: fn(x) * 2, lambda x: fn(x) * 2, a, rtol=1e-6)
    assert out.dtype == (svertka.float64 if kid == "double" else svertka.float32)


def test_cast_to_int_and_bool_matches_torch():
    a = np.array([-1.7, 0.0, 2.5, 3.2])
    s, t = svertka.tensor(a), torch.tensor(a)
    for name in ("long", "int", "bool"):
        r = getattr(s, name)()
        assert_close(r, getattr(t, name)(), what=name)
        assert not r.requires_grad


def test_cast_of_float_keeps_dtype_identity():
    x = svertka.ones(2)
    assert x.float() is x and x.to(svertka.float32) is x and x.to("cpu") is x


def test_dtype_objects():
    assert svertka.float32 == np.float32 and svertka.float == svertka.float32
    assert svertka.long == svertka.int64 and svertka.double == svertka.float64
    assert repr(svertka.float64) == "svertka.float64"
    assert svertka.float32.is_floating_point and not svertka.int64.is_floating_point
    assert svertka.get_default_dtype() == svertka.float32


def test_dtype_errors():
    with pytest.raises(TypeError, match="svertka: cannot interpret 'floaty' as a dtype"):
        svertka.ones(2, dtype="floaty")
    with pytest.raises(TypeError, match="set_default_dtype: only float32 and float64"):
        svertka.set_default_dtype(svertka.int64)
    with pytest.raises(ValueError, match="to: only the 'cpu' device is available"):
        svertka.ones(2).to("cuda")


# ---------------------------------------------------------------------- float32 stays float32
F32_OPS = [
    ("add_scalar", lambda x, y: x + 2.5), ("mul", lambda x, y: x * y),
    ("div_scalar", lambda x, y: x / 3), ("rdiv", lambda x, y: 1 / (x.abs() + 1)),
    ("pow", lambda x, y: x.abs() ** y), ("pow_scalar", lambda x, y: x ** 2),
    ("rpow", lambda x, y: 2.0 ** x), ("maximum", lambda x, y: svertka.maximum(x, y)),
    ("where_scalar", lambda x, y: svertka.where(x > 0, x, 0.5)), ("matmul", lambda x, y: x @ y.T),
    ("sum", lambda x, y: x.sum(1)), ("mean", lambda x, y: x.mean()), ("var", lambda x, y: x.var(0)),
    ("std", lambda x, y: x.std()), ("prod", lambda x, y: x.prod(1)),
    ("logsumexp", lambda x, y: x.logsumexp(1)), ("amax", lambda x, y: x.amax()),
    ("max_dim", lambda x, y: x.max(1)[0]), ("norm", lambda x, y: x.norm()),
    ("exp", lambda x, y: x.exp()), ("log", lambda x, y: (x.abs() + 1).log()),
    ("sqrt", lambda x, y: x.abs().sqrt()), ("sigmoid", lambda x, y: x.sigmoid()),
    ("tanh", lambda x, y: x.tanh()), ("clamp", lambda x, y: x.clamp(-0.1, 0.1)),
    ("clamp_tensor", lambda x, y: x.clamp(y)), ("getitem", lambda x, y: x[[0, 0]]),
    ("mask", lambda x, y: x[x > 0]), ("cat", lambda x, y: svertka.cat([x, y])),
    ("repeat", lambda x, y: x.repeat(2, 1)),
    ("masked_fill", lambda x, y: x.masked_fill(x > 0, 0.5)),
    ("sub_alpha", lambda x, y: x.sub(y, alpha=2)),
]


@pytest.mark.parametrize("kid,fn", F32_OPS, ids=[f[0] for f in F32_OPS])
def test_float32_output_and_grads_stay_float32(kid, fn):
    rng = np.random.default_rng(1)
    x = svertka.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    y = svertka.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    out = fn(x, y)
    assert out.dtype == svertka.float32
    out.backward(svertka.ones(*out.shape))
    for g in (x.grad, y.grad):
        assert g is None or g.dtype == svertka.float32
