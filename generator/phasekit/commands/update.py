"""`phasekit update`: re-apply every applied blueprint with the current architecture (copier 3-way merge)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from .. import lock, model, preview, render
from .. import update as updating
from ..errors import PhasekitError
from ..progress import Progress
from ._options import arch_option, dest_option, dest_or_default, template_option, vcs_ref_option

VERBS = {
    preview.NEW: "new", preview.MISSING: "missing (deleted here; not recreated)", preview.UPDATED: "update",
    preview.MERGED: "merge", preview.CONFLICT: "CONFLICT",
    preview.KEPT: "keep (yours)", preview.DELETED: "delete", preview.ORPHANED: "keep (yours; no longer generated)",
}


@click.command("update")
@arch_option
@dest_option
@template_option
@vcs_ref_option
@click.option("--dry-run", is_flag=True, help="Preview per file what the update would do; write nothing.")
@click.option("--abort", is_flag=True, help="Undo an update that was interrupted (killed) half-way.")
def command(arch_path: Path, dest: Path | None, template: str | None, vcs_ref: str | None, dry_run: bool, abort: bool) -> None:
    """Update every blueprint recorded by a .copier-answers.*.yml under DEST (your edits are kept).

    \b
    Example:
      phasekit update --dry-run && phasekit update && git diff
    """
    dest = dest_or_default(dest, arch_path)
    if abort:
        with lock.held(dest, "update --abort"):
            base = updating.abort(dest)
        click.echo(f"restored {dest} to {base[:12]}, as it was before the update", err=True)
        return
    arch = model.load(arch_path)
    source = render.Source.resolve(template, vcs_ref)
    with contextlib.nullcontext() if dry_run else lock.held(dest, "update"), Progress("update") as progress:
        plans = updating.run(arch, dest, source, dry_run=dry_run, base=arch_path.resolve().parent, progress=progress)
    conflicts: list[Path] = []
    for plan in plans:
        where = plan.folder.relative_to(dest) if plan.folder != dest else Path(".")
        for rel, state in sorted(plan.files.items()):
            if state != preview.UNCHANGED:
                click.echo(f"{VERBS[state]:<34} {where / rel}")
        counts = plan.counts()
        summary = ", ".join(f"{n} {state}" for state, n in counts.items())
        if set(counts) <= {preview.UNCHANGED}:
            summary = f"nothing to do ({counts.get(preview.UNCHANGED, 0)} files unchanged)"
        click.echo(f"{plan.blueprint} ({where}): {summary}", err=True)
        conflicts += [where / rel for rel in plan.having(preview.CONFLICT)]
    if dry_run:
        click.echo(f"dry run: nothing written (template {source.vcs_ref})", err=True)
        return
    if conflicts:
        listed = ", ".join(map(str, conflicts))
        raise PhasekitError(
            f"update left conflict markers in {len(conflicts)} file(s): {listed}; resolve them (git diff shows both sides), then commit"
        )
    click.echo(f"updated to template {source.vcs_ref}; review with git diff, then commit", err=True)
