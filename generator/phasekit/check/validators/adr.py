"""Markdown ADRs (NNNN-title.md, or any .md in a decisions/adr folder): Status, Context, Decision, Consequences."""

from __future__ import annotations

import re

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory

_NUMBERED = re.compile(r"^\d{3,5}-[\w.-]+\.md$")
_ADR_DIRS = {"decisions", "adr", "adrs", "architecture-decisions", "decision-records"}
_NOT_ADR = {"readme.md", "index.md", "template.md", "adr-template.md", "toc.md"}
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_STATUS_LINE = re.compile(r"^\s*(?:[-*]\s+)?(?:\*\*)?status(?:\*\*)?\s*:", re.I | re.M)
SECTIONS = ("Status", "Context", "Decision", "Consequences")


def missing_sections(text: str) -> list[str]:
    """The ADR sections a record lacks. MADR's front matter `status:` and headings like
    "Context and Problem Statement" / "Decision Outcome" count."""
    body = re.sub(r"```.*?```", "", text, flags=re.S)
    headings = [h.strip().lower() for h in _HEADING.findall(body)]
    missing = []
    for section in SECTIONS:
        key = section.lower()
        if any(h == key or h.startswith(key + " ") or h.startswith(key + ":") for h in headings):
            continue
        if section == "Status" and _STATUS_LINE.search(body):
            continue
        missing.append(section)
    return missing


class Adr(Validator):
    name = "adr"
    description = "ADR structure: a title and Status / Context / Decision / Consequences sections"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.files
                if p.suffix == ".md" and p.name.lower() not in _NOT_ADR
                and (_NUMBERED.match(p.name) or p.parent.name.lower() in _ADR_DIRS)]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        text = artifact.path.read_text(encoding="utf-8", errors="replace")
        problems = []
        if not re.search(r"^#\s+\S", text, re.M) and not text.startswith("---"):
            problems.append("no '# title' heading")
        missing = missing_sections(text)
        if missing:
            problems.append("missing section(s): " + ", ".join(missing))
        if problems:
            return self.result(artifact, Status.FAILED, "; ".join(problems))
        return self.result(artifact, Status.PASSED)
