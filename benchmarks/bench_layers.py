"""Per-layer timings of the non-convolution layers, svertka against torch in one process.

    python benchmarks/bench_layers.py                     # 1 and 2 threads, median of 15
    python benchmarks/bench_layers.py -t 1 -r 31 -k maxpool bn

For each case (the shapes of the issue-8 workloads: lecture CNN batch 64, ResNet-18 CIFAR
batch 32, LeNet-5 batch 64) it times the forward alone and forward + backward (a fixed random
upstream gradient), alternating the two libraries call by call so that machine noise hits both
alike, and prints the medians in milliseconds and the ratio torch/svertka (1.0 = as fast as
torch, higher is better). Optimizer cases time one ``step()`` over ResNet-18's parameters.
Threads are pinned for both (``torch.set_num_threads`` and threadpoolctl).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np


def _cases():
    """``(name, shape, build)``: ``build(F, x)`` returns the output of the layer."""
    return [
        ("maxpool2x2 (64,32,32,32)", (64, 32, 32, 32), lambda F, x: F.max_pool2d(x, 2)),
        ("maxpool2x2 (64,64,16,16)", (64, 64, 16, 16), lambda F, x: F.max_pool2d(x, 2)),
        ("maxpool2x2 (64,6,28,28)", (64, 6, 28, 28), lambda F, x: F.max_pool2d(x, 2)),
        ("maxpool3x3s2p1 (32,64,32,32)", (32, 64, 32, 32),
         lambda F, x: F.max_pool2d(x, 3, 2, 1)),
        ("avgpool2x2 (64,32,32,32)", (64, 32, 32, 32), lambda F, x: F.avg_pool2d(x, 2)),
        ("adaptiveavg1 (32,512,4,4)", (32, 512, 4, 4),
         lambda F, x: F.adaptive_avg_pool2d(x, 1)),
        ("bn2d train (32,64,32,32)", (32, 64, 32, 32), "bn_train"),
        ("bn2d train (32,512,4,4)", (32, 512, 4, 4), "bn_train"),
        ("bn2d eval (32,64,32,32)", (32, 64, 32, 32), "bn_eval"),
        ("relu (64,32,32,32)", (64, 32, 32, 32), lambda F, x: F.relu(x)),
        ("relu (32,64,32,32)", (32, 64, 32, 32), lambda F, x: F.relu(x)),
        ("add x + x*1 (32,64,32,32)", (32, 64, 32, 32), lambda F, x: x + x * 1),
        ("cross_entropy (64,10)", (64, 10), "ce"),
    ]


class _Side:
    def __init__(self, lib):
        self.lib = lib
        if lib == "torch":
            import torch
            import torch.nn.functional as F
            self.m, self.F = torch, F
        else:
            import svertka
            import svertka.nn.functional as F
            self.m, self.F = svertka, F

    def t(self, a, grad=False):
        x = self.m.tensor(a)
        return x.requires_grad_(True) if grad else x

    def layer(self, name, shape, build, seed=0):
        """Closures ``(forward, forward_backward)`` for one case."""
        rng = np.random.default_rng(seed)
        a = rng.standard_normal(shape, dtype=np.float32)
        F, m = self.F, self.m
        x = self.t(a, True)
        if build == "ce":
            tgt = self.m.tensor(rng.integers(0, shape[1], size=shape[0]))

            def fn(x):
                return F.cross_entropy(x, tgt)
        elif build in ("bn_train", "bn_eval"):
            C = shape[1]
            w = self.t(rng.standard_normal(C, dtype=np.float32), True)
            b = self.t(rng.standard_normal(C, dtype=np.float32), True)
            rm = self.t(np.zeros(C, np.float32))
            rv = self.t(np.ones(C, np.float32))
            training = build == "bn_train"

            def fn(x):
                return F.batch_norm(x, rm, rv, w, b, training=training)
        else:
            def fn(x):
                return build(F, x)
        with m.no_grad():
            yshape = tuple(fn(x).shape)
        gy = self.t(rng.standard_normal(yshape, dtype=np.float32))

        def fwd():
            with m.no_grad():
                fn(x)

        def fwd_bwd():
            x.grad = None
            y = fn(x)
            if yshape == ():
                y.backward()
            else:
                y.backward(gy)
        return fwd, fwd_bwd

    def optimizer(self, kind):
        from svertka.bench import resnet18_cifar
        m = self.m
        m.manual_seed(0)
        model = resnet18_cifar(m.nn)
        params = list(model.parameters())
        rng = np.random.default_rng(0)
        for p in params:
            p.grad = self.t(rng.standard_normal(tuple(p.shape), dtype=np.float32))
        if kind == "sgd":
            opt = m.optim.SGD(params, lr=0.01, momentum=0.9)
        else:
            opt = m.optim.Adam(params, lr=1e-3)
        opt.step()                                       # creates the state
        return opt.step


def _median_pair(fa, fb, repeat, warmup=2):
    for _ in range(warmup):
        fa()
        fb()
    ta, tb = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fa()
        t1 = time.perf_counter()
        fb()
        t2 = time.perf_counter()
        ta.append(t1 - t0)
        tb.append(t2 - t1)
    return statistics.median(ta) * 1e3, statistics.median(tb) * 1e3


def _pin(threads):
    import torch
    from threadpoolctl import threadpool_limits
    torch.set_num_threads(threads)
    return threadpool_limits(limits=threads)


def run(threads=(1, 2), repeat=15, keys=None, out=sys.stdout):
    sv, th = _Side("svertka"), _Side("torch")
    rows = []
    for nt in threads:
        with _pin(nt):
            print(f"\n## {nt} thread(s); ms, median of {repeat}; ratio = torch / svertka",
                  file=out)
            print(f"{'case':32s} {'fwd sv':>8s} {'fwd th':>8s} {'ratio':>6s}   "
                  f"{'f+b sv':>8s} {'f+b th':>8s} {'ratio':>6s}", file=out)
            for name, shape, build in _cases():
                if keys and not any(k in name for k in keys):
                    continue
                sf, sfb = sv.layer(name, shape, build)
                tf, tfb = th.layer(name, shape, build)
                a, b = _median_pair(sf, tf, repeat)
                c, d = _median_pair(sfb, tfb, repeat)
                rows.append((nt, name, a, b, c, d))
                print(f"{name:32s} {a:8.3f} {b:8.3f} {b / a:6.2f}   {c:8.3f} {d:8.3f} "
                      f"{d / c:6.2f}", file=out, flush=True)
            for kind in ("sgd", "adam"):
                name = f"{kind} step resnet18 params"
                if keys and not any(k in name for k in keys):
                    continue
                a, b = _median_pair(sv.optimizer(kind), th.optimizer(kind), repeat)
                rows.append((nt, name, a, b, None, None))
                print(f"{name:32s} {a:8.3f} {b:8.3f} {b / a:6.2f}", file=out, flush=True)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-t", "--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("-r", "--repeat", type=int, default=15)
    p.add_argument("-k", "--keys", nargs="*", help="run only cases whose name contains one")
    args = p.parse_args(argv)
    run(tuple(args.threads), args.repeat, args.keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
