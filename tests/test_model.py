"""The architecture model: schema and Python rules agree; bad input is one clear line naming the problem."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import EXAMPLES
from phasekit import model
from phasekit.errors import ModelError

MINIMAL = {"version": 1, "project": {"name": "shop"}, "services": [{"name": "api", "ports": [{"port": 8080}]}]}


def schema_accepts(data: object) -> bool:
    return jsonschema.Draft202012Validator(model.schema()).is_valid(data)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_examples_are_normalised_and_round_trip(path):
    arch = model.load(path)
    assert schema_accepts(arch)
    assert model.parse(model.dump(arch)) == arch
    assert path.read_text().startswith("# yaml-language-server: $schema=")
    # normalise is idempotent: loading the written file changes nothing
    assert model.normalise(arch) == arch


def test_defaults_are_filled():
    arch = model.validate(copy.deepcopy(MINIMAL))
    svc = arch["services"][0]
    assert svc["id"] == "api" and svc["kind"] == "http" and svc["replicas"] == 1
    assert svc["ports"][0] == {"port": 8080, "protocol": "TCP", "name": "http", "app_protocol": "http"}
    assert (svc["workload"], svc["scalable"], svc["volumes"]) == ("deployment", True, [])
    assert svc["health"]["liveness"] == {"type": "http", "path": "/health/live", "port": 8080}
    assert svc["health"]["readiness"]["path"] == "/health/ready"
    assert arch["environments"] == ["dev", "staging", "prod"]
    assert arch["targets"]["terraform_provider"] == "docker"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("public_app", "public-app"), ("Intranet.API", "intranet-api"), ("db", "db"), ("a_b.c-d", "a-b-c-d")],
)
def test_dns_ids_are_derived_deterministically(name, expected):
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["name"] = name
    assert model.validate(data)["services"][0]["id"] == expected


def _error(data: object) -> str:
    with pytest.raises(ModelError) as info:
        model.validate(data, "arch.yaml")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_invalid_name_is_rejected_not_sanitised():
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["name"] = "api;rm -rf"
    message = _error(data)
    assert "'api;rm -rf' is not a valid name" in message and "services[0].name" in message


def test_port_out_of_range_names_the_field():
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["ports"][0]["port"] = 70000
    assert "services[0].ports[0].port: 70000 is greater than the maximum of 65535" in _error(data)


def test_unknown_dependency():
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["depends_on"] = ["billing"]
    assert _error(data) == "arch.yaml: service 'api' depends on 'billing', which is not a service or datastore"


def test_names_colliding_after_mapping():
    data = copy.deepcopy(MINIMAL)
    data["services"].append({"name": "API", "ports": [{"port": 81}]})
    assert "both map to the Kubernetes name 'api'" in _error(data)


def test_listening_kind_without_port():
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["ports"] = []
    assert "is of kind http but declares no port" in _error(data)


def test_unknown_field_is_named():
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["replica"] = 3
    assert "services[0]: unknown field ('replica' was unexpected)" in _error(data)


def test_yaml_errors_carry_the_line(tmp_path):
    bad = tmp_path / "architecture.yaml"
    bad.write_text("version: 1\nproject:\n  name: x\nservices: [\n")
    with pytest.raises(ModelError, match=r"architecture.yaml:\d+: invalid YAML"):
        model.load(bad)
    bad.write_text("")
    with pytest.raises(ModelError, match="the file is empty"):
        model.load(bad)
    bad.write_text("version: 1\nproject:\n  name: x\nservices:\n  - name: api\n    ports:\n      - port: 0\n")
    with pytest.raises(ModelError, match=r"architecture.yaml:7: services\[0\].ports\[0\].port: 0 is less than"):
        model.load(bad)


def test_missing_file_says_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="run `phasekit capture` first"):
        model.load(tmp_path / "nope.yaml")


# ---------------------------------------------------------------- schema and Python agree

NAMES = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z")
ODD_NAMES = st.sampled_from(["a;b", "a b", "", "-a", "x" * 64, "ä", "a/b", "yes", "null", "on", "1", "A.B_c"])
PORTS = st.one_of(st.integers(min_value=-5, max_value=70000), st.just(65535), st.just(1))


@st.composite
def architectures(draw):
    names = draw(st.lists(st.one_of(NAMES, ODD_NAMES), min_size=0, max_size=5))
    services = []
    for name in names:
        svc = {"name": name, "ports": [{"port": draw(PORTS)}], "kind": draw(st.sampled_from(["http", "tcp", "worker"]))}
        if names and draw(st.booleans()):
            svc["depends_on"] = [draw(st.sampled_from(names + ["ghost"]))]
        services.append(svc)
    return {"version": 1, "project": {"name": draw(st.text(min_size=0, max_size=10))}, "services": services}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(architectures())
def test_python_model_accepts_exactly_what_schema_and_rules_accept(data):
    """Anything the Python model accepts, the schema accepts (after and before normalising); anything the
    schema rejects, the model rejects with one line."""
    structural = schema_accepts(data)
    try:
        arch = model.validate(copy.deepcopy(data), "h")
    except ModelError as exc:
        assert "\n" not in str(exc)
        if structural:
            # only the cross-reference rules may reject a schema-valid document; name the rule
            assert any(word in str(exc) for word in ("depends on", "map to", "cannot be mapped", "defined twice", "declares no port", "itself", "Basic Multilingual Plane"))
        return
    assert structural
    assert schema_accepts(arch)
    assert json.loads(json.dumps(arch)) == arch
    assert model.parse(model.dump(arch)) == arch


def test_yaml_special_words_survive_as_strings():
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["name"] = "yes"
    data["project"]["name"] = "null"
    arch = model.validate(data)
    text = model.dump(arch)
    again = yaml.safe_load(text)
    assert again["services"][0]["name"] == "yes" and again["project"]["name"] == "null"


# ---------------------------------------------------------------- issue 13: resources, text, addresses, keys


@pytest.mark.parametrize(("given", "expected"), [
    ({"cpu_limit": "50m", "memory_limit": "64Mi"},  # compose limits without reservations
     {"cpu_request": "50m", "cpu_limit": "50m", "memory_request": "64Mi", "memory_limit": "64Mi"}),
    ({"cpu_request": "2", "memory_request": "1Gi"},  # reservations without limits
     {"cpu_request": "2", "cpu_limit": "2", "memory_request": "1Gi", "memory_limit": "1Gi"}),
    ({"cpu_limit": "0.05", "memory_limit": "100M"},
     {"cpu_request": "0.05", "cpu_limit": "0.05", "memory_request": "100M", "memory_limit": "100M"}),
    ({"cpu_limit": "2"}, {**model.DEFAULT_RESOURCES, "cpu_limit": "2"}),
])
def test_defaults_never_put_a_request_above_its_limit(given, expected):
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["resources"] = given
    assert model.validate(data)["services"][0]["resources"] == expected


@pytest.mark.parametrize(("given", "message"), [
    ({"cpu_request": "2", "cpu_limit": "500m"}, "cpu_request 2 is above cpu_limit 500m"),
    ({"memory_request": "1Gi", "memory_limit": "512Mi"}, "memory_request 1Gi is above memory_limit 512Mi"),
    ({"cpu_limit": "0m"}, "cpu_limit 0m must be above 0"),
])
def test_a_request_above_its_limit_is_refused(given, message):
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["resources"] = given
    assert message in _error(data)


@pytest.mark.parametrize("where", ["project.name", "project.description", "services[0].description", "facts[0].detail",
                                   "key"])
@pytest.mark.parametrize("char", ["\u2028", "\u2029"])
def test_unicode_line_separators_are_refused_with_a_clear_line(where, char):
    """Issue 13.9: YAML readers break the line at U+2028/U+2029; in 13 generated files the rest of the
    value became keys (an injected `remote_write` reached Prometheus)."""
    data = copy.deepcopy(MINIMAL)
    data["facts"] = [{"kind": "static-ip", "subject": "api", "detail": "ok"}]
    text = f"shop{char}remote_write: [{{url: http://evil}}]"
    if where == "key":
        data["services"][0]["static_ips"] = {text: "10.0.0.1"}
    elif where.startswith("project."):
        data["project"][where.split(".")[1]] = text
    elif where.startswith("services"):
        data["services"][0]["description"] = text
    else:
        data["facts"][0]["detail"] = text
    message = _error(data)
    assert f"U+{ord(char):04X}" in message and "line break" in message


def test_line_separators_in_a_file_name_the_line():
    text = "version: 1\nproject:\n  name: \"shop\\u2028remote_write: x\"\nservices: []\n"
    with pytest.raises(ModelError, match=r"^arch.yaml:3: project.name: the character U\+2028"):
        model.parse(text, "arch.yaml")


@pytest.mark.parametrize("field", ["owner", "repository", "detail"])
def test_a_newline_in_one_line_text_is_refused(field):
    """Issue 13.18: a newline in the owner or a fact's detail reached ADR Markdown as a heading."""
    data = copy.deepcopy(MINIMAL)
    if field == "detail":
        data["facts"] = [{"kind": "static-ip", "subject": "api", "detail": "ok\n# Decision\nwe were hacked"}]
    else:
        data["project"][field] = "platform team\n\n# Decision"
    assert "a line break is not allowed in this field" in _error(data)
    data["project"]["description"] = "descriptions may\nspan lines"
    data["project"].pop("owner", None), data["project"].pop("repository", None), data.pop("facts", None)
    assert model.validate(data)["project"]["description"] == "descriptions may\nspan lines"


