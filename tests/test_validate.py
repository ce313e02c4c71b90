"""The shared validation vocabulary: one wording per check, whichever public function runs it."""

import numpy as np
import pytest

import svertka
import svertka.nn.functional as F


def _t(*shape, dtype=np.float64):
    return svertka.tensor(np.ones(shape, dtype=dtype))


# Each of these once had its own copy of the check, some with a different wording.
FLOAT_TENSOR_CASES = [
    ("embedding", lambda: F.embedding(_t(2, dtype=np.int64), _t(3, 2, dtype=np.int64)), "weight"),
    ("cosine_similarity", lambda: F.cosine_similarity(_t(2, 3, dtype=np.int64), _t(2, 3)), "x1"),
    ("pairwise_distance", lambda: F.pairwise_distance(_t(2, 3), _t(2, 3, dtype=np.int64)), "x2"),
    ("softmax", lambda: _t(2, 3, dtype=np.int64).softmax(1), "input"),
    ("linear", lambda: F.linear(_t(2, 3, dtype=np.int64), _t(4, 3)), "input"),
    ("dropout", lambda: F.dropout(_t(2, 3, dtype=np.int64)), "input"),
    ("max_pool1d", lambda: F.max_pool1d(_t(1, 2, 3, dtype=np.int64), 2), "input"),
    ("layer_norm", lambda: F.layer_norm(_t(2, 3, dtype=np.int64), (3,)), "input"),
]


@pytest.mark.parametrize("fn, call, name", FLOAT_TENSOR_CASES,
                         ids=[c[0] for c in FLOAT_TENSOR_CASES])
def test_float_tensor_check_has_one_wording(fn, call, name):
    with pytest.raises(TypeError, match=rf"^{fn}: {name} must be a floating-point tensor, got "
                                        rf"{name} of dtype int64$"):
        call()


SAME_DTYPE_CASES = [
    ("linear", lambda: F.linear(_t(2, 3), _t(4, 3, dtype=np.float32)), "weight"),
    ("conv1d", lambda: F.conv1d(_t(1, 1, 3), _t(1, 1, 2, dtype=np.float32)), "weight"),
    ("mse_loss", lambda: F.mse_loss(_t(2), _t(2, dtype=np.float32)), "target"),
]


@pytest.mark.parametrize("fn, call, name", SAME_DTYPE_CASES, ids=[c[0] for c in SAME_DTYPE_CASES])
def test_same_dtype_check_has_one_wording(fn, call, name):
    with pytest.raises(TypeError, match=rf"^{fn}: input and {name} must have the same dtype, got "
                                        rf"input of dtype float64 and {name} of dtype float32$"):
        call()


REAL_CASES = [
    ("elu", lambda: F.elu(_t(2), alpha="a"), "alpha"),
    ("smooth_l1_loss", lambda: F.smooth_l1_loss(_t(2), _t(2), beta="a"), "beta"),
    ("batch_norm", lambda: F.batch_norm(_t(2, 3), None, None, training=True, eps="a"), "eps"),
    ("lp_pool1d", lambda: F.lp_pool1d(_t(1, 2, 4), "a", 2), "norm_type"),
]


@pytest.mark.parametrize("fn, call, name", REAL_CASES, ids=[c[0] for c in REAL_CASES])
def test_real_check_has_one_wording(fn, call, name):
    with pytest.raises(TypeError, match=rf"^{fn}: {name} must be a real number, got "
                                        rf"{name}='a'$"):
        call()
