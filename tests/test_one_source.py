"""One rule in one place: defaults, enums, the default Kubernetes version and the name rules come from
schemas/architecture.schema.json (or, for a new service's name, from one definition in model.py)."""

from __future__ import annotations

import ast
import re

import pytest
import yaml

from helpers import REPO
from phasekit import check, model
from phasekit.capture import prompts
from phasekit.commands import new_service


def _schema_defaulted_keys() -> set[str]:
    keys: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.get("properties", {}).items():
                if isinstance(value, dict) and "default" in value:
                    keys.add(key)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(model.schema())
    return keys


@pytest.mark.parametrize("module", ["model.py", "derive.py", "monitoring_model.py"])
def test_the_model_code_repeats_no_schema_default_as_a_literal(module):
    """No `x.setdefault("key", <literal>)` in the code that normalises the model, for a key the schema gives a
    default to (model._fill reads the schema's)."""
    tree = ast.parse((REPO / "generator" / "phasekit" / module).read_text(encoding="utf-8"))
    defaulted = _schema_defaulted_keys()
    repeated = [
        (node.lineno, node.args[0].value) for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault"
        and len(node.args) == 2 and isinstance(node.args[0], ast.Constant) and node.args[0].value in defaulted
        and isinstance(node.args[1], (ast.Constant, ast.List, ast.Dict))
    ]
    assert not repeated, f"schema defaults written again in {module} (line, key): {repeated}"


def test_normalise_fills_the_schemas_defaults():
    given = {"project": {"name": "x"}, "services": [{"name": "web", "ports": [{"port": 80}]}],
             "datastores": [{"name": "db", "engine": "postgres"}], "networks": [{"name": "n"}]}
    arch = model.normalise(given)
    svc, store, net = arch["services"][0], arch["datastores"][0], arch["networks"][0]
    checked = 0
    for item, was, definition in ((arch, given, "architecture"), (svc, given["services"][0], "service"),
                                  (store, given["datastores"][0], "datastore"), (net, given["networks"][0], "network"),
                                  (svc["ports"][0], given["services"][0]["ports"][0], "portSpec")):
        for key, value in model.schema_defaults(definition).items():
            if key in item and key not in was and (definition, key) != ("datastore", "ports"):  # derived from the engine
                assert item[key] == value, (definition, key)
                checked += 1
    assert checked >= 25
    assert arch["targets"] == model.schema_defaults("targets")
    assert svc["slo"] == model.schema_defaults("service", "slo") == {"availability": 99.5, "latency_ms": 500}
    for key in ("kind", "language", "replicas", "zone", "stateful", "static_ips", "depends_on"):
        assert key in svc, key  # filled, not left to the blueprints


def test_a_default_changed_in_the_schema_changes_what_normalise_fills(monkeypatch):
    changed = model.schema()
    changed = {**changed, "$defs": {**changed["$defs"], "service": {**changed["$defs"]["service"]}}}
    props = {**changed["$defs"]["service"]["properties"]}
    props["zone"] = {**props["zone"], "default": "public"}
    props["replicas"] = {**props["replicas"], "default": 2}
    changed["$defs"]["service"]["properties"] = props
    monkeypatch.setattr(model, "schema", lambda: changed)
    model._defaults.cache_clear()
    try:
        svc = model.normalise({"project": {"name": "x"}, "services": [{"name": "w", "kind": "worker"}]})["services"][0]
    finally:
        model._defaults.cache_clear()
    assert (svc["zone"], svc["replicas"]) == ("public", 2)


def test_filled_lists_are_fresh_copies():
    arch = model.normalise({"project": {"name": "x"}, "services": [{"name": "a"}, {"name": "b"}]})
    arch["services"][0]["depends_on"].append("b")
    assert arch["services"][1]["depends_on"] == [] and model.schema_defaults("service")["depends_on"] == []


def test_the_prompts_offer_the_schemas_enums():
    props = model.schema()["$defs"]
    assert prompts.KINDS == props["service"]["properties"]["kind"]["enum"]
    assert prompts.LANGUAGES == props["service"]["properties"]["language"]["enum"]
    assert prompts.ENGINES == props["datastore"]["properties"]["engine"]["enum"]
    assert "clickhouse" in prompts.ENGINES  # an engine the schema has and the copied list lacked


def test_one_default_kubernetes_version():
    schema_default = model.schema()["$defs"]["targets"]["properties"]["kubernetes_version"]["default"]
    assert model.DEFAULT_KUBERNETES_VERSION == model.DEFAULT_TARGETS["kubernetes_version"] == schema_default
    assert check.DEFAULT_KUBE_VERSION == schema_default


LABELS = ["a", "api", "a-b", "1api", "api-", "-api", "Api", "a_b", "a.b", "a" * 63, "a" * 64, "9", "x" + "-" * 61 + "y",
          "api\n", ""]


@pytest.mark.parametrize("text", LABELS)
def test_the_name_rules_are_the_schemas(text):
    defs = model.schema()["$defs"]
    dns = defs["dnsLabel"]
    assert model.is_dns_label(text) == bool(re.fullmatch(dns["pattern"], text) and len(text) <= dns["maxLength"])
    name = defs["name"]
    assert model.is_name(text) == bool(re.fullmatch(name["pattern"], text) and len(text) <= name["maxLength"])
    # a new service's name: DNS-1035, the DNS-1123 labels that start with a letter
    assert new_service.SERVICE_NAME is model.DNS_1035_LABEL
    assert bool(model.DNS_1035_LABEL.fullmatch(text)) == (model.is_dns_label(text) and text[:1].isalpha())
    assert prompts.valid_name(set())(text) is True if model.is_name(text) else prompts.valid_name(set())(text) is not True


def test_copier_yml_accepts_the_service_names_new_service_accepts():
    question = yaml.safe_load((REPO / "copier.yml").read_text(encoding="utf-8"))["service_name"]
    found = re.search(r"regex_search\('([^']+)'\)", question["validator"])
    assert found, question["validator"]
    assert found[1] == model.DNS_1035_LABEL.pattern
