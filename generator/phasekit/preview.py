"""What `phasekit update` will do to each file, computed before anything is written.

For every applied blueprint the old template version is rendered with the recorded answers, the new one
with the current architecture, and each file is compared three ways (old render, new render, the file in
the repo). `git merge-file` decides whether both sides' changes combine cleanly. When the old version is the same
template commit with the same architecture, it renders once: both sides are that render.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import render
from .model import Architecture

NEW = "new"  # the template adds it
MISSING = "missing"  # generated before and still generated, but not in the repo (deleted): not recreated
UNCHANGED = "unchanged"  # the file already is what the update would write
UPDATED = "updated"  # the template changed it and you did not: replaced
MERGED = "merged"  # both changed it, the changes combine cleanly
CONFLICT = "conflict"  # both changed the same lines: conflict markers will be written
KEPT = "kept"  # you changed it, the template did not: stays as you wrote it
DELETED = "deleted"  # the template no longer produces it and you never edited it: removed
ORPHANED = "orphaned"  # the template no longer produces it but you edited it: kept, never deleted
STATES = (NEW, MISSING, UNCHANGED, UPDATED, MERGED, CONFLICT, KEPT, DELETED, ORPHANED)


@dataclass
class BlueprintPreview:
    folder: Path
    blueprint: str
    files: dict[str, str] = field(default_factory=dict)  # relative path -> state
    answers: bytes | None = None  # the answers file the new version writes
    old_root: Path | None = None  # the renders, when the caller keeps them (update merges from them)
    new_root: Path | None = None

    def having(self, *states: str) -> list[str]:
        return sorted(path for path, state in self.files.items() if state in states)

    def counts(self) -> dict[str, int]:
        return {s: n for s in STATES if (n := len(self.having(s)))}


def preview(arch: Architecture, folder: Path, blueprint: str, source: render.Source,
            keep: Path | None = None) -> BlueprintPreview:
    """The states of one blueprint's files; with keep, its renders stay there (old_root, new_root)."""
    answers = render.recorded_answers(folder, blueprint)
    old_source = render.Source(str(answers.get("_src_path", source.src_path)), answers.get("_commit"))
    extra = {k: v for k, v in answers.items() if not k.startswith("_") and k not in ("architecture", "blueprint")}
    old_arch = answers.get("architecture") or arch
    with tempfile.TemporaryDirectory(prefix="phasekit-preview-") as tmp:
        where = keep or Path(tmp)
        old, new = where / "old", where / "new"
        render.render_to(new, arch, blueprint, source, extra)
        if _same_render(old_source, old_arch, source, arch):
            old = new  # same template commit, same answers: the old render is this one
        else:
            render.render_to(old, old_arch, blueprint, old_source, extra)
        result = BlueprintPreview(folder, blueprint, old_root=old if keep else None, new_root=new if keep else None)
        answers_name = render.answers_file(blueprint)
        if (new / answers_name).is_file():
            result.answers = (new / answers_name).read_bytes()
        for rel in sorted(_files(old) | _files(new)):
            if rel == answers_name:
                continue  # copier rewrites it every time; its content is the answers themselves
            result.files[rel] = _state(old / rel, new / rel, folder / rel)
        return result


def _same_render(old_source: render.Source, old_arch: object, source: render.Source, arch: object) -> bool:
    """True when both versions render from one extracted template commit with the same architecture
    (compared as JSON: 1, 1.0 and true stay different)."""
    old_plain, new_plain = old_source.plain(), source.plain()
    if not old_plain or not new_plain or old_plain[0] != new_plain[0]:
        return False
    try:
        return json.dumps(old_arch, sort_keys=True) == json.dumps(arch, sort_keys=True)
    except (TypeError, ValueError):
        return False


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _state(old_path: Path, new_path: Path, mine_path: Path) -> str:
    old, new, mine = _read(old_path), _read(new_path), _read(mine_path)
    if new is None:  # the template dropped it
        if mine is None or mine == old:
            return DELETED if mine is not None else UNCHANGED
        return ORPHANED
    if mine is None:
        # copier merges the template's change into the repo: a file the old version wrote and the repo
        # no longer has stays deleted (the user's change); only a file new in the template is created
        return NEW if old is None else MISSING
    if mine == new:
        return UNCHANGED
    if old is None:  # both added it, differently
        return CONFLICT
    if mine == old:
        return UPDATED
    if old == new:
        return KEPT
    return MERGED if _merges_cleanly(mine_path, old_path, new_path) else CONFLICT


def _merges_cleanly(mine: Path, base: Path, theirs: Path) -> bool:
    result = subprocess.run(
        ["git", "merge-file", "-p", "--quiet", str(mine), str(base), str(theirs)],
        capture_output=True, check=False,
    )
    return result.returncode == 0
