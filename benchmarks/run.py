"""Time svertka against torch on the workloads of issue 8 (CPU, float32, one process).

    python -m benchmarks                                 # all workloads, 2 threads, median of 5
    python -m benchmarks -w lenet5 conv3x3 -r 11         # a subset
    python -m benchmarks --memory --json out.json --markdown table.md

Training step = forward + cross-entropy + backward + SGD-momentum step. Both libraries run the
same architectures (defined once in ``svertka.bench``), the same batch and the same thread
count (``torch.set_num_threads`` and threadpoolctl for NumPy's BLAS); steps alternate between
the libraries and the medians are compared. The implementation is ``svertka.bench`` (the
``svertka bench`` command), so users can run the same thing without this directory.
"""

from __future__ import annotations

import sys


def main(argv=None):
    from svertka.bench import main as bench_main

    return bench_main(argv)


if __name__ == "__main__":
    sys.exit(main())
