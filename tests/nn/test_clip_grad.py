"""clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters vs torch."""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
from svertka.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(3, 4), (5,), (2, 1, 3)]


def _pair(scale=1.0, shapes=SHAPES, with_none=True, dtype=np.float64, seed=0):
    """The same parameters with the same gradients in both libraries (one without grad)."""
    rng = np.random.default_rng(seed)
    sv, th = [], []
    for shape in shapes:
        data = rng.standard_normal(shape).astype(dtype)
        grad = (scale * rng.standard_normal(shape)).astype(dtype)
        s = svertka.tensor(data, requires_grad=True)
        t = torch.tensor(data, requires_grad=True)
        s.grad, t.grad = svertka.tensor(grad), torch.tensor(grad)
        sv.append(s)
        th.append(t)
    if with_none:
        sv.append(svertka.zeros(2, dtype=svertka.float64, requires_grad=True))
        th.append(torch.zeros(2, requires_grad=True))
    return sv, th


NORM_CASES = [
    (1.0, 2.0, 1.0), (1.0, 2.0, 100.0), (0.5, 1, 1.0), (0.5, 1.0, 1e3), (1.0, "inf", 0.1),
    (1.0, float("inf"), 10.0), (1.0, 3.0, 0.5), (1.0, 0.5, 2.0), (0.0, 2.0, 1.0),
    (1e-3, 2.0, 1e-9),
]


@pytest.mark.parametrize("max_norm, norm_type, scale", NORM_CASES,
                         ids=[f"max{m}-p{p}-scale{s}" for m, p, s in NORM_CASES])
