"""Data-parallel training from svertka.train and the CLI (``svertka train --nproc 2``)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
from tests.distributed._mpi import mpi_env, require_mpi, run_mpi

from svertka import cli
from svertka import distributed as dist


def test_sharded_evaluate_counts_each_sample_once_and_matches_one_process(tmp_path):
    out = run_mpi(tmp_path, """
        import numpy as np
        import svertka
        import svertka.distributed as dist
        from svertka import nn, train
        from svertka.data import DataLoader, TensorDataset

        dist.init_process_group("mpi")
        rng = np.random.default_rng(0)
        n = 37                                   # odd: a padding sampler would count one twice
        data = TensorDataset(svertka.tensor(rng.standard_normal((n, 5))),
                             svertka.tensor(rng.integers(0, 3, n)))
        svertka.manual_seed(0)
        model = nn.Linear(5, 3).double()
        ddp = nn.parallel.DistributedDataParallel(model)
        shard = train.shard_for_evaluation(data)
        assert len(shard) == (19 if dist.get_rank() == 0 else 18)
        got = train.evaluate(ddp, DataLoader(shard, batch_size=4))
        want = train.evaluate(model, DataLoader(data, batch_size=5))
        assert got["samples"] == n
        assert got["confusion_matrix"] == want["confusion_matrix"]
        for key in ("accuracy", "top5_accuracy"):
            assert got[key] == want[key], key
        assert abs(got["loss"] - want["loss"]) <= 1e-12 * abs(want["loss"])
        print("OK")
    """)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("OK") == 2


def _svertka(args, timeout=240):
    return subprocess.run([sys.executable, "-m", "svertka", *args], capture_output=True,
                          text=True, timeout=timeout, env=mpi_env())


def test_cli_nproc_trains_on_two_ranks_rank0_reports_and_resumes(tmp_path, capsys):
    require_mpi()
    run = tmp_path / "run"
    out = _svertka(["train", "--nproc", "2", "--epochs", "1", "--batch-size", "128",
                    "--out", str(run)])
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("epoch   1/1") == 1          # only rank 0 prints
    assert "2 processes (batch 128 each)" in out.stdout
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_samples"] == 359                # digits' test set, each image once
    assert np.sum(metrics["confusion_matrix"]) == 359
    # the checkpoint is the bare model's: a single process evaluates it to the same accuracy
    assert cli.main(["evaluate", str(run / "last.svk"), "--json"]) == 0
    single = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert single["accuracy"] == metrics["test_accuracy"]
    res = _svertka(["train", "--nproc", "2", "--resume", str(run), "--epochs", "2", "--quiet"])
    assert res.returncode == 0, res.stdout + res.stderr
    log = json.loads((run / "log.json").read_text())
    assert [e["epoch"] for e in log["epochs"]] == [1, 2]


def test_cli_nproc_without_mpi_says_what_to_install(monkeypatch, capsys):
    monkeypatch.setattr(dist, "is_available", lambda: False)
    assert cli.main(["train", "--nproc", "2", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert 'svertka train: --nproc 2 needs mpi4py' in err
    assert 'pip install "svertka[mpi]"' in err


def test_cli_nproc_ctrl_c_saves_interrupted_checkpoint_once_and_exits_130(tmp_path):
    require_mpi()
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "svertka", "train", "--nproc", "2",
                             "--epochs", "200", "--out", str(run)], env=mpi_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)     # its own group, as a terminal's job
    try:
        for _ in range(1200):                           # at most 2 minutes for one epoch
            if (run / "log.csv").exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)              # Ctrl-C: the whole foreground group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, out + err
    assert (run / "interrupted.svk").exists()
    assert out.count("interrupted: saved") == 1         # rank 0 only
    assert json.loads((run / "metrics.json").read_text())["stopped"] == "interrupted"
