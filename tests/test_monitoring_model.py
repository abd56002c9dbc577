"""How Prometheus watches each service and datastore (phasekit.monitoring_model), from what the input says.

Each case goes through model.validate, as a user's architecture.yaml does, and checks the `monitoring` block
the monitoring blueprint reads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import EXAMPLES, REPO
from phasekit import derive, model, render


def watched(**service: object) -> dict:
    """The monitoring block of one service (name `api` unless given) in an otherwise minimal architecture."""
    entry = {"name": "api", **service}
    arch = model.validate({"version": 1, "project": {"name": "shop"}, "services": [entry]})
    block: dict = arch["services"][0]["monitoring"]
    return block


def store_watched(**datastore: object) -> dict:
    arch = model.validate({"version": 1, "project": {"name": "shop"}, "services": [{"name": "api", "kind": "worker"}],
                           "datastores": [{"name": "main_db", **datastore}]})
    block: dict = arch["datastores"][0]["monitoring"]
    return block


def test_an_http_service_is_scraped_beside_its_liveness_endpoint():
    m = watched(kind="http", ports=[{"port": 8080}],
                health={"liveness": {"type": "http", "path": "/healthz", "port": 9000}})
    assert (m["mode"], m["port"], m["target"], m["instance"]) == ("metrics", 9000, "api:9000", "api:9000")
    assert (m["up"], m["sli"], m["url"]) == ("up", "requests", "")


def test_an_http_service_without_an_http_liveness_is_scraped_on_its_first_tcp_port():
    m = watched(kind="http", ports=[{"port": 5353, "protocol": "UDP"}, {"port": 8081}],
                health={"liveness": {"type": "tcp", "port": 9000}})
    assert (m["mode"], m["target"]) == ("metrics", "api:8081")


def test_a_gateway_with_an_http_liveness_gets_an_http_probe_of_that_url():
    m = watched(name="edge", kind="gateway", ports=[{"port": 80}],
                health={"liveness": {"type": "http", "path": "/healthz", "port": 9000}})
    assert (m["mode"], m["port"], m["url"]) == ("probe_http", 9000, "http://edge:9000/healthz")
    assert (m["instance"], m["target"], m["up"], m["sli"]) == ("http://edge:9000/healthz", "edge:9000",
                                                              "probe_success", "availability")


def test_an_http_probe_without_a_path_requests_the_root():
    m = watched(name="edge", kind="static", ports=[{"port": 8080}], health={"liveness": {"type": "http", "port": 8080}})
    assert m["url"] == "http://edge:8080/"


@pytest.mark.parametrize("kind", ["tcp", "grpc"])
def test_a_server_of_another_protocol_gets_a_tcp_probe(kind):
    m = watched(name="smtp", kind=kind, ports=[{"port": 25}], health={"liveness": {"type": "tcp", "port": 2525}})
    assert (m["mode"], m["target"], m["instance"], m["up"]) == ("probe_tcp", "smtp:2525", "smtp:2525", "probe_success")


def test_a_worker_exposes_metrics_on_the_exporter_port():
    m = watched(name="jobs", kind="worker")
    assert (m["mode"], m["port"], m["target"], m["sli"]) == ("metrics", 9464, "jobs:9464", "availability")


def test_a_cron_job_pushes_to_the_pushgateway():
    m = watched(name="nightly", kind="cron", schedule="@daily", ports=[{"port": 8080}])
    assert (m["mode"], m["target"], m["instance"], m["up"]) == ("push", "pushgateway:9091", "pushgateway:9091", "up")


def test_limits_are_numbers_in_cores_and_bytes():
    m = watched(kind="worker", resources={"cpu_request": "1", "cpu_limit": "1500m",
                                          "memory_request": "256Mi", "memory_limit": "512Mi"})
    assert (m["cpu_cores"], m["memory_bytes"]) == (1.5, 536870912)
    assert type(m["memory_bytes"]) is int  # a float would render as 536870912.0 in the alert rules


@pytest.mark.parametrize(("text", "cores"), [("500m", 0.5), ("1500m", 1.5), ("2", 2.0), ("0.25", 0.25), ("2.5m", 0.0025)])
def test_cpu_cores(text, cores):
    assert derive.cpu_cores(text) == cores


@pytest.mark.parametrize(("text", "size"), [("512Mi", 536870912), ("1G", 10**9), ("1Gi", 2**30), ("64Ki", 65536),
                                            ("3K", 3000), ("2M", 2 * 10**6), ("1Ti", 2**40), ("1T", 10**12),
                                            ("1000", 1000)])
def test_memory_bytes(text, size):
    assert derive.memory_bytes(text) == size


@pytest.mark.parametrize("text", ["1.5Gi", "1Pi", "Mi", "", "512mi"])
def test_memory_bytes_refuses_what_the_schema_refuses(text):
    with pytest.raises(ValueError, match="not a memory quantity"):
        derive.memory_bytes(text)


def test_a_monitoring_block_written_in_the_file_is_derived_again():
    arch = model.validate({"version": 1, "project": {"name": "shop"}, "services": [
        {"name": "api", "kind": "worker", "monitoring": {"mode": "push", "target": "elsewhere:1"}}]})
    assert (arch["services"][0]["monitoring"]["mode"], arch["services"][0]["monitoring"]["target"]) == ("metrics", "api:9464")


@pytest.mark.parametrize(("engine", "mode", "target", "path", "up"), [
    ("postgres", "exporter", "main-db-exporter:9187", "/metrics", "pg_up"),
    ("redis", "exporter", "main-db-exporter:9121", "/metrics", "redis_up"),
    ("rabbitmq", "direct", "main_db:15692", "/metrics", "up"),
    ("minio", "direct", "main_db:9000", "/minio/v2/metrics/cluster", "up"),  # its own port
    ("s3", "probe", "main_db:9000", "/metrics", "probe_success"),
    ("clickhouse", "probe", "main_db:9000", "/metrics", "probe_success"),  # an engine without an exporter
])
def test_datastore_metrics_are_found_by_engine(engine, mode, target, path, up):
    assert store_watched(engine=engine, port=9000) == {"mode": mode, "target": target, "path": path, "up": up}


def test_a_datastore_without_a_port_keeps_its_default_port():
    assert store_watched(engine="postgres")["target"] == "main-db-exporter:9187"
    assert store_watched(engine="minio")["target"] == "main_db:9000"  # DATASTORE_PORTS


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.parent.name)
def test_each_example_carries_the_monitoring_blocks_it_derives(path):
    """Plain `copier copy` reads architecture.yaml as written: the examples hold the derived blocks too."""
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    derived = model.load(path)
    for group in ("services", "datastores"):
        assert [item["monitoring"] for item in written[group]] == [item["monitoring"] for item in derived[group]]


def test_plain_copier_refuses_an_architecture_without_monitoring_blocks_in_one_line(tmp_path):
    """An architecture.yaml an older phasekit wrote: copier's one-line error names the fix, and writes nothing."""
    data = yaml.safe_load((REPO / "examples" / "filetransfer" / "architecture.yaml").read_text(encoding="utf-8"))
    for item in data["services"] + data["datastores"]:
        del item["monitoring"]
    (tmp_path / "architecture.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    template = subprocess.run([sys.executable, "-m", "phasekit.cli", "template-path"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, check=True).stdout.strip()
    copier = str(Path(sys.executable).parent / "copier")
    result = subprocess.run([copier, "copy", "-q", "--defaults", "-d", "blueprint=monitoring", template, "."],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "no `monitoring` blocks" in line]
    assert len(errors) == 1 and "phasekit capture" in errors[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["architecture.yaml"]


def test_every_engine_with_an_exporter_gets_its_image_and_a_scrape_job(tmp_path, template_source):
    """monitoring_model.EXPORTERS says how an engine is reached, monitoring.jinja's `exporters` which image
    runs its exporter: the two tables agree for every engine of the schema."""
    engines = model.schema()["$defs"]["datastore"]["properties"]["engine"]["enum"]
    arch = model.validate({"version": 1, "project": {"name": "shop"}, "services": [{"name": "api", "kind": "worker"}],
                           "datastores": [{"name": f"db-{engine}", "engine": engine, "port": 5000} for engine in engines]})
    render.render_to(tmp_path / "out", arch, "monitoring", template_source)
    compose = yaml.safe_load((tmp_path / "out" / "docker-compose.monitoring.yml").read_text(encoding="utf-8"))
    prometheus = yaml.safe_load((tmp_path / "out" / "monitoring" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    for store in arch["datastores"]:
        block = store["monitoring"]
        assert jobs[store["name"]]["static_configs"] == [{"targets": [block["target"]]}], store["engine"]
        if block["mode"] == "exporter":
            image = compose["services"][f"{store['id']}-exporter"].get("image")
            assert image and ":" in image and not image.endswith(":latest"), store["engine"]
    assert {s["monitoring"]["mode"] for s in arch["datastores"]} == {"exporter", "direct", "probe"}
