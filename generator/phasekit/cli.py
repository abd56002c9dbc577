"""Command line entry point: registers the commands and maps failures to exit codes.

0 ok; 1 user error or failed check (one line, no traceback); 2 usage; 3 unexpected (traceback with --debug,
otherwise written to a log file the user can attach to a bug report).
"""

from __future__ import annotations

import gc
import importlib
import re
import sys
import tempfile
import traceback
from typing import NoReturn

import click

from . import __version__
from .errors import PhasekitError

# command name -> (module under phasekit.commands, attribute). A command's module is imported only when
# that command runs (or help lists it): `apply` need not load check's validators or capture's prompts.
COMMANDS = {
    "capture": ("capture", "command"), "assess": ("assess", "command"), "blueprints": ("blueprints", "command"),
    "apply": ("apply", "command"), "update": ("update", "command"), "check": ("check", "command"),
    "new-service": ("new_service", "command"), "install-validators": ("install_validators", "command"),
    "template-path": ("template", "template_path"), "copier-data": ("template", "copier_data"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(f".commands.{module}", __package__), attribute)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="phasekit")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """From docker-compose and hand-set IPs to health checks, Terraform, monitoring, CI, Helm and policy."""
    ctx.obj = {"debug": debug}


MAX_LINE = 400  # characters of an error line; a compose error once printed 457 KB
ELLIPSIS = " [...] "  # ASCII: stderr may not be UTF-8


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """An error message as one line of at most `limit` characters: line breaks become spaces, the middle
    of a longer one is cut with an ellipsis (its start says what failed, its end often where)."""
    text = re.sub(r"\s*[\r\n\u2028\u2029\x85]+\s*", " ", text).strip()
    if len(text) <= limit:
        return text
    head = (limit - len(ELLIPSIS)) * 3 // 4
    return text[:head] + ELLIPSIS + text[len(text) - (limit - len(ELLIPSIS) - head):]


def crash_header(argv: list[str] | None) -> str:
    """What a bug report needs besides the traceback: the versions that ran, and the command."""
    import platform
    from importlib import metadata

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    args = argv if argv is not None else sys.argv[1:]
    return (f"phasekit {__version__}, copier {version('copier')}, Jinja2 {version('Jinja2')}, "
            f"Python {platform.python_version()} ({sys.executable}), {platform.platform()}\n"
            f"command: phasekit {' '.join(args)}\n\n")


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="phasekit", standalone_mode=False)
    except PhasekitError as exc:
        click.secho(f"phasekit: error: {one_line(str(exc))}", fg="red", err=True)
        return exc.exit_code
    except OSError as exc:  # the machine, not phasekit: a full disk, a read-only folder, a vanished file
        where = f"{exc.filename}: " if exc.filename else ""
        click.secho(f"phasekit: error: {one_line(where + (exc.strerror or str(exc)))}", fg="red", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("phasekit: aborted", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return 2
    except KeyboardInterrupt:
        click.echo("phasekit: interrupted", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become exit 3
        if debug:
            traceback.print_exc()
        else:
            with tempfile.NamedTemporaryFile("w", prefix="phasekit-crash-", suffix=".log", delete=False) as log:
                log.write(crash_header(argv))
                traceback.print_exc(file=log)
            click.secho(f"phasekit: unexpected error: {one_line(f'{type(exc).__name__}: {exc}')}", fg="red", err=True)
            click.echo(f"phasekit: details in {log.name} (run with --debug to see them here)", err=True)
        return 3
    return 0


def run() -> NoReturn:
    """The `phasekit` command: main(), then exit without collecting garbage. The process is ending, and the
    interpreter's last collections over every object copier and Jinja made cost about 0.05 s of a 0.55 s
    one-service apply; atexit handlers, temporary folders and module teardown still run."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
