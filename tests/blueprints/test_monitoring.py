"""monitoring blueprint: Prometheus jobs, alerts and SLO burn rates per service, promtool tests that can fail,
Grafana dashboards type-checked against @grafana/schema, Alertmanager routing, the monitoring compose file."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers import REPO, load_yaml_docs, render_arch, run_tool
from phasekit import model, render
from phasekit import update as updating

EXAMPLES = sorted(p.parent.name for p in REPO.glob("examples/*/architecture.yaml"))
PROM = Path("monitoring/prometheus")
YAMLLINT = "{extends: default, rules: {line-length: {max: 250}, indentation: {indent-sequences: whatever}}}"
BURN = [("1h", "5m", 14.4, "critical", "2m"), ("6h", "30m", 6, "critical", "15m"),
        ("1d", "2h", 3, "warning", "1h"), ("3d", "6h", 1, "warning", "3h")]
GENERATED = [
    "monitoring/prometheus/prometheus.yml",
    "monitoring/prometheus/rules.yml",
    "monitoring/prometheus/tests/alerts_test.yml",
    "monitoring/prometheus/tests/alerts_slow_test.yml",
    "monitoring/blackbox/blackbox.yml",
    "monitoring/alertmanager/alertmanager.yml",
    "monitoring/grafana/dashboards/system-overview.json",
    "monitoring/grafana/dashboards/service.json",
    "monitoring/grafana/provisioning/datasources/prometheus.yml",
    "monitoring/grafana/provisioning/dashboards/phasekit.yml",
    "monitoring/secrets/.gitignore",
    "docker-compose.monitoring.yml",
    "docs/runbooks/monitoring.md",
]

# An architecture that takes every branch of the blueprint: each service kind, each datastore engine, names
# with `_` and `.`, an SLO too loose for the fastest burn windows, a service without resources.
EVERYTHING = {
    "version": 1,
    "project": {"name": "Every_Thing", "id": "every-thing"},
    "services": [
        {"name": "api.v1", "kind": "http", "language": "python", "ports": [{"port": 8000}],
         "health": {"liveness": {"type": "http", "path": "/health/live", "port": 8000}},
         "slo": {"availability": 99.9, "latency_ms": 250}, "networks": ["back"],
         "resources": {"cpu_limit": "250m", "memory_limit": "1Gi"}},
        {"name": "raw_sock", "kind": "tcp", "language": "python", "ports": [{"port": 9000}],
         "health": {"liveness": {"type": "tcp", "port": 9000}}, "networks": ["back"]},
        {"name": "edge", "kind": "gateway", "language": "other", "framework": "nginx", "image": "nginx:1.27",
         "ports": [{"port": 80}], "health": {"liveness": {"type": "http", "path": "/healthz", "port": 80}},
         "networks": ["front", "back"], "zone": "public"},
        {"name": "rpc", "kind": "grpc", "language": "go", "ports": [{"port": 50051}], "networks": ["back"]},
        {"name": "site", "kind": "static", "language": "other", "ports": [{"port": 8080}],
         "slo": {"availability": 90}, "networks": ["front"]},
        {"name": "jobs", "kind": "worker", "language": "python", "networks": ["back"]},
        {"name": "nightly", "kind": "cron", "language": "shell", "networks": ["back"]},
    ],
    "datastores": [
        {"name": e, "engine": e, "port": p, "networks": ["back"]}
        for e, p in [("postgres", 5432), ("mysql", 3306), ("mariadb", 3306), ("redis", 6379),
                     ("memcached", 11211), ("mongo", 27017), ("elasticsearch", 9200), ("kafka", 9092),
                     ("nats", 4222), ("rabbitmq", 5672), ("minio", 9000), ("s3", 443), ("other", 7000)]
    ],
    "networks": [{"name": "front", "zone": "public"}, {"name": "back", "zone": "private", "internal": True}],
}
ALL_CASES = [*EXAMPLES, "everything"]
SMALL = dict(EVERYTHING, services=[dict(EVERYTHING["services"][0], name="a.b_c-d.E")], datastores=[])


@pytest.fixture(scope="session")
def outputs(rendered, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """Every bundled example, plus EVERYTHING, rendered once: name -> (folder, normalised architecture)."""
    out = {}
    for name in EXAMPLES:
        out[name] = (rendered(name, "monitoring"), model.load(REPO / "examples" / name / "architecture.yaml"))
    arch = model.validate(copy.deepcopy(EVERYTHING), "test")
    out["everything"] = (render_arch(arch, tmp_path_factory.mktemp("everything"), "monitoring"), arch)
    return out


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One HTTP service whose name holds every character the schema allows besides letters and digits."""
    return render_arch(model.validate(copy.deepcopy(SMALL), "test"), tmp_path_factory.mktemp("small"), "monitoring")


