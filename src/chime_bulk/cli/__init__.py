"""The `chime-bulk` command line. `main()` is the console-script entry point."""

from __future__ import annotations

import sys

import click

from .._version import __version__
from .apply import apply_command
from .common import ExitCode
from .demo import demo_command
from .emulator_command import emulator_command
from .state_commands import mute_command, restore_command, unmute_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(version=__version__, prog_name="chime-bulk")
def cli() -> None:
    """Change Amazon Chime SDK meeting attendees' capabilities in bulk.

    \b
    Exit codes: 0 all succeeded or unchanged; 1 some update failed, was invalid, not found
    or cancelled; 2 usage or plan error (nothing sent); 3 run aborted by a fatal error;
    130 interrupted (report and journal still written).
    """


cli.add_command(apply_command)
cli.add_command(mute_command)
cli.add_command(unmute_command)
cli.add_command(restore_command)
cli.add_command(emulator_command)
cli.add_command(demo_command)


def main() -> None:
    """Run the CLI. Ctrl-C before a run is under way (reading a plan from stdin, listing
    meetings) also exits 130, like one during a run."""
    try:
        cli.main(prog_name="chime-bulk", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted; nothing was sent", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
