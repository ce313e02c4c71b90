"""SyncBatchNorm: with 2 ranks x B/2 it trains exactly as one process with BatchNorm and batch
B (float64); plain BatchNorm under DDP uses per-rank statistics and does not (as in torch)."""

import numpy as np
import torch
from tests.distributed._mpi import run_mpi

import svertka
from svertka import nn


def _model():
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 6 * 6, 8), nn.BatchNorm1d(8), nn.Tanh(),
                         nn.Linear(8, 4))


def test_convert_sync_batchnorm_shares_parameters_and_keys():
    svertka.manual_seed(0)
    model = _model()
    bn = model[1]
    keys = list(model.state_dict())
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert type(converted[1]) is nn.SyncBatchNorm and type(converted[5]) is nn.SyncBatchNorm
    assert converted[1].weight is bn.weight and converted[1].running_var is bn.running_var
    assert list(converted.state_dict()) == keys


def test_sync_batchnorm_single_process_matches_torch_batchnorm():
    x = np.random.default_rng(0).standard_normal((4, 3, 5, 5))
    ours = nn.SyncBatchNorm(3).double()
    theirs = torch.nn.BatchNorm2d(3).double()
    y = ours(svertka.tensor(x))
    yt = theirs(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-12)


def test_sync_batchnorm_two_ranks_match_one_process_batchnorm_float64(tmp_path):
    out = run_mpi(tmp_path, """
        import copy
        import numpy as np
        import svertka
        import svertka.distributed as dist
        from svertka import nn, optim
        from svertka.nn import functional as F

        dist.init_process_group("mpi")
        rank = dist.get_rank()
        svertka.manual_seed(0)
        base = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                             nn.Linear(3 * 6 * 6, 8), nn.BatchNorm1d(8), nn.Tanh(),
                             nn.Linear(8, 4)).double()
        rng = np.random.default_rng(1)
        X = svertka.tensor(rng.standard_normal((24, 1, 8, 8)) * 2 + 1)
        Y = svertka.tensor(rng.integers(0, 4, 24))

        def train(model, shard, steps=4, batch=6):
            opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            for k in range(steps):
                idx = np.arange(k * batch, (k + 1) * batch)[shard]
                opt.zero_grad()
                F.cross_entropy(model(X[idx.tolist()]), Y[idx.tolist()]).backward()
                opt.step()
            state = list(model.parameters()) + list(model.buffers())
            return [t.detach().numpy().copy() for t in state]

        reference = train(copy.deepcopy(base), slice(None))   # one process, batch 6
        mine = slice(rank, None, 2)                             # 3 of each 6 per rank
        sync = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(base))
        got = train(nn.parallel.DistributedDataParallel(sync), mine)
        worst = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(got, reference)
                    if b.dtype.kind == "f")
        assert worst < 1e-10, worst
        assert all(np.array_equal(a, b) for a, b in zip(got, reference) if b.dtype.kind == "i")
        plain = train(nn.parallel.DistributedDataParallel(copy.deepcopy(base)), mine)
        differ = max(np.abs(a - b).max() / np.abs(b).max() for a, b in zip(plain, reference)
                     if b.dtype.kind == "f")
        assert differ > 1e-4, differ       # per-rank statistics: not the one-process result
        print("OK", worst, differ)
    """, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("OK") == 2
