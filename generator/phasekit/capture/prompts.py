"""The interactive capture flow. The questions live here; how they are asked is an `Asker`.

`QuestionaryAsker` asks in a terminal; tests pass a `ScriptedAsker` with the answers, so the flow is tested
without a terminal (and once through a real one, see tests/capture/test_prompts_terminal.py).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from .. import model
from ..errors import ModelError, PhasekitError

Validator = Callable[[str], "bool | str"]
# The choices are the schema's enums (one source: schemas/architecture.schema.json).
KINDS = model.schema_enum("service", "kind")
LANGUAGES = model.schema_enum("service", "language")
ENGINES = model.schema_enum("datastore", "engine")
ZONES = model.schema_enum("service", "zone")
SERVICE_DEFAULTS = model.schema_defaults("service")


class Cancelled(PhasekitError):
    """Ctrl-C (or Ctrl-D) at a question: nothing is written; exit 130 as for any interrupted command."""

    exit_code = 130


class Asker(Protocol):
    def note(self, message: str) -> None: ...
    def text(self, message: str, default: str = "", validate: Validator | None = None) -> str: ...
    def select(self, message: str, choices: list[str], default: str | None = None) -> str: ...
    def confirm(self, message: str, default: bool = True) -> bool: ...
    def checkbox(self, message: str, choices: list[str], default: list[str] | None = None) -> list[str]: ...


class QuestionaryAsker:
    """Asks in the terminal; Ctrl-C or Ctrl-D aborts (exit 130) without writing anything."""

    def _ask(self, question: Any) -> Any:
        try:
            answer = question.unsafe_ask()
        except (KeyboardInterrupt, EOFError):
            raise Cancelled("capture cancelled; nothing written") from None
        if answer is None:
            raise Cancelled("capture cancelled; nothing written")
        return answer

    def note(self, message: str) -> None:
        import click

        click.echo(message, err=True)

    def text(self, message: str, default: str = "", validate: Validator | None = None) -> str:
        import questionary

        return str(self._ask(questionary.text(message, default=default, validate=validate or (lambda _: True))))

    def select(self, message: str, choices: list[str], default: str | None = None) -> str:
        import questionary

        return str(self._ask(questionary.select(message, choices=choices, default=default)))

    def confirm(self, message: str, default: bool = True) -> bool:
        import questionary

        return bool(self._ask(questionary.confirm(message, default=default)))

    def checkbox(self, message: str, choices: list[str], default: list[str] | None = None) -> list[str]:
        import questionary

        options = [questionary.Choice(c, checked=c in (default or [])) for c in choices]
        return [str(c) for c in self._ask(questionary.checkbox(message, choices=options))]


class ScriptedAsker:
    """Answers from a list, in order; an answer of None takes the question's default. Validators still run."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers = deque(answers)
        self.asked: list[str] = []
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)

    def _next(self, message: str, default: Any) -> Any:
        self.asked.append(message)
        if not self.answers:
            raise AssertionError(f"no scripted answer left for: {message}")
        answer = self.answers.popleft()
        return default if answer is None else answer

    def text(self, message: str, default: str = "", validate: Validator | None = None) -> str:
        answer = str(self._next(message, default))
        verdict = validate(answer) if validate else True
        if verdict is not True:
            raise AssertionError(f"{message}: {answer!r} rejected: {verdict}")
        return answer

    def select(self, message: str, choices: list[str], default: str | None = None) -> str:
        answer = self._next(message, default)
        if answer not in choices:
            raise AssertionError(f"{message}: {answer!r} is not one of {choices}")
        return str(answer)

    def confirm(self, message: str, default: bool = True) -> bool:
        return bool(self._next(message, default))

    def checkbox(self, message: str, choices: list[str], default: list[str] | None = None) -> list[str]:
        answer = self._next(message, default or [])
        if not set(answer) <= set(choices):
            raise AssertionError(f"{message}: {answer!r} not within {choices}")
        return list(answer)


# ---------------------------------------------------------------------------- validators


def valid_name(taken: set[str]) -> Validator:
    def check(value: str) -> bool | str:
        if not model.is_name(value):
            return "letters, digits, '_', '.', '-'; start with a letter or digit; at most 63 characters"
        if model.dns_id(value) in {model.dns_id(t) for t in taken}:
            return f"'{value}' is taken (names must differ after mapping to DNS-1123)"
        return True

    return check


def parse_ports(value: str) -> list[dict[str, Any]]:
    """'8080, 9000/udp' -> port specs; ValueError with a reason on bad input."""
    ports = []
    for item in filter(None, (part.strip() for part in value.split(","))):
        number, _, protocol = item.partition("/")
        if not number.isdigit() or not 1 <= int(number) <= 65535:
            raise ValueError(f"'{item}': a port is a number from 1 to 65535")
        if protocol and protocol.lower() not in ("tcp", "udp"):
            raise ValueError(f"'{item}': protocol is tcp or udp")
        ports.append({"port": int(number), "protocol": (protocol or "tcp").upper()})
    return ports


