"""svertka.nn.parallel: data parallelism across processes (torch's names)."""

from svertka.nn.parallel.distributed import DistributedDataParallel  # noqa: F401
from svertka.nn.parallel.sync_batchnorm import SyncBatchNorm  # noqa: F401
