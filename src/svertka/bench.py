"""``svertka bench``: time training steps, layers and inference, optionally against torch.

Every workload is built from the same definition for svertka and (when installed) torch, run
in one process with the thread counts pinned for both (``torch.set_num_threads``,
threadpoolctl for NumPy's BLAS, ``svertka.backends.set_num_threads``), warmed up, then timed
``repeat`` times alternating between the two libraries, back to back, each pair after waiting
for other processes to go quiet (``wait_quiet``). Reported: the median images per second of
each, the ratio svertka/torch (the median of the back-to-back ratios), the achieved GFLOP/s
(convolution and linear layers only: ``2 * MACs``, three times the forward when gradients are
computed) and the fraction of the machine's float32 GEMM peak (the best of several
``np.matmul`` of two 2048x2048 matrices).

A training step is forward + cross-entropy + backward + SGD with momentum 0.9, in float32.

    svertka bench                          # every workload, svertka and torch if installed
    svertka bench -w lenet5 conv3x3 -r 20  # a subset, more repetitions
    svertka bench --no-torch --json out.json
    svertka bench --rounds 3               # three passes: median ratios and their range
    svertka bench --steps 5                # each timing: 5 steps back to back, as in training

By default each timing is one step after an idle pause (the wait for quiet), which is what a
single forward/backward costs; ``--steps K`` times ``K`` steps back to back and reports their
mean, the throughput of a training loop. On a VM whose idle cores take a while to wake up
the two differ (see ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

__all__ = ["WORKLOADS", "Workload", "gemm_peak", "run_workload", "run", "format_table",
           "machine_info", "add_bench_parser", "cmd_bench", "main"]


# ----------------------------------------------------------------------------- models
# Each builder takes an ``nn`` namespace (svertka.nn or torch.nn), so both libraries run the
# very same architecture.

def lecture_cnn(nn):
    """3x [3x3 conv (pad 1), ReLU, 2x2 max pool] with 32, 64, 128 channels, Linear(2048, 10)."""
    layers, c = [], 3
    for width in (32, 64, 128):
        layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        c = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(2048, 10))


def lenet5(nn):
    """LeNet-5 for 1x28x28 (first conv padded by 2), ReLU and max pooling."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def _basic_block(nn):
    """ResNet's basic block for the module library ``nn`` (svertka's or torch's): two 3x3
    conv-BN pairs and a 1x1 projection shortcut where the shape changes. For svertka it is
    the zoo's ``BasicBlock`` (what a user of ``svertka.models`` runs, with its inference path),
    the same layers."""
    if nn.__name__.startswith("svertka"):
        from svertka.models.resnet import BasicBlock

        class ZooBlock(BasicBlock):
            def __init__(self, cin, cout, stride):
                down = None
                if stride != 1 or cin != cout:
                    down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                         nn.BatchNorm2d(cout))
                super().__init__(cin, cout, stride, down)

        return ZooBlock

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu(y + (x if self.down is None else self.down(x)))

    return Block


def _cifar_resnet(nn, stem, stages):
    """A 3x3 stride-1 conv stem of ``stem`` channels, then ``(channels, stride, blocks)``
    stages of basic blocks, global average pooling and a 10-class Linear."""
    block = _basic_block(nn)
    layers = [nn.Conv2d(3, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU()]
    cin = stem
    for cout, stride, blocks in stages:
        for i in range(blocks):
            layers.append(block(cin, cout, stride if i == 0 else 1))
            cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))


def resnet18_cifar(nn):
    """ResNet-18 (basic blocks 2-2-2-2) with the CIFAR stem: 3x3 conv stride 1, no max pool."""
    return _cifar_resnet(nn, 64, ((64, 1, 2), (128, 2, 2), (256, 2, 2), (512, 2, 2)))


def resnet20_cifar(nn):
    """He et al.'s CIFAR ResNet-20 (16-32-64 channels, 3 basic blocks each), with 1x1
    projection shortcuts (their option B) so that the same code builds it in torch."""
    return _cifar_resnet(nn, 16, ((16, 1, 3), (32, 2, 3), (64, 2, 3)))


