"""Options every subcommand shares, their checks, and the exit codes a script can trust."""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import urlsplit

import click

from .._aws.clients import DEFAULT_READ_TIMEOUT_S
from .._io.fields import REPORT_FORMATS
from .._policy.circuit import CircuitPolicy
from .._policy.pacing import Adaptive
from .._policy.retry import RetryPolicy
from .._shared.redis_quota import ENV_VAR as COORDINATE_ENV_VAR
from .._shared.redis_quota import RedisQuota

__all__ = ["CommonOptions", "ExitCode", "changing_options", "common_options"]

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(IntEnum):
    OK = 0  # every update succeeded or was unchanged
    SOME_FAILED = 1  # some update ended failed / invalid / not_found / cancelled
    USAGE = 2  # usage or plan error: nothing was sent
    # A fatal error (401/403, no credentials, an endpoint that refuses connections, a service
    # that stayed unhealthy past --max-sick-s) stopped the run.
    ABORTED = 3
    INTERRUPTED = 130  # Ctrl-C: report and journal still written


@dataclass(frozen=True, slots=True, kw_only=True)
class CommonOptions:
    region: str | None
    profile: str | None
    endpoint_url: str | None
    concurrency: int | None
    max_rate: float | None
    coordinate: str | None = None
    max_attempts: int
    deadline: float | None
    log_format: Literal["console", "json"]
    quiet: bool
    verbose: int
    progress: bool
    progress_interval_s: float = 5.0
    max_sick_s: float = CircuitPolicy().max_sick_s
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S

    def pacing(self) -> Adaptive:
        if self.max_rate is None:
            return Adaptive()
        return Adaptive(max_rate=self.max_rate, min_rate=min(Adaptive().min_rate, self.max_rate))

    def retry(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.max_attempts)

    def updater_kwargs(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "profile": self.profile,
            "endpoint_url": self.endpoint_url,
            "max_concurrency": self.concurrency,
            "pacing": self.pacing(),
            "coordinator": None if self.coordinate is None else RedisQuota(url=self.coordinate),
            "retry": self.retry(),
            "deadline": self.deadline,
            "circuit": CircuitPolicy(max_sick_s=self.max_sick_s),
            "read_timeout_s": self.read_timeout_s,
        }


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str | None, *, allow_insecure: bool) -> str | None:
    """Refuse plain http to anything but loopback: SigV4 signs, but does not hide, the body."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--endpoint-url")
    if parts.scheme == "http" and not _is_loopback(parts.hostname) and not allow_insecure:
        raise click.BadParameter(
            f"{url} is plain http to a non-loopback host; use https, or pass "
            "--allow-insecure-endpoint if you really mean it",
            param_hint="--endpoint-url",
        )
    return url


def _positive(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise click.BadParameter(f"must be positive, got {value}")
    return value


def _redis_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or value == "":
        return None
    try:
        RedisQuota(url=value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    try:
        import coredis  # noqa: F401 -- a missing extra is a usage error, found before sending
    except ImportError:
        raise click.BadParameter("needs the redis extra: pip install 'chime-bulk[redis]'") from None
    return value


_COMMON_OPTIONS: Final = [
    click.option("--region", help="Control Region of the meetings (default: AWS chain)."),
    click.option("--profile", help="AWS profile for credentials and Region."),
    click.option(
        "--endpoint-url",
        envvar="CHIME_BULK_ENDPOINT_URL",
        help="Service endpoint, e.g. the emulator's (env CHIME_BULK_ENDPOINT_URL).",
    ),
    click.option(
        "--allow-insecure-endpoint",
        is_flag=True,
        help="Allow a plain-http endpoint that is not on loopback.",
    ),
    click.option(
        "--concurrency",
        type=click.IntRange(1, 256),
        default=None,
        help="Requests in flight at once (default: sized from the rate and the latency, 4 to 256).",
    ),
    click.option(
        "--coordinate",
        envvar=COORDINATE_ENV_VAR,
        callback=_redis_url,
        metavar="redis://HOST:PORT/DB",
        help="Share one quota with every process and host using this Redis "
        f"(env {COORDINATE_ENV_VAR}; needs the redis extra).",
    ),
    click.option(
        "--max-rate",
        type=float,
        callback=_positive,
        help="Cap on requests/s (the pacer finds the real rate below it).",
    ),
    click.option(
        "--max-attempts",
        type=click.IntRange(1, 100),
        default=RetryPolicy().max_attempts,
        show_default=True,
        help="Attempts per update, the first included.",
    ),
    click.option(
        "--deadline",
        type=float,
        callback=_positive,
        help="Seconds; then unfinished updates are reported cancelled.",
    ),
    click.option(
        "--max-sick-s",
        type=float,
        callback=_positive,
        default=CircuitPolicy().max_sick_s,
        show_default=True,
        help="Seconds a failing service is waited out (paused, probed) before the run aborts.",
    ),
    click.option(
        "--read-timeout",
        type=float,
        callback=_positive,
        default=DEFAULT_READ_TIMEOUT_S,
        show_default=True,
        help="Seconds to wait for an answer; then the attempt is retried (writes are idempotent).",
    ),
    click.option(
        "--log-format",
        type=click.Choice(["console", "json"]),
        default="console",
        show_default=True,
    ),
    click.option("--quiet", "-q", is_flag=True, help="Only errors on stderr."),
    click.option("--verbose", "-v", count=True, help="-v: retries; -vv: every attempt."),
    click.option("--no-progress", is_flag=True, help="No progress bar."),
    click.option(
        "--progress-interval",
        type=float,
        callback=_positive,
        default=5.0,
        show_default=True,
        help="Seconds between progress lines when stderr is not a terminal (a pipe, a log).",
    ),
]


def common_options(function: F) -> F:
    """--region --profile --endpoint-url --concurrency --coordinate --max-rate --max-attempts
    --deadline --log-format --quiet --verbose --no-progress --progress-interval, gathered into
    `CommonOptions` as `common`."""

    def gather(**kwargs: Any) -> Any:
        allow_insecure = kwargs.pop("allow_insecure_endpoint")
        common = CommonOptions(
            region=kwargs.pop("region"),
            profile=kwargs.pop("profile"),
            endpoint_url=check_endpoint(kwargs.pop("endpoint_url"), allow_insecure=allow_insecure),
            concurrency=kwargs.pop("concurrency"),
            max_rate=kwargs.pop("max_rate"),
            coordinate=kwargs.pop("coordinate"),
            max_attempts=kwargs.pop("max_attempts"),
            deadline=kwargs.pop("deadline"),
            max_sick_s=kwargs.pop("max_sick_s"),
            read_timeout_s=kwargs.pop("read_timeout"),
            log_format=kwargs.pop("log_format"),
            quiet=kwargs.pop("quiet"),
            verbose=kwargs.pop("verbose"),
            progress=not kwargs.pop("no_progress"),
            progress_interval_s=kwargs.pop("progress_interval"),
        )
        return function(common=common, **kwargs)

    # Keep the options already attached to `function` (click stores them on the function).
    functools.update_wrapper(gather, function)
    wrapped: Any = gather
    for option in reversed(_COMMON_OPTIONS):
        wrapped = option(wrapped)
    return wrapped  # type: ignore[no-any-return]


_REPORT_SUFFIXES: Final = tuple(REPORT_FORMATS)


def report_path_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Checked before anything is sent: a run must never end unable to write its report.
    if value is None:
        return None
    if not value.endswith(_REPORT_SUFFIXES):
        raise click.BadParameter(
            f"{value!r}: the report format comes from the suffix; use one of "
            + ", ".join(_REPORT_SUFFIXES)
        )
    folder = Path(value).parent
    if not folder.is_dir():
        raise click.BadParameter(f"{value!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"{value!r}: cannot write in {str(folder)!r}")
    return value


def changing_options(function: F) -> F:
    """--report --dry-run --json, for the commands that change attendees."""
    options = [
        click.option(
            "--report",
            "report_path",
            type=click.Path(dir_okay=False, writable=True),
            callback=report_path_option,
            help="Write the report here (.json, .jsonl or .csv).",
        ),
        click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing."),
        click.option(
            "--json", "json_lines", is_flag=True, help="One JSON line per result on stdout."
        ),
    ]
    wrapped: Any = function
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped  # type: ignore[no-any-return]
