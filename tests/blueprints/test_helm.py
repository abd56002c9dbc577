"""helm blueprint: the chart lints, renders valid manifests per environment, passes checkov, and matches the architecture."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import REPO, render_arch, run_tool
from phasekit import model

EXAMPLES = sorted(p.parent.name for p in REPO.glob("examples/*/architecture.yaml"))
ENVS = ("dev", "staging", "prod")
HTTP_INGRESS_KINDS = {"http", "gateway", "static", "grpc"}
RELEASE = "rel"
NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
PART_OF = "app.kubernetes.io/part-of"


# ---------------------------------------------------------------------------- rendering (once per session)


def _arch(example: str) -> dict:
    return model.load(REPO / "examples" / example / "architecture.yaml")


def _envs(arch: dict) -> list[str]:
    return [env for env in ENVS if env in arch["environments"]]


def _chart_dir(root: Path, arch: dict) -> Path:
    return root / "charts" / arch["project"]["id"]


def _kube(arch: dict) -> str:
    return arch["targets"]["kubernetes_version"]


_TEMPLATED: dict[tuple[str, str], list[dict]] = {}
_FILES: dict[tuple[str, str], Path] = {}


def helm_template(chart: Path, arch: dict, values: str, out: Path | None = None) -> list[dict]:
    """`helm template` with one values file, into the project's namespace, for the target Kubernetes version."""
    proc = run_tool(
        ["helm", "template", RELEASE, str(chart), "--namespace", arch["project"]["id"], "-f", str(chart / values),
         "--kube-version", f"{_kube(arch)}.0"]
    )
    assert proc.returncode == 0, proc.stderr
    if out is not None:
        out.write_text(proc.stdout, encoding="utf-8")
    docs = []
    for text in re.split(r"^---\s*$", proc.stdout, flags=re.M):
        source = re.search(r"^# Source: (\S+)", text, flags=re.M)
        doc = yaml.safe_load(text)
        if doc:
            doc["__source"] = source.group(1) if source else None
            docs.append(doc)
    return docs


@pytest.fixture(scope="session")
def manifests_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("helm-manifests")


@pytest.fixture(scope="session")
def manifests(rendered, manifests_root):
    """manifests(example, env) -> the documents `helm template` renders with values-<env>.yaml (cached)."""

    def _get(example: str, env: str) -> list[dict]:
        if (example, env) not in _TEMPLATED:
            arch = _arch(example)
            out = manifests_root / f"{example}-{env}" / "manifests.yaml"
            out.parent.mkdir(exist_ok=True)
            _TEMPLATED[example, env] = helm_template(_chart_dir(rendered(example, "helm"), arch), arch, f"values-{env}.yaml", out)
            _FILES[example, env] = out
        return _TEMPLATED[example, env]

    return _get


def _cases() -> list[tuple[str, str]]:
    return [(ex, env) for ex in EXAMPLES for env in _envs(_arch(ex))]


def _by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["labels"][NAME]: d for d in docs if d["kind"] == kind and "helm.sh/hook" not in d["metadata"].get("annotations", {})}


def _selector(svc: dict) -> dict:
    return {NAME: svc["id"], INSTANCE: RELEASE}


def _ingress_expected(svc: dict) -> bool:
    """A public web service with an HTTP(S)/gRPC port and long-running pods (helm.has_ingress)."""
    return (svc["zone"] == "public" and svc["kind"] in HTTP_INGRESS_KINDS and svc["workload"] in ("deployment", "statefulset")
            and any(p["protocol"] == "TCP" and p["app_protocol"] in ("http", "https", "grpc") for p in svc["ports"]))


# ---------------------------------------------------------------------------- layout, values, schema


@pytest.mark.parametrize("example", EXAMPLES)
def test_chart_layout_follows_helm_create(rendered, example):
    arch = _arch(example)
    chart = _chart_dir(rendered(example, "helm"), arch)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2" and meta["name"] == arch["project"]["id"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", meta["version"]) and meta["appVersion"] not in ("", "latest")
    names = {p.name for p in (chart / "templates").iterdir()}
    assert {"_helpers.tpl", "NOTES.txt", "workloads.yaml", "service.yaml", "serviceaccount.yaml", "hpa.yaml", "pdb.yaml",
            "ingress.yaml", "tests"} <= names
    assert (chart / "templates/tests/test-connection.yaml").is_file()
    helpers = (chart / "templates/_helpers.tpl").read_text()
    for helper in ("name", "fullname", "chart", "labels", "selectorLabels"):
        assert f'define "{arch["project"]["id"]}.{helper}"' in helpers
    assert "trunc 63" in helpers
    for env in _envs(arch):
        assert (chart / f"values-{env}.yaml").is_file()
    for path in chart.rglob("*"):
        if path.is_file():
            assert path.read_text().endswith("\n"), path


