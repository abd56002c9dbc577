"""Options several commands share."""

from __future__ import annotations

from pathlib import Path

import click

arch_option = click.option(
    "--arch", "arch_path", type=click.Path(path_type=Path), default=Path("architecture.yaml"),
    show_default=True, help="The captured architecture.",
)
dest_option = click.option(
    "--dest", type=click.Path(path_type=Path), default=Path("."), show_default=True,
    help="Repository to write into.",
)
template_option = click.option(
    "--template", default=None, help="Template source (git URL, path or bundle); default: the one phasekit ships."
)
vcs_ref_option = click.option("--vcs-ref", default=None, help="Template version (git tag or commit) to use.")
