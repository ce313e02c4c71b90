"""The command line's error contract: a user's mistake is one line on stderr,
``svertka <command>: <what is wrong>``, and exit status 2; Ctrl-C exits with 130; a bug keeps
its traceback. Every command line runs in-process (``cli.main``) on tiny files."""

import gzip
import json
import struct
import warnings
import zlib

import numpy as np
import pytest

import svertka
from svertka import cli, models, train


def _png(width, height, rgb=None):
    """A PNG file's bytes; without ``rgb`` only the header is valid (a decompression bomb)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"" if rgb is None else b"".join(b"\0" + row.tobytes() for row in rgb)
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _idx(path, images=None, labels=None):
    """An MNIST IDX file (gzipped): ``images`` (N, H, W) uint8 or ``labels`` (N,) uint8."""
    if images is not None:
        data = struct.pack(">IIII", 0x803, *images.shape) + images.tobytes()
    else:
        data = struct.pack(">II", 0x801, len(labels)) + labels.tobytes()
    path.write_bytes(gzip.compress(data))


def _mnist(root, train_hw=(28, 28), test_hw=(28, 28), n_train=2, magic_ok=True):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n, hw in (("train", n_train, train_hw), ("t10k", 2, test_hw)):
        _idx(raw / f"{split}-images-idx3-ubyte.gz", images=np.zeros((n, *hw), np.uint8))
        _idx(raw / f"{split}-labels-idx1-ubyte.gz", labels=np.arange(n, dtype=np.uint8) % 10)
    if not magic_ok:
        (raw / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0" * 40))
    return root


def _folder(root, bad=None):
    """train/ and test/ with classes a and b of 4x4 PNGs; ``bad`` bytes replace the second
    training image of class a (read while training, not while the dataset is built)."""
    rgb = np.full((4, 4, 3), 200, np.uint8)
    for split in ("train", "test"):
        for c in ("a", "b"):
            (root / split / c).mkdir(parents=True)
            for i in range(2):
                (root / split / c / f"{i}.png").write_bytes(_png(4, 4, rgb))
    if bad is not None:
        (root / "train" / "a" / "1.png").write_bytes(bad)
    return root


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "garbage.svk").write_bytes(b"not a checkpoint " * 20)
    (d / "a-file").write_text("x")
    (d / "ten.toml").write_text('epochs = "ten"\n')
    (d / "binary.toml").write_bytes(bytes(range(256)) * 4)
    (d / "dir.toml").mkdir()
    (d / "augment.toml").write_text('augment = "yes"\n')
    (d / "threads.toml").write_text('threads = "2"\n')
    (d / "bomb.png").write_bytes(_png(20000, 20000))
    (d / "not-an-image.png").write_bytes(b"hello")
    np.save(d / "strings.npy", np.full((8, 8), "a"))
    np.save(d / "complex.npy", np.ones((8, 8), np.complex64))
    np.save(d / "digit.npy", np.zeros((8, 8), np.float32))
    svertka.save([1, 2], d / "list.svk")
    # a run checkpoint as 'svertka train' writes it, without training
    model = models.get_model("lenet5", num_classes=10, in_channels=1, input_size=(1, 8, 8))
    config = {"model": "lenet5", "dataset": "digits", "classes": [str(i) for i in range(10)],
              "input_shape": [1, 8, 8]}
    train.save_checkpoint(d / "run.svk", model, extra={"config": config})
    train.save_checkpoint(d / "no-config.svk", model)
    train.save_checkpoint(d / "other-model.svk", svertka.nn.Linear(2, 2),
                          extra={"config": config})
    _mnist(d / "mnist-bad-magic", magic_ok=False)
    _mnist(d / "mnist-no-images", n_train=0)
    _mnist(d / "mnist-sizes-differ", test_hw=(20, 20))
    _folder(d / "folder-broken-image", bad=b"\x89PNG broken")
    _folder(d / "folder-bomb-image", bad=_png(20000, 20000))
    return d


T = "--quiet --epochs 1 --out {d}/out".split()
BAD = [
    # (argv with {d} for the files' folder, what the message must say)
    pytest.param(["train", "--epochs", "0"], "--epochs must be a positive integer, got 0",
                 id="epochs-0"),
    pytest.param(["train", *T, "--batch-size", "0"], "--batch-size must be a positive integer",
                 id="batch-size-0"),
    pytest.param(["train", *T, "--lr", "nan"], "--lr must be a finite number >= 0, got nan",
                 id="lr-nan"),
    pytest.param(["train", *T, "--seed", "-1"], "--seed must be a non-negative integer",
                 id="seed-negative"),
    pytest.param(["train", *T, "--model", "nope"], "unknown model 'nope'", id="unknown-model"),
    pytest.param(["train", "--quiet", "--epochs", "1", "--out", "{d}/a-file"],
                 "--out {d}/a-file is a file", id="out-is-a-file"),
    pytest.param(["train", "--resume", "{d}/garbage.svk"], "garbage.svk", id="resume-garbage"),
    pytest.param(["train", "--resume", "{d}/missing.svk"],
                 "{d}/missing.svk: No such file or directory", id="resume-missing"),
    pytest.param(["train", "--resume", "{d}/list.svk"], "not a training checkpoint",
                 id="resume-not-a-checkpoint-dict"),
    pytest.param(["train", *T, "--config", "{d}/ten.toml"],
                 "epochs must be an integer, got epochs = 'ten'", id="config-epochs-string"),
    pytest.param(["train", *T, "--config", "{d}/binary.toml"], "is not UTF-8 text",
                 id="config-binary-file"),
    pytest.param(["train", *T, "--config", "{d}/dir.toml"], "dir.toml: Is a directory",
                 id="config-directory"),
    pytest.param(["train", *T, "--config", "{d}/missing.toml"], "No such file",
                 id="config-missing"),
    pytest.param(["train", *T, "--config", "{d}/augment.toml"],
                 "augment must be true or false, got augment = 'yes'",
                 id="config-augment-string"),
    pytest.param(["train", *T, "--config", "{d}/threads.toml"],
                 "threads must be an integer, got threads = '2'", id="config-threads-string"),
    pytest.param(["train", *T, "--val-fraction", "1.0"], "--val-fraction must be a number in "
                 "[0, 1)", id="val-fraction-1"),
    pytest.param(["train", *T, "--val-fraction", "0.9999"], "nothing is left to train on",
                 id="val-fraction-leaves-no-training-image"),
    pytest.param(["train", *T, "--clip-grad", "-1"], "--clip-grad must be a finite number > 0",
                 id="clip-grad-negative"),
    pytest.param(["train", *T, "--clip-grad", "nan"], "--clip-grad must be a finite number > 0",
                 id="clip-grad-nan"),
    pytest.param(["train", *T, "--patience", "-1"], "--patience must be a positive integer",
                 id="patience-negative"),
    pytest.param(["train", *T, "--threads", "0"], "--threads must be a positive integer",
                 id="threads-0"),
    pytest.param(["train", *T, "--threads", "-2"], "--threads must be a positive integer",
                 id="threads-negative"),
    pytest.param(["train", *T, "--num-classes", "0"], "unrecognized arguments: --num-classes",
                 id="train-has-no-num-classes"),
    pytest.param(["train", *T, "--epochs", "x"], "argument --epochs: invalid int value",
                 id="epochs-not-an-int"),
    pytest.param(["train", *T, "--model", "wavenet_stack"],
                 "model 'wavenet_stack' on digits images of 1x8x8: conv1d", id="model-1d"),
    pytest.param(["train", *T, "--model", "unet"], "model 'unet' on digits images of 1x8x8",
                 id="model-too-deep-for-8x8"),
    pytest.param(["train", *T, "--dataset", "mnist", "--data-dir", "{d}/none"], "MNIST: missing",
                 id="mnist-missing"),
    pytest.param(["train", *T, "--dataset", "mnist", "--data-dir", "{d}/mnist-bad-magic"],
                 "train-images-idx3-ubyte.gz", id="mnist-bad-magic"),
    pytest.param(["train", *T, "--dataset", "mnist", "--data-dir", "{d}/mnist-no-images"],
                 "", id="mnist-no-training-images"),
    pytest.param(["train", *T, "--dataset", "mnist", "--data-dir", "{d}/mnist-sizes-differ"],
                 "", id="mnist-train-28x28-test-20x20"),
    pytest.param(["train", *T, "--dataset", "cifar10", "--data-dir", "{d}/none"], "CIFAR10",
                 id="cifar-missing"),
    pytest.param(["train", *T, "--dataset", "folder", "--data-dir", "{d}/none"], "ImageFolder",
                 id="folder-missing"),
    pytest.param(["train", *T, "--dataset", "folder"], "needs --data-dir", id="folder-no-dir"),
    pytest.param(["train", *T, "--dataset", "folder", "--data-dir", "{d}/folder-broken-image",
                  "--batch-size", "1"], "1.png", id="folder-broken-image-read-while-training"),
    pytest.param(["train", *T, "--dataset", "folder", "--data-dir", "{d}/folder-bomb-image",
                  "--batch-size", "1"], "decompression bomb", id="folder-decompression-bomb"),
    pytest.param(["evaluate", "{d}/missing.svk"], "{d}/missing.svk: No such file",
                 id="evaluate-missing"),
    pytest.param(["evaluate", "{d}/garbage.svk"], "garbage.svk", id="evaluate-garbage"),
    pytest.param(["evaluate", "{d}/no-config.svk"], "has no run configuration",
                 id="evaluate-checkpoint-without-config"),
    pytest.param(["predict", "{d}/other-model.svk", "{d}/digit.npy"],
                 "{d}/other-model.svk: Error(s) in loading state_dict for LeNet5: Missing key(s)",
                 id="predict-state-of-another-model"),
    pytest.param(["predict", "{d}/garbage.svk", "{d}/digit.npy"], "garbage.svk",
                 id="predict-garbage-checkpoint"),
    pytest.param(["predict", "{d}/run.svk", "{d}/bomb.png"], "decompression bomb",
                 id="predict-decompression-bomb"),
    pytest.param(["predict", "{d}/run.svk", "{d}/not-an-image.png"], "cannot read image",
                 id="predict-not-an-image"),
    pytest.param(["predict", "{d}/run.svk", "{d}/missing.png"], "missing.png: No such file",
                 id="predict-missing-image"),
    pytest.param(["predict", "{d}/run.svk", "{d}/strings.npy"], "strings.npy: an array of <U1",
                 id="predict-npy-of-strings"),
    pytest.param(["predict", "{d}/run.svk", "{d}/complex.npy"],
                 "complex.npy: an array of complex64", id="predict-npy-complex"),
    pytest.param(["predict", "{d}/run.svk", "{d}/digit.npy", "--top", "0"],
                 "argument --top: expected a positive int, got '0'", id="predict-top-0"),
    pytest.param(["predict", "{d}/run.svk", "{d}/digit.npy", "--top", "-1"],
                 "argument --top: expected a positive int, got '-1'", id="predict-top-negative"),
    pytest.param(["summary", "wavenet_stack", "--input", "3x32x32"],
                 "wavenet_stack takes inputs of 2 dims", id="summary-wavenet-image-input"),
    pytest.param(["summary", "lenet5", "--input", ""], "--input must look like 3x224x224",
                 id="summary-empty-input"),
    pytest.param(["summary", "lenet5", "--num-classes", "0"], "--num-classes must be a "
                 "positive int", id="summary-num-classes-0"),
    pytest.param(["summary", "nope"], "unknown model 'nope'", id="summary-unknown-model"),
    pytest.param(["bench", "-r", "0"], "argument -r/--repeat: expected a positive int",
                 id="bench-repeat-0"),
    pytest.param(["bench", "-t", "0"], "argument -t/--threads: expected a positive int",
                 id="bench-threads-0"),
    pytest.param(["bench", "--warmup", "-1"], "argument --warmup: expected a non-negative int",
                 id="bench-warmup-negative"),
]


@pytest.mark.parametrize("argv, message", BAD)
def test_cli_user_error_is_one_line_and_exit_2(files, capsys, argv, message):
    argv = [a.format(d=files) for a in argv]
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"svertka {argv[0]}: "), err
    assert message.format(d=files) in lines[0]


def test_cli_unknown_command_is_one_line_and_exit_2(capsys):
    assert cli.main(["trian"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("svertka: argument COMMAND: invalid choice: 'trian'")
    assert len(err.splitlines()) == 1


def test_cli_divergence_is_one_line_without_numpy_warnings(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # a NumPy RuntimeWarning would be raised instead
        code = cli.main(["train", "--quiet", "--epochs", "2", "--optimizer", "sgd", "--lr",
                         "1e6", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.splitlines() == [err.strip()]
    assert err.startswith("svertka train: fit: the loss became nan at epoch 1")


def test_cli_ctrl_c_during_start_up_exits_130_with_one_line(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_datasets", interrupted)
    assert cli.main(["train", "--quiet", "--epochs", "1", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err == "svertka train: interrupted\n"


def test_cli_ctrl_c_during_final_evaluation_keeps_checkpoints_and_metrics(tmp_path, capsys,
                                                                        monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "evaluate", interrupted)  # digits has no validation split
    assert cli.main(["train", "--quiet", "--epochs", "1", "--out", str(tmp_path)]) == 130
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("svertka train: interrupted during the final evaluation")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["stopped"] == "interrupted" and metrics["test_accuracy"] is None
    assert metrics["epochs"] == 1
    assert (tmp_path / "last.svk").exists() and (tmp_path / "best.svk").exists()


@pytest.mark.parametrize("error", [ValueError("a bug"), KeyError("a bug"),
                                   TypeError("a bug")], ids=["ValueError", "KeyError",
                                                             "TypeError"])
def test_cli_bug_inside_training_keeps_its_traceback(tmp_path, monkeypatch, error):
    # a ValueError from our own code past the places that read the user's input is a bug
    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(train, "fit", broken)
    with pytest.raises(type(error), match="a bug"):
        cli.main(["train", "--quiet", "--epochs", "1", "--out", str(tmp_path)])
