"""The project's promises about itself: public surface, README, CI, code quality."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import chime_bulk

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_public_surface_is_exactly_the_documented_names() -> None:
    """`chime_bulk.__all__` is sorted, importable, and pinned here so changes are deliberate."""
    assert chime_bulk.__all__ == sorted(chime_bulk.__all__)
    assert all(hasattr(chime_bulk, name) for name in chime_bulk.__all__)
    assert {
        "BulkUpdater",
        "Capabilities",
        "Media",
        "Update",
        "Status",
        "AttendeeResult",
        "Report",
        "ChimeBulkError",
        "PlanError",
        "RunAborted",
        "RetryPolicy",
    } <= set(chime_bulk.__all__)


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """.ci/run's last command is the README's second top command, character for character."""
    commands = re.findall(r"```sh\n(.+?)\n```", README)
    test_command = commands[1]
    assert "pytest" in test_command
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line]
    assert ci_lines[-1] == test_command
    assert "chime-bulk demo" in commands[0]


def test_readme_python_example_runs() -> None:
    """The README's Python API example runs as written, against the emulator."""
    (example,) = re.findall(r"```python\n(.+?)\n```", README, flags=re.DOTALL)
    done = subprocess.run(
        [sys.executable, "-c", example],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.environ.get("TMPDIR", "/tmp"),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "{'succeeded': 100}" in done.stdout


def test_ruff_is_clean() -> None:
    """ruff finds nothing in src/, tests/ and benchmarks/ (rules in pyproject.toml)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    """mypy --strict finds nothing in src/."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "src"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