def test_clip_grad_norm_matches_torch(max_norm, norm_type, scale):
    sv, th = _pair(scale)
    total = clip_grad_norm_(sv, max_norm, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(th, max_norm, norm_type)
    assert isinstance(total, svertka.Tensor) and total.shape == ()
    assert_close(total, ttotal, rtol=1e-13, what="total norm")
    for s, t in zip(sv, th):
        if t.grad is None:
            assert s.grad is None
        else:
            assert_close(s.grad, t.grad, rtol=1e-13, what="clipped grad")


def test_clip_grad_norm_float32_stays_float32():
    sv, th = _pair(10.0, dtype=np.float32, with_none=False)
    total = clip_grad_norm_(sv, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(th, 1.0)
    assert total.dtype == svertka.float32
    assert all(p.grad.dtype == svertka.float32 for p in sv)
    assert_close(total, ttotal, rtol=1e-5)
    for s, t in zip(sv, th):
        assert_close(s.grad, t.grad, rtol=1e-5)


def test_clip_grad_norm_single_tensor_and_generator():
    sv, th = _pair(5.0, shapes=[(4,)], with_none=False)
    total = clip_grad_norm_(sv[0], 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(th[0], 1.0)
    assert_close(total, ttotal, rtol=1e-13)
    assert_close(sv[0].grad, th[0].grad, rtol=1e-13)
    sv, th = _pair(5.0, with_none=False)
    total = clip_grad_norm_((p for p in sv), 1.0)
    assert_close(total, torch.nn.utils.clip_grad_norm_((p for p in th), 1.0), rtol=1e-13)


def test_clip_grad_norm_without_grads_returns_zero():
    w = svertka.zeros(3, requires_grad=True)
    total = clip_grad_norm_([w], 1.0)
    assert float(total) == 0.0 and w.grad is None
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)


@pytest.mark.parametrize("bad", [np.inf, np.nan], ids=["inf", "nan"])
def test_clip_grad_norm_nonfinite(bad):
    sv, th = _pair(with_none=False)
    sv[0].grad._data[0, 0] = bad
    th[0].grad[0, 0] = bad
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0 .* "
                                           "is non-finite"):
        clip_grad_norm_(sv, 1.0, error_if_nonfinite=True)
    total = clip_grad_norm_(sv, 1.0)
    ttotal = torch.nn.utils.clip_grad_norm_(th, 1.0)
    assert_close(total, ttotal)
    for s, t in zip(sv, th):
        assert_close(s.grad, t.grad, what="grad scaled by a non-finite norm")


@pytest.mark.parametrize("args, exc, match", [
    ((3, 1.0), TypeError, "clip_grad_norm_: parameters must be a Tensor or an iterable"),
    (([1.0], 1.0), TypeError, "parameters must be Tensors, got an element of type float"),
    (([], "a"), TypeError, "max_norm must be a real number, got max_norm='a'"),
    (([], 1.0, "two"), ValueError, "norm_type must be a real number or 'inf', got "
                                   "norm_type='two'"),
    (([], 1.0, None), TypeError, "norm_type must be a real number or inf"),
], ids=["not-iterable", "not-tensor", "max-norm-type", "norm-type-value", "norm-type-type"])
def test_clip_grad_norm_rejects_bad_arguments(args, exc, match):
    with pytest.raises(exc, match=match):
        clip_grad_norm_(*args)


@pytest.mark.parametrize("clip_value", [0.0, 0.1, 0.7, 5.0], ids=lambda v: f"clip{v}")
def test_clip_grad_value_matches_torch(clip_value):
    sv, th = _pair()
    assert clip_grad_value_(sv, clip_value) is None
    torch.nn.utils.clip_grad_value_(th, clip_value)
    for s, t in zip(sv, th):
        if t.grad is not None:
            assert_close(s.grad, t.grad, rtol=0.0 + 1e-15)
        else:
            assert s.grad is None


def test_clip_grad_value_rejects_bad_arguments():
    with pytest.raises(TypeError, match="clip_grad_value_: clip_value must be a real number"):
        clip_grad_value_([], None)
    with pytest.raises(TypeError, match="clip_grad_value_: parameters must be a Tensor"):
        clip_grad_value_(1.5, 1.0)


def test_parameters_to_vector_matches_torch_and_is_differentiable():
    sv, th = _pair(with_none=False)
    vec = parameters_to_vector(sv)
    tvec = torch.nn.utils.parameters_to_vector(th)
    assert_close(vec.detach(), tvec.detach())
    gy = np.random.default_rng(1).standard_normal(vec.shape)
    vec.backward(svertka.tensor(gy))
    tvec.backward(torch.tensor(gy))
    for s, t in zip(sv, th):  # grads were preset: both accumulate onto them
        assert_close(s.grad, t.grad)


def test_vector_to_parameters_matches_torch_in_place():
    sv, th = _pair(with_none=False)
    arrays = [p._data for p in sv]
    vec = np.arange(sum(p.numel() for p in sv), dtype=np.float64)
    vector_to_parameters(svertka.tensor(vec), sv)
    torch.nn.utils.vector_to_parameters(torch.tensor(vec), th)
    for s, t, a in zip(sv, th, arrays):
        assert s._data is a  # written in place: modules' references stay valid
        assert_close(s.detach(), t.detach())


@pytest.mark.parametrize("vec, params, exc, match", [
    (np.zeros(3), [svertka.zeros(3)], TypeError, "expected a Tensor, but got: ndarray"),
    (svertka.zeros(2, 2), [svertka.zeros(4)], ValueError, r"vec must be 1-D, got vec of shape"),
    (svertka.zeros(3), [svertka.zeros(2, 2)], ValueError, "vec has 3 elements, the parameters "
                                                          "need 4"),
], ids=["not-tensor", "not-1d", "too-short"])
def test_vector_to_parameters_rejects_bad_arguments(vec, params, exc, match):
    with pytest.raises(exc, match=match):
        vector_to_parameters(vec, params)


def test_parameters_to_vector_rejects_empty():
    with pytest.raises(ValueError, match="parameters_to_vector: expected at least one"):
        parameters_to_vector([])
