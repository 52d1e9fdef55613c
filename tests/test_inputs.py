"""Python inputs are checked at the door: `Update` and `Capabilities` take what they
document, say what to do instead, and README's account of what raises matches the code."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from chime_bulk import BulkUpdater, Capabilities, ConfigurationError, Media, RunAborted, Update

MUTED = Capabilities("SendReceive", "Receive", "None")
MEETING = "00000000-1111-4111-8111-000000000000"
ATTENDEE = "00000000-2222-4222-8222-000000000000"
README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(MUTED, id="itself"),
        pytest.param(("SendReceive", "Receive", "None"), id="tuple"),
        pytest.param([Media.SEND_RECEIVE, Media.RECEIVE, Media.NONE], id="list-of-media"),
        pytest.param({"Audio": "SendReceive", "Video": "Receive", "Content": "None"}, id="api"),
    ],
)
def test_capabilities_of_converts_what_it_documents(value: Any) -> None:
    """`Capabilities.of` turns a tuple, a list or the API's mapping into `Capabilities`."""
    assert Capabilities.of(value) == MUTED


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        pytest.param("SendReceive", TypeError, "cannot make Capabilities from str", id="str"),
        pytest.param(5, TypeError, "cannot make Capabilities from int", id="int"),
        pytest.param(("SendReceive", "None"), ValueError, "need 3 values", id="two"),
        pytest.param(("Loud", "None", "None"), ValueError, "'Loud' is not a capability", id="bad"),
    ],
)
def test_capabilities_of_refuses_the_rest(value: Any, error: type[Exception], match: str) -> None:
    """Anything else is a `TypeError` naming what it takes; a bad value inside a `ValueError`."""
    with pytest.raises(error, match=match):
        Capabilities.of(value)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        pytest.param(
            "capabilities",
            ("SendReceive", "Receive", "None"),
            r"capabilities must be a Capabilities, got tuple .*Capabilities\.of\(",
            id="tuple",
        ),
        pytest.param(
            "capabilities",
            {"Audio": "None", "Video": "None", "Content": "None"},
            r"got dict .*Capabilities\.of\(",
            id="dict",
        ),
        pytest.param("capabilities", None, r"got NoneType .*Capabilities\(audio", id="none"),
        pytest.param("previous", ("None", "None", "None"), "previous must be", id="previous"),
        pytest.param("meeting_id", 42, "meeting_id must be a str, got int", id="meeting-int"),
        pytest.param("region", 1, "region must be a str or None", id="region-int"),
    ],
)
def test_update_refuses_what_it_does_not_document(field: str, value: Any, match: str) -> None:
    """`Update` with a tuple, a dict or a number where a type is documented is a `TypeError`
    at construction (not an `AttributeError` deep inside a run), naming the fix."""
    fields: dict[str, Any] = {
        "meeting_id": MEETING,
        "attendee_id": ATTENDEE,
        "capabilities": MUTED,
        field: value,
    }
    with pytest.raises(TypeError, match=match):
        Update(**fields)


def _no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "dummy")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "dummy")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_readme_says_what_raises_without_a_region_or_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As README says: no Region makes `run()` raise `RunAborted` with error_code
    `ConfigurationError` (nothing sent), and an unknown profile raises `ConfigurationError`
    when the updater is entered."""
    assert re.search(
        r"No Region makes `run\(\)` raise `RunAborted`\s+\(`error_code='ConfigurationError'`",
        README,
    )
    assert re.search(r"an unknown\s+profile raises `ConfigurationError`", README)
    _no_aws_config(monkeypatch, tmp_path)
    update = Update(meeting_id=MEETING, attendee_id=ATTENDEE, capabilities=MUTED)
    async with BulkUpdater() as bulk:
        assert bulk.region is None
        with pytest.raises(RunAborted) as aborted:
            await bulk.run([update])
    assert aborted.value.error_code == "ConfigurationError"
    assert aborted.value.report.summary.requests == 0
    with pytest.raises(ConfigurationError, match="nope"):
        async with BulkUpdater(profile="nope"):
            pass
