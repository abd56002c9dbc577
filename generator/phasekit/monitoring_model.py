"""How Prometheus watches each service and datastore, derived once in Python from the normalised model.

`model.normalise` stores the result as the `monitoring` block of every service and datastore, computed
again on every load (a value written in architecture.yaml is replaced: it only restates other fields). The
monitoring blueprint (blueprints/_includes/monitoring.jinja) reads these blocks and keeps the layout: rules,
dashboards, the runbook. Its thresholds, images and PromQL stay there, beside the text they shape.
"""

from __future__ import annotations

from typing import Any

from .derive import cpu_cores, memory_bytes

# Workers, and services without a port, expose /metrics here (the OpenTelemetry Prometheus exporter port).
DEFAULT_METRICS_PORT = 9464
# A cron job lives for minutes: it pushes its metrics to the Pushgateway, scraped once per cron service.
PUSHGATEWAY = "pushgateway:9091"
# Kinds that serve a protocol of their own: without metrics of ours, a blackbox probe says whether they answer.
PROBED_KINDS = ("tcp", "grpc", "gateway", "static")

# How each datastore engine is reached for metrics. `mode`: exporter (a sidecar container `<id>-exporter` on
# `port`), direct (the datastore serves `path` itself, on `port` or else its own port), probe (a blackbox TCP
# probe of its port). `up` is the metric saying the datastore answered. Images and saturation queries are the
# blueprint's (monitoring.jinja `exporters`), keyed by the same engines.
EXPORTERS: dict[str, dict[str, Any]] = {
    "postgres": {"mode": "exporter", "port": 9187, "up": "pg_up"},
    "mysql": {"mode": "exporter", "port": 9104, "up": "mysql_up"},
    "mariadb": {"mode": "exporter", "port": 9104, "up": "mysql_up"},
    "redis": {"mode": "exporter", "port": 9121, "up": "redis_up"},
    "memcached": {"mode": "exporter", "port": 9150, "up": "memcached_up"},
    "mongo": {"mode": "exporter", "port": 9216, "up": "mongodb_up"},
    "elasticsearch": {"mode": "exporter", "port": 9114, "up": "elasticsearch_cluster_health_up"},
    "kafka": {"mode": "exporter", "port": 9308, "up": "up"},
    "nats": {"mode": "exporter", "port": 7777, "up": "up"},
    "rabbitmq": {"mode": "direct", "port": 15692, "path": "/metrics", "up": "up"},
    "minio": {"mode": "direct", "port": None, "path": "/minio/v2/metrics/cluster", "up": "up"},
    "other": {"mode": "probe", "up": "probe_success"},
}


def service(svc: dict[str, Any]) -> dict[str, Any]:
    """The monitoring block of one normalised service (ports, health and resources filled).

    mode: metrics (Prometheus scrapes its /metrics), probe_http / probe_tcp (a blackbox probe of a server of
    another protocol, at its liveness endpoint or port), push (a cron job, via the Pushgateway).
    """
    name, kind = svc["name"], svc["kind"]
    tcp = [p["port"] for p in svc["ports"] if p["protocol"] == "TCP"]
    live = svc["health"]["liveness"]
    live_port = live.get("port")
    mode, port, url = "metrics", (tcp[0] if tcp else None), ""
    if kind == "http":
        if live["type"] == "http" and live_port:
            port = live_port  # metrics beside the health endpoint
    elif kind in PROBED_KINDS and (port or live_port):
        if live_port and live["type"] in ("http", "tcp"):
            port = live_port
        if live["type"] == "http":
            mode, url = "probe_http", f"http://{name}:{port}{live.get('path') or '/'}"
        else:
            mode = "probe_tcp"
    if not port:
        port = DEFAULT_METRICS_PORT
    target = f"{name}:{port}"
    if kind == "cron":
        mode, target = "push", PUSHGATEWAY
    return {
        "mode": mode,
        "port": port,
        "target": target,
        "url": url,
        "instance": url if mode == "probe_http" else target,
        "up": "up" if mode in ("metrics", "push") else "probe_success",
        "sli": "requests" if mode == "metrics" and kind == "http" else "availability",
        "cpu_cores": cpu_cores(svc["resources"]["cpu_limit"]),
        "memory_bytes": memory_bytes(svc["resources"]["memory_limit"]),
    }


def datastore(store: dict[str, Any]) -> dict[str, Any]:
    """The monitoring block of one normalised datastore: where its metrics are scraped (or it is probed)."""
    exporter = EXPORTERS.get(store["engine"], EXPORTERS["other"])
    path = "/metrics"
    if exporter["mode"] == "exporter":
        target = f"{store['id']}-exporter:{exporter['port']}"
    elif exporter["mode"] == "direct":
        target, path = f"{store['name']}:{exporter['port'] or store.get('port', '')}", exporter["path"]
    else:
        target = f"{store['name']}:{store.get('port', '')}"
    return {"mode": exporter["mode"], "target": target, "path": path, "up": exporter["up"]}