def resnet18_imagenet(nn):
    """ResNet-18 (basic blocks 2-2-2-2) with the ImageNet stem (7x7 conv stride 2, 3x3 max
    pool stride 2) and 1000 classes, as torchvision's ``resnet18``."""
    block = _basic_block(nn)
    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [block(cin, cout, stride), block(cout, cout, 1)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000))


def _mobilenet_v2_by_hand(nn, num_classes):
    """MobileNetV2 in torchvision's layout (width 1.0) from the module library ``nn``: the
    same layers as ``svertka.models.mobilenet_v2``, for libraries without that zoo."""

    def cna(cin, cout, k=1, stride=1, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        return nn.Sequential(*layers, nn.ReLU6()) if act else nn.Sequential(*layers)

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, t):
            super().__init__()
            hidden = inp * t
            layers = [cna(inp, hidden)] if t != 1 else []
            self.conv = nn.Sequential(*layers, cna(hidden, hidden, 3, stride, hidden),
                                      cna(hidden, oup, act=False))
            self.res = stride == 1 and inp == oup

        def forward(self, x):
            return x + self.conv(x) if self.res else self.conv(x)

    blocks, cin = [cna(3, 32, 3, 2)], 32
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
            cin = c
    blocks.append(cna(cin, 1280))
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(1280, num_classes))


def _mobilenet_v2(nn, num_classes):
    """svertka's zoo ``mobilenet_v2`` (what a user runs), the same layers built by hand for
    torch (torchvision does not load next to every torch build)."""
    if nn.__name__.startswith("svertka"):
        from svertka.models import mobilenet_v2
        return mobilenet_v2(num_classes=num_classes)
    return _mobilenet_v2_by_hand(nn, num_classes)


def mobilenet_v2_cifar(nn):
    """MobileNetV2 (torchvision layout, width 1.0) with 10 classes, for 32x32 inputs."""
    return _mobilenet_v2(nn, 10)


def mobilenet_v2_imagenet(nn):
    """MobileNetV2 (torchvision layout, width 1.0) with 1000 classes, for 224x224 inputs."""
    return _mobilenet_v2(nn, 1000)


def conv3x3(nn):
    return nn.Conv2d(64, 64, 3, padding=1)


def depthwise3x3(nn):
    return nn.Conv2d(64, 64, 3, padding=1, groups=64)


class Workload:
    """A model, its input shape and batch, and what is timed: ``'train'`` (a training step),
    ``'layer'`` (forward + backward with a random upstream gradient, input gradient included)
    or ``'infer'`` (eval mode, no gradients)."""

    def __init__(self, name, build, shape, batch, mode, target=None, note=""):
        self.name, self.build, self.shape, self.batch = name, build, tuple(shape), batch
        self.mode, self.target, self.note = mode, target, note

    def __repr__(self):
        return f"Workload({self.name!r}, {self.mode}, batch {self.batch}, {self.shape})"


# targets: issue 18's (performance II), svertka / torch at 2 threads each
WORKLOADS = {w.name: w for w in [
    Workload("lecture_cnn", lecture_cnn, (3, 32, 32), 64, "train", 0.9),
    Workload("conv3x3", conv3x3, (64, 32, 32), 32, "layer", 0.95,
             "Conv2d(64, 64, 3, padding=1) fwd+bwd"),
    Workload("resnet18", resnet18_cifar, (3, 32, 32), 32, "train", 0.9, "CIFAR stem"),
    Workload("lenet5", lenet5, (1, 28, 28), 64, "train", 1.0),
    Workload("depthwise3x3", depthwise3x3, (64, 32, 32), 32, "layer", 0.7,
             "Conv2d(64, 64, 3, padding=1, groups=64) fwd+bwd"),
    Workload("lecture_cnn_infer", lecture_cnn, (3, 32, 32), 64, "infer", 1.0),
    Workload("resnet18_infer", resnet18_cifar, (3, 32, 32), 32, "infer", 1.0),
    Workload("mobilenet_v2", mobilenet_v2_cifar, (3, 32, 32), 32, "train", 0.7,
             "zoo mobilenet_v2, 10 classes, 32x32"),
    Workload("mobilenet_v2_infer", mobilenet_v2_cifar, (3, 32, 32), 32, "infer", 1.0,
             "zoo mobilenet_v2, 10 classes, 32x32"),
    # batch-1 latency: the ratio is torch's time / svertka's, so "<= 1.3x torch's time"
    # is a ratio of at least 1 / 1.3
    Workload("resnet18_latency", resnet18_imagenet, (3, 224, 224), 1, "infer", 0.77,
             "ImageNet stem, 224x224, batch 1"),
    Workload("mobilenet_v2_latency", mobilenet_v2_imagenet, (3, 224, 224), 1, "infer", 0.77,
             "zoo mobilenet_v2, 224x224, batch 1"),
]}


