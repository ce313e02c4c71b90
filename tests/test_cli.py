"""The svertka command line, end to end on the embedded digits."""

import json
import subprocess
import sys

import numpy as np
import pytest

from svertka import cli


def test_help_reads_well(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "evaluate", "predict", "models", "datasets", "summary", "bench"):
        assert command in out
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    for flag in ("--model", "--dataset", "--data-dir", "--epochs", "--batch-size", "--lr",
                 "--optimizer", "--seed", "--out", "--resume", "--config"):
        assert flag in out


def test_models_and_datasets_lists(capsys):
    assert cli.main(["models"]) == 0
    assert "lenet5" in capsys.readouterr().out
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "digits" in out and "MNIST/raw" in out and "cifar-10-batches-py" in out


def test_train_evaluate_predict_resume_on_digits(tmp_path, capsys):
    run = tmp_path / "run"
    code = cli.main(["train", "--epochs", "2", "--out", str(run), "--quiet"])
    assert code == 0
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("test_accuracy", "test_loss", "epochs", "seconds", "model", "dataset"):
        assert key in metrics
    assert metrics["test_accuracy"] > 0.5 and metrics["epochs"] == 2  # chance is 0.1
    for name in ("log.csv", "log.json", "best.svk", "last.svk"):
        assert (run / name).exists(), name
    # resume continues the epoch count
    assert cli.main(["train", "--resume", str(run), "--epochs", "3", "--quiet"]) == 0
    log = json.loads((run / "log.json").read_text())
    assert [r["epoch"] for r in log["epochs"]] == [1, 2, 3]
    capsys.readouterr()
    assert cli.main(["evaluate", str(run / "best.svk")]) == 0
    assert "accuracy" in capsys.readouterr().out
    from svertka.data.datasets import Digits

    x, y = Digits(train=False)[0]
    np.save(tmp_path / "digit.npy", x.numpy())
    assert cli.main(["predict", str(run / "best.svk"), str(tmp_path / "digit.npy"),
                     "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count(" 0.") + out.count(" 1.") >= 2


def test_config_file_sets_options_and_flags_override(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('epochs = 1\nbatch_size = 64\noptimizer = "sgd"\nlr = 0.05\n')
    run = tmp_path / "run"
    assert cli.main(["train", "--config", str(config), "--batch-size", "128", "--out",
                     str(run), "--quiet"]) == 0
    cfg = json.loads((run / "metrics.json").read_text())["config"]
    assert cfg["epochs"] == 1 and cfg["optimizer"] == "sgd" and cfg["batch_size"] == 128
    bad = tmp_path / "bad.toml"
    bad.write_text("epochz = 3\n")
    with pytest.raises(cli.CommandError, match="unknown keys: epochz"):
        cli.cmd_train(cli.build_parser().parse_args(["train", "--config", str(bad)]))


def test_python_dash_m_svertka_runs():
    out = subprocess.run([sys.executable, "-m", "svertka", "models"], capture_output=True,
                         text=True, check=True).stdout
    assert "lenet5" in out


def test_bench_runs_one_small_workload_without_torch(capsys):
    assert cli.main(["bench", "-w", "lenet5", "-r", "1", "--warmup", "0", "--no-torch",
                     "--no-wait", "-t", "1"]) == 0
    out = capsys.readouterr().out
    assert "lenet5" in out and "GFLOP/s" in out


def test_bench_rounds_report_median_ratio_and_range(monkeypatch):
    # fake step times: round k gives ratio (k + 1) / 2 for the one workload
    from svertka import bench
    calls = []

    def fake_run_workload(wl, repeat, warmup, with_torch, quiet=True, steps=1):
        k = len(calls)
        calls.append(wl.name)
        return [[0.2] * repeat, [0.1 * (k + 1)] * repeat]

    monkeypatch.setattr(bench, "run_workload", fake_run_workload)
    monkeypatch.setattr(bench, "gemm_peak", lambda: 100.0)
    res = bench.run(["lenet5"], threads=1, repeat=3, with_torch=True, quiet=False, rounds=3)
    (row,) = res["workloads"]
    assert calls == ["lenet5"] * 3
    assert row["round_ratios"] == pytest.approx([0.5, 1.0, 1.5])
    assert row["ratio"] == pytest.approx(1.0)
    assert (row["ratio_min"], row["ratio_max"]) == pytest.approx((0.5, 1.5))
    assert row["torch_s"] == pytest.approx(0.2) and row["svertka_s"] == pytest.approx(0.2)
    assert "range 0.50-1.50x" in bench.format_table(res)
    assert "0.50-1.50x" in bench.format_markdown(res)


def test_bench_steps_time_several_steps_back_to_back_and_report_the_mean(monkeypatch):
    from svertka import bench
    clock = iter([0.0, 3.0, 10.0, 16.0])         # two timings: 3 s and 6 s for 3 steps

    monkeypatch.setattr(bench.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(bench.time, "sleep", lambda s: None)
    calls = []
    wl = bench.WORKLOADS["lenet5"]
    monkeypatch.setattr(bench._Lib, "step_fn", lambda self, *a: lambda: calls.append(1))
    times = bench.run_workload(wl, repeat=2, warmup=1, with_torch=False, quiet=False,
                               steps=3)
    assert len(calls) == 1 + 2 * 3                # warm-up, then 3 steps per timing
    assert times == [[pytest.approx(1.0), pytest.approx(2.0)]]


def test_bench_rejects_zero_steps(capsys):
    assert cli.main(["bench", "--steps", "0"]) == 2
    assert "--steps: expected a positive int, got '0'" in capsys.readouterr().err
    from svertka import bench
    with pytest.raises(ValueError, match="steps must be a positive int"):
        bench.run(["lenet5"], steps=0)


def test_bench_rejects_zero_rounds(capsys):
    assert cli.main(["bench", "--rounds", "0"]) == 2
    assert "--rounds: expected a positive int, got '0'" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs", [{"repeat": 0}, {"warmup": -1}, {"threads": 0}],
                         ids=["repeat-0", "warmup-negative", "threads-0"])
def test_bench_run_rejects_counts_below_their_minimum(kwargs):
    from svertka import bench
    with pytest.raises(ValueError, match=f"svertka bench: {next(iter(kwargs))} must be an int"):
        bench.run(["lenet5"], with_torch=False, **kwargs)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18_latency"])
def test_bench_workload_builds_the_same_layers_for_svertka_and_torch(name):
    torch = pytest.importorskip("torch")
    import svertka
    from svertka import bench
    wl = bench.WORKLOADS[name]
    ours = [tuple(p.shape) for p in wl.build(svertka.nn).parameters()]
    theirs = [tuple(p.shape) for p in wl.build(torch.nn).parameters()]
    assert ours == theirs
