"""Movement ops (reshape/view flatten squeeze unsqueeze permute transpose expand repeat
contiguous flip narrow unbind, cat stack split chunk) against torch, and their errors."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close, compare_with_torch

import svertka


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


MOVES = [
    ("reshape", (2, 3, 4), lambda x: x.reshape(4, 6)),
    ("reshape_tuple", (2, 3, 4), lambda x: x.reshape((6, -1))),
    ("reshape_infer", (2, 3, 4), lambda x: x.reshape(-1)),
    ("reshape_to_0d", (1, 1), lambda x: x.reshape(())),
    ("reshape_empty", (0, 3), lambda x: x.reshape(3, 0, 2)),
    ("view", (2, 3, 4), lambda x: x.view(3, 8)),
    ("view_infer", (2, 3, 4), lambda x: x.view(2, -1)),
    ("view_as", (2, 3, 4), lambda x: x.view_as(x.reshape(4, 6)) * 1),
    ("flatten", (2, 3, 4), lambda x: x.flatten()),
    ("flatten_range", (2, 3, 4, 2), lambda x: x.flatten(1, 2)),
    ("flatten_neg", (2, 3, 4), lambda x: x.flatten(-2)),
    ("flatten_0d", (), lambda x: x.flatten()),
    ("unflatten", (2, 12), lambda x: x.unflatten(1, (3, -1))),
    ("squeeze_all", (1, 3, 1, 4), lambda x: x.squeeze()),
    ("squeeze_dim", (1, 3, 1, 4), lambda x: x.squeeze(2)),
    ("squeeze_non_one", (1, 3, 1, 4), lambda x: x.squeeze(1)),
    ("squeeze_tuple", (1, 3, 1, 4), lambda x: x.squeeze((0, 2))),
    ("unsqueeze0", (3, 4), lambda x: x.unsqueeze(0)),
    ("unsqueeze_last", (3, 4), lambda x: x.unsqueeze(-1)),
    ("unsqueeze_mid", (3, 4), lambda x: x.unsqueeze(1)),
    ("permute", (2, 3, 4), lambda x: x.permute(2, 0, 1)),
    ("permute_tuple_neg", (2, 3, 4), lambda x: x.permute((-1, 1, 0))),
    ("transpose", (2, 3, 4), lambda x: x.transpose(0, 2)),
    ("transpose_neg", (2, 3, 4), lambda x: x.transpose(-1, -2)),
    ("t", (3, 4), lambda x: x.t()),
    ("T", (2, 3, 4), lambda x: x.T if isinstance(x, svertka.Tensor) else x.permute(2, 1, 0)),
    ("mT", (2, 3, 4), lambda x: x.mT),
    ("expand", (3, 1), lambda x: x.expand(3, 4)),
    ("expand_new_dims", (3, 1), lambda x: x.expand(2, 3, 5)),
    ("expand_minus_one", (3, 1), lambda x: x.expand(-1, 4)),
    ("expand_as", (1, 4), lambda x: x.expand_as(x.new_zeros(3, 4)
                                                 if hasattr(x, "new_zeros") else x)),
    ("repeat", (2, 3), lambda x: x.repeat(2, 3)),
    ("repeat_new_dims", (2, 3), lambda x: x.repeat(2, 1, 2)),
    ("repeat_1d", (3,), lambda x: x.repeat(4)),
    ("repeat_zero", (2, 3), lambda x: x.repeat(0, 2)),
    ("contiguous", (3, 4), lambda x: x.T.contiguous()),
    ("flip", (2, 3, 4), lambda x: x.flip(0, 2)),
    ("narrow", (4, 5), lambda x: x.narrow(1, 1, 3)),
    ("clone", (3, 4), lambda x: x.clone()),
]


def _run(fn):
    def f(x):
        out = fn(x)
        return out * 1 if out is x else out
    return f


@pytest.mark.parametrize("name,shape,fn", MOVES, ids=[m[0] for m in MOVES])
def test_movement_grads_match_torch(name, shape, fn):
    if name == "expand_as":
        fn = lambda x: x.expand_as(  # noqa: E731
            (svertka if isinstance(x, svertka.Tensor) else torch).zeros(3, 4))
    compare_with_torch(_run(fn), _run(fn), _rand(shape, 1))


NON_CONTIG = [
    ("reshape", lambda x: x.reshape(-1)),
    ("view_after_contiguous", lambda x: x.contiguous().view(6, 2)),
    ("flatten", lambda x: x.flatten()),
    ("squeeze_unsqueeze", lambda x: x.unsqueeze(0).squeeze(0)),
    ("permute", lambda x: x.permute(1, 0)),
    ("expand", lambda x: x[:, :1].expand(4, 3)),
    ("repeat", lambda x: x.repeat(2, 1)),
    ("flip", lambda x: x.flip(1)),
    ("contiguous", lambda x: x.contiguous()),
    ("cat", lambda x: (svertka if isinstance(x, svertka.Tensor) else torch).cat([x, x * 2], 1)),
]


@pytest.mark.parametrize("name,fn", NON_CONTIG, ids=[m[0] for m in NON_CONTIG])
@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_movement_grads_match_torch_non_contiguous(name, fn, layout):
    if layout == "transposed":
        a, prep = _rand((3, 4), 2), lambda x: x.T                  # (4, 3)
    else:
        a, prep = _rand((8, 7), 3), lambda x: x[::2, 1::2]          # (4, 3)
    compare_with_torch(lambda x: fn(prep(x)), lambda x: fn(prep(x)), a)


def test_contiguous_returns_self_when_contiguous_and_copy_otherwise():
    x = svertka.ones(3, 4)
    assert x.contiguous() is x and x.is_contiguous()
    y = x.T
    assert not y.is_contiguous() and y.contiguous().is_contiguous()


def test_reshape_of_contiguous_shares_memory_like_a_view():
    x = svertka.zeros(2, 3)
    y = x.view(6)
    y[0] = 5.0
    assert x[0, 0].item() == 5.0


def test_movement_float32_keeps_dtype():
    x = svertka.ones(2, 3, dtype=svertka.float32)
    for y in (x.reshape(6), x.T, x.expand(4, 2, 3), x.repeat(2, 1), x.unsqueeze(0), x.flip(0),
              svertka.cat([x, x]), svertka.stack([x, x])):
        assert y.dtype == svertka.float32


# ---------------------------------------------------------------------- cat / stack
CAT = [
    ("dim0", [(2, 3), (4, 3)], 0),
    ("dim1", [(2, 3), (2, 1), (2, 2)], 1),
    ("neg", [(2, 3, 1), (2, 3, 2)], -1),
    ("single", [(2, 3)], 0),
    ("empty_piece", [(0, 3), (2, 3)], 0),
]


@pytest.mark.parametrize("kid,shapes,dim", CAT, ids=[c[0] for c in CAT])
def test_cat_grads_match_torch(kid, shapes, dim):
    arrays = [_rand(s, i) for i, s in enumerate(shapes)]
    compare_with_torch(lambda *x: svertka.cat(list(x), dim), lambda *x: torch.cat(list(x), dim),
                       *arrays)


STACK = [("dim0", (2, 3), 0, 3), ("dim1", (2, 3), 1, 2), ("last", (2, 3), 2, 2),
         ("neg", (2, 3), -1, 4), ("1d", (4,), 0, 1)]


@pytest.mark.parametrize("kid,shape,dim,n", STACK, ids=[c[0] for c in STACK])
def test_stack_grads_match_torch(kid, shape, dim, n):
    arrays = [_rand(shape, i) for i in range(n)]
    compare_with_torch(lambda *x: svertka.stack(x, dim), lambda *x: torch.stack(x, dim),
                       *arrays)


def test_cat_promotes_dtypes_like_torch():
    s = svertka.cat([svertka.tensor([1, 2]), svertka.tensor([1.5])])
    t = torch.cat([torch.tensor([1, 2]), torch.tensor([1.5], dtype=torch.float32)])
    assert s.dtype == svertka.float32 and str(t.dtype) == "torch.float32"
    assert_close(s, t)


def test_cat_grads_match_torch_non_contiguous():
    a, b = _rand((3, 4), 5), _rand((4, 6), 6)
    compare_with_torch(lambda x, y: svertka.cat([x.T, y[:, ::2]], 1),
                       lambda x, y: torch.cat([x.T, y[:, ::2]], 1), a, b)


# ---------------------------------------------------------------------- split / chunk / unbind
SPLIT = [
    ("even", (6, 2), 2, 0),
    ("uneven", (7, 2), 3, 0),
    ("sizes", (6, 2), [1, 3, 2], 0),
    ("dim1", (2, 5), 2, 1),
    ("bigger_than_dim", (3, 2), 5, 0),
    ("neg_dim", (2, 4), [3, 1], -1),
]


@pytest.mark.parametrize("kid,shape,arg,dim", SPLIT, ids=[c[0] for c in SPLIT])
def test_split_grads_match_torch(kid, shape, arg, dim):
    def f(lib):
        def g(x):
            parts = lib.split(x, arg, dim)
            assert isinstance(parts, tuple)
            return lib.cat([p * (i + 1) for i, p in enumerate(parts)], dim)
        return g
    compare_with_torch(f(svertka), f(torch), _rand(shape, 7))
    s = [p.shape for p in svertka.split(svertka.zeros(*shape), arg, dim)]
    t = [tuple(p.shape) for p in torch.split(torch.zeros(*shape), arg, dim)]
    assert s == t


CHUNK = [("even", (6,), 3, 0), ("uneven", (7,), 3, 0), ("fewer", (5,), 4, 0),
         ("more_than_size", (2, 3), 5, 1), ("one", (4, 2), 1, 0)]


@pytest.mark.parametrize("kid,shape,chunks,dim", CHUNK, ids=[c[0] for c in CHUNK])
def test_chunk_matches_torch(kid, shape, chunks, dim):
    s = [tuple(p.shape) for p in svertka.chunk(svertka.zeros(*shape), chunks, dim)]
    t = [tuple(p.shape) for p in torch.chunk(torch.zeros(*shape), chunks, dim)]
    assert s == t

    def f(lib):
        return lambda x: lib.cat([p.exp() for p in x.chunk(chunks, dim)], dim)
    compare_with_torch(f(svertka), f(torch), _rand(shape, 8))


def test_unbind_grads_match_torch():
    def f(lib):
        return lambda x: lib.stack([p * (i + 1) for i, p in enumerate(x.unbind(1))], 0)
    compare_with_torch(f(svertka), f(torch), _rand((3, 4), 9))


# ---------------------------------------------------------------------- errors
ERRORS = [
    ("reshape", lambda x: x.reshape(3, 5),
     r"reshape: shape '\[3, 5\]' is invalid for input of size 12"),
    ("reshape_infer", lambda x: x.reshape(5, -1),
     r"reshape: shape '\[5, -1\]' is invalid for input of size 12"),
    ("reshape_two_infer", lambda x: x.reshape(-1, -1),
     r"reshape: only one dimension can be inferred, got shape \[-1, -1\]"),
    ("reshape_negative", lambda x: x.reshape(-2, -6),
     r"reshape: invalid shape dimension -2 at index 0, got shape \[-2, -6\]"),
    ("view", lambda x: x.view(5, 2), r"view: shape '\[5, 2\]' is invalid for input of size 12"),
    ("expand", lambda x: x.expand(3, 5),
     r"expand: the expanded size of the tensor \(5\) must match the existing size \(4\) at "
     r"non-singleton dimension 1"),
    ("expand_fewer", lambda x: x.expand(4), r"expand: the number of sizes provided \(1\)"),
    ("permute_repeat", lambda x: x.permute(0, 0), r"permute: repeated dim in dims=\(0, 0\)"),
    ("permute_count", lambda x: x.permute(0), r"permute: number of dims don't match"),
    ("permute_range", lambda x: x.permute(0, 2), r"permute: dim out of range .*got dim=2"),
    ("transpose", lambda x: x.transpose(0, 2), r"transpose: dim out of range"),
    ("squeeze", lambda x: x.squeeze(5), r"squeeze: dim out of range"),
    ("unsqueeze", lambda x: x.unsqueeze(4), r"unsqueeze: dim out of range"),
    ("flatten", lambda x: x.flatten(1, 0), r"flatten: start_dim cannot come after end_dim"),
    ("repeat", lambda x: x.repeat(2), r"repeat: number of repeat dims \(1\)"),
    ("t", lambda x: x.reshape(2, 2, 3).t(), r"t: expects a tensor with <= 2 dimensions"),
    ("unflatten", lambda x: x.unflatten(1, (3, 2)), r"unflatten: provided sizes \[3, 2\]"),
    ("cat", lambda x: svertka.cat([x, svertka.ones(2, 5)]),
     r"cat: sizes of tensors must match except in dimension 0: expected \[3, 4\] \(except "
     r"dim 0\) but got \[2, 5\] for tensor number 1"),
    ("cat_ndim", lambda x: svertka.cat([x, svertka.ones(4)]), r"cat: sizes of tensors must"),
    ("cat_dim", lambda x: svertka.cat([x, x], 2), r"cat: dim out of range"),
    ("cat_empty", lambda x: svertka.cat([]), r"cat: expected a non-empty list of Tensors"),
    ("stack", lambda x: svertka.stack([x, x.T]),
     r"stack: stack expects each tensor to be equal size, but got \[3, 4\] at entry 0 and "
     r"\[4, 3\] at entry 1"),
    ("split", lambda x: x.split([1, 1]), r"split: split_sizes \[1, 1\] must sum"),
    ("split_zero", lambda x: x.split(0), r"split: split_size must be positive"),
    ("chunk", lambda x: x.chunk(0), r"chunk: chunks must be a positive int"),
]


@pytest.mark.parametrize("kid,call,msg", ERRORS, ids=[e[0] for e in ERRORS])
def test_movement_rejects_bad_arguments(kid, call, msg):
    with pytest.raises(ValueError, match=msg):
        call(svertka.ones(3, 4))


TYPE_ERRORS = [
    ("reshape_float", lambda x: x.reshape(2.5, 4), r"reshape: shape must be ints"),
    ("cat_tensor", lambda x: svertka.cat(x), r"cat: expected a sequence of Tensors"),
    ("cat_element", lambda x: svertka.cat([x, 1.0]), r"cat: expected Tensor as element 1"),
    ("permute_float", lambda x: x.permute(0.0, 1), r"permute: shape must be ints"),
]


@pytest.mark.parametrize("kid,call,msg", TYPE_ERRORS, ids=[e[0] for e in TYPE_ERRORS])
def test_movement_rejects_bad_types(kid, call, msg):
    with pytest.raises(TypeError, match=msg):
        call(svertka.ones(3, 4))
