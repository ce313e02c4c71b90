"""A failing rank ends the whole job with a non-zero exit: never a hang in a collective.

The timeouts bound the work by construction (the other rank waits in a barrier forever unless
the job is aborted); they are not timing assertions.
"""

from tests.distributed._mpi import run_mpi

_WAITER = """
    import os, signal, sys
    import svertka.distributed as dist
    dist.init_process_group("mpi")
    if dist.get_rank() == 1:
        {failure}
    dist.barrier()          # rank 0 would wait here forever
    print("rank", dist.get_rank(), "passed the barrier")
"""


def test_exception_on_one_rank_aborts_the_job_nonzero(tmp_path):
    out = run_mpi(tmp_path, _WAITER.format(failure="raise RuntimeError('boom on rank 1')"),
                  timeout=60)
    assert out.returncode != 0
    assert "boom on rank 1" in out.stderr
    assert "passed the barrier" not in out.stdout


def test_killed_rank_ends_the_job_nonzero(tmp_path):
    out = run_mpi(tmp_path, _WAITER.format(failure="os.kill(os.getpid(), signal.SIGKILL)"),
                  timeout=60)
    assert out.returncode != 0
    assert "passed the barrier" not in out.stdout
