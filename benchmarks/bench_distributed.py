"""Data-parallel training throughput: svertka on 1 and 2 MPI ranks against torch.

    python benchmarks/bench_distributed.py                    # LeNet-5, batch 64 per rank
    python benchmarks/bench_distributed.py --models lenet5 lecture_cnn resnet20 --rounds 3
    python benchmarks/bench_distributed.py --bucket-cap-mb 0.05  # several buckets: overlap

Configurations, each a fresh process (or an ``mpiexec -n 2`` job), float32 training steps
(forward, cross-entropy, backward, SGD with momentum 0.9) on synthetic data:

- svertka, 1 process x 1 thread and 1 process x 2 threads (no DDP: the plain loop);
- svertka, 2 ranks x 1 thread under ``mpiexec -n 2`` with ``DistributedDataParallel``, each
  rank with the full batch (64 for LeNet-5), so a step trains on twice the images;
- torch, 1 process x 2 threads.

Reported: images per second (the median over ``--rounds``), the ratios, and for 2 ranks the
communication per step (from ``DistributedDataParallel.comm_stats``): ``blocking`` is the time
the same buckets take as blocking ``Allreduce`` calls after training; ``exposed`` the time
from the moment both
ranks have started their last bucket to the end of the reduction (the ranks share a clock on
one machine), so ``hidden = 1 - exposed / blocking`` is the share of the communication the
buckets overlap with backward; ``wait`` is what one rank waits at the end of its backward, the
other rank's lag included (imbalance, a busy machine). Not a test: numbers depend on the
machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"lenet5": (1, 28, 28), "lecture_cnn": (3, 32, 32), "resnet20": (3, 32, 32)}


def _worker(args):
    import numpy as np
    from threadpoolctl import threadpool_limits

    from svertka.bench import lecture_cnn, lenet5, resnet20_cifar

    build = {"lenet5": lenet5, "lecture_cnn": lecture_cnn, "resnet20": resnet20_cifar}[args.model]
    shape = SHAPES[args.model]
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((args.batch, *shape)).astype(np.float32)
    y_np = rng.integers(0, 10, args.batch)
    stats = {}
    if args.lib == "torch":
        import torch

        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        model = build(torch.nn)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
        loss_fn, world, rank = torch.nn.functional.cross_entropy, 1, 0
        barrier = lambda: None  # noqa: E731
    else:
        import svertka
        import svertka.distributed as dist
        from svertka import backends

        backends.set_num_threads(args.threads)
        svertka.manual_seed(0)
        model = build(svertka.nn)
        ddp = None
        if dist.is_mpi_launch():
            dist.init_process_group("mpi")
            ddp = svertka.nn.parallel.DistributedDataParallel(
                model, bucket_cap_mb=args.bucket_cap_mb)
        net = ddp or model
        world = dist.get_world_size() if ddp else 1
        rank = dist.get_rank() if ddp else 0
        opt = svertka.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = svertka.tensor(x_np), svertka.tensor(y_np)
        loss_fn = svertka.nn.functional.cross_entropy
        barrier = dist.barrier if ddp else (lambda: None)
        model = net

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    with threadpool_limits(args.threads):
        for _ in range(args.warmup):
            step()
        barrier()
        if args.lib == "svertka" and world > 1:
            ddp.comm_stats.update(wait_s=0.0, backward_steps=0, timeline=[])
        t0 = time.perf_counter()
        for _ in range(args.steps):
            step()
        barrier()
        seconds = time.perf_counter() - t0
        if args.lib == "svertka" and world > 1:
            from mpi4py import MPI

            comm = MPI.COMM_WORLD
            stats["wait_ms"] = 1e3 * ddp.comm_stats["wait_s"] / args.steps
            # The wait also covers the other rank still finishing its backward. The ranks share
            # one monotonic clock (one machine): the communication left once both ranks have
            # started their last bucket is end - max(start over ranks).
            line = np.array(ddp.comm_stats["timeline"])                   # (steps, 2)
            starts = np.empty((world,) + line.shape[:1])
            comm.Allgather(np.ascontiguousarray(line[:, 0]), starts)
            stats["exposed_ms"] = 1e3 * float(np.mean(np.maximum(
                line[:, 1] - starts.max(axis=0), 0.0)))
            bufs = [b.buffer for b in ddp._buckets]
            comm.Barrier()
            t1 = time.perf_counter()
            for _ in range(args.steps):
                for b in bufs:
                    comm.Allreduce(MPI.IN_PLACE, b, op=MPI.SUM)
            stats["blocking_ms"] = 1e3 * (time.perf_counter() - t1) / args.steps
            stats["buckets"] = len(bufs)
            stats["gradient_mb"] = sum(b.nbytes for b in bufs) / 2**20
    if rank == 0:
        print(json.dumps({"img_s": world * args.batch * args.steps / seconds,
                          "step_ms": 1e3 * seconds / args.steps, **stats}))


def _run(lib, model, ranks, threads, args):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [sys.executable, __file__, "--worker", "--lib", lib, "--model", model,
           "--threads", str(threads), "--batch", str(args.batch), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--bucket-cap-mb", str(args.bucket_cap_mb)]
    if ranks > 1:
        here = Path(sys.executable).parent / "mpiexec"
        cmd = [str(here) if here.exists() else "mpiexec", "-n", str(ranks), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


CONFIGS = [("svertka", 1, 1, "svertka 1 rank x 1 thread"),
           ("svertka", 1, 2, "svertka 1 rank x 2 threads"),
           ("svertka", 2, 1, "svertka 2 ranks x 1 thread"),
           ("torch", 1, 2, "torch 1 process x 2 threads")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", nargs="+", default=["lenet5"], choices=sorted(SHAPES))
    p.add_argument("--batch", type=int, default=64, help="per rank (default 64)")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bucket-cap-mb", dest="bucket_cap_mb", type=float, default=25.0,
                   help="DistributedDataParallel's bucket size (default 25, torch's)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--lib", default="svertka", help=argparse.SUPPRESS)
    p.add_argument("--model", default="lenet5", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return _worker(args)
    print(f"cores: {os.cpu_count()}; batch {args.batch} per rank, {args.steps} steps, median of "
          f"{args.rounds} rounds (other processes on the machine add noise)")
    for model in args.models:
        runs = {label: [] for *_, label in CONFIGS}
        for _ in range(args.rounds):               # interleaved, so drift hits every config
            for lib, ranks, threads, label in CONFIGS:
                runs[label].append(_run(lib, model, ranks, threads, args))
        med = {label: statistics.median(r["img_s"] for r in rs) for label, rs in runs.items()}
        print(f"\n{model}")
        for label, value in med.items():
            print(f"  {label:30s} {value:8.0f} img/s")
        two, one = med["svertka 2 ranks x 1 thread"], med["svertka 1 rank x 1 thread"]
        print(f"  2 ranks x 1 / 1 rank x 1 thread:   {two / one:.2f}x")
        print(f"  2 ranks x 1 / 1 rank x 2 threads:  "
              f"{two / med['svertka 1 rank x 2 threads']:.2f}x")
        torch2 = med["torch 1 process x 2 threads"]
        print(f"  2 ranks x 1 / torch 2 threads:     {two / torch2:.2f}x")
        comm = runs["svertka 2 ranks x 1 thread"]
        exposed = statistics.median(r["exposed_ms"] for r in comm)
        wait = statistics.median(r["wait_ms"] for r in comm)
        blocking = statistics.median(r["blocking_ms"] for r in comm)
        step = statistics.median(r["step_ms"] for r in comm)
        print(f"  communication per step (2 ranks, {comm[0]['buckets']} bucket(s), "
              f"{comm[0]['gradient_mb']:.2f} MB): blocking all-reduce {blocking:.3f} ms, "
              f"exposed after both ranks' backward {exposed:.3f} ms of a {step:.1f} ms step "
              f"(hidden {max(0.0, 1 - exposed / blocking):.0%}); waiting at the end of backward, "
              f"the other rank's lag included: {wait:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
