"""DistributedDataParallel: one model replica per process, gradients averaged over MPI.

How a step goes (torch's design, on MPI's non-blocking collectives):

1. At construction rank 0's parameters and buffers are broadcast, so every replica starts equal.
2. Parameters that require grad are grouped into buckets of at most ``bucket_cap_mb`` MB, in
   reverse registration order (roughly the order backward produces their gradients), one
   dtype per bucket, each bucket one flat contiguous array.
3. During backward a post-accumulate-grad hook copies each gradient into its bucket as soon as
   it is complete; when a bucket is full it is summed across ranks with ``Iallreduce`` while
   backward goes on with earlier layers. Buckets are started in a fixed order on every rank (MPI
   requires collectives in the same order everywhere).
4. When the last bucket has started, the hook waits for all of them, divides by the world size
   and writes the averages back into ``.grad``, so the optimizer reads averaged gradients
   right after ``loss.backward()`` returns.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from svertka import distributed as dist
from svertka._validate import error, type_error
from svertka.autograd import grad_mode
from svertka.nn.modules.module import Module


class _Bucket:
    __slots__ = ("params", "offsets", "buffer", "pending", "request")

    def __init__(self, params, dtype):
        self.params = params
        sizes = [p._data.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.buffer = np.zeros(int(self.offsets[-1]), dtype=dtype)
        self.pending = len(params)
        self.request = None


class DistributedDataParallel(Module):
    """Data parallelism over MPI: each rank runs ``module`` on its share of the batch.

    Launch with ``mpiexec -n N python script.py``; ``svertka.distributed.init_process_group``
    is called here if the script has not called it. Feed each rank a different shard of the
    data (``svertka.data.DistributedSampler``); after ``loss.backward()`` every rank holds the
    gradient averaged over all ranks, so N ranks with batch B/N take the same steps as one
    process with batch B (for losses that are a mean over the batch).

    Args:
        module: the model to replicate.
        device_ids, output_device, dim, gradient_as_bucket_view: accepted for torch's
            signature and ignored (CPU only; gradients are copied into and out of the buckets).
        broadcast_buffers: copy rank 0's buffers (BatchNorm's running statistics) to every rank
            at the start of each forward that records gradients outside ``no_sync``, as torch
            does. Without it each rank keeps its own statistics.
        bucket_cap_mb: the largest bucket, in MB (``2**20`` bytes, as torch). Smaller buckets
            start communication earlier; larger ones send fewer messages.
        find_unused_parameters: must be False: every parameter that requires grad must receive
            a gradient in each synchronised backward (torch raises too, in the next iteration).

    ``state_dict()`` keys carry torch's ``module.`` prefix (this wrapper holds the model as its
    submodule ``module``); save ``ddp.module.state_dict()`` for a checkpoint that loads into
    the bare model, as with torch.

    Difference from torch: the communication statistics
    ``comm_stats`` (seconds spent waiting for the reduction after the last bucket started;
    set ``comm_stats["timeline"] = []`` to record each wait's start and end) are svertka's.

    Examples:
        >>> # under mpiexec -n 2:
        >>> # ddp = nn.parallel.DistributedDataParallel(model)
        >>> # loss = F.cross_entropy(ddp(x), y); loss.backward(); opt.step()
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=25,
                 find_unused_parameters=False, gradient_as_bucket_view=False):
        super().__init__()
        fn = "DistributedDataParallel"
        if not isinstance(module, Module):
            raise type_error(fn, f"module must be an nn.Module, got {type(module).__name__}")
        if process_group is not None:
            raise error(fn, f"only the default process group (None) is supported, got "
                            f"process_group={process_group!r}")
        if (isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float))
                or not bucket_cap_mb > 0):
            raise error(fn, f"bucket_cap_mb must be a positive number, got "
                            f"bucket_cap_mb={bucket_cap_mb!r}")
        if find_unused_parameters:
            raise error(fn, "find_unused_parameters=True is not supported: every parameter "
                            "that requires grad must receive a gradient in each backward")
        if not dist.is_initialized():
            dist.init_process_group("mpi")
        self.module = module
        object.__setattr__(self, "broadcast_buffers", bool(broadcast_buffers))
        object.__setattr__(self, "bucket_cap_mb", bucket_cap_mb)
        object.__setattr__(self, "require_backward_grad_sync", True)
        object.__setattr__(self, "world_size", dist.get_world_size())
        object.__setattr__(self, "comm_stats", {"backward_steps": 0, "wait_s": 0.0,
                                                "bytes_per_step": 0, "timeline": None})
        self._sync_from_rank0(include_params=True)
        params = []
        seen = set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        object.__setattr__(self, "_buckets", self._make_buckets(params, bucket_cap_mb))
        object.__setattr__(self, "_where", {id(p): (b, i) for b in self._buckets
                                            for i, p in enumerate(b.params)})
        object.__setattr__(self, "_next_to_start", 0)
        object.__setattr__(self, "_started_any", False)
        self.comm_stats["bytes_per_step"] = sum(b.buffer.nbytes for b in self._buckets)
        object.__setattr__(self, "_handles", [p.register_post_accumulate_grad_hook(self._on_grad)
                                              for p in params])

    # ------------------------------------------------------------------ setup
    @staticmethod
    def _make_buckets(params, cap_mb):
        """Reverse registration order, one dtype per bucket, at most ``cap_mb`` MB each."""
        cap = cap_mb * 2 ** 20
        open_by_dtype, closed = {}, []       # closed: (position of the last parameter, bucket)
        for pos, p in enumerate(reversed(params)):
            dt = p._data.dtype
            group = open_by_dtype.setdefault(dt, [[], 0, 0])
            if group[0] and group[1] + p._data.nbytes > cap:
                closed.append((group[2], _Bucket(group[0], dt)))
                group[0], group[1] = [], 0
            group[0].append(p)
            group[1] += p._data.nbytes
            group[2] = pos
        closed.extend((last, _Bucket(ps, dt)) for dt, (ps, _, last) in open_by_dtype.items()
                      if ps)
        # started in the order they fill up (with several dtypes, not the order they closed)
        return [bucket for _, bucket in sorted(closed, key=lambda item: item[0])]

    def _sync_from_rank0(self, include_params):
        if self.world_size == 1:
            return
        tensors = list(self.module.buffers())
        if include_params:
            tensors = list(self.module.parameters()) + tensors
        for t in tensors:
            if t is not None:
                dist.broadcast(t, src=0)

    # ------------------------------------------------------------------ forward
    def forward(self, *inputs, **kwargs):
        if self._started_any:
            self._reset()
            raise RuntimeError(
                "DistributedDataParallel: the previous backward did not finish averaging the "
                "gradients: either a parameter that requires grad received no gradient (it "
                "was not used in the loss; every one must receive a gradient in each "
                "backward), or the backward was interrupted")
        if (self.broadcast_buffers and self.require_backward_grad_sync
                and grad_mode.is_grad_enabled()):
            self._sync_from_rank0(include_params=False)
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate local gradients without communication.

        The first backward after leaving the context averages the accumulated gradients.
        """
        old = self.require_backward_grad_sync
        object.__setattr__(self, "require_backward_grad_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "require_backward_grad_sync", old)

    # ------------------------------------------------------------------ backward
    def _reset(self):
        for b in self._buckets:
            b.pending = len(b.params)
            b.request = None
        object.__setattr__(self, "_next_to_start", 0)
        object.__setattr__(self, "_started_any", False)

    def _on_grad(self, param):
        if not self.require_backward_grad_sync or self.world_size == 1:
            return
        bucket, i = self._where[id(param)]
        lo, hi = bucket.offsets[i], bucket.offsets[i + 1]
        bucket.buffer[lo:hi] = param.grad._data.reshape(-1)
        bucket.pending -= 1
        object.__setattr__(self, "_started_any", True)
        buckets = self._buckets
        k = self._next_to_start
        while k < len(buckets) and buckets[k].pending == 0:
            buckets[k].request = dist._State.comm.Iallreduce(
                dist._State.mpi.IN_PLACE, buckets[k].buffer, op=dist._State.mpi.SUM)
            k += 1
        object.__setattr__(self, "_next_to_start", k)
        if k == len(buckets):
            self._finish()
        elif k:
            # MPI makes progress on non-blocking collectives inside MPI calls: poke it
            buckets[k - 1].request.Test()

    def _finish(self):
        t0 = time.perf_counter()
        dist._State.mpi.Request.Waitall([b.request for b in self._buckets])
        t1 = time.perf_counter()
        self.comm_stats["wait_s"] += t1 - t0
        self.comm_stats["backward_steps"] += 1
        if self.comm_stats["timeline"] is not None:   # set to a list to record (start, end)
            self.comm_stats["timeline"].append((t0, t1))
        n = self.world_size
        for b in self._buckets:
            b.buffer /= n
            for i, p in enumerate(b.params):
                g = p.grad._data
                g[...] = b.buffer[b.offsets[i]:b.offsets[i + 1]].reshape(g.shape)
        self._reset()
