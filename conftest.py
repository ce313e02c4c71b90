"""Test-session settings: one BLAS/torch thread per test process.

The suite runs with ``-n 2`` (two processes on two cores); multi-threaded BLAS in each would
oversubscribe the cores, and OpenBLAS's spinning threads make small GEMMs many times slower.
"""

import torch
from threadpoolctl import threadpool_limits

import svertka.nn.functional  # noqa: F401  (bind F.linear etc. before doctest collection)

threadpool_limits(1)
torch.set_num_threads(1)
