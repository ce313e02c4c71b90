"""End to end: ``svertka train`` LeNet-5 on MNIST-format files against the idiomatic torch loop.

Writes 8,000 training and 2,000 test images of 28x28 (random pixels and labels: the time does
not depend on them) as gzipped IDX files, as MNIST ships, to a temporary folder. Then, for
several rounds, runs in fresh processes, one after the other (in the reverse order every
other round):

- svertka: ``svertka train --dataset mnist --data-dir DIR --model lenet5 --epochs 5
  --batch-size 64 --optimizer adam --lr 0.001 --scheduler none --val-fraction 0 --threads 2
  --seed 0 --quiet --out TMP`` (reads the IDX files, trains, writes a checkpoint and the logs
  every epoch, evaluates the test set at the end);
- torch: the ~15-line loop below (the same LeNet-5, 28x28 inputs padded by 2 in the first
  convolution, batch 64, Adam lr 0.001, the whole data set as normalised tensors in memory, a
  shuffled ``DataLoader`` over a ``TensorDataset``, 5 epochs, each followed by an evaluation of
  the test set), ``torch.set_num_threads(2)`` (what torch picks itself on 2 cores).

Printed: each side's wall time of the whole process (start-up, reading the data, training,
evaluation), its training time (svertka: ``metrics.json``'s ``seconds``, the 5 epochs with
their checkpoints; torch: the 5 epochs with their evaluations) and its CPU time (user +
system: robust to other processes sharing the cores, but it counts the time threads spin
waiting, as OpenMP's do), and the ratio torch time / svertka time, the convention of
``svertka bench`` (above 1: svertka is faster), per round with the median and
the range. The torch side does 4 more test-set evaluations than svertka (one
per epoch against one at the end), about 5% of its training time: the ratio flatters svertka by
that much. Not a test: nothing is asserted.

    python benchmarks/bench_e2e_mnist.py [--rounds 3] [--threads 2]
    python benchmarks/bench_e2e_mnist.py --svertka-src /path/to/other/src   # compare trees
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")

TORCH_LOOP = r"""
import gzip, json, sys, time
import numpy as np
import torch
from torch import nn

def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)

data, threads, epochs, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
torch.manual_seed(0)
def images(split):
    x = torch.tensor(idx(f"{data}/{split}-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28))
    return (x.float() / 255 - 0.1307) / 0.3081
xtr, xte = images("train"), images("t10k")
ytr = torch.tensor(idx(f"{data}/train-labels-idx1-ubyte.gz", 8).astype(np.int64))
yte = torch.tensor(idx(f"{data}/t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
t0 = time.perf_counter()
# --- the idiomatic loop
model = nn.Sequential(
    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
    nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xtr, ytr), batch_size=batch,
                                     shuffle=True)
evaluating = 0.0
for epoch in range(epochs):
    model.train()
    for x, y in loader:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    te = time.perf_counter()
    model.eval()
    with torch.no_grad():
        accuracy = (model(xte).argmax(1) == yte).float().mean().item()
    evaluating += time.perf_counter() - te
# ---
print(json.dumps({"seconds": time.perf_counter() - t0, "eval_seconds": evaluating,
                  "test_accuracy": accuracy}))
"""


def write_idx(path, array):
    """An IDX file (gzipped): magic 0x0803 for images (N, 28, 28), 0x0801 for labels (N,)."""
    header = (0x0800 + array.ndim).to_bytes(4, "big") + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_data(folder, n_train, n_test, seed=0):
    """Random 28x28 'digits' and labels as MNIST's four gzipped IDX files in ``folder``."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("t10k", n_test)):
        write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"),
                  rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8))
        write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"),
                  rng.integers(0, 10, size=n, dtype=np.uint8))


