"""The one place that calls copier: apply blueprints (all-or-nothing) and update them (3-way merge)."""

from __future__ import annotations

import contextlib
import filecmp
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import blueprints as catalogue
from . import chart_files, copier_runtime, gitcmd, template_repo
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
        key = (str(repo.resolve()), self.vcs_ref)
        if key not in _PLAIN:
            _PLAIN[key] = _extract(repo, self.vcs_ref)
        return _PLAIN[key]


_PLAIN: dict[tuple[str, str], tuple[Path, str]] = {}
_PLAIN_ROOT: list[tempfile.TemporaryDirectory[str]] = []  # removed when the process ends


def _extract(repo: Path, ref: str) -> tuple[Path, str]:
    commit = gitcmd.run(repo, "describe", "--tags", "--always", ref)  # what copier records
    if not _PLAIN_ROOT:
        _PLAIN_ROOT.append(tempfile.TemporaryDirectory(prefix="phasekit-template-"))
    folder = Path(_PLAIN_ROOT[0].name) / f"{len(_PLAIN)}"
    folder.mkdir()
    with tarfile.open(fileobj=io.BytesIO(gitcmd.run_bytes(repo, "archive", "--format=tar", ref))) as archive:
        archive.extractall(folder, filter="data")
    return folder, commit


def _record_origin(answers: Path, source: Source, commit: str) -> None:
    """Write `_commit` and `_src_path` into an answers file rendered from a plain copy, exactly as copier
    writes them when it renders from git: the blueprints write answers with copier's `to_nice_json`
    filter (sorted keys, indent 2, characters unescaped: YAML readers reject JSON's surrogate-pair
    escapes), which is repeated here after the header comment. The two top-level lines are edited in
    place (`_with_origin`) rather than the whole architecture dumped again; the same bytes either way."""
    text = answers.read_text(encoding="utf-8")
    body_at = text.index("{")
    origin = {"_commit": commit, "_src_path": source.src_path}
    body = _with_origin(text[body_at:], origin)
    if body is None:
        data = json.loads(text[body_at:])
        data.update(origin)
        body = json.dumps(data, indent=2, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"
    answers.write_text(text[:body_at] + body, encoding="utf-8")


_TOP_KEY = re.compile(r'^  ("(?:[^"\\]|\\.)*"): ', re.MULTILINE)


def _with_origin(body: str, origin: dict[str, str]) -> str | None:
    """body (indent-2 JSON, keys sorted) with origin's top-level string values set; None when it is not
    that shape (then the caller dumps it again)."""
    if not body.startswith("{\n") or not body.endswith("\n}\n"):
        return None
    found = [(json.loads(m[1]), m.start(), m.end()) for m in _TOP_KEY.finditer(body)]
    keys = [k for k, _, _ in found]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        return None
    for key, value in origin.items():
        encoded = json.dumps(value, ensure_ascii=False)
        spans = {k: (start, end) for k, start, end in found}
        if key in spans:
            start, end = spans[key]
            line_end = body.index("\n", end)
            old = body[end:line_end]
            if not old.startswith('"') or old.rstrip(",")[-1:] != '"' or json.loads(old.rstrip(",")) is None:
                return None
            body = body[:end] + encoded + ("," if old.endswith(",") else "") + body[line_end:]
        else:
            after = [start for k, start, _ in found if k > key]
            if not after:
                return None  # it would be the last key: the line before it needs a comma
            at = after[0]
            body = body[:at] + f"  {json.dumps(key)}: {encoded},\n" + body[at:]
        found = [(json.loads(m[1]), m.start(), m.end()) for m in _TOP_KEY.finditer(body)]
    return body


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
        _record_origin(tmp / answers_file(blueprint), source, plain[1])


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
        for name in blueprints:
            if progress is not None:
                progress.step(name)
            render_to(staging / name, arch, name, source, extra)
            if name == "helm":
                chart_files.write(arch, base or dest, staging / name)
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
                shutil.copy2(rendered, partial)
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


def update(arch: Architecture, dest: Path, source: Source, *, dry_run: bool = False, base: Path | None = None,
           progress: Any = None) -> list[Any]:
    """Preview, then update (3-way merge) every applied blueprint with the current architecture.

    The preview's renders of the old and the new version are what the merge writes from: each blueprint
    renders twice at most (once when neither the template nor the architecture changed) and copier's own
    update (three more renders and a template clone each) is not run. Files the template no longer
    produces but the user edited are kept (copier would delete them).
    Returns the per-file previews; conflicts are left as inline markers for the caller to report.
    """
    from . import preview

    targets = applied(dest)
    if not targets:
        raise PhasekitError(f"no blueprint applied in {dest} (no .copier-answers.*.yml); run `phasekit apply` first")
    if not dry_run:
        _require_clean_git(dest)
        _require_no_interrupted_update(dest)
    if progress is not None:
        progress.start(len(targets) if dry_run else 2 * len(targets))  # preview each, then merge each
    with tempfile.TemporaryDirectory(prefix="phasekit-update-") as renders:
        previews = []
        for i, (folder, name) in enumerate(targets):
            if progress is not None:
                progress.step(f"preview {name}" + ("" if folder == dest else f" ({folder.relative_to(dest)})"))
            previews.append(preview.preview(arch, folder, name, source, keep=Path(renders) / str(i)))
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


def _merge(folder: Path, plan: Any) -> None:
    """Write one blueprint's update from the preview's two renders, as `copier update` does: the template's
    changes where the team changed nothing, a 3-way `git merge-file` (copier's labels) where both did, a
    dropped file removed only when unedited; a file the team deleted stays deleted, an edited file the
    template dropped stays. No render, clone or process beyond the merges themselves."""
    from . import preview

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
    import datetime

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


def abort_update(dest: Path) -> str:
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