def _key_lines(text: str):
    for number, line in enumerate(text.splitlines()):
        match = re.match(r'^(\s*)(?:"([^"]+)"|([A-Za-z0-9_.-]+)):(\s|$)', line)
        if match:
            yield number, match.group(2) or match.group(3)


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_values_key_is_documented(rendered, example):
    arch = _arch(example)
    chart = _chart_dir(rendered(example, "helm"), arch)
    for values in sorted(chart.glob("values*.yaml")):
        lines = values.read_text().splitlines()
        assert lines[0] == "# yaml-language-server: $schema=values.schema.json", values
        for number, key in _key_lines(values.read_text()):
            above = lines[number - 1].strip()
            assert above.startswith(f"# {key} "), f"{values.name}:{number + 1}: {key} has no comment beginning with its name"


@pytest.mark.parametrize("example", EXAMPLES)
def test_lint_strict_with_every_values_file(rendered, example):
    arch = _arch(example)
    chart = _chart_dir(rendered(example, "helm"), arch)
    for values in ["values.yaml", *(f"values-{env}.yaml" for env in _envs(arch))]:
        proc = run_tool(["helm", "lint", "--strict", str(chart), "-f", str(chart / values)])
        assert proc.returncode == 0, f"{values}: {proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("example", EXAMPLES)
def test_schema_rejects_wrong_types_unknown_keys_and_latest(rendered, example):
    arch = _arch(example)
    chart = _chart_dir(rendered(example, "helm"), arch)
    first = arch["services"][0]["id"]
    bad = {
        f"services.{first}.replicas=many": "replicas",
        f"services.{first}.autoscaling.enabled=yes please": "enabled",
        f"services.{first}.replica=2": "replica",
        "image.tag=latest": "tag",
        "securityContext.runAsUser=0": "runAsUser",
        "services.no-such-service.replicas=1": "no-such-service",  # a typo'd service id in an env file
    }
    for setting, field in bad.items():
        proc = run_tool(["helm", "lint", "--strict", str(chart), "--set", setting])
        assert proc.returncode != 0, f"--set {setting} was accepted"
        assert field in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_latest_tag_fails_the_render_even_without_schema(rendered, tmp_path):
    """The template refuses `latest` itself, so a chart copied without its schema still never ships it."""
    arch = _arch(EXAMPLES[0])
    chart = tmp_path / "chart"
    shutil.copytree(_chart_dir(rendered(EXAMPLES[0], "helm"), arch), chart)
    (chart / "values.schema.json").unlink()
    first = arch["services"][0]["id"]
    proc = run_tool(["helm", "template", RELEASE, str(chart), "--set", f"services.{first}.image.tag=latest"])
    assert proc.returncode != 0 and "latest" in proc.stderr


@pytest.mark.parametrize("example", EXAMPLES)
def test_environments_differ(rendered, example):
    arch = _arch(example)
    chart = _chart_dir(rendered(example, "helm"), arch)
    envs = _envs(arch)
    values = {env: yaml.safe_load((chart / f"values-{env}.yaml").read_text())["services"] for env in envs}
    domain = arch["targets"]["domain"]
    for svc in arch["services"]:
        if "dev" in values:
            dev = values["dev"][svc["id"]]
            assert dev["replicas"] <= 1 and dev["autoscaling"]["enabled"] is False
        if "prod" in values and not svc["scalable"]:
            prod = values["prod"][svc["id"]]
            assert prod["replicas"] <= 1 and prod["autoscaling"]["enabled"] is False  # one scheduler or writer
        elif "prod" in values and svc["replicas"] > 0:
            prod = values["prod"][svc["id"]]
            assert prod["autoscaling"]["enabled"] and prod["autoscaling"]["minReplicas"] >= 2
            if "staging" in values:
                assert prod["autoscaling"]["maxReplicas"] > values["staging"][svc["id"]]["autoscaling"]["maxReplicas"]
        hosts = [values[env][svc["id"]].get("ingress", {}).get("host") for env in envs]
        if _ingress_expected(svc):
            assert len(set(hosts)) == len(envs) and all(h.endswith("." + domain) for h in hosts), hosts
        else:
            assert hosts == [None] * len(envs)


# ---------------------------------------------------------------------------- real validators on the rendered manifests


