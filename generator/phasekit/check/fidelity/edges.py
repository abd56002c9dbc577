"""Contract rule 8: every compose edge client -> server, on every port the server listens on, passes the
NetworkPolicies; and every pod whose egress is restricted can still reach the cluster DNS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import chart_side as cs
from .chart_rules import resolve
from .compose_side import Service
from .network_policy import Pod, Policies

KUBE_DNS = Pod("kube-system", {"k8s-app": "kube-dns"}, (("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")))
# Datastores that publish no port in compose are still reached on their protocol's port.
WELL_KNOWN = {"postgres": 5432, "postgis": 5432, "timescaledb": 5432, "mysql": 3306, "mariadb": 3306,
              "redis": 6379, "valkey": 6379, "mongo": 27017, "memcached": 11211, "rabbitmq": 5672,
              "nats": 4222, "kafka": 9092, "elasticsearch": 9200, "opensearch": 9200, "minio": 9000}


def pod_of(svc: Service, rendered: cs.Rendered | None, namespace: str, part_of: str) -> Pod:
    """The rendered pod of svc, or the pod the contract's labels describe when it is not rendered."""
    workloads = rendered.workloads(svc.id) if rendered else []
    if workloads:
        container = cs.main_container(workloads[0], svc.id, svc.name)
        return Pod(namespace, cs.pod_labels(workloads[0]), cs.container_ports(container))
    ports = tuple(("", p.number, p.protocol) for p in svc.ports)
    return Pod(namespace, {cs.NAME_LABEL: svc.id, cs.PART_OF_LABEL: part_of}, ports)


def server_ports(client: Service, server: Service, dst: Pod, rendered: cs.Rendered | None) -> list[tuple[int, str]]:
    """Compose's ports of the server, its Services' target ports, and any port the client names for it."""
    found = {(p.number, p.protocol) for p in server.ports}
    for service in rendered.services_selecting(dict(dst.labels)) if rendered else []:
        for sp in (service.get("spec") or {}).get("ports") or []:
            proto = str(sp.get("protocol") or "TCP").upper()
            number = resolve(sp.get("targetPort", sp.get("port")), dst.ports, proto)
            if number is not None:
                found.add((number, proto))
    found |= {(n, "TCP") for n in client.peers.get(server.name, set())}
    if not found and server.image:
        repo = server.image.split("@")[0].rsplit(":", 1)[0].rsplit("/", 1)[-1]
        if repo in WELL_KNOWN:
            found.add((WELL_KNOWN[repo], "TCP"))
    return sorted(found)


def losses(services: list[Service], rendered: cs.Rendered | None, policies: Policies, namespace: str,
           part_of: str) -> dict[str, list[str]]:
    """Per client service name: one line per blocked (edge, port) and for blocked DNS."""
    by_name = {s.name: s for s in services}
    pods = {s.name: pod_of(s, rendered, namespace, part_of) for s in services}
    out: dict[str, list[str]] = {s.name: [] for s in services}
    for client in services:
        if rendered and rendered.external(client.id, client.name):
            continue  # runs outside the cluster: no pod of ours sends its traffic
        src = pods[client.name]
        for proto in ("UDP", "TCP"):
            if not policies.verdict(src, KUBE_DNS, 53, proto).egress:
                out[client.name].append(f"{client.name}: DNS (kube-dns {proto}/53) is blocked by its egress policy")
        for server_name in sorted(client.peers):
            server = by_name.get(server_name)
            if server is None or (rendered and rendered.external(server.id, server.name)):
                continue  # not a compose service / outside the cluster: nothing of ours to reach
            dst = pods[server_name]
            for number, proto in server_ports(client, server, dst, rendered):
                verdict = policies.verdict(src, dst, number, proto)
                if not verdict.allowed:
                    sides = [side for side, ok in (("egress of " + client.name, verdict.egress),
                                                   ("ingress of " + server.name, verdict.ingress)) if not ok]
                    out[client.name].append(f"{client.name} -> {server.name}: {proto}/{number} is blocked "
                                            f"by the NetworkPolicies ({' and '.join(sides)})")
    return out


def policies_from(docs: list[dict[str, Any]], namespace: str, namespaces: dict[str, Any]) -> Policies:
    """NetworkPolicies among docs; one without a namespace lands in the chart's (kustomize sets it so)."""
    found: list[Mapping[str, Any]] = []
    for doc in docs:
        if doc.get("kind") == "NetworkPolicy":
            meta = {**(doc.get("metadata") or {})}
            meta.setdefault("namespace", namespace)
            found.append({**doc, "metadata": meta})
    return Policies(found, namespaces)
