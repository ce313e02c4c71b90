"""Indexing and slicing against torch: ints, slices, steps, None, Ellipsis, boolean masks and
integer arrays (backward scatter-adds; repeated indices accumulate), index assignment, and
torch's IndexErrors. Includes hypothesis properties over random basic and advanced indices."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests._oracle import assert_close, compare_with_torch

import svertka


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _for(lib, index):
    """The index with its NumPy arrays turned into ``lib``'s tensors."""
    def conv(i):
        if isinstance(i, np.ndarray):
            return svertka.tensor(i) if lib is svertka else torch.from_numpy(i)
        return i
    return tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)


def _check(shape, index, seed=0, layout=None):
    a = _rand(shape, seed)
    prep = layout or (lambda x: x)
    si, ti = _for(svertka, index), _for(torch, index)
    return compare_with_torch(lambda x: prep(x)[si], lambda x: prep(x)[ti], a, seed=seed)


B = np.array
INDICES = [
    ("int", (3, 4), 1),
    ("neg_int", (3, 4), -1),
    ("int_int", (3, 4), (2, -3)),
    ("slice", (5, 4), slice(1, 4)),
    ("slice_step", (7, 4), slice(None, None, 2)),
    ("slice_step_offset", (7, 4), slice(1, 6, 3)),
    ("slice_out_of_range", (3, 4), slice(2, 10)),
    ("slice_empty", (3, 4), slice(2, 1)),
    ("slice_second_dim", (3, 6), (slice(None), slice(1, None, 2))),
    ("int_and_slice", (3, 4, 5), (1, slice(None), slice(0, 4, 2))),
    ("none", (3, 4), (None, slice(None), None)),
    ("none_int", (3, 4), (1, None)),
    ("ellipsis", (2, 3, 4), (Ellipsis, 1)),
    ("ellipsis_middle", (2, 3, 4, 5), (0, Ellipsis, slice(1, 3))),
    ("bool_mask_full", (3, 4), B([[True, False, True, False]] * 2 + [[False] * 4])),
    ("bool_mask_rows", (3, 4), B([True, False, True])),
    ("bool_mask_none", (3, 4), B([False, False, False])),
    ("bool_mask_second_dim", (3, 4), (slice(None), B([True, False, True, True]))),
    ("int_array", (5, 3), B([0, 2, 4])),
    ("int_array_repeated", (5, 3), B([1, 1, 3, 1])),
    ("int_array_negative", (5, 3), B([-1, 0, -5])),
    ("int_array_2d", (5, 3), B([[0, 1], [1, 4]])),
    ("mask_then_slice", (3, 4, 5), (B([True, False, True]), slice(1, 3))),
    ("int_then_mask", (3, 4, 5), (1, B([True, False, True, True]))),
    ("mask_and_int_array", (3, 4, 5), (B([True, False, True]), B([0, 3]))),
    ("int_arrays_around_int", (3, 4, 5), (B([0, 1]), 2, B([1, 1]))),
    ("ellipsis_int_array", (3, 4, 5), (Ellipsis, B([0, 0, 4]))),
    ("none_int_array_none", (3, 4, 5), (None, B([0, 2]), None, slice(None))),
    ("all_same_index", (4,), B([3, 3, 3, 3])),
    ("int_arrays_pair", (4, 5), (B([0, 3, 3]), B([1, 4, 4]))),
    ("int_arrays_broadcast", (4, 5), (B([[0], [2]]), B([1, 3, 1]))),
    ("int_array_second_dim", (4, 5), (slice(None), B([4, 0, 4]))),
    ("int_array_with_int", (4, 5), (2, B([1, 1, 0]))),
    ("int_arrays_split_by_slice", (3, 4, 5), (B([0, 2]), slice(None), B([1, 4]))),
    ("int_array_and_slice_step", (6, 5), (slice(None, None, 2), B([0, 0, 2]))),
    ("list", (5, 3), [4, 1, 1]),
    ("empty_int_array", (5, 3), B([], dtype=np.int64)),
]


@pytest.mark.parametrize("kid,shape,index", INDICES, ids=[i[0] for i in INDICES])
def test_getitem_grads_match_torch(kid, shape, index):
    _check(shape, index)


LAYOUT_INDICES = [
    ("int", 1), ("slice_step", (slice(None), slice(None, None, 2))),
    ("bool_mask", B([True, False, True, True])), ("int_array_repeated", B([2, 2, 0])),
    ("int_arrays", (B([0, 3]), B([1, 1]))),
]


@pytest.mark.parametrize("kid,index", LAYOUT_INDICES, ids=[i[0] for i in LAYOUT_INDICES])
@pytest.mark.parametrize("layout", ["transposed", "strided"])
def test_getitem_grads_match_torch_non_contiguous(kid, index, layout):
    if layout == "transposed":
        _check((3, 4), index, layout=lambda x: x.T)                    # (4, 3)
    else:
        _check((8, 7), index, layout=lambda x: x[::2, 1::2])           # (4, 3)


def test_getitem_with_tensor_indices_matches_torch():
    a = _rand((4, 3), 1)
    xs, xt = svertka.tensor(a), torch.tensor(a)
    assert_close(xs[svertka.tensor(2)], xt[torch.tensor(2)])
    assert_close(xs[svertka.tensor([3, 0])], xt[torch.tensor([3, 0])])
    assert_close(xs[xs > 0], xt[xt > 0])


