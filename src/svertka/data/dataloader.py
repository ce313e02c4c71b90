"""`DataLoader`: batches from a dataset, shuffled reproducibly, prepared in the background."""

from __future__ import annotations

import collections
import numbers
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from svertka._validate import error, is_int
from svertka.data.dataset import _as_generator
from svertka.data.sampler import BatchSampler, RandomSampler, SequentialSampler
from svertka.random import fork_rng
from svertka.tensor import Tensor


def default_collate(batch):
    """Stack a list of samples into a batch, as torch's ``default_collate``.

    Tensors and NumPy arrays are stacked into a Tensor; Python ints become an int64 tensor,
    floats a float64 tensor, bools a bool tensor; strings stay a list; tuples and lists are
    collated position by position (into a list, as torch), dicts key by key.

    >>> import svertka
    >>> x, y = default_collate([(svertka.zeros(2), 1), (svertka.ones(2), 0)])
    >>> x.shape, y.tolist()
    (svertka.Size([2, 2]), [1, 0])
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) > 1:
            raise error("default_collate", f"stack expects each tensor to be equal size, got "
                                           f"shapes {sorted(shapes)}")
        return Tensor._make(np.stack([b._data for b in batch]))
    if isinstance(elem, np.ndarray):
        return Tensor._make(np.stack(batch))
    if isinstance(elem, (bool, np.bool_)):
        return Tensor._make(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, (numbers.Integral, np.integer)):
        return Tensor._make(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, (numbers.Real, np.floating)):
        return Tensor._make(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if len({len(b) for b in batch}) != 1:
            raise error("default_collate", "each element in list of batch should be of equal "
                                           "size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, NumPy arrays, numbers, "
                    f"dicts or lists; found {type(elem).__name__}")


class DataLoader:
    """Iterate over a dataset in batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch (``None`` yields single samples, uncollated).
        shuffle: a new random order each epoch, drawn from ``generator`` (an int seed or a
            ``numpy.random.Generator``; default svertka's global generator, so
            ``svertka.manual_seed`` makes the batches reproducible).
        sampler, batch_sampler: custom index orders (exclusive with ``shuffle``).
        drop_last: drop the last incomplete batch.
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`).
        num_workers: threads that prepare batches in parallel (0: one background thread when
            ``prefetch_factor`` > 0). Threads, not processes: NumPy releases the GIL in its
            heavy operations, and samples need no pickling.
        prefetch_factor: batches prepared ahead per worker while the current one is used
            (default 2; 0 loads each batch synchronously, in the calling thread).

    Datasets with a ``get_batch(indices)`` method (``TensorDataset``, the in-memory image
    datasets) are gathered a whole batch at a time, without per-sample Python work.

    Examples::

        >>> import svertka
        >>> from svertka.data import DataLoader, TensorDataset
        >>> ds = TensorDataset(svertka.randn(10, 3), svertka.arange(10))
        >>> [tuple(x.shape) for x, y in DataLoader(ds, batch_size=4)]
        [(4, 3), (4, 3), (2, 3)]
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False):
        if batch_size is not None and (not is_int(batch_size) or batch_size <= 0):
            raise error("DataLoader", f"batch_size should be a positive integer, got "
                                      f"batch_size={batch_size!r}")
        if not is_int(num_workers) or num_workers < 0:
            raise error("DataLoader", f"num_workers should be a non-negative integer, got "
                                      f"num_workers={num_workers!r}")
        if sampler is not None and shuffle:
            raise error("DataLoader", "sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise error("DataLoader", "batch_sampler option is mutually exclusive with "
                                          "batch_size, shuffle, sampler, and drop_last")
            batch_size = None
        if prefetch_factor is None:
            prefetch_factor = 2
        if not is_int(prefetch_factor) or prefetch_factor < 0:
            raise error("DataLoader", f"prefetch_factor should be a non-negative integer, got "
                                      f"prefetch_factor={prefetch_factor!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.generator = generator
        self.worker_init_fn = worker_init_fn
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        self.sampler = sampler
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_sampler = batch_sampler
        self._auto_collate = collate_fn is None
        self.collate_fn = collate_fn if collate_fn is not None else default_collate

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def _load(self, indices, seed):
        """One batch (or one sample when batching is off), its randomness seeded by ``seed``."""
        with fork_rng(seed):
            return self._load_unseeded(indices)

    def _load_unseeded(self, indices):
        if self.batch_sampler is None:
            return self.dataset[indices]
        if self._auto_collate and hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(indices)
        return self.collate_fn([self.dataset[i] for i in indices])

    def __iter__(self):
        # the order is drawn here, in the calling thread, so it does not depend on timing
        order = list(self.batch_sampler if self.batch_sampler is not None else self.sampler)
        seeds = _as_generator(self.generator).integers(0, 2**63 - 1, size=len(order)).tolist()
        if self.prefetch_factor == 0:
            for indices, seed in zip(order, seeds):
                yield self._load(indices, seed)
            return
        workers = max(1, self.num_workers)
        if self.worker_init_fn is not None:
            for w in range(workers):
                self.worker_init_fn(w)
        ahead = workers * self.prefetch_factor
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="svertka-loader")
        try:
            pending = collections.deque()
            it = iter(zip(order, seeds))
            for indices, seed in it:
                pending.append(pool.submit(self._load, indices, seed))
                if len(pending) >= ahead:
                    break
            while pending:
                batch = pending.popleft().result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(self._load, *nxt))
                yield batch
        finally:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

