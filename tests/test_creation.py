"""Making tensors (``tensor`` and the factories), their attributes and conversions, the RNG
seed, and ``repr`` compared with torch's for a table of tensors."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka


@pytest.fixture
def torch_float32_default():
    """torch with its own default dtype (the oracle module sets float64) for the test."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(old)


# ---------------------------------------------------------------------- tensor()
INFER = [
    ("float_list", [1.0, 2.0], svertka.float32, torch.float32),
    ("int_list", [1, 2], svertka.int64, torch.int64),
    ("bool_list", [True, False], svertka.bool, torch.bool),
    ("mixed_int_float", [1, 2.5], svertka.float32, torch.float32),
    ("nested", [[1.0], [2.0]], svertka.float32, torch.float32),
    ("float_scalar", 2.5, svertka.float32, torch.float32),
    ("int_scalar", 3, svertka.int64, torch.int64),
    ("np_float64", np.zeros(2), svertka.float64, torch.float64),
    ("np_float32", np.zeros(2, np.float32), svertka.float32, torch.float32),
    ("np_int32", np.zeros(2, np.int32), svertka.int32, torch.int32),
    ("np_int64", np.zeros(2, np.int64), svertka.int64, torch.int64),
    ("np_bool", np.zeros(2, np.bool_), svertka.bool, torch.bool),
    ("np_uint8", np.zeros(2, np.uint8), svertka.uint8, torch.uint8),
    ("np_scalar_float64", np.float64(1.5), svertka.float64, torch.float64),
    ("list_of_np_float64", [np.float64(1.5), 2.0], svertka.float64, torch.float64),
    ("list_of_np_float32", [np.float32(1.5), 2.0], svertka.float32, torch.float32),
    ("list_of_np_int32", [np.int32(1), np.int32(2)], svertka.int32, torch.int32),
    ("list_int_and_np_float32", [1, np.float32(2)], svertka.float32, torch.float32),
]


@pytest.mark.parametrize("kid,data,sv_dtype,th_dtype", INFER, ids=[i[0] for i in INFER])
def test_tensor_infers_dtype_like_torch(kid, data, sv_dtype, th_dtype, torch_float32_default):
    s, t = svertka.tensor(data), torch.tensor(data)
    assert t.dtype == th_dtype
    assert s.dtype == sv_dtype
    assert s.shape == tuple(t.shape)
    assert_close(s, t)


@pytest.mark.parametrize("dtype", [svertka.float32, svertka.float64, svertka.int64,
                                   svertka.bool, "float64", np.float32, float, int])
def test_tensor_with_dtype_argument(dtype):
    s = svertka.tensor([1, 0, 2], dtype=dtype)
    assert s.dtype == svertka._dtype.to_dtype(dtype)


def test_tensor_copies_numpy_data():
    a = np.zeros(3)
    s = svertka.tensor(a)
    a[0] = 1.0
    assert s[0].item() == 0.0


def test_tensor_requires_grad_only_for_floats():
    assert svertka.tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(RuntimeError, match="only tensors of floating point dtype can require"):
        svertka.tensor([1], requires_grad=True)


def test_tensor_from_list_of_tensors():
    s = svertka.tensor([svertka.tensor(1.0), svertka.tensor(2.0)])
    assert s.tolist() == [1.0, 2.0] and s.dtype == svertka.float32


def test_tensor_rejects_bad_data():
    with pytest.raises(TypeError, match="tensor: data must be a number"):
        svertka.tensor({"a": 1})
    with pytest.raises(ValueError, match="tensor: could not build a tensor from the data"):
        svertka.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        svertka.tensor(np.zeros(2, np.complex128))


# ---------------------------------------------------------------------- factories
FACTORIES = [
    ("zeros", lambda lib: lib.zeros(2, 3)),
    ("zeros_tuple", lambda lib: lib.zeros((2, 3))),
    ("zeros_int", lambda lib: lib.zeros(2, dtype=lib.int64)),
    ("ones", lambda lib: lib.ones(3)),
    ("ones_f64", lambda lib: lib.ones(2, 2, dtype=lib.float64)),
    ("ones_empty", lambda lib: lib.ones(0, 3)),
    ("ones_0d", lambda lib: lib.ones(())),
    ("full_float", lambda lib: lib.full((2, 2), 1.5)),
    ("full_int", lambda lib: lib.full((3,), 7)),
    ("full_bool", lambda lib: lib.full((2,), True)),
    ("arange_int", lambda lib: lib.arange(5)),
    ("arange_start_end", lambda lib: lib.arange(2, 9, 3)),
    ("arange_float", lambda lib: lib.arange(0, 1, 0.1)),
    ("arange_negative_step", lambda lib: lib.arange(5, 0, -2)),
    ("arange_float_dtype", lambda lib: lib.arange(4, dtype=lib.float32)),
    ("arange_empty", lambda lib: lib.arange(3, 3)),
    ("zeros_like", lambda lib: lib.zeros_like(lib.ones(2, 3, dtype=lib.float64))),
    ("ones_like_int", lambda lib: lib.ones_like(lib.zeros(4, dtype=lib.int64))),
    ("ones_like_dtype", lambda lib: lib.ones_like(lib.zeros(4), dtype=lib.float64)),
    ("empty_shape", lambda lib: lib.empty(2, 3).zero_()),
]


