"""Which files phasekit wrote: what the applied blueprints render from the answers recorded in their
answers files (`.copier-answers.<blueprint>.yml`), at the template version recorded there.

`phasekit check` uses it to tell a finding in phasekit's output (a bug to report, or an edit of yours to a
generated file) from a finding in the team's own files (a Dockerfile without HEALTHCHECK is about their
code), and `--only-generated` to check only what phasekit wrote.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass
class Generated:
    files: set[str] = field(default_factory=set)  # posix paths relative to the checked root
    unknown: list[str] = field(default_factory=list)  # answers files whose render could not be repeated

    def __bool__(self) -> bool:
        return bool(self.files)

    def owns(self, artifact: str) -> bool:
        """An artifact (a file, or a folder such as a chart) phasekit wrote; a qualifier "(...)" is ignored."""
        path = artifact.split(" (", 1)[0].rstrip("/")
        if path in self.files:
            return True
        prefix = path + "/" if path not in ("", ".") else ""
        return bool(prefix) and any(f.startswith(prefix) for f in self.files)


def find(root: Path) -> Generated:
    from .. import render
    from ..errors import PhasekitError

    found = Generated()
    root = root.resolve()
    for folder, blueprint in render.applied(root):
        answers_name = render.answers_file(blueprint)
        where = folder.relative_to(root)
        try:
            answers = render.recorded_answers(folder, blueprint)
            source = render.Source(str(answers["_src_path"]), answers.get("_commit"))
            extra = {k: v for k, v in answers.items() if not k.startswith("_") and k not in ("architecture", "blueprint")}
            with tempfile.TemporaryDirectory(prefix="phasekit-generated-") as tmp:
                out = Path(tmp) / "out"
                render.render_to(out, answers["architecture"], blueprint, source, extra)
                for path in out.rglob("*"):
                    if path.is_file() or path.is_symlink():
                        found.files.add(PurePosixPath(where.as_posix(), path.relative_to(out).as_posix()).as_posix()
                                        .removeprefix("./"))
        except (PhasekitError, KeyError, OSError, ValueError):
            found.unknown.append((where / answers_name).as_posix())
            continue
        found.files.add((where / answers_name).as_posix().removeprefix("./"))
    return found


def find_in_background(root: Path) -> Future[Generated]:
    """find(root) on a thread of its own. It renders every applied blueprint again (at 200 services several
    CPU-seconds of Python, alone on one core): the validators' processes need not wait for it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="phasekit-generated")
    try:
        return pool.submit(find, root)
    finally:
        pool.shutdown(wait=False)
