"""`phasekit assess`: the gap report (readiness per capability, gaps, roadmap, diagrams) as Markdown or JSON."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .. import assess as assessment
from .. import model
from ..errors import PhasekitError
from ._options import arch_option


@click.command("assess")
@arch_option
@click.option("--repo", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Repository to read for evidence [default: the folder holding --arch].")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the report here instead of standard output.")
@click.option("--fail-under", type=click.IntRange(0, 100), default=None,
              help="Exit 1 when the overall readiness (percent) is below N.")
@click.option("--svg-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also write readiness charts (SVG) here; the Markdown links to them.")
def command(arch_path: Path, repo: Path | None, fmt: str, output: Path | None, fail_under: int | None,
            svg_dir: Path | None) -> None:
    """Score the architecture and the repository against ten capabilities and list the gaps and the roadmap.

    \b
    Example:
      phasekit assess -o docs/gap-analysis.md --svg-dir docs/img
    """
    arch = model.load(arch_path)
    repo = repo if repo is not None else (arch_path.parent if str(arch_path.parent) else Path("."))
    if not repo.is_dir():
        raise PhasekitError(f"--repo {repo}: no such directory")
    report = assessment.assess(arch, repo)
    links: dict[str, str] = {}
    if svg_dir is not None:
        try:
            svg_dir.mkdir(parents=True, exist_ok=True)
            for name, text in assessment.render_svgs(report).items():
                (svg_dir / name).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise PhasekitError(f"--svg-dir {svg_dir}: {exc.strerror or exc}") from None
        base = str(output.parent) if output is not None else "."
        for name in assessment.render_svgs(report):
            key = "readiness" if name == "readiness.svg" else name.removeprefix("readiness-").removesuffix(".svg")
            links[key] = Path(os.path.relpath(str(svg_dir / name), base)).as_posix()
    text = assessment.render_json(report) if fmt == "json" else assessment.render_markdown(report, links)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise PhasekitError(f"-o {output}: {exc.strerror or exc}") from None
    click.echo(f"{report.project}: {report.percent}% ready, {report.met}/{len(report.capabilities)} capabilities met, "
               f"{len(report.gaps)} gap{'' if len(report.gaps) == 1 else 's'}", err=True)
    if fail_under is not None and report.percent < fail_under:
        raise PhasekitError(f"readiness {report.percent}% is below --fail-under {fail_under}")