@pytest.mark.parametrize(("example", "env"), _cases())
def test_manifests_pass_kubernetes_validate_strict(manifests, example, env):
    manifests(example, env)
    out = _FILES[example, env]
    proc = run_tool(["kubernetes-validate", "--strict", "--quiet", "-k", _kube(_arch(example)), str(out)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def checkov_report(manifests, manifests_root) -> dict:
    """One checkov run over the manifests of every example and environment (checkov's start-up dominates its time)."""
    for example, env in _cases():
        manifests(example, env)
    return checkov(manifests_root)


@pytest.mark.slow  # checkov (the adapter itself is tested in tests/check)
@pytest.mark.parametrize(("example", "env"), _cases())
def test_checkov_finds_no_failed_check(checkov_report, example, env):
    mine = [c for c in checkov_report["results"]["passed_checks"] if f"/{example}-{env}/" in c["file_abs_path"]]
    assert len(mine) > 100  # the manifests were scanned: ~10 resources x dozens of checks
    assert checkov_report["summary"]["parsing_errors"] == 0


# Checks the chart suppresses, each on the resource it concerns and with its reason (see the baseline ADR).
ALLOWED_SKIPS = {"CKV_K8S_8", "CKV_K8S_9", "CKV_K8S_22", "CKV_K8S_35", "CKV_K8S_43", "CKV2_K8S_6"}


def checkov(folder: Path, framework: str = "kubernetes", allowed: set[str] = ALLOWED_SKIPS) -> dict:
    """checkov on a folder: no failed check, and only the known suppressions, each with a reason."""
    proc = run_tool(["checkov", "-d", str(folder), "--framework", framework, "--skip-download", "--compact", "-o", "json"])
    report = json.loads(proc.stdout)
    assert isinstance(report, dict) and report["check_type"] == framework, proc.stdout[:500]
    failed = report["results"]["failed_checks"]
    assert failed == [], [(f["check_id"], f["resource"]) for f in failed]
    for skipped in report["results"]["skipped_checks"]:
        assert skipped["check_id"] in allowed, skipped["check_id"]
        assert len(skipped["check_result"].get("suppress_comment") or "") > 30, skipped  # every skip carries a reason
    assert proc.returncode == 0, proc.stderr
    return report


@pytest.mark.slow  # checkov
def test_checkov_helm_framework_on_the_charts(rendered, tmp_path):
    """checkov's own helm runner (what `phasekit check` meets) renders without --namespace: only then is
    CKV_K8S_21 suppressed, by an annotation that says so."""
    for example in EXAMPLES:
        arch = _arch(example)
        shutil.copytree(_chart_dir(rendered(example, "helm"), arch), tmp_path / arch["project"]["id"])
    report = checkov(tmp_path, "helm", ALLOWED_SKIPS | {"CKV_K8S_21"})
    assert report["summary"]["passed"] > 100 * len(EXAMPLES)
    charts = {Path(c["file_path"]).parts[1] for c in report["results"]["passed_checks"]}
    assert charts == {_arch(example)["project"]["id"] for example in EXAMPLES}


# ---------------------------------------------------------------------------- the manifests match the architecture


def _restricted(pod_spec: dict, own: bool = True) -> None:
    pod_sc = pod_spec.get("securityContext", {})
    assert pod_spec.get("automountServiceAccountToken") is False
    assert not pod_spec.get("hostNetwork") and not pod_spec.get("hostPID") and not pod_spec.get("hostIPC")
    for container in pod_spec["containers"] + pod_spec.get("initContainers", []):
        sc = container["securityContext"]
        assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True
        assert sc.get("runAsUser", pod_sc.get("runAsUser")) > (10000 if own else 0)
        assert sc["allowPrivilegeEscalation"] is False and sc.get("privileged") is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc.get("seccompProfile", pod_sc.get("seccompProfile")) == {"type": "RuntimeDefault"}
        assert sc["readOnlyRootFilesystem"] is own  # a third-party image writes where its authors put its files
        assert not container["image"].endswith(":latest") and re.search(r"(:[\w.-]+|@sha256:[a-f0-9]{64})$", container["image"])
        assert container["imagePullPolicy"] == "Always"
        for limits in ("requests", "limits"):
            assert set(container["resources"][limits]) == {"cpu", "memory"}


def _expected_probe(probe: dict) -> dict | None:
    if probe["type"] == "none":
        return None
    if probe["type"] == "http":
        action = {"httpGet": {"path": probe["path"], "port": probe["port"]}}
    elif probe["type"] == "tcp":
        action = {"tcpSocket": {"port": probe["port"]}}
    else:
        action = {"exec": {"command": probe["command"]}}
    names = {"initial_delay_seconds": "initialDelaySeconds", "period_seconds": "periodSeconds",
             "timeout_seconds": "timeoutSeconds", "failure_threshold": "failureThreshold"}
    return action | {camel: probe[snake] for snake, camel in names.items() if snake in probe}


@pytest.mark.parametrize(("example", "env"), _cases())
def test_manifests_match_the_architecture(manifests, example, env):
    arch = _arch(example)
    check_against_architecture(arch, manifests(example, env), env)


WORKLOAD_KINDS = {"deployment": "Deployment", "statefulset": "StatefulSet", "job": "Job", "cronjob": "CronJob"}


def _pod(doc: dict) -> dict:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return spec["template"]


def check_against_architecture(arch: dict, docs: list[dict], env: str | None) -> None:
    """Each service and datastore of the architecture, faithfully: its workload kind, its own image unless we
    build it, its command, every port, probes, env by reference, data on claims, config from files/."""
    project = arch["project"]["id"]
    external = {d["id"] for d in arch["datastores"] if d["managed"] or env in d["external_in"]}
    active = arch["services"] + [d for d in arch["datastores"] if d["id"] not in external]
    workloads = {d["spec"]["selector"]["matchLabels"][NAME] if "selector" in d["spec"] else _pod(d)["metadata"]["labels"][NAME]: d
                 for d in docs if d["kind"] in WORKLOAD_KINDS.values()}
    services = _by_kind(docs, "Service")
    pdbs = _by_kind(docs, "PodDisruptionBudget")
    hpas = _by_kind(docs, "HorizontalPodAutoscaler")
    ingresses = _by_kind(docs, "Ingress")
    accounts = _by_kind(docs, "ServiceAccount")
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert set(workloads) == set(accounts) == {s["id"] for s in active}
    long_running = [s for s in active if s.get("workload", "statefulset") in ("deployment", "statefulset")]
    assert set(services) == {s["id"] for s in long_running if s["ports"] or s.get("stateful")} | external
    assert set(ingresses) == {s["id"] for s in arch["services"] if _ingress_expected(s)}
    assert not [d for d in docs if d["kind"] == "Secret"], "the chart must not carry secret values"
    config_maps = [d for d in docs if d["kind"] == "ConfigMap"]
    assert all(d["metadata"]["name"].endswith("-files") for d in config_maps), "only copies of the compose config files"
    kinds_by_source: dict[str, set[str]] = {}
    for doc in docs:
        kinds_by_source.setdefault(doc["__source"], set()).add(doc["kind"])
    assert all(len(kinds) == 1 for src, kinds in kinds_by_source.items() if not src.endswith("workloads.yaml")), kinds_by_source
    names = [(doc["kind"], doc["metadata"]["name"]) for doc in docs]
    assert len(names) == len(set(names)) and all(len(name) <= 63 for _, name in names), names
    for doc in docs:
        assert doc["metadata"]["namespace"] == project
        assert doc["metadata"]["labels"][PART_OF] == project
    for svc in active:
        sid = svc["id"]
        store = "engine" in svc
        workload = "statefulset" if store else svc["workload"]
        dep = workloads[sid]
        assert dep["kind"] == WORKLOAD_KINDS[workload], (sid, dep["kind"])
        template = _pod(dep)
        labels = template["metadata"]["labels"]
        assert labels[NAME] == sid and labels[INSTANCE] == RELEASE and labels[PART_OF] == project
        assert labels["app.kubernetes.io/component"] == ("datastore" if store else svc["kind"])
        pod = template["spec"]
        _restricted(pod, own="build" in svc or "image" not in svc)
        (container,) = pod["containers"]
        if "build" in svc or "image" not in svc:
            assert container["image"].startswith(f"{arch['targets']['registry']}/{sid}:")
        else:
            assert container["image"] == svc["image"], "a third-party image runs as compose runs it"
        assert container.get("args") == (_k8s(svc["command"]) if "command" in svc else None)
        assert container.get("command") == (_k8s(svc["entrypoint"]) if "entrypoint" in svc else None)
        assert container.get("ports", []) == [{"name": p["name"], "containerPort": p["port"], "protocol": p["protocol"]} for p in svc["ports"]]
        if workload in ("job", "cronjob"):
            assert not any(f"{probe}Probe" in container for probe in ("liveness", "readiness", "startup"))
            assert pod["restartPolicy"] == "OnFailure" and sid not in hpas and sid not in pdbs
        elif "health" in svc:
            for probe in ("liveness", "readiness", "startup"):
                assert container.get(f"{probe}Probe") == _expected_probe(svc["health"][probe]), (sid, probe)
        for probe in ("liveness", "readiness", "startup"):
            action = container.get(f"{probe}Probe", {})
            if "httpGet" in action:  # never HTTP on a port that speaks something else
                port = next(p for p in svc["ports"] if p["port"] == action["httpGet"]["port"])
                assert port["protocol"] == "TCP" and port["app_protocol"] in ("http", "https", "grpc"), (sid, probe)
        env_vars = {e["name"]: e for e in container.get("env", [])}
        assert set(env_vars) == set(svc["env"]) | set(svc["secrets"])
        for name, var in env_vars.items():
            assert "value" not in var and set(var) == {"name", "valueFrom"}
            if name in svc["secrets"]:
                assert var["valueFrom"] == {"secretKeyRef": {"name": f"{sid}-secrets", "key": name}}
            else:
                assert var["valueFrom"] == {"configMapKeyRef": {"name": f"{sid}-config", "key": name}}
        # mounts: /tmp, then every compose mount by its kind; data never on an emptyDir
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        portable = [v for v in svc.get("volumes", []) if v["type"] in ("data", "config", "tmpfs")]
        assert set(mounts) == {"/tmp", *svc.get("writable_paths", []), *(v["target"] for v in portable)}
        for vol in portable:
            source = volumes[mounts[vol["target"]]["name"]]
            if vol["type"] == "data":
                assert source["persistentVolumeClaim"]["claimName"] in claims, (sid, vol)
            elif vol["type"] == "tmpfs":
                assert source["emptyDir"] == {"medium": "Memory"}
            else:
                assert ("secret" if vol.get("secret") else "configMap") in source, (sid, vol)
        host = [v["target"] for v in svc.get("volumes", []) if v["type"] == "host"]
        assert dep["metadata"]["annotations"].get("phasekit.dev/not-portable", "") == ",".join(host)
        assert pod["serviceAccountName"] == accounts[sid]["metadata"]["name"]
        assert accounts[sid]["automountServiceAccountToken"] is False
        if workload in ("job", "cronjob"):
            continue
        assert dep["spec"]["selector"] == {"matchLabels": _selector(svc)}
        if sid in services:
            spec = services[sid]["spec"]
            assert spec["selector"] == _selector(svc)
            assert (spec.get("clusterIP") == "None") == bool(svc.get("stateful"))
            assert spec.get("ports", []) == [
                {"name": p["name"], "port": p["port"], "targetPort": p["name"], "protocol": p["protocol"]} for p in svc["ports"]
            ]
        floor = hpas[sid]["spec"]["minReplicas"] if sid in hpas else dep["spec"]["replicas"]
        if sid in hpas:
            assert "replicas" not in dep["spec"] and hpas[sid]["spec"]["scaleTargetRef"] == {
                "apiVersion": "apps/v1", "kind": dep["kind"], "name": dep["metadata"]["name"]}
            assert hpas[sid]["spec"]["maxReplicas"] >= floor
        if store or not svc["scalable"]:
            assert sid not in hpas and dep["spec"]["replicas"] <= 1, "a single writer is never scaled"
        elif env == "dev":
            assert sid not in hpas and dep["spec"]["replicas"] == min(svc["replicas"], 1)
        elif env == "prod" and svc["replicas"] > 0:
            assert floor >= 2
        if floor == 0:
            assert sid not in pdbs
        else:
            spec = pdbs[sid]["spec"]
            assert spec["selector"] == {"matchLabels": _selector(svc)}
            if floor >= 2:
                assert spec == spec | {"minAvailable": floor - 1} and "maxUnavailable" not in spec
            else:
                assert spec.get("maxUnavailable") == 1 and "minAvailable" not in spec
        if sid in ingresses:
            rule = ingresses[sid]["spec"]["rules"][0]
            assert rule["host"].endswith(arch["targets"]["domain"])
            backend = rule["http"]["paths"][0]["backend"]["service"]
            assert backend["name"] == services[sid]["metadata"]["name"]
            assert backend["port"]["name"] in {p["name"] for p in svc["ports"]}
    for sid in external:
        assert services[sid]["spec"]["type"] == "ExternalName"
    tests = [d for d in docs if d["kind"] == "Pod"]
    assert {t["metadata"]["annotations"]["helm.sh/hook"] for t in tests} <= {"test"}
    assert len(tests) == len([s for s in long_running if any(p["protocol"] == "TCP" for p in s["ports"]) and s.get("replicas", 1) > 0])
    for test in tests:
        _restricted(test["spec"])
        assert test["metadata"]["labels"][NAME] not in workloads


def _k8s(words: list[str]) -> list[str]:
    return [re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}", r"$(\1)", w) for w in words]


# ---------------------------------------------------------------------------- corners the bundled examples do not reach

EDGE_ARCH = {
    "version": 1,
    "project": {"name": "Edge Cases"},
    "services": [
        {"name": "peer_store", "kind": "tcp", "stateful": True, "replicas": 3, "zone": "private",
         "ports": [{"port": 7000}, {"port": 7001, "protocol": "UDP"}], "writable_paths": ["/data", "/var/cache/x", "/tmp"],
         "secrets": ["PEER_KEY"], "env": ["CLUSTER_NAME", "PEER_KEY"]},
        {"name": "nightly.job", "kind": "cron", "replicas": 1},
        {"name": "idle", "kind": "worker", "replicas": 0},
        {"name": "ingest_worker_for_the_nightly_partner_feed_reconciliation_a", "kind": "worker"},
        {"name": "ingest_worker_for_the_nightly_partner_feed_reconciliation_b", "kind": "worker"},
        {"name": "edge_tcp", "kind": "tcp", "zone": "public", "ports": [{"port": 9000}]},
        {"name": "web", "kind": "http", "zone": "public", "replicas": 4, "ports": [{"port": 8080}, {"port": 9090, "name": "metrics"}],
         "health": {"liveness": {"type": "http", "path": "/live", "port": 8080, "period_seconds": 5, "failure_threshold": 2},
                    "readiness": {"type": "none"}, "startup": {"type": "tcp", "port": 8080, "initial_delay_seconds": 3}}},
    ],
    "environments": ["dev", "prod"],
    "targets": {"kubernetes_version": "1.25", "registry": "registry.example.org:5000/team", "domain": "edge.test"},
}


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    root = render_arch(EDGE_ARCH, tmp_path_factory.mktemp("helm-edge"), "helm")
    arch = model.validate(EDGE_ARCH, "test")
    return arch, _chart_dir(root, arch)


def test_edge_cases_render_valid_and_match(edge, tmp_path):
    arch, chart = edge
    assert not (chart / "values-staging.yaml").exists()  # only the environments the architecture lists
    proc = run_tool(["helm", "lint", "--strict", str(chart)])
    assert proc.returncode == 0, proc.stdout
    all_docs = {}
    for env in ("dev", "prod"):
        proc = run_tool(["helm", "lint", "--strict", str(chart), "-f", str(chart / f"values-{env}.yaml")])
        assert proc.returncode == 0, proc.stdout
        out = tmp_path / env / "manifests.yaml"
        out.parent.mkdir()
        docs = helm_template(chart, arch, f"values-{env}.yaml", out)
        check_against_architecture(arch, docs, env)
        proc = run_tool(["kubernetes-validate", "--strict", "--quiet", "-k", "1.25", str(out)])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # no unhealthyPodEvictionPolicy before Kubernetes 1.27
        assert all("unhealthyPodEvictionPolicy" not in d["spec"] for d in docs if d["kind"] == "PodDisruptionBudget")
        all_docs[env] = docs
    checkov(tmp_path)
    for docs in all_docs.values():
        deployments = {**_by_kind(docs, "Deployment"), **_by_kind(docs, "StatefulSet")}
        skips = deployments["nightly-job"]["metadata"]["annotations"]
        assert any(v.startswith("CKV_K8S_8=") for v in skips.values()) and any(v.startswith("CKV_K8S_9=") for v in skips.values())
        assert any(v.startswith("CKV_K8S_35=") for v in deployments["peer-store"]["metadata"]["annotations"].values())
        assert not any(v.startswith("CKV_K8S_35=") for v in deployments["web"]["metadata"]["annotations"].values())


def test_pdb_min_available_override(edge):
    _, chart = edge
    proc = run_tool(["helm", "template", RELEASE, str(chart), "-f", str(chart / "values-prod.yaml"),
                     "--set", "services.web.podDisruptionBudget.minAvailable=50%", "--show-only", "templates/pdb.yaml"])
    assert proc.returncode == 0, proc.stderr
    pdbs = {d["metadata"]["labels"][NAME]: d for d in yaml.safe_load_all(proc.stdout) if d}
    assert pdbs["web"]["spec"]["minAvailable"] == "50%"


def test_notes_list_services_urls_and_expected_references(edge, tmp_path):
    """NOTES.txt, rendered through `tpl` (helm template skips NOTES and install needs a cluster)."""
    arch, chart = edge
    copy = tmp_path / "chart"
    shutil.copytree(chart, copy)
    (copy / "templates/NOTES.txt").rename(copy / "notes-src.txt")
    (copy / "templates/notes.yaml").write_text('notes: {{ tpl (.Files.Get "notes-src.txt") . | toJson }}\n')
    proc = run_tool(["helm", "template", RELEASE, str(copy), "-n", "edge", "-f", str(copy / "values-prod.yaml"),
                     "--show-only", "templates/notes.yaml"])
    assert proc.returncode == 0, proc.stderr
    notes = yaml.safe_load(proc.stdout)["notes"]
    for svc in arch["services"]:
        assert f"- {svc['name']} ({svc['kind']}, {svc['zone']} zone)" in notes
    assert "https://web.edge.test/" in notes and "edge-tcp.edge.test" not in notes
    assert "Secret peer-store-secrets with keys: PEER_KEY" in notes
    assert "ConfigMap peer-store-config with keys: CLUSTER_NAME\n" in notes  # PEER_KEY comes from the Secret only


def test_render_is_deterministic(edge, tmp_path):
    _, chart = edge
    again = render_arch(EDGE_ARCH, tmp_path / "again", "helm")
    first = {p.relative_to(chart): p.read_bytes() for p in chart.rglob("*") if p.is_file()}
    second = {p.relative_to(_chart_dir(again, model.validate(EDGE_ARCH, "test"))): p.read_bytes()
              for p in _chart_dir(again, model.validate(EDGE_ARCH, "test")).rglob("*") if p.is_file()}
    assert first == second


def test_chart_never_asks_for_secret_values(edge):
    _, chart = edge
    text = "\n".join(p.read_text() for p in chart.rglob("*") if p.is_file())
    assert "kind: Secret" not in text and "stringData" not in text
    assert not re.search(r"^\s*value:", text, flags=re.M)


def test_a_datastore_external_in_prod_is_deployed_elsewhere(tmp_path):
    """external_in: the chart runs postgres in dev and points at the managed endpoint in prod, under the same
    Service name, so the apps' host name does not change (never silently absent)."""
    arch = {"version": 1, "project": {"name": "shop"}, "environments": ["dev", "prod"],
            "services": [{"name": "api", "build": {"context": "./api"}, "ports": [{"port": 8000}], "depends_on": ["db"]}],
            "datastores": [{"name": "db", "engine": "postgres", "image": "postgres:16.4", "external_in": ["prod"],
                            "endpoint": "shop.cluster-1.eu-west-1.rds.amazonaws.com",
                            "volumes": [{"target": "/var/lib/postgresql/data", "type": "data", "source": "pgdata"}]}]}
    render_arch(arch, tmp_path, "helm")
    validated = model.validate(arch, "test")
    chart = tmp_path / "charts" / "shop"
    for env in ("dev", "prod"):
        docs = helm_template(chart, validated, f"values-{env}.yaml")
        check_against_architecture(validated, docs, env)
        kinds = {(d["kind"], d["metadata"]["labels"].get(NAME)) for d in docs}
        if env == "dev":
            assert ("StatefulSet", "db") in kinds
        else:
            assert ("StatefulSet", "db") not in kinds
            (external,) = [d for d in docs if d["kind"] == "Service" and d["metadata"]["labels"][NAME] == "db"]
            assert external["spec"] == {"type": "ExternalName", "externalName": "shop.cluster-1.eu-west-1.rds.amazonaws.com"}


def test_claims_exist_and_a_folder_two_services_share_is_one_claim(tmp_path):
    """A data volume after a config file still finds its claim; a bind-mounted folder that a writer and a reader
    share in compose is one claim here, an anonymous volume is one per service."""
    arch = {
        "version": 1, "project": {"name": "files"},
        "services": [
            {"name": "writer", "image": "example/writer:1.0", "ports": [{"port": 5000}],
             "volumes": [{"target": "/etc/w.conf", "type": "config", "source": "w.conf"},
                         {"target": "/data", "type": "data", "source": "volumes/storage"},
                         {"target": "/scratch", "type": "data"}]},
            {"name": "reader", "image": "example/reader:1.0", "ports": [{"port": 5001}],
             "volumes": [{"target": "/srv", "type": "data", "source": "volumes/storage"}]},
        ],
    }
    (tmp_path / "w.conf").write_text("x = 1\n")
    render_arch(arch, tmp_path, "helm")
    arch = model.validate(arch, "test")
    docs = helm_template(_chart_dir(tmp_path, arch), arch, "values.yaml")
    pvcs = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    used = {}
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            pod = doc["spec"]["template"]["spec"]
            mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0].get("volumeMounts", [])}
            for vol in pod.get("volumes", []):
                if "persistentVolumeClaim" in vol:
                    used[mounts[vol["name"]]] = vol["persistentVolumeClaim"]["claimName"]
    assert set(used) == {"/data", "/scratch", "/srv"}
    assert set(used.values()) <= pvcs, (used, pvcs)
    assert used["/data"] == used["/srv"] != used["/scratch"]


