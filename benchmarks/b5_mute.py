"""B5: "mute all video except the hosts" in 40 meetings x 250 attendees, side by side.

    .venv/bin/python -m benchmarks.b5_mute [--sample-s 30] [--out benchmarks/RESULTS.md]

Every operation (ListAttendees, GetMeeting, the writes) has the documented default quota of
10/s, burst 20, and every request 50 ms of latency. Each contender gets a fresh emulator
process (the same seed, so the same meetings). The floor: two listings of 40 meetings are 240
ListAttendees pages, (240 - 20) / 10 = 22 s. Contenders that need more than `--sample-s`
are stopped there and their total is extrapolated from the rate they reached, plus the
listing they needed first; the table says which numbers are extrapolated.

Ground truth comes from the emulator's admin API (never throttled), so checking costs the
contenders nothing: every attendee but the hosts must end unable to send video, the hosts
untouched, audio and content as they were.
"""

from __future__ import annotations

import argparse
import inspect
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import anyio
import boto3
from botocore.config import Config

from chime_bulk import BulkUpdater, Status

from .environment import aws_env, configure_process

_MEETINGS: Final = 40
_ATTENDEES: Final = 250
_EMULATOR_FLAGS: Final = [
    "--meetings", str(_MEETINGS), "--attendees", str(_ATTENDEES),
    "--rate", "*=10:20", "--latency-ms", "50", "--seed", "5", "--port", "0",
]  # fmt: skip
_BURST: Final = 20
_FLOOR_S: Final = (2 * _MEETINGS * 3 - _BURST) / 10
_ALL_ON: Final = {"Audio": "SendReceive", "Video": "SendReceive", "Content": "SendReceive"}
_MUTED: Final = {**_ALL_ON, "Video": "Receive"}
_COMMAND: Final = "python -m benchmarks.b5_mute"


@dataclass(frozen=True, slots=True)
class Emulator:
    endpoint_url: str
    meetings: dict[str, list[str]]

    def admin(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.endpoint_url}/_emulator/{path}", timeout=30) as r:
            return json.load(r)

    @property
    def hosts(self) -> dict[str, list[str]]:
        return {meeting: attendees[:2] for meeting, attendees in self.meetings.items()}


@contextmanager
def _emulator(workdir: Path) -> Any:
    ready = workdir / "ready.json"
    ready.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "chime_bulk", "emulator", *_EMULATOR_FLAGS]
    process = subprocess.Popen(
        [*argv, "--ready-file", str(ready)], env=aws_env(), stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():  # a benchmark harness may poll; the tests never do
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.05)
        data = json.loads(ready.read_text())
        yield Emulator(endpoint_url=data["endpoint_url"], meetings=data["meetings"])
    finally:
        process.terminate()
        process.wait(timeout=30)


@dataclass(slots=True, kw_only=True)
class Row:
    contender: str
    wall_s: float
    extrapolated: bool = False
    changed: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    report: str = ""
    wrong: int = 0  # attendees not as "mute all video except the hosts" wants them
    note: str = ""


def _check(emulator: Emulator, row: Row) -> Row:
    """Fill in what the service holds (wrong attendees) and what it was sent."""
    truth = emulator.admin("truth")["meetings"]
    wrong = 0
    for meeting, attendees in emulator.meetings.items():
        hosts = set(attendees[:2])
        for attendee in attendees:
            held = truth[meeting]["attendees"][attendee]["capabilities"]
            wrong += held != (_ALL_ON if attendee in hosts else _MUTED)
    stats = emulator.admin("stats")
    row.wrong = wrong
    row.requests = {op: n for op, n in stats["by_operation"].items() if op != "CreateMeeting" and n}
    row.throttled = stats["by_status"].get("429", 0)
    return row


async def _chime_bulk_auto(emulator: Emulator, sample_s: float) -> Row:
    started = time.monotonic()
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, region="us-east-1") as bulk:
        report = await bulk.mute(
            emulator.meetings, media={"video"}, except_attendees=emulator.hosts
        )
    wall = time.monotonic() - started
    counts = report.summary.by_status
    return Row(
        contender="chime-bulk `mute --video` (defaults: strategy auto)",
        wall_s=wall,
        changed=counts.get("succeeded", 0),
        report="every attendee: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
        note="batch per meeting, verified by a second listing",
    )