@pytest.mark.parametrize("kid,make", FACTORIES, ids=[f[0] for f in FACTORIES])
def test_factory_matches_torch(kid, make, torch_float32_default):
    s, t = make(svertka), make(torch)
    assert str(s.dtype).replace("svertka.", "torch.") == str(t.dtype)
    assert_close(s, t, rtol=1e-6)


@pytest.mark.parametrize("name", ["randn", "rand"])
def test_random_factories_shape_dtype_and_seed(name):
    fn = getattr(svertka, name)
    svertka.manual_seed(3)
    a = fn(2, 3)
    svertka.manual_seed(3)
    b = fn((2, 3))
    assert a.shape == (2, 3) and a.dtype == svertka.float32
    assert a.equal(b)
    c = fn(2, 3)
    assert not a.equal(c)
    assert fn(4, dtype=svertka.float64).dtype == svertka.float64
    assert fn(2, requires_grad=True).requires_grad


def test_random_factories_distribution():
    svertka.manual_seed(0)
    n, u = svertka.randn(20000).numpy(), svertka.rand(20000).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.02


def test_factories_requires_grad():
    for t in (svertka.zeros(2, requires_grad=True), svertka.ones(2, requires_grad=True),
              svertka.full((2,), 1.0, requires_grad=True)):
        assert t.requires_grad and t.is_leaf and t.grad is None


FACTORY_ERRORS = [
    ("zeros_negative", lambda: svertka.zeros(2, -1), ValueError,
     r"zeros: negative dimension in size \[2, -1\]"),
    ("ones_float", lambda: svertka.ones(2.5), TypeError, r"ones: shape must be ints"),
    ("arange_zero_step", lambda: svertka.arange(0, 3, 0), ValueError,
     r"arange: step must be nonzero"),
    ("arange_sign", lambda: svertka.arange(3, 1), ValueError,
     r"arange: upper bound and lower bound inconsistent with step sign, got start=3, end=1"),
    ("randn_int", lambda: svertka.randn(2, dtype=svertka.int64), ValueError,
     r"randn: dtype must be floating point"),
    ("device", lambda: svertka.zeros(2, device="cuda"), ValueError,
     r"zeros: only the 'cpu' device is available"),
    ("manual_seed", lambda: svertka.manual_seed(1.5), TypeError,
     r"manual_seed: seed must be an int"),
    ("manual_seed_too_large", lambda: svertka.manual_seed(2**64), ValueError,
     r"manual_seed: seed must be in \[-2\*\*63, 2\*\*64\), got seed=18446744073709551616"),
    ("manual_seed_too_negative", lambda: svertka.manual_seed(-2**63 - 1), ValueError,
     r"manual_seed: seed must be in"),
]


@pytest.mark.parametrize("seed", [-1, -2**63, 2**64 - 1, 0])
def test_manual_seed_wraps_negative_seeds_like_torch(seed):
    svertka.manual_seed(seed)
    assert svertka.initial_seed() == torch.manual_seed(seed).initial_seed()
    a = svertka.randn(3).numpy()
    svertka.manual_seed(svertka.initial_seed())
    np.testing.assert_array_equal(svertka.randn(3).numpy(), a)


@pytest.mark.parametrize("kid,call,exc,msg", FACTORY_ERRORS, ids=[e[0] for e in FACTORY_ERRORS])
def test_factory_rejects_bad_arguments(kid, call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# ---------------------------------------------------------------------- attributes
def test_tensor_attributes_match_torch():
    a = np.arange(6.0).reshape(2, 3)
    s, t = svertka.tensor(a), torch.tensor(a)
    assert s.shape == tuple(t.shape) and s.ndim == t.ndim == 2
    assert s.size() == tuple(t.size()) and s.size(1) == t.size(1) == 3 and s.size(-2) == 2
    assert repr(s.size()) == "svertka.Size([2, 3])"
    assert s.numel() == t.numel() == 6
    assert s.T.shape == (3, 2)
    assert s.tolist() == t.tolist()
    assert isinstance(s.numpy(), np.ndarray) and s.numpy().dtype == np.float64
    assert s[1, 2].item() == 5.0 and isinstance(s[1, 2].item(), float)
    assert isinstance(svertka.tensor([3]).item(), int)
    assert s.dtype == svertka.float64 and s.dtype == np.float64


def test_item_rejects_many_elements():
    with pytest.raises(ValueError, match="item: a Tensor with 2 elements cannot be converted"):
        svertka.ones(2).item()


def test_numpy_refused_while_requiring_grad():
    x = svertka.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="numpy: can't call numpy"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0, 1.0]


