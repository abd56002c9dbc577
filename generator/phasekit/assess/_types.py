"""The report's data: checks grouped into capabilities, and the scoring rules (docs/assess.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .. import blueprints as catalogue


def percent(value: Fraction) -> int:
    """A fraction as a whole percentage, halves rounded up (so 2/3 is 67 and 1/8 is 13)."""
    return int(value * 100 + Fraction(1, 2))


@dataclass
class Check:
    """One thing a reviewer would tick: passed or not, with the evidence either way."""

    id: str  # "<capability>.<check>", stable: CI and the tests refer to it
    title: str  # what good looks like
    passed: bool
    evidence: list[str]  # what was found (files, facts, fields) for or against
    problem: str = ""  # when failing: what is wrong here
    why: str = ""  # when failing: why it matters
    blueprint: str | None = None  # the blueprint that closes it; None when it needs the team's own work
    phase: int = 1  # roadmap phase in which it is closed
    action: str = ""  # when no blueprint closes it: what to do
    needs: str = ""  # what the architecture must say first for the blueprint to close it (empty: nothing)

    def __post_init__(self) -> None:
        # A gap a blueprint closes is closed in that blueprint's phase, so the roadmap never contradicts the catalogue.
        if self.blueprint:
            self.phase = catalogue.get(self.blueprint).phase

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "title": self.title, "passed": self.passed, "evidence": self.evidence}
        if not self.passed:
            out["gap"] = gap_dict(self)
        return out


@dataclass
class Capability:
    id: str
    title: str
    checks: list[Check] = field(default_factory=list)

    @property
    def fraction(self) -> Fraction:
        return Fraction(sum(c.passed for c in self.checks), len(self.checks))

    @property
    def percent(self) -> int:
        return percent(self.fraction)

    @property
    def met(self) -> bool:
        """Met means nothing left to do: every check passes."""
        return all(c.passed for c in self.checks)

    @property
    def gaps(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "percent": self.percent, "met": self.met,
            "passed": sum(c.passed for c in self.checks), "total": len(self.checks),
            "checks": [c.to_dict() for c in self.checks],
        }


def gap_dict(check: Check) -> dict[str, Any]:
    shipped = {bp.name for bp in catalogue.available()}
    return {
        "problem": check.problem, "why": check.why, "blueprint": check.blueprint, "needs": check.needs,
        "blueprint_shipped": check.blueprint in shipped if check.blueprint else False,
        "phase": check.phase, "action": check.action or closing_action(check),
    }


def closing_action(check: Check) -> str:
    if check.blueprint:
        return (f"{check.needs}, then " if check.needs else "") + f"phasekit apply --blueprint {check.blueprint}"
    return check.action


@dataclass
class Report:
    project: str
    capabilities: list[Capability]
    current_diagram: str
    target_diagram: str
    notes: list[str] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)  # per service: name, kind, zone, replicas, findings

    @property
    def fraction(self) -> Fraction:
        """Every capability weighs the same: the overall score is the mean of the capability scores."""
        return sum((c.fraction for c in self.capabilities), Fraction(0)) / len(self.capabilities)

    @property
    def percent(self) -> int:
        return percent(self.fraction)

    @property
    def met(self) -> int:
        return sum(c.met for c in self.capabilities)

    @property
    def gaps(self) -> list[tuple[Capability, Check]]:
        return [(cap, check) for cap in self.capabilities for check in cap.gaps]

    def gap_ids(self) -> set[str]:
        return {check.id for _, check in self.gaps}

    def roadmap(self) -> list[dict[str, Any]]:
        """The gaps by phase; within a phase, blueprint by blueprint in catalogue order, then the manual work."""
        order = {bp.name: index for index, bp in enumerate(catalogue.ALL)}
        shipped = {bp.name for bp in catalogue.available()}
        phases = []
        for phase in (1, 2, 3, 4):
            steps: list[dict[str, Any]] = []
            in_phase = [check for _, check in self.gaps if check.phase == phase]
            for name in sorted({c.blueprint for c in in_phase if c.blueprint}, key=lambda n: order.get(n, 99)):
                closing = [c for c in in_phase if c.blueprint == name]
                needs = sorted({c.needs for c in closing if c.needs})
                steps.append({
                    "blueprint": name, "shipped": name in shipped, "closes": [c.id for c in closing], "needs": needs,
                    "action": f"phasekit apply --blueprint {name}",
                })
            for check in in_phase:
                if not check.blueprint:
                    steps.append({"blueprint": None, "shipped": False, "closes": [check.id], "needs": [], "action": check.action})
            phases.append({"phase": phase, "name": catalogue.PHASE_NAMES[phase], "steps": steps})
        return phases

    def to_dict(self) -> dict[str, Any]:
        from ._repo import REPORT_FORMAT

        return {
            "format": REPORT_FORMAT,
            "project": self.project,
            "score": {"percent": self.percent, "met": self.met, "total": len(self.capabilities)},
            "capabilities": [c.to_dict() for c in self.capabilities],
            "gaps": [{"id": check.id, "capability": cap.id, "title": check.title, **gap_dict(check)} for cap, check in self.gaps],
            "roadmap": self.roadmap(),
            "diagrams": {"current": self.current_diagram, "target": self.target_diagram},
            "notes": self.notes,
            "services": self.services,
        }