# ----------------------------------------------------------------------------- library glue

class _Lib:
    """The few calls a benchmark needs, for svertka or torch."""

    def __init__(self, name):
        self.name = name
        if name == "torch":
            import torch
            import torch.nn.functional as F
            self.m, self.nn, self.F, self.optim = torch, torch.nn, F, torch.optim
        else:
            import svertka
            import svertka.nn.functional as F
            self.m, self.nn, self.F = svertka, svertka.nn, F
            self.optim = getattr(svertka, "optim", None)

    def tensor(self, a, requires_grad=False):
        t = self.m.tensor(a)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def step_fn(self, wl, x, y, gy, seed=0):
        """A closure running one timed unit of ``wl`` on this library."""
        m = self.m
        m.manual_seed(seed)
        model = wl.build(self.nn)
        if wl.mode == "infer":
            model.eval()

            def infer():
                with m.no_grad():
                    model(x)
            return infer
        model.train()
        params = list(model.parameters())
        if wl.mode == "layer":
            xg = x.detach().requires_grad_(True) if hasattr(x, "detach") else x

            def layer():
                xg.grad = None
                for p in params:
                    p.grad = None
                model(xg).backward(gy)
            return layer
        opt = self._sgd(params)
        F = self.F

        def train():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        return train

    def _sgd(self, params):
        if self.optim is not None and hasattr(self.optim, "SGD"):
            return self.optim.SGD(params, lr=0.01, momentum=0.9)
        return _ManualSGD(self.m, params)


class _ManualSGD:
    """SGD with momentum 0.9 under no_grad, for a svertka without ``svertka.optim``."""

    def __init__(self, m, params, lr=0.01, momentum=0.9):
        self.m, self.params, self.lr, self.momentum = m, params, lr, momentum
        self.bufs = [None] * len(params)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None

    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad._data
            if self.bufs[i] is None:
                self.bufs[i] = g.copy()
            else:
                self.bufs[i] *= self.momentum
                self.bufs[i] += g
            p._data -= self.lr * self.bufs[i]


