"""`phasekit apply`: render blueprints from architecture.yaml into a repository, all or nothing."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from .. import blueprints, lock, model, render
from ..errors import PhasekitError
from ..progress import Progress
from ._options import arch_option, dest_option, dest_or_default, template_option, vcs_ref_option


@click.command("apply")
@arch_option
@dest_option
@click.option("--blueprint", "names", multiple=True, help="Blueprint to apply (repeatable).")
@click.option("--phase", "phases", type=click.IntRange(1, 4), multiple=True, help="Apply every blueprint of a phase.")
@click.option("--all", "everything", is_flag=True, help="Apply every phase's blueprints.")
@template_option
@vcs_ref_option
@click.option("--dry-run", is_flag=True, help="List what would be written; write nothing.")
@click.option("--force", is_flag=True, help="Overwrite existing files that differ from the rendered ones.")
def command(
    arch_path: Path, dest: Path | None, names: tuple[str, ...], phases: tuple[int, ...], everything: bool,
    template: str | None, vcs_ref: str | None, dry_run: bool, force: bool,
) -> None:
    """Render blueprints into DEST (nothing is written unless every blueprint renders).

    \b
    Example:
      phasekit apply --phase 1 && git add -A && git commit -m "phasekit phase 1"
    """
    dest = dest_or_default(dest, arch_path)
    arch = model.load(arch_path)
    chosen = blueprints.select(list(names), list(phases), everything)
    if "service" in chosen:
        # The starter kit is one service in its own folder with its own answers file; applied here it would
        # write a service into the repository's root.
        raise PhasekitError("the service blueprint starts one service in a folder of its own: run "
                            "`phasekit new-service NAME` (it also adds the service to architecture.yaml)")
    source = render.Source.resolve(template, vcs_ref)
    with contextlib.nullcontext() if dry_run else lock.held(dest, "apply"), Progress("render") as progress:
        result = render.apply(arch, dest, chosen, source, dry_run=dry_run, force=force, base=arch_path.resolve().parent,
                              progress=progress)
    verb = "would write" if dry_run else "wrote"
    for rel in result.written:
        click.echo(f"{verb} {dest / rel}")
    click.echo(
        f"{', '.join(chosen)}: {verb} {len(result.written)} files, {len(result.unchanged)} unchanged"
        + (f" (template {source.vcs_ref})" if source.vcs_ref else ""),
        err=True,
    )
