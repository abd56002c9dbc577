"""Every checkov suppression a blueprint writes has its reason beside it and its row in ADR 6 (issue 13.19)."""

from __future__ import annotations

import re

from helpers import REPO

ADR = REPO / "docs" / "adr" / "0006-checkov-suppressions.md"
# `#checkov:skip=ID:reason` (Terraform, Dockerfile) and `"ID=reason"` (a Kubernetes `checkov.io/skipN`
# annotation, written directly or collected in a Helm list first).
SKIP = re.compile(r'(?:checkov:skip=|")(CKV2?_[A-Z0-9]+_\d+)\s*[:=]([^"\n]*)')


def suppressions() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((REPO / "blueprints").rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in SKIP.finditer(text):
            found.append((str(path.relative_to(REPO)), match.group(1), match.group(2).strip()))
    return found


def test_every_suppression_is_justified_beside_it_and_in_the_adr():
    found = suppressions()
    assert len(found) >= 10, "the pattern no longer finds the blueprints' suppressions"
    listed = set(re.findall(r"CKV2?_[A-Z0-9]+_\d+", ADR.read_text(encoding="utf-8")))
    unlisted = sorted({f"{check} ({where})" for where, check, _ in found if check not in listed})
    assert unlisted == [], f"suppressions without a row in {ADR.name}: {unlisted}"
    unexplained = [f"{check} ({where})" for where, check, why in found if len(why) < 20]
    assert unexplained == [], f"suppressions without a reason on their line: {unexplained}"
