"""`phasekit check`: run the real validators on every artifact in a folder; exit 1 when any failed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .. import check as checker
from ..errors import PhasekitError
from ..progress import Progress

if TYPE_CHECKING:
    from ..check._generated import Generated


class CheckFailed(PhasekitError):
    """Some validator failed (or, with --strict, was skipped). The report has already been printed."""


@click.command("check")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("."))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True,
              help="Report format (sarif: SARIF 2.1.0 for code-scanning upload).")
@click.option("--only-generated", is_flag=True,
              help="Check only the files phasekit wrote (what the applied blueprints render), not your own.")
@click.option("--strict", is_flag=True, help="Also fail when a validator was skipped (tool missing).")
@click.option("--kube-version", default=None, metavar="X.Y",
              help=f"Kubernetes version for schema checks [default: architecture.yaml's targets, else "
                   f"{checker.DEFAULT_KUBE_VERSION}].")
@click.option("--validator", "only", multiple=True, type=click.Choice(sorted(checker.VALIDATORS)),
              help="Run only this validator (repeatable).")
@click.option("--timeout", type=click.FloatRange(1), default=checker.DEFAULT_TIMEOUT, show_default=True,
              help="Seconds allowed per validator call.")
@click.option("--jobs", "-j", type=click.IntRange(1), default=None, help="Parallel validator calls [default: CPUs].")
@click.option("--verbose", "-v", is_flag=True, help="Show notes of passed checks too.")
def command(directory: Path, fmt: str, only_generated: bool, strict: bool, kube_version: str | None, only: tuple[str, ...],
            timeout: float, jobs: int | None, verbose: bool) -> None:
    """Validate every artifact in DIRECTORY (default: here) with its ecosystem's own tool.

    Each validator x artifact is reported passed, failed (with the tool's message) or skipped (tool not
    installed: run `phasekit install-validators`). Failures are listed again by file at the end, each
    marked as a file phasekit wrote or one of yours. Exit 0 only when nothing failed.

    \b
    Example:
      phasekit check --only-generated --format sarif > phasekit.sarif
    """
    if kube_version is not None and not kube_version.replace(".", "").isdigit():
        raise click.BadParameter(f"{kube_version!r} is not a version like 1.31", param_hint="--kube-version")
    from ..check import _generated

    # which files phasekit wrote (the applied blueprints, rendered again), found while the validators run
    pending = _generated.find_in_background(directory)
    generated = pending.result() if only_generated else None
    if generated is not None and not generated:
        _notes(generated)
        raise PhasekitError(f"{directory}: no file phasekit wrote (no applied blueprint whose render can be repeated)")
    with Progress("check") as progress:
        report = checker.run(directory, validators=only or None, kube_version=kube_version, timeout=timeout, jobs=jobs,
                             progress=progress, include=generated.owns if generated is not None else None)
    generated = pending.result()
    _notes(generated)
    if fmt == "json":
        click.echo(checker.format_json(report, generated))
    elif fmt == "sarif":
        click.echo(checker.format_sarif(report, generated))
    else:
        click.echo(checker.format_text(report, verbose=verbose, generated=generated))
    if not report.ok(strict=strict):
        reason = f"{report.failed} failed" if report.failed else f"{report.skipped} skipped (--strict)"
        raise CheckFailed(f"check: {reason}")


def _notes(generated: Generated) -> None:
    for answers in generated.unknown:
        click.secho(f"note: cannot tell which files {answers} rendered (its template version is not here)",
                    fg="yellow", err=True)