async def _chime_bulk_per_attendee(emulator: Emulator, sample_s: float) -> Row:
    started = time.monotonic()
    async with BulkUpdater(endpoint_url=emulator.endpoint_url, region="us-east-1") as bulk:
        plan = await bulk.plan_mute(
            emulator.meetings, media={"video"}, except_attendees=emulator.hosts,
            strategy="per-attendee",
        )  # fmt: skip
        planned_s = time.monotonic() - started
        report = await bulk.run(plan, deadline=sample_s)
    sent_s = time.monotonic() - started - planned_s
    done = report.summary.count(Status.SUCCEEDED)
    todo = plan.total - report.summary.count(Status.EXCLUDED)
    wall, note = _extrapolated(planned_s=planned_s, sent_s=sent_s, done=done, todo=todo)
    return Row(
        contender="chime-bulk `mute --video --strategy per-attendee`",
        wall_s=wall,
        extrapolated=done < todo,
        changed=done,
        report=f"complete; {report.summary.count(Status.CANCELLED)} cancelled at the deadline",
        note=note,
    )


def _extrapolated(*, planned_s: float, sent_s: float, done: int, todo: int) -> tuple[float, str]:
    """The whole run's time from a timed sample: the first `_BURST` updates go at once, the
    rest at the rate the sample reached after them."""
    steady = max(done - _BURST, 1) / sent_s
    wall = planned_s + sent_s + max(todo - done, 0) / steady
    note = (
        f"{done} updates in {sent_s:.0f} s after {planned_s:.0f} s of listing "
        f"({steady:.1f}/s after the burst of {_BURST}), extrapolated to {todo:,}"
    )
    return wall, note


def _boto3_client(emulator: Emulator) -> Any:
    return boto3.client(
        "chime-sdk-meetings", region_name="us-east-1", endpoint_url=emulator.endpoint_url,
        config=Config(max_pool_connections=10),
    )  # fmt: skip


def _boto3_listing(client: Any, meeting: str) -> list[str]:
    # botocore has no paginator for ListAttendees: the NextToken loop by hand.
    attendees: list[str] = []
    params: dict[str, Any] = {"MeetingId": meeting, "MaxResults": 100}
    while True:
        page = client.list_attendees(**params)
        attendees += [attendee["AttendeeId"] for attendee in page["Attendees"]]
        if not page.get("NextToken"):
            return attendees
        params["NextToken"] = page["NextToken"]


def _boto3_per_attendee(emulator: Emulator, sample_s: float) -> Row:
    """What a user writes by hand: list each meeting, update everyone but the hosts."""
    client = _boto3_client(emulator)
    started = time.monotonic()
    listed = {meeting: _boto3_listing(client, meeting) for meeting in emulator.meetings}
    planned_s = time.monotonic() - started
    todo = [(m, a) for m, ids in listed.items() for a in ids if a not in emulator.hosts[m]]
    done = 0
    for meeting, attendee in todo:
        if time.monotonic() - started - planned_s > sample_s:
            break
        client.update_attendee_capabilities(
            MeetingId=meeting, AttendeeId=attendee, Capabilities=_MUTED
        )
        done += 1
    sent_s = time.monotonic() - started - planned_s
    wall, note = _extrapolated(planned_s=planned_s, sent_s=sent_s, done=done, todo=len(todo))
    return Row(
        contender="boto3 by hand: list each meeting, then one update per attendee (botocore "
        "defaults)",
        wall_s=wall,
        extrapolated=done < len(todo),
        changed=done,
        report="none",
        note=f"{note}; sets all three media, so an attendee's own audio/content is overwritten",
    )


