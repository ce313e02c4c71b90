"""one_hot, embedding (and nn.Embedding), cosine_similarity, pairwise_distance vs torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F

_rng = np.random.default_rng(3)


def rnd(*shape):
    return _rng.standard_normal(shape)


def idx(a):
    return np.asarray(a, dtype=np.int64)


EMBEDDING = [
    ("1d", idx([0, 2, 2, 4]), 5, 3, None),
    ("2d_repeats", idx([[1, 1, 0], [3, 1, 4]]), 5, 2, None),
    ("padding", idx([[0, 1, 0], [2, 0, 3]]), 4, 3, 0),
    ("padding_negative", idx([3, 1, 3, 2]), 4, 2, -1),
    ("scalar_index", idx(2), 3, 4, None),
    ("3d", idx(_rng.integers(0, 6, (2, 3, 2))), 6, 3, 5),
]


@pytest.mark.parametrize("indices, n, d, padding_idx", [c[1:] for c in EMBEDDING],
                         ids=[c[0] for c in EMBEDDING])
def test_embedding_matches_torch_float64(indices, n, d, padding_idx):
    compare_with_torch(lambda w, i: F.embedding(i, w, padding_idx),
                       lambda w, i: TF.embedding(i, w, padding_idx), rnd(n, d), indices)


def test_embedding_float32_forward():
    w = rnd(5, 3).astype(np.float32)
    i = idx([[4, 0], [1, 1]])
    out = F.embedding(svertka.tensor(i), svertka.tensor(w))
    assert out.dtype == svertka.float32
    assert_close(out, TF.embedding(torch.tensor(i), torch.tensor(w)), rtol=1e-4)


def test_embedding_module_init_padding_and_repr():
    svertka.manual_seed(0)
    emb = svertka.nn.Embedding(10, 3, padding_idx=2)
    assert repr(emb) == repr(torch.nn.Embedding(10, 3, padding_idx=2)).replace(
        "torch", "svertka")
    assert repr(svertka.nn.Embedding(4, 2)) == "Embedding(4, 2)"
    w = emb.weight.detach().numpy()
    assert np.all(w[2] == 0) and w.std() > 0.3
    out = emb(svertka.tensor([[2, 1], [1, 9]]))
    out.sum().backward()
    g = emb.weight.grad.numpy()
    assert np.all(g[2] == 0) and np.all(g[1] == 2) and np.all(g[9] == 1)


def test_embedding_module_from_pretrained_frozen():
    w = svertka.tensor(rnd(3, 2))
    emb = svertka.nn.Embedding.from_pretrained(w)
    assert not emb.weight.requires_grad
    assert_close(emb(svertka.tensor([1])), w.numpy()[[1]])


ONE_HOT = [
    ("1d_inferred", idx([0, 3, 1]), -1),
    ("2d_given", idx([[0, 1], [2, 1]]), 4),
    ("scalar", idx(1), 3),
    ("empty", np.zeros((0,), dtype=np.int64), 2),
]


@pytest.mark.parametrize("a, num_classes", [c[1:] for c in ONE_HOT],
                         ids=[c[0] for c in ONE_HOT])
def test_one_hot_matches_torch(a, num_classes):
    out = F.one_hot(svertka.tensor(a), num_classes)
    ref = TF.one_hot(torch.tensor(a), num_classes)
    assert out.dtype == svertka.int64
    assert_close(out, ref)


COSINE = [
    ("dim1", (4, 5), (4, 5), 1),
    ("dim0", (3, 4), (3, 4), 0),
    ("neg_dim_3d", (2, 3, 4), (2, 3, 4), -1),
    ("broadcast", (4, 5), (1, 5), 1),
    ("broadcast_rank", (2, 3, 4), (3, 4), 1),
]


@pytest.mark.parametrize("s1, s2, dim", [c[1:] for c in COSINE], ids=[c[0] for c in COSINE])
def test_cosine_similarity_matches_torch_float64(s1, s2, dim):
    compare_with_torch(lambda a, b: F.cosine_similarity(a, b, dim),
                       lambda a, b: TF.cosine_similarity(a, b, dim), rnd(*s1), rnd(*s2))


def test_cosine_similarity_tiny_and_zero_norms_match_torch_float64():
    a = np.array([[1e-10, 2e-10, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    b = np.array([[1.0, 0.5, 2.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    compare_with_torch(lambda x, y: F.cosine_similarity(x, y),
                       lambda x, y: TF.cosine_similarity(x, y), a, b)


def test_cosine_similarity_noncontiguous_float64():
    a, b = rnd(5, 4).T, rnd(5, 4).T
    compare_with_torch(lambda x, y: F.cosine_similarity(x, y),
                       lambda x, y: TF.cosine_similarity(x, y), a, b)


DISTANCE = [
    ("p2", (4, 5), (4, 5), 2.0, False),
    ("p1_keepdim", (4, 5), (4, 5), 1.0, True),
    ("p3", (3, 4), (3, 4), 3.0, False),
    ("pinf", (3, 4), (3, 4), float("inf"), False),
    ("broadcast_row", (4, 5), (1, 5), 2.0, False),
    ("1d", (5,), (5,), 2.0, False),
    ("3d", (2, 3, 4), (2, 3, 4), 1.5, True),
]


@pytest.mark.parametrize("s1, s2, p, keepdim", [c[1:] for c in DISTANCE],
                         ids=[c[0] for c in DISTANCE])
def test_pairwise_distance_matches_torch_float64(s1, s2, p, keepdim):
    compare_with_torch(lambda a, b: F.pairwise_distance(a, b, p, keepdim=keepdim),
                       lambda a, b: TF.pairwise_distance(a, b, p, keepdim=keepdim),
                       rnd(*s1), rnd(*s2))


def test_distance_float32_forward():
    a, b = rnd(4, 5).astype(np.float32), rnd(4, 5).astype(np.float32)
    for sv, th in ((F.cosine_similarity, TF.cosine_similarity),
                   (F.pairwise_distance, TF.pairwise_distance)):
        out = sv(svertka.tensor(a), svertka.tensor(b))
        assert out.dtype == svertka.float32
        assert_close(out, th(torch.tensor(a), torch.tensor(b)), rtol=1e-4)


W = svertka.zeros(4, 2)
ERRORS = [
    ("one_hot_float", lambda: F.one_hot(svertka.tensor([0.0]), 2), TypeError, "integer"),
    ("one_hot_negative", lambda: F.one_hot(svertka.tensor([-1, 0]), 2), ValueError,
     "non-negative, got a value -1"),
    ("one_hot_too_large", lambda: F.one_hot(svertka.tensor([3]), 2), ValueError,
     "smaller than num_classes"),
    ("one_hot_bad_classes", lambda: F.one_hot(svertka.tensor([0]), -2), ValueError,
     "num_classes=-2"),
    ("one_hot_empty_infer", lambda: F.one_hot(svertka.zeros(0).long()), ValueError,
     "empty"),
    ("embedding_float_index", lambda: F.embedding(svertka.tensor([0.0]), W), TypeError,
     "integer"),
    ("embedding_out_of_range", lambda: F.embedding(svertka.tensor([4]), W), ValueError,
     "index 4 is out of range for 4 embeddings"),
    ("embedding_negative_index", lambda: F.embedding(svertka.tensor([-1]), W), ValueError,
     "index -1"),
    ("embedding_weight_1d", lambda: F.embedding(svertka.tensor([0]), svertka.zeros(3)),
     ValueError, "weight must be 2-D"),
    ("embedding_weight_int", lambda: F.embedding(svertka.tensor([0]),
                                                 svertka.zeros(3, 2).long()),
     TypeError, "floating-point"),
    ("embedding_padding_range", lambda: F.embedding(svertka.tensor([0]), W, 4), ValueError,
     "padding_idx=4"),
    ("embedding_max_norm", lambda: F.embedding(svertka.tensor([0]), W, max_norm=1.0),
     ValueError, "max_norm is not supported"),
    ("Embedding_bad_size", lambda: svertka.nn.Embedding(-1, 2), ValueError,
     "num_embeddings=-1"),
    ("Embedding_bad_padding", lambda: svertka.nn.Embedding(3, 2, padding_idx=3), ValueError,
     "padding_idx=3"),
    ("cosine_shapes", lambda: F.cosine_similarity(svertka.zeros(2, 3), svertka.zeros(2, 4)),
     ValueError, r"shapes \(2, 3\) and \(2, 4\) do not broadcast"),
    ("cosine_dim", lambda: F.cosine_similarity(svertka.zeros(2, 3), svertka.zeros(2, 3), 2),
     ValueError, "dim out of range"),
    ("cosine_int", lambda: F.cosine_similarity(svertka.zeros(2).long(), svertka.zeros(2)),
     TypeError, "x1 must be a floating-point"),
    ("cosine_not_tensor", lambda: F.cosine_similarity([1.0], svertka.zeros(1)), TypeError,
     "x1 must be a Tensor"),
    ("distance_negative_p", lambda: F.pairwise_distance(svertka.zeros(2), svertka.zeros(2),
                                                        -1.0), ValueError, "p=-1.0"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in ERRORS],
                         ids=[c[0] for c in ERRORS])
def test_sparse_distance_errors_are_clear(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_embedding_zero_width_weight_backward_gives_empty_grad():
    w = svertka.zeros(4, 0, requires_grad=True)
    F.embedding(svertka.tensor([[1, 2], [3, 3]]), w).sum().backward()
    assert w.grad.shape == (4, 0)
