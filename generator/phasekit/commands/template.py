"""`phasekit template-path` and `phasekit copier-data`: what plain copier needs to render and update the
blueprints without phasekit in the loop."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .. import model, template_repo
from ..errors import PhasekitError
from ._options import arch_option


@click.command("template-path")
def template_path() -> None:
    """Print the template's path for plain copier (creating or refreshing it first).

    The template is a local git repository holding every phasekit version this machine has seen, tagged
    v<version>; the one this phasekit ships is printed on stderr.

    \b
    Example:
      copier copy -d blueprint=helm "$(phasekit template-path)" .
    """
    source = template_repo.ensure()
    click.echo(str(Path(source.src_path).expanduser()))
    click.echo(f"template {source.ref} (recorded in answers files as {source.src_path})", err=True)


@click.command("copier-data")
@arch_option
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the data file here instead of standard output (keep it outside the repository: "
                   "copier update refuses a dirty tree).")
def copier_data(arch_path: Path, output: Path | None) -> None:
    """Print architecture.yaml as copier data, for `copier copy/update --data-file`.

    copier update reuses the architecture recorded in the answers file; this is how plain copier sees edits
    to architecture.yaml (phasekit update does the same for you). The output is JSON, which YAML reads.

    \b
    Example:
      phasekit copier-data -o /tmp/phasekit-data.yml
      copier update --defaults --data-file /tmp/phasekit-data.yml -a .copier-answers.helm.yml
    """
    arch = model.load(arch_path)
    text = json.dumps({"architecture": arch}, indent=1, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise PhasekitError(f"-o {output}: {exc.strerror or exc}") from None


command = template_path
