"""Test-session settings: one BLAS/torch thread per test process, reproducible hypothesis.

The suite runs with ``-n 2`` (two processes on two cores); multi-threaded BLAS in each would
oversubscribe the cores, and OpenBLAS's spinning threads make small GEMMs many times slower.
"""

import torch
from hypothesis import settings
from threadpoolctl import threadpool_limits

import svertka.nn.functional  # noqa: F401  (bind F.linear etc. before doctest collection)

threadpool_limits(1)
torch.set_num_threads(1)

# property tests explore a fixed, seed-derived set of examples: CI results are reproducible
# (run with --hypothesis-profile=explore for fresh random examples)
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile("ci")
