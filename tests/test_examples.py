"""The runnable examples run and do what they claim."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fit_sine_example_reaches_noise_level(capsys):
    loss = _load("fit_sine").main(steps=1500)
    # the targets carry noise of std 0.1 (variance 0.01): a good fit ends near it
    assert loss < 0.02
    assert "mse" in capsys.readouterr().out


def test_digits_cnn_example_learns(capsys):
    accuracy = _load("digits_cnn").main(epochs=3)
    assert accuracy > 0.8
    out = capsys.readouterr().out
    assert "Total params" in out and "saved" in out


def test_torch_interop_example_agrees_to_rounding():
    out_err, grad_err = _load("torch_interop").main()
    assert out_err < 1e-12 and grad_err < 1e-12
