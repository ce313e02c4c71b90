"""topk, sort, gather, scatter, index_select, cumsum/cumprod, tril/triu, mm/bmm/dot/outer,
einsum, log1p/expm1/erf/atan2, in-place unary ops, unique, bincount, meshgrid and the random
draws, compared with torch 2.13 in float64 (forward and every input's gradient)."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close, compare_with_torch

import svertka

_rng = np.random.default_rng(7)


def rnd(*shape):
    return _rng.standard_normal(shape)


def distinct(*shape):
    """Values without ties (so that index results are unique)."""
    n = int(np.prod(shape))
    return (_rng.permutation(n) + _rng.random(n) * 0.5).reshape(shape) / n


def noncontig(*shape):
    """A non-contiguous array of the given shape (a transposed one)."""
    return distinct(*reversed(shape)).T


def idx(a):
    return np.asarray(a, dtype=np.int64)


# (id, svertka fn, torch fn, arrays); ints in arrays are constants
CASES = [
    ("topk_last", lambda x: x.topk(2)[0], lambda x: x.topk(2)[0], [distinct(3, 5)]),
    ("topk_dim0_smallest", lambda x: x.topk(2, dim=0, largest=False).values,
     lambda x: x.topk(2, dim=0, largest=False).values, [distinct(4, 3)]),
    ("topk_neg_dim_3d", lambda x: x.topk(1, dim=-2)[0], lambda x: x.topk(1, dim=-2)[0],
     [distinct(2, 3, 4)]),
    ("topk_k0", lambda x: svertka.topk(x, 0)[0], lambda x: torch.topk(x, 0)[0],
     [distinct(2, 3)]),
    ("topk_small_k_grad", lambda x: x.topk(2, 1)[0], lambda x: x.topk(2, 1)[0],
     [noncontig(3, 11)]),
    ("topk_noncontig", lambda x: x.topk(3, 1)[0], lambda x: x.topk(3, 1)[0],
     [noncontig(3, 4)]),
    ("sort_0d", lambda x: x.sort()[0], lambda x: x.sort()[0], [np.array(1.5)]),
    ("sort_empty", lambda x: x.sort(0)[0], lambda x: x.sort(0)[0], [np.zeros((0, 3))]),
    ("topk_empty_rows", lambda x: x.topk(0, 1)[0], lambda x: x.topk(0, 1)[0],
     [np.zeros((2, 0))]),
    ("cumsum_0d", lambda x: x.cumsum(0), lambda x: x.cumsum(0), [np.array(1.5)]),
    ("cumprod_0d", lambda x: x.cumprod(-1), lambda x: x.cumprod(-1), [np.array(1.5)]),
    ("index_select_0d_input", lambda x, i: x.index_select(0, i),
     lambda x, i: x.index_select(0, i), [np.array(1.5), idx([0])]),
    ("sort_asc", lambda x: x.sort()[0], lambda x: x.sort()[0], [distinct(3, 4)]),
    ("sort_desc_dim0", lambda x: x.sort(0, descending=True).values,
     lambda x: x.sort(0, descending=True).values, [distinct(4, 3)]),
    ("sort_ties_values", lambda x: svertka.sort(x, -1)[0], lambda x: torch.sort(x, -1)[0],
     [np.array([[1.0, 2.0, 1.0, 0.5], [3.0, 3.0, 3.0, -1.0]])]),
    ("sort_1d", lambda x: x.sort(descending=True)[0], lambda x: x.sort(descending=True)[0],
     [distinct(6)]),
    ("gather_dim1", lambda x, i: x.gather(1, i), lambda x, i: x.gather(1, i),
     [rnd(3, 4), idx([[0, 0, 3], [1, 2, 1], [3, 3, 3]])]),
    ("gather_dim0_smaller", lambda x, i: svertka.gather(x, 0, i),
     lambda x, i: torch.gather(x, 0, i), [rnd(3, 4), idx([[2, 0], [0, 0]])]),
    ("gather_neg_dim_3d", lambda x, i: x.gather(-1, i), lambda x, i: x.gather(-1, i),
     [noncontig(2, 3, 4), idx(_rng.integers(0, 4, (2, 3, 5)))]),
    ("scatter_dim1", lambda x, i, s: x.scatter(1, i, s), lambda x, i, s: x.scatter(1, i, s),
     [rnd(3, 4), idx([[0, 2], [3, 1], [1, 0]]), rnd(3, 2)]),
    ("scatter_dim0", lambda x, i, s: x.scatter(0, i, s), lambda x, i, s: x.scatter(0, i, s),
     [rnd(3, 4), idx([[0, 1, 2, 0], [2, 0, 1, 1]]), rnd(2, 4)]),
    ("scatter_value", lambda x, i: x.scatter(1, i, 2.5), lambda x, i: x.scatter(1, i, 2.5),
     [rnd(2, 4), idx([[0, 3], [2, 1]])]),
    ("scatter_reduce_add", lambda x, i, s: x.scatter(1, i, s, reduce="add"),
     lambda x, i, s: x.scatter_add(1, i, s),  # torch has no gradient for reduce='add'
     [rnd(2, 4), idx([[0, 0], [3, 3]]), rnd(2, 2)]),
    ("scatter_inplace", lambda x, i, s: (x * 1).scatter_(1, i, s),
     lambda x, i, s: (x * 1).scatter_(1, i, s), [rnd(2, 4), idx([[0, 2], [3, 1]]), rnd(2, 2)]),
    ("scatter_add_inplace", lambda x, i, s: (x * 1).scatter_add_(0, i, s),
     lambda x, i, s: (x * 1).scatter_add_(0, i, s),
     [rnd(2, 4), idx([[0, 1, 1, 0], [0, 0, 1, 1]]), rnd(2, 4)]),
    ("scatter_add_dup", lambda x, i, s: x.scatter_add(1, i, s),
     lambda x, i, s: x.scatter_add(1, i, s),
     [rnd(3, 4), idx([[0, 0, 2], [3, 3, 3], [1, 0, 1]]), rnd(3, 3)]),
    ("scatter_add_neg_dim", lambda x, i, s: svertka.scatter_add(x, -2, i, s),
     lambda x, i, s: torch.scatter_add(x, -2, i, s),
     [noncontig(3, 4), idx(_rng.integers(0, 3, (5, 4))), rnd(5, 4)]),
    ("index_select_dim0", lambda x, i: x.index_select(0, i), lambda x, i: x.index_select(0, i),
     [rnd(4, 3), idx([3, 0, 3, 1])]),
    ("index_select_neg_dim", lambda x, i: svertka.index_select(x, -1, i),
     lambda x, i: torch.index_select(x, -1, i), [noncontig(2, 3, 4), idx([1, 1, 2])]),
    ("index_select_0d_index", lambda x, i: x.index_select(1, i),
     lambda x, i: x.index_select(1, i), [rnd(2, 3), idx(2)]),
    ("cumsum_dim1", lambda x: x.cumsum(1), lambda x: x.cumsum(1), [rnd(3, 4)]),
    ("cumsum_neg_dim", lambda x: svertka.cumsum(x, -3), lambda x: torch.cumsum(x, -3),
     [noncontig(3, 2, 4)]),
    ("cumprod_dim1", lambda x: x.cumprod(1), lambda x: x.cumprod(1), [rnd(3, 5)]),
    ("cumprod_zeros", lambda x: x.cumprod(-1), lambda x: x.cumprod(-1),
     [np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 2.0], [2.0, -0.5, 1.5, 0.0],
                [0.7, 1.1, -2.0, 1.3]])]),
    ("cumprod_dim0_noncontig", lambda x: svertka.cumprod(x, 0), lambda x: torch.cumprod(x, 0),
     [noncontig(4, 3)]),
    ("tril", lambda x: x.tril(), lambda x: x.tril(), [rnd(4, 5)]),
    ("tril_diag_neg", lambda x: svertka.tril(x, -1), lambda x: torch.tril(x, -1),
     [rnd(2, 3, 3)]),
    ("triu_diag1", lambda x: x.triu(1), lambda x: x.triu(1), [noncontig(5, 4)]),
    ("mm", lambda a, b: a.mm(b), lambda a, b: a.mm(b), [rnd(3, 4), noncontig(4, 2)]),
    ("bmm", lambda a, b: svertka.bmm(a, b), lambda a, b: torch.bmm(a, b),
     [rnd(2, 3, 4), rnd(2, 4, 5)]),
    ("dot", lambda a, b: a.dot(b), lambda a, b: a.dot(b), [rnd(5), rnd(5)]),
    ("outer", lambda a, b: svertka.outer(a, b), lambda a, b: torch.outer(a, b),
     [rnd(3), rnd(4)]),
    ("einsum_matmul", lambda a, b: svertka.einsum("ij,jk->ik", a, b),
     lambda a, b: torch.einsum("ij,jk->ik", a, b), [rnd(2, 3), rnd(3, 4)]),
    ("einsum_implicit", lambda a, b: svertka.einsum("ij,jk", a, b),
     lambda a, b: torch.einsum("ij,jk", a, b), [rnd(2, 3), rnd(3, 4)]),
    ("einsum_batch_transposed", lambda a, b: svertka.einsum("bij,bkj->bki", a, b),
     lambda a, b: torch.einsum("bij,bkj->bki", a, b), [rnd(2, 3, 4), noncontig(2, 5, 4)]),
    ("einsum_trace", lambda a: svertka.einsum("ii", a), lambda a: torch.einsum("ii", a),
     [rnd(4, 4)]),
    ("einsum_diag", lambda a: svertka.einsum("ii->i", a), lambda a: torch.einsum("ii->i", a),
     [rnd(3, 3)]),
    ("einsum_rowsum_only_here", lambda a, b: svertka.einsum("ij,k->ik", a, b),
     lambda a, b: torch.einsum("ij,k->ik", a, b), [rnd(2, 3), rnd(4)]),
    ("einsum_three_operands", lambda a, b, c: svertka.einsum("ij,jk,kl->il", a, b, c),
     lambda a, b, c: torch.einsum("ij,jk,kl->il", a, b, c), [rnd(2, 3), rnd(3, 4), rnd(4, 2)]),
    ("einsum_list_operands", lambda a, b: svertka.einsum("i,i->", [a, b]),
     lambda a, b: torch.einsum("i,i->", [a, b]), [rnd(4), rnd(4)]),
    ("einsum_diag_summed_alone", lambda a: svertka.einsum("iij->j", a),
     lambda a: torch.einsum("iij->j", a), [rnd(3, 3, 2)]),
    ("einsum_frobenius", lambda a, b: svertka.einsum("ij,ij->", a, b),
     lambda a, b: torch.einsum("ij,ij->", a, b), [rnd(2, 3), noncontig(2, 3)]),
    ("einsum_batch_outer", lambda a, b: svertka.einsum("bi,bj->bij", a, b),
     lambda a, b: torch.einsum("bi,bj->bij", a, b), [rnd(2, 3), rnd(2, 4)]),
    ("einsum_diag_times_vector", lambda a, b: svertka.einsum("ii,i->i", a, b),
     lambda a, b: torch.einsum("ii,i->i", a, b), [rnd(3, 3), rnd(3)]),
    ("einsum_scalar_operand", lambda a, b: svertka.einsum("i,->i", a, b),
     lambda a, b: torch.einsum("i,->i", a, b), [rnd(3), np.array(2.5)]),
    ("gather_0d", lambda x, i: x.gather(0, i), lambda x, i: x.gather(0, i),
     [np.array(1.5), idx(0)]),
    ("gather_1d", lambda x, i: x.gather(0, i), lambda x, i: x.gather(0, i),
     [rnd(4), idx([3, 3, 0, 1, 2])]),
    ("scatter_add_1d", lambda x, i, s: x.scatter_add(0, i, s),
     lambda x, i, s: x.scatter_add(0, i, s), [rnd(3), idx([2, 2, 0, 2]), rnd(4)]),
    ("einsum_transpose", lambda a: svertka.einsum("abc->cab", a),
     lambda a: torch.einsum("abc->cab", a), [rnd(2, 3, 4)]),
    ("log1p", lambda x: x.log1p(), lambda x: x.log1p(), [np.abs(rnd(3, 4))]),
    ("expm1", lambda x: svertka.expm1(x), lambda x: torch.expm1(x), [rnd(3, 4)]),
    ("erf", lambda x: x.erf(), lambda x: x.erf(), [rnd(3, 4) * 2]),
    ("atan2", lambda a, b: a.atan2(b), lambda a, b: a.atan2(b), [rnd(3, 4), rnd(3, 4)]),
    ("atan2_broadcast", lambda a, b: svertka.atan2(a, b), lambda a, b: torch.atan2(a, b),
     [rnd(3, 1), noncontig(2, 3, 4)]),
    ("meshgrid_ij", lambda a, b: svertka.meshgrid(a, b)[0] * svertka.meshgrid(a, b)[1] ** 2,
     lambda a, b: torch.meshgrid(a, b, indexing="ij")[0] * torch.meshgrid(
         a, b, indexing="ij")[1] ** 2, [rnd(3), rnd(4)]),
    ("meshgrid_xy", lambda a, b: svertka.meshgrid(a, b, indexing="xy")[0] - svertka.meshgrid(
        a, b, indexing="xy")[1] ** 3, lambda a, b: torch.meshgrid(a, b, indexing="xy")[0]
     - torch.meshgrid(a, b, indexing="xy")[1] ** 3, [rnd(3), rnd(4)]),
    ("masked_fill_", lambda x, m: (x * 1).masked_fill_(m, 0.5),
     lambda x, m: (x * 1).masked_fill_(m, 0.5), [rnd(3, 4), rnd(3, 4) > 0]),
]
for _name in ("abs", "exp", "log", "sqrt", "neg", "sigmoid", "tanh", "relu"):
    CASES.append((f"{_name}_inplace", lambda x, n=_name: getattr(x * 1, n + "_")(),
                  lambda x, n=_name: getattr(x * 1, n + "_")(), [np.abs(rnd(3, 4)) + 0.1
                  if _name in ("log", "sqrt") else rnd(3, 4)]))


@pytest.mark.parametrize("sv_fn, th_fn, arrays", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_more_ops_match_torch_float64(sv_fn, th_fn, arrays):
    compare_with_torch(sv_fn, th_fn, *arrays)


_X32 = distinct(3, 4).astype(np.float32)
_I = idx([[0, 1], [3, 3], [2, 0]])
F32 = {
    "topk": lambda m, t: t(_X32).topk(2)[0],
    "sort": lambda m, t: t(_X32).sort(0)[0],
    "cumsum": lambda m, t: t(_X32).cumsum(1),
    "cumprod": lambda m, t: t(_X32).cumprod(1),
    "einsum": lambda m, t: m.einsum("ij,kj->ik", t(_X32), t(_X32)),
    "erf": lambda m, t: m.erf(t(_X32)),
    "atan2": lambda m, t: m.atan2(t(_X32), t(_X32 + 1)),
    "gather": lambda m, t: m.gather(t(_X32), 1, t(_I)),
    "scatter_add": lambda m, t: m.scatter_add(t(_X32), 1, t(_I), t(_X32[:, :2].copy())),
}


@pytest.mark.parametrize("name", list(F32))
def test_more_ops_float32_forward(name):
    out, ref = F32[name](svertka, svertka.tensor), F32[name](torch, torch.tensor)
    assert out.dtype == svertka.float32
    assert_close(out, ref, rtol=1e-4)


INDEX_RESULTS = [
    ("topk_indices", lambda m, x: m.topk(x, 2, dim=1)[1], distinct(3, 5)),
    ("topk_small_k_largest", lambda m, x: m.topk(x, 3, dim=0)[1], distinct(20, 3)),
    ("topk_small_k_smallest", lambda m, x: m.topk(x, 2, dim=-1, largest=False)[1],
     distinct(3, 4, 17)),
    ("topk_small_k_nan", lambda m, x: m.topk(x, 2)[1],
     np.array([1.0, 5.0, np.nan, 2.0, np.inf, 0.0, 3.0, 4.0, 6.0])),
    ("topk_small_k_ties_values", lambda m, x: m.topk(x, 2)[0],
     np.array([1.0, 3.0, 3.0, 3.0, 0.0, 2.0, 3.0, 1.0, 0.0])),
    ("topk_smallest_indices", lambda m, x: m.topk(x, 3, 0, largest=False).indices,
     distinct(4, 3)),
    ("sort_indices_desc", lambda m, x: m.sort(x, -1, descending=True)[1], distinct(2, 3, 4)),
    ("argsort", lambda m, x: m.argsort(x, 0), distinct(4, 3)),
    ("argsort_desc_noncontig", lambda m, x: m.argsort(x, -1, descending=True),
     noncontig(3, 4)),
    ("sort_ties_stable", lambda m, x: m.sort(x, stable=True)[1],
     np.array([2.0, 1.0, 2.0, 1.0, 0.0])),
    ("sort_ties_stable_desc", lambda m, x: m.sort(x, descending=True, stable=True)[1],
     np.array([2.0, 1.0, 2.0, 1.0, 0.0])),
    ("sort_nan_desc", lambda m, x: m.sort(x, descending=True)[1],
     np.array([1.0, np.nan, -np.inf, np.inf, 0.0])),
    ("sort_nan_asc", lambda m, x: m.sort(x)[1], np.array([1.0, np.nan, -np.inf, np.inf, 0.0])),
    ("topk_nan", lambda m, x: m.topk(x, 2)[1], np.array([1.0, np.nan, -np.inf, np.inf, 0.0])),
    ("sort_bool_desc", lambda m, x: m.sort(x > 0, descending=True, stable=True)[1],
     np.array([1.0, -1.0, 2.0, -3.0])),
    ("sort_int", lambda m, x: m.sort(x.long() if hasattr(x, "long") else x, 0)[0],
     np.array([3.0, -1.0, 2.0])),
    ("nonzero", lambda m, x: m.nonzero(x > 0), rnd(3, 4)),
    ("nonzero_as_tuple", lambda m, x: m.nonzero(x > 0, as_tuple=True)[1], rnd(3, 4)),
    ("unique", lambda m, x: m.unique(m.round(x)), rnd(20)),
    ("unique_inverse", lambda m, x: m.unique(m.round(x), return_inverse=True)[1], rnd(4, 5)),
    ("unique_counts", lambda m, x: m.unique(m.round(x), return_counts=True)[1], rnd(4, 5)),
    ("unique_dim0", lambda m, x: m.unique(m.round(x), dim=0, return_inverse=True,
                                          return_counts=True)[0], np.array(
        [[1.0, 2.0], [0.0, 1.0], [1.0, 2.0]])),
    ("unique_dim0_inverse", lambda m, x: m.unique(m.round(x), dim=0, return_inverse=True)[1],
     np.array([[1.0, 2.0], [0.0, 1.0], [1.0, 2.0]])),
    ("bincount", lambda m, x: m.bincount((x * 4).long()), np.array([0.0, 0.75, 0.75, 0.25])),
    ("bincount_weights_minlength", lambda m, x: m.bincount(
        (m.tensor([1, 1, 2])), weights=x, minlength=5), rnd(3)),
    ("isclose", lambda m, x: m.isclose(x, x + 1e-9), rnd(3, 4)),
    ("isclose_nan", lambda m, x: m.isclose(x, x, equal_nan=True), np.array([1.0, np.nan])),
    ("isclose_nan_unequal", lambda m, x: m.isclose(x, x), np.array([1.0, np.nan])),
]


@pytest.mark.parametrize("fn, a", [c[1:] for c in INDEX_RESULTS],
                         ids=[c[0] for c in INDEX_RESULTS])
def test_more_ops_integer_results_match_torch(fn, a):
    out = fn(svertka, svertka.tensor(a))
    ref = fn(torch, torch.tensor(a))
    assert out.dtype == svertka.int64 or out.dtype == svertka.bool or ref.is_floating_point()
    assert_close(out, ref)


def test_new_factories_keep_dtype():
    x = svertka.zeros(2, dtype=svertka.float32)
    assert x.new_zeros(2, 3).shape == (2, 3) and x.new_zeros(2, 3).dtype == svertka.float32
    assert x.new_ones((3,)).tolist() == [1.0, 1.0, 1.0]
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert x.new_full((2,), 7).dtype == svertka.float32
    assert x.new_empty(4).shape == (4,)
    t = x.new_tensor([1, 2])
    assert t.dtype == svertka.float32 and t.tolist() == [1.0, 2.0]
    assert x.new_zeros(2, dtype=svertka.int64).dtype == svertka.int64
    assert x.new_ones(2, requires_grad=True).requires_grad


def test_inplace_unary_on_leaf_requiring_grad_raises():
    x = svertka.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="exp_: a leaf tensor"):
        x.exp_()
    with svertka.no_grad():
        x.exp_()
    assert_close(x.detach(), np.full(2, np.e))


def test_scatter_inplace_one_hot_idiom():
    labels = svertka.tensor([2, 0, 1])
    out = svertka.zeros(3, 4).scatter_(1, labels[:, None], 1.0)
    ref = torch.zeros(3, 4).scatter_(1, torch.tensor([2, 0, 1])[:, None], 1.0)
    assert_close(out, ref)


def test_inplace_unary_keeps_memory_and_bumps_version():
    x = svertka.tensor([-1.0, 2.0])
    data, v = x.numpy(), x._version_number
    assert x.relu_() is x
    assert x.numpy() is data and x.tolist() == [0.0, 2.0] and x._version_number > v


def test_masked_fill_inplace_gradient_matches_torch():
    a, m = rnd(2, 3), rnd(2, 3) > 0
    compare_with_torch(lambda x: (x * 2).masked_fill_(svertka.tensor(m), -1.0),
                       lambda x: (x * 2).masked_fill_(torch.tensor(m), -1.0), a)


def test_cumprod_backward_many_zeros_is_finite():
    a = np.array([[0.0, 0.0, 2.0], [1.0, 0.0, 0.0], [0.0, 3.0, 4.0]])
    with np.errstate(all="raise"):
        compare_with_torch(lambda x: x.cumprod(1), lambda x: x.cumprod(1), a)


def test_cumsum_int_becomes_int64():
    out = svertka.tensor([1, 2, 3], dtype=svertka.int32).cumsum(0)
    assert out.dtype == svertka.int64 and out.tolist() == [1, 3, 6]


def test_normal_bernoulli_multinomial_distributions():
    svertka.manual_seed(1)
    z = svertka.normal(2.0, 3.0, size=(20000,))
    assert z.dtype == svertka.get_default_dtype()
    assert abs(z.mean().item() - 2.0) < 0.1 and abs(z.std().item() - 3.0) < 0.1
    m = svertka.normal(svertka.tensor([0.0, 100.0]), svertka.tensor([1.0, 1.0]))
    assert m.shape == (2,) and m[1].item() > 90
    p = svertka.full((20000,), 0.3)
    b = svertka.bernoulli(p)
    assert set(np.unique(b.numpy())) <= {0.0, 1.0} and abs(b.mean().item() - 0.3) < 0.02
    w = svertka.tensor([[0.1, 0.0, 0.9], [1.0, 1.0, 2.0]])
    s = svertka.multinomial(w, 4000, replacement=True)
    assert s.shape == (2, 4000) and s.dtype == svertka.int64
    assert not (s[0] == 1).any()
    freq = np.bincount(s.numpy()[1], minlength=3) / 4000
    assert np.allclose(freq, [0.25, 0.25, 0.5], atol=0.03)
    n = w[1].multinomial(3)
    assert sorted(n.tolist()) == [0, 1, 2]
    firsts = svertka.multinomial(svertka.tensor([1.0, 3.0]).expand(3000, 2), 1)
    assert abs(firsts.float().mean().item() - 0.75) < 0.03


def _t(*shape):
    return svertka.zeros(*shape)


I2 = svertka.tensor([[0, 1]])
ERRORS = [
    ("gather_ndim", lambda: _t(2, 3).gather(1, svertka.zeros(1, 1, 1).long()), ValueError,
     "gather: index has 3 dimensions, input has 2"),
    ("gather_out_of_range", lambda: _t(2, 3).gather(1, svertka.tensor([[3]])), ValueError,
     "gather: index 3 is out of bounds for dimension 1 with size 3"),
    ("gather_negative_index", lambda: _t(2, 3).gather(0, svertka.tensor([[-1]])), ValueError,
     "index -1 is out of bounds"),
    ("gather_index_too_big", lambda: _t(2, 3).gather(1, svertka.zeros(3, 1).long()),
     ValueError, r"index \(3, 1\) is larger than input \(2, 3\) in dimension 0"),
    ("gather_float_index", lambda: _t(2, 3).gather(1, _t(2, 3)), TypeError,
     "index must be an integer tensor"),
    ("gather_bad_dim", lambda: _t(2, 3).gather(2, I2), ValueError, "dim out of range"),
    ("scatter_src_ndim", lambda: _t(2, 3).scatter(1, I2, _t(2)), ValueError,
     "scatter: index has 2 dimensions, src has 1"),
    ("scatter_src_small", lambda: _t(2, 3).scatter(1, I2, _t(1, 1)), ValueError,
     r"larger than src"),
    ("scatter_reduce_multiply", lambda: _t(2, 3).scatter(1, I2, 1.0, reduce="multiply"),
     ValueError, "reduce must be None or 'add'"),
    ("scatter_add_number", lambda: _t(2, 3).scatter_add(1, I2, 1.0), TypeError,
     "src must be a Tensor"),
    ("scatter_add_range", lambda: _t(2, 3).scatter_add(0, svertka.tensor([[2]]), _t(1, 1)),
     ValueError, "scatter_add: index 2 is out of bounds for dimension 0 with size 2"),
    ("index_select_2d", lambda: _t(3).index_select(0, I2), ValueError, "0-D or 1-D"),
    ("index_select_range", lambda: _t(3, 2).index_select(0, svertka.tensor([3])), ValueError,
     "index 3 is out of bounds for dimension 0 with size 3"),
    ("index_select_not_tensor", lambda: _t(3).index_select(0, [0]), TypeError,
     "index must be a Tensor"),
    ("topk_k_too_big", lambda: _t(2, 3).topk(4), ValueError, r"k must be an int in \[0, 3\]"),
    ("topk_bad_dim", lambda: _t(2, 3).topk(1, dim=-3), ValueError, "dim out of range"),
    ("sort_bad_dim", lambda: _t(2, 3).sort(2), ValueError, "sort: dim out of range"),
    ("cumsum_bad_dim", lambda: _t(2).cumsum(1), ValueError, "cumsum: dim out of range"),
    ("cumprod_dim_type", lambda: _t(2).cumprod(0.5), TypeError, "dim must be an int"),
    ("tril_1d", lambda: _t(3).tril(), ValueError, "tril: input must have at least 2"),
    ("triu_diag_type", lambda: _t(3, 3).triu(0.5), TypeError, "diagonal must be an int"),
    ("mm_shapes", lambda: _t(2, 3).mm(_t(4, 5)), ValueError,
     r"mm: shapes \(2, 3\) and \(4, 5\) cannot be multiplied \(3 != 4\)"),
    ("mm_3d", lambda: _t(2, 3).mm(_t(1, 3, 5)), ValueError, "mat2 must be a 2-D tensor"),
    ("bmm_batch", lambda: _t(2, 3, 4).bmm(_t(3, 4, 5)), ValueError,
     r"bmm: batch sizes of shapes \(2, 3, 4\) and \(3, 4, 5\) differ"),
    ("bmm_inner", lambda: _t(2, 3, 4).bmm(_t(2, 3, 5)), ValueError, r"\(4 != 3\)"),
    ("dot_sizes", lambda: _t(3).dot(_t(4)), ValueError, "dot: inconsistent tensor size"),
    ("dot_2d", lambda: _t(3, 1).dot(_t(3)), ValueError, "input must be a 1-D tensor"),
    ("outer_2d", lambda: _t(3).outer(_t(3, 1)), ValueError, "outer: other must be a 1-D"),
    ("einsum_ellipsis", lambda: svertka.einsum("...ij->...ji", _t(2, 3)), ValueError,
     r"einsum: ellipsis \('...'\) in the equation is not supported"),
    ("einsum_operand_count", lambda: svertka.einsum("ij,jk->ik", _t(2, 3)), ValueError,
     "the equation has 2 operand"),
    ("einsum_ndim", lambda: svertka.einsum("ijk->i", _t(2, 3)), ValueError,
     "operand 0 has 2 dimensions but the equation gives it 3"),
    ("einsum_sizes", lambda: svertka.einsum("ij,jk->ik", _t(2, 3), _t(4, 5)), ValueError,
     "subscript 'j' has size 4 for operand 1"),
    ("einsum_output_letter", lambda: svertka.einsum("ij->k", _t(2, 3)), ValueError,
     "output subscript 'k' does not appear"),
    ("einsum_not_tensor", lambda: svertka.einsum("i->i", [1.0]), TypeError,
     "operand 0 must be a Tensor"),
    ("meshgrid_indexing", lambda: svertka.meshgrid(_t(2), indexing="ab"), ValueError,
     "indexing must be one of"),
    ("meshgrid_2d", lambda: svertka.meshgrid(_t(2, 2)), ValueError, "0-D or 1-D"),
    ("unique_bad_dim", lambda: _t(2).unique(dim=1), ValueError, "unique: dim out of range"),
    ("bincount_negative", lambda: svertka.tensor([-1, 2]).bincount(), ValueError,
     "non-negative"),
    ("bincount_float", lambda: _t(2).bincount(), ValueError, "1-D tensor of non-negative ints"),
    ("bincount_weights_shape", lambda: svertka.tensor([0, 1]).bincount(_t(3)), ValueError,
     "weights must have the shape"),
    ("bernoulli_range", lambda: svertka.tensor([1.5]).bernoulli(), ValueError,
     r"probabilities must be in \[0, 1\]"),
    ("multinomial_too_many", lambda: svertka.tensor([1.0, 0.0]).multinomial(2), ValueError,
     "without replacement"),
    ("multinomial_negative", lambda: svertka.tensor([1.0, -1.0]).multinomial(1), ValueError,
     "non-negative"),
    ("multinomial_samples", lambda: svertka.tensor([1.0]).multinomial(0), ValueError,
     "num_samples=0"),
    ("normal_no_size", lambda: svertka.normal(0.0, 1.0), ValueError, "size is required"),
    ("normal_negative_std", lambda: svertka.normal(0.0, -1.0, (2,)), ValueError,
     "std must be non-negative"),
    ("atan2_shapes", lambda: _t(2).atan2(_t(3)), ValueError,
     r"atan2: shapes \(2,\) and \(3,\) do not broadcast"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_more_ops_errors_are_clear(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


_I32 = svertka.tensor([[0, 2], [1, 1], [2, 0]])
FLOAT32_GRADS = {
    "cumprod_zero": lambda x: x.cumprod(1), "cumsum": lambda x: x.cumsum(0),
    "erf": lambda x: x.erf(), "log1p": lambda x: x.log1p(), "expm1": lambda x: x.expm1(),
    "atan2": lambda x: x.atan2(x + 1), "einsum": lambda x: svertka.einsum("ij,kj->ik", x, x),
    "einsum_diag": lambda x: svertka.einsum("ii->i", x), "tril": lambda x: x.tril(),
    "gather": lambda x: x.gather(1, _I32), "scatter": lambda x: x.scatter(1, _I32, x[:, :2]),
    "scatter_add": lambda x: x.scatter_add(1, _I32, x[:, :2]),
    "index_select": lambda x: x.index_select(1, _I32[0]), "topk": lambda x: x.topk(2)[0],
    "sort": lambda x: x.sort(0)[0], "mm": lambda x: x.mm(x.t()),
    "dot": lambda x: x[0].dot(x[1]), "outer": lambda x: x[0].outer(x[1]),
    "meshgrid": lambda x: svertka.meshgrid(x[0], x[1])[0],
}


@pytest.mark.parametrize("name", list(FLOAT32_GRADS))
def test_more_ops_float32_gradient_stays_float32(name):
    x = svertka.tensor([[1.0, 0.0, 2.0], [3.0, 4.0, 0.5], [1.0, 2.0, 3.0]],
                       dtype=svertka.float32, requires_grad=True)
    y = FLOAT32_GRADS[name](x)
    y.backward(svertka.ones(*y.shape, dtype=svertka.float32))
    assert y.dtype == svertka.float32 and x.grad.dtype == svertka.float32