def _ports_ok(value: str) -> bool | str:
    try:
        parse_ports(value)
    except ValueError as exc:
        return str(exc)
    return True


def _int_between(low: int, high: int) -> Validator:
    def check(value: str) -> bool | str:
        return (value.isdigit() and low <= int(value) <= high) or f"a whole number from {low} to {high}"

    return check


def _path_ok(value: str) -> bool | str:
    return bool(re.match(r"^/\S*$", value)) or "a path starting with '/', without spaces"


def _environments_ok(value: str) -> bool | str:
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        return "at least one environment"
    bad = [n for n in names if not model.is_dns_label(n)]
    return not bad or f"not a DNS-1123 label: {', '.join(bad)}"


# ---------------------------------------------------------------------------- the flow


def run(detected: dict[str, Any], ask: Asker) -> dict[str, Any]:
    """Walk through the detected architecture, let the user correct and extend it; return it validated.

    Everything detected can be accepted with one answer; only services added by hand (or, when the user
    declines, every service) are asked about one by one.
    """
    arch = {k: v for k, v in detected.items()}
    arch["project"] = dict(detected.get("project") or {"name": "system"})
    arch["project"]["name"] = ask.text("Project name", arch["project"]["name"], lambda v: bool(v.strip()) or "required")
    arch["project"].pop("id", None)
    found, found_stores = list(detected.get("services", [])), list(detected.get("datastores", []))
    accepted = bool(found or found_stores) and ask.confirm(
        f"Accept {_count(found, 'service')} ({_names(found)}) and {_count(found_stores, 'datastore')}"
        f"{f' ({_names(found_stores)})' if found_stores else ''} as they are, without questions per service?", True)
    if accepted:
        services, stores = found, found_stores
    else:
        services = [svc for svc in found
                    if ask.confirm(f"Keep service '{svc['name']}' ({svc.get('kind', 'http')}, {svc.get('language', 'unknown')})?", True)]
        stores = [s for s in found_stores if ask.confirm(f"Keep datastore '{s['name']}' ({s['engine']})?", True)]
    as_found = {id(svc) for svc in services} if accepted else set()
    while ask.confirm("Add a service?", not services):
        taken = {s["name"] for s in [*services, *stores]}
        name = ask.text("Service name", "", valid_name(taken))
        services.append({"name": name})
    while ask.confirm("Add a datastore?", False):
        taken = {s["name"] for s in [*services, *stores]}
        name = ask.text("Datastore name", "", valid_name(taken))
        stores.append({"name": name, "engine": ask.select(f"Engine of '{name}'", ENGINES, "postgres")})
    peers = [s["name"] for s in [*services, *stores]]
    arch["services"] = [svc if id(svc) in as_found else _service(svc, ask, [p for p in peers if p != svc["name"]])
                        for svc in services]
    arch["datastores"] = stores
    environments = detected.get("environments") or model.schema_defaults("architecture")["environments"]
    envs = ask.text("Environments, in promotion order", ", ".join(environments), _environments_ok)
    arch["environments"] = [e.strip() for e in envs.split(",") if e.strip()]
    targets = dict(detected.get("targets") or {})
    defaults = model.DEFAULT_TARGETS
    targets["runtime"] = ask.select("Where does it run today?", model.schema_enum("targets", "runtime"),
                                    targets.get("runtime", defaults["runtime"]))
    targets["terraform_provider"] = ask.select("Terraform provider", model.schema_enum("targets", "terraform_provider"),
                                               targets.get("terraform_provider", defaults["terraform_provider"]))
    targets["registry"] = ask.text("Container registry", targets.get("registry", defaults["registry"]),
                                   lambda v: bool(re.match(r"^[a-z0-9.-]+(:\d+)?(/[a-z0-9._-]+)*$", v)) or "e.g. ghcr.io/org")
    arch["targets"] = targets
    # Facts about services the user dropped no longer apply.
    detected_names = {s["name"] for s in [*found, *found_stores]}
    dropped = detected_names - {s["name"] for s in [*arch["services"], *stores]}
    arch["facts"] = [f for f in detected.get("facts", []) if f["subject"] not in dropped]
    for svc in arch["services"]:  # a dropped peer is no longer a dependency
        if svc.get("depends_on"):
            svc["depends_on"] = [d for d in svc["depends_on"] if d in peers]
    try:
        return model.validate(_strip_derived(arch), "answers")
    except ModelError as exc:
        raise PhasekitError(f"the answers do not form a valid architecture: {exc}") from None