def test_every_environment_gets_a_values_file(tmp_path):
    """One values-<env>.yaml per environment of the architecture, as terraform writes one <env>.tfvars: a name
    other than dev/staging/prod gets the profile its place implies (the production one like prod, the first
    like dev, any other like staging), and each lints, renders and matches the architecture."""
    arch = _arch("insights")
    arch["environments"] = ["local", "qa", "staging", "production"]
    arch["datastores"][0].update(external_in=["qa"], endpoint="db.qa.example.net")
    validated = model.validate(arch, "test")
    render_arch(validated, tmp_path, "helm", "terraform")
    chart = _chart_dir(tmp_path, validated)
    assert sorted(p.name for p in chart.glob("values-*.yaml")) == [
        "values-local.yaml", "values-production.yaml", "values-qa.yaml", "values-staging.yaml"]
    assert sorted(p.name for p in (tmp_path / "terraform" / "environments").glob("*.tfvars")) == [
        "local.tfvars", "production.tfvars", "qa.tfvars", "staging.tfvars"]
    values = {env: yaml.safe_load((chart / f"values-{env}.yaml").read_text())["services"] for env in arch["environments"]}
    scalable = next(s for s in validated["services"] if s["scalable"] and s["replicas"] > 0 and _ingress_expected(s))
    local, qa, staging, production = (values[env][scalable["id"]] for env in arch["environments"])
    domain = validated["targets"]["domain"]
    assert local["autoscaling"]["enabled"] is False and local["replicas"] == 1 and "resources" in local
    assert qa == {**staging, "ingress": {"host": f"{scalable['id']}.qa.{domain}", "tlsSecretName": f"{scalable['id']}-qa-tls"}}
    assert production["autoscaling"]["minReplicas"] >= 2
    assert production["autoscaling"]["maxReplicas"] == 4 * production["autoscaling"]["minReplicas"]
    assert production["ingress"]["host"] == f"{scalable['id']}.{domain}"
    store = validated["datastores"][0]
    assert values["qa"][store["id"]] == {"external": True, "endpoint": "db.qa.example.net"}
    assert store["id"] not in values["staging"]
    for env in arch["environments"]:
        proc = run_tool(["helm", "lint", "--strict", str(chart), "-f", str(chart / f"values-{env}.yaml")])
        assert proc.returncode == 0, proc.stdout + proc.stderr
        check_against_architecture(validated, helm_template(chart, validated, f"values-{env}.yaml"), env)