def _data(wl, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((wl.batch,) + wl.shape, dtype=np.float32)
    y = rng.integers(0, 10, size=wl.batch)
    return x, y


def flops(wl):
    """FLOPs of one timed step of ``wl``: ``2 * MACs`` of the conv and linear layers for
    one batch, times 3 when gradients are computed (forward, input and weight gradients).

    >>> flops(WORKLOADS["conv3x3"]) / 1e9                     # 3 * 2 * 32*64*32*32 * 64*9
    7.247757312
    """
    import svertka
    from svertka import nn

    svertka.manual_seed(0)
    model = wl.build(nn)
    total = [0]

    def hook(mod, inputs, out):
        if isinstance(mod, nn.Conv2d):
            k = math.prod(mod.weight.shape[1:])
            total[0] += 2 * out.numel() * k
        elif isinstance(mod, nn.Linear):
            total[0] += 2 * out.numel() * mod.in_features

    handles = [mod.register_forward_hook(hook) for mod in model.modules()
               if isinstance(mod, (nn.Conv2d, nn.Linear))]
    model.eval()
    with svertka.no_grad():
        model(svertka.zeros((wl.batch,) + wl.shape))
    for h in handles:
        h.remove()
    return total[0] if wl.mode == "infer" else 3 * total[0]


def gemm_peak(n=2048, repeat=7):
    """Peak GFLOP/s of a float32 ``np.matmul`` of two ``n x n`` matrices (best of
    ``repeat``: a peak, so the run least disturbed by other processes counts)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / min(times) / 1e9


def _cpu_ticks():
    """(busy, total) CPU ticks of the whole machine from /proc/stat, or None."""
    try:
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return sum(v) - v[3] - v[4], sum(v)


def wait_quiet(max_wait=2.0, probe=0.05, threshold=0.15):
    """Wait (at most ``max_wait`` seconds) until other processes use under ``threshold`` of
    the machine's CPUs, so that a timing is not taken while they run; True if it got quiet.

    On a shared machine other jobs come and go; timing both libraries in the same quiet
    window keeps the ratio meaningful. Does nothing where /proc/stat is missing.
    """
    if _cpu_ticks() is None:
        return False
    end = time.perf_counter() + max_wait
    while time.perf_counter() < end:
        b0, a0 = _cpu_ticks()
        time.sleep(probe)
        b1, a1 = _cpu_ticks()
        if a1 > a0 and (b1 - b0) / (a1 - a0) < threshold:
            return True
    return False


def _time(fn, steps=1):
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return time.perf_counter() - t0


def run_workload(wl, repeat=7, warmup=2, with_torch=True, pause=0.02, quiet=True, steps=1):
    """Seconds per step of ``wl``, one list per library (svertka, then torch), timed
    alternately: entry ``i`` of each list ran back to back. Each entry is the mean of
    ``steps`` steps run back to back."""
    libs = [_Lib("svertka")] + ([_Lib("torch")] if with_torch else [])
    x, y = _data(wl)
    fns = []
    for lib in libs:
        xt, yt = lib.tensor(x), lib.tensor(y)
        gy = None
        if wl.mode == "layer":
            out_shape = (wl.batch, 64) + wl.shape[1:]
            gy = lib.tensor(np.random.default_rng(1).standard_normal(out_shape,
                                                                     dtype=np.float32))
        fns.append(lib.step_fn(wl, xt, yt, gy))
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            # OpenMP / OpenBLAS workers spin a while after each call: let them stop (and
            # other processes go quiet) before the next library starts, so that they do not
            # steal its cores.
            time.sleep(pause)
            if quiet:
                wait_quiet()
            ts.append(_time(fn, steps) / steps)
    return times


def machine_info():
    """CPU model, core count, Python / NumPy / BLAS / torch versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__}
    try:
        from threadpoolctl import threadpool_info
        info["blas"] = [f"{d.get('internal_api')} {d.get('version')} "
                        f"({d.get('architecture')}, {d.get('num_threads')} threads)"
                        for d in threadpool_info() if d.get("user_api") == "blas"]
    except ImportError:
        info["blas"] = []
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def _pin_threads(threads):
    """Pin BLAS (threadpoolctl) and torch to ``threads``; returns the BLAS limiter or None."""
    limiter = None
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(limits=threads, user_api="blas")
    except ImportError:
        print("svertka bench: threadpoolctl is not installed; NumPy's BLAS threads are not "
              "pinned", file=sys.stderr)
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        pass
    from svertka import backends
    backends.set_num_threads(threads)
    return limiter


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info
        return [d["num_threads"] for d in threadpool_info() if d.get("user_api") == "blas"]
    except ImportError:
        return []