@pytest.fixture(params=ALL_CASES)
def case(request: pytest.FixtureRequest, outputs) -> tuple[Path, dict]:
    return outputs[request.param]


def _yaml(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _jobs(folder: Path) -> dict[str, dict]:
    jobs = _yaml(folder / PROM / "prometheus.yml")["scrape_configs"]
    names = [j["job_name"] for j in jobs]
    assert len(names) == len(set(names)), f"duplicate job names: {names}"
    return {j["job_name"]: j for j in jobs}


def _rules(folder: Path) -> list[dict]:
    return [r for g in _yaml(folder / PROM / "rules.yml")["groups"] for r in g["rules"]]


def _alerts(folder: Path, job: str) -> list[dict]:
    return [r for r in _rules(folder) if "alert" in r and r["labels"].get("job") == job]


def _test_files(prometheus: Path) -> list[str]:
    return sorted(str(p.relative_to(prometheus)) for p in (prometheus / "tests").glob("*.yml"))


def _minutes(duration: str) -> int:
    value, unit = int(duration[:-1]), duration[-1]
    return value * {"m": 1, "h": 60, "d": 1440}[unit]


# ---------------------------------------------------------------------------- files


def test_every_file_is_written_and_ends_with_a_newline(case):
    folder, _ = case
    for rel in GENERATED:
        text = (folder / rel).read_text(encoding="utf-8")
        assert text.endswith("\n") and not text.endswith("\n\n"), rel
    assert not list(folder.rglob("*.jinja")), "a template was copied without rendering"
    assert not (folder / "lib").exists() and not list(folder.rglob("monitoring.jinja"))


def test_rendering_is_deterministic(outputs, tmp_path):
    a = outputs["everything"][0]
    b = render_arch(model.validate(copy.deepcopy(EVERYTHING), "test"), tmp_path / "again", "monitoring")
    for rel in GENERATED:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


# ---------------------------------------------------------------------------- prometheus.yml vs the architecture


def test_every_service_has_its_scrape_job(case):
    folder, arch = case
    jobs = _jobs(folder)
    for svc in arch["services"]:
        job = jobs.get(svc["name"])
        assert job, f"no scrape job for service {svc['name']}"
        ports = [p["port"] for p in svc["ports"] if p["protocol"] == "TCP"]
        live = svc["health"]["liveness"]
        targets = [t for sc in job["static_configs"] for t in sc["targets"]]
        if svc["kind"] == "http":
            port = live.get("port") if live["type"] == "http" and live.get("port") else (ports or [9464])[0]
            assert job["metrics_path"] == "/metrics" and targets == [f"{svc['name']}:{port}"]
        elif svc["kind"] == "worker":
            assert job["metrics_path"] == "/metrics" and targets == [f"{svc['name']}:{(ports or [9464])[0]}"]
        elif svc["kind"] == "cron":
            assert job["honor_labels"] is True and targets == ["pushgateway:9091"]
            keep = job["metric_relabel_configs"][0]
            assert keep["action"] == "keep" and re.fullmatch(keep["regex"], svc["name"])
            assert "pushgateway" in jobs
        else:  # probed through the blackbox exporter
            module = job["params"]["module"]
            if live["type"] == "http":
                assert module == ["http_2xx"] and targets[0].startswith(f"http://{svc['name']}:")
                assert targets[0].endswith(live.get("path", "/"))
            else:
                assert module == ["tcp_connect"] and targets[0].startswith(f"{svc['name']}:")
            assert job["metrics_path"] == "/probe"
            assert {"target_label": "__address__", "replacement": "blackbox-exporter:9115"} in job["relabel_configs"]
        if svc["kind"] == "gateway" and (svc.get("framework") or "").lower() == "nginx":
            assert f"{svc['name']}-nginx" in jobs


def test_every_datastore_has_its_exporter_job(case):
    folder, arch = case
    jobs = _jobs(folder)
    compose = _yaml(folder / "docker-compose.monitoring.yml")["services"]
    for ds in arch["datastores"]:
        job = jobs.get(ds["name"])
        assert job, f"no scrape job for datastore {ds['name']}"
        targets = [t for sc in job["static_configs"] for t in sc["targets"]]
        if ds["engine"] in {"postgres", "mysql", "mariadb", "redis", "memcached", "mongo", "elasticsearch",
                            "kafka", "nats"}:
            host = targets[0].split(":")[0]
            assert host == f"{ds['id']}-exporter" and host in compose, ds["name"]
        elif ds["engine"] in {"rabbitmq", "minio"}:
            assert targets[0].startswith(f"{ds['name']}:")
        else:
            assert job["params"]["module"] == ["tcp_connect"] and targets == [f"{ds['name']}:{ds['port']}"]


def test_prometheus_config_wires_rules_and_alertmanager(case):
    folder, _ = case
    cfg = _yaml(folder / PROM / "prometheus.yml")
    assert "alert_rules" not in cfg
    # rules.yml is generated; the team's own rules live in *.local.yml, outside the update's merge path
    assert cfg["rule_files"] == ["rules.yml", "*.local.yml"]
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    for job in ("prometheus", "alertmanager", "blackbox-exporter", "grafana"):
        assert job in _jobs(folder)


# ---------------------------------------------------------------------------- rules vs the architecture


def test_rules_follow_the_conventions(case):
    folder, _ = case
    rules = _rules(folder)
    for r in rules:
        if "record" in r:
            assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", r["record"]), r["record"]
            continue
        assert re.fullmatch(r"[A-Z][a-z0-9]+(?:[A-Z0-9][a-z0-9]*)*", r["alert"]), r["alert"]
        assert re.fullmatch(r"\d+[mh]", r["for"]), r
        assert r["labels"]["severity"] in {"critical", "warning", "info"}
        ann = r["annotations"]
        assert ann["summary"] and ann["description"] and ann["runbook_url"].startswith("https://")
    for r in rules:
        # a quantile over a histogram needs the rate of its buckets, never the raw series
        for m in re.finditer(r"histogram_quantile\(([^,]+),\s*(.*)", r["expr"]):
            assert "_bucket" in m.group(2) and ("rate(" in m.group(2) or ":rate5m" in m.group(2)), r["expr"]
        if "_bucket" in r["expr"] and "record" in r and r["record"].endswith("rate5m"):
            assert "rate(" in r["expr"]


def test_every_service_has_target_down_and_all_burn_rate_alerts(case):
    folder, arch = case
    for svc in arch["services"]:
        name, budget = svc["name"], 1 - svc["slo"]["availability"] / 100
        alerts = _alerts(folder, name)
        selector = f"{{job={json.dumps(name)}}}"
        down = [a for a in alerts if a["alert"] == "TargetDown"]
        assert len(down) == 1 and selector in down[0]["expr"] and down[0]["expr"].endswith("== 0")
        burns = sorted(((a["labels"]["long"], a["labels"]["short"], a) for a in alerts
                        if a["alert"] == "ErrorBudgetBurn"), key=lambda t: _minutes(t[0]))
        assert [(lo, sh) for lo, sh, _ in burns] == [(lo, sh) for lo, sh, *_ in BURN], name
        for (long_, short, a), (_, _, factor, severity, for_) in zip(burns, BURN, strict=True):
            assert a["labels"]["severity"] == severity and a["for"] in {for_, f"{_minutes(for_)}m"}
            limits = [float(x) for x in re.findall(r"> ([0-9.e-]+)", a["expr"])]
            assert limits == pytest.approx([factor * budget] * 2, rel=1e-4), a["expr"]
            assert f"ratio_rate{long_}{selector}" in a["expr"] and f"ratio_rate{short}{selector}" in a["expr"]
        if svc["kind"] == "http":
            names = {a["alert"] for a in alerts}
            assert {"HighErrorRatio", "HighLatencyP95", "HighLatencyP99"} <= names, name
            p95 = next(a for a in alerts if a["alert"] == "HighLatencyP95")
            assert "histogram_quantile(0.95" in p95["expr"]
            assert p95["expr"].endswith(f"> {svc['slo']['latency_ms'] / 1000:g}")
        if svc["kind"] == "http" and svc["resources"].get("cpu_limit"):
            assert "CpuSaturation" in {a["alert"] for a in alerts}


def test_every_datastore_has_a_down_alert(case):
    folder, arch = case
    for ds in arch["datastores"]:
        alerts = _alerts(folder, ds["name"])
        assert [a["labels"]["severity"] for a in alerts if a["alert"] == "DatastoreDown"] == ["critical"]


def test_every_alert_has_its_runbook_section(case):
    folder, _ = case
    runbook = (folder / "docs/runbooks/monitoring.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\w+)$", runbook, flags=re.M))
    for rule in _rules(folder):
        if "alert" in rule:
            assert rule["alert"] in sections, rule["alert"]
            assert rule["annotations"]["runbook_url"].endswith("#" + rule["alert"].lower())


