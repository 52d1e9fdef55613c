"""The benchmark process's environment: dummy AWS credentials, quiet logs, machine facts."""

from __future__ import annotations

import logging
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Final

import psutil  # type: ignore[import-untyped]
import structlog

__all__ = [
    "AWS_ENV",
    "REGION",
    "REPO_ROOT",
    "aws_env",
    "configure_process",
    "git_state",
    "machine_info",
]

REGION: Final = "us-east-1"
#: The checkout: child processes find the `benchmarks` package here, whatever their cwd.
REPO_ROOT: Final = Path(__file__).resolve().parent.parent

#: Dummy credentials (the emulator accepts any SigV4 signature) and nothing from the
#: machine's own AWS configuration.
AWS_ENV: Final[dict[str, str]] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}
#: Variables that would change a contender's behaviour behind its back (retry mode, Region).
_CLEARED: Final = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_NEW_RETRIES_2026",
    "CHIME_BULK_ENDPOINT_URL",
)
_PACKAGES: Final = (
    "chime-bulk",
    "aiobotocore",
    "botocore",
    "boto3",
    "aiohttp",
    "anyio",
    "tenacity",
    "aiometer",
    "structlog",
    "psutil",
)


def aws_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default: this process's environment) with dummy credentials and nothing else."""
    env = dict(os.environ if base is None else base)
    for name in _CLEARED:
        env.pop(name, None)
    env.update(AWS_ENV)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + path if path else "")
    return env


def configure_process() -> None:
    """Dummy credentials for in-process clients; chime-bulk's debug events switched off."""
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ.update(AWS_ENV)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": {name: _version(name) for name in _PACKAGES},
    }


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.rstrip("\n")


def git_state() -> dict[str, Any]:
    """The code that was measured: the commit, and the files changed on top of it."""
    changed = [line[3:] for line in _git("status", "--porcelain", "--", "src").splitlines()]
    commit = _git("rev-parse", "--short", "HEAD").strip()
    return {"commit": commit or None, "uncommitted_src": changed}
