"""Hostile and odd input: values reach YAML/JSON/HCL/shell/rego only as data, never as structure or code."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import REPO
from phasekit import check, model, render
from phasekit.errors import ModelError

SYSTEM = ["adr", "health", "terraform", "monitoring", "ci", "helm", "events", "network-policy", "opa"]
HOSTILE = 'Acme "Shop": yes # {{ 7*7 }} ${{ github.token }} $(touch /tmp/pwned) `id` \\n injected: true'
MULTILINE = "first line\ninjected: true\n---\n- {{ 7*7 }}"


def hostile_architecture() -> dict:
    arch = model.load(REPO / "examples" / "insights" / "architecture.yaml")
    arch = copy.deepcopy(arch)
    arch["project"]["name"] = HOSTILE
    arch["project"]["description"] = MULTILINE
    arch["project"]["owner"] = "O'Brien: {% raw %}"
    for svc in arch["services"]:
        svc["description"] = MULTILINE
    arch["services"][0]["name"] = "yes"  # YAML 1.1 boolean
    arch["services"][1]["name"] = "null"
    arch["services"][2]["name"] = "on." + "x" * 59  # 63 characters, maps to 'on-xxx...'
    for svc in arch["services"]:
        svc["depends_on"] = [d for d in svc["depends_on"] if d in ("postgres", "redis")]
    for fact in arch["facts"]:
        fact["detail"] = HOSTILE  # one line: a newline is refused here (it would start Markdown of its own)
    for svc in arch["services"]:
        svc.pop("id", None)
    arch["project"].pop("id", None)
    arch["facts"] = [f for f in arch["facts"] if f["subject"] in ("postgres", "redis")]
    return model.validate(arch, "hostile")


def walk(value, keys: set[str], strings: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            keys.add(str(k))
            walk(v, keys, strings)
    elif isinstance(value, list):
        for v in value:
            walk(v, keys, strings)
    elif isinstance(value, str):
        strings.append(value)


@pytest.fixture(scope="module")
def hostile_output(tmp_path_factory, template_source):
    dest = tmp_path_factory.mktemp("hostile")
    arch = hostile_architecture()
    render.apply(arch, dest, SYSTEM, template_source)
    return arch, dest


def test_hostile_values_are_data_not_structure(hostile_output):
    _, dest = hostile_output
    keys: set[str] = set()
    strings: list[str] = []
    for path in sorted(dest.rglob("*")):
        if "templates" in path.relative_to(dest).parts:
            continue  # Helm templates are Go templates, checked by helm lint/template
        if path.suffix in (".yaml", ".yml") and path.is_file():
            for doc in yaml.safe_load_all(path.read_text()):
                walk(doc, keys, strings)
        elif path.suffix == ".json" and path.is_file():
            walk(json.loads(path.read_text()), keys, strings)
    assert "injected" not in keys
    for text in strings:
        if "7*7" in text:  # wherever the Jinja marker landed, it was not evaluated
            assert "{{ 7*7 }}" in text
        assert "49 ${{" not in text
    assert not Path("/tmp/pwned").exists()


def test_no_expression_from_input_reaches_a_workflow(hostile_output):
    _, dest = hostile_output
    # names cannot hold a newline, so a comment cannot be escaped; Actions evaluates `${{ }}` everywhere else
    for workflow in (dest / ".github" / "workflows").glob("*.yml"):
        code = [ln for ln in workflow.read_text().splitlines() if not ln.lstrip().startswith("#")]
        assert not [ln for ln in code if "github.token }} $(touch" in ln], workflow


@pytest.mark.slow  # every blueprint, then the validators
def test_hostile_output_passes_every_validator(hostile_output):
    _, dest = hostile_output
    report = check.run(dest)
    failed = [f"{r.validator} {r.artifact}: {r.message.splitlines()[0] if r.message else ''}"
              for r in report.results if r.status is check.Status.FAILED]
    assert failed == []
    assert report.passed > 50


# ---------------------------------------------------------------- any schema-valid architecture renders

NAMES = st.from_regex(r"\A[a-z][a-z0-9_.-]{0,20}[a-z0-9]\Z").filter(lambda n: ".." not in n)
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@st.composite
def small_architectures(draw):
    names = draw(st.lists(NAMES, min_size=0, max_size=4, unique_by=model.dns_id))
    services = []
    for i, name in enumerate(names):
        kind = draw(st.sampled_from(["http", "tcp", "worker", "gateway", "cron", "grpc"]))
        svc = {"name": name, "kind": kind, "replicas": draw(st.integers(0, 5)), "zone": draw(st.sampled_from(["public", "private"])),
               "language": draw(st.sampled_from(["python", "go", "node", "php", "unknown"]))}
        if kind not in ("worker", "cron"):
            svc["ports"] = [{"port": draw(st.integers(1, 65535))}]
        if i:
            svc["depends_on"] = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=2))
        services.append(svc)
    return {"version": 1, "project": {"name": draw(TEXT), "description": draw(TEXT)}, "services": services,
            "datastores": [{"name": "store", "engine": draw(st.sampled_from(["postgres", "redis", "mysql", "nats"]))}]}


@pytest.mark.slow  # every blueprint for each of 12 generated architectures
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(small_architectures())
def test_any_valid_architecture_renders_parseable_output(tmp_path_factory, template_source, data):
    try:
        arch = model.validate(data, "generated")
    except ModelError:
        return  # the model said why; nothing to render
    dest = tmp_path_factory.mktemp("any")
    render.apply(arch, dest, SYSTEM, template_source)
    report = check.run(dest, validators=["parse", "yamllint", "kubernetes-validate", "promtool-rules", "terraform-fmt"])
    failed = [f"{r.validator} {r.artifact}: {r.message[:300]}" for r in report.results if r.status is check.Status.FAILED]
    assert failed == []


# 1,000 services is benchmarks/run.py --sizes 1000 (clock-dependent, so not a test): it prints any command that
# exits non-zero there, `check` of the 1,000-service output included.
@pytest.mark.parametrize("count", [0])
def test_zero_services(count, tmp_path, template_source):
    services = [{"name": f"svc-{i}", "ports": [{"port": 8000 + i % 1000}], "depends_on": [f"svc-{i - 1}"] if i else []}
                for i in range(count)]
    arch = model.validate({"version": 1, "project": {"name": f"n{count}"}, "services": services}, "generated")
    render.apply(arch, tmp_path, SYSTEM, template_source)
    report = check.run(tmp_path, validators=["parse", "promtool-rules", "terraform-fmt", "kubernetes-validate"])
    assert report.select(validator="promtool-rules"), "the rule file was found and checked"
    failed = [f"{r.validator} {r.artifact}: {r.message[:300]}" for r in report.results if r.status is check.Status.FAILED]
    assert failed == []
