"""svertka.data.DistributedSampler against torch's index lists, and its partition property."""

import itertools

import numpy as np
import pytest
import torch.utils.data as tud

from svertka.data import DistributedSampler

CASES = [(n, r, drop) for n, r, drop in itertools.product(
    (0, 1, 2, 3, 5, 7, 10, 16, 17, 33), (1, 2, 3, 4, 8), (False, True))]


@pytest.mark.parametrize("n,replicas,drop_last", CASES,
                         ids=[f"n{n}-r{r}-{'drop' if d else 'pad'}" for n, r, d in CASES])
def test_distributed_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = tud.DistributedSampler(data, replicas, rank, shuffle=False,
                                        drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) == len(list(ours))


@pytest.mark.parametrize("n,replicas", [(10, 3), (17, 4), (2, 5), (64, 2)])
def test_distributed_sampler_shuffled_shares_partition_the_dataset(n, replicas):
    for drop_last in (False, True):
        shares = []
        for rank in range(replicas):
            s = DistributedSampler(range(n), replicas, rank, shuffle=True, seed=3,
                                   drop_last=drop_last)
            s.set_epoch(2)
            shares.append(list(s))
            assert len(shares[-1]) == len(s)
        flat = sorted(itertools.chain.from_iterable(shares))
        theirs = [len(tud.DistributedSampler(range(n), replicas, 0, drop_last=drop_last))]
        assert len(shares[0]) == theirs[0]
        if drop_last:
            assert len(set(flat)) == len(flat)                 # disjoint
        else:
            assert set(flat) == set(range(n))                  # every index, padded by wrap
            assert len(flat) - n < replicas


def test_distributed_sampler_shuffle_depends_on_seed_and_epoch_only():
    a = DistributedSampler(range(50), 2, 0, seed=1)
    b = DistributedSampler(range(50), 2, 0, seed=1)
    assert list(a) == list(b)
    order0 = list(a)
    a.set_epoch(1)
    assert list(a) != order0
    assert list(a) == list(DistributedSampler(range(50), 2, 0, seed=2))   # seed + epoch
    assert order0 != list(range(0, 50, 2))


def test_distributed_sampler_rejects_bad_rank_and_needs_a_group():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval "
                                         r"\[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive int, got "
                                         "num_replicas=0"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


def test_distributed_sampler_yields_python_ints():
    assert all(type(i) is int for i in DistributedSampler(np.arange(5), 2, 0))
