"""Datasets, samplers and the DataLoader."""

import threading
import time

import numpy as np
import pytest

import svertka
from svertka.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    Subset,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)
from svertka.data.datasets import Digits


class Squares(Dataset):
    """Samples as (array, int, float, dict); records which thread loaded them."""

    def __init__(self, n=10, delay=0.0):
        self.n, self.delay, self.threads = n, delay, set()

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        return np.full(2, i, dtype=np.float32), i, float(i) / 2, {"sq": i * i}


class Noisy(Dataset):
    """Random augmentation through svertka's generator."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return svertka.randn(3) + i


def _flat(loader):
    return [b[1].tolist() if isinstance(b, list) else b.tolist() for b in loader]


def test_last_partial_batch_is_kept_or_dropped():
    ds = TensorDataset(svertka.arange(10))
    assert [len(b[0]) for b in DataLoader(ds, batch_size=4)] == [4, 4, 2]
    assert [len(b[0]) for b in DataLoader(ds, batch_size=4, drop_last=True)] == [4, 4]
    assert len(DataLoader(ds, batch_size=4)) == 3
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2


def test_shuffle_is_a_permutation_and_reproducible_with_seed():
    ds = TensorDataset(svertka.arange(50))
    svertka.manual_seed(1)
    a = [b[0].tolist() for b in DataLoader(ds, batch_size=8, shuffle=True)]
    svertka.manual_seed(1)
    b = [b[0].tolist() for b in DataLoader(ds, batch_size=8, shuffle=True)]
    assert a == b
    assert sorted(sum(a, [])) == list(range(50)) and sum(a, []) != list(range(50))
    loader = DataLoader(ds, batch_size=8, shuffle=True, generator=7)
    assert [x[0].tolist() for x in loader] == [x[0].tolist() for x in
                                               DataLoader(ds, batch_size=8, shuffle=True,
                                                          generator=7)]
    g = np.random.default_rng(3)
    epochs = DataLoader(ds, batch_size=50, shuffle=True, generator=g)
    assert next(iter(epochs))[0].tolist() != next(iter(epochs))[0].tolist()  # new order per epoch


def test_prefetching_gives_the_same_batches_as_synchronous_loading():
    ds = Noisy()
    svertka.manual_seed(5)
    sync = [b.numpy().copy() for b in DataLoader(ds, batch_size=5, shuffle=True,
                                                 prefetch_factor=0)]
    svertka.manual_seed(5)
    pre = [b.numpy().copy() for b in DataLoader(ds, batch_size=5, shuffle=True, num_workers=3)]
    assert len(sync) == len(pre) == 3
    for a, b in zip(sync, pre):
        np.testing.assert_array_equal(a, b)


def test_prefetching_loads_ahead_in_a_background_thread():
    ds = Squares(n=6)
    loaded, all_loaded = [], threading.Event()

    def getitem(i, _get=ds.__getitem__):
        loaded.append((i, threading.current_thread().name))
        if len(loaded) == len(ds):
            all_loaded.set()
        return _get(i)

    ds.__getitem__ = getitem
    it = iter(DataLoader(_Indexable(ds), batch_size=2))
    first = next(it)
    # the next two batches are loaded ahead, by the loader's thread, before anyone asks
    assert all_loaded.wait(timeout=10), f"only {sorted(i for i, _ in loaded)} were loaded ahead"
    assert all(name.startswith("svertka-loader") for i, name in loaded if i >= 2)
    before = list(loaded)
    rest = list(it)
    assert loaded == before  # the rest came from the prefetched batches: nothing loaded again
    assert [b[1].tolist() for b in [first] + rest] == [[0, 1], [2, 3], [4, 5]]


class _Indexable(Dataset):
    """Forwards to an object whose ``__getitem__`` was replaced on the instance."""

    def __init__(self, inner):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, i):
        return self.inner.__getitem__(i)


def test_default_collate_handles_arrays_numbers_and_dicts_like_torch():
    x, i, f, d = default_collate([Squares()[k] for k in range(3)])
    assert x.shape == (3, 2) and x.dtype == svertka.float32
    assert i.dtype == svertka.int64 and i.tolist() == [0, 1, 2]
    assert f.dtype == svertka.float64 and f.tolist() == [0.0, 0.5, 1.0]
    assert d["sq"].tolist() == [0, 1, 4]
    with pytest.raises(ValueError, match=r"stack expects each tensor to be equal size"):
        default_collate([svertka.zeros(2), svertka.zeros(3)])


def test_tensor_dataset_fast_path_equals_per_sample_collate():
    x, y = svertka.randn(9, 2, 3), svertka.arange(9)
    ds = TensorDataset(x, y)
    fast = list(DataLoader(ds, batch_size=4, shuffle=True, generator=0))
    slow = list(DataLoader(ds, batch_size=4, shuffle=True, generator=0,
                           collate_fn=default_collate))
    for (a, b), (c, d) in zip(fast, slow):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())


def test_tensor_dataset_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match=r"size mismatch between tensors: first dimensions are "
                                         r"\[3, 4\]"):
        TensorDataset(svertka.zeros(3), svertka.zeros(4))


def test_random_split_counts_fractions_and_disjointness():
    ds = TensorDataset(svertka.arange(10))
    a, b, c = random_split(ds, [5, 3, 2], generator=0)
    idx = a.indices + b.indices + c.indices
    assert sorted(idx) == list(range(10)) and (len(a), len(b), len(c)) == (5, 3, 2)
    assert [len(s) for s in random_split(ds, [0.5, 0.3, 0.2], generator=1)] == [5, 3, 2]
    with pytest.raises(ValueError, match=r"sum of input lengths \(9\) does not equal the length "
                                         r"of the input dataset \(10\)"):
        random_split(ds, [5, 4])


def test_subset_and_concat_index_correctly():
    ds = TensorDataset(svertka.arange(5))
    assert Subset(ds, [4, 0])[0][0].item() == 4
    cat = ConcatDataset([ds, Subset(ds, [1, 2])])
    assert len(cat) == 7 and cat[5][0].item() == 1 and cat[-1][0].item() == 2
    assert len(ds + ds) == 10
    with pytest.raises(IndexError, match="index 7 is out of range for length 7"):
        cat[7]


def test_samplers():
    ds = list(range(10))
    s = RandomSampler(ds, replacement=True, num_samples=30, generator=0)
    assert len(list(s)) == 30 and set(s) <= set(ds)
    w = WeightedRandomSampler([0, 0, 1, 0], num_samples=5, generator=0)
    assert list(w) == [2] * 5
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    loader = DataLoader(TensorDataset(svertka.arange(6)),
                        batch_sampler=BatchSampler(range(6), 3, False))
    assert [b[0].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5]]


def test_dataloader_rejects_bad_arguments():
    ds = TensorDataset(svertka.arange(4))
    with pytest.raises(ValueError, match="batch_size should be a positive integer, got "
                                         "batch_size=0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=range(4))


def test_digits_is_embedded_stratified_and_deterministic():
    train, test = Digits(train=True), Digits(train=False)
    assert len(train) + len(test) == 1797
    counts = np.bincount(test.targets, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 37  # every class held out ~20%
    x, y = train[0]
    assert x.shape == (1, 8, 8) and x.dtype == svertka.float32 and 0 <= x.numpy().min()
    assert x.numpy().max() <= 1.0 and isinstance(y, int)
    assert not set(map(bytes, train.data)) >= set(map(bytes, test.data))
    np.testing.assert_array_equal(Digits(train=False).targets, test.targets)
    xb, yb = next(iter(DataLoader(test, batch_size=16)))
    assert xb.shape == (16, 1, 8, 8) and yb.dtype == svertka.int64
    np.testing.assert_array_equal(xb[3].numpy(), test[3][0].numpy())
