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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator


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
    """Copy each file beside its target, then rename over it: a reader never sees half a file, and a
    killed apply leaves whole files only (running it again completes it)."""
    for rendered, rel in plan:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.phasekit-partial")
        shutil.copy2(rendered, partial)
        os.replace(partial, target)


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
        work = [(folder, name, plan) for (folder, name), plan in zip(targets, previews)]
        with _update_session(dest):
            for folder, name, plan in work:
                if progress is not None:
                    progress.step(f"update {name}" + ("" if folder == dest else f" ({folder.relative_to(dest)})"))
                # The new answers (_commit, architecture), as copier would record them.
                answers = folder / answers_file(name)
                if plan.answers is not None and answers.read_bytes() != plan.answers:
                    answers.write_bytes(plan.answers)
                _merge(folder, plan)
            for folder, name in targets:
                if name == "helm":
                    chart_files.write(arch, base or dest, folder)  # the chart's copies of config files follow
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


@contextlib.contextmanager
def _update_session(dest: Path) -> Iterator[Callable[[], None]]:
    """copier updates one blueprint only in a clean work tree, so each blueprint's result is kept in a
    temporary commit; at the end HEAD returns to where it was and every change is left in the work tree
    (no commit on the user's behalf). A failure restores the repo as it was; a killed process leaves the
    base in .git/phasekit-update-base for `phasekit update --abort`."""
    base = gitcmd.run(dest, "rev-parse", "HEAD")
    marker = Path(gitcmd.run(dest, "rev-parse", "--absolute-git-dir")) / BASE_MARKER
    marker.write_text(base + "\n")

    def checkpoint() -> None:
        gitcmd.run(dest, "add", "-A", "--", ".")
        if gitcmd.run(dest, "status", "--porcelain", "--", "."):
            gitcmd.run(dest, "commit", "-q", "--no-verify", "-m", "phasekit update (temporary)")

    try:
        yield checkpoint
    except BaseException:
        _restore(dest, base)
        marker.unlink(missing_ok=True)
        raise
    gitcmd.run(dest, "reset", "-q", base)  # keeps every change in the work tree, unstaged
    marker.unlink(missing_ok=True)


def _restore(dest: Path, base: str) -> None:
    gitcmd.run(dest, "reset", "-q", "--hard", base)
    gitcmd.run(dest, "clean", "-q", "-f", "-d", "--", ".")  # the tree was clean when the update began


def abort_update(dest: Path) -> str:
    """Undo an update that was killed half-way: back to the commit it started from."""
    try:
        marker = Path(gitcmd.run(dest, "rev-parse", "--absolute-git-dir")) / BASE_MARKER
    except PhasekitError:
        raise PhasekitError(f"{dest} is not in a git repository") from None
    if not marker.is_file():
        raise PhasekitError(f"no interrupted update in {dest} (nothing to abort)")
    base = marker.read_text().strip()
    _restore(dest, base)
    marker.unlink()
    return base


def _require_clean_git(dest: Path) -> None:
    try:
        status = gitcmd.run_bytes(dest, "status", "--porcelain").decode(errors="replace")
    except PhasekitError:
        raise PhasekitError(f"{dest} is not in a git repository; `phasekit update` merges through git: run git init and commit first") from None
    if status.strip():
        changed = status.splitlines()
        raise PhasekitError(
            f"{dest} has uncommitted changes ({len(changed)} paths, e.g. {changed[0][3:]}); commit or stash them first"
        )


def recorded_answers(dest: Path, blueprint: str) -> dict[str, Any]:
    path = dest / answers_file(blueprint)
    return copier_runtime.load_answers(path.read_text(encoding="utf-8")) or {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
