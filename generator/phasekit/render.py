"""The one place that calls copier: render a blueprint into a scratch folder, and apply blueprints (all-or-nothing).

Also what apply leaves behind and update reads back: the answers files (`applied`, `recorded_answers`). The
update itself (preview, merge, its git session) is update.py's."""

from __future__ import annotations

import contextlib
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
from . import chart_files, copier_runtime, parallel, template_repo
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

    def plain(self) -> tuple[Path, str] | None:
        """A plain copy of a local git template at vcs_ref, and the `_commit` copier would record.

        copier clones a git template for every render (one clone, ~200 git calls and a delete per
        blueprint); rendering a plain folder skips all that. The copy is extracted once per process and
        reused; remote templates (or no ref) go the ordinary way through copier.
        """
        repo = Path(self.src_path).expanduser()
        if not self.vcs_ref or not (repo / ".git").exists():
            return None
        return copier_runtime.plain_copy(repo, self.vcs_ref)

    def prepare(self) -> None:
        """Load, in this process, what every render of this template loads first: renders that run in forked
        workers (parallel.py) then inherit it instead of each loading it again."""
        plain = self.plain()
        copier_runtime.preload(plain[0] if plain else None)


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
    plain = source.plain()
    with warnings.catch_warnings(), copier_runtime.rendering_into_scratch():
        warnings.simplefilter("ignore")  # DirtyLocalWarning and friends: we report our own way
        try:
            copier.run_copy(
                str(plain[0]) if plain else source.src_path,
                tmp,
                data=data,
                vcs_ref=None if plain else source.vcs_ref,
                defaults=True,
                overwrite=True,
                unsafe=False,
                quiet=True,
                cleanup_on_error=False,
            )
        except (ValueError, copier.errors.CopierError) as exc:
            raise PhasekitError(f"blueprint {blueprint}: {_first_line(exc)}") from None
    if plain:
        copier_runtime.record_origin(tmp / answers_file(blueprint), source.src_path, plain[1])


