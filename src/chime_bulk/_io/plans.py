"""Reading and writing plan files: the updates an `apply` run sends.

A plan is JSON lines with the API's own keys::

    {"MeetingId": "…", "AttendeeId": "…",
     "Capabilities": {"Audio": "SendReceive", "Video": "None", "Content": "None"}}

(one object per line; shown on two here), with an optional "Region" key; or


    meeting_id,attendee_id,audio,video,content,region
    …,…,SendReceive,None,None,us-east-1

`read_plan` reads the whole file before anything is sent, and reports every bad line (syntax,
unknown key or column, bad value, bad ID, forbidden combination, conflicting duplicate) with its
line number in one `PlanError`. Plans are held in memory: a few hundred thousand `Update`s with
shared `Capabilities` objects take tens of megabytes. The CLI reads through the same parser
into an on-disk index instead (`plan_index`), so its memory does not grow with the plan.

Attendee and meeting IDs are UUIDs, which RFC 4122 reads case-insensitively (the service
writes them in lower case; its ID pattern admits both): two lines whose IDs differ only in
letter case name the same attendee, and are a repeat (or a conflict) like any other.
"""

from __future__ import annotations

import csv
import difflib
import functools
import hashlib
import itertools
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final, NamedTuple, Protocol

from .._model.capabilities import Capabilities, Media
from .._model.errors import PlanError, PlanProblem
from .._model.results import AttendeeResult, Status
from .._model.update import Update
from .._model.validation import update_problems
from .fields import PLAN_FORMATS, PlanFormat, Problems, format_for_suffix, json_type, numbered_rows

__all__ = ["MAX_LINE_BYTES", "InvalidLine", "Plan", "PlanFormat", "read_plan", "write_plan"]

#: The longest plan line read (a real one is under 300 bytes); a longer one is an error
#: reported by its length, so neither memory nor the message grows with it.
MAX_LINE_BYTES: Final = 1 << 16

_JSON_KEYS: Final = ("MeetingId", "AttendeeId", "Capabilities", "Region")
_CAPABILITY_KEYS: Final = ("Audio", "Video", "Content")
_CSV_REQUIRED: Final = ("meeting_id", "attendee_id", "audio", "video", "content")
_CSV_COLUMNS: Final = (*_CSV_REQUIRED, "region")
_MEDIA_VALUES: Final = tuple(media.value for media in Media)
# Loose on purpose: catches typos such as "us-east1" without a list of Regions to go stale.
_REGION: Final = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