def test_grad_fn_is_leaf_detach_requires_grad_():
    x = svertka.ones(2)
    assert x.is_leaf and x.grad_fn is None and not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    assert y.grad_fn.name() == "MulBackward"
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0] and y.grad is None
    with pytest.raises(RuntimeError, match="requires_grad_: you can only change"):
        y.requires_grad_(False)


def test_size_rejects_bad_dim():
    with pytest.raises(ValueError, match=r"size: dim out of range"):
        svertka.ones(2, 3).size(2)


# ---------------------------------------------------------------------- repr
REPRS = [
    ("ints", lambda lib: lib.tensor([1, 2, 3])),
    ("negative_ints", lambda lib: lib.tensor([-1, 20, 3])),
    ("floats", lambda lib: lib.tensor([0.1, 0.25])),
    ("signs", lambda lib: lib.tensor([1.0, -2.5])),
    ("int_valued_floats", lambda lib: lib.tensor([1.0, -2.0, 30.0])),
    ("matrix", lambda lib: lib.tensor([[1.5, -2.0], [3.0, 4.25]])),
    ("3d", lambda lib: lib.arange(24).reshape(2, 3, 4)),
    ("float64", lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64)),
    ("float64_fraction", lambda lib: lib.tensor([[0.5, -1.25]], dtype=lib.float64)),
    ("int32", lambda lib: lib.tensor([1, 2], dtype=lib.int32)),
    ("bool", lambda lib: lib.tensor([True, False])),
    ("sci_large", lambda lib: lib.tensor([1e10, 1.0])),
    ("sci_small", lambda lib: lib.tensor([1e-5, 1.0])),
    ("sci_ratio", lambda lib: lib.tensor([1.0, 2000.0])),
    ("sci_negative", lambda lib: lib.tensor([-1e-6, 3.0, 5e4])),
    ("nan_inf", lambda lib: lib.tensor([0.0, float("nan"), float("inf"), -1.5])),
    ("all_zero", lambda lib: lib.zeros(3)),
    ("empty", lambda lib: lib.tensor([])),
    ("empty_2d", lambda lib: lib.zeros(0, 3)),
    ("empty_int", lambda lib: lib.zeros(0, dtype=lib.int64)),
    ("empty_2d_float64", lambda lib: lib.zeros(2, 0, dtype=lib.float64)),
    ("0d_float", lambda lib: lib.tensor(3.5)),
    ("0d_int", lambda lib: lib.tensor(-7)),
    ("0d_float64", lambda lib: lib.tensor(2.0, dtype=lib.float64)),
    ("long_row", lambda lib: lib.arange(30) / 7),
    ("wide_matrix", lambda lib: lib.arange(36.0).reshape(3, 12) / 3),
    ("summarized", lambda lib: lib.arange(2000).reshape(40, 50) / 3),
    ("summarized_1d", lambda lib: lib.arange(1500)),
    ("requires_grad", lambda lib: lib.tensor([1.0, -2.0], requires_grad=True)),
    ("grad_fn", lambda lib: lib.tensor([1.0, 2.5], requires_grad=True) * 2),
    ("grad_fn_sum", lambda lib: lib.tensor([[1.0, 2.5]], requires_grad=True).sum()),
    ("grad_fn_wraps", lambda lib: lib.arange(60.0).reshape(6, 10).requires_grad_() * 1.5),
    ("float64_requires_grad", lambda lib: lib.tensor([1.5], dtype=lib.float64,
                                                      requires_grad=True)),
]


@pytest.mark.parametrize("kid,make", REPRS, ids=[r[0] for r in REPRS])
def test_repr_matches_torch(kid, make, torch_float32_default):
    s, t = make(svertka), make(torch)
    assert repr(s) == repr(t).replace("torch.", "svertka."), f"\n{s!r}\n!=\n{t!r}"
    assert str(s) == repr(s)


def test_repr_with_float64_default_matches_torch():
    svertka.set_default_dtype(svertka.float64)
    try:
        s, t = svertka.tensor([1.5, 2.0]), torch.tensor([1.5, 2.0])  # torch: float64 default
        assert repr(s) == repr(t)
        assert repr(s.float()) == repr(t.float()).replace("torch.", "svertka.")
    finally:
        svertka.set_default_dtype(svertka.float32)
