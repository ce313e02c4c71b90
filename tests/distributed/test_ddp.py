"""DistributedDataParallel on 2 ranks under mpiexec: equivalence with one process in float64,
bucketing during backward, no_sync, buffers and state_dict keys; and the single-process case."""

import pytest
from tests.distributed._mpi import run_mpi

import svertka
from svertka import nn

_COMMON = """
    import copy, sys
    import numpy as np
    import svertka
    import svertka.distributed as dist
    from svertka import nn, optim
    from svertka.nn import functional as F
    from svertka.data import DataLoader, DistributedSampler, TensorDataset

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()

    def make_model(seed):
        svertka.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                             nn.Linear(3 * 3 * 3, 10), nn.Tanh(), nn.Linear(10, 4)).double()

    rng = np.random.default_rng(0)
    X = svertka.tensor(rng.standard_normal((48, 1, 8, 8)))
    Y = svertka.tensor(rng.integers(0, 4, 48))
    data = TensorDataset(X, Y)

    def rel(a, b):
        return np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)
"""


def test_ddp_two_ranks_match_one_process_with_double_batch_float64(tmp_path):
    out = run_mpi(tmp_path, _COMMON + """
    B, K = 8, 5
    model = make_model(seed=100 + rank)            # different on purpose: DDP broadcasts rank 0's
    if rank == 0:
        reference = copy.deepcopy(model)
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.0005)   # several buckets
    assert len(ddp._buckets) > 2
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    sampler = DistributedSampler(data, world, rank, shuffle=True, seed=7)
    loader = DataLoader(data, batch_size=B // world, sampler=sampler)
    steps = 0
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for x, y in loader:
            opt.zero_grad()
            F.cross_entropy(ddp(x), y).backward()
            opt.step()
            steps += 1
            if steps == K:
                break
    weights = [p.detach().numpy() for p in model.parameters()]
    # the replicas stay identical
    for w in weights:
        t = svertka.tensor(w.copy()); dist.broadcast(t, src=0)
        assert np.array_equal(t.numpy(), w), "replicas diverged"
    if rank == 0:
        ref_sampler = DistributedSampler(data, 1, 0, shuffle=True, seed=7)
        ref_loader = DataLoader(data, batch_size=B, sampler=ref_sampler)
        ropt = optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
        steps = 0
        for epoch in range(2):
            ref_sampler.set_epoch(epoch)
            for x, y in ref_loader:
                ropt.zero_grad()
                F.cross_entropy(reference(x), y).backward()
                ropt.step()
                steps += 1
                if steps == K:
                    break
        worst = max(rel(w, r.detach().numpy()) for w, r in zip(weights, reference.parameters()))
        moved = max(rel(w, r.detach().numpy()) for w, r in
                    zip(weights, make_model(100).parameters()))
        print("REL", worst, "MOVED", moved, file=sys.stderr)
        assert worst < 1e-10 and moved > 1e-3
    print("OK")
    """, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("OK") == 2


def test_ddp_starts_buckets_during_backward_and_no_sync_accumulates(tmp_path):
    out = run_mpi(tmp_path, _COMMON + """
    model = make_model(seed=1)
    first = model[0].weight
    started = []
    # registered before DDP's hooks, so it runs when the first layer's gradient is complete,
    # before DDP copies it: the later layers' buckets must already be on the wire
    first.register_post_accumulate_grad_hook(lambda t: started.append(ddp._next_to_start))
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.0005)
    x, y = X[rank * 4:(rank + 1) * 4], Y[rank * 4:(rank + 1) * 4]
    F.cross_entropy(ddp(x), y).backward()
    assert started and started[0] >= 1, started

    # no_sync: local accumulation, then one averaged backward
    ddp.zero_grad()
    with ddp.no_sync():
        F.cross_entropy(ddp(x), y).backward()
    local = [p.grad.numpy().copy() for p in model.parameters()]
    other = [svertka.tensor(g.copy()) for g in local]
    for t in other:
        dist.all_reduce(t)
    assert any(not np.allclose(t.numpy(), 2 * g) for t, g in zip(other, local))  # ranks differ
    x2, y2 = X[8 + rank * 4:8 + (rank + 1) * 4], Y[8 + rank * 4:8 + (rank + 1) * 4]
    F.cross_entropy(ddp(x2), y2).backward()
    ref = make_model(seed=1)
    for xs, ys in ((X[0:8], Y[0:8]), (X[8:16], Y[8:16])):
        # the mean over 2 ranks of per-rank means over 4 = the mean over 8
        F.cross_entropy(ref(xs), ys).backward()
    worst = max(rel(p.grad.numpy(), r.grad.numpy())
                for p, r in zip(model.parameters(), ref.parameters()))
    assert worst < 1e-12, worst

    # buffers: rank 0's are broadcast in each training forward
    bn = nn.Sequential(nn.BatchNorm1d(3)).double()
    bn[0].running_mean.fill_(float(rank))
    d = nn.parallel.DistributedDataParallel(bn)
    assert np.all(bn[0].running_mean.numpy() == 0.0)        # construction broadcast
    bn[0].running_mean.fill_(float(rank))
    d(svertka.zeros(2, 3, dtype=svertka.float64))           # batch mean 0: 0.9 * 0 + 0.1 * 0
    assert np.all(bn[0].running_mean.numpy() == 0.0)        # forward broadcast, then update
    assert sorted(d.state_dict())[0].startswith("module.")
    print("OK")
    """, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("OK") == 2


def test_ddp_without_mpi4py_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(RuntimeError, match=r'pip install "svertka\[mpi\]"'):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_ddp_rejects_bad_arguments():
    with pytest.raises(TypeError, match="module must be an nn.Module, got int"):
        nn.parallel.DistributedDataParallel(3)
    with pytest.raises(ValueError, match="bucket_cap_mb must be a positive number, got "
                                         "bucket_cap_mb=0"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2), bucket_cap_mb=0)
    assert svertka is not None


def test_ddp_buckets_follow_reverse_order_dtype_and_cap():
    from svertka.nn.parallel.distributed import DistributedDataParallel as DDP

    a = nn.Linear(100, 100)                      # float32: 40,000 + 400 bytes
    b = nn.Linear(100, 10).double()              # float64: 8,000 + 80 bytes
    c = nn.Linear(10, 10)                        # float32: 400 + 40 bytes
    params = list(a.parameters()) + list(b.parameters()) + list(c.parameters())
    buckets = DDP._make_buckets(params, cap_mb=30_000 / 2**20)
    order = [p for bk in buckets for p in bk.params]
    assert sorted(map(id, order)) == sorted(map(id, params))     # each parameter once
    for bk in buckets:
        assert len({p.dtype for p in bk.params}) == 1
        assert bk.buffer.dtype == bk.params[0].numpy(force=True).dtype
        assert bk.buffer.nbytes <= 30_000 or len(bk.params) == 1
    # in the order they fill up during backward (reverse registration order): b's float64
    # bucket is complete before the float32 one that waits for a's bias
    assert [[id(p) for p in bk.params] for bk in buckets] == [
        [id(b.bias), id(b.weight)], [id(c.bias), id(c.weight), id(a.bias)], [id(a.weight)]]
