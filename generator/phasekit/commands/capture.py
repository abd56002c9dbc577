"""`phasekit capture`: write architecture.yaml from compose files, the repo and (optionally) prompts."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import capture, lock, model
from ..errors import PhasekitError
from ..files import writable_target, write_atomically


@click.command("capture")
@click.option("--from-compose", "compose_files", multiple=True, type=click.Path(path_type=Path),
              help="A docker-compose file to import (repeat to merge several, as `docker compose -f` does).")
@click.option("--repo", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Repository to detect services in.")
@click.option("--non-interactive", is_flag=True, help="Ask nothing; use what was detected.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("architecture.yaml"), show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing output file.")
def command(compose_files: tuple[Path, ...], repo: Path, non_interactive: bool, output: Path, force: bool) -> None:
    """Capture the current architecture into architecture.yaml.

    Interactively (the default, in a terminal) every detected service can be accepted with one answer, and
    a summary is shown before anything is written; capturing again starts from the existing file.

    \b
    Example:
      phasekit capture --from-compose docker-compose.yml --non-interactive
    """
    output = writable_target(output, "-o")
    if output.exists() and not force and non_interactive:
        raise PhasekitError(f"{output} exists; pass --force to replace it (or -o another file)")
    asker = None
    if not non_interactive:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise PhasekitError("no terminal to ask questions in: run with --non-interactive "
                                "(capture from --from-compose FILE or the repository's Dockerfiles)")
        from ..capture import prompts

        asker = prompts.QuestionaryAsker()
        # Asked first, so nobody answers every question to learn at the end that nothing will be written.
        if output.exists() and not force and not asker.confirm(
                f"{output} exists. Capture again and replace it (the questions start from what it holds)?", True):
            raise PhasekitError(f"{output} exists; nothing written")

    def warn(message: str) -> None:
        click.secho(f"note: {message}", fg="yellow", err=True)

    if compose_files:
        arch = capture.from_compose(list(compose_files), repo, warn)
    else:
        arch = capture.from_repo(repo, warn)
    if non_interactive and not arch["services"]:
        raise PhasekitError(f"found no service to capture in {repo}: give --from-compose FILE or run interactively")
    if asker is not None:
        from ..capture import prompts

        existing = None
        if output.exists():
            try:
                existing = model.load(output)
            except PhasekitError as exc:
                warn(f"starting from what was detected: {exc}")
        arch = prompts.run(prompts.starting_point(existing, arch), asker)
        asker.note(prompts.review(arch))
        if not asker.confirm(f"Write {output}?", True):
            raise PhasekitError(f"nothing written to {output}")
    text = model.dump(arch)
    model.parse(text, str(output))  # what we write must load back
    with lock.held(output.parent, "capture"):
        write_atomically(output, text, "-o")
    services, stores = len(arch["services"]), len(arch["datastores"])
    click.echo(f"wrote {output}: {services} services, {stores} datastores, {len(arch['facts'])} facts", err=True)
