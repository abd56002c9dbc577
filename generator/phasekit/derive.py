"""Facts every deployment target needs, derived once from the model (not again in each template).

`normalise` calls these for every service and its ports, after the schema's defaults are filled, and only
fills what architecture.yaml leaves out: a `workload`, `scalable` or port `app_protocol` written in the file is
the team's decision and wins. (The `monitoring` blocks are monitoring_model's, and always derived.)
The blueprints read the result as plain fields of the `architecture` answer.
"""

from __future__ import annotations

import re
from typing import Any

# What a well-known port speaks (IANA and the software's own defaults). HTTP ports are the ones a probe may
# send an HTTP request to; every other port gets a TCP probe or none (UDP).
PORT_PROTOCOLS: dict[int, str] = {
    80: "http", 8000: "http", 8008: "http", 8080: "http", 8081: "http", 8888: "http", 3000: "http", 5000: "http",
    9090: "http", 9093: "http", 9100: "http", 9200: "http", 5601: "http", 8200: "http", 15672: "http",
    443: "https", 8443: "https", 9443: "https",
    21: "ftp", 22: "ssh", 25: "smtp", 465: "smtps", 587: "smtp", 110: "pop3", 143: "imap", 993: "imaps",
    995: "pop3s", 53: "dns", 389: "ldap", 636: "ldaps", 1883: "mqtt", 5044: "beats", 5060: "sip",
    5432: "postgres", 6432: "postgres", 3306: "mysql", 6379: "redis", 11211: "memcached", 27017: "mongo",
    9092: "kafka", 2181: "zookeeper", 4222: "nats", 5672: "amqp", 9042: "cql", 9300: "es-transport",
    8123: "http", 9009: "tcp", 7233: "grpc", 4317: "grpc", 4318: "http", 50051: "grpc", 3478: "stun",
    1514: "syslog", 514: "syslog", 24224: "fluentd", 5222: "xmpp-client", 5269: "xmpp-server", 5347: "xmpp-comp",
    5280: "http", 1025: "smtp", 8025: "http", 9998: "http", 1218: "http", 2283: "http", 3003: "http", 16686: "http",
}
HTTP_PROTOCOLS = {"http", "https", "grpc"}  # grpc: a gRPC probe needs the service to implement grpc.health
WEB_KINDS = {"http", "gateway", "static"}


def app_protocol(port: dict[str, Any], kind: str) -> str:
    """What one port speaks: UDP stays udp; a known number wins; else the service kind decides."""
    if port.get("protocol") == "UDP":
        return "udp"
    known = PORT_PROTOCOLS.get(port["port"])
    if kind == "grpc" and known in (None, "http", "tcp", "grpc"):
        return "grpc"
    if known == "http" and kind == "tcp":
        return "tcp"  # a raw socket server on a port that is often HTTP elsewhere
    if known:
        return known
    return "http" if kind in WEB_KINDS else "tcp"


def port_name(protocol: str, number: int, used: set[str]) -> str:
    """An IANA-style name (at most 15 characters) from what the port speaks; the number keeps it unique."""
    base = protocol[:9].rstrip("-.+")
    name = base if base not in used and protocol in ("http", "https", "grpc", "tcp") else f"{base}-{number}"
    return re.sub(r"[^a-z0-9-]", "-", name)[:15].rstrip("-")


def served_probe_port(ports: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, bool]:
    """The port a probe should go to and whether HTTP may be spoken there: the first HTTP port, else the
    first TCP port (a TCP probe), else none (a UDP-only service cannot be probed over the network)."""
    tcp = [p for p in ports if p.get("protocol", "TCP") == "TCP"]
    for port in tcp:
        if port.get("app_protocol") in ("http", "https"):
            return port, True
    return (tcp[0], False) if tcp else (None, False)


MEMORY_UNITS = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
                "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
_MEMORY = re.compile(r"^([0-9]+)(Ki|Mi|Gi|Ti|K|M|G|T)?$")


def cpu_cores(text: str) -> float:
    """A Kubernetes CPU quantity as the schema allows it, in cores: '1500m' -> 1.5, '2' -> 2.0."""
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory_bytes(text: str) -> int:
    """A Kubernetes memory quantity as the schema allows it (digits, an optional unit), in bytes:
    '512Mi' -> 536870912, '1G' -> 1000000000."""
    match = _MEMORY.match(text)
    if match is None:
        raise ValueError(f"not a memory quantity: {text!r}")
    return int(match.group(1)) * MEMORY_UNITS[match.group(2) or ""]


def data_volumes(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in item.get("volumes", []) if v["type"] == "data"]


def workload(svc: dict[str, Any]) -> str:
    """deployment | statefulset | job | cronjob: a schedule runs as a CronJob, a one-shot as a Job, data on
    a volume means a StatefulSet (each pod its own claim, never an emptyDir)."""
    if svc.get("schedule"):
        return "cronjob"
    if svc.get("one_shot"):
        return "job"
    if data_volumes(svc) or svc.get("stateful"):
        return "statefulset"
    return "deployment"


def scalable(svc: dict[str, Any]) -> bool:
    """More than one pod may run: not for a single writer (data volumes), a scheduler, or a run-to-completion job."""
    if svc.get("schedule") or svc.get("one_shot") or svc.get("kind") == "cron":
        return False
    return not data_volumes(svc)


def fill_service(svc: dict[str, Any]) -> None:
    """Fill the derived fields of one service (its schema defaults already filled by model.normalise)."""
    svc.setdefault("workload", workload(svc))
    svc.setdefault("scalable", scalable(svc))
    if svc["workload"] in ("job", "cronjob"):
        svc["scalable"] = False
