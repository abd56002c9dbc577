"""The architecture model: load, validate (schema + cross-references), normalise and write architecture.yaml."""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import derive, monitoring_model
from .errors import ModelError
from .resources import schema_path

Architecture = dict[str, Any]

SCHEMA_URL = "https://phasekit.dev/schemas/architecture.schema.json"
# Kinds that serve on a port and so must declare one.
LISTENING_KINDS = {"http", "tcp", "grpc", "gateway", "static"}
HTTP_KINDS = {"http", "gateway", "static"}

# Not in the schema: a default a user never sees there (normalise() also keeps a request under its limit).
DEFAULT_RESOURCES = {"cpu_request": "100m", "cpu_limit": "500m", "memory_request": "128Mi", "memory_limit": "256Mi"}
# The worker checker ships with the health blueprint; a worker proves liveness by a fresh heartbeat file.
WORKER_PROBE_COMMAND = ["/bin/sh", "/healthcheck/healthcheck.sh"]


@cache
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return loaded


# ---------------------------------------------------------------------------- what the schema says, once
# Defaults, enums and name rules are read from schemas/architecture.schema.json; nothing here repeats them.


def _definition(name: str) -> dict[str, Any]:
    """A `$defs` entry of the schema, or the schema itself for "architecture"."""
    node: dict[str, Any] = schema() if name == "architecture" else schema()["$defs"][name]
    return node


def schema_defaults(definition: str, *path: str) -> dict[str, Any]:
    """{property: its `default`} of one schema definition (or of an object property below it, by path), in
    the schema's order."""
    return dict(_defaults(definition, path))


@cache
def _defaults(definition: str, path: tuple[str, ...] = ()) -> dict[str, Any]:
    node = _definition(definition)
    for prop in path:
        node = node["properties"][prop]
    return {key: prop["default"] for key, prop in node.get("properties", {}).items() if "default" in prop}


def schema_enum(definition: str, prop: str) -> list[str]:
    """The allowed values of an enum property, in the schema's order."""
    return list(_definition(definition)["properties"][prop]["enum"])


def _fill(item: dict[str, Any], definition: str, keys: tuple[str, ...]) -> None:
    """Set the schema's default of each key the item lacks (a fresh copy: lists are appended to later)."""
    defaults = _defaults(definition)
    for key in keys:
        if key not in item:
            item[key] = copy.deepcopy(defaults[key])


DEFAULT_TARGETS: dict[str, Any] = schema_defaults("targets")
DEFAULT_SLO: dict[str, Any] = schema_defaults("service", "slo")
DEFAULT_KUBERNETES_VERSION: str = DEFAULT_TARGETS["kubernetes_version"]

# Names: `name` is what compose allows (mapped to an id by dns_id), `dnsLabel` an id Kubernetes, Helm and
# Terraform accept (DNS-1123). A new service's name is also a Kubernetes Service name and a Python module:
# DNS-1035, a DNS-1123 label that starts with a letter (commands/new_service.py; copier.yml's service_name).
DNS_LABEL = re.compile(_definition("dnsLabel")["pattern"])
NAME = re.compile(_definition("name")["pattern"])
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def is_dns_label(text: str) -> bool:
    """A DNS-1123 label as the schema's `dnsLabel` says: pattern and length."""
    return len(text) <= _definition("dnsLabel")["maxLength"] and DNS_LABEL.fullmatch(text) is not None


def is_name(text: str) -> bool:
    """A compose-style name as the schema's `name` says: pattern and length."""
    return len(text) <= _definition("name")["maxLength"] and NAME.fullmatch(text) is not None


def dns_id(name: str) -> str:
    """The deterministic DNS-1123 label for a compose-style name: lowercase, '_' and '.' become '-'."""
    return name.lower().replace("_", "-").replace(".", "-")


# ---------------------------------------------------------------------------- loading


