"""Contract rules 1-7 and 9 for one compose service in one rendered environment: each loss is one line."""

from __future__ import annotations

import re
import shlex
from typing import Any

from . import chart_side as cs
from .compose_side import Mount, Port, Service

# Ports whose well-known protocol is not HTTP: an httpGet probe there can never succeed.
NOT_HTTP = {
    21: "ftp", 22: "ssh", 25: "smtp", 53: "dns", 110: "pop3", 143: "imap", 389: "ldap", 465: "smtps",
    587: "smtp submission", 636: "ldaps", 993: "imaps", 995: "pop3s", 1883: "mqtt", 2181: "zookeeper",
    3306: "mysql", 4222: "nats", 5044: "beats", 5432: "postgres", 5672: "amqp", 6379: "redis", 8883: "mqtts",
    9042: "cassandra", 9092: "kafka", 11211: "memcached", 27017: "mongodb",
}
LOCAL_HOSTS = r"localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\]"


def local_http(own_name: str = "") -> re.Pattern[str]:
    """A request a container sends to itself: to loopback, or to its own compose service name."""
    hosts = LOCAL_HOSTS + (f"|{re.escape(own_name)}" if own_name else "")
    return re.compile(rf"https?://(?:{hosts})(?=[:/'\"\s]|$)(?::(\d+))?(/[^\s'\"]*)?")


PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
COMPOSE_REF = re.compile(r"\$\{(\w+)(?:[:?+-][^}]*)?\}|\$(\w+)")
K8S_REF = re.compile(r"\$\((\w+)\)")
SHELL_REF = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def _words(argv: list[str] | None) -> str:
    return "[" + " ".join(argv or []) + "]"


def losses(svc: Service, rendered: cs.Rendered) -> tuple[list[str], list[str]]:
    """(losses, notes) of svc in this environment; every line starts with the compose service name."""
    workloads = rendered.workloads(svc.id)
    if not workloads:
        if rendered.external(svc.id, svc.name):
            return [], [f"{svc.name}: declared external (ExternalName Service)"]
        what = f"image {svc.image}" if svc.image and not svc.build else "built image"
        return [f"{svc.name}: no workload runs it ({what}; no Deployment/StatefulSet/Job/CronJob labelled "
                f"{cs.NAME_LABEL}={svc.id}, and no external ExternalName Service)"], []
    if len(workloads) > 1:
        kinds = ", ".join(f"{w['kind']} {w['metadata'].get('name')}" for w in workloads)
        return [f"{svc.name}: {len(workloads)} workloads run it ({kinds}); expected exactly one"], []
    workload = workloads[0]
    container = cs.main_container(workload, svc.id, svc.name)
    out: list[str] = []
    notes: list[str] = []
    out += _kind(svc, workload)
    out += _image(svc, container)
    out += _command(svc, container)
    vol_losses, vol_notes = _volumes(svc, workload, container, rendered)
    out += vol_losses
    notes += vol_notes
    out += _ports(svc, rendered, workload, container)
    out += _probes(svc, container)
    out += _scaling(svc, rendered, workload)
    return out, notes


def _kind(svc: Service, workload: dict[str, Any]) -> list[str]:
    kind = workload["kind"]
    expected: tuple[str, ...]
    if svc.scheduled:
        expected, why = ("CronJob",), "scheduled"
    elif svc.one_shot:
        expected, why = ("Job",), "one-shot (restart: no)"
    else:
        expected, why = ("Deployment", "StatefulSet"), "long-running"
    if kind in expected:
        return []
    return [f"{svc.name}: {why} service runs as a {kind}, expected {' or '.join(expected)}"]


def same_image(compose: str, rendered: str | None) -> bool:
    """The image compose runs: the same reference, or, where compose names no version (or `latest`), the same
    repository pinned to one (what the chart and Terraform require before they deploy it)."""
    if rendered is None:
        return False
    if rendered == compose:
        return True
    ref = compose.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    unpinned = "@" not in compose and (":" not in last or last.endswith(":latest"))
    repository = ref[: len(ref) - len(last)] + last.split(":", 1)[0]
    pinned = rendered.split("@", 1)[0]
    return unpinned and (pinned.rsplit(":", 1)[0] if ":" in pinned.rsplit("/", 1)[-1] else pinned) == repository