@pytest.mark.parametrize("address", ["999.1.1.1", "10.0.0", "1.2.3.4.5", "1::2::3", "10.0.0.01"])
def test_an_impossible_address_is_refused(address):
    data = copy.deepcopy(MINIMAL)
    data["services"][0]["static_ips"] = {"backend": address}
    assert f"static_ips.backend: {address!r} is not an IPv4 or IPv6 address" in _error(data)
    data["services"][0]["static_ips"] = {"backend": "172.20.0.5", "v6": "fd00::5"}
    assert model.validate(data)["services"][0]["static_ips"]["backend"] == "172.20.0.5"


def test_a_key_given_twice_is_refused_with_its_line():
    text = "version: 1\nproject: {name: shop}\nservices:\n  - name: api\n    ports: [{port: 80}]\n    name: web\n"
    with pytest.raises(ModelError, match=r"^arch.yaml:6: invalid YAML: the key 'name' is given twice \(first on line 4\)$"):
        model.parse(text, "arch.yaml")
    merged = ("version: 1\nproject: {name: shop}\nservices:\n  - &api {name: api, replicas: 2, ports: [{port: 80}]}\n"
              "  - <<: *api\n    name: web\n")  # a key a merge brought in may be overridden
    assert [s["replicas"] for s in model.parse(merged, "arch.yaml")["services"]] == [2, 2]
