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
    ("topk_noncontig", lambda x: x.topk(3, 1)[0], lambda x: x.topk(3, 1)[0],
     [noncontig(3, 4)]),
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
