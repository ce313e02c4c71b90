"""Run a Python script under ``mpiexec -n N`` from a test, with a timeout.

Skips (with the reason) where mpiexec or mpi4py is missing; CI installs both through the
``test`` extra (mpi4py, mpich).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def mpiexec_path():
    here = Path(sys.executable).parent / "mpiexec"
    return str(here) if here.exists() else shutil.which("mpiexec")


def require_mpi():
    """Skip the calling test unless mpi4py imports and an mpiexec is found."""
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'svertka[mpi]')")
    if mpiexec_path() is None:
        pytest.skip("no mpiexec on PATH or next to the Python executable "
                    "(pip install 'svertka[mpi]' installs MPICH's)")


def mpi_env(threads=1):
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


def run_mpi(tmp_path, code, n=2, timeout=120, args=()):
    """Write ``code`` to a script and run it on ``n`` ranks; returns the CompletedProcess."""
    require_mpi()
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    cmd = [mpiexec_path(), "-n", str(n), sys.executable, str(script), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=mpi_env(), cwd=tmp_path)