def _image(svc: Service, container: dict[str, Any]) -> list[str]:
    if svc.build or not svc.image or same_image(svc.image, container.get("image")):
        return []
    return [f"{svc.name}: image {svc.image} became {container.get('image')}"]


def _expand(argv: list[str], env: dict[str, str], *patterns: re.Pattern[str]) -> list[str]:
    """argv with the variable references the container resolves replaced by compose's values for them."""
    def value(m: re.Match[str]) -> str:
        return env.get(next(g for g in m.groups() if g), m.group(0))

    for pattern in patterns:
        argv = [pattern.sub(value, a) for a in argv]
    return argv


def same_argv(got: list[str] | None, value: list[str] | None, written: list[str] | None, env: dict[str, str]) -> bool:
    """The same words, or compose's ${VAR} kept as Kubernetes' $(VAR), or references to the service's own
    environment that hold compose's values."""
    if got == value or got is None or value is None:
        return got == value
    as_refs = [COMPOSE_REF.sub(lambda m: f"$({m.group(1) or m.group(2)})", a) for a in written or []]
    return got == as_refs or _expand(got, env, K8S_REF) == value


def _command(svc: Service, container: dict[str, Any]) -> list[str]:
    out = []
    for compose_key, value, k8s_key in (("entrypoint", svc.entrypoint, "command"), ("command", svc.command, "args")):
        got = container.get(k8s_key) or None
        if same_argv(got, value, svc.written.get(compose_key), svc.environment):
            continue
        if value is None:
            out.append(f"{svc.name}: container {k8s_key} {_words(got)} is set, compose has no {compose_key}")
        elif got is None:
            out.append(f"{svc.name}: {compose_key} {_words(value)} dropped (container has no {k8s_key})")
        else:
            out.append(f"{svc.name}: {compose_key} {_words(value)} became container {k8s_key} {_words(got)}")
    return out


def _volume_source(workload: dict[str, Any], name: str) -> tuple[str, dict[str, Any]]:
    """The kind of the pod volume called name: pvc, emptyDir, configMap, secret, projected, hostPath, ..."""
    if workload["kind"] == "StatefulSet":
        claims = (workload.get("spec") or {}).get("volumeClaimTemplates") or []
        if any((c.get("metadata") or {}).get("name") == name for c in claims):
            return "persistentVolumeClaim", {}
    for vol in cs.pod_spec(workload).get("volumes") or []:
        if vol.get("name") == name:
            kind = next((k for k in vol if k != "name"), "unknown")
            return kind, vol.get(kind) or {}
    return "missing", {}


def _is_config(kind: str, body: dict[str, Any]) -> bool:
    if kind in ("configMap", "secret"):
        return True
    return kind == "projected" and all(set(s) <= {"configMap", "secret"} for s in body.get("sources") or [{}])


def _volumes(svc: Service, workload: dict[str, Any], container: dict[str, Any],
             rendered: cs.Rendered) -> tuple[list[str], list[str]]:
    mounts = {m.get("mountPath"): m for m in container.get("volumeMounts") or []}
    acknowledged = {t.strip() for t in cs.metadata_annotations(workload).get("phasekit.dev/not-portable", "").split(",")}
    out: list[str] = []
    notes: list[str] = []
    for m in svc.mounts:
        if m.kind == "source":
            notes.append(f"{svc.name}: source folder {m.source} at {m.target} is the built image's own code")
            continue
        if m.target in acknowledged and m.source.startswith("/"):
            # a path of the machine (outside the compose project) that the workload says it cannot have
            notes.append(f"{svc.name}: host path {m.source} at {m.target} acknowledged as not portable")
            continue
        if m.kind == "host":
            out.append(f"{svc.name}: host path {m.source} at {m.target} dropped without a "
                       f"phasekit.dev/not-portable annotation")
            continue
        mount = mounts.get(m.target)
        kind, body = _volume_source(workload, mount["name"]) if mount else ("missing", {})
        loss = _mount_loss(m, mount, kind, body)
        if not loss and body.get("claimName") and body["claimName"] not in rendered.claims:
            loss = f"data volume {m.target} is on claim {body['claimName']}, which the chart does not create"
        if loss:
            out.append(f"{svc.name}: {loss}")
    return out, notes


