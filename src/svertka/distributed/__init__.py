"""svertka.distributed: collective communication between processes, over MPI (torch's names).

Launch several copies of a script with ``mpiexec`` and they form one process group::

    mpiexec -n 2 python train.py            # on this machine
    mpiexec -n 8 -hosts a,b python train.py # on two machines

    import svertka.distributed as dist
    dist.init_process_group(backend="mpi")  # also called by DistributedDataParallel
    t = svertka.ones(3) * dist.get_rank()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)  # in place, on every rank: 0 + 1 = 1

The transport is MPI through mpi4py (``pip install "svertka[mpi]"`` installs mpi4py and the
MPICH runtime, whose ``mpiexec`` is then on the path). A single process without mpi4py keeps
working: ``is_available()`` is False, ``is_initialized()`` False, and the collectives raise an
error that says what to install.

Failure: after ``init_process_group`` an uncaught exception on any rank calls ``MPI_Abort``,
so the whole job ends with a non-zero exit instead of the other ranks waiting forever in a
collective (torch leaves this to its watchdog timeout; mpi4py's own ``-m mpi4py`` runner does
the same as here).

Differences from torch, on purpose: the only backend is ``"mpi"``; ``group`` arguments accept
only ``None`` (the world); ``all_reduce``'s ``AVG`` is allowed on CPU tensors (torch's gloo
rejects it; NCCL has it).
"""

from __future__ import annotations

import enum
import os
import sys

import numpy as np

from svertka._validate import error, is_int, type_error

__all__ = [
    "ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast",
    "destroy_process_group", "get_backend", "get_rank", "get_world_size",
    "init_process_group", "is_available", "is_initialized", "is_mpi_launch",
]

_INSTALL = 'pip install "svertka[mpi]"'
_LAUNCH_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE",
                "MPI_LOCALNRANKS")


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' tensors."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"


class _State:
    comm = None          # the MPI communicator once initialised
    mpi = None           # the mpi4py.MPI module
    prev_excepthook = None


def _import_mpi(fn):
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise RuntimeError(
            f"{fn}: distributed training needs mpi4py and an MPI runtime, which are not "
            f"installed ({exc}); install them with: {_INSTALL}") from None
    return MPI


def is_available():
    """True when mpi4py can be imported (an MPI runtime is then present)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_mpi_launch():
    """True when this process was started by ``mpiexec``/``mpirun`` with more than one rank.

    Looked up in the environment the common launchers set (MPICH/Hydra, Open MPI, PMIx,
    MVAPICH), so nothing is imported.
    """
    for var in _LAUNCH_VARS[:-1]:
        value = os.environ.get(var)
        if value is not None:
            try:
                return int(value) > 1
            except ValueError:
                return False
    return False


def is_initialized():
    """True between ``init_process_group`` and ``destroy_process_group``."""
    return _State.comm is not None


def _abort_excepthook(exc_type, exc, tb):
    """Print the traceback, then end every rank: the others would wait in a collective."""
    prev = _State.prev_excepthook or sys.__excepthook__
    prev(exc_type, exc, tb)
    comm = _State.comm
    if comm is not None and comm.Get_size() > 1:
        try:
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            code = 130 if issubclass(exc_type, KeyboardInterrupt) else 1
            comm.Abort(code)


def init_process_group(backend="mpi", init_method=None, world_size=-1, rank=-1, **kwargs):
    """Join the process group of this ``mpiexec`` launch (a group of one when run alone).

    Args:
        backend: ``"mpi"`` (the only one).
        init_method, world_size, rank: accepted for torch's signature; with MPI the launcher
            decides them, so values that disagree with it are errors.

    Calling it twice is an error, as in torch. Installs an ``excepthook`` that aborts the
    whole job when one rank dies of an exception (see the module docstring).

    Examples:
        >>> import svertka.distributed as dist
        >>> dist.is_initialized()
        False
    """
    fn = "init_process_group"
    if backend is None:
        backend = "mpi"
    if not isinstance(backend, str):
        raise type_error(fn, f"backend must be a str, got backend={backend!r}")
    if backend.lower() != "mpi":
        raise error(fn, f"only the 'mpi' backend is available, got backend={backend!r}")
    if _State.comm is not None:
        raise RuntimeError(f"{fn}: trying to initialize the default process group twice")
    MPI = _import_mpi(fn)
    comm = MPI.COMM_WORLD
    if world_size not in (-1, None) and world_size != comm.Get_size():
        raise error(fn, f"world_size={world_size} disagrees with the MPI launch of "
                        f"{comm.Get_size()} processes")
    if rank not in (-1, None) and rank != comm.Get_rank():
        raise error(fn, f"rank={rank} disagrees with the MPI rank {comm.Get_rank()}")
    _State.mpi, _State.comm = MPI, comm
    if sys.excepthook is not _abort_excepthook:
        _State.prev_excepthook = sys.excepthook
        sys.excepthook = _abort_excepthook


def destroy_process_group(group=None):
    """Leave the process group (MPI itself is finalised at interpreter exit)."""
    _check_group(group, "destroy_process_group")
    if _State.comm is None:
        raise RuntimeError("destroy_process_group: the default process group has not been "
                           "initialized; call init_process_group first")
    _State.comm = None
    if sys.excepthook is _abort_excepthook:
        sys.excepthook = _State.prev_excepthook or sys.__excepthook__
    _State.prev_excepthook = None


def _check_group(group, fn):
    if group is not None:
        raise error(fn, f"only the default group (None) is supported, got group={group!r}")


def _comm(fn):
    if _State.comm is None:
        if not is_available():
            _import_mpi(fn)
        raise RuntimeError(f"{fn}: the default process group has not been initialized; call "
                           f"svertka.distributed.init_process_group(backend='mpi') first")
    return _State.comm


def get_backend(group=None):
    """The backend of the process group: always ``'mpi'``."""
    _check_group(group, "get_backend")
    _comm("get_backend")
    return "mpi"


def get_rank(group=None):
    """This process's rank, 0 .. world size - 1 (torch: an error before initialisation)."""
    _check_group(group, "get_rank")
    return _comm("get_rank").Get_rank()


