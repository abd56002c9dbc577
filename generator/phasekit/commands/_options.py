"""Options several commands share, and how a command run from a subfolder finds the repository's files."""

from __future__ import annotations

import os
from pathlib import Path

import click

ARCH_NAME = "architecture.yaml"


def find_architecture(start: Path) -> Path | None:
    """The nearest architecture.yaml in start or above it, as git finds .git: the search stops at the
    repository's root (the folder holding .git); outside a git repository only start itself is looked at."""
    start = start.resolve()
    if (start / ARCH_NAME).is_file():
        return start / ARCH_NAME
    if not any((folder / ".git").exists() for folder in (start, *start.parents)):
        return None
    for folder in start.parents:
        if (folder / ARCH_NAME).is_file():
            return folder / ARCH_NAME
        if (folder / ".git").exists():
            return None
    return None


def _discover_arch(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    if value is not None:
        return value
    here = Path.cwd()
    if (here / ARCH_NAME).is_file():
        return Path(ARCH_NAME)
    found = find_architecture(here)
    if found is None:
        return Path(ARCH_NAME)  # not found: the command says so, naming this file
    relative = Path(os.path.relpath(found, here))
    click.echo(f"note: using {relative} (found above this folder)", err=True)
    return relative


arch_option = click.option(
    "--arch", "arch_path", type=click.Path(path_type=Path), default=None, callback=_discover_arch,
    help=f"The captured architecture.  [default: {ARCH_NAME} here or in the nearest folder above, up to the "
         "git repository's root]",
)
dest_option = click.option(
    "--dest", type=click.Path(path_type=Path), default=None,
    help="Repository to write into.  [default: here; the repository root when architecture.yaml was found above]",
)


def dest_or_default(dest: Path | None, arch_path: Path) -> Path:
    """--dest; else, when --arch was not given, the folder the architecture file was found in (here, or the
    repository root above); else here."""
    if dest is not None:
        return dest
    ctx = click.get_current_context()
    if ctx.get_parameter_source("arch_path") == click.core.ParameterSource.DEFAULT and str(arch_path.parent):
        return arch_path.parent
    return Path(".")


template_option = click.option(
    "--template", default=None, help="Template source (git URL, path or bundle); default: the one phasekit ships."
)
vcs_ref_option = click.option("--vcs-ref", default=None, help="Template version (git tag or commit) to use.")
