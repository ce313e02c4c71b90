"""``svertka predict --explain gradcam``: the picture is written; mistakes are one line."""

from __future__ import annotations

import numpy as np
import pytest

from svertka import cli, models, train

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("explain")
    model = models.get_model("lenet5", num_classes=10, in_channels=1, input_size=(1, 8, 8))
    config = {"model": "lenet5", "dataset": "digits", "classes": [str(i) for i in range(10)],
              "input_shape": [1, 8, 8]}
    train.save_checkpoint(d / "run.svk", model, extra={"config": config})
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        np.save(d / f"{name}.npy", rng.uniform(size=(8, 8)).astype(np.float32))
    return d


def _png(path):
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_predict_explain_gradcam_writes_picture_next_to_each_image(run, capsys):
    assert cli.main(["predict", str(run / "run.svk"), str(run / "a.npy"), str(run / "b.npy"),
                     "--explain", "gradcam"]) == 0
    out = capsys.readouterr().out
    for name in ("a", "b"):
        assert _png(run / f"{name}.gradcam.png")
        assert f"{name}.gradcam.png" in out


def test_predict_explain_gradcam_with_layer_and_out(run, capsys):
    out = run / "cam.png"
    assert cli.main(["predict", str(run / "run.svk"), str(run / "a.npy"), "--explain",
                     "gradcam", "--layer", "features.0", "--out", str(out)]) == 0
    assert _png(out) and "'features.0'" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--explain", "gradcam", "--layer", "nope"], "--explain gradcam: grad_cam: model has no "
                                                  "module named 'nope'"),
    (["--layer", "features.0"], "--layer needs --explain gradcam"),
    (["{d}/b.npy", "--explain", "gradcam", "--out", "{d}/x.png"], "--out names one picture"),
    (["--explain", "saliency"], "argument --explain: invalid choice: 'saliency'"),
], ids=["unknown-layer", "layer-without-explain", "out-with-two-images", "unknown-method"])
def test_predict_explain_mistake_is_one_line(run, capsys, extra, message):
    argv = ["predict", str(run / "run.svk"), str(run / "a.npy")]
    argv += [a.format(d=run) for a in extra]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("svertka predict: "), err
    assert message in err


def test_predict_pretrained_model_explain_gradcam(tmp_path, capsys):
    import svertka

    svertka.manual_seed(0)
    svertka.save(models.lenet5(num_classes=10).state_dict(), tmp_path / "w.svk")
    np.save(tmp_path / "digit.npy", np.random.default_rng(0).uniform(size=(32, 32)))
    assert cli.main(["predict", "--model", "lenet5", "--weights", str(tmp_path / "w.svk"),
                     str(tmp_path / "digit.npy"), "--explain", "gradcam"]) == 0
    assert _png(tmp_path / "digit.gradcam.png")
