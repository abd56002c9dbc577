"""`phasekit assess` output: Markdown, JSON, SVG charts, Mermaid diagrams (real parser), --fail-under, determinism."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from assess_fixtures import mermaid_parse  # noqa: F401 - fixture
from phasekit import assess, model
from phasekit.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DIRS = sorted(p.parent for p in REPO.glob("examples/*/architecture.yaml"))
FILETRANSFER = REPO / "examples" / "filetransfer" / "architecture.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def mermaid_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```mermaid\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("example_dir", EXAMPLE_DIRS, ids=[p.name for p in EXAMPLE_DIRS])
def test_markdown_and_json_carry_the_same_report(example_dir: Path, tmp_path: Path, capsys) -> None:
    arch_file = str(example_dir / "architecture.yaml")
    code, markdown, err = run(["assess", "--arch", arch_file], capsys)
    assert code == 0, err
    code, text, _ = run(["assess", "--arch", arch_file, "--format", "json", "-o", str(tmp_path / "r.json")], capsys)
    assert code == 0 and text == ""
    data = json.loads((tmp_path / "r.json").read_text())
    score = data["score"]
    assert f"**Readiness: {score['percent']}%, {score['met']}/{score['total']} capabilities met.**" in markdown
    assert score["total"] == 10 and len(data["capabilities"]) == 10
    for cap in data["capabilities"]:
        assert f"| {cap['percent']}% | {cap['passed']}/{cap['total']} |" in markdown
        for check in cap["checks"]:
            assert f"(`{check['id']}`)" in markdown
            assert ("gap" in check) != check["passed"]
    assert [g["id"] for g in data["gaps"]] == [c["id"] for cap in data["capabilities"] for c in cap["checks"] if not c["passed"]]
    assert mermaid_blocks(markdown) == [data["diagrams"]["current"], data["diagrams"]["target"]]
    # The same command gives the same bytes (no timestamps, stable order).
    assert run(["assess", "--arch", arch_file], capsys)[1] == markdown
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b|\d\d:\d\d:\d\d", markdown)
    assert markdown.endswith("\n") and not markdown.endswith("\n\n")


def test_fail_under_gates_on_the_overall_score(capsys) -> None:
    report = assess.assess(model.load(FILETRANSFER), FILETRANSFER.parent)
    code, _, err = run(["assess", "--arch", str(FILETRANSFER), "--fail-under", str(report.percent + 1)], capsys)
    assert code == 1
    lines = [line for line in err.splitlines() if line.startswith("phasekit: error:")]
    assert lines == [f"phasekit: error: readiness {report.percent}% is below --fail-under {report.percent + 1}"]
    assert "Traceback" not in err
    assert run(["assess", "--arch", str(FILETRANSFER), "--fail-under", str(report.percent)], capsys)[0] == 0
    assert run(["assess", "--arch", str(FILETRANSFER), "--fail-under", "101"], capsys)[0] == 2  # usage error
    code, _, err = run(["assess", "--arch", "/nonexistent/architecture.yaml"], capsys)
    assert code == 1 and "no such file" in err


def test_svg_charts_parse_and_show_each_capability(tmp_path: Path, capsys) -> None:
    out = tmp_path / "docs" / "gap-analysis.md"
    svg_dir = tmp_path / "docs" / "charts"
    code, _, err = run(["assess", "--arch", str(FILETRANSFER), "-o", str(out), "--svg-dir", str(svg_dir)], capsys)
    assert code == 0, err
    report = assess.assess(model.load(FILETRANSFER), FILETRANSFER.parent)
    names = sorted(p.name for p in svg_dir.iterdir())
    assert names == sorted(["readiness.svg"] + [f"readiness-{c.id}.svg" for c in report.capabilities])
    root = ET.parse(svg_dir / "readiness.svg").getroot()
    assert root.tag == f"{SVG}svg"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert f"{report.percent}% ready" in texts[0] and f"{report.met}/10" in texts[0]
    for cap in report.capabilities:
        assert cap.title in texts and f"{cap.percent}%" in texts
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("height") == "18"]
    assert len(bars) == 20  # a track and a bar per capability
    widths = [int(r.get("width")) for r in bars[1::2]]
    assert widths == [round(320 * c.percent / 100) for c in report.capabilities]
    for cap in report.capabilities:
        segs = [r for r in ET.parse(svg_dir / f"readiness-{cap.id}.svg").getroot().iter(f"{SVG}rect") if r.get("height") == "16"]
        assert len(segs) == len(cap.checks)
    markdown = out.read_text()
    assert "![Readiness per capability](charts/readiness.svg)" in markdown
    assert "(charts/readiness-scaling.svg)" in markdown
    # Deterministic: a second run writes identical charts.
    first = {p.name: p.read_bytes() for p in svg_dir.iterdir()}
    run(["assess", "--arch", str(FILETRANSFER), "-o", str(out), "--svg-dir", str(svg_dir)], capsys)
    assert first == {p.name: p.read_bytes() for p in svg_dir.iterdir()}


@pytest.mark.parametrize("example_dir", EXAMPLE_DIRS, ids=[p.name for p in EXAMPLE_DIRS])
def test_current_diagram_shows_the_architecture(example_dir: Path) -> None:
    """Every service and datastore, every static address, every depends_on edge, every zone that has members."""
    arch = model.load(example_dir / "architecture.yaml")
    diagram = assess.assess(arch, None).current_diagram
    ids = {s["name"]: "svc_" + s["id"].replace("-", "_") for s in arch["services"]}
    ids.update({d["name"]: "ds_" + d["id"].replace("-", "_") for d in arch["datastores"]})
    for item in [*arch["services"], *arch["datastores"]]:
        node = re.search(rf"^\s*{ids[item['name']]}\W.*$", diagram, re.MULTILINE)
        assert node, item["name"]
        for ip in item["static_ips"].values():
            assert ip in node.group(0)
    for svc in arch["services"]:
        for dep in svc["depends_on"]:
            assert f"  {ids[svc['name']]} --> {ids[dep]}\n" in diagram
    # Every node sits inside a zone (or a network within a zone): indented under a subgraph.
    for nid in ids.values():
        assert re.search(rf"^ {{4,}}{nid}\W", diagram, re.MULTILINE), nid
    assert set(re.findall(r"subgraph zone_(\w+)\[", diagram)) <= {"public", "private"}
    for net in arch["networks"]:
        members = [x for x in [*arch["services"], *arch["datastores"]] if x["networks"] == [net["name"]]]
        assert (f"subgraph net_{net['id'].replace('-', '_')}[" in diagram) == bool(members)


def _hostile(arch: dict) -> dict:
    """Names and free text that would break Markdown, Mermaid, SVG or XML if pasted in raw. Each goes into a field
    only where the schema lets it (a field the schema restricts is protected before assess sees it)."""
    arch = copy.deepcopy(arch)
    arch["facts"].append({"kind": "static-ip", "subject": arch["services"][0]["name"], "detail": "a | b <i>c</i> _d_ [e](f)"})
    attempts = [
        (("project", "name"), 'evil "<script>alert(1)</script>" | end ]]> & `x`'),
        (("services", 0, "framework"), 'x"]-->y; click z call alert(1) %% {{'),
    ]
    for path, value in attempts:
        trial = copy.deepcopy(arch)
        node = trial
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        try:
            model.validate(copy.deepcopy(trial), "test")
        except model.ModelError:
            continue
        arch = trial
    assert "<script>" in arch["project"]["name"], "the project name is free text in the schema"
    return model.validate(arch, "test")


def test_hostile_text_cannot_break_the_outputs(tmp_path: Path, capsys, mermaid_parse) -> None:  # noqa: F811 - pytest fixture
    arch = _hostile(model.load(FILETRANSFER))
    arch_file = tmp_path / "architecture.yaml"
    arch_file.write_text(model.dump(arch))
    code, markdown, err = run(["assess", "--arch", str(arch_file), "--svg-dir", str(tmp_path / "svg")], capsys)
    assert code == 0, err
    assert "<script>" not in markdown and "<i>" not in markdown
    assert "# Gap analysis: evil" in markdown.splitlines()[0]
    blocks = mermaid_blocks(markdown)
    ok, message = mermaid_parse(blocks)
    assert ok, message
    assert message.count("OK ") == 2 and "flowchart-v2" in message
    for block in blocks:
        assert "<script>" not in block and "-->y" not in block
    for svg in (tmp_path / "svg").iterdir():
        ET.parse(svg)  # well-formed XML whatever the project is called
    json.loads(run(["assess", "--arch", str(arch_file), "--format", "json"], capsys)[1])


def test_every_diagram_parses_with_mermaid(tmp_path: Path, mermaid_parse) -> None:  # noqa: F811 - pytest fixture
    """mermaid's own parser (scripts/install-mermaid-check) on both diagrams of every example's Markdown report."""
    blocks = []
    for example_dir in EXAMPLE_DIRS:
        arch = model.load(example_dir / "architecture.yaml")
        markdown = assess.render_markdown(assess.assess(arch, example_dir))
        found = mermaid_blocks(markdown)
        assert len(found) == 2 and all(b.startswith("flowchart LR\n") for b in found)
        blocks += found
    ok, message = mermaid_parse(blocks)
    assert ok, message
    assert message.count("OK ") == len(blocks)
    # The parser really rejects broken input (so a pass above means something).
    assert not mermaid_parse("flowchart LR\n  a -->\n")[0]


def test_report_files_are_not_evidence(tmp_path: Path, capsys) -> None:
    """A committed report (Markdown or JSON) names NetworkPolicies, Prometheus and ADRs; it must not count as them."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "architecture.yaml").write_text(FILETRANSFER.read_text())
    before = run(["assess", "--arch", str(repo / "architecture.yaml"), "--format", "json"], capsys)[1]
    run(["assess", "--arch", str(repo / "architecture.yaml"), "-o", str(repo / "docs" / "gap-analysis.md")], capsys)
    run(["assess", "--arch", str(repo / "architecture.yaml"), "--format", "json", "-o", str(repo / "gap.json")], capsys)
    after = run(["assess", "--arch", str(repo / "architecture.yaml"), "--format", "json"], capsys)[1]
    assert json.loads(after)["score"] == json.loads(before)["score"]
    assert yaml.safe_load(after) == yaml.safe_load(before)