def test_every_slo_window_is_recorded_for_every_service(case):
    folder, arch = case
    recorded = {(r["record"], r["labels"]["job"]) for r in _rules(folder) if "record" in r}
    for svc in arch["services"]:
        for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
            assert (f"job:slo_errors_per_request:ratio_rate{window}", svc["name"]) in recorded
        assert ("job:slo_error_budget:ratio", svc["name"]) in recorded


def _first_firing(folder: Path, name: str) -> dict[tuple[str, str, str | None], tuple[int, bool]]:
    """(alert, job, burn window) -> (first minute its test expects it firing, absent at the minute before)."""
    group = _yaml(folder / PROM / "tests" / name)["tests"]
    assert len(group) <= 1, "one test group: promtool evaluates every rule in every group"
    checks = sorted(group[0]["alert_rule_test"] if group else [], key=lambda c: _minutes(c["eval_time"]))
    seen: dict[tuple[str, int], set] = {}
    for c in checks:
        keys = {(c["alertname"], a["exp_labels"]["job"], a["exp_labels"].get("long")) for a in c["exp_alerts"]}
        seen[(c["alertname"], _minutes(c["eval_time"]))] = keys
    first: dict = {}
    for (alert, minute), keys in sorted(seen.items(), key=lambda kv: kv[0][1]):
        for key in keys:
            if key not in first:
                before = seen.get((alert, minute - 1))
                first[key] = (minute, before is not None and key not in before)
    return first