def _boto3_batch(emulator: Emulator, sample_s: float) -> Row:
    """The hand-written shortcut: one batch call per meeting, hosts excluded, nothing read."""
    client = _boto3_client(emulator)
    started = time.monotonic()
    for meeting, hosts in emulator.hosts.items():
        client.batch_update_attendee_capabilities_except(
            MeetingId=meeting,
            ExcludedAttendeeIds=[{"AttendeeId": host} for host in hosts],
            Capabilities=_MUTED,
        )
    return Row(
        contender="boto3 by hand: one BatchUpdateAttendeeCapabilitiesExcept per meeting",
        wall_s=time.monotonic() - started,
        changed=_MEETINGS * (_ATTENDEES - 2),
        report="none",
        note="reads nothing: overwrites every attendee's audio and content with fixed values, "
        "no previous state (no undo), nothing verified",
    )


_CONTENDERS: Final[list[Callable[[Emulator, float], Any]]] = [
    _chime_bulk_auto,
    _chime_bulk_per_attendee,
    _boto3_per_attendee,
    _boto3_batch,
]


def _run_one(contender: Callable[[Emulator, float], Any], sample_s: float, workdir: Path) -> Row:
    with _emulator(workdir) as emulator:
        if inspect.iscoroutinefunction(contender):
            row: Row = anyio.run(contender, emulator, sample_s)
        else:
            row = contender(emulator, sample_s)
        return _check(emulator, row)


def _markdown(rows: list[Row], *, sample_s: float, date: str) -> str:
    lines = [
        "## B5: mute all video except the hosts (issue #10)",
        "",
        f"`{_COMMAND} --sample-s {sample_s:g}` on {date}: 40 meetings x 250 attendees, 2 hosts "
        "per meeting, every operation at the default quota (10/s, burst 20), 50 ms latency "
        f"per request. Floor: two listings of 40 meetings = 240 pages = {_FLOOR_S:.0f} s. "
        "Goal: chime-bulk <= 25 s with the report verified.",
        "",
        "| contender | wall | attendees changed | requests by operation | 429s | wrong at the end "
        "| report |",
        "|---|---:|---:|---|---:|---:|---|",
    ]  # fmt: skip
    for row in rows:
        wall = f"{row.wall_s:,.0f} s (extrapolated)" if row.extrapolated else f"{row.wall_s:.1f} s"
        requests = ", ".join(f"{op} {n}" for op, n in sorted(row.requests.items())) or "-"
        wrong = "-" if row.extrapolated else str(row.wrong)
        throttled = "-" if row.extrapolated else str(row.throttled)
        lines.append(
            f"| {row.contender} | {wall} | {row.changed:,} | {requests} | {throttled} | {wrong} "
            f"| {row.report} |"
        )
    lines += ["", *(f"- {row.contender}: {row.note}." for row in rows if row.note), ""]
    met = rows[0].wall_s <= 25 and rows[0].wrong == 0
    lines.append(f"Goal {'met' if met else 'MISSED'}: chime-bulk {rows[0].wall_s:.1f} s, "
                 f"{rows[0].wrong} attendee(s) wrong.")  # fmt: skip
    return "\n".join(lines) + "\n"


def replace_section(path: Path, name: str, text: str) -> None:
    """Put `text` in `path` between `<!-- keep:name -->` markers (replacing an older one)."""
    begin, end = f"<!-- keep:{name} -->", f"<!-- /keep:{name} -->"
    current = path.read_text() if path.exists() else ""
    if begin in current and end in current:
        head, _, rest = current.partition(begin)
        _, _, tail = rest.partition(end)
        current = head.rstrip("\n") + "\n\n" + tail.lstrip("\n")
    path.write_text(current.rstrip("\n") + f"\n\n{begin}\n{text}{end}\n")


def main() -> None:
    parser = argparse.ArgumentParser(prog=_COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--sample-s", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    args = parser.parse_args()
    configure_process()
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for contender in _CONTENDERS:
            print(f"B5: {contender.__name__} ...", file=sys.stderr, flush=True)
            rows.append(_run_one(contender, args.sample_s, Path(workdir)))
            print(f"    {rows[-1].wall_s:.1f} s", file=sys.stderr, flush=True)
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = _markdown(rows, sample_s=args.sample_s, date=date)
    replace_section(args.out, "B5", text)
    print(text)


if __name__ == "__main__":
    main()
