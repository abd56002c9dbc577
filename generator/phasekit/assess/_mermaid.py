"""Mermaid flowcharts of the current architecture and of the target the blueprints lead to."""

from __future__ import annotations

import re
from typing import Any

from ._rules import MIN_REPLICAS

_SAFE = re.compile(r"[A-Za-z0-9 _.,:/+()=·–-]")


def label(*lines: str) -> str:
    """A quoted Mermaid label; anything outside a small safe set becomes a numeric entity, so no name can break it."""
    text = "<br/>".join("".join(ch if _SAFE.match(ch) else f"#{ord(ch)};" for ch in line) for line in lines if line)
    return f'"{text}"'


def node_id(prefix: str, ident: str) -> str:
    # ids are DNS-1123 labels (unique, no '_'), so this mapping is one to one.
    return f"{prefix}_{ident.replace('-', '_')}"


def _ports(svc: dict[str, Any]) -> str:
    return ", ".join(f":{p['port']}" + ("/udp" if p["protocol"] == "UDP" else "") for p in svc["ports"])


def _addresses(item: dict[str, Any]) -> list[str]:
    lines = []
    for net in item["networks"]:
        ip = item["static_ips"].get(net)
        lines.append(f"{net} {ip}" if ip else net)
    return lines


def _shape(nid: str, kind: str, text: str) -> str:
    if kind == "datastore":
        return f"{nid}[({text})]"
    if kind == "gateway":
        return f"{nid}{{{{{text}}}}}"
    if kind in ("worker", "cron"):
        return f"{nid}[[{text}]]"
    return f"{nid}[{text}]"


def _ids(arch: dict[str, Any]) -> dict[str, str]:
    out = {s["name"]: node_id("svc", s["id"]) for s in arch["services"]}
    out.update({d["name"]: node_id("ds", d["id"]) for d in arch["datastores"]})
    return out


# Above this many services and datastores one node each renders as an unreadable column (200 services drew a
# 627 x 32,604 px picture): the diagrams then draw one node per group of alike items, and the report's
# service table carries the detail.
GROUP_ABOVE = 30


def current(arch: dict[str, Any]) -> str:
    """Zones and networks as subgraphs, services and datastores with their static addresses, depends_on edges."""
    if len(arch["services"]) + len(arch["datastores"]) > GROUP_ABOVE:
        return _grouped(arch, target=False)
    ids = _ids(arch)
    risky = {f["subject"] for f in arch["facts"] if f["kind"] in ("static-ip", "no-healthcheck", "single-replica", "secret-in-env",
                                                                     "root-user", "privileged", "unpinned-image")}
    nodes: dict[str, tuple[str, str, list[str]]] = {}  # name -> (kind, zone, label lines)
    for svc in arch["services"]:
        tech = "/".join(x for x in (svc["language"], svc.get("framework", "")) if x and x != "unknown")
        lines = [svc["name"], " · ".join(x for x in (svc["kind"], tech) if x), _ports(svc), f"replicas {svc['replicas']}"]
        nodes[svc["name"]] = (svc["kind"], svc["zone"], lines + _addresses(svc))
        if svc["static_ips"]:
            risky.add(svc["name"])
    for store in arch["datastores"]:
        lines = [store["name"], f"{store['engine']} {store.get('version', '')}".strip(), f":{store.get('port')}" if store.get("port") else ""]
        nodes[store["name"]] = ("datastore", store["zone"], lines + _addresses(store))
        if store["static_ips"]:
            risky.add(store["name"])
    networks = {n["name"]: n for n in arch["networks"]}
    members: dict[str, list[str]] = {name: [] for name in networks}  # network -> nodes living only on it
    loose: dict[str, list[str]] = {}  # zone -> nodes on no network or on several
    for name, (_kind, zone, _) in nodes.items():
        item_nets = [n for n in _item(arch, name)["networks"] if n in networks]
        if len(item_nets) == 1:
            members[item_nets[0]].append(name)
            if networks[item_nets[0]]["zone"] != zone:  # drawn in its network's zone box: say its own zone
                nodes[name][2].append(f"{zone} zone")
        else:
            loose.setdefault(zone, []).append(name)
    out = ["flowchart LR", f"  outside(({label('outside')}))"]
    for zone in ("public", "private"):
        zone_nets = [n for n in sorted(networks) if networks[n]["zone"] == zone and members[n]]
        if not zone_nets and not loose.get(zone):
            continue
        out.append(f"  subgraph zone_{zone}[{label(f'{zone} zone')}]")
        for net in zone_nets:
            n = networks[net]
            title = " · ".join(x for x in (f"network {net}", n.get("subnet", ""), "internal" if n["internal"] else "") if x)
            out.append(f"    subgraph {node_id('net', n['id'])}[{label(title)}]")
            out += [f"      {_shape(ids[m], nodes[m][0], label(*nodes[m][2]))}" for m in members[net]]
            out.append("    end")
        out += [f"    {_shape(ids[m], nodes[m][0], label(*nodes[m][2]))}" for m in loose.get(zone, [])]
        out.append("  end")
    for svc in arch["services"]:
        published = [p for p in svc["ports"] if p.get("published")]
        if published:
            text = ", ".join(f"{p.get('host_ip') or '0.0.0.0'}:{p['published']}" for p in published)
            out.append(f"  outside -->|{label(text)}| {ids[svc['name']]}")
    for svc in arch["services"]:
        out += [f"  {ids[svc['name']]} --> {ids[dep]}" for dep in svc["depends_on"]]
    out.append("  classDef risk stroke:#c62828,stroke-width:2px")
    flagged = [ids[n] for n in nodes if n in risky]
    if flagged:
        out.append(f"  class {','.join(flagged)} risk")
    return "\n".join(out) + "\n"


