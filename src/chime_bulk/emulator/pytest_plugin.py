"""pytest fixtures for testing *your* app against the emulator (a `pytest11` entry point).

Installed with chime-bulk, so the fixtures are there without `-p` or `conftest.py`::

    def test_my_app_mutes(chime_emulator):
        ids = chime_emulator.seed(meetings=1, attendees=3)
        my_app.mute_all(...)                        # boto3.client("chime-sdk-meetings")
        assert chime_emulator.capabilities(m, a) == {...}

- `chime_emulator`: a running `Emulator` (the AWS default quotas, no faults, seed 0);
- `chime_emulator_factory(**kwargs)`: starts one with `Emulator(**kwargs)` — `rates`,
  `faults`, `brownouts`, `seed`, … — and returns it.

While one runs, the environment points boto3, aiobotocore and the AWS CLI at it: dummy
credentials, `AWS_DEFAULT_REGION`, and `AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS` (botocore's
service-specific endpoint variable), so unchanged app code reaches the emulator and never
AWS. `emulator.client_kwargs()` gives the same for explicit clients. An error the emulator
met while serving fails the test at teardown (`EmulatorError`).

Loading this plugin costs nothing: it only defines fixtures, imports the emulator when a
fixture is first used, and starts nothing until then.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import Emulator

__all__ = ["chime_emulator", "chime_emulator_factory"]

_CLEARED = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def _point_environment_at(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", emulator.region)
    monkeypatch.setenv("AWS_REGION", emulator.region)
    # No profile, SSO or instance metadata of the machine's can leak into the test.
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_CHIME_SDK_MEETINGS", emulator.endpoint_url)


@pytest.fixture
def chime_emulator_factory(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Emulator]]:
    """`factory(**Emulator kwargs)` starts an emulator, points the environment at it and
    stops it after the test (raising any error it met while serving)."""
    started: list[Emulator] = []

    def start(**kwargs: Any) -> Emulator:
        from .server import Emulator

        emulator = Emulator(**kwargs)
        emulator.start()
        started.append(emulator)
        _point_environment_at(emulator, monkeypatch)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()


@pytest.fixture
def chime_emulator(chime_emulator_factory: Callable[..., Emulator]) -> Emulator:
    """A running emulator with AWS's default quotas and no faults; the environment points
    boto3/aiobotocore at it."""
    return chime_emulator_factory()