def starting_point(existing: dict[str, Any] | None, detected: dict[str, Any]) -> dict[str, Any]:
    """Re-capture starts from the architecture already written: its entries (with the user's edits) win,
    what detection finds that it lacks is added, and its facts stay for entries detection did not see."""
    if not existing:
        return detected
    merged = {k: v for k, v in existing.items()}
    for group in ("services", "datastores"):
        have = {item["name"] for item in existing.get(group, [])}
        merged[group] = [*existing.get(group, []), *(item for item in detected.get(group, []) if item["name"] not in have)]
    seen = {item["name"] for group in ("services", "datastores") for item in detected.get(group, [])}
    merged["facts"] = [*detected.get("facts", []), *(f for f in existing.get("facts", []) if f.get("subject") not in seen)]
    return merged


def review(arch: dict[str, Any]) -> str:
    """What is about to be written, one line per service: the last look before writing."""
    lines = [f"project {arch['project']['name']}: {_count(arch['services'], 'service')}, "
             f"{_count(arch['datastores'], 'datastore')}, {len(arch.get('facts', []))} facts"]
    width = max((len(s["name"]) for s in arch["services"]), default=0)
    for svc in arch["services"]:
        ports = ", ".join(f"{p['port']}/{p.get('protocol', 'TCP').lower()}" for p in svc.get("ports", [])) or "no ports"
        deps = ", ".join(svc.get("depends_on", [])) or "-"
        lines.append(f"  {svc['name']:<{width}}  {svc['kind']:<7} {svc.get('language', 'unknown'):<8} {ports:<18} "
                     f"{svc.get('zone', 'private'):<7} x{svc.get('replicas', 1)}  depends on: {deps}")
    for store in arch["datastores"]:
        lines.append(f"  {store['name']:<{width}}  {store['engine']} (datastore)")
    targets = arch.get("targets", {})
    lines.append(f"environments {', '.join(arch['environments'])}; runs on {targets.get('runtime')}; "
                 f"terraform {targets.get('terraform_provider')}; registry {targets.get('registry')}")
    return "\n".join(lines)


def _count(items: list[Any], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _names(items: list[dict[str, Any]], most: int = 6) -> str:
    names = [item["name"] for item in items]
    return ", ".join(names[:most]) + (f", … {len(names) - most} more" if len(names) > most else "")


def _service(svc: dict[str, Any], ask: Asker, peers: list[str]) -> dict[str, Any]:
    name = svc["name"]
    out = dict(svc)
    out["kind"] = ask.select(f"[{name}] kind", KINDS, svc.get("kind", SERVICE_DEFAULTS["kind"]))
    out["language"] = ask.select(f"[{name}] language", LANGUAGES, svc.get("language", SERVICE_DEFAULTS["language"]))
    current = ", ".join(f"{p['port']}/{p.get('protocol', 'TCP').lower()}" for p in svc.get("ports", []))
    wanted = parse_ports(ask.text(f"[{name}] ports it listens on (e.g. 8080, 9000/udp)", current, _ports_ok))
    old = {(p["port"], p.get("protocol", "TCP")): p for p in svc.get("ports", [])}
    out["ports"] = [{**old.get((p["port"], p["protocol"]), {}), **p} for p in wanted]
    for p in out["ports"]:
        p.pop("name", None)
    health = dict(svc.get("health") or {})
    if out["kind"] in ("http", "gateway", "static") and out["ports"]:
        port = out["ports"][0]["port"]
        for probe, default in (("liveness", "/health/live"), ("readiness", "/health/ready"), ("startup", "/health/live")):
            current_probe = health.get(probe) or {}
            path = ask.text(f"[{name}] {probe} endpoint", current_probe.get("path", default), _path_ok)
            health[probe] = {**current_probe, "type": "http", "path": path, "port": current_probe.get("port", port)}
    elif out["kind"] != (svc.get("kind") or out["kind"]):
        health = {}  # the kind changed: let the model propose probes for the new kind
    out["health"] = health
    out["replicas"] = int(ask.text(f"[{name}] replicas", str(svc.get("replicas", SERVICE_DEFAULTS["replicas"])),
                                   _int_between(0, 1000)))
    out["zone"] = ask.select(f"[{name}] network zone", ZONES, svc.get("zone", SERVICE_DEFAULTS["zone"]))
    # An empty checkbox cannot be drawn (questionary fails on no choices): with no peer there is nothing to ask.
    out["depends_on"] = (ask.checkbox(f"[{name}] depends on", peers, [d for d in svc.get("depends_on", []) if d in peers])
                         if peers else [])
    return out


def _strip_derived(arch: dict[str, Any]) -> dict[str, Any]:
    """Drop fields normalise() derives, so an edited name gets a fresh id and probes follow port changes."""
    for svc in arch["services"]:
        svc.pop("id", None)
        for probe in ("liveness", "readiness", "startup"):
            p = svc.get("health", {}).get(probe)
            if p and p.get("type") in ("http", "tcp") and svc["ports"] and p.get("port") not in {x["port"] for x in svc["ports"]}:
                p["port"] = svc["ports"][0]["port"]
        if not svc.get("health"):
            svc.pop("health", None)
    return arch
