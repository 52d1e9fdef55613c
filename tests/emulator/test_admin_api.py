"""The admin API driven with plain HTTP (urllib), around a real `chime-bulk apply` run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chime_bulk.emulator import Emulator

MUTED = {"Audio": "SendReceive", "Video": "Receive", "Content": "None"}


@pytest.fixture
def base() -> Iterator[str]:
    with Emulator() as emu:
        yield f"{emu.endpoint_url}/_emulator"


def _call(url: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_whole_scenario_over_http(base: str, tmp_path: Path) -> None:
    """Seed, configure a brownout, run chime-bulk apply, then read ground truth and the log."""
    status, seeded = _call(f"{base}/meetings", "POST", {"meetings": 2, "attendees": 3})
    assert status == 200
    pairs = [(m, a) for m, attendees in seeded["meetings"].items() for a in attendees]
    brownout = {"brownouts": [{"after_requests": 1, "duration_s": 0.3, "retry_after_s": 0.2}]}
    assert _call(f"{base}/faults", "PUT", brownout)[0] == 200
    plan = tmp_path / "plan.jsonl"
    plan.write_text(
        "".join(
            json.dumps({"MeetingId": m, "AttendeeId": a, "Capabilities": MUTED}) + "\n"
            for m, a in pairs
        )
    )
    endpoint = base.removesuffix("/_emulator")
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    done = subprocess.run(
        [sys.executable, "-m", "chime_bulk", "apply", str(plan), "--endpoint-url", endpoint,
         "--region", "us-east-1", "--report", str(tmp_path / "report.json"), "--quiet",
         "--no-progress"],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    _, truth = _call(f"{base}/truth")
    for meeting_id, attendee_id in pairs:
        attendee = truth["meetings"][meeting_id]["attendees"][attendee_id]
        assert attendee["capabilities"] == MUTED
        assert attendee["writes_acknowledged"] == 1
    assert truth["departed"] == []

    _, first = _call(f"{base}/requests?limit=2")
    assert len(first["requests"]) == 2
    _, rest = _call(f"{base}/requests?after={first['next_after']}&limit=1000")
    records = first["requests"] + rest["requests"]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert any(r["fault"] == "brownout" and r["status"] == 503 for r in records)
    assert not any(r["operation"].startswith("_") for r in records)  # admin calls not logged
    _, stats = _call(f"{base}/stats")
    assert stats["requests"] == len(records)
    assert stats["by_fault"]["brownout"] >= 1


def test_faults_read_reset_and_clean_errors(base: str) -> None:
    """Faults read back as set; a bad config or route is an AWS-shaped 400/404; reset empties."""
    assert _call(f"{base}/meetings", "POST", {"meetings": 1})[0] == 200
    status, config = _call(f"{base}/faults", "PUT", {"p503": 0.5, "reset": "fin"})
    assert (status, config["p503"], config["reset"]) == (200, 0.5, "fin")
    assert _call(f"{base}/faults")[1] == config
    status, error = _call(f"{base}/faults", "PUT", {"p_503": 1})
    assert (status, error["Code"]) == (400, "BadRequest")
    assert "unknown key 'p_503'" in error["Message"]
    assert _call(f"{base}/nowhere")[0] == 404
    assert _call(f"{base}/reset", "POST")[0] == 204
    assert _call(f"{base}/meetings")[1] == {"meetings": {}}
    assert _call(f"{base}/faults")[1]["p503"] == 0.0