def names_in_order(arch: dict[str, Any]) -> list[str]:
    return [s["name"] for s in arch["services"]]


def _item(arch: dict[str, Any], name: str) -> dict[str, Any]:
    return next(x for x in [*arch["services"], *arch["datastores"]] if x["name"] == name)


def target(arch: dict[str, Any]) -> str:
    """Kubernetes: ingress, services behind DNS names with autoscaled replicas, broker for calls between services,
    zones closed by default-deny policies, and the monitoring stack."""
    if len(arch["services"]) + len(arch["datastores"]) > GROUP_ABOVE:
        return _grouped(arch, target=True)
    ids = _ids(arch)
    names = {s["name"] for s in arch["services"]}
    broker = arch["targets"]["broker"] if arch["targets"]["broker"] != "none" else "kafka or nats"
    async_edges = [(s["name"], d) for s in arch["services"] if s["kind"] != "gateway" for d in s["depends_on"] if d in names]
    project = arch["project"]["id"]
    out = ["flowchart LR", f"  users(({label('users')}))",
           f"  subgraph cluster[{label(f'Kubernetes namespace {project}')}]",
           f"    ingress{{{{{label('Ingress', arch['targets']['domain'])}}}}}"]
    for zone in ("public", "private"):
        items = [s for s in arch["services"] if s["zone"] == zone] + [d for d in arch["datastores"] if d["zone"] == zone]
        if not items:
            continue
        out.append(f"    subgraph tz_{zone}[{label(f'{zone} zone · default-deny NetworkPolicy')}]")
        for item in items:
            if "engine" in item:
                how = "managed service" if item["managed"] else "managed or replicated"
                out.append(f"      {_shape(ids[item['name']], 'datastore', label(item['name'], item['engine'], how))}")
                continue
            if item["stateful"]:
                scale = f"StatefulSet · {item['replicas']} replicas"
            elif item["kind"] == "cron":
                scale = "CronJob"
            else:
                scale = f"Deployment · HPA min {max(MIN_REPLICAS, item['replicas'])} · PDB"
            svc_line = f"Service {item['id']}" + (f" {_ports(item)}" if item["ports"] else "")
            out.append(f"      {_shape(ids[item['name']], item['kind'], label(item['name'], scale, svc_line, 'probes: live, ready'))}")
        out.append("    end")
    if async_edges:
        out.append(f"    broker[({label('broker', broker, 'topics + dead-letter')})]")
    out.append(f"    subgraph obs[{label('observability')}]")
    out.append(f"      prom[{label('Prometheus', 'alert + SLO rules')}]")
    out.append(f"      grafana[{label('Grafana dashboards')}]")
    out.append(f"      otel[{label('OpenTelemetry', 'traces')}]")
    out.append("    end")
    out.append("  end")
    public = [s for s in arch["services"] if s["zone"] == "public" and s["ports"]]
    gateways = [s for s in public if s["kind"] == "gateway"] or public
    out.append("  users --> ingress")
    out += [f"  ingress --> {ids[s['name']]}" for s in gateways]
    for svc in arch["services"]:
        out += [f"  {ids[svc['name']]} --> {ids[dep]}" for dep in svc["depends_on"] if (svc["name"], dep) not in async_edges]
    for caller in sorted({a for a, _ in async_edges}, key=list(names_in_order(arch)).index):
        out.append(f"  {ids[caller]} -.->|{label('publish')}| broker")
    for callee in sorted({b for _, b in async_edges}, key=list(names_in_order(arch)).index):
        out.append(f"  broker -.->|{label('consume')}| {ids[callee]}")
    out.append("  prom --> grafana")
    return "\n".join(out) + "\n"


