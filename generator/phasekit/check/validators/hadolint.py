"""Dockerfiles (Dockerfile, Dockerfile.*, *.Dockerfile, Containerfile): hadolint.

hadolint cannot parse BuildKit heredocs (`RUN <<EOF`, `COPY <<-EOT /dst`): a Dockerfile using them is
linted with each heredoc instruction blanked to comments (line numbers kept), and the result says how many
instructions were not linted, instead of failing on valid syntax.
"""

from __future__ import annotations

import re

from .._core import Artifact, Context, Proc, Result, Status, Validator
from .._inventory import Inventory

_HEREDOC_START = re.compile(r"^\s*(RUN|COPY|ADD)\b[^\n]*?<<-?\s*[\"']?[A-Za-z_]\w*", re.IGNORECASE)
_HEREDOC_WORDS = re.compile(r"<<-?\s*([\"']?)([A-Za-z_]\w*)\1")


def is_dockerfile(name: str) -> bool:
    lower = name.lower()
    return (lower in {"dockerfile", "containerfile"} or lower.startswith(("dockerfile.", "containerfile."))
            or lower.endswith((".dockerfile", ".containerfile"))) and not lower.endswith((".jinja", ".dockerignore"))


def blank_heredocs(text: str) -> tuple[str, int]:
    """The Dockerfile with every heredoc instruction (its line and its bodies) turned into comments."""
    lines = text.split("\n")
    count, i = 0, 0
    while i < len(lines):
        if not _HEREDOC_START.match(lines[i]):
            i += 1
            continue
        end = i + 1
        for _, word in _HEREDOC_WORDS.findall(lines[i]):  # several heredocs may follow one instruction
            while end < len(lines) and lines[end].strip() != word:
                end += 1
            end += 1
        end = min(end, len(lines))
        for k in range(i, end):
            lines[k] = "# (BuildKit heredoc: not linted)"
        count += 1
        i = end
    return "\n".join(lines), count


class Hadolint(Validator):
    name = "hadolint"
    tools = ("hadolint",)
    description = "hadolint (its default failure threshold; a repo's .hadolint.yaml is honoured; BuildKit heredocs skipped)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.files if is_dockerfile(p.name)]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        try:
            text = artifact.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""
        blanked, heredocs = blank_heredocs(text)
        if not heredocs:
            return self.from_proc(artifact, ctx.run(["hadolint", "--no-color", artifact.label], cwd=ctx.root))
        proc = ctx.run(["hadolint", "--no-color", "-"], cwd=ctx.root, stdin=blanked)
        note = f"{heredocs} BuildKit heredoc instruction(s) not linted (hadolint cannot parse them)"
        if proc.ok:
            return self.result(artifact, Status.PASSED, note)
        output = re.sub(r"^-:", f"{artifact.label}:", proc.output, flags=re.MULTILINE)
        return self.from_proc(artifact, Proc(proc.returncode, output))
