import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svertka.kernels.window import out_size, pad_constant, window_view


@pytest.mark.parametrize("i,k,p,d,s", [(32, 5, 0, 1, 1), (7, 3, 1, 1, 2), (10, 3, 2, 2, 3),
                                       (5, 5, 0, 1, 1), (1, 1, 0, 1, 4)])
def test_out_size_matches_lecture_formula(i, k, p, d, s):
    assert out_size(i, k, s, p, p, d) == (i + 2 * p - k - (k - 1) * (d - 1)) // s + 1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 9), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.integers(0, 2), st.integers(0, 2))
def test_window_view_element_is_strided_dilated_input(i, k, s, d, lo, hi):
    x = np.arange(2 * i, dtype=np.float64).reshape(2, i)
    xp = pad_constant(x, [(lo, hi)], value=-1.0)
    o = out_size(i, k, s, lo, hi, d)
    if o == 0:
        return
    w = window_view(xp, (k,), (s,), (d,))
    assert w.shape == (2, o, k)
    for oi in range(o):
        for ki in range(k):
            assert w[1, oi, ki] == xp[1, oi * s + ki * d]


def test_pad_constant_returns_input_when_nothing_to_pad():
    x = np.ones((2, 3))
    assert pad_constant(x, [(0, 0)]) is x
    assert pad_constant(x, [(1, 2)], value=5.0).tolist() == [[5, 1, 1, 1, 5, 5]] * 2