def test_promtool_tests_cover_every_alert_at_and_before_its_for(case):
    """Every alert that can fire is expected absent the minute before its `for` ends and firing at it."""
    folder, arch = case
    fast = _first_firing(folder, "alerts_test.yml")
    slow = _first_firing(folder, "alerts_slow_test.yml")
    for_of = {(a["alert"], a["labels"]["job"], a["labels"].get("long")): _minutes(a["for"])
              for a in _rules(folder) if "alert" in a}
    for svc in arch["services"]:
        name = svc["name"]
        at, absent_before = fast[("TargetDown", name, None)]
        assert absent_before and at == for_of[("TargetDown", name, None)], (name, at)
        budget = 1 - svc["slo"]["availability"] / 100
        starts = set()
        for long_, _, factor, _, _ in BURN:
            key = ("ErrorBudgetBurn", name, long_)
            if factor * budget >= 1:  # an error ratio of 1 cannot reach this window's threshold
                assert key not in fast and key not in slow, key
                continue
            limit = for_of[key]
            if limit <= 15:  # checked to the minute: the condition holds from minute 0 or 1
                at, absent_before = fast[key]
                starts.add(at - limit)
            else:  # evaluated every 15 minutes: pending from the first evaluation at or after minute 0 or 1
                at, absent_before = slow[key]
                assert at - limit in {0, 15}, (key, at)
                assert key not in fast, key  # not firing within the fast suite
            assert absent_before, key
        assert len(starts) == 1 and starts <= {0, 1}, (name, starts)  # every window counted from one start
        if svc["kind"] == "http":  # the symptoms of an instrumented service are tested too
            for alert in ("HighErrorRatio", "HighLatencyP95", "HighLatencyP99"):
                at, absent_before = fast[(alert, name, None)]
                assert absent_before and at == 1 + for_of[(alert, name, None)], (alert, name, at)
        for alert in ("CpuSaturation", "MemorySaturation", "HighLatencyProbe"):
            if (alert, name, None) in for_of:
                assert fast[(alert, name, None)][1], (alert, name)
    for ds in arch["datastores"]:
        at, absent_before = fast[("DatastoreDown", ds["name"], None)]
        assert absent_before and at == for_of[("DatastoreDown", ds["name"], None)], ds["name"]
    # Nothing fires that no rule defines, and the slow suite shows no fast alert at all.
    assert set(fast) <= set(for_of) and set(slow) <= {k for k in for_of if k[0] == "ErrorBudgetBurn" and for_of[k] > 15}


