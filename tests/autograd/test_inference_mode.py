"""inference_mode, set_num_threads and requires_grad_ chaining against torch 2.13."""

from __future__ import annotations

import pytest
import torch

import svertka
from svertka.kernels import gemm


@pytest.mark.parametrize("lib", [svertka, torch], ids=["svertka", "torch"])
def test_inference_mode_marks_tensors_and_records_no_graph(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.inference_mode():
        y, z = x * 2, lib.zeros(3)
        assert not lib.is_grad_enabled()
    assert (y.requires_grad, y.is_inference(), z.is_inference(), x.is_inference()) == \
        (False, True, True, False)
    assert lib.is_grad_enabled()
    with pytest.raises(RuntimeError, match="inference tensor outside InferenceMode"):
        y.requires_grad_()
    assert not y.clone().is_inference()


@pytest.mark.parametrize("lib", [svertka, torch], ids=["svertka", "torch"])
def test_inference_mode_as_decorator_and_disabled(lib):
    x = lib.ones(2, requires_grad=True)

    @lib.inference_mode()
    def f(a):
        return a * 3

    assert f(x).is_inference()
    with lib.inference_mode(False):
        y = x * 2
    assert y.requires_grad and not y.is_inference()


def test_set_num_threads_drives_svertka_and_blas_threads():
    previous = svertka.get_num_threads()
    try:
        svertka.set_num_threads(1)
        assert svertka.get_num_threads() == svertka.backends.get_num_threads() == 1
        if gemm._blas():
            assert gemm.blas_threads() == 1
    finally:
        svertka.set_num_threads(previous)
    with pytest.raises(ValueError, match="set_num_threads: the thread count must be a "
                                         "positive int, got n=0"):
        svertka.set_num_threads(0)


def test_requires_grad_returns_self_for_chaining():
    x = svertka.zeros(2)
    assert x.requires_grad_() is x and x.requires_grad
