"""The README's promises that can be checked mechanically."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _bash_blocks(text):
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for block in _bash_blocks(readme) for line in block.splitlines()
                if "pytest" in line]
    assert commands, "README has no test command"
    assert commands[0] in ci.splitlines(), f"{commands[0]!r} is not a line of .ci/run"


def test_readme_examples_exist():
    readme = (ROOT / "README.md").read_text()
    paths = re.findall(r"python (examples/\S+\.py)", readme)
    assert paths, "README names no example script"
    for path in paths:
        assert (ROOT / path).is_file(), path


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write a checkpoint
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