# ---------------------------------------------------------------------------- the real validators


def test_promtool_check_config_and_rules(case):
    folder, _ = case
    result = run_tool(["promtool", "check", "config", "prometheus.yml"], cwd=folder / PROM)
    assert result.returncode == 0, result.stdout + result.stderr
    result = run_tool(["promtool", "check", "rules", "rules.yml"], cwd=folder / PROM)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass(case):
    folder, _ = case
    result = run_tool(["promtool", "test", "rules", *sorted(str(p) for p in (folder / PROM / "tests").glob("*.yml"))])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("alert", "window", "step"), [
    ("TargetDown", None, 1), ("ErrorBudgetBurn", "1h", 1),  # checked to the minute
    ("ErrorBudgetBurn", "3d", 15),  # evaluated every 15 minutes (alerts_slow_test.yml)
])
@pytest.mark.parametrize("change", ["shorter", "longer"])
def test_promtool_unit_tests_fail_when_a_for_is_broken(small, tmp_path, alert, window, step, change):
    """Prove the generated tests can fail: move the `for` of one alert by one step, either way."""
    folder = shutil.copytree(small / PROM, tmp_path / "prometheus")
    doc = _yaml(folder / "rules.yml")
    rule = next(r for g in doc["groups"] for r in g["rules"]
                if r.get("alert") == alert and r["labels"].get("long") == window)
    minutes = _minutes(rule["for"])
    rule["for"] = f"{minutes - step if change == 'shorter' else minutes + step}m"
    (folder / "rules.yml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = run_tool(["promtool", "test", "rules", *_test_files(folder)], cwd=folder)
    assert result.returncode != 0, "promtool passed although the rule's `for` no longer matches the tests"
    assert f"alertname: {alert}" in result.stdout + result.stderr


def test_blackbox_config_is_valid(case):
    folder, _ = case
    result = run_tool(["prometheus-blackbox-exporter", "--config.check",
                       f"--config.file={folder / 'monitoring/blackbox/blackbox.yml'}"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_alertmanager_config_and_routing(case):
    folder, _ = case
    path = folder / "monitoring/alertmanager/alertmanager.yml"
    cfg = _yaml(path)
    for receiver in cfg["receivers"]:
        for kind, configs in receiver.items():
            if kind == "name":
                continue
            for c in configs:  # secrets are referenced by file, never written here
                assert not {"url", "api_url", "routing_key", "service_key", "api_key"} & set(c), c
                assert any(k.endswith("_file") for k in c), c
    result = run_tool(["amtool", "check-config", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    for severity, receiver in [("critical", "page"), ("warning", "ticket"), ("info", "blackhole")]:
        routed = run_tool(["amtool", "config", "routes", "test", f"--config.file={path}",
                           f"severity={severity}", "alertname=TargetDown"])
        assert routed.stdout.strip() == receiver, (severity, routed.stdout, routed.stderr)


def test_yamllint(case):
    folder, _ = case
    files = [str(folder / rel) for rel in GENERATED if rel.endswith(".yml") and not rel.endswith(".gitignore")]
    result = run_tool(["yamllint", "-f", "parsable", "-d", YAMLLINT, *files])
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------- grafana


def _dashboards(folder: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8"))
            for p in sorted((folder / "monitoring/grafana/dashboards").glob("*.json"))}


def test_one_overview_and_one_templated_service_dashboard(case):
    folder, arch = case
    boards = _dashboards(folder)
    assert sorted(boards) == ["service.json", "system-overview.json"]
    var = boards["service.json"]["templating"]["list"]
    assert [v["name"] for v in var] == ["service"]
    exprs = [t["expr"] for p in boards["service.json"]["panels"] for t in p["targets"]]
    assert exprs and all("$service" in e for e in exprs)
    uids = [b["uid"] for b in boards.values()]
    assert len(set(uids)) == 2 and all(len(u) <= 40 for u in uids)
    # every recorded series a dashboard reads is recorded by rules.yml
    recorded = {r["record"] for r in _rules(folder) if "record" in r}
    for board in boards.values():
        for panel in board["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
            for target in panel["targets"]:
                for name in re.findall(r"\b([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b", target["expr"]):
                    assert name in recorded, (panel["title"], name)
    datasources = _yaml(folder / "monitoring/grafana/provisioning/datasources/prometheus.yml")["datasources"]
    assert [d["uid"] for d in datasources] == ["prometheus"]


def test_grafana_dashboards_type_check_against_grafana_schema(outputs, tmp_path):
    """Each dashboard must satisfy @grafana/schema's Dashboard type (tsc, strict, excess properties)."""
    modules = os.environ.get("PHASEKIT_NODE_MODULES", "")
    if not modules or not (Path(modules) / "@grafana/schema").is_dir():
        pytest.skip("@grafana/schema is not installed (PHASEKIT_NODE_MODULES)")
    (tmp_path / "node_modules").symlink_to(modules)
    (tmp_path / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "module": "nodenext", "moduleResolution": "nodenext",
                            "skipLibCheck": True, "types": []},
        "include": ["*.ts"]}))
    count = 0
    for case_name, (folder, _) in outputs.items():
        for path in sorted((folder / "monitoring/grafana/dashboards").glob("*.json")):
            count += 1
            (tmp_path / f"d{count}.ts").write_text(
                "import type { Dashboard } from '@grafana/schema/dist/esm/raw/dashboard/x/Dashboard_types.gen';\n"
                f"// {case_name}/{path.name}\nexport const d = {path.read_text().strip()} satisfies Dashboard;\n")
    # a deliberately wrong dashboard proves the check can fail
    (tmp_path / "bad.ts").write_text(
        "import type { Dashboard } from '@grafana/schema/dist/esm/raw/dashboard/x/Dashboard_types.gen';\n"
        "export const d = {\"schemaVersion\": 39, \"panels\": [{\"type\": \"stat\", \"nope\": 1}]} satisfies Dashboard;\n")
    result = run_tool(["tsc", "-p", str(tmp_path)])
    errors = [line for line in result.stdout.splitlines() if "error TS" in line]
    assert errors and all(line.startswith("bad.ts") or "/bad.ts" in line for line in errors), result.stdout
    assert count == 2 * len(outputs)


# ---------------------------------------------------------------------------- docker-compose.monitoring.yml


def test_compose_config_is_valid_and_hardened(case):
    folder, arch = case
    result = run_tool(["docker", "compose", "-f", "docker-compose.monitoring.yml", "config", "--format", "json"],
                      cwd=folder)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert {"prometheus", "alertmanager", "grafana", "blackbox-exporter"} <= set(services)
    for name, svc in services.items():
        image = svc["image"]
        tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
        assert tag and tag != "latest", f"{name}: image {image} is not pinned"
        assert svc.get("read_only") is True and svc.get("cap_drop") == ["ALL"], name
        for key, value in (svc.get("environment") or {}).items():
            assert not re.search(r"PASSWORD|SECRET|TOKEN|KEY", key) or key.endswith("_FILE"), (name, key)
            assert "://" not in str(value) or "@" not in str(value), (name, key)  # no user:pass@ in URLs
        for port in svc.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", (name, port)
    grafana = services["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    for ds in arch["datastores"]:
        if ds["engine"] in {"postgres", "mysql", "redis", "memcached"}:
            assert f"{ds['id']}-exporter" in services
    schema = run_tool(["check-jsonschema", "--builtin-schema", "vendor.compose-spec",
                       str(folder / "docker-compose.monitoring.yml")])
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_names_only_reach_artifacts_through_serialisers(small):
    """A service name full of YAML/PromQL-significant characters the schema allows stays one label value."""
    name = SMALL["services"][0]["name"]
    assert name in _jobs(small)
    alerts = _alerts(small, name)
    assert alerts and all(f"{{job={json.dumps(name)}" in a["expr"] for a in alerts)
    result = run_tool(["promtool", "test", "rules", *_test_files(small / PROM)], cwd=small / PROM)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(load_yaml_docs(small / "docker-compose.monitoring.yml")) == 1


def test_update_follows_the_architecture_and_keeps_user_edits(tmp_path):
    """`phasekit update` after an SLO change: new thresholds, tests still pass, the team's own edit survives."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    dest = render_arch(model.validate(copy.deepcopy(SMALL), "test"), tmp_path / "repo", "monitoring")
    am = dest / "monitoring/alertmanager/alertmanager.yml"
    am.write_text(am.read_text(encoding="utf-8") + "# our on-call rota lives in the wiki\n", encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "monitoring"]):
        subprocess.run(["git", *argv], cwd=dest, env=env, check=True, capture_output=True)
    changed = copy.deepcopy(SMALL)
    changed["services"][0]["slo"] = {"availability": 99.0, "latency_ms": 250}
    updating.run(model.validate(changed, "test"), dest, render.Source.resolve(None, None))
    name = SMALL["services"][0]["name"]
    fast = next(a for a in _alerts(dest, name) if a["alert"] == "ErrorBudgetBurn" and a["labels"]["long"] == "1h")
    assert fast["expr"].endswith("> 0.144")  # 14.4 x (1 - 0.99)
    assert am.read_text(encoding="utf-8").endswith("# our on-call rota lives in the wiki\n")
    result = run_tool(["promtool", "test", "rules", *_test_files(dest / PROM)], cwd=dest / PROM)
    assert result.returncode == 0, result.stdout + result.stderr
