"""Score an architecture and its repository against ten cloud-native capabilities (rules: docs/assess.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import _mermaid, _svg
from ._markdown import render as render_markdown
from ._repo import MAX_FILES, RepoScan
from ._rules import CAPABILITIES, Context
from ._types import Capability, Check, Report

__all__ = ["Capability", "Check", "Report", "assess", "render_json", "render_markdown", "render_svgs"]


def assess(arch: dict[str, Any], repo: Path | None) -> Report:
    """The report for a normalised architecture and the repository at repo (None: the architecture alone)."""
    scan = RepoScan.scan(repo)
    ctx = Context(arch, scan)
    notes = []
    if repo is None or not repo.is_dir():
        notes.append("no repository was read; the score rests on the architecture alone")
    if scan.truncated:
        notes.append(f"the repository has more than {MAX_FILES} files; only the first {MAX_FILES} (by path) were read")
    return Report(
        project=arch["project"]["name"],
        capabilities=[rule(ctx) for rule in CAPABILITIES],
        current_diagram=_mermaid.current(arch),
        target_diagram=_mermaid.target(arch),
        notes=notes,
        services=[{
            "name": svc["name"], "kind": svc["kind"], "zone": svc["zone"], "replicas": svc["replicas"],
            "findings": sorted({f["kind"] for f in arch["facts"] if f["subject"] == svc["name"]}),
        } for svc in arch["services"]],
    )


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def render_svgs(report: Report) -> dict[str, str]:
    """File name -> SVG text: readiness.svg (all capabilities) and readiness-<capability>.svg (its checks)."""
    out = {"readiness.svg": _svg.readiness_chart(report)}
    for cap in report.capabilities:
        out[f"readiness-{cap.id}.svg"] = _svg.capability_chart(cap)
    return out