def _cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_svertka(src, data, args):
    """Wall time, training time and CPU time of one ``svertka train`` in a fresh process."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "svertka", "train", "--dataset", "mnist", "--data-dir", data,
               "--model", "lenet5", "--epochs", str(args.epochs), "--batch-size",
               str(args.batch_size), "--optimizer", "adam", "--lr", "0.001", "--scheduler",
               "none", "--val-fraction", "0", "--threads", str(args.threads), "--seed", "0",
               "--quiet", "--out", out]
        env = dict(os.environ, PYTHONPATH=src)
        c0, t0 = _cpu_children(), time.perf_counter()
        subprocess.run(cmd, check=True, env=env)
        wall, cpu = time.perf_counter() - t0, _cpu_children() - c0
        with open(os.path.join(out, "metrics.json")) as f:
            m = json.load(f)
    return wall, m["seconds"], cpu


def run_torch(data, args):
    """Wall time, training time, evaluation time and CPU time of the torch loop in a fresh
    process."""
    cmd = [sys.executable, "-c", TORCH_LOOP, data, str(args.threads), str(args.epochs),
           str(args.batch_size)]
    c0, t0 = _cpu_children(), time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _cpu_children() - c0
    m = json.loads(done.stdout.strip().splitlines()[-1])
    return wall, m["seconds"], m["eval_seconds"], cpu


def _summary(ratios):
    return (f"median {statistics.median(ratios):.2f}x, range {min(ratios):.2f}-"
            f"{max(ratios):.2f}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", dest="batch_size", type=int, default=64)
    parser.add_argument("--train", type=int, default=8000, help="training images")
    parser.add_argument("--test", type=int, default=2000, help="test images")
    parser.add_argument("--svertka-src", dest="srcs", action="append",
                        help="svertka source trees to time (repeatable; default this "
                             "checkout's src/); each round runs them in turn")
    parser.add_argument("--no-torch", action="store_true", help="svertka only")
    args = parser.parse_args(argv)
    srcs = args.srcs or [SRC]
    with tempfile.TemporaryDirectory() as data:
        write_data(data, args.train, args.test)
        print(f"{args.train} + {args.test} random 28x28 images in {data}; LeNet-5, "
              f"{args.epochs} epochs, batch {args.batch_size}, Adam, {args.threads} threads",
              flush=True)
        # untimed: import each side once, so that no timed run compiles bytecode
        for s in srcs:
            subprocess.run([sys.executable, "-c", "import svertka.cli, svertka.models, "
                            "svertka.train, svertka.viz"], check=True,
                           env=dict(os.environ, PYTHONPATH=s))
        if not args.no_torch:
            subprocess.run([sys.executable, "-c", "import torch"], check=True)
        rows = {s: [] for s in srcs}
        torch_rows = []
        sides = list(srcs) + ([None] if not args.no_torch else [])   # None: torch
        for r in range(args.rounds):
            # the order alternates between rounds, so that no side always runs first
            for s in sides if r % 2 == 0 else sides[::-1]:
                if s is None:
                    wall, train, ev, cpu = run_torch(data, args)
                    torch_rows.append((wall, train))
                    print(f"round {r + 1}: torch wall {wall:6.2f} s, training {train:6.2f} s "
                          f"(of which evaluation {ev:.2f} s), CPU {cpu:6.2f} s", flush=True)
                else:
                    wall, train, cpu = run_svertka(s, data, args)
                    rows[s].append((wall, train))
                    print(f"round {r + 1}: svertka ({s}) wall {wall:6.2f} s, training "
                          f"{train:6.2f} s, CPU {cpu:6.2f} s", flush=True)
        for s in srcs:
            walls = [w for w, _ in rows[s]]
            trains = [t for _, t in rows[s]]
            print(f"svertka ({s}): wall median {statistics.median(walls):.2f} s "
                  f"({min(walls):.2f}-{max(walls):.2f}), training median "
                  f"{statistics.median(trains):.2f} s ({min(trains):.2f}-{max(trains):.2f})")
            if torch_rows:
                # each round's ratio: torch time / svertka time of that round (above 1:
                # svertka is faster)
                wr = [tw / sw for (sw, _), (tw, _) in zip(rows[s], torch_rows)]
                tr = [tt / st for (_, st), (_, tt) in zip(rows[s], torch_rows)]
                print(f"  ratio torch/svertka, wall: {_summary(wr)}; training: {_summary(tr)}")
        if torch_rows:
            walls = [w for w, _ in torch_rows]
            trains = [t for _, t in torch_rows]
            print(f"torch: wall median {statistics.median(walls):.2f} s ({min(walls):.2f}-"
                  f"{max(walls):.2f}), training median {statistics.median(trains):.2f} s "
                  f"({min(trains):.2f}-{max(trains):.2f})")


if __name__ == "__main__":
    main()
