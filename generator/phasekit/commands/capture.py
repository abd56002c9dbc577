"""`phasekit capture`: write architecture.yaml from compose files, the repo and (optionally) prompts."""

from __future__ import annotations

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
    """Capture the current architecture into architecture.yaml."""
    output = writable_target(output, "-o")
    if output.exists() and not force and non_interactive:
        raise PhasekitError(f"{output} exists; pass --force to replace it (or -o another file)")

    def warn(message: str) -> None:
        click.secho(f"note: {message}", fg="yellow", err=True)

    if compose_files:
        arch = capture.from_compose(list(compose_files), repo, warn)
    else:
        arch = capture.from_repo(repo, warn)
    if non_interactive and not arch["services"]:
        raise PhasekitError(f"found no service to capture in {repo}: give --from-compose FILE or run interactively")
    if not non_interactive:
        from ..capture import prompts

        arch = prompts.run(arch, prompts.QuestionaryAsker())
        if output.exists() and not force and not prompts.QuestionaryAsker().confirm(f"Replace {output}?", False):
            raise PhasekitError(f"{output} exists; nothing written")
    text = model.dump(arch)
    model.parse(text, str(output))  # what we write must load back
    with lock.held(output.parent, "capture"):
        write_atomically(output, text, "-o")
    services, stores = len(arch["services"]), len(arch["datastores"])
    click.echo(f"wrote {output}: {services} services, {stores} datastores, {len(arch['facts'])} facts", err=True)