def _group_of(arch: dict[str, Any], item: dict[str, Any], target: bool) -> tuple[str, str, str]:
    """(zone, network or "", what): items alike enough to share a node in a large system's diagram."""
    nets = [n for n in item["networks"] if n in {x["name"] for x in arch["networks"]}]
    net = nets[0] if len(nets) == 1 and not target else ""
    what = f"{item['engine']} datastore" if "engine" in item else item["kind"]
    return item["zone"], net, what


def _names(names: list[str], most: int = 3) -> str:
    return ", ".join(names[:most]) + (f" ... +{len(names) - most}" if len(names) > most else "")


def _grouped(arch: dict[str, Any], target: bool) -> str:
    """One node per (zone, network, kind) with its count and first names; edges counted between groups."""
    items = [*arch["services"], *arch["datastores"]]
    groups: dict[tuple[str, str, str], list[str]] = {}
    of: dict[str, tuple[str, str, str]] = {}
    for item in items:
        key = _group_of(arch, item, target)
        groups.setdefault(key, []).append(item["name"])
        of[item["name"]] = key
    gid = {key: f"g{i}" for i, key in enumerate(groups)}
    risky = {f["subject"] for f in arch["facts"] if f["kind"] in ("static-ip", "no-healthcheck", "single-replica",
                                                                   "secret-in-env", "root-user", "privileged", "unpinned-image")}
    risky |= {i["name"] for i in items if i.get("static_ips")}
    out = ["flowchart LR"]
    if target:
        project = arch["project"]["id"]
        out += [f"  users(({label('users')}))", f"  subgraph cluster[{label(f'Kubernetes namespace {project}')}]",
                f"    ingress{{{{{label('Ingress', arch['targets']['domain'])}}}}}"]
    else:
        out.append(f"  outside(({label('outside')}))")
    indent = "    " if target else "  "
    for zone in ("public", "private"):
        keys = [k for k in groups if k[0] == zone]
        if not keys:
            continue
        title = f"{zone} zone · default-deny NetworkPolicy" if target else f"{zone} zone"
        out.append(f"{indent}subgraph {'tz' if target else 'zone'}_{zone}[{label(title)}]")
        for net in sorted({k[1] for k in keys}):
            inner = indent + "  "
            if net:
                out.append(f"{inner}subgraph grp_net_{len(out)}[{label(f'network {net}')}]")
                inner += "  "
            for key in (k for k in keys if k[1] == net):
                names = groups[key]
                what = key[2]
                count = f"{len(names)} {what}{'' if what.endswith('datastore') else ' service'}{'s' if len(names) != 1 else ''}"
                extra = ("StatefulSet or Deployment + HPA + PDB" if target and "datastore" not in what else "")
                out.append(f"{inner}{_shape(gid[key], 'datastore' if 'datastore' in what else what, label(count, _names(names), extra))}")
            if net:
                out.append(f"{indent}  end")
        out.append(f"{indent}end")
    if target:
        out += [f"    subgraph obs[{label('observability')}]", f"      prom[{label('Prometheus', 'alert + SLO rules')}]",
                f"      grafana[{label('Grafana dashboards')}]", f"      otel[{label('OpenTelemetry', 'traces')}]", "    end", "  end",
                "  users --> ingress", "  prom --> grafana"]
        for key in groups:
            if key[0] == "public" and "datastore" not in key[2]:
                out.append(f"  ingress --> {gid[key]}")
    else:
        published: dict[tuple[str, str, str], int] = {}
        for svc in arch["services"]:
            n = sum(1 for p in svc["ports"] if p.get("published"))
            if n:
                published[of[svc["name"]]] = published.get(of[svc["name"]], 0) + n
        out += [f"  outside -->|{label(f'{n} published port' + ('s' if n != 1 else ''))}| {gid[k]}" for k, n in published.items()]
    edges: dict[tuple[str, str], int] = {}
    for svc in arch["services"]:
        for dep in svc["depends_on"]:
            if dep in of:
                pair = (gid[of[svc["name"]]], gid[of[dep]])
                edges[pair] = edges.get(pair, 0) + 1
    out += [f"  {a} -->|{label(f'{n} dependenc' + ('ies' if n != 1 else 'y'))}| {b}" for (a, b), n in edges.items()]
    out.append("  classDef risk stroke:#c62828,stroke-width:2px")
    flagged = [gid[k] for k, names in groups.items() if not target and any(n in risky for n in names)]
    if flagged:
        out.append(f"  class {','.join(flagged)} risk")
    return "\n".join(out) + "\n"
