"""Benchmark of the main job: the default ``svertka train`` (LeNet-5 on the embedded digits).

Runs the command as a user would (a fresh process, default settings) a few times and reports
wall time, training time and test accuracy. Not a test: nothing is asserted.

    python benchmarks/train_digits.py [--repeats 3] [--threads N]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="passed to svertka train --threads (default: BLAS's choice)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as out:
            cmd = [sys.executable, "-m", "svertka", "train", "--quiet", "--out", out,
                   "--seed", str(args.seed)]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - t0
            with open(os.path.join(out, "metrics.json")) as f:
                m = json.load(f)
        rows.append((wall, m["seconds"], m["test_accuracy"]))
        print(f"run {i + 1}: wall {wall:5.1f} s (training {m['seconds']:5.1f} s), "
              f"test accuracy {m['test_accuracy']:.4f}", flush=True)
    walls = sorted(r[0] for r in rows)
    print(f"median wall time {walls[len(walls) // 2]:.1f} s over {len(rows)} runs; "
          f"test accuracy {rows[0][2]:.4f} (seed {args.seed})")


if __name__ == "__main__":
    main()
