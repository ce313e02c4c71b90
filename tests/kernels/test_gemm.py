"""Split matrix products (``svertka.kernels.gemm``): the same results as ``np.matmul``, the
BLAS's thread count restored, every split plan exercised."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st
from tests._oracle import assert_close
from threadpoolctl import threadpool_info, threadpool_limits

from svertka.kernels import conv as K
from svertka.kernels import gemm
from svertka.kernels import parallel as KPar


def _blas_counts():
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def split_everything(monkeypatch):
    """Split every product (not only large ones) over 3 parts: uneven bounds, more parts
    than this machine's cores."""
    monkeypatch.setattr(gemm, "SPLIT_MIN_FLOPS", 0)
    monkeypatch.setattr(gemm, "blas_threads", lambda: 3)


@pytest.mark.parametrize("shape, k, plan", [
    ((8, 64, 1024), 576, "batch"),        # per-image products of a batch
    ((9, 64, 64), 64, "batch"),           # uneven, but many images per part
    ((5, 64, 64), 64, "rows"),            # 5 images over 2 parts would be too uneven
    ((16384, 64), 288, "rows"),           # channels-last columns times the weight
    ((64, 288), 16384, "k"),              # a weight gradient: the inner size is the largest
    ((10, 2048), 64, "cols"),             # few rows, many columns
    ((4, 4), 4, None),                    # too small to split
])
def test_plan_follows_the_largest_axis(shape, k, plan):
    assert gemm._plan(shape, k, 2) == plan