def apply(
    arch: Architecture,
    dest: Path,
    blueprints: list[str],
    source: Source,
    *,
    dry_run: bool = False,
    force: bool = False,
    extra: dict[str, Any] | None = None,
    base: Path | None = None,
    progress: Any = None,
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
        if progress is not None:
            progress.start(len(blueprints))
        source.prepare()  # before any worker starts
        parallel.map_in_processes(lambda name: render_to(staging / name, arch, name, source, extra), blueprints,
                                  done=progress.step if progress is not None else None)
        if "helm" in blueprints:
            chart_files.write(arch, base or dest, staging / "helm")
        plan: list[tuple[Path, Path]] = []  # (rendered file, relative path)
        refused: list[str] = []
        for name in blueprints:
            root = staging / name
            for rendered in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
                rel = rendered.relative_to(root)
                target = dest / rel
                if target.is_file() and filecmp.cmp(rendered, target, shallow=False):
                    result.unchanged.append(rel)
                    continue
                if target.exists() and not force:
                    refused.append(str(rel))
                plan.append((rendered, rel))
        _check_targets([rel for _, rel in plan], dest, dry_run)
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


def _check_targets(rels: list[Path], dest: Path, dry_run: bool) -> None:
    """Before the first write: every target's folders are folders (not a file named like one), inside
    dest (not a symlink out of it) and writable, and no target is a folder or a device."""
    root = dest.resolve()
    checked: set[Path] = set()
    for rel in rels:
        target = dest / rel
        for folder in [dest / p for p in reversed(rel.parents[:-1])]:
            if folder in checked:
                continue
            if folder.is_symlink() and not folder.resolve().is_relative_to(root):
                raise PhasekitError(f"{folder} is a symlink to {folder.resolve()}, outside {dest}; "
                                    "phasekit does not write through it (nothing written)")
            if not folder.exists():
                break  # created by the write, with everything below it
            if not folder.is_dir():
                raise PhasekitError(f"{folder} is a file where phasekit writes a folder (for {target}); "
                                    "move it away (nothing written)")
            checked.add(folder)
        if target.is_dir() and not target.is_symlink():
            raise PhasekitError(f"{target} is a folder where phasekit writes a file; move it away (nothing written)")
        if target.exists() and not target.is_symlink() and not target.is_file():
            raise PhasekitError(f"{target} is not a regular file (a device, FIFO or socket); nothing written")
        parent = next((p for p in [target.parent, *target.parent.parents] if p.exists()), Path("/"))
        if not dry_run and not os.access(parent, os.W_OK | os.X_OK):
            raise PhasekitError(f"{parent} is not writable (for {target}); nothing written")


def _move_all(plan: list[tuple[Path, Path]], dest: Path) -> None:
    """Copy each file beside its target, then rename over it: a reader never sees half a file, and a
    killed apply leaves whole files only (running it again completes it). A failed write (a full disk)
    puts back every file this run replaced, removes the ones it created: nothing written."""
    done: list[tuple[Path, Path | None]] = []  # (target, hard link to what it was)
    made: list[Path] = []  # folders this run created
    target = dest
    try:
        for rendered, rel in plan:
            target = dest / rel
            missing = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
            for folder in reversed(missing):
                folder.mkdir()
                made.append(folder)
            backup = None
            if target.exists() or target.is_symlink():
                backup = target.with_name(f".{target.name}.phasekit-backup")
                backup.unlink(missing_ok=True)
                try:
                    os.link(target, backup, follow_symlinks=False)  # no copy: a full disk can still roll back
                except OSError:  # a file system without hard links
                    shutil.copy2(target, backup, follow_symlinks=False)
            partial = target.with_name(f".{target.name}.phasekit-partial")
            done.append((target, backup))
            try:
                _stage(rendered, partial)
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
    except OSError as exc:
        _roll_back(done, made)
        raise PhasekitError(f"cannot write {target}: {exc.strerror or exc}; nothing written "
                            "(what this run had written was put back)") from None
    for _, backup in done:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _stage(rendered: Path, partial: Path) -> None:
    """Put a rendered file beside its target: a rename when the scratch folder is on the same file system
    (the scratch copy is discarded anyway), else a copy."""
    try:
        os.rename(rendered, partial)
    except OSError:
        shutil.copy2(rendered, partial)


def _roll_back(done: list[tuple[Path, Path | None]], made: list[Path]) -> None:
    for target, backup in reversed(done):
        with contextlib.suppress(OSError):
            if backup is not None:
                os.replace(backup, target)
            else:
                target.unlink(missing_ok=True)
    for folder in reversed(made):
        with contextlib.suppress(OSError):
            folder.rmdir()


SKIP_DIRS = {".git", "node_modules", ".venv", ".terraform", "__pycache__"}


def applied(dest: Path) -> list[tuple[Path, str]]:
    """(folder, blueprint) for every answers file under dest: the system's layers at the top, each
    starter-kit service in its own folder."""
    found: list[tuple[Path, str]] = []
    order = {b.name: i for i, b in enumerate(catalogue.ALL)}

    def walk(folder: Path) -> None:
        for path in sorted(folder.iterdir()):
            if path.is_dir() and path.name not in SKIP_DIRS and not path.is_symlink():
                walk(path)
            elif path.name.startswith(".copier-answers.") and path.name.endswith(".yml"):
                name = path.name[len(".copier-answers.") : -len(".yml")]
                if name in order:
                    found.append((folder, name))

    walk(dest)
    return sorted(found, key=lambda item: (len(item[0].parts), order[item[1]], str(item[0])))


def recorded_answers(dest: Path, blueprint: str) -> dict[str, Any]:
    """The answers file of an applied blueprint; a hand-broken one is one line naming it."""
    path = dest / answers_file(blueprint)
    try:
        data = copier_runtime.load_answers(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise PhasekitError(f"{path}{where}: invalid answers file: {getattr(exc, 'problem', None) or exc}; "
                            "restore it from git") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PhasekitError(f"{path}: cannot read the answers file: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("architecture", {}), dict):
        raise PhasekitError(f"{path}: invalid answers file: expected a mapping with an architecture; restore it from git")
    return data


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
