"""Assessing each bundled example: the scoring rules hold, and the findings match the architecture."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from phasekit import assess, blueprints, model

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DIRS = sorted(p.parent for p in REPO.glob("examples/*/architecture.yaml"))

CAPABILITY_IDS = ["iac", "health", "scaling", "fault", "observability", "automation", "policy", "security", "events", "decisions"]


def _report(example_dir: Path) -> tuple[dict, assess.Report]:
    arch = model.load(example_dir / "architecture.yaml")
    return arch, assess.assess(arch, example_dir)


def _check(report: assess.Report, check_id: str) -> assess.Check:
    return next(c for cap in report.capabilities for c in cap.checks if c.id == check_id)


def _half_up(value: Fraction) -> int:
    return int(value * 100 + Fraction(1, 2))


@pytest.mark.parametrize("example_dir", EXAMPLE_DIRS, ids=[p.name for p in EXAMPLE_DIRS])
def test_scores_follow_the_documented_rules(example_dir: Path) -> None:
    _, report = _report(example_dir)
    assert [c.id for c in report.capabilities] == CAPABILITY_IDS
    for cap in report.capabilities:
        passed = sum(c.passed for c in cap.checks)
        assert cap.checks, cap.id
        assert cap.percent == _half_up(Fraction(passed, len(cap.checks)))
        assert cap.met == (passed == len(cap.checks))
        assert all(c.id.startswith(cap.id + ".") for c in cap.checks)
    mean = sum((Fraction(sum(c.passed for c in cap.checks), len(cap.checks)) for cap in report.capabilities), Fraction(0)) / 10
    assert report.percent == _half_up(mean)
    assert report.met == sum(cap.met for cap in report.capabilities)
    ids = [c.id for cap in report.capabilities for c in cap.checks]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("example_dir", EXAMPLE_DIRS, ids=[p.name for p in EXAMPLE_DIRS])
def test_every_gap_says_what_why_and_how_to_close_it(example_dir: Path) -> None:
    _, report = _report(example_dir)
    assert report.gaps, "a captured system with no blueprint applied has gaps"
    for _, check in report.gaps:
        assert check.problem and check.why and check.evidence, check.id
        assert check.problem != check.why
        if check.blueprint:
            assert check.phase == blueprints.get(check.blueprint).phase
        else:
            assert check.action and check.phase in (1, 2, 3, 4)
    # The roadmap lists every gap exactly once, phase 1 to 4, blueprints in catalogue order.
    steps = [step for phase in report.roadmap() for step in phase["steps"]]
    listed = [c for step in steps for c in step["closes"]]
    assert sorted(listed) == sorted(report.gap_ids())
    assert [p["phase"] for p in report.roadmap()] == [1, 2, 3, 4]
    order = [bp.name for bp in blueprints.ALL]
    for phase in report.roadmap():
        names = [s["blueprint"] for s in phase["steps"] if s["blueprint"]]
        assert names == sorted(names, key=order.index)


@pytest.mark.parametrize("example_dir", EXAMPLE_DIRS, ids=[p.name for p in EXAMPLE_DIRS])
def test_findings_match_the_architecture(example_dir: Path) -> None:
    """What a careful reader of architecture.yaml would list, checked against the report (no example holds
    a chart or Kubernetes manifests yet, so the model alone decides these)."""
    arch, report = _report(example_dir)
    assert not list(example_dir.rglob("Chart.yaml")) and not list(example_dir.rglob("*.rego"))
    gaps = report.gap_ids()
    pinned = [x["name"] for x in [*arch["services"], *arch["datastores"]] if x["static_ips"]]
    assert ("scaling.addresses" in gaps) == bool(pinned)
    for name in pinned:
        assert name in _check(report, "scaling.addresses").problem
    single = [s["name"] for s in arch["services"] if s["replicas"] < 2 and s["kind"] != "cron"]
    assert ("fault.replicas" in gaps) == bool(single)
    for name in single:
        assert name in _check(report, "fault.replicas").problem
    secrets = [f["subject"] for f in arch["facts"] if f["kind"] == "secret-in-env"]
    assert ("security.secrets" in gaps) == bool(secrets)
    names = {s["name"] for s in arch["services"]}
    sync = [(s["name"], d) for s in arch["services"] if s["kind"] != "gateway" for d in s["depends_on"] if d in names]
    assert ("events.async-calls" in gaps) == bool(sync)
    stores = [d["name"] for d in arch["datastores"] if d["persistent"] and not d["managed"]]
    assert ("fault.datastores" in gaps) == bool(stores)
    # No example has policies, a broker or an autoscaler yet.
    assert {"policy.network", "policy.default-deny", "policy.opa", "scaling.autoscaling", "fault.disruption-budget"} <= gaps
    # A service without a declared health check and without a compose healthcheck is named in the health gap.
    unchecked = [f["subject"] for f in arch["facts"] if f["kind"] == "no-healthcheck" and f["subject"] in names]
    if unchecked:
        assert "health.checks" in gaps
        for name in unchecked:
            assert name in _check(report, "health.checks").problem


def test_the_file_transfer_system_findings() -> None:
    """The dual-network file-transfer system: the findings of its hand-written gap analysis."""
    arch, report = _report(Path(__file__).resolve().parents[2] / "examples" / "filetransfer")
    gaps = report.gap_ids()
    # Static IPs block scaling.
    addresses = _check(report, "scaling.addresses")
    assert not addresses.passed and "scale" in addresses.problem and addresses.blueprint == "helm"
    assert any("172.20.0.10" in e and "gateway" in e for e in addresses.evidence)
    # No health checks.
    health = _check(report, "health.checks")
    assert not health.passed and health.blueprint == "health"
    for name in ("gateway", "public_app", "mime_server"):
        assert name in health.problem
    # Single points of failure.
    replicas = _check(report, "fault.replicas")
    assert not replicas.passed and "Single points of failure" in replicas.problem and "mime_server" in replicas.problem
    # No policies.
    assert {"policy.network", "policy.default-deny", "policy.opa", "policy.tests"} <= gaps
    assert _check(report, "policy.network").blueprint == "network-policy"
    # Secrets in env.
    secrets = _check(report, "security.secrets")
    assert not secrets.passed and "DB_PASSWORD" in secrets.problem and "intranet_api" in secrets.problem
    # Synchronous point-to-point calls to the MIME server, and no broker.
    assert "mime_server" in _check(report, "events.async-calls").problem
    assert "events.broker" in gaps
    # Far from ready, and said so.
    assert report.percent < 30 and report.met <= 3
    assert arch["project"]["name"] == report.project