@pytest.mark.parametrize("sa, sb", [
    ((7, 5, 6), (7, 6, 9)),               # batch
    ((5, 6), (4, 6, 9)),                  # batch, left operand broadcast
    ((4, 1, 5, 6), (1, 3, 6, 9)),         # batch, both broadcast
    ((40, 6), (6, 3)),                    # rows
    ((3, 6), (6, 40)),                    # cols
    ((3, 50), (50, 4)),                   # k: partial products summed
    ((2, 30, 6), (6, 2)),                 # rows of a 3-d product with a small batch
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_split_product_equals_numpy_matmul(split_everything, sa, sb, dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(sa).astype(dtype)
    b = rng.standard_normal(sb).astype(dtype)
    expected = np.matmul(a, b)
    got = gemm.matmul(a, b)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12 if dtype == np.float64 else 1e-5)
    out = np.full(expected.shape, np.nan, dtype=dtype)
    assert gemm.matmul(a, b, out=out) is out
    np.testing.assert_allclose(out, expected, rtol=1e-12 if dtype == np.float64 else 1e-5)


def test_split_product_of_transposed_views(split_everything):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((9, 40)).T             # (40, 9), Fortran order
    b = rng.standard_normal((3, 9, 5)).transpose(0, 2, 1).swapaxes(1, 2)
    np.testing.assert_allclose(gemm.matmul(a, b), np.matmul(a, b), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(batch_a=st.lists(st.integers(1, 3), max_size=2), batch_b=st.lists(st.integers(1, 3),
                                                                         max_size=2),
       m=st.integers(1, 30), k=st.integers(1, 30), n=st.integers(1, 30),
       threads=st.integers(2, 4), data=st.data())
def test_split_product_broadcasts_like_numpy(batch_a, batch_b, m, k, n, threads, data):
    # make the batch shapes broadcastable: where both have an axis, one of them may be 1
    nb = min(len(batch_a), len(batch_b))
    for i in range(1, nb + 1):
        if batch_a[-i] != batch_b[-i] and 1 not in (batch_a[-i], batch_b[-i]):
            batch_b[-i] = data.draw(st.sampled_from([1, batch_a[-i]]))
    rng = np.random.default_rng(len(batch_a) * 1000 + m * 100 + k * 10 + n)
    a = rng.standard_normal(tuple(batch_a) + (m, k))
    b = rng.standard_normal(tuple(batch_b) + (k, n))
    saved = (gemm.SPLIT_MIN_FLOPS, gemm.blas_threads)
    gemm.SPLIT_MIN_FLOPS, gemm.blas_threads = 0, (lambda: threads)
    try:
        got = gemm.matmul(a, b)
    finally:
        gemm.SPLIT_MIN_FLOPS, gemm.blas_threads = saved
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-12, atol=1e-12)


def test_other_dtypes_and_vectors_fall_back_to_numpy(split_everything):
    a = np.arange(12).reshape(3, 4)
    b = np.arange(8).reshape(4, 2)
    np.testing.assert_array_equal(gemm.matmul(a, b), a @ b)            # integers
    v = np.arange(4.0)
    np.testing.assert_array_equal(gemm.matmul(a.astype(float), v), a @ v)  # 1-d operand
    mixed = gemm.matmul(a.astype(np.float32), b.astype(np.float64))
    assert mixed.dtype == np.float64
    np.testing.assert_array_equal(mixed, a @ b)


def test_blas_runs_single_threaded_inside_and_is_restored_after():
    with threadpool_limits(2, user_api="blas"):
        before = _blas_counts()
        with gemm.single_threaded_blas():
            assert set(_blas_counts()) == {1}
            with gemm.single_threaded_blas():           # nested: still one thread
                assert set(_blas_counts()) == {1}
            assert set(_blas_counts()) == {1}
            assert gemm.blas_threads() == max(before)   # the user's count, not 1
        assert _blas_counts() == before


def test_blas_thread_count_restored_when_a_part_fails(split_everything):
    with threadpool_limits(2, user_api="blas"):
        before = _blas_counts()
        a, b = np.ones((4, 5, 6)), np.ones((4, 6, 7))
        with pytest.raises(ValueError):
            gemm.matmul(a, b, out=np.empty((4, 5, 8)))  # a wrong out shape
        assert _blas_counts() == before


def test_concurrent_split_products_are_correct_and_restore_the_blas(monkeypatch):
    monkeypatch.setattr(gemm, "SPLIT_MIN_FLOPS", 0)
    rng = np.random.default_rng(2)
    pairs = [(rng.standard_normal((6, 20, 30)), rng.standard_normal((6, 30, 10)))
             for _ in range(4)]
    errors = []

    def worker(a, b):
        try:
            for _ in range(20):
                np.testing.assert_allclose(gemm.matmul(a, b), np.matmul(a, b), rtol=1e-12)
        except Exception as e:                  # noqa: BLE001 - reported below
            errors.append(e)

    with threadpool_limits(2, user_api="blas"):
        before = _blas_counts()
        threads = [threading.Thread(target=worker, args=p) for p in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert _blas_counts() == before
    assert not errors


def test_split_products_run_in_parts(split_everything, monkeypatch):
    # the fixture's products really are split: parallel gets 3 parts
    calls = []
    real = gemm.parallel
    monkeypatch.setattr(gemm, "parallel",
                        lambda fn, n, *a, **k: (calls.append(k["threads"]), real(fn, n, *a, **k)))
    a, b = np.ones((6, 5, 4)), np.ones((6, 4, 3))
    np.testing.assert_array_equal(gemm.matmul(a, b), a @ b)
    assert calls == [3]


def test_without_split_products_use_numpy_directly(monkeypatch):
    monkeypatch.setattr(gemm, "SPLIT", False)
    calls = []
    monkeypatch.setattr(gemm, "parallel", lambda *a, **k: calls.append(a))
    a, b = np.ones((8, 64, 64)), np.ones((8, 64, 64))
    np.testing.assert_array_equal(gemm.matmul(a, b), a @ b)
    assert not calls


def test_nested_parallel_runs_inline_instead_of_waiting(monkeypatch):
    # a part that itself calls parallel must not wait for the busy workers
    monkeypatch.setattr(KPar, "PARALLEL_MIN_BYTES", 0)
    out = np.zeros((4, 6))

    def outer(s):
        for i in range(s.start, s.stop):
            KPar.parallel(lambda t, i=i: out.__setitem__((i, t), i * 10 + np.arange(6)[t]),
                          6, 0, threads=3)
    KPar.parallel(outer, 4, 0, threads=4)
    np.testing.assert_array_equal(out, np.arange(4)[:, None] * 10 + np.arange(6))


# The convolution paths whose GEMMs are split (per image, over channels-last rows, over the
# inner axis of a weight gradient, the fused stride-1 backward), against torch in float64.
SPLIT_CONV_CASES = [
    ("nchw_per_image", (4, 3, 17, 17), (5, 3, 3, 3), (1, 1), ((1, 1), (1, 1))),
    ("channels_last_rows", (6, 4, 6, 6), (7, 4, 3, 3), (1, 1), ((1, 1), (1, 1))),
    ("strided", (3, 4, 9, 9), (6, 4, 3, 3), (2, 2), ((1, 1), (1, 1))),
    ("pointwise", (3, 8, 13, 13), (5, 8, 1, 1), (1, 1), ((0, 0), (0, 0))),
]


@pytest.mark.parametrize("name, xs, ws, s, pads", SPLIT_CONV_CASES,
                         ids=[c[0] for c in SPLIT_CONV_CASES])
def test_conv_with_split_products_matches_torch(split_everything, monkeypatch, name, xs, ws,
                                                s, pads):
    monkeypatch.setattr(KPar, "PARALLEL_MIN_BYTES", 0)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]
    yt = TF.conv2d(TF.pad(xt, flat), wt, stride=s)
    gy = rng.standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(gy))
    one = (1, 1)
    assert_close(K.conv_forward(x, w, s, pads, one, 1), yt, what="y")
    assert_close(K.conv_input_grad(gy, w, xs, s, pads, one, 1), xt.grad, what="gx")
    assert_close(K.conv_weight_grad(x, gy, ws, s, pads, one, 1), wt.grad, what="gw")
    gx, gw = K.conv_backward(gy, x, w, s, pads, one, 1)          # fused where it applies
    assert_close(gx, xt.grad, what="backward gx")
    assert_close(gw, wt.grad, what="backward gw")


def test_linear_with_split_products_matches_torch(split_everything):
    import svertka

    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((40, 30)), rng.standard_normal((20, 30)), rng.standard_normal(20)
    xs, ws, bs = (svertka.tensor(v, requires_grad=True) for v in (x, w, b))
    xt, wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    gy = rng.standard_normal((40, 20))
    svertka.nn.functional.linear(xs, ws, bs).backward(svertka.tensor(gy))
    TF.linear(xt, wt, bt).backward(torch.tensor(gy))
    for mine, ref in ((xs, xt), (ws, wt), (bs, bt)):
        assert_close(mine.grad, ref.grad)


def _record_thread_switches(monkeypatch):
    """Pretend the BLAS has 2 threads; return the list that each switch to one thread
    (``gemm.single_threaded_blas``) appends to."""
    entered = []

    class Recording:
        def __enter__(self):
            entered.append(1)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(gemm, "blas_threads", lambda: 2)
    monkeypatch.setattr(gemm, "single_threaded_blas", Recording)
    return entered


def test_matmul_small_product_does_not_switch_blas_threads(monkeypatch):
    # a product the BLAS runs on one thread by itself needs no switch of its thread count
    # (the switch cost more than the product); larger ones under SERIAL_MAX_FLOPS run
    # single-threaded
    entered = _record_thread_switches(monkeypatch)
    a, b = np.ones((64, 84), np.float32), np.ones((84, 10), np.float32)
    np.testing.assert_array_equal(gemm.matmul(a, b), a @ b)
    np.testing.assert_array_equal(gemm.matmul(a[None], b[None]), a @ b[None])
    assert entered == []
    big = np.ones((100, 100, 30), np.float32)                   # 300k multiply-adds each
    np.testing.assert_array_equal(gemm.matmul(big[0], big[0].T), big[0] @ big[0].T)
    assert entered == [1]


def test_matmul_mid_size_product_runs_on_the_blas_threads(monkeypatch):
    # from SERIAL_MAX_FLOPS to SPLIT_MIN_FLOPS (LeNet-5's 29 MFLOP convolution products):
    # one np.matmul on the BLAS's own threads, neither split nor switched to one thread
    entered = _record_thread_switches(monkeypatch)
    cols, wt = np.ones((6400, 150), np.float32), np.ones((150, 16), np.float32)
    np.testing.assert_array_equal(gemm.matmul(cols, wt), cols @ wt)
    assert entered == []


def test_single_threaded_blas_leaves_a_single_threaded_blas_untouched(monkeypatch):
    # already one thread: neither set on entry nor on exit
    calls = []

    class Controller:
        def get_num_threads(self):
            return 1

        def set_num_threads(self, n):
            calls.append(n)

    monkeypatch.setattr(gemm, "_controllers", [Controller()])
    with gemm.single_threaded_blas():
        pass
    assert calls == []


@pytest.mark.parametrize("sa, sb", [((3, 4, 5), (3, 5, 2)), ((4, 5), (3, 5, 2)),
                                    ((3, 4, 5), (5, 2)), ((2, 1, 4, 5), (3, 5, 2)),
                                    ((1, 4, 5), (3, 5, 2))])
def test_batch_shape_broadcasts_like_numpy(sa, sb):
    a, b = np.ones(sa), np.ones(sb)
    assert gemm._batch_shape(a, b) == np.matmul(a, b).shape[:-2]
