"""Large systems stay readable (issue 14): at 200 services the report's lines stay short, its summary fits
on one screen, the diagrams group alike services instead of drawing a 200-node column, and the detail is
in a per-service table."""

from __future__ import annotations

import re

from assess_fixtures import mermaid_parse  # noqa: F401 - fixture
from phasekit import assess, model


def _large(n: int = 200) -> dict:
    services = []
    for i in range(n):
        svc = {"name": f"svc-{i:03d}", "kind": "worker" if i % 5 == 4 else "http", "image": f"example/svc:{i}",
               "language": "python", "ports": [] if i % 5 == 4 else [{"port": 8000}], "depends_on": ["db"]}
        if i and i % 5 != 4:
            svc["depends_on"].append(f"svc-{i - 1:03d}")
        services.append(svc)
    return model.validate({"version": 1, "project": {"name": "big"}, "services": services,
                           "datastores": [{"name": "db", "engine": "postgres"}]}, "test")


def test_a_200_service_report_stays_readable(mermaid_parse):  # noqa: F811 - pytest fixture
    report = assess.assess(_large(), None)
    markdown = assess.render_markdown(report)
    lines = markdown.splitlines()
    assert max(len(line) for line in lines) < 400
    summary = lines[: lines.index("## Current architecture")]
    assert len(summary) <= 40  # one screen
    table = lines[lines.index("## Services"):]
    assert sum(1 for line in table if line.startswith("| svc-")) == 200
    assert len(lines) < 200 + 450
    for diagram in (report.current_diagram, report.target_diagram):
        nodes = re.findall(r"^\s+g\d+[\[\(\{]", diagram, re.MULTILINE)
        assert 1 < len(nodes) <= 10, diagram
        assert "160 http services" in diagram and "40 worker services" in diagram
    ok, message = mermaid_parse([report.current_diagram, report.target_diagram])
    assert ok, message


def test_a_small_system_keeps_one_node_per_service():
    arch = _large(6)
    report = assess.assess(arch, None)
    assert all(f"svc_svc_{i:03d}" in report.current_diagram for i in range(6))
    assert "## Services" in assess.render_markdown(report)
