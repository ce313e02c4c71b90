"""SyncBatchNorm: batch normalisation whose statistics cover the batch of every rank."""

from __future__ import annotations

import numpy as np

from svertka import distributed as dist
from svertka.autograd import grad_mode
from svertka.autograd.function import Function
from svertka.nn.modules.normalization import _BatchNorm


def _allreduce_sum(array):
    buf = np.ascontiguousarray(array).copy()
    dist._State.comm.Allreduce(dist._State.mpi.IN_PLACE, buf, op=dist._State.mpi.SUM)
    return buf


class _SyncBatchNormFn(Function):
    """``y = (x - mean) * invstd * w + b`` with ``mean``/``invstd`` over all ranks' batches.

    The input gradient needs the sums of ``gy`` and ``gy * xhat`` over every rank's batch: one
    all-reduce in backward (every rank runs the same backward, so the calls pair up).
    """

    @staticmethod
    def forward(ctx, x, w, b, *, mean, invstd, count, shape):
        xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
        ctx.save_for_backward(xhat, w)
        ctx.invstd, ctx.count, ctx.shape = invstd, count, shape
        y = xhat if w is None else xhat * w.reshape(shape)
        return y if b is None else y + b.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        xhat, w = ctx.saved_tensors
        shape = ctx.shape
        axes = tuple(i for i in range(gy.ndim) if i != 1)
        sum_dy = gy.sum(axis=axes)                                   # (C,)
        sum_dy_xhat = (gy * xhat).sum(axis=axes)                     # (C,)
        gw = sum_dy_xhat if ctx.needs_input_grad[1] else None
        gb = sum_dy if ctx.needs_input_grad[2] else None
        gx = None
        if ctx.needs_input_grad[0]:
            both = _allreduce_sum(np.concatenate([sum_dy, sum_dy_xhat]))   # (2C,)
            c = sum_dy.shape[0]
            mean_dy = (both[:c] / ctx.count).reshape(shape)
            mean_dy_xhat = (both[c:] / ctx.count).reshape(shape)
            scale = ctx.invstd if w is None else ctx.invstd * w
            gx = (gy - mean_dy - xhat * mean_dy_xhat) * scale.reshape(shape)
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx, gy):
        # Its input gradient all-reduces across the ranks, which no recorded op does yet.
        raise RuntimeError(
            "SyncBatchNorm: create_graph=True (gradients of gradients) is not supported in "
            f"training across {dist.get_world_size() if dist.is_initialized() else 'several'} "
            "ranks (_SyncBatchNormFn's backward all-reduces); in a single process, or in eval "
            "mode, SyncBatchNorm is BatchNorm, which supports it")


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation over the union of every rank's batch (torch's ``SyncBatchNorm``).

    In training under a process group of several ranks, the per-channel mean and variance are
    those of all ranks' batches together (two all-reduces in forward, one in backward), so 2
    ranks with batch B/2 normalise, and update the running statistics, exactly as one process
    with batch B. In eval mode, or in a single process, it is ``BatchNorm``. Input: ``(N, C,
    *)`` with 2 to 5 dimensions. Convert a model's BatchNorm layers with
    :meth:`convert_sync_batchnorm`.

    Args: as ``BatchNorm2d``; ``process_group`` must be None (the world).

    Examples:
        >>> import svertka
        >>> from svertka import nn
        >>> m = nn.SyncBatchNorm.convert_sync_batchnorm(
        ...     nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4)))
        >>> type(m[1]).__name__
        'SyncBatchNorm'
    """

    _ranks = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        if process_group is not None:
            raise ValueError(f"SyncBatchNorm: only the default process group (None) is "
                             f"supported, got process_group={process_group!r}")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)

    def forward(self, input):
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            with grad_mode.no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.item())
        x = input._data
        axes = tuple(i for i in range(x.ndim) if i != 1)
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        local = np.concatenate([x.sum(axis=axes), [x.size // x.shape[1]]]).astype(x.dtype)
        total = _allreduce_sum(local)                                    # (C + 1,)
        count = int(total[-1])
        if count <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all "
                             f"ranks when training, got input size {tuple(input.shape)}")
        mean = total[:-1] / count
        var = _allreduce_sum(((x - mean.reshape(shape)) ** 2).sum(axis=axes)) / count  # (C,)
        if self.track_running_stats and self.running_mean is not None:
            with grad_mode.no_grad():
                rm, rv = self.running_mean._data, self.running_var._data
                rm[...] = (1 - factor) * rm + factor * mean
                rv[...] = (1 - factor) * rv + factor * var * (count / (count - 1))
                self.running_mean._version[0] += 1
                self.running_var._version[0] += 1
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype)
        return _SyncBatchNormFn.apply(input, self.weight, self.bias, mean=mean.astype(x.dtype),
                                      invstd=invstd, count=count, shape=shape)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every ``BatchNorm1d/2d/3d`` in ``module`` by a ``SyncBatchNorm`` sharing its
        parameters and buffers (torch's function); returns the converted module."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
        for name, child in module.named_children():
            setattr(out, name, cls.convert_sync_batchnorm(child, process_group))
        return out
