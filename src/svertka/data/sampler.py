"""Samplers: the order in which a DataLoader visits a dataset's indices."""

from __future__ import annotations

import numpy as np

from svertka import distributed as dist
from svertka._validate import error, is_int, type_error
from svertka.data.dataset import _as_generator


class Sampler:
    """Yields dataset indices; ``len`` is the number it yields."""

    def __iter__(self):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class SequentialSampler(Sampler):
    """Yield ``0, 1, ..., len(data_source) - 1`` in order, as
    ``torch.utils.data.SequentialSampler``.
    """

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation (or draws with replacement), a fresh one on each ``iter``."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if num_samples is not None and (not is_int(num_samples) or num_samples <= 0):
            raise error("RandomSampler", f"num_samples should be a positive integer, got "
                                         f"num_samples={num_samples!r}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        rng = _as_generator(self.generator)
        n = len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        reps = -(-self.num_samples // n) if n else 0
        order = np.concatenate([rng.permutation(n) for _ in range(reps)]) if reps else []
        return iter(list(order[:self.num_samples]))

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """Yield the given ``indices`` in a random order each epoch, as torch's."""

    def __init__(self, indices, generator=None):
        self.indices = list(indices)
        self.generator = generator

    def __iter__(self):
        perm = _as_generator(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in perm)

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """Indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.ndim != 1 or (self.weights < 0).any() or self.weights.sum() <= 0:
            raise error("WeightedRandomSampler", "weights must be a 1-D sequence of "
                                                 "non-negative numbers with a positive sum")
        self.num_samples, self.replacement, self.generator = num_samples, replacement, generator

    def __iter__(self):
        p = self.weights / self.weights.sum()
        rng = _as_generator(self.generator)
        return iter(rng.choice(len(p), self.num_samples, replace=self.replacement,
                               p=p).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups another sampler's indices into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size, drop_last):
        if not is_int(batch_size) or batch_size <= 0:
            raise error("BatchSampler", f"batch_size should be a positive integer, got "
                                        f"batch_size={batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(int(idx))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(Sampler):
    """Each of ``num_replicas`` processes visits its own share of a dataset (torch's semantics).

    The dataset's indices (shuffled when ``shuffle``) are padded by wrapping around to a
    multiple of ``num_replicas`` (or cut to one when ``drop_last``), and rank ``r`` takes every
    ``num_replicas``-th index from position ``r``. Every rank then yields
    ``num_samples = ceil(len / num_replicas)`` indices (``drop_last``:
    ``ceil((len - num_replicas) / num_replicas)`` when the length is not a multiple), and the
    ranks' shares together cover every index. Call ``set_epoch(epoch)`` before each epoch so
    that the shuffle differs between epochs while staying the same on every rank.

    Args:
        dataset: anything with ``len``.
        num_replicas: the number of processes; default: the world size of the initialised
            process group (``svertka.distributed``).
        rank: this process's rank; default: the process group's rank.
        shuffle: permute the indices with seed ``seed + epoch``.
        seed: the shuffle seed, the same on every rank.
        drop_last: drop the tail instead of padding it with repeated indices.

    Difference from torch, on purpose: with ``shuffle=True`` the permutation comes from
    NumPy's generator (``np.random.default_rng(seed + epoch).permutation``), not torch's, so
    the orders differ from torch's; the partition property is the same (without
    ``drop_last`` the shares cover every index, with the wrap-around padding; with it they are
    disjoint). Without shuffle the index lists are exactly torch's.

    Examples:
        >>> s = DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False)
        >>> list(s), len(s)
        ([1, 3, 0], 3)
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        fn = "DistributedSampler"
        if num_replicas is None or rank is None:
            if not dist.is_initialized():
                raise RuntimeError(
                    f"{fn}: num_replicas and rank default to the process group's, which is not "
                    f"initialized; call svertka.distributed.init_process_group() or pass "
                    f"num_replicas= and rank=")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not is_int(num_replicas) or num_replicas <= 0:
            raise error(fn, f"num_replicas must be a positive int, got "
                            f"num_replicas={num_replicas!r}")
        if not is_int(rank) or not 0 <= rank < num_replicas:
            raise error(fn, f"Invalid rank {rank!r}, rank should be in the interval "
                            f"[0, {num_replicas - 1}]")
        if not is_int(seed):
            raise type_error(fn, f"seed must be an int, got seed={seed!r}")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = -(-(n - self.num_replicas) // self.num_replicas)
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        # wrap around to pad (np.resize repeats cyclically), or cut the tail
        indices = np.resize(indices, self.total_size) if n else indices[:0]
        return iter(indices[self.rank:self.total_size:self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use ``seed + epoch`` for the next shuffle (the same on every rank)."""
        self.epoch = epoch
