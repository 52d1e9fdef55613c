"""The project's promises about itself: public surface, README, CI, code quality."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """.ci/run's last command is the README's second top command, character for character."""
    commands = re.findall(r"```sh\n(.+?)\n```", README)
    test_command = commands[1]
    assert "pytest" in test_command
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line]
    assert ci_lines[-1] == test_command
    assert "chime-bulk demo" in commands[0]
    # Every later example (shell and Python) is run by tests/test_readme.py.


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
    """mypy --strict finds nothing in src/ or tests/ (settings in pyproject.toml)."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "src", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_third_party_import_is_a_declared_dependency() -> None:
    """The library imports only what `pip install chime-bulk` installs (its own dependencies),
    so a plain install works without the test extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_requirement_name(r) for r in project["dependencies"]}
    imported: set[str] = set()
    for path in (ROOT / "src" / "chime_bulk").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"chime_bulk"}
    providers = packages_distributions()
    undeclared = {
        module: providers.get(module)
        for module in third_party
        if not {d.lower() for d in providers.get(module, [])} & declared
    }
    # httpx2 is imported only when running under trio, from the optional `trio` extra.
    undeclared.pop("httpx2", None)
    # coredis is imported only once a RedisQuota connects, from the optional `redis` extra.
    undeclared.pop("coredis", None)
    # pytest is imported only by the emulator's pytest plugin, which only pytest loads.
    undeclared.pop("pytest", None)
    assert undeclared == {}