def get_world_size(group=None):
    """The number of processes in the group (torch: an error before initialisation)."""
    _check_group(group, "get_world_size")
    return _comm("get_world_size").Get_size()


def barrier(group=None, async_op=False):
    """Wait until every rank has reached this call."""
    _check_group(group, "barrier")
    comm = _comm("barrier")
    if async_op:
        return Work(comm.Ibarrier())
    comm.Barrier()
    return None


class Work:
    """The handle of an ``async_op=True`` collective: ``wait()`` finishes it."""

    def __init__(self, request, finish=None):
        self._request, self._finish = request, finish

    def is_completed(self):
        """Whether the collective has finished."""
        return self._request is None or self._request.Test()

    def wait(self, timeout=None):
        """Block until the collective has finished; return ``True``."""
        if self._request is not None:
            self._request.Wait()
            self._request = None
            if self._finish is not None:
                self._finish()
                self._finish = None
        return True


def _check_tensor(tensor, fn, name="tensor"):
    from svertka.tensor import Tensor

    if not isinstance(tensor, Tensor):
        raise type_error(fn, f"{name} must be a svertka Tensor, got {type(tensor).__name__}")


def _mpi_op(op, fn):
    MPI = _State.mpi
    table = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX,
             ReduceOp.MIN: MPI.MIN, ReduceOp.PRODUCT: MPI.PROD}
    if op not in table:
        raise type_error(fn, f"op must be a svertka.distributed.ReduceOp, got op={op!r}")
    return table[op]


def _write_back(tensor, buf):
    """Store ``buf`` into ``tensor`` in place (a new version, as an in-place op makes)."""
    if buf is not tensor._data:
        tensor._data[...] = buf
    tensor._version[0] += 1


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` across ranks, in place on every rank (torch's semantics).

    ``AVG`` divides the sum by the world size in the tensor's dtype (integers: floor
    division). With ``async_op=True`` a ``Work`` is returned and ``tensor`` holds the result
    after ``wait()``.
    """
    fn = "all_reduce"
    _check_tensor(tensor, fn)
    _check_group(group, fn)
    comm = _comm(fn)
    mpi_op = _mpi_op(op, fn)
    buf = np.ascontiguousarray(tensor._data)
    size = comm.Get_size()

    def finish():
        if op is ReduceOp.AVG:
            if buf.dtype.kind in "fc":
                buf[...] /= size
            else:
                buf[...] //= size
        _write_back(tensor, buf)

    if async_op:
        return Work(comm.Iallreduce(_State.mpi.IN_PLACE, buf, op=mpi_op), finish)
    comm.Allreduce(_State.mpi.IN_PLACE, buf, op=mpi_op)
    finish()
    return None


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank, in place."""
    fn = "broadcast"
    _check_tensor(tensor, fn)
    _check_group(group, fn)
    comm = _comm(fn)
    size = comm.Get_size()
    if not is_int(src) or not 0 <= src < size:
        raise error(fn, f"src must be a rank in [0, {size}), got src={src!r}")
    buf = np.ascontiguousarray(tensor._data)
    if async_op:
        return Work(comm.Ibcast(buf, root=src), lambda: _write_back(tensor, buf))
    comm.Bcast(buf, root=src)
    _write_back(tensor, buf)
    return None


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` with rank ``r``'s ``tensor``, on every rank (in place).

    ``tensor_list`` holds world-size tensors shaped and typed like ``tensor``.
    """
    fn = "all_gather"
    _check_tensor(tensor, fn)
    _check_group(group, fn)
    comm = _comm(fn)
    size = comm.Get_size()
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != size:
        got = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else tensor_list
        raise error(fn, f"tensor_list must be a list of {size} tensors (the world size), "
                        f"got {got!r}")
    for i, t in enumerate(tensor_list):
        _check_tensor(t, fn, f"tensor_list[{i}]")
        if t.shape != tensor.shape or t._data.dtype != tensor._data.dtype:
            raise error(fn, f"tensor_list[{i}] has shape {tuple(t.shape)} and dtype "
                            f"{t._data.dtype}, expected {tuple(tensor.shape)} and "
                            f"{tensor._data.dtype} like tensor")
    send = np.ascontiguousarray(tensor._data)
    recv = np.empty((size,) + send.shape, dtype=send.dtype)

    def finish():
        for t, part in zip(tensor_list, recv):
            _write_back(t, part)

    if async_op:
        return Work(comm.Iallgather(send, recv), finish)
    comm.Allgather(send, recv)
    finish()
    return None


def _allreduce_array(array, op=ReduceOp.SUM):
    """Sum (or max) a NumPy array across ranks; the array itself when not initialised.

    For the training loop's counters, which are arrays, not tensors.
    """
    if _State.comm is None or _State.comm.Get_size() == 1:
        return array
    buf = np.ascontiguousarray(array).copy()
    _State.comm.Allreduce(_State.mpi.IN_PLACE, buf, op=_mpi_op(op, "all_reduce"))
    return buf
