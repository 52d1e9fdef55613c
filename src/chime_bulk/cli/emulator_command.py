"""`chime-bulk emulator`: serve the local Chime SDK Meetings emulator until Ctrl-C."""

from __future__ import annotations

import sys

import click

from ..emulator import (
    DEFAULT_LOG_LIMIT,
    Emulator,
    FaultConfig,
    Faults,
    load_fault_config,
    parse_rate_specs,
    run_forever,
)
from ..emulator.config import merge_faults

#: The fault flags, by the `Faults` field each sets.
_FAULT_FLAGS = {
    "p503": "p503",
    "retry_after": "retry_after_s",
    "p500": "p500",
    "latency_ms": "latency_ms",
}

__all__ = ["emulator_command"]


def _probability(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not 0 <= value <= 1:
        raise click.BadParameter(f"must be a probability between 0 and 1, got {value}")
    return value


def _faults(config_path: str | None, given: dict[str, float]) -> tuple[FaultConfig, Faults]:
    """The fault configuration (`--config`) with the fault flags over it."""
    try:
        config = load_fault_config(config_path) if config_path else FaultConfig()
    except (OSError, ValueError) as error:
        raise click.BadParameter(str(error), param_hint="--config") from None
    context = click.get_current_context()
    # Without --config the flags' defaults are the defaults; with it, only flags given count.
    overrides = {
        _FAULT_FLAGS[name]: value
        for name, value in given.items()
        if config_path is None
        or context.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT
    }
    return config, merge_faults(config.faults, overrides)


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port (0: any free port).",
)
@click.option("--region", default="us-east-1", show_default=True, help="The emulated Region.")
@click.option(
    "--meetings",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Meetings to create at start.",
)
@click.option(
    "--attendees",
    type=click.IntRange(0, 250),
    default=0,
    show_default=True,
    help="Attendees in each of those meetings.",
)
@click.option(
    "--rate",
    "rates",
    multiple=True,
    metavar="OP=RATE[:BURST]",
    help="Quota per operation ('*' for all, 0 unlimited; default *=10:20).",
)
@click.option(
    "--p503",
    type=float,
    default=0.0,
    callback=_probability,
    help="Probability of a 503 on a write.",
)
@click.option(
    "--retry-after",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Retry-After seconds on 503s.",
)
@click.option(
    "--p500",
    type=float,
    default=0.0,
    callback=_probability,
    help="Probability of a 500 on a write.",
)
@click.option(
    "--latency-ms", type=click.FloatRange(0), default=0.0, help="Latency added to every request."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for IDs and faults.")
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, writable=True),
    help="Write endpoint, Region and meetings here (JSON) once listening.",
)
@click.option(
    "--log-limit",
    type=click.IntRange(1),
    default=DEFAULT_LOG_LIMIT,
    show_default=True,
    help="Request log records kept (the oldest are dropped).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Faults as JSON (every kind; see docs/emulator.md); the flags above override it.",
)
def emulator_command(
    *,
    host: str,
    port: int,
    region: str,
    meetings: int,
    attendees: int,
    rates: tuple[str, ...],
    p503: float,
    retry_after: float,
    p500: float,
    latency_ms: float,
    seed: int,
    ready_file: str | None,
    log_limit: int,
    config_path: str | None,
) -> None:
    """Serve a local Amazon Chime SDK Meetings emulator (any SigV4 credentials work)."""
    try:
        parsed_rates = parse_rate_specs(rates) if rates else None
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--rate") from None
    config, faults = _faults(
        config_path,
        {"p503": p503, "retry_after": retry_after, "p500": p500, "latency_ms": latency_ms},
    )

    def announce(emu: Emulator) -> None:
        click.echo(
            f"chime-bulk emulator listening on {emu.endpoint_url} (Region {emu.region}, "
            f"{meetings} meeting(s) of {attendees} attendee(s)); Ctrl-C to stop",
            err=True,
        )

    try:
        run_forever(
            host=host,
            port=port,
            region=region,
            rates=parsed_rates,
            faults=faults,
            brownouts=config.brownouts,
            seed=seed,
            meetings=meetings,
            attendees=attendees,
            ready_file=ready_file,
            on_ready=announce,
            max_logged_requests=log_limit,
        )
    except KeyboardInterrupt:
        click.echo("emulator stopped", err=True)
        sys.exit(0)
    except OSError as error:
        raise click.ClickException(f"cannot serve on {host}:{port}: {error.strerror}") from None
