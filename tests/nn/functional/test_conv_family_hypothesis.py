"""The whole convolution family against torch 2.13 over the full legal argument space.

Hypothesis draws the rank (1d/2d/3d), plain or transposed, stride, padding, dilation,
output_padding, groups (depthwise included), sizes, an empty or single-image batch, every
algorithm of ``svertka.backends`` and, for ``'auto'``, shrunken tuning thresholds so the
blocked, folded, channels-last, fused and split paths run on small inputs. Forward and every
gradient (input, weight, bias) must agree with torch in float64: a path-selection bug cannot
hide behind the hand-written case tables.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests._oracle import compare_with_torch

import svertka.nn.functional as F
from svertka import backends
from svertka.kernels import conv as K
from svertka.kernels import gemm, parallel
from svertka.kernels.conv import plan

_SV = {(n, t): getattr(F, f"conv{'_transpose' if t else ''}{n}d") for n in (1, 2, 3)
       for t in (False, True)}
_TH = {(n, t): getattr(TF, f"conv{'_transpose' if t else ''}{n}d") for n in (1, 2, 3)
       for t in (False, True)}

# Thresholds that choose among the paths, shrunk so that tiny inputs take the paths that are
# otherwise reserved for large feature maps (module, attribute, small value): the plan's
# tunables and the thread and split thresholds of parallel and gemm.
_SMALL_TUNABLES = [
    (plan, "FOLD_MAX_P", 4),
    (plan, "NCHW_BLOCK_BYTES", 512),
    (plan, "DEPTHWISE_BLOCK_BYTES", 512),
    (plan, "BLOCK_BYTES", 256),
    (plan, "CL_CHUNK_BYTES", 512),
    (plan, "KEEP_COLS_BYTES", 256),
    (plan, "GX_AS_CONV_MAX_RATIO", 1e9),
    (parallel, "PARALLEL_MIN_BYTES", 0),
    (gemm, "SPLIT_MIN_FLOPS", 0),
]


@contextlib.contextmanager
def _tuning(small):
    saved = [(m, a, getattr(m, a)) for m, a, _ in _SMALL_TUNABLES]
    try:
        if small:
            for m, a, v in _SMALL_TUNABLES:
                setattr(m, a, v)
        yield
    finally:
        for m, a, v in saved:
            setattr(m, a, v)
        K.WORKSPACE.clear()


@st.composite
def conv_cases(draw):
    n = draw(st.sampled_from((1, 2, 3)))
    transposed = draw(st.booleans())
    depthwise = draw(st.booleans())
    groups = draw(st.integers(1, 3))
    if depthwise:
        cin_g, cout_g = 1, draw(st.integers(1, 2))
    else:
        cin_g, cout_g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    big = n < 3 and draw(st.booleans())
    max_k = 3 if n == 3 else 4
    kernel = tuple(draw(st.integers(1, max_k)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(n))
    spatial, padding, out_pad = [], [], []
    for k, s, d in zip(kernel, stride, dilation):
        span = d * (k - 1) + 1
        if transposed:
            p = draw(st.integers(0, span - 1))
            # the output (i-1)s - 2p + span + op must be positive
            i_min = max(1, -(-(2 * p - span + 1) // s) + 1) if 2 * p >= span else 1
            i = draw(st.integers(i_min, i_min + (14 if big else 4)))
            out_pad.append(draw(st.integers(0, max(s, d) - 1)))
        else:
            p = draw(st.integers(0, span))
            i_min = max(1, span - 2 * p)
            i = draw(st.integers(i_min, i_min + (18 if big else 4)))
        spatial.append(i)
        padding.append(p)
    batch = draw(st.sampled_from((0, 1, 2, 3)))
    kw = dict(stride=stride, padding=tuple(padding), dilation=dilation, groups=groups)
    if transposed:
        kw["output_padding"] = tuple(out_pad)
        ws = (groups * cin_g, cout_g) + kernel
    else:
        ws = (groups * cout_g, cin_g) + kernel
    xs = (batch, groups * cin_g) + tuple(spatial)
    algorithm = draw(st.sampled_from(backends.CONV_ALGORITHMS))
    small = algorithm == "auto" and draw(st.booleans())
    return n, transposed, xs, ws, kw, algorithm, small


# SVERTKA_FUZZ_EXAMPLES=6000 searches longer (about 25 s); the suite runs 400 (about 2 s).
@settings(max_examples=int(os.environ.get("SVERTKA_FUZZ_EXAMPLES", 400)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(conv_cases(), st.integers(0, 2**16))
def test_conv_family_matches_torch_over_legal_arguments(case, seed):
    n, transposed, xs, ws, kw, algorithm, small = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[1] * kw["groups"] if transposed else ws[0])
    with torch.no_grad():  # the case must be legal for torch, and its output non-empty
        y = _TH[n, transposed](torch.tensor(x), torch.tensor(w), **kw)
    assert all(o > 0 for o in y.shape[2:])
    with _tuning(small), backends.conv_algorithm(algorithm):
        compare_with_torch(lambda x, w, b: _SV[n, transposed](x, w, b, **kw),
                           lambda x, w, b: _TH[n, transposed](x, w, b, **kw), x, w, b,
                           seed=seed)
