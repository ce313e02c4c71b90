"""``svertka export RUN_OR_CHECKPOINT model.onnx``: the written model runs in onnxruntime with
the checkpoint's outputs; bad input is one line and exit status 2."""

from __future__ import annotations

import numpy as np
import pytest

import svertka
from svertka import cli, models, train

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder as 'svertka train' writes it (lenet5 on the 8x8 digits), untrained."""
    d = tmp_path_factory.mktemp("run")
    svertka.manual_seed(0)
    model = models.get_model("lenet5", num_classes=10, in_channels=1, input_size=(1, 8, 8))
    config = {"model": "lenet5", "dataset": "digits", "classes": [str(i) for i in range(10)],
              "input_shape": [1, 8, 8]}
    train.save_checkpoint(d / "best.svk", model, extra={"config": config})
    return d, model


@pytest.mark.parametrize("flags, batch", [([], 1), (["--dynamic-batch", "--opset", "18"], 3)],
                         ids=["default", "dynamic-batch"])
def test_cli_export_writes_a_model_onnxruntime_runs(run, tmp_path, capsys, flags, batch):
    folder, model = run
    out = tmp_path / "model.onnx"
    assert cli.main(["export", str(folder), str(out), *flags]) == 0     # a run folder
    assert "opset" in capsys.readouterr().out
    x = svertka.rand(batch, 1, 8, 8)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {"input": x.numpy()})
    model.eval()
    with svertka.no_grad():
        want = model(x).numpy()
    assert np.max(np.abs(got - want)) <= 1e-4 * np.max(np.abs(want))


def test_cli_export_input_flag_sets_the_traced_size(run, tmp_path):
    folder, _ = run
    out = tmp_path / "m.onnx"
    assert cli.main(["export", str(folder / "best.svk"), str(out), "--input", "1x16x16"]) == 0
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == [1, 1, 16, 16]


@pytest.mark.parametrize("argv, message", [
    (["{d}/missing.svk", "{t}/m.onnx"], "missing.svk: No such file or directory"),
    (["{d}", "{t}/m.onnx", "--input", "1xx8"],
     "argument --input: expected positive sizes like 1x28x28 (C x H x W), got '1xx8'"),
    (["{d}", "{t}/m.onnx", "--input", "3x8x8"],
     "--input 3x8x8 has 3 channels, the model of {d} takes 1"),
    (["{d}", "{t}/m.onnx", "--opset", "9"], "argument --opset: invalid choice: 9"),
    (["{d}", "{t}/no-such-folder/m.onnx"],
     "cannot write {t}/no-such-folder/m.onnx: the folder {t}/no-such-folder does not exist"),
], ids=["missing-checkpoint", "input-syntax", "input-channels", "opset", "no-folder"])
def test_cli_export_bad_input_is_one_line_and_exit_2(run, tmp_path, capsys, argv, message):
    folder, _ = run
    argv = [a.format(d=folder, t=tmp_path) for a in argv]
    code = cli.main(["export", *argv])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("svertka export: "), err
    assert message.format(d=folder, t=tmp_path) in lines[0], err


def test_cli_predict_of_the_exported_model_equals_predict_of_its_run(run, tmp_path, capsys):
    """The file keeps the run's class names and input normalisation (ONNX metadata_props), so
    `svertka predict model.onnx` prepares images as training did and prints the same lines."""
    folder, _ = run
    out = tmp_path / "m.onnx"
    image = tmp_path / "digit.npy"
    np.save(image, np.random.default_rng(0).random((8, 8)).astype(np.float32))
    assert cli.main(["export", str(folder), str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["predict", str(folder), str(image), "--top", "5"]) == 0
    from_run = capsys.readouterr().out
    assert cli.main(["predict", str(out), str(image), "--top", "5"]) == 0
    from_onnx = capsys.readouterr().out
    assert from_onnx == from_run and from_run.count(",") == 4