def run(names=None, threads=2, repeat=7, warmup=2, with_torch=None, log=None, quiet=True,
        rounds=1, steps=1):
    """Run the workloads ``names`` (default all); returns a JSON-ready dict of results.
    Each timing is the mean of ``steps`` steps run back to back.

    With ``rounds > 1`` the whole list runs that many times (so a drift of the machine's speed
    reaches every workload alike); each workload then reports the medians over the rounds and
    the range of its ratio (``ratio_min``, ``ratio_max``, ``round_ratios``)."""
    if with_torch is None:
        try:
            import torch  # noqa: F401
            with_torch = True
        except ImportError:
            with_torch = False
    names = list(WORKLOADS) if not names else list(names)
    for n in names:
        if n not in WORKLOADS:
            raise ValueError(f"svertka bench: unknown workload {n!r}; choose from "
                             f"{', '.join(WORKLOADS)}")
    for name, value, least in (("repeat", repeat, 1), ("warmup", warmup, 0),
                               ("threads", threads, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"svertka bench: {name} must be an int >= {least}, got "
                             f"{value!r}")
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"svertka bench: rounds must be a positive int, got {rounds!r}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"svertka bench: steps must be a positive int, got {steps!r}")
    _pin_threads(threads)
    if quiet:
        wait_quiet(5.0)
    peak = gemm_peak()
    result = {"machine": machine_info(), "threads": threads, "blas_threads": _blas_threads(),
              "repeat": repeat, "warmup": warmup, "rounds": rounds, "steps": steps,
              "gemm_peak_gflops": peak, "workloads": []}
    per_round = {n: [] for n in names}
    for k in range(rounds):
        if log is not None and rounds > 1:
            print(f"-- round {k + 1} of {rounds}", file=log, flush=True)
        for n in names:
            wl = WORKLOADS[n]
            runs = run_workload(wl, repeat, warmup, with_torch, quiet=quiet, steps=steps)
            row = _row(wl, [statistics.median(ts) for ts in runs], peak, runs)
            per_round[n].append(row)
            if log is not None:
                print(_format_row(row), file=log, flush=True)
    for n in names:
        rows = per_round[n]
        if rounds == 1:
            result["workloads"].append(rows[0])
            continue
        wl = WORKLOADS[n]
        times = [statistics.median(r["svertka_s"] for r in rows)]
        if with_torch:
            times.append(statistics.median(r["torch_s"] for r in rows))
        row = _row(wl, times, peak)
        if with_torch:
            ratios = [r["ratio"] for r in rows]
            row.update({"ratio": statistics.median(ratios), "ratio_min": min(ratios),
                        "ratio_max": max(ratios), "round_ratios": ratios})
        result["workloads"].append(row)
    if log is not None and rounds > 1:
        print(f"-- medians over {rounds} rounds", file=log)
        for row in result["workloads"]:
            print(_format_row(row), file=log, flush=True)
    return result


def _row(wl, times, peak, runs=None):
    """One workload's result from its median step times (svertka, then torch); ``runs``,
    the back-to-back step times, give the ratio (else the ratio of the medians)."""
    fl = flops(wl)
    row = {"name": wl.name, "mode": wl.mode, "batch": wl.batch, "shape": list(wl.shape),
           "note": wl.note, "target": wl.target, "flops": fl,
           "svertka_s": times[0], "svertka_img_s": wl.batch / times[0],
           "svertka_gflops": fl / times[0] / 1e9,
           "svertka_peak_fraction": fl / times[0] / 1e9 / peak}
    if len(times) > 1:
        row.update({"torch_s": times[1], "torch_img_s": wl.batch / times[1],
                    "torch_gflops": fl / times[1] / 1e9,
                    "torch_peak_fraction": fl / times[1] / 1e9 / peak,
                    "ratio_of_medians": times[1] / times[0]})
        # the median of the back-to-back ratios: robust to the load of other processes
        # changing between repetitions
        row["ratio"] = (statistics.median(t / s for s, t in zip(*runs)) if runs is not None
                        else times[1] / times[0])
    return row


def _format_row(r):
    s = (f"{r['name']:20s} {r['mode']:5s} {r['batch']:4d} {r['svertka_img_s']:9.1f} "
         f"{r['svertka_gflops']:7.1f} {r['svertka_peak_fraction']:5.0%}")
    if "torch_img_s" in r:
        ok = "" if r["target"] is None else ("ok" if r["ratio"] >= r["target"] else "MISS")
        s += (f" {r['torch_img_s']:9.1f} {r['torch_gflops']:7.1f} "
              f"{r['torch_peak_fraction']:5.0%} {r['ratio']:6.2f}x "
              f"{'' if r['target'] is None else format(r['target'], 'g') + 'x':>6s} {ok}")
        if "ratio_min" in r:
            s += f"  range {r['ratio_min']:.2f}-{r['ratio_max']:.2f}x"
    if "svertka_mem_mb" in r:
        s += f"  mem {r['svertka_mem_mb']:.0f}/{r.get('torch_mem_mb', float('nan')):.0f} MB"
    return s


def _header(with_torch):
    h = f"{'workload':20s} {'mode':5s} {'N':>4s} {'svk img/s':>9s} {'GFLOP/s':>7s} {'peak':>5s}"
    if with_torch:
        h += f" {'trc img/s':>9s} {'GFLOP/s':>7s} {'peak':>5s} {'ratio':>7s} {'target':>6s}"
    return h


def format_table(result):
    """The text table of a ``run`` result."""
    with_torch = any("torch_img_s" in r for r in result["workloads"])
    lines = [_header(with_torch), "-" * len(_header(with_torch))]
    lines += [_format_row(r) for r in result["workloads"]]
    return "\n".join(lines)


def format_markdown(result):
    """A Markdown table of a ``run`` result."""
    with_torch = any("torch_img_s" in r for r in result["workloads"])
    cols = ["workload", "mode", "batch", "svertka img/s", "svertka GFLOP/s (peak %)"]
    ranges = any("ratio_min" in r for r in result["workloads"])
    if with_torch:
        cols += ["torch img/s", "torch GFLOP/s (peak %)", "ratio", "target"]
        if ranges:
            cols.insert(-1, f"ratio range ({result.get('rounds')} rounds)")
    if any("svertka_mem_mb" in r for r in result["workloads"]):
        cols += ["peak memory svertka / torch (MB)"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in result["workloads"]:
        name = r["name"] + (f" ({r['note']})" if r["note"] else "")
        cells = [name, r["mode"], str(r["batch"]), f"{r['svertka_img_s']:.1f}",
                 f"{r['svertka_gflops']:.1f} ({r['svertka_peak_fraction']:.0%})"]
        if with_torch:
            cells += [f"{r['torch_img_s']:.1f}",
                      f"{r['torch_gflops']:.1f} ({r['torch_peak_fraction']:.0%})",
                      f"**{r['ratio']:.2f}x**", f">= {r['target']}x"]
            if ranges:
                cells.insert(-1, f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}x")
        if "svertka_mem_mb" in r:
            cells.append(f"{r['svertka_mem_mb']:.0f} / {r.get('torch_mem_mb', float('nan')):.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- memory

def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure_memory(name, lib, threads=2, steps=2):
    """Peak resident-memory growth (MB) over ``steps`` steps of workload ``name`` in THIS
    process, sampled every millisecond from /proc/self/statm by a helper thread (the same
    measure for svertka and torch). For svertka the tracemalloc peak of NumPy's allocations
    is returned too."""
    import threading
    import tracemalloc

    wl = WORKLOADS[name]
    _pin_threads(threads)
    L = _Lib(lib)
    x, y = _data(wl)
    gy = None
    if wl.mode == "layer":
        gy = L.tensor(np.random.default_rng(1).standard_normal((wl.batch, 64) + wl.shape[1:],
                                                               dtype=np.float32))
    fn = L.step_fn(wl, L.tensor(x), L.tensor(y), gy)
    out = {}
    base = _rss_bytes()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if lib == "svertka":
        tracemalloc.start()
        t0 = tracemalloc.get_traced_memory()[0]
    for _ in range(steps):
        fn()
    if lib == "svertka":
        out["tracemalloc_mb"] = (tracemalloc.get_traced_memory()[1] - t0) / 2**20
        tracemalloc.stop()
    done.set()
    sampler.join()
    out["rss_mb"] = (peak[0] - base) / 2**20
    return out


def memory_in_subprocess(name, lib, threads=2):
    """``measure_memory`` in a fresh Python process (a clean high-water mark)."""
    import subprocess
    code = (f"import json; from svertka.bench import measure_memory; "
            f"print(json.dumps(measure_memory({name!r}, {lib!r}, {threads})))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def add_memory(result, with_torch=True, log=None):
    """Add ``svertka_mem_mb`` / ``torch_mem_mb`` (peak RSS growth over two steps, from a
    fresh process each) to a result."""
    for r in result["workloads"]:
        s = memory_in_subprocess(r["name"], "svertka", result["threads"])
        r["svertka_mem_mb"] = s["rss_mb"]
        r["svertka_tracemalloc_mb"] = s.get("tracemalloc_mb")
        if with_torch:
            r["torch_mem_mb"] = memory_in_subprocess(r["name"], "torch",
                                                     result["threads"])["rss_mb"]
            r["memory_ratio"] = r["svertka_mem_mb"] / max(r["torch_mem_mb"], 1e-9)
        if log is not None:
            print(f"{r['name']:20s} peak memory svertka {r['svertka_mem_mb']:.0f} MB "
                  f"(tracemalloc {r['svertka_tracemalloc_mb']:.0f} MB), torch "
                  f"{r.get('torch_mem_mb', float('nan')):.0f} MB", file=log, flush=True)
    return result


# ----------------------------------------------------------------------------- CLI

def add_bench_parser(subparsers):
    """Add the ``bench`` sub-command to an ``argparse`` sub-parsers object."""
    p = subparsers.add_parser(
        "bench", help="time training steps and layers (against torch when installed)",
        description=__doc__.splitlines()[0])
    add_arguments(p)
    p.set_defaults(func=cmd_bench)
    return p


def _positive_int(text, minimum=1):
    import argparse
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a {'positive' if minimum else 'non-negative'}"
                                         f" int, got {text!r}")
    return value


def _non_negative_int(text):
    return _positive_int(text, minimum=0)


def add_arguments(p):
    p.add_argument("-w", "--workloads", nargs="+", metavar="NAME", choices=list(WORKLOADS),
                   help=f"subset of: {', '.join(WORKLOADS)} (default: all)")
    p.add_argument("-t", "--threads", type=_positive_int, default=min(2, os.cpu_count() or 1),
                   help="threads for NumPy's BLAS and torch (default: 2)")
    p.add_argument("-r", "--repeat", type=_positive_int, default=7,
                   help="timed steps (median)")
    p.add_argument("--rounds", type=_positive_int, default=1,
                   help="run the whole list this many times; report medians and the range "
                        "of each ratio (the machine's speed may drift between rounds)")
    p.add_argument("--warmup", type=_non_negative_int, default=2, help="untimed steps first")
    p.add_argument("--steps", type=_positive_int, default=1,
                   help="steps run back to back per timing, their mean reported (default 1: "
                        "one step after an idle pause; more: a training loop's throughput)")
    p.add_argument("--no-torch", action="store_true", help="svertka only, absolute numbers")
    p.add_argument("--memory", action="store_true",
                   help="also measure the peak memory of two steps (fresh processes)")
    p.add_argument("--no-wait", action="store_true",
                   help="do not wait for other processes to go quiet before each repetition "
                        "(faster, but the spinning worker threads one library leaves behind "
                        "then slow the other: torch's LeNet-5 step measured up to 8x slower)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write the results as a Markdown table")
    return p


def cmd_bench(args):
    """Run ``svertka bench`` with parsed ``args``; returns the exit status."""
    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("svertka bench: torch is not installed: absolute numbers only",
                  file=sys.stderr)
            with_torch = False
    info = machine_info()
    print(f"{info['cpu']}, {info['cores']} cores, numpy {info['numpy']}, torch "
          f"{info['torch'] if with_torch else '-'}, threads={args.threads}, median of "
          f"{args.repeat}" + (f" timings of {args.steps} steps back to back"
                              if args.steps > 1 else ""), file=sys.stderr)
    print(_header(with_torch))
    print("-" * len(_header(with_torch)), flush=True)
    result = run(args.workloads, args.threads, args.repeat, args.warmup, with_torch,
                 log=sys.stdout, quiet=not args.no_wait, rounds=args.rounds,
                 steps=args.steps)
    print(f"BLAS threads {result['blas_threads']}, float32 GEMM peak "
          f"{result['gemm_peak_gflops']:.0f} GFLOP/s")
    if args.memory:
        add_memory(result, with_torch, log=sys.stdout)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(format_markdown(result) + "\n")
    return 0


def main(argv=None):
    """Run ``svertka bench`` with the command-line arguments ``argv``."""
    import argparse
    p = add_arguments(argparse.ArgumentParser(prog="svertka bench",
                                              description=__doc__.splitlines()[0]))
    return cmd_bench(p.parse_args(argv))