def claim_of(svc: Service, rendered: cs.Rendered, target: str) -> str | None:
    """The PersistentVolumeClaim a mount of svc is on: a claimName, or a per-pod volumeClaimTemplate (never shared)."""
    workloads = rendered.workloads(svc.id)
    if len(workloads) != 1:
        return None
    container = cs.main_container(workloads[0], svc.id, svc.name)
    mount = next((m for m in container.get("volumeMounts") or [] if m.get("mountPath") == target), None)
    if mount is None:
        return None
    kind, body = _volume_source(workloads[0], mount["name"])
    if kind != "persistentVolumeClaim":
        return None
    return body.get("claimName") or f"{workloads[0]['metadata'].get('name')}/{mount['name']} (one per pod)"


def shared_data(services: list[Service], rendered: cs.Rendered) -> dict[str, list[str]]:
    """Services that mount one compose volume (named, or the same folder) must share its claim here too: two
    claims would give each its own empty copy (a writer and a reader that no longer see each other's files)."""
    users: dict[str, list[tuple[Service, str]]] = {}
    for svc in services:
        for m in svc.mounts:
            if m.kind == "data" and m.source:
                users.setdefault(m.source, []).append((svc, m.target))
    out: dict[str, list[str]] = {svc.name: [] for svc in services}
    for source, mounts in sorted(users.items()):
        claims = {(svc.name, target): claim_of(svc, rendered, target) for svc, target in mounts}
        if len({svc.name for svc, _ in mounts}) < 2 or len(set(claims.values())) < 2 or None in claims.values():
            continue  # not shared, shared alike, or a loss the per-service rules already name
        for (name, target), claim in claims.items():
            others = sorted({f"{n} ({c})" for (n, _), c in claims.items() if n != name and c != claim})
            out[name].append(f"data volume {target} (from {source}) is shared in compose with {', '.join(others)}, "
                             f"but here it is on its own claim {claim}")
    return out


def _mount_loss(m: Mount, mount: dict[str, Any] | None, kind: str, body: dict[str, Any]) -> str:
    label = {"data": "data volume", "config": "config file" if m.file else "config folder", "tmpfs": "tmpfs"}[m.kind]
    origin = f" (from {m.source})" if m.source else ""
    if mount is None:
        return f"{label} {m.target}{origin} is not mounted"
    if m.kind == "data" and kind != "persistentVolumeClaim":
        return f"{label} {m.target}{origin} is on {kind}, not a PersistentVolumeClaim"
    if m.kind == "config":
        if not _is_config(kind, body):
            return f"{label} {m.target}{origin} is on {kind}, not a ConfigMap or Secret"
        if m.file and not mount.get("subPath"):
            return f"{label} {m.target}{origin} is mounted without subPath (it becomes a folder)"
    if m.kind == "tmpfs" and kind != "emptyDir":
        return f"{label} {m.target} is on {kind}, not an emptyDir"
    return ""


def _ports(svc: Service, rendered: cs.Rendered, workload: dict[str, Any], container: dict[str, Any]) -> list[str]:
    declared = cs.container_ports(container)
    services = rendered.services_selecting(cs.pod_labels(workload))
    out = []
    for port in svc.ports:
        protocols = {proto for _, num, proto in declared if num == port.number}
        if port.protocol not in protocols:
            got = f"is a containerPort with protocol {'/'.join(sorted(protocols))}" if protocols else "is not a containerPort"
            out.append(f"{svc.name}: port {port} {got}")
        elif not any(_service_reaches(s, port, declared) for s in services):
            out.append(f"{svc.name}: port {port} has no Service selecting the pods")
    return out


def _service_reaches(service: dict[str, Any], port: Port, declared: tuple[tuple[str, int, str], ...]) -> bool:
    for sp in (service.get("spec") or {}).get("ports") or []:
        if str(sp.get("protocol") or "TCP").upper() != port.protocol:
            continue
        target = sp.get("targetPort", sp.get("port"))
        if resolve(target, declared, port.protocol) == port.number:
            return True
    return False


