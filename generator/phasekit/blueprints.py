"""The catalogue of blueprints (layers) and the roadmap phase each belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import PhasekitError


@dataclass(frozen=True)
class Blueprint:
    name: str
    phase: int  # 0 for the starter kit, which is applied per service rather than per system
    summary: str


ALL: tuple[Blueprint, ...] = (
    Blueprint("adr", 1, "architecture decision records for the decisions the architecture implies"),
    Blueprint("health", 1, "liveness/readiness/startup checks, compose healthchecks, endpoint snippets"),
    Blueprint("terraform", 1, "Terraform root, modules and dev/staging/prod tfvars with a state backend per env"),
    Blueprint("monitoring", 1, "Prometheus scrape config, alert and SLO rules with tests, Grafana dashboards"),
    Blueprint("ci", 1, "GitHub Actions test/build/deploy/health-check/security workflows and Dependabot"),
    Blueprint("helm", 2, "one Helm chart for the system with restricted pod security"),
    Blueprint("events", 3, "message broker, topics, dead-letter queues and tracing"),
    Blueprint("network-policy", 4, "default-deny NetworkPolicies with the declared edges allowed"),
    Blueprint("opa", 4, "rego policies over the manifests and per-service authorization, with tests"),
    Blueprint("service", 0, "starter kit for a new service (applied with `phasekit new-service`)"),
)
PHASE_NAMES = {0: "starter", 1: "foundation", 2: "scaling", 3: "events", 4: "policy & security"}


def get(name: str) -> Blueprint:
    for bp in ALL:
        if bp.name == name:
            return bp
    known = ", ".join(bp.name for bp in ALL)
    raise PhasekitError(f"unknown blueprint '{name}' (known: {known})")


def available() -> list[Blueprint]:
    """Blueprints whose template folder ships with this version."""
    from .resources import blueprints_dir

    root = blueprints_dir()
    return [bp for bp in ALL if (root / bp.name).is_dir()]


def select(names: list[str], phases: list[int], everything: bool) -> list[str]:
    """The blueprints a command asked for, in catalogue order; the starter kit only by name."""
    shipped = {bp.name for bp in available()}
    for name in names:
        get(name)
        if name not in shipped:
            raise PhasekitError(f"blueprint '{name}' is not shipped in this version of phasekit")
    chosen = set(names)
    for bp in available():
        if bp.phase and (everything or bp.phase in phases):
            chosen.add(bp.name)
    if not chosen:
        raise PhasekitError("say which blueprints to apply: --blueprint NAME, --phase N or --all")
    return [bp.name for bp in ALL if bp.name in chosen]