def load(path: str | Path) -> Architecture:
    """Read, validate and normalise an architecture.yaml; ModelError names the file, line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelError(f"{path}: no such file (run `phasekit capture` first)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: cannot read: {exc}") from None
    return parse(text, str(path))


def parse(text: str, source: str = "architecture.yaml") -> Architecture:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ModelError(f"{source}{where}: invalid YAML: {problem}") from None
    if data is None:
        raise ModelError(f"{source}: the file is empty")
    return validate(data, source, lambda: _compose(text))


def _compose(text: str) -> yaml.Node:
    node = yaml.compose(text)
    assert node is not None  # text parsed to a non-empty document above
    return node


# The C parser when PyYAML has it: architecture.yaml of a large system is megabytes.
_C_OR_PURE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_C_OR_PURE_LOADER):  # type: ignore[valid-type,misc]
    """A safe loader that refuses a key given twice in one mapping (YAML says keys are unique; PyYAML
    silently keeps the last). Keys a merge (`<<: *anchor`) brings in may still be overridden."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the constructor reports it
                    continue
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"the key {key!r} is given twice (first on line {first + 1})", key_node.start_mark)
                seen[key] = key_node.start_mark.line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def validate(data: Any, source: str = "architecture", node: Callable[[], yaml.Node] | None = None) -> Architecture:
    """Schema first (structure), then the rules a schema cannot say; returns the normalised model."""
    if not isinstance(data, dict):
        raise ModelError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    _check_text(data, source, node)
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        field = _json_path(err.absolute_path)
        line = _line_of(node() if node else None, list(err.absolute_path))  # parsed again only to name the line
        where = f"{source}:{line}" if line else source
        raise ModelError(f"{where}: {field or 'top level'}: {_schema_message(err)}")
    arch = normalise(data)
    check_references(arch, source)
    return arch


# YAML readers take these for line breaks: in a generated file they end the value and start a new key.
LINE_SEPARATORS = {"\u2028": "U+2028 (LINE SEPARATOR)", "\u2029": "U+2029 (PARAGRAPH SEPARATOR)"}


def _check_text(data: dict[str, Any], source: str, node: Callable[[], yaml.Node] | None) -> None:
    """Before the schema, for a clear line: no U+2028/U+2029 anywhere (JSON and most serialisers leave
    them unescaped; YAML readers break the line there)."""

    def refuse(path: list[Any], problem: str) -> None:
        line = _line_of(node() if node else None, path)
        where = f"{source}:{line}" if line else source
        raise ModelError(f"{where}: {_json_path(path) or 'top level'}: {problem}")

    def walk(value: Any, path: list[Any]) -> None:
        if isinstance(value, str) and _single_line(path) and ("\n" in value or "\r" in value):
            refuse(path, "a line break is not allowed in this field (it is one line of an ADR or a report); "
                         "use a description for longer text")
        if isinstance(value, str):
            found = next((c for c in value if c in LINE_SEPARATORS), None)
            if found:
                refuse(path, f"the character {LINE_SEPARATORS[found]} is a line break to YAML readers and is not "
                             "allowed; use a space or a newline in a description")
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key, path)
                walk(item, [*path, key])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, [*path, index])

    walk(data, [])


def _single_line(path: list[Any]) -> bool:
    """Text that generated Markdown prints inline (ADR deciders, a fact's bullet): a newline there would
    start a heading or a list of its own."""
    return path in (["project", "owner"], ["project", "repository"]) or (
        len(path) == 3 and path[0] == "facts" and path[2] == "detail")


def _schema_message(err: jsonschema.ValidationError) -> str:
    if err.validator == "pattern" and isinstance(err.instance, str):
        what = "a valid name" if err.absolute_path and err.absolute_path[-1] in ("name", "id") else "allowed here"
        return f"{err.instance!r} is not {what} (expected the form {err.validator_value})"
    if err.validator == "additionalProperties":
        return err.message.replace("Additional properties are not allowed", "unknown field")
    return err.message


