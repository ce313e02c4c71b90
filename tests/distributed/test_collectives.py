"""svertka.distributed: torch's collective API over MPI, checked on 2 ranks under mpiexec, and
the single-process behaviour without a launch or without mpi4py."""

import re
import subprocess
import sys

import pytest
from tests.distributed._mpi import mpi_env, require_mpi, run_mpi

import svertka
import svertka.distributed as dist


def test_distributed_is_not_initialized_in_a_plain_process():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="has not been initialized"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="has not been initialized"):
        dist.all_reduce(svertka.ones(2))


def test_distributed_without_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert not dist.is_available()
    with pytest.raises(RuntimeError, match=r'pip install "svertka\[mpi\]"'):
        dist.init_process_group("mpi")
    with pytest.raises(RuntimeError, match=r'pip install "svertka\[mpi\]"'):
        dist.barrier()


def test_init_process_group_rejects_other_backends():
    with pytest.raises(ValueError, match="only the 'mpi' backend.*got backend='nccl'"):
        dist.init_process_group("nccl")


def test_distributed_single_process_group_has_world_size_one(tmp_path):
    require_mpi()
    code = (
        "import svertka, svertka.distributed as d\n"
        "d.init_process_group('mpi')\n"
        "t = svertka.tensor([1.0, 2.0]); d.all_reduce(t, op=d.ReduceOp.AVG)\n"
        "print(d.get_rank(), d.get_world_size(), t.tolist(), d.is_mpi_launch())\n"
        "d.destroy_process_group(); print(d.is_initialized())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=mpi_env(), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["0 1 [1.0, 2.0] False", "False"]


def test_collectives_match_torch_semantics_on_two_ranks(tmp_path):
    out = run_mpi(tmp_path, """
        import numpy as np
        import svertka
        import svertka.distributed as dist

        assert dist.is_mpi_launch() and not dist.is_initialized()
        dist.init_process_group(backend="mpi")
        r, n = dist.get_rank(), dist.get_world_size()
        assert n == 2 and dist.is_initialized()

        def val(dtype="float64"):
            return svertka.tensor(np.arange(6, dtype=dtype).reshape(2, 3) + 10 * r)

        t = val(); v = t._version_number
        assert dist.all_reduce(t) is None
        np.testing.assert_array_equal(t.numpy(), 2 * np.arange(6).reshape(2, 3) + 10)
        assert t._version_number == v + 1              # in place, a new version
        t = val(); dist.all_reduce(t, op=dist.ReduceOp.AVG)
        np.testing.assert_array_equal(t.numpy(), np.arange(6).reshape(2, 3) + 5.0)
        t = val("int64"); dist.all_reduce(t, op=dist.ReduceOp.AVG)
        np.testing.assert_array_equal(t.numpy(), np.arange(6).reshape(2, 3) + 5)
        t = val("float32"); dist.all_reduce(t, op=dist.ReduceOp.MAX)
        assert t.dtype == svertka.float32
        np.testing.assert_array_equal(t.numpy(), np.arange(6).reshape(2, 3) + 10)
        t = val(); work = dist.all_reduce(t, op=dist.ReduceOp.SUM, async_op=True)
        work.wait()
        np.testing.assert_array_equal(t.numpy(), 2 * np.arange(6).reshape(2, 3) + 10)
        # a non-contiguous view is reduced in place too
        base = val(); view = base.T
        dist.all_reduce(view)
        np.testing.assert_array_equal(base.numpy(), 2 * np.arange(6).reshape(2, 3) + 10)

        t = val(); dist.broadcast(t, src=1)
        np.testing.assert_array_equal(t.numpy(), np.arange(6).reshape(2, 3) + 10)
        outs = [svertka.zeros(2, 3, dtype=svertka.float64) for _ in range(n)]
        dist.all_gather(outs, val())
        for k in range(n):
            np.testing.assert_array_equal(outs[k].numpy(), np.arange(6).reshape(2, 3) + 10 * k)
        try:
            dist.broadcast(val(), src=2)
        except ValueError as e:
            assert "src must be a rank in [0, 2), got src=2" in str(e)
        else:
            raise AssertionError("no error")
        dist.barrier()
        dist.destroy_process_group()
        print(f"OK{r}")
    """)
    assert out.returncode == 0, out.stdout + out.stderr
    # the two ranks' lines may interleave in mpiexec's forwarded output: count tokens only
    assert sorted(re.findall(r"OK[01]", out.stdout)) == ["OK0", "OK1"]
