"""Tensor arithmetic, unary math, matmul, comparisons and in-place ops against torch 2.13.

Every differentiable op is compared in float64 (values and every input's gradient, random
upstream gradient) through ``compare_with_torch``, on broadcast shapes and on non-contiguous
inputs (a transposed or strided-sliced tensor fed to the op).
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests._oracle import assert_close, compare_with_torch

import svertka


def _rand(shape, seed=0, low=None):
    a = np.random.default_rng(seed).standard_normal(shape)
    if low is not None:  # a positive domain (log, sqrt, pow's base)
        a = np.abs(a) + low
    return a


# ---------------------------------------------------------------------- binary ops
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "maximum": lambda a, b: (svertka if isinstance(a, svertka.Tensor) else torch).maximum(a, b),
    "minimum": lambda a, b: (svertka if isinstance(a, svertka.Tensor) else torch).minimum(a, b),
}

SHAPE_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 1, 4), (3, 1)),
    ((), (3, 4)),
    ((3, 4), ()),
    ((1,), (3,)),
    ((2, 3, 1), (2, 1, 5)),
    ((0, 3), (3,)),
]


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("sa,sb", SHAPE_PAIRS, ids=lambda s: "x".join(map(str, s)) or "scalar")
def test_binary_grads_match_torch_broadcast(op, sa, sb):
    low = 0.5 if op in ("pow", "div") else None  # positive base for pow, no 0 divisor
    a, b = _rand(sa, 1, low if op == "pow" else None), _rand(sb, 2, low if op == "div" else None)
    out = compare_with_torch(BINARY[op], BINARY[op], a, b)
    assert out.dtype == svertka.float64


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_binary_grads_match_torch_non_contiguous(op, layout):
    a, b = _rand((4, 6), 3, 0.5), _rand((6, 4), 4, 0.5)

    def make(lib):
        def f(x, y):
            if layout == "transposed":
                x = x.T                       # (6, 4), not contiguous
            else:
                x, y = x[:, ::2].T, y[::2, :]  # (3, 4) both strided
            out = BINARY[op](x, y)
            return out
        return f

    compare_with_torch(make(svertka), make(torch), a, b)


SCALAR_CASES = [
    ("add_float", lambda x: x + 2.5),
    ("radd_float", lambda x: 2.5 + x),
    ("sub_int", lambda x: x - 3),
    ("rsub_float", lambda x: 1.5 - x),
    ("mul_float", lambda x: x * -2.0),
    ("rmul_int", lambda x: 3 * x),
    ("div_float", lambda x: x / 4.0),
    ("rdiv_float", lambda x: 2.0 / x),
    ("pow_int", lambda x: x ** 3),
    ("pow_float", lambda x: x ** 2.5),
    ("pow_zero", lambda x: x ** 0),
    ("pow_negative", lambda x: x ** -1.5),
    ("rpow_float", lambda x: 2.0 ** x),
    ("neg", lambda x: -x),
]


@pytest.mark.parametrize("name,fn", SCALAR_CASES, ids=[c[0] for c in SCALAR_CASES])
def test_scalar_operand_grads_match_torch(name, fn):
    a = _rand((3, 4), 5, 0.5)
    out = compare_with_torch(fn, fn, a)
    assert out.dtype == svertka.float64


def test_pow_grads_match_torch_at_zero_base():
    a = np.array([0.0, 0.0, 1.5, 2.0])
    b = np.array([0.0, 2.0, 0.0, 3.0])
    compare_with_torch(lambda x, y: x ** y, lambda x, y: x ** y, a, b)


def test_binary_float32_forward_matches_torch():
    a, b = _rand((3, 4), 6).astype(np.float32), _rand((4,), 7, 0.5).astype(np.float32)
    for op in BINARY:
        if op == "pow":
            a_ = np.abs(a) + np.float32(0.5)
        else:
            a_ = a
        s = BINARY[op](svertka.tensor(a_), svertka.tensor(b))
        t = BINARY[op](torch.tensor(a_), torch.tensor(b))
        assert s.dtype == svertka.float32, op
        assert_close(s, t, rtol=1e-4, what=op)


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_grads_match_torch_with_ties(op):
    a = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    b = np.array([1.0, 0.0, 3.0])
    compare_with_torch(BINARY[op], BINARY[op], a, b)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow", "maximum", "minimum"])
def test_binary_rejects_shapes_that_do_not_broadcast(op):
    x, y = svertka.ones(3, 4), svertka.ones(5)
    with pytest.raises(ValueError, match=rf"{op}: shapes \(3, 4\) and \(5,\) do not broadcast"):
        BINARY[op](x, y)


# ---------------------------------------------------------------------- where
WHERE_SHAPES = [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), (3, 1)), ((3, 1), (1, 4), ()),
                ((4,), (3, 4), (3, 4))]


@pytest.mark.parametrize("sc,sa,sb", WHERE_SHAPES, ids=str)
def test_where_grads_match_torch_broadcast(sc, sa, sb):
    cond = np.random.default_rng(8).random(sc) > 0.5
    a, b = _rand(sa, 9), _rand(sb, 10)
    compare_with_torch(lambda c, x, y: svertka.where(c, x, y),
                       lambda c, x, y: torch.where(c, x, y), cond, a, b)


def test_where_scalar_other_grads_match_torch():
    cond = np.array([[True, False], [False, True]])
    a = _rand((2, 2), 11)
    compare_with_torch(lambda c, x: svertka.where(c, x, 0.5),
                       lambda c, x: torch.where(c, x, 0.5), cond, a)


def test_where_rejects_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"where: shapes \(2,\), \(3,\) and \(\) do not "
                                         r"broadcast"):
        svertka.where(svertka.tensor([True, False]), svertka.ones(3), 0.0)


def test_where_rejects_non_bool_condition():
    with pytest.raises(TypeError, match="where: condition must be a bool tensor"):
        svertka.where(svertka.ones(3), svertka.ones(3), 0.0)


def test_where_array_operand_keeps_its_dtype_against_a_number():
    # a NumPy array operand (no Tensor on either side) promotes as a tensor of its dtype
    cond = np.array([True, False, True])
    x = np.arange(3, dtype=np.int32)
    out = svertka.where(svertka.tensor(cond), x, 7)
    expected = torch.where(torch.tensor(cond), torch.from_numpy(x), 7)
    assert out.dtype == svertka.int32 and expected.dtype == torch.int32
    assert out.tolist() == expected.tolist()


# ---------------------------------------------------------------------- unary ops
UNARY = [
    ("neg", lambda x: -x, None),
    ("abs", lambda x: x.abs(), None),
    ("exp", lambda x: x.exp(), None),
    ("log", lambda x: x.log(), 0.1),
    ("sqrt", lambda x: x.sqrt(), 0.1),
    ("sin", lambda x: x.sin(), None),
    ("cos", lambda x: x.cos(), None),
    ("tanh", lambda x: x.tanh(), None),
    ("sigmoid", lambda x: x.sigmoid(), None),
    ("relu", lambda x: x.relu(), None),
    ("clamp_both", lambda x: x.clamp(-0.5, 0.5), None),
    ("clamp_min", lambda x: x.clamp(min=0.1), None),
    ("clamp_max", lambda x: x.clamp(max=-0.2), None),
    ("pow_method", lambda x: x.pow(2), None),
    ("square", lambda x: x.square(), None),
    ("rsqrt", lambda x: x.rsqrt(), 0.1),
    ("reciprocal", lambda x: x.reciprocal(), 0.1),
    ("sign", lambda x: x.sign(), None),
    ("floor", lambda x: x.floor(), None),
    ("ceil", lambda x: x.ceil(), None),
    ("round", lambda x: (x * 2).round(), None),
]


@pytest.mark.parametrize("name,fn,low", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided", "zero_d"])
def test_unary_grads_match_torch(name, fn, low, layout):
    shape = {"contiguous": (3, 4), "transposed": (4, 3), "strided": (3, 8), "zero_d": ()}[layout]
    a = _rand(shape, 12, low)
    prep = {"contiguous": lambda x: x, "transposed": lambda x: x.T,
            "strided": lambda x: x[::2, 1::3], "zero_d": lambda x: x}[layout]
    compare_with_torch(lambda x: fn(prep(x)), lambda x: fn(prep(x)), a)


@pytest.mark.parametrize("name,fn,low", UNARY, ids=[u[0] for u in UNARY])
def test_unary_float32_forward_matches_torch(name, fn, low):
    a = _rand((3, 4), 13, low).astype(np.float32)
    s, t = fn(svertka.tensor(a)), fn(torch.tensor(a))
    assert s.dtype == svertka.float32
    assert_close(s, t, rtol=1e-4)


def test_relu_abs_clamp_grads_match_torch_at_kinks():
    a = np.array([-1.0, 0.0, 0.5, 1.0, -0.5])
    for fn in (lambda x: x.relu(), lambda x: x.abs(), lambda x: x.clamp(-0.5, 0.5)):
        compare_with_torch(fn, fn, a)


def test_clamp_with_tensor_bounds_grads_match_torch():
    a, lo, hi = _rand((3, 4), 14), _rand((4,), 15) - 0.5, _rand((3, 1), 16) + 0.5
    compare_with_torch(lambda x, l, h: x.clamp(l, h), lambda x, l, h: x.clamp(l, h), a, lo, hi)


@pytest.mark.parametrize("kwargs", [{"min": 1.5}, {"max": 2}, {"min": 0, "max": 2.5},
                                    {"min": True}], ids=str)
def test_clamp_of_int_tensor_promotes_like_torch(kwargs):
    torch.set_default_dtype(torch.float32)  # promotion to the default dtype, as svertka's
    try:
        t = torch.tensor([1, 2, 3]).clamp(**kwargs)
    finally:
        torch.set_default_dtype(torch.float64)  # what tests/_oracle.py sets
    s = svertka.tensor([1, 2, 3]).clamp(**kwargs)
    assert str(s.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    assert s.tolist() == t.tolist()


def test_clamp_rejects_no_bounds():
    with pytest.raises(ValueError, match="clamp: at least one of min or max"):
        svertka.ones(2).clamp()


def test_unary_math_on_int_tensor_gives_float():
    x = svertka.tensor([1, 2, 3])
    for name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid"):
        s, t = getattr(x, name)(), getattr(torch.tensor([1, 2, 3]), name)()
        assert s.dtype == svertka.float32, name
        assert_close(s, t.float(), rtol=1e-6, what=name)


# ---------------------------------------------------------------------- matmul
MATMUL = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((3, 4), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((4,), (2, 4, 3)),
    ((2, 3, 4), (4,)),
    ((1, 4), (4, 1)),
    ((0, 4), (4, 2)),
]


@pytest.mark.parametrize("sa,sb", MATMUL, ids=lambda s: "x".join(map(str, s)))
def test_matmul_grads_match_torch(sa, sb):
    a, b = _rand(sa, 17), _rand(sb, 18)
    compare_with_torch(lambda x, y: x @ y, lambda x, y: x @ y, a, b)


def test_matmul_grads_match_torch_non_contiguous():
    a, b = _rand((5, 3), 19), _rand((2, 4, 10), 20)
    compare_with_torch(lambda x, y: svertka.matmul(x.T, y[:, :, ::2].transpose(1, 2)),
                       lambda x, y: torch.matmul(x.T, y[:, :, ::2].transpose(1, 2)), a, b)


def test_matmul_float32_forward_matches_torch():
    a, b = _rand((2, 3, 4), 21).astype(np.float32), _rand((4, 5), 22).astype(np.float32)
    s = svertka.tensor(a) @ svertka.tensor(b)
    assert s.dtype == svertka.float32
    assert_close(s, torch.tensor(a) @ torch.tensor(b), rtol=1e-4)


def test_matmul_array_operand_matches_torch_grads():
    a, b = _rand((3, 4), 23), _rand((4, 2), 24)
    compare_with_torch(lambda x: svertka.matmul(x, b), lambda x: x @ torch.tensor(b), a)


MATMUL_ERRORS = [
    ((3, 4), (5, 2), r"matmul: shapes \(3, 4\) and \(5, 2\) cannot be multiplied \(4 != 5\)"),
    ((4,), (3,), r"matmul: shapes \(4,\) and \(3,\) cannot be multiplied \(4 != 3\)"),
    ((), (3,), r"matmul: both arguments need at least 1 dimension"),
    ((2, 3, 4), (3, 4, 5), r"matmul: batch dimensions of shapes \(2, 3, 4\) and \(3, 4, 5\)"),
]


@pytest.mark.parametrize("sa,sb,msg", MATMUL_ERRORS, ids=["inner", "vectors", "0d", "batch"])
def test_matmul_rejects_incompatible_shapes(sa, sb, msg):
    with pytest.raises(ValueError, match=msg):
        svertka.zeros(*sa) @ svertka.zeros(*sb)


# ---------------------------------------------------------------------- comparisons
COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]


@pytest.mark.parametrize("op", COMPARE)
@pytest.mark.parametrize("other", ["tensor", "broadcast", "scalar"])
def test_comparison_matches_torch_and_gives_bool(op, other):
    a = np.round(_rand((3, 4), 23))
    b = {"tensor": np.round(_rand((3, 4), 24)), "broadcast": np.round(_rand((4,), 25)),
         "scalar": 0.0}[other]
    xs = svertka.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    bs = svertka.tensor(b) if other != "scalar" else b
    bt = torch.tensor(b) if other != "scalar" else b
    s, t = getattr(xs, op)(bs), getattr(xt, op)(bt)
    assert s.dtype == svertka.bool
    assert not s.requires_grad and s.grad_fn is None
    assert_close(s, t)


def test_comparison_rejects_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match=r"eq: shapes \(3, 4\) and \(5,\) do not broadcast"):
        svertka.ones(3, 4).eq(svertka.ones(5))


# ---------------------------------------------------------------------- in-place
def test_inplace_ops_under_no_grad_modify_a_leaf():
    a = _rand((2, 3), 26)
    x = svertka.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    v0 = x._version_number
    with svertka.no_grad(), torch.no_grad():
        for t, lib in ((x, svertka), (xt, torch)):
            t.add_(lib.ones(3))
            t.mul_(2.0)
            t.add_(lib.ones(2, 3), alpha=0.5)
    assert_close(x, xt)
    assert x.requires_grad and x.is_leaf and x._version_number == v0 + 3


def test_inplace_zero_fill_copy_under_no_grad():
    x = svertka.tensor(_rand((2, 3), 27), requires_grad=True)
    with svertka.no_grad():
        x.zero_()
        assert x.detach().numpy().tolist() == [[0.0] * 3] * 2
        x.fill_(1.5)
        assert np.all(x.detach().numpy() == 1.5)
        x.copy_(svertka.tensor([1.0, 2.0, 3.0], dtype=svertka.float64))
        assert x.detach().numpy().tolist() == [[1.0, 2.0, 3.0]] * 2
    assert x.requires_grad and x.is_leaf
    # the modified leaf still works in a graph
    (x * x).sum().backward()
    assert x.grad.numpy().tolist() == [[2.0, 4.0, 6.0]] * 2


@pytest.mark.parametrize("name,call", [
    ("add_", lambda x: x.add_(1.0)),
    ("mul_", lambda x: x.mul_(2.0)),
    ("zero_", lambda x: x.zero_()),
    ("fill_", lambda x: x.fill_(1.0)),
])
def test_inplace_on_leaf_requiring_grad_raises_outside_no_grad(name, call):
    x = svertka.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=f"{name}: a leaf tensor that requires grad"):
        call(x)


def test_inplace_on_non_leaf_grads_match_torch():
    a = _rand((3,), 28)

    def f(x):
        y = x * 2
        y.mul_(x)
        y.add_(1.0)
        return y
    compare_with_torch(f, f, a)


@pytest.mark.parametrize("name", ["zero_", "fill_"])
def test_inplace_fill_of_non_leaf_grads_match_torch(name):
    args = [1.5] if name == "fill_" else []

    def f(x):
        y = x * 2
        z = y.exp()  # saves its output, not y
        getattr(y, name)(*args)
        return y * x + z
    out = compare_with_torch(f, f, _rand((3,), 29))
    assert out.grad_fn is not None
    # as in torch, filling a tensor that a later op saved breaks that op's backward
    x = svertka.tensor(_rand((3,), 30), requires_grad=True)
    y = x * 2
    z = y * x
    getattr(y, name)(*args)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_int_tensor_rejects_float_result():
    x = svertka.tensor([1, 2])
    with pytest.raises(RuntimeError, match="mul_"):
        x.mul_(1.5)


# ---------------------------------------------------------------------- hypothesis
@st.composite
def _broadcast_pair(draw):
    shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                    min_side=1, max_side=3))
    seed = draw(st.integers(0, 2**16))
    return shapes.input_shapes, seed


@settings(max_examples=50, deadline=None)
@given(case=_broadcast_pair(), op=st.sampled_from(["add", "sub", "mul", "div", "maximum",
                                                   "where"]))
def test_broadcasting_grads_match_torch_property(case, op):
    (sa, sb), seed = case
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    if op == "div":
        b = np.abs(b) + 0.5
    if op == "where":
        cond = rng.random(np.broadcast_shapes(sa, sb)) > 0.5
        fs = lambda x, y: svertka.where(svertka.tensor(cond), x, y)  # noqa: E731
        ft = lambda x, y: torch.where(torch.tensor(cond), x, y)  # noqa: E731
    else:
        fs = ft = BINARY[op]
    xs, ys = svertka.tensor(a, requires_grad=True), svertka.tensor(b, requires_grad=True)
    compare_with_torch(fs, ft, a, b, seed=seed)
    out = fs(xs, ys)
    out.backward(svertka.ones(*out.shape, dtype=svertka.float64))
    assert xs.grad.shape == tuple(sa) and ys.grad.shape == tuple(sb)


EDGE_VALUES = [
    ("div_by_zero", lambda x, y: x / y, [1.0, -1.0, 0.0], [0.0, 0.0, 0.0]),
    ("log_zero_negative", lambda x, y: x.log() + y, [0.0, -1.0, 2.0], [1.0, 1.0, 1.0]),
    ("sqrt_negative", lambda x, y: x.sqrt() * y, [-1.0, 4.0, 0.25], [1.0, 2.0, 3.0]),
    ("pow_negative_base", lambda x, y: x ** y, [-1.5, 2.0, -2.0], [0.5, 0.5, 2.0]),
    ("exp_overflow", lambda x, y: x.exp() * y, [1000.0, 1.0, -1000.0], [1.0, 1.0, 1.0]),
]


@pytest.mark.parametrize("kid,fn,a,b", EDGE_VALUES, ids=[e[0] for e in EDGE_VALUES])
def test_edge_values_give_inf_nan_like_torch_without_warnings(kid, fn, a, b):
    # RuntimeWarnings from svertka are errors in this suite (pyproject's filterwarnings)
    compare_with_torch(fn, fn, np.array(a), np.array(b))


# ---------------------------------------------------------------------- free functions
FREE = [
    ("exp", lambda lib, x: lib.exp(x)),
    ("sum_dim", lambda lib, x: lib.sum(x, 1)),
    ("mean_kw", lambda lib, x: lib.mean(x, dim=0, keepdim=True)),
    ("max_dim", lambda lib, x: lib.max(x, 1)[0]),
    ("max_other", lambda lib, x: lib.max(x, x.flip(0))),
    ("min_all", lambda lib, x: lib.min(x)),
    ("clamp", lambda lib, x: lib.clamp(x, min=-0.5)),
    ("clip", lambda lib, x: lib.clip(x, -0.5, 0.5)),
    ("transpose", lambda lib, x: lib.transpose(x, 0, 1)),
    ("reshape", lambda lib, x: lib.reshape(x, (-1,))),
    ("flatten", lambda lib, x: lib.flatten(x)),
    ("matmul", lambda lib, x: lib.matmul(x, x.T)),
    ("where", lambda lib, x: lib.where(x > 0, x, x * 2)),
    ("abs_mul_sub_div", lambda lib, x: lib.div(lib.sub(lib.mul(lib.abs(x), 2), x), 3)),
    ("pow", lambda lib, x: lib.pow(x, 2)),
]


@pytest.mark.parametrize("kid,fn", FREE, ids=[f[0] for f in FREE])
def test_free_function_grads_match_torch(kid, fn):
    compare_with_torch(lambda x: fn(svertka, x), lambda x: fn(torch, x), _rand((3, 4), 40))


def test_free_function_rejects_non_tensor():
    with pytest.raises(TypeError, match="exp: input must be a Tensor, got list"):
        svertka.exp([1.0])


# ---------------------------------------------------------------------- non-contiguous leaves
LEAF_OPS = [
    ("matmul", lambda x, y: x @ y),
    ("add_broadcast", lambda x, y: x + y[0]),
    ("mul", lambda x, y: x * y[:3]),
    ("sum_dim", lambda x, y: x.sum(0) * y.sum(1)),
    ("getitem", lambda x, y: x[[0, 0, 2]] * y[1:, ::2].sum()),
    ("reshape", lambda x, y: x.reshape(-1)[:4] * y.reshape(-1)[4:8]),
    ("max_dim", lambda x, y: x.max(0)[0] + y.amax(0)),
    ("unary", lambda x, y: x.exp().tanh() + y[:3].sigmoid()),
]


@pytest.mark.parametrize("kid,fn", LEAF_OPS, ids=[c[0] for c in LEAF_OPS])
def test_grads_match_torch_on_fortran_order_leaves(kid, fn):
    # svertka.tensor keeps a Fortran-order array's layout: the leaves are not C-contiguous
    a = np.asfortranarray(_rand((3, 4), 41))
    b = _rand((4, 4), 42).T
    assert not svertka.tensor(a).is_contiguous() and not svertka.tensor(b).is_contiguous()
    compare_with_torch(fn, fn, a, b)


def test_softmax_and_log_softmax_methods_match_torch():
    a = np.random.default_rng(3).standard_normal((3, 5))
    compare_with_torch(lambda t: t.softmax(1), lambda t: t.softmax(1), a)
    compare_with_torch(lambda t: svertka.log_softmax(t, 0), lambda t: torch.log_softmax(t, 0), a)


def test_where_of_two_python_numbers_takes_torch_scalar_dtypes():
    # torch 2.13 with its default dtype float32: where(m, 1.0, 0.0) is float32, ints int64
    m = svertka.tensor([True, False])
    for a, b, dtype in [(1.0, 0.0, svertka.float32), (1, 0, svertka.int64),
                        (True, False, svertka.bool), (1, 0.5, svertka.float32)]:
        got = svertka.where(m, a, b)
        assert got.dtype == dtype, (a, b, got.dtype)
        assert got.tolist() == [a, b]