def test_one_ingress_rule_for_values_and_every_environment(tmp_path):
    """values.yaml enables an Ingress and values-<env>.yaml sets its host by one rule (helm.has_ingress): a
    public web service with an HTTP(S)/gRPC port and long-running pods. The per-environment files used to ask
    only for a TCP port, so a public `http` service whose only port speaks SMTP, and a public one-shot job,
    got a host and TLS secret per environment for an Ingress the chart never renders."""
    arch = model.validate({
        "version": 1,
        "project": {"name": "Ingress Rule"},
        "environments": ["dev", "prod"],
        "services": [
            {"name": "web", "kind": "http", "zone": "public", "ports": [{"port": 8080}]},
            {"name": "mailer", "kind": "http", "zone": "public", "ports": [{"port": 25}]},
            {"name": "setup", "kind": "http", "zone": "public", "one_shot": True, "ports": [{"port": 8080}]},
        ],
    }, "test")
    assert [p["app_protocol"] for s in arch["services"] for p in s["ports"]] == ["http", "smtp", "http"]
    assert [s["workload"] for s in arch["services"]] == ["deployment", "deployment", "job"]
    render_arch(arch, tmp_path, "helm")
    chart = _chart_dir(tmp_path, arch)
    values = yaml.safe_load((chart / "values.yaml").read_text(encoding="utf-8"))["services"]
    assert {sid: v["ingress"]["enabled"] for sid, v in values.items()} == {"web": True, "mailer": False, "setup": False}
    assert [s["id"] for s in arch["services"] if _ingress_expected(s)] == ["web"]
    domain = arch["targets"]["domain"]
    for env, host in (("dev", f"web.dev.{domain}"), ("prod", f"web.{domain}")):
        overrides = yaml.safe_load((chart / f"values-{env}.yaml").read_text(encoding="utf-8"))["services"]
        assert {sid for sid, v in overrides.items() if "ingress" in v} == {"web"}, env
        assert overrides["web"]["ingress"] == {"host": host, "tlsSecretName": f"web-{env}-tls"}
        ingresses = [d for d in helm_template(chart, arch, f"values-{env}.yaml") if d["kind"] == "Ingress"]
        assert [d["spec"]["rules"][0]["host"] for d in ingresses] == [host], env
