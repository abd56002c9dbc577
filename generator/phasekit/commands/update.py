"""`phasekit update`: re-apply every applied blueprint with the current architecture (copier 3-way merge)."""

from __future__ import annotations

from pathlib import Path

import click

from .. import model, render
from ._options import arch_option, dest_option, template_option, vcs_ref_option


@click.command("update")
@arch_option
@dest_option
@template_option
@vcs_ref_option
@click.option("--dry-run", is_flag=True, help="Preview per file what the update would do; write nothing.")
def command(arch_path: Path, dest: Path, template: str | None, vcs_ref: str | None, dry_run: bool) -> None:
    """Update the blueprints recorded in DEST's .copier-answers.*.yml (your edits are kept by a 3-way merge)."""
    arch = model.load(arch_path)
    source = render.Source.resolve(template, vcs_ref)
    names = render.update(arch, dest, source)
    click.echo(f"updated {', '.join(names)} to template {source.vcs_ref or 'latest'}", err=True)
