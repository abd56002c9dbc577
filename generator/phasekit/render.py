"""The one place that calls copier: apply blueprints (all-or-nothing) and update them (3-way merge)."""

from __future__ import annotations

import filecmp
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import blueprints as catalogue
from . import template_repo
from .errors import PhasekitError
from .model import Architecture


@dataclass
class Source:
    """Where copier reads the template: the materialised bundled template, or a user-given one."""

    src_path: str
    vcs_ref: str | None

    @classmethod
    def resolve(cls, template: str | None, vcs_ref: str | None) -> Source:
        if template:
            return cls(template, vcs_ref)
        bundled = template_repo.ensure()
        return cls(bundled.src_path, vcs_ref or bundled.ref)


@dataclass
class ApplyResult:
    written: list[Path] = field(default_factory=list)  # relative to dest, created or changed
    unchanged: list[Path] = field(default_factory=list)


def answers_file(blueprint: str) -> str:
    return f".copier-answers.{blueprint}.yml"


def _copier() -> Any:
    # Imported lazily: copier pulls in much, and `phasekit --help` should stay instant.
    import copier

    return copier


def render_to(tmp: Path, arch: Architecture, blueprint: str, source: Source, extra: dict[str, Any] | None = None) -> None:
    """Render one blueprint into an empty folder, with no prompts and no --trust."""
    copier = _copier()
    data = {"blueprint": blueprint, "architecture": arch, **(extra or {})}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DirtyLocalWarning and friends: we report our own way
        try:
            copier.run_copy(
                source.src_path,
                tmp,
                data=data,
                vcs_ref=source.vcs_ref,
                defaults=True,
                overwrite=True,
                unsafe=False,
                quiet=True,
                cleanup_on_error=False,
            )
        except (ValueError, copier.errors.CopierError) as exc:
            raise PhasekitError(f"blueprint {blueprint}: {_first_line(exc)}") from None


def apply(
    arch: Architecture,
    dest: Path,
    blueprints: list[str],
    source: Source,
    *,
    dry_run: bool = False,
    force: bool = False,
    extra: dict[str, Any] | None = None,
) -> ApplyResult:
    """Render every blueprint into a temporary folder, check nothing the user wrote is overwritten, then move.

    Nothing reaches dest unless every blueprint rendered and no conflict was found (all-or-nothing).
    """
    for name in blueprints:
        catalogue.get(name)  # unknown names fail before any work
    _check_dest(dest, dry_run)
    result = ApplyResult()
    with tempfile.TemporaryDirectory(prefix="phasekit-render-") as tmp_name:
        staging = Path(tmp_name)
        for name in blueprints:
            render_to(staging / name, arch, name, source, extra)
        plan: list[tuple[Path, Path]] = []  # (rendered file, relative path)
        refused: list[str] = []
        for name in blueprints:
            root = staging / name
            for rendered in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
                rel = rendered.relative_to(root)
                target = dest / rel
                if target.exists() and filecmp.cmp(rendered, target, shallow=False):
                    result.unchanged.append(rel)
                    continue
                if target.exists() and not force:
                    refused.append(str(rel))
                plan.append((rendered, rel))
        if refused:
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            raise PhasekitError(
                f"{dest / refused[0]} exists and differs from what phasekit would write{more}; "
                "use `phasekit update` for applied blueprints, or --force to overwrite"
            )
        result.written = [rel for _, rel in plan]
        if not dry_run:
            _move_all(plan, dest)
    return result


def _check_dest(dest: Path, dry_run: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise PhasekitError(f"--dest {dest} is not a folder")
    probe = dest if dest.exists() else next((p for p in dest.parents if p.exists()), Path("/"))
    if not dry_run and not os.access(probe, os.W_OK | os.X_OK):
        raise PhasekitError(f"--dest {dest} is not writable")


def _move_all(plan: list[tuple[Path, Path]], dest: Path) -> None:
    """Copy each file beside its target, then rename over it: a reader never sees half a file."""
    for rendered, rel in plan:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.phasekit-partial")
        shutil.copy2(rendered, partial)
        os.replace(partial, target)


def applied_blueprints(dest: Path) -> list[str]:
    """Blueprints recorded by an answers file in dest, in catalogue order."""
    found = {p.name[len(".copier-answers.") : -len(".yml")] for p in dest.glob(".copier-answers.*.yml")}
    return [b.name for b in catalogue.ALL if b.name in found]


def update(arch: Architecture, dest: Path, source: Source, blueprints: list[str] | None = None) -> list[str]:
    """copier update (3-way merge) every applied blueprint with the current architecture."""
    copier = _copier()
    names = blueprints or applied_blueprints(dest)
    if not names:
        raise PhasekitError(f"no blueprint applied in {dest} (no .copier-answers.*.yml); run `phasekit apply` first")
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                # Worker, not run_update: only the Worker takes the new template's source. The old version
                # is rendered again from the answers file's _src_path at its _commit.
                with copier.Worker(
                    dst_path=dest,
                    src_path=source.src_path,
                    data={"architecture": arch},
                    answers_file=answers_file(name),
                    vcs_ref=source.vcs_ref,
                    defaults=True,
                    overwrite=True,
                    unsafe=False,
                    quiet=True,
                    skip_answered=True,
                    conflict="inline",
                ) as worker:
                    worker.run_update()
            except (ValueError, copier.errors.CopierError) as exc:
                raise PhasekitError(f"update of blueprint {name}: {_first_line(exc)}") from None
    return names


def recorded_answers(dest: Path, blueprint: str) -> dict[str, Any]:
    path = dest / answers_file(blueprint)
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