def _json_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _line_of(node: yaml.Node | None, parts: list[Any]) -> int | None:
    """The 1-based line of the YAML node at parts (a JSON path), or the deepest ancestor found."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in parts:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


# ---------------------------------------------------------------------------- normalising


def normalise(data: dict[str, Any]) -> Architecture:
    """Fill every default and derived field, so blueprints read one explicit shape."""
    arch: Architecture = copy.deepcopy(data)
    project = arch["project"]
    project.setdefault("id", _project_id(project["name"]))
    _fill(arch, "architecture", ("datastores", "networks", "environments"))
    arch["targets"] = {**DEFAULT_TARGETS, **arch.get("targets", {})}
    _fill(arch, "architecture", ("facts",))
    for svc in arch["services"]:
        _normalise_service(svc)
    for store in arch["datastores"]:
        store.setdefault("id", dns_id(store["name"]))
        _fill(store, "datastore", ("zone", "networks", "static_ips", "persistent", "managed", "volumes", "env", "secrets",
                                   "host_variables", "depends_on", "external_in"))
        if "port" not in store and store["engine"] in DATASTORE_PORTS:
            store["port"] = DATASTORE_PORTS[store["engine"]]
        store.setdefault("ports", [{"port": store["port"]}] if "port" in store else [])
        if "port" in store and store["port"] not in [p["port"] for p in store["ports"]]:
            store["ports"].insert(0, {"port": store["port"]})
        _name_ports({"kind": "tcp", "ports": store["ports"], "health": store.get("health")})
        store["monitoring"] = monitoring_model.datastore(store)  # derived, never the file's: see the module
    for net in arch["networks"]:
        net.setdefault("id", dns_id(net["name"]))
        _fill(net, "network", ("zone", "internal"))
    return arch


DATASTORE_PORTS = {
    "postgres": 5432, "mysql": 3306, "mariadb": 3306, "redis": 6379, "memcached": 11211, "minio": 9000,
    "mongo": 27017, "kafka": 9092, "rabbitmq": 5672, "nats": 4222, "elasticsearch": 9200,
}


PROJECT_ID_MAX = 40  # '<project>-<service>' resource names must fit in 63 characters


def _project_id(name: str) -> str:
    candidate = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:PROJECT_ID_MAX].strip("-")
    return candidate or "system"


def _normalise_service(svc: dict[str, Any]) -> None:
    svc.setdefault("id", dns_id(svc["name"]))
    _fill(svc, "service", ("kind", "language", "replicas", "zone", "ports", "networks", "depends_on", "env", "secrets",
                           "writable_paths", "profiles", "static_ips", "stateful", "volumes", "egress", "host_variables",
                           "one_shot"))
    kind = svc["kind"]
    svc["resources"] = _resources(svc.get("resources", {}))
    svc["slo"] = {**DEFAULT_SLO, **svc.get("slo", {})}
    _name_ports(svc)
    derive.fill_service(svc)
    health = svc.setdefault("health", {})
    health.setdefault("declared", False)
    probe_port, speaks_http = derive.served_probe_port(svc["ports"])
    first_port = probe_port["port"] if probe_port else None
    built = "build" in svc or "image" not in svc  # an image without a build is somebody else's
    defaults = _default_probes(kind, first_port, svc.get("framework"), speaks_http, built)
    for probe_name, default in defaults.items():
        probe = health.setdefault(probe_name, default)
        if probe["type"] in ("http", "tcp") and "port" not in probe and first_port:
            probe["port"] = first_port
    svc["monitoring"] = monitoring_model.service(svc)  # derived, never the file's: see the module


def _resources(given: dict[str, str]) -> dict[str, str]:
    """The defaults fill what is not given, but never past what is: a limit below the default request
    (compose limits without reservations) lowers the request to it, a request above the default limit
    raises the limit. Kubernetes refuses a request above its limit."""
    res = {**DEFAULT_RESOURCES, **given}
    for kind in ("cpu", "memory"):
        request, limit = f"{kind}_request", f"{kind}_limit"
        if quantity(kind, res[request]) > quantity(kind, res[limit]):
            if request not in given:
                res[request] = res[limit]
            elif limit not in given:
                res[limit] = res[request]
    return res


def quantity(kind: str, text: str) -> float:
    """A Kubernetes quantity as the schema allows it: CPU in cores ('0.5', '250m'), memory in bytes."""
    if kind == "cpu":
        return derive.cpu_cores(text)
    try:
        return float(derive.memory_bytes(text))
    except ValueError:
        return float("nan")


def _name_ports(svc: dict[str, Any]) -> None:
    """Each port says what it speaks (derive.app_protocol) and is named after it: `http`, `smtp-25`, `udp-10000`.
    A port the declared healthcheck sends HTTP requests to speaks HTTP, whatever its number suggests."""
    used: set[str] = {p["name"] for p in svc["ports"] if "name" in p}
    probed = {p.get("port") for p in (svc.get("health") or {}).values() if isinstance(p, dict) and p.get("type") == "http"}
    for port in svc["ports"]:
        _fill(port, "portSpec", ("protocol",))
        if port["port"] in probed and port["protocol"] == "TCP":
            port.setdefault("app_protocol", "http")
        port.setdefault("app_protocol", derive.app_protocol(port, svc["kind"]))
        if "name" not in port:
            port["name"] = derive.port_name(port["app_protocol"], port["port"], used)
            used.add(port["name"])


# Frameworks that already serve a health endpoint of their own, at a fixed path.
FRAMEWORK_HEALTH_PATHS = {"streamlit": "/_stcore/health"}


def _default_probes(
    kind: str, port: int | None, framework: str | None = None, speaks_http: bool = True, built: bool = True
) -> dict[str, dict[str, Any]]:
    """Probes when the compose file declared none: HTTP only on a port that speaks HTTP, TCP on another TCP
    port, the heartbeat checker only in an image we build (it ships in that image), else none."""
    none = {name: {"type": "none"} for name in ("liveness", "readiness", "startup")}
    if kind == "cron":
        return none
    if kind == "worker" or port is None:
        if not built:
            return none  # a third-party image has no heartbeat checker, and may have no shell
        return {name: {"type": "exec", "command": [*WORKER_PROBE_COMMAND, name]} for name in ("liveness", "readiness", "startup")}
    if not speaks_http or (not built and framework not in FRAMEWORK_HEALTH_PATHS):
        # A third-party image serves no /health/live of ours: that it accepts connections is what we know.
        return {name: {"type": "tcp", "port": port} for name in ("liveness", "readiness", "startup")}
    if kind in HTTP_KINDS and framework in FRAMEWORK_HEALTH_PATHS:
        path = FRAMEWORK_HEALTH_PATHS[framework]
        return {name: {"type": "http", "path": path, "port": port} for name in ("liveness", "readiness", "startup")}
    if kind in HTTP_KINDS:
        return {
            "liveness": {"type": "http", "path": "/health/live", "port": port},
            "readiness": {"type": "http", "path": "/health/ready", "port": port},
            "startup": {"type": "http", "path": "/health/live", "port": port},
        }
    return {name: {"type": "tcp", "port": port} for name in ("liveness", "readiness", "startup")}


# ---------------------------------------------------------------------------- cross-references


def check_references(arch: Architecture, source: str = "architecture") -> None:
    """What JSON Schema cannot express: unique names and ids, known dependencies, declared ports."""
    _check_plane(arch, source)
    owners: dict[str, str] = {}
    ids: dict[str, str] = {}
    for group in ("services", "datastores"):
        for item in arch[group]:
            name, ident = item["name"], item["id"]
            if name in owners:
                raise ModelError(f"{source}: {group}: '{name}' is defined twice")
            if not is_dns_label(ident):
                raise ModelError(f"{source}: {group}: '{name}' cannot be mapped to a DNS-1123 name (got '{ident}')")
            if ident in ids:
                raise ModelError(
                    f"{source}: {group}: '{name}' and '{ids[ident]}' both map to the Kubernetes name '{ident}'; rename one"
                )
            owners[name], ids[ident] = group, name
    network_names = {n["name"] for n in arch["networks"]}
    for what, item in [("service", s) for s in arch["services"]] + [("datastore", d) for d in arch["datastores"]]:
        for dep in item.get("depends_on", []):
            if dep == item["name"]:
                raise ModelError(f"{source}: {what} '{item['name']}' depends on itself")
            if dep not in owners:
                raise ModelError(f"{source}: {what} '{item['name']}' depends on '{dep}', which is not a service or datastore")
    for svc in arch["services"]:
        name = svc["name"]
        if svc["kind"] in LISTENING_KINDS and not svc["ports"]:
            raise ModelError(f"{source}: service '{name}' is of kind {svc['kind']} but declares no port")
        for kind in ("cpu", "memory"):
            request, limit = svc["resources"][f"{kind}_request"], svc["resources"][f"{kind}_limit"]
            if quantity(kind, request) > quantity(kind, limit):
                raise ModelError(f"{source}: service '{name}': resources: {kind}_request {request} is above "
                                 f"{kind}_limit {limit}, which Kubernetes refuses")
            if quantity(kind, limit) <= 0:
                raise ModelError(f"{source}: service '{name}': resources: {kind}_limit {limit} must be above 0")
        port_names = [p["name"] for p in svc["ports"]]
        if len(set(port_names)) != len(port_names):
            raise ModelError(f"{source}: service '{name}' has two ports with the same name")
        for probe_name in ("liveness", "readiness", "startup"):
            probe = svc["health"][probe_name]
            if probe["type"] == "exec" and not probe.get("command"):
                raise ModelError(f"{source}: service '{name}': {probe_name} probe of type exec needs a command")
            if probe["type"] in ("http", "tcp") and "port" not in probe:
                raise ModelError(f"{source}: service '{name}': {probe_name} probe needs a port")
    for item in [*arch["services"], *arch["datastores"]]:
        addresses = [(f"static_ips.{net}", ip) for net, ip in item["static_ips"].items()]
        addresses += [(f"ports: {p['port']} host_ip", p["host_ip"]) for p in item.get("ports", []) if "host_ip" in p]
        for field, address in addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ModelError(f"{source}: '{item['name']}': {field}: {address!r} is not an IPv4 or IPv6 address") from None
        for net in item["networks"]:
            if network_names and net not in network_names:
                raise ModelError(f"{source}: '{item['name']}' is attached to network '{net}', which is not declared")


def _check_plane(arch: Architecture, source: str) -> None:
    """Text beyond U+FFFF (emoji, rare scripts) is refused: blueprints serialise text with JSON escapes,
    and those characters become surrogate-pair escapes that YAML readers reject."""
    texts = [("project.name", arch["project"].get("name", "")), ("project.description", arch["project"].get("description", "")),
             ("project.owner", arch["project"].get("owner", "")), ("project.repository", arch["project"].get("repository", ""))]
    texts += [(f"services[{i}].description", s.get("description", "")) for i, s in enumerate(arch["services"])]
    texts += [(f"facts[{i}].detail", f.get("detail", "")) for i, f in enumerate(arch["facts"])]
    for field, text in texts:
        wide = next((c for c in text if ord(c) > 0xFFFF), None)
        if wide:
            raise ModelError(f"{source}: {field}: the character U+{ord(wide):X} is outside the Basic Multilingual Plane, "
                             "which generated YAML cannot carry escaped; use another character")


# ---------------------------------------------------------------------------- writing


def dump(arch: Architecture, schema_ref: str = SCHEMA_URL) -> str:
    """architecture.yaml text: a schema line for editors, then the model in a stable key order."""
    ordered = _ordered(arch, schema())
    body = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    if yaml.safe_load(body) != ordered:  # e.g. U+0085 is a line break to YAML: escape everything instead
        body = yaml.safe_dump(ordered, sort_keys=False, allow_unicode=False, default_flow_style=False, width=100)
    return f"# yaml-language-server: $schema={schema_ref}\n{body}"


def _ordered(value: Any, node: dict[str, Any]) -> Any:
    """Keys in the order the schema lists them (name and id first), so diffs stay small and readable."""
    if "$ref" in node:
        node = schema()["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if isinstance(value, dict):
        props = node.get("properties", {})
        order = {key: index for index, key in enumerate(props)}
        keys = sorted(value, key=lambda k: (order.get(k, len(order)), k))
        extra = node.get("additionalProperties")
        return {k: _ordered(value[k], props.get(k, extra if isinstance(extra, dict) else {})) for k in keys}
    if isinstance(value, list):
        return [_ordered(item, node.get("items", {})) for item in value]
    return value


def ordered_service(entry: dict[str, Any]) -> dict[str, Any]:
    """One service's keys in the schema's order, as dump writes them."""
    ordered: dict[str, Any] = _ordered(entry, schema()["$defs"]["service"])
    return ordered


def services_by_name(arch: Architecture) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in arch["services"]}
