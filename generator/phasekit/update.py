"""`phasekit update`: preview every applied blueprint, then merge the template's changes into the repository
inside an update session that can be undone.

The session: the work tree must be clean and hold no interrupted update; each blueprint's result is kept in a
temporary commit while the next one merges, and at the end HEAD returns to where it was with every change left
in the work tree. A marker in .git names the commit the update began at and the paths it is writing, so a
failure (or `phasekit update --abort` after a kill) restores exactly what the update wrote (ADR 0009).
Rendering is render.py's (the one place that calls copier); the per-file states are preview.py's.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import chart_files, gitcmd, parallel, preview
from .errors import PhasekitError
from .model import Architecture
from .render import Source, answers_file, applied


def run(arch: Architecture, dest: Path, source: Source, *, dry_run: bool = False, base: Path | None = None,
        progress: Any = None) -> list[preview.BlueprintPreview]:
    """Preview, then update (3-way merge) every applied blueprint with the current architecture.

    The preview's renders of the old and the new version are what the merge writes from: each blueprint
    renders twice at most (once when neither the template nor the architecture changed) and copier's own
    update (three more renders and a template clone each) is not run. Files the template no longer
    produces but the user edited are kept (copier would delete them).
    Returns the per-file previews; conflicts are left as inline markers for the caller to report.
    """
    targets = applied(dest)
    if not targets:
        raise PhasekitError(f"no blueprint applied in {dest} (no .copier-answers.*.yml); run `phasekit apply` first")
    if not dry_run:
        _require_clean_git(dest)
        _require_no_interrupted_update(dest)
    if progress is not None:
        progress.start(len(targets) if dry_run else 2 * len(targets))  # preview each, then merge each
    with tempfile.TemporaryDirectory(prefix="phasekit-update-") as renders:
        source.prepare()  # before any worker starts

        def previewed(target: tuple[int, tuple[Path, str]]) -> preview.BlueprintPreview:
            i, (folder, name) = target
            return preview.preview(arch, folder, name, source, keep=Path(renders) / str(i))

        def done(target: tuple[int, tuple[Path, str]]) -> None:
            folder, name = target[1]
            if progress is not None:
                progress.step(f"preview {name}" + ("" if folder == dest else f" ({folder.relative_to(dest)})"))

        previews = parallel.map_in_processes(previewed, list(enumerate(targets)), done=done)
        if dry_run:
            return previews
        work = [(folder, name, plan) for (folder, name), plan in zip(targets, previews, strict=True)]
        with _update_session(dest) as session:
            for folder, name, plan in work:
                if progress is not None:
                    progress.step(f"update {name}" + ("" if folder == dest else f" ({folder.relative_to(dest)})"))
                # The new answers (_commit, architecture), as copier would record them.
                answers = folder / answers_file(name)
                changes = set(plan.files.values()) - {preview.UNCHANGED, preview.MISSING}
                rewrite = plan.answers is not None and answers.read_bytes() != plan.answers
                if not changes and not rewrite:
                    continue
                # Before the first write: the marker names every path this blueprint may touch.
                session.begin([answers, *(folder / rel for rel in plan.files)])
                try:
                    if rewrite and plan.answers is not None:
                        answers.write_bytes(plan.answers)
                    _merge(folder, plan)
                except OSError as exc:  # a read-only generated file, a full disk
                    raise PhasekitError(f"update of blueprint {name}: cannot write {exc.filename or folder}: "
                                        f"{exc.strerror or exc}; the update was undone") from None
                session.checkpoint()
            for folder, name in targets:
                if name == "helm":
                    # The chart's copies of config files follow the repository's config files.
                    session.begin([folder / rel for rel in chart_files.copies(arch, base or dest)])
                    try:
                        wrote = chart_files.write(arch, base or dest, folder)
                    except OSError as exc:
                        raise PhasekitError(f"update of blueprint {name}: cannot write {exc.filename or folder}: "
                                            f"{exc.strerror or exc}; the update was undone") from None
                    if wrote:
                        session.checkpoint()
    return previews


MERGE_LABELS = ("before updating", "last update", "after updating")  # copier's conflict markers


def _merge(folder: Path, plan: preview.BlueprintPreview) -> None:
    """Write one blueprint's update from the preview's two renders, as `copier update` does: the template's
    changes where the team changed nothing, a 3-way `git merge-file` (copier's labels) where both did, a
    dropped file removed only when unedited; a file the team deleted stays deleted, an edited file the
    template dropped stays. No render, clone or process beyond the merges themselves."""
    assert plan.old_root is not None and plan.new_root is not None  # run() keeps the renders
    for rel, state in plan.files.items():
        mine, old, new = folder / rel, plan.old_root / rel, plan.new_root / rel
        if state == preview.NEW and old.is_file():
            continue  # generated before and deleted by the team: copier does not bring it back
        if state in (preview.NEW, preview.UPDATED):
            mine.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(new, mine)
            shutil.copymode(new, mine)
        elif state in (preview.MERGED, preview.CONFLICT):
            with tempfile.NamedTemporaryFile(prefix="phasekit-base-") as empty:
                base = old if old.is_file() else Path(empty.name)  # both added it: merge from nothing
                labels = [arg for label in MERGE_LABELS for arg in ("-L", label)]
                subprocess.run(["git", "merge-file", *labels, "--", str(mine), str(base), str(new)],
                               capture_output=True, check=False)
        elif state == preview.DELETED:
            mine.unlink()
            parent = mine.parent
            while parent != folder and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()  # copier removes the folders its deletions empty
                parent = parent.parent


BASE_MARKER = "phasekit-update-base"
TEMPORARY_COMMIT = "phasekit update (temporary)"


@dataclass
class Interrupted:
    """What .git/phasekit-update-base records of an update in progress: the commit it started from and
    the paths (relative to the repository's top level) of the blueprint it was writing when it stopped.
    Everything the update finished before that is in its temporary commits on top of base."""

    base: str
    in_flight: set[str]
    started: str = ""
    head: str = ""  # HEAD when the in-flight blueprint began: a later temporary commit holds its writes

    @classmethod
    def read(cls, marker: Path) -> Interrupted:
        text = marker.read_text(encoding="utf-8").strip()
        try:
            data = json.loads(text)
        except json.JSONDecodeError:  # written by phasekit 0.1: the base only
            return cls(text, set(), head=text)
        base = str(data["base"])
        return cls(base, set(data.get("in_flight", [])), str(data.get("started", "")), str(data.get("head", base)))

    def write(self, marker: Path) -> None:
        data = {"base": self.base, "head": self.head or self.base, "in_flight": sorted(self.in_flight),
                "started": self.started}
        partial = marker.with_name(marker.name + ".partial")
        partial.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        os.replace(partial, marker)


class _Session:
    """copier updates one blueprint only in a clean work tree, so each blueprint's result is kept in a
    temporary commit. Before a blueprint is written, the marker names the paths it may touch: if the
    process is killed, `update --abort` knows what is the update's and what is not."""

    def __init__(self, dest: Path, top: Path, marker: Path, state: Interrupted) -> None:
        self.dest, self.top, self.marker, self.state = dest, top, marker, state

    def begin(self, paths: list[Path]) -> None:
        self.state.in_flight = {_repo_path(self.top, path.parent.resolve() / path.name) for path in paths}
        self.state.head = gitcmd.run(self.dest, "rev-parse", "HEAD")
        self.state.write(self.marker)

    def checkpoint(self) -> None:
        gitcmd.run(self.dest, "add", "-A", "--", ".")
        if gitcmd.run(self.dest, "status", "--porcelain", "--", "."):
            gitcmd.run(self.dest, "commit", "-q", "--no-verify", "-m", TEMPORARY_COMMIT)
        self.state.in_flight = set()
        self.state.write(self.marker)


def _repo_path(top: Path, path: Path) -> str:
    return Path(os.path.relpath(os.path.abspath(path), top)).as_posix()


def _marker(dest: Path) -> Path:
    return Path(gitcmd.run(dest, "rev-parse", "--absolute-git-dir")) / BASE_MARKER


def _toplevel(dest: Path) -> Path:
    return Path(gitcmd.run(dest, "rev-parse", "--show-toplevel")).resolve()


@contextlib.contextmanager
def _update_session(dest: Path) -> Iterator[_Session]:
    """At the end HEAD returns to where it was and every change is left in the work tree (no commit on
    the user's behalf). A failure restores what the update wrote; a killed process leaves the marker
    for `phasekit update --abort`."""
    base = gitcmd.run(dest, "rev-parse", "HEAD")
    marker = _marker(dest)
    top = _toplevel(dest)
    state = Interrupted(base, set(), datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), base)
    state.write(marker)
    session = _Session(dest, top, marker, state)
    try:
        yield session
    except BaseException as exc:
        try:
            _restore(top, state)
        except PhasekitError as refused:
            if isinstance(exc, PhasekitError):
                raise PhasekitError(f"{exc}; and not undone: {refused}") from None
            raise
        marker.unlink(missing_ok=True)
        raise
    gitcmd.run(dest, "reset", "-q", base)  # keeps every change in the work tree, unstaged
    marker.unlink(missing_ok=True)


def _later_work(top: Path, state: Interrupted) -> str | None:
    """Why the repository holds more than the interrupted update wrote (a commit made since, a file
    changed or created outside the paths it was writing), or None."""
    try:
        gitcmd.run(top, "rev-parse", "--verify", "--quiet", f"{state.base}^{{commit}}")
    except PhasekitError:
        return f"the commit it started from ({state.base[:12]}) is gone"
    log = gitcmd.run(top, "log", "--format=%H%x1f%an%x1f%s", f"{state.base}..HEAD")
    for line in filter(None, log.splitlines()):
        sha, author, subject = line.split("\x1f", 2)
        if author != gitcmd.IDENTITY["name"] or subject != TEMPORARY_COMMIT:
            return f"commit {sha[:12]} ({subject[:60]!r}) was made after it"
    ancestor = subprocess.run(["git", "-C", str(top), "merge-base", "--is-ancestor", state.base, "HEAD"],
                              capture_output=True, check=False)
    if ancestor.returncode != 0:
        return f"HEAD no longer descends from the commit it started from ({state.base[:12]})"
    # Once the in-flight blueprint was committed (killed before the marker said so), nothing may differ.
    in_flight = state.in_flight if gitcmd.run(top, "rev-parse", "HEAD") == (state.head or state.base) else set()
    for path in _changed_paths(top):
        if path not in in_flight:
            return f"{path} changed after it"
    return None


def _changed_paths(top: Path) -> list[str]:
    """Every path git status reports (modified, staged, deleted, untracked), relative to the top level."""
    out = gitcmd.run_bytes(top, "status", "--porcelain=v1", "-z", "--untracked-files=all").decode(errors="replace")
    entries = out.split("\0")
    paths: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if not entry:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC":  # a rename or copy: the next entry is the source path
            paths.append(entries[index])
            index += 1
    return paths


def _untracked(top: Path) -> list[str]:
    out = gitcmd.run_bytes(top, "ls-files", "-z", "--others", "--exclude-standard").decode(errors="replace")
    return [p for p in out.split("\0") if p]


def _restore(top: Path, state: Interrupted) -> None:
    """Undo exactly what the update wrote: its temporary commits and the files of the blueprint it was
    writing. Refuses (and changes nothing) when anything else changed; never cleans files it did not write."""
    later = _later_work(top, state)
    if later is not None:
        raise PhasekitError(later)
    created = [p for p in _untracked(top) if p in state.in_flight]  # only in flight when HEAD is unmoved
    gitcmd.run(top, "reset", "-q", "--hard", state.base)
    for rel in created:
        path = top / rel
        path.unlink(missing_ok=True)
        for folder in path.parents:  # folders the update created, now empty
            if folder == top or not folder.is_relative_to(top):
                break
            try:
                folder.rmdir()
            except OSError:
                break


def abort(dest: Path) -> str:
    """Undo an update that was killed half-way: back to the commit it started from, when nothing but
    the update's own writes happened since; otherwise refuse and change nothing."""
    try:
        marker = _marker(dest)
    except PhasekitError:
        raise PhasekitError(f"{dest} is not in a git repository") from None
    if not marker.is_file():
        raise PhasekitError(f"no interrupted update in {dest} (nothing to abort)")
    state = Interrupted.read(marker)
    try:
        _restore(_toplevel(dest), state)
    except PhasekitError as exc:
        marker.unlink()  # the interrupted update is history now: it must never be undone over later work
        raise PhasekitError(
            f"not aborted: {exc} (the update began at {state.base[:12]}); nothing was changed, and the "
            "interrupted update is forgotten: undo its changes with git if you still want to"
        ) from None
    marker.unlink()
    return state.base


def _require_no_interrupted_update(dest: Path) -> None:
    """A re-run after a kill would start from the killed run's temporary commits and make them permanent
    history: refuse until `update --abort`. A marker with nothing left to undo is dropped."""
    marker = _marker(dest)
    if not marker.is_file():
        return
    state = Interrupted.read(marker)
    if gitcmd.run(dest, "rev-parse", "HEAD") == state.base:
        marker.unlink()  # killed before it wrote anything (the tree is clean: checked first)
        return
    raise PhasekitError(
        f"an update of {dest} was interrupted (it began at {state.base[:12]}) and its temporary commits are "
        "still on HEAD; run `phasekit update --abort` to undo it, then update again"
    )


def _require_clean_git(dest: Path) -> None:
    try:
        status = gitcmd.run_bytes(dest, "status", "--porcelain").decode(errors="replace")
    except PhasekitError:
        raise PhasekitError(f"{dest} is not in a git repository; `phasekit update` merges through git: run git init and commit first") from None
    if status.strip():
        changed = status.splitlines()
        if _marker(dest).is_file():
            raise PhasekitError(
                f"{dest} has uncommitted changes ({len(changed)} paths, e.g. {changed[0][3:]}) and an interrupted "
                "update; run `phasekit update --abort` to undo the update, then update again"
            )
        raise PhasekitError(
            f"{dest} has uncommitted changes ({len(changed)} paths, e.g. {changed[0][3:]}); commit or stash them "
            "first (after a killed update: `phasekit update --abort`)"
        )