def resolve(port: Any, declared: tuple[tuple[str, int, str], ...], protocol: str | None = None) -> int | None:
    """A port number or a containerPort name -> the number (None when the name is unknown)."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    return next((num for name, num, proto in declared if name == port and protocol in (None, proto)), None)


def _probes(svc: Service, container: dict[str, Any]) -> list[str]:
    declared = cs.container_ports(container)
    out = []
    for key in PROBES:
        probe = container.get(key)
        if not probe:
            continue
        handler = next((h for h in ("httpGet", "tcpSocket", "grpc") if h in probe), None)
        if handler is None:
            continue
        raw = probe[handler].get("port")
        number = resolve(raw, declared)
        protocols = {proto for _, num, proto in declared if num == number}
        what = f"{key} {handler} on port {raw}"
        if number is None or not protocols:
            out.append(f"{svc.name}: {what} is not a containerPort")
        elif "TCP" not in protocols:
            out.append(f"{svc.name}: {what}, a {'/'.join(sorted(protocols))} port")
        elif handler == "httpGet" and number in NOT_HTTP:
            out.append(f"{svc.name}: {what}, which speaks {NOT_HTTP[number]}, not HTTP")
    if svc.healthcheck:
        probe = container.get("livenessProbe") or {}
        written = svc.written.get("healthcheck")
        follows = _follows(svc.healthcheck, probe, declared, svc.environment, svc.name) or bool(
            written and _follows(written, probe, declared, {}, svc.name))
        if not follows:
            got = container.get("livenessProbe")
            out.append(f"{svc.name}: liveness probe does not follow the compose healthcheck "
                       f"{_words(svc.healthcheck)} (got {_describe(got)})")
    return out


def _follows(test: list[str], probe: dict[str, Any], declared: tuple[tuple[str, int, str], ...],
             env: dict[str, str], own_name: str = "") -> bool:
    """The probe runs the compose healthcheck: the same command (a credential may be a reference to the
    service's environment), or the same local HTTP request."""
    kind, args = test[0], test[1:]
    shell = " ".join(args) if kind == "CMD-SHELL" else shlex.join(args)
    command = (probe.get("exec") or {}).get("command")
    if command:
        command = _expand(command, env, K8S_REF, SHELL_REF) if env else command
        accepted = [args] if kind == "CMD" else [["/bin/sh", "-c", shell], ["sh", "-c", shell]]
        if kind == "CMD-SHELL" and not re.search(r"[|&;<>()$`\\\"'*?]", shell):
            accepted.append(shell.split())
        return command in accepted
    http = local_http(own_name).search(shell)
    get = probe.get("httpGet")
    if http and get:
        port = int(http.group(1) or (443 if shell[http.start():].startswith("https") else 80))
        return resolve(get.get("port"), declared) == port and (get.get("path") or "/") == (http.group(2) or "/")
    return False


def _describe(probe: dict[str, Any] | None) -> str:
    if not probe:
        return "no liveness probe"
    if "exec" in probe:
        return f"exec {_words(probe['exec'].get('command'))}"
    if "httpGet" in probe:
        return f"httpGet {probe['httpGet'].get('path', '/')} on port {probe['httpGet'].get('port')}"
    handler = next((h for h in probe if h in ("tcpSocket", "grpc")), "probe")
    return f"{handler} on port {(probe.get(handler) or {}).get('port')}"


def _scaling(svc: Service, rendered: cs.Rendered, workload: dict[str, Any]) -> list[str]:
    if svc.scalable or not (svc.has_data or svc.one_shot or svc.scheduled):
        return []
    why = "has data volumes" if svc.has_data else "is scheduled" if svc.scheduled else "is one-shot"
    out = [f"{svc.name}: {why} but HorizontalPodAutoscaler {(h.get('metadata') or {}).get('name')} scales it "
           f"(max {(h.get('spec') or {}).get('maxReplicas')})" for h in rendered.autoscalers(workload)]
    replicas = (workload.get("spec") or {}).get("replicas", 1)
    if workload["kind"] in ("Deployment", "StatefulSet") and isinstance(replicas, int) and replicas > 1:
        out.append(f"{svc.name}: {why} but runs {replicas} replicas")
    return out
