"""``svertka explain`` on the command line: one-line errors, the URL, a clean Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from svertka import cli

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.parametrize("argv, words", [
    ([], "give a run folder or checkpoint"),
    (["--weights", "DEFAULT"], "--weights needs --model"),
    (["--model", "nope"], "unknown model 'nope'"),
    (["--model", "lenet5", "run"], "not both"),
    (["--port", "70000", "x"], "--port must be in 0..65535, got 70000"),
    (["/no/such/run.svk"], "/no/such/run.svk: No such file or directory"),
    (["model.onnx"], "ONNX models are not supported"),
], ids=["nothing", "weights-alone", "unknown-model", "both", "port", "missing", "onnx"])
def test_explain_bad_arguments_are_one_line_errors(capsys, argv, words):
    pytest.importorskip("flask", reason="svertka explain needs the web extra (Flask)")
    assert cli.main(["explain"] + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("svertka explain: ") and words in err
    assert err.count("\n") == 1


def test_explain_serves_on_localhost_and_stops_on_ctrl_c():
    pytest.importorskip("flask", reason="svertka explain needs the web extra (Flask)")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC] + sys.path))
    p = subprocess.Popen([sys.executable, "-m", "svertka", "explain", "--model", "lenet5",
                          "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        line = p.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, line
        with urllib.request.urlopen(url.group(0) + "api/model") as r:
            assert b'"layers"' in r.read()
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0
    assert "svertka explain: stopped" in out and "Traceback" not in out


def test_explain_zoo_model_without_weights_is_an_untrained_session():
    pytest.importorskip("flask", reason="svertka explain needs the web extra (Flask)")
    from svertka.explain import create_app

    args = cli.build_parser().parse_args(["explain", "--model", "lenet5"])
    session = cli._explain_session(args)
    assert session.name == "lenet5 (untrained)" and session.input_shape == (1, 32, 32)
    client = create_app(session).test_client()
    assert client.get("/api/samples").get_json() == {"samples": []}
    r = client.post("/api/predict", json={"sample": 0})
    assert r.status_code == 404 and "no dataset test images" in r.get_json()["error"]
    r = client.post("/api/predict", json=[[0.5] * 32] * 32)
    assert r.status_code == 200 and len(r.get_json()["top"]) == 5
