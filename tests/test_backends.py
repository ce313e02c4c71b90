"""svertka.backends: the convolution algorithm switch, the thread count, the workspace."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F
from svertka import backends
from svertka.kernels import conv as K
from svertka.kernels import parallel as KPar
from svertka.kernels.conv import plan

ALGORITHMS = ("auto", "im2col", "implicit_gemm", "fft", "direct", "winograd")


@pytest.fixture(autouse=True)
def _restore():
    algorithm, threads = backends.get_conv_algorithm(), backends.get_num_threads()
    yield
    backends.set_conv_algorithm(algorithm)
    backends.set_num_threads(threads)


def test_conv_algorithm_default_is_auto():
    assert backends.get_conv_algorithm() == "auto"
    assert backends.CONV_ALGORITHMS == ALGORITHMS


def test_conv_algorithm_context_manager_sets_and_restores():
    with backends.conv_algorithm("direct") as ctx:
        assert backends.get_conv_algorithm() == "direct"
        with backends.conv_algorithm("fft"):
            assert backends.get_conv_algorithm() == "fft"
        assert backends.get_conv_algorithm() == "direct"
    assert ctx.algorithm == "direct"
    assert backends.get_conv_algorithm() == "auto"


def test_conv_algorithm_restores_after_exception():
    with pytest.raises(KeyError):
        with backends.conv_algorithm("im2col"):
            raise KeyError("boom")
    assert backends.get_conv_algorithm() == "auto"


def test_set_conv_algorithm_returns_previous():
    assert backends.set_conv_algorithm("implicit_gemm") == "auto"
    assert backends.set_conv_algorithm("auto") == "implicit_gemm"


@pytest.mark.parametrize("bad", ["winograd_f4", "IM2COL", None, 3])
def test_conv_algorithm_rejects_unknown_names(bad):
    with pytest.raises(ValueError, match=r"conv_algorithm: algorithm must be one of 'auto'"):
        backends.conv_algorithm(bad)
    with pytest.raises(ValueError, match=r"set_conv_algorithm: algorithm must be one of"):
        backends.set_conv_algorithm(bad)


@pytest.mark.parametrize("bad", [0, -2, 1.5, "2", True])
def test_set_num_threads_rejects_non_positive_ints(bad):
    with pytest.raises(ValueError, match=r"set_num_threads: the thread count must be a "
                                         r"positive int, got n="):
        backends.set_num_threads(bad)


def test_set_num_threads_returns_previous():
    previous = backends.set_num_threads(3)
    assert backends.get_num_threads() == 3
    assert backends.set_num_threads(previous) == 3


def test_backends_settings_are_written_into_the_kernels():
    # backends is a facade: the kernels read their own attributes, never backends
    backends.set_num_threads(3)
    assert KPar.NUM_THREADS == 3
    with backends.conv_algorithm("fft"):
        assert plan.ALGORITHM == "fft"
        assert plan.resolve_algorithm((1, 1, 5, 5), (1, 1, 3, 3), (1, 1), (1, 1), 1) == "fft"
    assert plan.ALGORITHM == "auto"


def test_kernels_never_import_backends():
    # the settings flow down (backends writes into kernels); an import up the layers would
    # make a cycle, backends -> kernels -> backends
    import ast
    import pathlib
    root = pathlib.Path(svertka.__file__).parent / "kernels"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) and node.module else [])
            offenders += [f"{path.name}: {n}" for n in names if "backends" in n]
    assert len(list(root.rglob("*.py"))) > 10                     # the walk found the kernels
    assert offenders == []


# (id, x shape, w shape, kwargs, expected 'auto' choice)
SELECT_CASES = [
    ("dense_3x3", (32, 64, 32, 32), (64, 64, 3, 3), {}, "im2col"),
    ("pointwise", (32, 64, 32, 32), (128, 64, 1, 1), {}, "im2col"),
    ("depthwise", (32, 64, 32, 32), (64, 1, 3, 3), dict(groups=64), "im2col"),
    ("depthwise_strided", (8, 32, 16, 16), (32, 1, 3, 3), dict(groups=32, stride=2), "im2col"),
    ("depthwise_multiplier_2_is_grouped", (8, 32, 16, 16), (64, 1, 3, 3), dict(groups=32),
     "im2col"),
    ("huge_columns", (256, 64, 128, 128), (64, 64, 3, 3), {}, "implicit_gemm"),
    ("depthwise_huge_columns_blocked", (256, 64, 128, 128), (64, 1, 3, 3), dict(groups=64),
     "im2col"),
    ("depthwise_huge_columns_strided", (256, 64, 256, 256), (64, 1, 3, 3),
     dict(groups=64, stride=2), "implicit_gemm"),
    ("depthwise_few_positions", (8, 32, 8, 8), (32, 1, 3, 3), dict(groups=32), "im2col"),
]


@pytest.mark.parametrize("name, xs, ws, kw, expected", SELECT_CASES,
                         ids=[c[0] for c in SELECT_CASES])
def test_select_conv_algorithm_rules(name, xs, ws, kw, expected):
    assert backends.select_conv_algorithm(xs, ws, **kw) == expected
    args = (kw.get("stride", 1), 1, kw.get("groups", 1))
    assert backends.resolve_conv_algorithm(xs, ws, *args) == expected
    assert backends.resolve_conv_algorithm(xs, ws, *args, algorithm="fft") == "fft"


# (id, x shape, w shape, kwargs): through nn.functional, every algorithm vs torch
F_CASES = [
    ("conv2d_pad1_bias", (2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    ("conv2d_strided_grouped", (2, 4, 8, 7), (6, 2, 3, 2), dict(stride=2, padding=1,
                                                                  groups=2)),
    ("conv2d_depthwise", (2, 4, 6, 6), (4, 1, 3, 3), dict(padding=1, groups=4)),
    ("conv2d_depthwise_blocked", (2, 4, 13, 13), (4, 1, 3, 3), dict(padding=1, groups=4)),
    ("conv1d_depthwise_blocked_same", (2, 3, 170), (3, 1, 5), dict(padding="same", groups=3)),
    ("conv2d_dilated_same", (1, 2, 9, 8), (3, 2, 3, 3), dict(padding="same", dilation=2)),
    ("conv1d_valid", (3, 2, 10), (4, 2, 4), {}),
    ("conv3d_pad1", (1, 2, 4, 5, 4), (2, 2, 3, 3, 3), dict(padding=1)),
]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("name, xs, ws, kw", F_CASES, ids=[c[0] for c in F_CASES])
def test_conv_algorithm_grads_match_torch(name, xs, ws, kw, algorithm):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    b = rng.standard_normal(ws[0])
    n = len(xs) - 2
    sv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
    th = {1: TF.conv1d, 2: TF.conv2d, 3: TF.conv3d}[n]
    with backends.conv_algorithm(algorithm):
        compare_with_torch(lambda x, w, b: sv(x, w, b, **kw), lambda x, w, b: th(x, w, b, **kw),
                           x, w, b)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv_transpose2d_forward_matches_torch_under_every_algorithm(algorithm):
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    with backends.conv_algorithm(algorithm):
        compare_with_torch(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
                           lambda x, w: TF.conv_transpose2d(x, w, stride=2, padding=1), x, w)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv2d_float32_matches_torch_under_every_algorithm(algorithm):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    with backends.conv_algorithm(algorithm):
        y = F.conv2d(svertka.tensor(x), svertka.tensor(w), padding=1)
    assert y.dtype == svertka.float32
    assert_close(y, TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1), rtol=1e-4)


def test_conv2d_backward_twice_with_retain_graph_gives_same_grads():
    rng = np.random.default_rng(3)
    x = svertka.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = svertka.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    gy = svertka.tensor(rng.standard_normal(tuple(y.shape)))
    y.backward(gy, retain_graph=True)
    gx1, gw1 = x.grad.numpy().copy(), w.grad.numpy().copy()
    x.grad = w.grad = None
    y.backward(gy)
    assert_close(x.grad, gx1, rtol=1e-12)
    assert_close(w.grad, gw1, rtol=1e-12)


@pytest.mark.parametrize("algorithm", ["im2col", "direct", "implicit_gemm"])
def test_conv_threaded_kernels_match_single_thread(algorithm, monkeypatch):
    # force the threaded paths (column copies, col2im, depthwise passes) on small inputs
    monkeypatch.setattr(KPar, "PARALLEL_MIN_BYTES", 0)
    rng = np.random.default_rng(4)
    cases = [((5, 4, 9, 9), (6, 4, 3, 3), (1, 1), 1), ((5, 4, 9, 9), (6, 4, 3, 3), (2, 2), 1),
             ((5, 6, 9, 9), (6, 1, 3, 3), (1, 1), 6), ((5, 6, 9, 9), (6, 1, 3, 3), (2, 2), 6),
             ((5, 6, 13, 13), (6, 1, 3, 3), (1, 1), 6)]
    pads = ((1, 1), (1, 1))
    for xs, ws, s, g in cases:
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        out = K.conv_out_shape(xs[2:], ws[2:], s, pads, (1, 1))
        gy = rng.standard_normal((xs[0], ws[0]) + out)
        results = []
        for threads in (1, 2, 3):
            backends.set_num_threads(threads)
            results.append((K.conv_forward(x, w, s, pads, (1, 1), g, algorithm=algorithm),
                            K.conv_input_grad(gy, w, xs, s, pads, (1, 1), g,
                                              algorithm=algorithm),
                            K.conv_weight_grad(x, gy, ws, s, pads, (1, 1), g,
                                               algorithm=algorithm)))
        for other in results[1:]:
            for a, b in zip(results[0], other):
                assert_close(a, b, rtol=1e-12)


def test_select_conv_algorithm_huge_depthwise_without_blocking_is_implicit(monkeypatch):
    monkeypatch.setattr(plan, "DEPTHWISE_BLOCKED", False)
    assert backends.select_conv_algorithm((256, 64, 128, 128), (64, 1, 3, 3),
                                          groups=64) == "implicit_gemm"


def test_conv2d_depthwise_blocked_float32_matches_torch():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 5, 16, 15)).astype(np.float32)
    w = rng.standard_normal((5, 1, 3, 3)).astype(np.float32)
    sx = svertka.tensor(x, requires_grad=True)
    sw = svertka.tensor(w, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    y = F.conv2d(sx, sw, padding=1, groups=5)
    ty = TF.conv2d(tx, tw, padding=1, groups=5)
    gy = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(svertka.tensor(gy))
    ty.backward(torch.tensor(gy))
    assert y.dtype == sx.grad.dtype == sw.grad.dtype == svertka.float32
    assert_close(y, ty, rtol=1e-4)
    assert_close(sx.grad, tx.grad, rtol=1e-4)
    assert_close(sw.grad, tw.grad, rtol=1e-4)


@pytest.mark.parametrize("needs", [(True, True, True), (True, False, False),
                                   (False, True, True)],
                         ids=["x_w_b", "x_only", "w_b_only"])
def test_conv2d_depthwise_blocked_grads_match_torch_whichever_inputs_need_them(needs):
    # x and w both: the fused backward; one of them: the separate gradients
    rng = np.random.default_rng(8)
    arrays = (rng.standard_normal((2, 3, 13, 14)), rng.standard_normal((3, 1, 3, 3)),
              rng.standard_normal(3))
    sv = [svertka.tensor(a, requires_grad=r) for a, r in zip(arrays, needs)]
    th = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, needs)]
    y = F.conv2d(*sv, padding=1, groups=3)
    ty = TF.conv2d(*th, padding=1, groups=3)
    gy = rng.standard_normal(tuple(y.shape))
    y.backward(svertka.tensor(gy))
    ty.backward(torch.tensor(gy))
    assert_close(y, ty, rtol=1e-7)
    for a, b, r in zip(sv, th, needs):
        if r:
            assert_close(a.grad, b.grad, rtol=1e-7)
        else:
            assert a.grad is None


def test_conv_im2col_unfolded_and_col2im_paths_match_folded(monkeypatch):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((3, 4, 8, 8)), rng.standard_normal((5, 4, 3, 3))
    gy = rng.standard_normal((3, 5, 8, 8))
    pads = ((1, 1), (1, 1))

    def three():
        return (K.conv_forward(x, w, (1, 1), pads, (1, 1), 1, algorithm="im2col"),
                K.conv_input_grad(gy, w, x.shape, (1, 1), pads, (1, 1), 1, algorithm="im2col"),
                K.conv_weight_grad(x, gy, w.shape, (1, 1), pads, (1, 1), 1, algorithm="im2col"))

    folded = three()
    monkeypatch.setattr(plan, "FOLD_MAX_P", 0)
    monkeypatch.setattr(plan, "GX_AS_CONV", False)
    for a, b in zip(folded, three()):
        assert_close(a, b, rtol=1e-12)


@pytest.mark.parametrize("blocked", [False, True])
def test_workspace_caches_columns_and_clears(blocked, monkeypatch):
    from svertka.kernels import gemm
    monkeypatch.setattr(plan, "NCHW_BLOCKED", blocked)
    monkeypatch.setattr(gemm, "blas_threads", lambda: 2)
    x = svertka.tensor(np.ones((32, 16, 32, 32), np.float32))
    w = svertka.tensor(np.ones((16, 16, 3, 3), np.float32))
    image = 16 * 9 * 32 * 32 * 4                      # one image's columns
    whole = 32 * image                                # the whole column matrix
    backends.clear_workspace()
    assert backends.workspace_bytes() == 0
    with svertka.no_grad(), backends.conv_algorithm("im2col"):
        F.conv2d(x, w, padding=1)
    if blocked:                                       # a block of a few images per thread
        assert image <= backends.workspace_bytes() <= 2 * plan.NCHW_BLOCK_BYTES < whole
    else:
        assert backends.workspace_bytes() >= whole
    backends.clear_workspace()
    assert backends.workspace_bytes() == 0


def test_gx_col2im_and_as_conv_paths_agree_where_the_size_rule_picks_col2im(monkeypatch):
    # LeNet-5's second layer: gy's columns would be 5x the column gradient, so the rule
    # picks col2im; forcing the other path must give the same gradient.
    rng = np.random.default_rng(3)
    gy = rng.standard_normal((4, 16, 10, 10))
    w = rng.standard_normal((16, 6, 5, 5))
    pads = ((0, 0), (0, 0))
    assert not plan._gx_as_conv_pays(w.shape, (4, 6, 14, 14), (10, 10), 1)
    assert plan._gx_as_conv_pays((64, 64, 3, 3), (4, 64, 8, 8), (8, 8), 1)
    a = K.conv_input_grad(gy, w, (4, 6, 14, 14), (1, 1), pads, (1, 1), 1, algorithm="im2col")
    monkeypatch.setattr(plan, "GX_AS_CONV_MAX_RATIO", 100.0)
    b = K.conv_input_grad(gy, w, (4, 6, 14, 14), (1, 1), pads, (1, 1), 1, algorithm="im2col")
    assert_close(a, b, rtol=1e-12)
    ref = torch.nn.grad.conv2d_input((4, 6, 14, 14), torch.tensor(w), torch.tensor(gy))
    assert_close(a, ref.numpy(), rtol=1e-10)


def _run_python(code, **env):
    import os
    import subprocess
    import sys
    full = {k: v for k, v in os.environ.items()
            if k not in ("SVERTKA_TUNE_MALLOC", "MALLOC_MMAP_THRESHOLD_",
                         "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")}
    full.update(env)
    out = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


_GLIBC = pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc",
                            reason="malloc tuning applies to glibc only")

# 16 MB freed: kept in the heap when tuned (RSS stays), handed back to the OS otherwise.
_RSS_AFTER_FREE = """
import numpy as np, svertka
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
a = np.ones(4 * 2**20, np.float32)
before = rss()
del a
print(svertka.backends.malloc_tuned(), (before - rss()) // 2**20)
"""


@_GLIBC
def test_malloc_tuning_keeps_freed_blocks_resident_by_default():
    tuned, dropped_mb = _run_python(_RSS_AFTER_FREE).split()
    assert tuned == "True"
    assert int(dropped_mb) < 4


@_GLIBC
@pytest.mark.parametrize("env", [{"SVERTKA_TUNE_MALLOC": "0"},
                                 {"MALLOC_TRIM_THRESHOLD_": "131072"},
                                 {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=131072"}])
def test_malloc_tuning_is_left_off_when_the_environment_says_so(env):
    tuned, dropped_mb = _run_python(_RSS_AFTER_FREE, **env).split()
    assert tuned == "False"
    assert int(dropped_mb) >= 12


@_GLIBC
def test_tune_malloc_switches_at_run_time():
    code = _RSS_AFTER_FREE.replace(
        "a = np.ones", "svertka.backends.tune_malloc(False)\na = np.ones")
    tuned, dropped_mb = _run_python(code).split()
    assert tuned == "False" and int(dropped_mb) >= 12


def test_tune_malloc_rejects_non_bools():
    with pytest.raises(TypeError, match="tune_malloc: enable must be a bool, got 1"):
        backends.tune_malloc(1)


def test_select_conv_algorithm_takes_no_dilation():
    # dilation does not change the column matrix's size, so the rule takes no such argument;
    # an old positional call (stride, dilation, groups) fails loudly instead of misreading.
    with pytest.raises(TypeError):
        backends.select_conv_algorithm((8, 32, 16, 16), (32, 1, 3, 3), 1, 1, 32)
    with pytest.raises(TypeError):
        backends.select_conv_algorithm((8, 32, 16, 16), (32, 1, 3, 3), dilation=2)