class InvalidLine(NamedTuple):
    """A line skipped by `skip_invalid`: it must not be sent (bad ID, forbidden combination…)
    or could not be read as an update at all (bad JSON, unknown key, bad value…).

    `update` is None when the line did not parse; its IDs are then those recovered from it.
    """

    line: int
    update: Update | None
    problems: tuple[str, ...]
    meeting_id: str = ""
    attendee_id: str = ""

    def result(self) -> AttendeeResult:
        """The `invalid` result this line gets in the report."""
        message = "; ".join(self.problems)
        if self.update is not None:
            return AttendeeResult.unsent(self.update, Status.INVALID, message)
        return AttendeeResult.decided(
            meeting_id=self.meeting_id,
            attendee_id=self.attendee_id,
            status=Status.INVALID,
            desired=None,
            message=message,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The updates of a plan file, each once, in file order.

    `lines[i]` is the line `updates[i]` came from. `invalid` holds the lines skipped by
    `read_plan(..., skip_invalid=True)`; `skipped` the skipped lines from which no attendee
    could be recovered (not UTF-8, not JSON…), as problems to warn about. `sha256` identifies
    the plan's text (a journal records it so that `--resume` refuses a journal from another
    plan).
    """

    updates: list[Update]
    lines: list[int]
    invalid: list[InvalidLine] = field(default_factory=list)
    skipped: list[PlanProblem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = "<plan>"
    sha256: str | None = None

    def __len__(self) -> int:
        return len(self.updates)


def read_plan(
    path: str | os.PathLike[str] | None = None,
    *,
    text: IO[str] | None = None,
    format: PlanFormat | None = None,  # noqa: A002  (the name users expect)
    skip_invalid: bool = False,
) -> Plan:
    """Read and check a whole plan; a `PlanError` lists every bad line with its number.

    The format comes from the suffix (`.jsonl`/`.ndjson`, `.csv`) unless `format` is given.
    `text` (or `path="-"`, meaning stdin) reads an open stream; without `format` its first
    line decides (`{` means JSONL, a `meeting_id,…` header CSV).

    With `skip_invalid=True`, every line-level problem (syntax, unknown key, bad value, bad
    ID, forbidden combination) skips its line instead of failing the plan: the line goes to
    `plan.invalid` when its meeting and attendee IDs can be read from it, to `plan.skipped`
    otherwise. File-level problems (unreadable file, bad CSV header) and two lines that
    contradict each other (one attendee, two sets of capabilities) still fail it.

    >>> plan = read_plan("plan.jsonl")  # doctest: +SKIP
    >>> report = await bulk.run(plan.updates)  # doctest: +SKIP
    """
    if path is not None and text is not None:
        raise ValueError("read_plan takes a path or a text stream, not both")
    if path is None and text is None:
        raise ValueError("read_plan needs a path or a text stream")
    if path is not None and os.fspath(path) == "-":
        path, text = None, sys.stdin
    if text is not None:
        name = getattr(text, "name", None)
        source = name if isinstance(name, str) else "<stream>"
        return _read(Lines(text), source=source, chosen=format, skip_invalid=skip_invalid)
    assert path is not None
    source = os.fspath(path)
    chosen = format or plan_format_of(source)
    try:
        with open(path, "rb") as stream:
            return _read(Lines(stream), source=source, chosen=chosen, skip_invalid=skip_invalid)
    except OSError as err:
        raise PlanError.single(f"cannot read the plan: {err.strerror}", source=source) from err


def write_plan(
    path: str | os.PathLike[str],
    updates: Iterable[Update],
    *,
    format: PlanFormat | None = None,  # noqa: A002
) -> int:
    """Write `updates` as a plan file (JSONL with the API's keys, or CSV by suffix).

    Returns how many updates were written. `Update.previous` is not part of a plan.
    """
    chosen = format or plan_format_of(os.fspath(path))
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        if chosen == "csv":
            writer.writerow(_CSV_COLUMNS)
        for update in updates:
            if chosen == "csv":
                writer.writerow(_csv_row(update))
            else:
                stream.write(json.dumps(_json_object(update)) + "\n")
            count += 1
    return count


# -- where lines come from -----------------------------------------------------------------


class Lines:
    """A plan's lines as text, hashed as they are read; lines that are not text (not UTF-8, a
    NUL byte) or too long are recorded in `bad` and read as blank."""

    def __init__(self, raw: IO[bytes] | IO[str]) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()
        self.bad: list[tuple[int, str]] = []

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(_bounded_lines(self._raw, self.digest), start=1):
            line = self._decode(number, raw)
            yield line.removeprefix("\ufeff") if number == 1 else line

    def _decode(self, number: int, raw: bytes | str | int) -> str:
        # A blank line in a bad line's place keeps every later line's number right.
        if isinstance(raw, int):
            self.bad.append(
                (number, f"line is {raw:,} bytes long; a plan line is at most {MAX_LINE_BYTES:,}")
            )
            return "\n"
        if "\0" in raw if isinstance(raw, str) else b"\0" in raw:
            self.bad.append((number, "binary data (a NUL byte), not text"))
            return "\n"
        if isinstance(raw, str):
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.bad.append((number, "not UTF-8 text"))
            return "\n"


def _bounded_lines(stream: IO[bytes] | IO[str], digest: Any) -> Iterator[bytes | str | int]:
    """Each line of `stream`, or for one longer than `MAX_LINE_BYTES` its length: such a line
    is read in pieces and dropped, never held whole."""

    def read(limit: int) -> bytes | str:
        chunk = stream.readline(limit)
        digest.update(chunk.encode("utf-8", "surrogateescape") if isinstance(chunk, str) else chunk)
        return chunk

    while chunk := read(MAX_LINE_BYTES + 1):
        if len(chunk) <= MAX_LINE_BYTES or _ends_line(chunk):
            yield chunk
            continue
        length = len(chunk)
        while (chunk := read(MAX_LINE_BYTES)) and not _ends_line(chunk):
            length += len(chunk)
        yield length + len(chunk) - _ends_line(chunk)


def _ends_line(chunk: bytes | str) -> bool:
    return chunk[-1:] in ("\n", b"\n")


def plan_format_of(source: str) -> PlanFormat:
    chosen = format_for_suffix(source, PLAN_FORMATS)
    if chosen is None:
        raise PlanError.single(
            "cannot tell the plan's format from its name: use a .jsonl or .csv suffix, "
            "or give the format (--format jsonl|csv; format= in Python)",
            source=source,
        )
    return chosen


def _sniff(lines: Iterator[str], *, source: str) -> tuple[PlanFormat, Iterator[str]]:
    """The format of a stream from its first non-blank line, and the lines, none lost."""
    peeked: list[str] = []
    for line in lines:
        peeked.append(line)
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            found: PlanFormat = "jsonl"
        elif "meeting_id" in line.lower():
            found = "csv"
        else:
            raise PlanError.single(
                "cannot tell whether this plan is JSONL or CSV; pass its format",
                line=len(peeked),
                source=source,
            )
        return found, itertools.chain(peeked, lines)
    return "jsonl", iter(peeked)  # empty: either format reads it as an empty plan


def _read(lines: Lines, *, source: str, chosen: PlanFormat | None, skip_invalid: bool) -> Plan:
    collector = _Collector(source, skip_invalid=skip_invalid)
    parse_into(collector, lines, chosen=chosen)
    return collector.finish(sha256=lines.digest.hexdigest())


class LineSink(Protocol):
    """Where the parser puts each line: `Plan`'s in-memory collector, or the CLI's on-disk
    index (`plan_index`). Both get the same lines, so both read a plan alike."""

    source: str
    problems: Problems

    def unparseable(self, line: int, messages: Iterable[str], *, ids: _Ids | None = None) -> None:
        """A line that is not an update; `ids` are its meeting and attendee, when readable."""

    def add(self, line: int, update: Update) -> None:
        """A line that parsed."""


def parse_into(collector: LineSink, lines: Lines, *, chosen: PlanFormat | None) -> None:
    """Parse every line of `lines` into `collector`, in file order of what parsed."""
    text: Iterator[str] = iter(lines)
    if chosen is None:
        chosen, text = _sniff(text, source=collector.source)
    if chosen == "csv":
        _read_csv(text, collector)
    else:
        _read_jsonl(text, collector)
    # Lines that were not text are known only once read, and are reported in line order later.
    for number, message in lines.bad:
        collector.unparseable(number, [message])


# -- JSONL ---------------------------------------------------------------------------------


_Ids = tuple[str, str]


class _Unparseable(Exception):
    """A line from which no `Update` can be built; `messages` says every reason, `ids` are
    the meeting and attendee IDs when they could still be read."""

    def __init__(self, messages: list[str], ids: _Ids | None = None) -> None:
        super().__init__(messages)
        self.messages = messages
        self.ids = ids


class _DuplicateKey(Exception):
    """A JSON object names the same key twice."""


def _read_jsonl(lines: Iterable[str], collector: LineSink) -> None:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            update = _parse_json_line(line)
        except _Unparseable as err:
            collector.unparseable(number, err.messages, ids=err.ids)
        else:
            collector.add(number, update)


def _parse_json_line(line: str) -> Update:
    try:
        # Without the newline, an error at the end of the line gets this line's column.
        data = _DECODER.decode(line.rstrip("\r\n"))
    except json.JSONDecodeError as err:
        raise _Unparseable([f"not valid JSON: {err.msg} (column {err.colno})"]) from None
    except _DuplicateKey as err:
        raise _Unparseable([f"key {err.args[0]!r} appears twice"]) from None
    if not isinstance(data, dict):
        raise _Unparseable([f"expected a JSON object {{...}}, got {json_type(data)}"])
    messages = _name_problems(data, _JSON_KEYS, required=_JSON_KEYS[:3], noun="key")
    meeting_id = _json_string(data, "MeetingId", messages)
    attendee_id = _json_string(data, "AttendeeId", messages)
    region = _json_region(data, messages)
    capabilities = _json_capabilities(data.get("Capabilities"), messages)
    if messages or meeting_id is None or attendee_id is None or capabilities is None:
        ids = None if meeting_id is None or attendee_id is None else (meeting_id, attendee_id)
        raise _Unparseable(messages, ids)
    return Update(
        meeting_id=sys.intern(meeting_id),
        attendee_id=attendee_id,
        capabilities=capabilities,
        region=region,
    )


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads silently keeps the last of two equal keys; a plan must not be that ambiguous.
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateKey(key)
        data[key] = value
    return data


# One decoder for every line: json.loads(..., object_pairs_hook=…) would build one per call.
_DECODER: Final = json.JSONDecoder(object_pairs_hook=_reject_duplicate_keys)


def _name_problems(
    names: Iterable[str],
    allowed: Sequence[str],
    *,
    required: Sequence[str],
    noun: str,
    where: str = "",
    sep: str = ", ",
) -> list[str]:
    """Unknown names (with the one probably meant) and missing required ones."""
    present = list(names)
    if set(present) <= set(allowed) and set(required) <= set(present):
        return []  # the common case, answered without building messages
    messages: list[str] = []
    meant: set[str] = set()
    for name in present:
        if name not in allowed:
            guess = _closest(name, allowed)
            meant.add(guess or "")
            hint = f" (did you mean {guess!r}?)" if guess else f"; expected {sep.join(allowed)}"
            messages.append(f"unknown {noun} {name!r}{where}{hint}")
    # A misspelt name is already reported once, as unknown: don't add "missing" for it.
    messages.extend(
        f"missing {noun} {name!r}{where}"
        for name in required
        if name not in present and name not in meant
    )
    return messages


def _json_string(data: dict[str, Any], key: str, messages: list[str]) -> str | None:
    value = data.get(key)
    if key in data and not isinstance(value, str):
        messages.append(f"{key} must be a string, got {json_type(value)}")
        return None
    return value


def _json_region(data: dict[str, Any], messages: list[str]) -> str | None:
    region = data.get("Region")
    if region is not None and not isinstance(region, str):
        messages.append(f"Region must be a string, got {json_type(region)}")
        return None
    return None if region is None else sys.intern(region)


def _json_capabilities(value: Any, messages: list[str]) -> Capabilities | None:
    if value is None:
        return None  # missing: already reported
    if not isinstance(value, dict):
        messages.append(f"Capabilities must be an object, got {json_type(value)}")
        return None
    messages.extend(
        _name_problems(
            value, _CAPABILITY_KEYS, required=_CAPABILITY_KEYS, noun="key", where=" in Capabilities"
        )
    )
    values: list[str] = []
    for key in _CAPABILITY_KEYS:
        if key not in value:
            continue
        media = value[key]
        if not isinstance(media, str):
            hint = ' (write "None" to turn it off)' if media is None else ""
            messages.append(f"Capabilities.{key} must be a string, got {json_type(media)}{hint}")
        elif (problem := _media_problem(media, where=f"Capabilities.{key}")) is not None:
            messages.append(problem)
        else:
            values.append(media)
    if len(values) != len(_CAPABILITY_KEYS):
        return None
    return shared_capabilities(*values)


def _json_object(update: Update) -> dict[str, Any]:
    data: dict[str, Any] = {
        "MeetingId": update.meeting_id,
        "AttendeeId": update.attendee_id,
        "Capabilities": update.capabilities.to_api(),
    }
    if update.region is not None:
        data["Region"] = update.region
    return data


# -- CSV -----------------------------------------------------------------------------------


def _read_csv(lines: Iterable[str], collector: LineSink) -> None:
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    rows = numbered_rows(
        reader, collector.problems, blank=lambda row: not any(cell.strip() for cell in row)
    )
    for number, row in rows:
        if header is None:
            header = _csv_header(row, number, source=collector.source)
            continue
        try:
            update = _parse_csv_row(row, header)
        except _Unparseable as err:
            collector.unparseable(number, err.messages, ids=err.ids)
        else:
            collector.add(number, update)


def _csv_header(row: list[str], number: int, *, source: str) -> list[str]:
    names = [cell.strip().lower() for cell in row]
    if not set(names) & set(_CSV_COLUMNS):
        # A plan without its header row would otherwise read as one unknown column per cell.
        raise PlanError.single(
            f"no header row: the first line must name the columns {','.join(_CSV_REQUIRED)} "
            "(and optionally region)",
            line=number,
            source=source,
        )
    messages = _name_problems(names, _CSV_COLUMNS, required=_CSV_REQUIRED, noun="column", sep=",")
    messages.extend(f"column {name!r} appears twice" for name in sorted(_repeated(names)))
    if messages:
        # Without a usable header no row can be read: stop here.
        raise PlanError(PlanProblem(number, message, source) for message in messages)
    return names


def _repeated(names: list[str]) -> set[str]:
    return {name for name, count in Counter(names).items() if count > 1}


def _parse_csv_row(row: list[str], header: list[str]) -> Update:
    if len(row) != len(header):
        raise _Unparseable([f"expected {len(header)} fields ({','.join(header)}), got {len(row)}"])
    cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
    messages = [
        problem
        for name in ("audio", "video", "content")
        if (problem := _media_problem(cells[name], where=name)) is not None
    ]
    if messages:
        raise _Unparseable(messages, (cells["meeting_id"], cells["attendee_id"]))
    capabilities = shared_capabilities(cells["audio"], cells["video"], cells["content"])
    region = sys.intern(cells["region"]) if cells.get("region") else None
    return Update(
        meeting_id=sys.intern(cells["meeting_id"]),
        attendee_id=cells["attendee_id"],
        capabilities=capabilities,
        region=region,
    )


def _csv_row(update: Update) -> list[str]:
    capabilities = update.capabilities
    return [
        update.meeting_id,
        update.attendee_id,
        capabilities.audio.value,
        capabilities.video.value,
        capabilities.content.value,
        update.region or "",
    ]


# -- shared --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=128)
def shared_capabilities(audio: str, video: str, content: str) -> Capabilities:
    # Only 64 triples exist: every update of a plan shares one of them.
    return Capabilities(audio, video, content)


def _media_problem(value: str, *, where: str) -> str | None:
    if value in _MEDIA_VALUES:
        return None
    guess = _closest(value, _MEDIA_VALUES)
    hint = f" (did you mean {guess!r}?)" if guess else ""
    return f"{where} {value!r} is not a capability (expected {' | '.join(_MEDIA_VALUES)}){hint}"


def _closest(word: str, choices: Sequence[str]) -> str | None:
    """The choice `word` most likely meant: same letters ignoring case and `_`, or close."""
    folded = {choice.lower().replace("_", ""): choice for choice in choices}
    if (same := folded.get(word.lower().replace("_", ""))) is not None:
        return same
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _describe(update: Update) -> str:
    region = f" in {update.region}" if update.region else ""
    return f"{update.capabilities}{region}"


def folded_key(update: Update) -> tuple[str, str]:
    """Who an update is for, as the service tells attendees apart: IDs are UUIDs, and a UUID
    is the same whatever the letter case (RFC 4122)."""
    return (update.meeting_id.lower(), update.attendee_id.lower())


def invalid_reasons(update: Update) -> list[str]:
    """Why an update that parsed must not be sent (bad ID, forbidden combination, Region)."""
    problems = update_problems(update)
    if update.region is not None and not _REGION.fullmatch(update.region):
        problems.append(f"Region {update.region!r} is not an AWS Region name such as 'us-east-1'")
    return problems


def _who(update: Update) -> str:
    return f"attendee {update.attendee_id} of meeting {update.meeting_id}"


def repeat_warning(source: str, line: int, first_line: int, update: Update) -> str:
    return (
        f"{source}:{line}: {_who(update)} repeats line {first_line} with the same "
        "capabilities; it is sent once"
    )


def conflict_message(first: Update, first_line: int, update: Update, line: int) -> str:
    return (
        f"{_who(update)} is on line {first_line} with {_describe(first)} and on line {line} "
        f"with {_describe(update)}; an attendee can get only one set of capabilities"
    )


def region_message(update: Update, region: str, first_line: int, line: int) -> str:
    return (
        f"meeting {update.meeting_id} is in Region {region} on line {first_line} and in "
        f"{update.region} on line {line}; a meeting lives in one Region"
    )


class _Collector:
    """Turns parsed lines into a `Plan`: validates, de-duplicates, gathers every problem."""

    def __init__(self, source: str, *, skip_invalid: bool) -> None:
        self.source = source
        self._skip_invalid = skip_invalid
        self.problems = Problems(source)
        self._updates: list[Update] = []
        self._lines: list[int] = []
        self._invalid: list[InvalidLine] = []
        self._skipped: list[PlanProblem] = []
        self._warnings: list[str] = []
        self._positions: dict[tuple[str, str], int] = {}
        self._meeting_regions: dict[str, tuple[str, int]] = {}

    def unparseable(self, line: int, messages: Iterable[str], *, ids: _Ids | None = None) -> None:
        if not self._skip_invalid:
            self.problems.extend(line, messages)
        elif ids is not None:
            self._invalid.append(InvalidLine(line, None, tuple(messages), *ids))
        else:
            self._skipped.append(PlanProblem(line, "; ".join(messages), self.source))

    def add(self, line: int, update: Update) -> None:
        problems = invalid_reasons(update)
        if problems:
            if self._skip_invalid:
                self._invalid.append(
                    InvalidLine(
                        line, update, tuple(problems), update.meeting_id, update.attendee_id
                    )
                )
            else:
                self.problems.extend(line, problems)
            return
        if self._is_repeat(line, update) or self._region_conflict(line, update):
            return
        self._positions[folded_key(update)] = len(self._updates)
        self._updates.append(update)
        self._lines.append(line)

    def _is_repeat(self, line: int, update: Update) -> bool:
        position = self._positions.get(folded_key(update))
        if position is None:
            return False
        first, first_line = self._updates[position], self._lines[position]
        if (first.capabilities, first.region) == (update.capabilities, update.region):
            self._warnings.append(repeat_warning(self.source, line, first_line, update))
        else:
            # Not skippable: which of the two lines was meant cannot be known.
            self.problems.add(line, conflict_message(first, first_line, update, line))
        return True

    def _region_conflict(self, line: int, update: Update) -> bool:
        if update.region is None:
            return False
        region, first_line = self._meeting_regions.setdefault(
            update.meeting_id.lower(), (update.region, line)
        )
        if region == update.region:
            return False
        self.problems.add(line, region_message(update, region, first_line, line))
        return True

    def finish(self, *, sha256: str) -> Plan:
        self.problems.raise_if_any()
        if not self._updates:
            skipped = self._invalid or self._skipped
            what = "no line of the plan is valid" if skipped else "the plan is empty"
            self._warnings.append(f"{self.source}: {what}; nothing to send")
        return Plan(
            updates=self._updates,
            lines=self._lines,
            invalid=self._invalid,
            skipped=self._skipped,
            warnings=self._warnings,
            source=self.source,
            sha256=sha256,
        )
