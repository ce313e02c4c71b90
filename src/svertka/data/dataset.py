"""Datasets: `Dataset`, `TensorDataset`, `Subset`, `ConcatDataset`, `random_split`."""

from __future__ import annotations

import bisect
import math
import numbers

import numpy as np

from svertka._validate import error, is_int
from svertka.random import get_rng
from svertka.tensor import Tensor


class Dataset:
    """A map-style dataset: ``__getitem__(i)`` returns sample ``i``, ``__len__`` the count.

    Subclasses may also define ``get_batch(indices)`` returning an already collated batch;
    ``DataLoader`` then skips per-sample loading and collation (in-memory datasets use it to
    gather a whole batch with one NumPy indexing operation).
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class TensorDataset(Dataset):
    """Samples are the ``i``-th rows of each tensor: ``(x[i], y[i])``.

    Examples::

        >>> import svertka
        >>> from svertka.data import TensorDataset
        >>> ds = TensorDataset(svertka.zeros(5, 3), svertka.arange(5))
        >>> len(ds), ds[2][1].item()
        (5, 2)
    """

    def __init__(self, *tensors):
        if not tensors:
            raise error("TensorDataset", "at least one tensor is needed")
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {i} must be a Tensor, got "
                                f"{type(t).__name__}")
            if t.ndim == 0:
                raise error("TensorDataset", f"tensor {i} is 0-d; tensors need a first "
                                             f"(sample) dimension")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            raise error("TensorDataset", f"size mismatch between tensors: first dimensions "
                                         f"are {sizes}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def get_batch(self, indices):
        """The samples at ``indices`` as one batch: one tensor per stored tensor."""
        idx = np.asarray(indices, dtype=np.int64)
        return [Tensor._make(t._data[idx]) for t in self.tensors]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return [self.dataset[self.indices[i]] for i in idx]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)

    def __getattr__(self, name):
        if name == "get_batch" and hasattr(self.__dict__.get("dataset"), "get_batch"):
            return lambda indices: self.dataset.get_batch([self.indices[i] for i in indices])
        raise AttributeError(f"'Subset' object has no attribute '{name}'")


class ConcatDataset(Dataset):
    """Several datasets one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise error("ConcatDataset", "datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]))

    def __len__(self):
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise IndexError(f"ConcatDataset: index {idx} is out of range for length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for length {n}")
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = 0 if d == 0 else int(self.cumulative_sizes[d - 1])
        return self.datasets[d][idx - start]


def _as_generator(generator):
    if generator is None:
        return get_rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if is_int(generator):
        return np.random.default_rng(int(generator))
    raise TypeError(f"generator must be None, an int seed or a numpy.random.Generator, got "
                    f"{type(generator).__name__}")


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping random subsets of the given lengths.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1 (the
    remainder is spread round-robin, as torch does). ``generator``: an int seed or a
    ``numpy.random.Generator`` (default: svertka's global generator).

    >>> import svertka
    >>> from svertka.data import TensorDataset, random_split
    >>> a, b = random_split(TensorDataset(svertka.arange(10)), [0.8, 0.2], generator=0)
    >>> len(a), len(b)
    (8, 2)
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, numbers.Real) and not is_int(x) for x in lengths) and \
            math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(not is_int(x) or x < 0 for x in lengths):
        raise error("random_split", f"lengths must be non-negative ints or fractions summing "
                                    f"to 1, got lengths={lengths}")
    if sum(lengths) != n:
        raise error("random_split", f"sum of input lengths ({sum(lengths)}) does not equal the "
                                    f"length of the input dataset ({n})")
    perm = _as_generator(generator).permutation(n)
    out, start = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[start:start + length].tolist()))
        start += length
    return out
