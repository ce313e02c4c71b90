"""Second derivatives of the first ops that record their backward (the pattern for the rest)."""

import numpy as np
from tests._oracle import compare_double_backward


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_arithmetic_chain_second_derivatives_match_torch_with_broadcasting():
    compare_double_backward(
        lambda a, b: (a * b.exp() / (a * a + 1) - b).sum(dim=1).mean(),
        lambda a, b: (a * b.exp() / (a * a + 1) - b).sum(dim=1).mean(),
        _r(3, 4), _r(1, 4, seed=1))


def test_reshape_expand_second_derivatives_match_torch():
    compare_double_backward(
        lambda a: (a.reshape(2, 3).expand(4, 2, 3) * a.reshape(2, 3)).sum(dim=(0, 2)),
        lambda a: (a.reshape(2, 3).expand(4, 2, 3) * a.reshape(2, 3)).sum(dim=(0, 2)),
        _r(6))
