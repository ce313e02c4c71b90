"""Time svertka's convolutions against torch (CPU, float32, same process, same thread count).

Run ``python benchmarks/bench_conv.py [--threads T] [--repeat R]``. For every layer it prints
the best-of-R time of the forward pass and of forward + backward (random upstream gradient,
gradients of input, weight and bias) for both libraries, and the ratio
``torch_time / svertka_time`` (1.0 means as fast as torch; below 1 svertka is slower).

The BLAS thread count must be set before NumPy starts (``OPENBLAS_NUM_THREADS=T``); the
script sets it to ``--threads`` when it is not set. On a busy or small machine the numbers
vary by tens of percent between runs; glibc's allocator also page-faults on the large fresh
arrays, which ``MALLOC_MMAP_THRESHOLD_=1000000000`` avoids.
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def _parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeat", type=int, default=10)
    return p.parse_args(argv)


# (name, functional name, input shape, weight shape, kwargs)
CASES = [
    ("conv 3->32 3x3 on 32x32", "conv2d", (32, 3, 32, 32), (32, 3, 3, 3), dict(padding=1)),
    ("conv 32->64 3x3 on 16x16", "conv2d", (32, 32, 16, 16), (64, 32, 3, 3), dict(padding=1)),
    ("conv 64->64 3x3 stride 2 on 16x16", "conv2d", (32, 64, 16, 16), (64, 64, 3, 3),
     dict(padding=1, stride=2)),
    ("depthwise 64 3x3 on 16x16", "conv2d", (32, 64, 16, 16), (64, 1, 3, 3),
     dict(padding=1, groups=64)),
    ("pointwise 1x1 64->128 on 16x16", "conv2d", (32, 64, 16, 16), (128, 64, 1, 1), {}),
    ("conv 128->128 3x3 on 8x8", "conv2d", (32, 128, 8, 8), (128, 128, 3, 3), dict(padding=1)),
    ("conv1d 16->32 k5 on 256", "conv1d", (32, 16, 256), (32, 16, 5), dict(padding=2)),
    ("conv_transpose 64->32 4x4 s2 on 8x8", "conv_transpose2d", (32, 64, 8, 8),
     (64, 32, 4, 4), dict(stride=2, padding=1)),
]


def _best(fn, repeat):
    # Let the other library's worker threads stop spinning (OpenMP / OpenBLAS busy-wait a
    # while after each call) so that they do not steal the cores from this measurement.
    time.sleep(0.3)
    fn()                                                    # warm up
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _case(fname, xs, ws, kw, repeat):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32) * 0.1
    c_out = ws[0] if fname.startswith("conv") and "transpose" not in fname else ws[1]
    b = rng.standard_normal(c_out, dtype=np.float32)
    import torch
    import torch.nn.functional as TF

    import svertka
    import svertka.nn.functional as F

    sv_f, th_f = getattr(F, fname), getattr(TF, fname)

    sx, sw, sb = svertka.tensor(x), svertka.tensor(w), svertka.tensor(b)
    tx, tw, tb = torch.tensor(x), torch.tensor(w), torch.tensor(b)
    gy = rng.standard_normal(tuple(th_f(tx, tw, tb, **kw).shape), dtype=np.float32)
    sgy, tgy = svertka.tensor(gy), torch.tensor(gy)

    def sv_fwd():
        with svertka.no_grad():
            sv_f(sx, sw, sb, **kw)

    def th_fwd():
        with torch.no_grad():
            th_f(tx, tw, tb, **kw)

    sxg, swg, sbg = (svertka.tensor(a, requires_grad=True) for a in (x, w, b))
    txg, twg, tbg = (torch.tensor(a, requires_grad=True) for a in (x, w, b))

    def sv_both():
        sxg.grad = swg.grad = sbg.grad = None
        sv_f(sxg, swg, sbg, **kw).backward(sgy)

    def th_both():
        txg.grad = twg.grad = tbg.grad = None
        th_f(txg, twg, tbg, **kw).backward(tgy)

    sf, sb = _best(sv_fwd, repeat), _best(sv_both, repeat)
    tf, tb = _best(th_fwd, repeat), _best(th_both, repeat)
    return tf, sf, tb, sb


def main(argv=None):
    args = _parse(argv)
    # BLAS reads its thread count when NumPy is first imported: set it before that.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    import numpy as np
    import torch

    import svertka

    torch.set_num_threads(args.threads)
    print(f"svertka {svertka.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
          f"threads={args.threads}, float32, best of {args.repeat}", file=sys.stderr)
    head = (f"{'layer (N=32)':38s} {'fwd torch':>10s} {'svertka':>9s} {'ratio':>6s}   "
            f"{'f+b torch':>10s} {'svertka':>9s} {'ratio':>6s}")
    print(head)
    print("-" * len(head))
    for name, fname, xs, ws, kw in CASES:
        tf, sf, tb, sb = _case(fname, xs, ws, kw, args.repeat)
        print(f"{name:38s} {tf * 1e3:8.2f}ms {sf * 1e3:7.2f}ms {tf / sf:6.2f}   "
              f"{tb * 1e3:8.2f}ms {sb * 1e3:7.2f}ms {tb / sb:6.2f}")


if __name__ == "__main__":
    main()