def test_getitem_basic_index_is_a_view():
    x = svertka.zeros(3, 4)
    with svertka.no_grad():
        x[1][::2].fill_(2.0)
        x[:, 3].add_(1.0)
    t = torch.zeros(3, 4)
    t[1][::2].fill_(2.0)
    t[:, 3].add_(1.0)
    assert_close(x, t)


def test_getitem_float32_keeps_dtype():
    x = svertka.ones(3, 4)
    for y in (x[0], x[:, 1:], x[svertka.tensor([0, 0])], x[x > 0]):
        assert y.dtype == svertka.float32


# ---------------------------------------------------------------------- setitem
SETITEM = [
    ("int", 1, (4,)),
    ("slice", (slice(None), slice(0, 4, 2)), (3, 2)),
    ("broadcast_value", (slice(None), 0), ()),
    ("bool_mask", B([True, False, True]), (2, 4)),
    ("int_array", B([0, 2]), (1, 4)),
]


@pytest.mark.parametrize("kid,index,vshape", SETITEM, ids=[s[0] for s in SETITEM])
def test_setitem_grads_match_torch(kid, index, vshape):
    a, v = _rand((3, 4), 2), _rand(vshape, 3)

    def f(lib):
        def g(x, val):
            y = x * 1.0
            y[_for(lib, index)] = val
            return y * y
        return g
    compare_with_torch(f(svertka), f(torch), a, v)


def test_setitem_with_python_scalar_under_no_grad():
    x = svertka.zeros(2, 3, requires_grad=True)
    with svertka.no_grad():
        x[0, 1] = 5.0
        x[1] = svertka.tensor([1.0, 2.0, 3.0])
    assert x.detach().numpy().tolist() == [[0.0, 5.0, 0.0], [1.0, 2.0, 3.0]]


# ---------------------------------------------------------------------- errors
INDEX_ERRORS = [
    ("int", 3, r"index 3 is out of bounds for dimension 0 with size 3"),
    ("neg_int", -4, r"index -4 is out of bounds for dimension 0 with size 3"),
    ("second_dim", (slice(None), 4), r"index 4 is out of bounds for dimension 1 with size 4"),
    ("after_ellipsis", (Ellipsis, 7), r"index 7 is out of bounds for dimension 1 with size 4"),
    ("after_none", (None, 0, 9), r"index 9 is out of bounds for dimension 1 with size 4"),
    ("int_array", B([0, 3]), r"index 3 is out of bounds for dimension 0 with size 3"),
    ("int_array_neg", (0, B([1, -5])), r"index -5 is out of bounds for dimension 1 with size 4"),
    ("list", [0, 5], r"index 5 is out of bounds for dimension 0 with size 3"),
    ("too_many", (0, 0, 0), r"too many indices for tensor of dimension 2"),
    ("mask_shape", B([True, False]), r"The shape of the mask \[2\] at index 0 does not match "
                                     r"the shape of the indexed tensor \[3, 4\] at index 0"),
]


@pytest.mark.parametrize("kid,index,msg", INDEX_ERRORS, ids=[e[0] for e in INDEX_ERRORS])
def test_getitem_rejects_out_of_range_index(kid, index, msg):
    x = svertka.ones(3, 4)
    with pytest.raises(IndexError, match=msg):
        x[_for(svertka, index)]
    with pytest.raises(IndexError, match=msg):
        x[_for(svertka, index)] = 0.0


def test_getitem_rejects_float_tensor_index():
    with pytest.raises(IndexError, match="tensors used as indices must be long"):
        svertka.ones(3)[svertka.tensor([0.0])]


# ---------------------------------------------------------------------- hypothesis
@st.composite
def _basic_index(draw):
    """A shape and a random basic index for it: ints, positive-step slices, None, Ellipsis."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    items = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "full", "none"]))
        if kind == "int":
            items.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n - 1, n + 1))
            stop = draw(st.none() | st.integers(-n - 1, n + 1))
            items.append(slice(start, stop, draw(st.integers(1, 3))))
        elif kind == "full":
            items.append(slice(None))
        else:
            items.extend([None, slice(None)])
    cut = draw(st.integers(0, len(items)))
    items = items[:cut]
    if draw(st.booleans()) and not any(i is Ellipsis for i in items):
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    return shape, tuple(items)


@settings(max_examples=50, deadline=None)
@given(case=_basic_index(), seed=st.integers(0, 1000))
def test_basic_indexing_grads_match_torch_property(case, seed):
    shape, index = case
    _check(shape, index, seed)


@st.composite
def _advanced_index(draw):
    """A shape and an index with integer arrays (repeats likely) or a boolean mask."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    kind = draw(st.sampled_from(["int_arrays", "bool_mask", "int_array_after_slice"]))
    if kind == "int_arrays":
        index = draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(
            min_dims=1, max_dims=2, max_side=4)))
        index = tuple(np.asarray(i, dtype=np.int64) for i in index)
    elif kind == "bool_mask":
        k = draw(st.integers(1, len(shape)))
        index = draw(hnp.arrays(np.bool_, shape[:k]))
    else:
        if len(shape) < 2:
            shape = shape + (3,)
        n = shape[1]
        index = (slice(None), draw(hnp.arrays(np.int64, st.integers(1, 5),
                                              elements=st.integers(-n, n - 1))))
    return shape, index


@settings(max_examples=50, deadline=None)
@given(case=_advanced_index(), seed=st.integers(0, 1000))
def test_advanced_indexing_grads_match_torch_property(case, seed):
    shape, index = case
    _check(shape, index, seed)
