"""svertka.nn.parallel: data parallelism across processes (torch's names)."""

from svertka.nn.parallel.distributed import DistributedDataParallel  # noqa: F401
