"""``svertka summary model.onnx`` and ``svertka predict model.onnx IMAGE``."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from svertka.cli import main  # noqa: E402


def _write_model(path):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    fc = numpy_helper.from_array(rng.standard_normal((5, 4)).astype(np.float32), "fc")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fc"], ["y"], name="fc", transB=1)]
    g = helper.make_graph(nodes, "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])],
                          [w, fc])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def test_cli_summary_onnx_lists_the_imported_layers(tmp_path, capsys):
    path = _write_model(tmp_path / "m.onnx")
    assert main(["summary", str(path)]) == 0
    out = capsys.readouterr().out
    assert "conv (Conv2d)" in out and "fc (Linear)" in out and "[1, 4, 8, 8]" in out


def test_cli_predict_onnx_prints_top_classes(tmp_path, capsys):
    path = _write_model(tmp_path / "m.onnx")
    img = tmp_path / "img.npy"
    np.save(img, np.random.default_rng(1).random((3, 8, 8)).astype(np.float32))
    assert main(["predict", str(path), str(img), "--top", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{img}: ") and len(line.split(", ")) == 2


def test_cli_onnx_bad_file_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\xffnot an onnx model")
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("svertka summary: svertka.onnx.load: ") and "bad.onnx" in err
    assert "\n" not in err
