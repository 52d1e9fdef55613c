"""README runs as written: every shell and Python example, against an emulator.

The convention (README says it too): the first two ```` ```sh ```` blocks are the install
commands, which CI runs (`tests/test_project.py` pins them to `.ci/run`); every later
```` ```sh ```` block and every ```` ```python ```` block is run here. The first shell block
starts the emulator, as written; the others run in the same folder, with the placeholders in
capitals (`PORT`, `M1`, `M2`, `A1`, `A2`, `HOST_ID`) filled in from its `ready.json`. A
Python block's `print(...)  # value` comments are its expected output, line by line; a block
that defines `test_` functions is a test module, run with pytest (the emulator's fixtures
come with chime-bulk).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"^```(\w+)\n(.*?)^```$", README, flags=re.MULTILINE | re.DOTALL)
SHELL = [code for kind, code in BLOCKS if kind == "sh"][2:]
PYTHON = [code for kind, code in BLOCKS if kind == "python"]
SCRIPTS = [code for code in PYTHON if not re.search(r"^def test_", code, flags=re.MULTILINE)]
TESTS = [code for code in PYTHON if code not in SCRIPTS]


def _env() -> dict[str, str]:
    """The user's shell: the installed `chime-bulk` first on PATH, no AWS settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHIME_BULK_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["COLUMNS"] = "200"
    return env


@pytest.fixture
def emulator_from_readme(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The README's first shell block, run as written; yields its ready file."""
    (start, *_) = SHELL
    assert "chime-bulk emulator" in start
    shell = subprocess.Popen(
        ["bash", "-c", start],
        cwd=tmp_path,
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the emulator stays in bash's group: one kill ends it
    )
    assert shell.stderr is not None
    try:
        announcement = shell.stderr.readline()  # the emulator's own stderr: it listens
        assert "listening on http://127.0.0.1:" in announcement, announcement
        yield json.loads((tmp_path / "ready.json").read_text())
    finally:
        os.killpg(shell.pid, signal.SIGTERM)
        shell.wait(timeout=30)
        shell.stderr.close()


def _filled(code: str, ready: dict[str, Any]) -> str:
    (m1, first), (m2, _) = list(ready["meetings"].items())[:2]
    values = {
        "PORT": ready["endpoint_url"].rsplit(":", 1)[1],
        "M1": m1,
        "M2": m2,
        "HOST_ID": first[0],
        "A1": first[1],
        "A2": first[2],
    }
    return re.sub(r"\b(" + "|".join(values) + r")\b", lambda m: values[m.group(1)], code)


def test_readme_has_runnable_examples() -> None:
    """README has the emulator block, at least one command block and one Python block."""
    assert len(SHELL) >= 2
    assert len(SCRIPTS) >= 1
    assert len(TESTS) >= 1


def test_readme_shell_examples_run(emulator_from_readme: dict[str, Any], tmp_path: Path) -> None:
    """Every shell block after the emulator's runs with `set -euo pipefail` and succeeds:
    each command exits 0, the `--dry-run` example included."""
    for code in SHELL[1:]:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", _filled(code, emulator_from_readme)],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"{code}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"]["by_status"] == {"succeeded": 1}


@pytest.mark.parametrize("code", SCRIPTS, ids=[f"python-{n}" for n in range(len(SCRIPTS))])
def test_readme_python_examples_run(code: str, tmp_path: Path) -> None:
    """Each Python block runs as written and prints what its `# …` comments say."""
    expected = re.findall(r"^\s*print\(.*\)\s+#\s*(.+?)\s*$", code, flags=re.MULTILINE)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected


@pytest.mark.parametrize("code", TESTS, ids=[f"pytest-{n}" for n in range(len(TESTS))])
def test_readme_test_examples_pass(code: str, tmp_path: Path) -> None:
    """Each Python block that defines tests passes under pytest, as a user's test module."""
    (tmp_path / "test_example.py").write_text(code)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b[1-9]\d* passed\b", done.stdout), done.stdout
