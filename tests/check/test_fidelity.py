"""The fidelity check (issue 12 contract): every kind of loss between a compose file and the rendered
Kubernetes/Terraform output is reported, one line naming the service and what was lost; the faithful
rendering passes. Compose is read by the real `docker compose config`; manifests are hand-written."""

from __future__ import annotations

import copy
import os
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from phasekit import check
from phasekit.capture.compose import compose_command
from phasekit.check import Status
from phasekit.check.fidelity import chart_rules, compose_side, edges, terraform_side
from phasekit.check.fidelity.chart_side import Rendered

NS = "demo"
COMPOSE = """\
services:
  web:
    image: nginx:1.27
    entrypoint: ["/docker-entrypoint.sh"]
    command: ["nginx", "-g", "daemon off;"]
    ports: ["8080:80"]
    volumes:
      - ./nginx.conf:/etc/nginx/nginx.conf:ro
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost/health"]
    depends_on: [api]
    restart: unless-stopped
  api:
    build: ./api
    expose: ["9000"]
    environment:
      DATABASE_URL: postgres://app@db:5432/app
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -h db"]
  db:
    image: postgres:16
    volumes: [pgdata:/var/lib/postgresql/data]
    tmpfs: [/var/run/postgresql]
  dns:
    image: coredns/coredns:1.11.1
    ports: ["53:53/udp"]
  seed:
    image: ${SEED_IMAGE:?set it}
    restart: "no"
    depends_on: [db]
volumes: {pgdata: {}}
"""


def _compose_project(folder: Path, text: str = COMPOSE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compose.yaml").write_text(text, encoding="utf-8")
    (folder / "nginx.conf").write_text("events {}\n", encoding="utf-8")
    (folder / "api").mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, compose_side.Service]:
    folder = _compose_project(tmp_path_factory.mktemp("compose"))
    ctx = check.Context(root=folder, env={k: v for k, v in os.environ.items() if k != "SEED_IMAGE"})
    return {s.name: s for s in compose_side.load(ctx, compose_command(), [folder / "compose.yaml"], {})}


# --- hand-written manifests: the faithful rendering of COMPOSE ------------------------------------------------
def labels(service_id: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": service_id, "app.kubernetes.io/part-of": NS}


def workload(kind: str, service_id: str, container: dict, volumes: list | None = None, **spec: Any) -> dict:
    pod = {"metadata": {"labels": labels(service_id)}, "spec": {"containers": [{"name": service_id, **container}],
                                                                 "volumes": volumes or []}}
    body: dict[str, Any] = {"template": pod, **spec}
    if kind == "CronJob":
        body = {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": pod}}}
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": f"demo-{service_id}", "namespace": NS},
            "spec": body}


def service(service_id: str, *ports: tuple[int, Any, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"demo-{service_id}", "namespace": NS},
            "spec": {"selector": labels(service_id),
                     "ports": [{"port": p, "targetPort": t, "protocol": proto} for p, t, proto in ports]}}


def faithful() -> list[dict]:
    return [
        workload("Deployment", "web", {
            "image": "nginx:1.27", "command": ["/docker-entrypoint.sh"], "args": ["nginx", "-g", "daemon off;"],
            "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
            "livenessProbe": {"httpGet": {"path": "/health", "port": "http"}},
            "readinessProbe": {"httpGet": {"path": "/health", "port": 80}},
            "volumeMounts": [{"name": "conf", "mountPath": "/etc/nginx/nginx.conf", "subPath": "nginx.conf"}]},
            [{"name": "conf", "configMap": {"name": "demo-web-conf"}}], replicas=3),
        service("web", (80, "http", "TCP")),
        workload("Deployment", "api", {
            "image": "registry.example/api:0.1.0", "ports": [{"name": "http", "containerPort": 9000}],
            "livenessProbe": {"exec": {"command": ["/bin/sh", "-c", "pg_isready -h db"]}},
            "readinessProbe": {"tcpSocket": {"port": 9000}}}),
        service("api", (80, "http", "TCP")),
        workload("StatefulSet", "db", {
            "image": "postgres:16", "ports": [{"name": "postgres", "containerPort": 5432}],
            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"},
                             {"name": "run", "mountPath": "/var/run/postgresql"}]},
            [{"name": "run", "emptyDir": {"medium": "Memory"}}], replicas=1,
            volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]),
        service("db", (5432, "postgres", "TCP")),
        workload("Deployment", "dns", {"image": "coredns/coredns:1.11.1",
                                       "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"}]}),
        service("dns", (53, "dns", "UDP")),
        workload("Job", "seed", {"image": "phasekit-placeholder"}),
    ]


def policies() -> list[dict]:
    """Default deny + DNS + exactly the compose edges (web -> api, api -> db, seed -> db)."""
    def netpol(name: str, spec: dict) -> dict:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec}

    def sel(service_id: str) -> dict:
        return {"podSelector": {"matchLabels": labels(service_id)}}

    def edge(client: str, server: str, port: Any) -> list[dict]:
        return [netpol(f"{client}-to-{server}", {**sel(client), "policyTypes": ["Egress"],
                                                 "egress": [{"to": [sel(server)], "ports": [{"port": port}]}]}),
                netpol(f"{server}-from-{client}", {**sel(server), "policyTypes": ["Ingress"],
                                                   "ingress": [{"from": [sel(client)], "ports": [{"port": port}]}]})]

    dns = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
           "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    return [netpol("deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            netpol("dns", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [
                {"to": [dns], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}]}),
            *edge("web", "api", "http"), *edge("api", "db", 5432), *edge("seed", "db", 5432)]


def chart_losses(svc: compose_side.Service, docs: list[dict]) -> list[str]:
    return chart_rules.losses(svc, Rendered(docs, NS))[0]


def edge_losses(services: dict, docs: list[dict], netpols: list[dict]) -> list[str]:
    found = edges.losses(list(services.values()), Rendered(docs, NS), edges.policies_from(netpols, NS, {}), NS, NS)
    return [line for lines in found.values() for line in lines]


def find(docs: list[dict], kind: str, service_id: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == f"demo-{service_id}")


def container(docs: list[dict], service_id: str, kind: str = "Deployment") -> dict:
    return find(docs, kind, service_id)["spec"]["template"]["spec"]["containers"][0]


# --- the compose side -----------------------------------------------------------------------------------------
def test_compose_mapping(services: dict) -> None:
    web, api, db, dns, seed = (services[n] for n in ("web", "api", "db", "dns", "seed"))
    assert (web.image, web.build, web.entrypoint, web.command) == (
        "nginx:1.27", False, ["/docker-entrypoint.sh"], ["nginx", "-g", "daemon off;"])
    assert [(m.target, m.kind, m.file) for m in web.mounts] == [("/etc/nginx/nginx.conf", "config", True)]
    assert [(m.target, m.kind) for m in db.mounts] == [("/var/lib/postgresql/data", "data"), ("/var/run/postgresql", "tmpfs")]
    assert [str(p) for p in web.ports + api.ports + dns.ports] == ["80/tcp", "9000/tcp", "53/udp"]
    assert api.build and api.image is None and api.peers == {"db": {5432}}
    assert web.peers == {"api": set()} and not web.one_shot
    assert seed.one_shot and seed.image == "phasekit-placeholder"  # a required variable: placeholder, as capture
    assert web.healthcheck == ["CMD", "curl", "-f", "http://localhost/health"] and db.healthcheck is None


def test_faithful_rendering_has_no_loss(services: dict) -> None:
    docs = faithful()
    for svc in services.values():
        assert chart_losses(svc, docs) == [], svc.name
    assert edge_losses(services, docs, policies()) == []


# --- one loss at a time ---------------------------------------------------------------------------------------
def test_image_replaced(services: dict) -> None:
    docs = faithful()
    container(docs, "web")["image"] = "ghcr.io/example/web:0.1.0"
    assert chart_losses(services["web"], docs) == ["web: image nginx:1.27 became ghcr.io/example/web:0.1.0"]
    container(docs, "api")["image"] = "anything:1"  # built by us: any image is ours
    assert chart_losses(services["api"], docs) == []


def test_command_and_args_dropped(services: dict) -> None:
    docs = faithful()
    del container(docs, "web")["command"]
    assert chart_losses(services["web"], docs) == [
        "web: entrypoint [/docker-entrypoint.sh] dropped (container has no command)"]
    docs = faithful()
    del container(docs, "web")["args"]
    assert chart_losses(services["web"], docs) == ["web: command [nginx -g daemon off;] dropped (container has no args)"]
    docs = faithful()
    container(docs, "db", "StatefulSet")["args"] = ["-c", "fsync=off"]
    assert chart_losses(services["db"], docs) == ["db: container args [-c fsync=off] is set, compose has no command"]


def test_data_volume_on_empty_dir(services: dict) -> None:
    docs = faithful()
    sts = find(docs, "StatefulSet", "db")
    sts["spec"].pop("volumeClaimTemplates")
    sts["spec"]["template"]["spec"]["volumes"].append({"name": "data", "emptyDir": {}})
    assert chart_losses(services["db"], docs) == [
        "db: data volume /var/lib/postgresql/data (from pgdata) is on emptyDir, not a PersistentVolumeClaim"]
    sts["spec"]["template"]["spec"]["volumes"][-1] = {"name": "data", "persistentVolumeClaim": {"claimName": "x"}}
    assert chart_losses(services["db"], docs) == [
        "db: data volume /var/lib/postgresql/data is on claim x, which the chart does not create"]
    docs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "x", "namespace": NS}})
    assert chart_losses(services["db"], docs) == []


def test_a_folder_two_services_share_is_one_claim(tmp_path: Path) -> None:
    """compose's writer and reader of one folder (or named volume) must not get a claim each."""
    text = ("services:\n  writer:\n    image: example/writer:1\n    volumes: [./shared:/data]\n"
            "  reader:\n    image: example/reader:1\n    volumes: [./shared:/srv/files]\n")
    folder = _compose_project(tmp_path / "shared", text)
    found = {s.name: s for s in compose_side.load(check.Context(root=folder, env=dict(os.environ)), compose_command(),
                                                  [folder / "compose.yaml"], {})}

    def rendering(writer_claim: str, reader_claim: str) -> Rendered:
        return Rendered([
            workload("Deployment", "writer", {"image": "example/writer:1", "volumeMounts": [{"name": "d", "mountPath": "/data"}]},
                     [{"name": "d", "persistentVolumeClaim": {"claimName": writer_claim}}]),
            workload("Deployment", "reader", {"image": "example/reader:1",
                                              "volumeMounts": [{"name": "d", "mountPath": "/srv/files"}]},
                     [{"name": "d", "persistentVolumeClaim": {"claimName": reader_claim}}]),
            *({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": n}} for n in {writer_claim, reader_claim}),
        ], NS)

    apart = chart_rules.shared_data(list(found.values()), rendering("writer-data-0", "reader-data-0"))
    assert apart["writer"] == ["data volume /data (from ./shared) is shared in compose with reader (reader-data-0), "
                               "but here it is on its own claim writer-data-0"], apart
    assert apart["reader"] and apart["reader"][0].startswith("data volume /srv/files (from ./shared)")
    assert chart_rules.shared_data(list(found.values()), rendering("shared", "shared")) == {"writer": [], "reader": []}


def test_config_file_missing_or_mounted_as_a_folder(services: dict) -> None:
    docs = faithful()
    container(docs, "web")["volumeMounts"] = []
    [loss] = chart_losses(services["web"], docs)
    assert loss.startswith("web: config file /etc/nginx/nginx.conf (from ") and loss.endswith("is not mounted")
    docs = faithful()
    del container(docs, "web")["volumeMounts"][0]["subPath"]
    [loss] = chart_losses(services["web"], docs)
    assert loss.endswith("is mounted without subPath (it becomes a folder)")


def test_tmpfs_missing(services: dict) -> None:
    docs = faithful()
    container(docs, "db", "StatefulSet")["volumeMounts"].pop()
    assert chart_losses(services["db"], docs) == ["db: tmpfs /var/run/postgresql is not mounted"]


def test_port_protocol_wrong_and_port_without_service(services: dict) -> None:
    docs = faithful()
    container(docs, "dns")["ports"][0]["protocol"] = "TCP"
    assert chart_losses(services["dns"], docs) == ["dns: port 53/udp is a containerPort with protocol TCP"]
    docs = faithful()
    docs.remove(find(docs, "Service", "dns"))
    assert chart_losses(services["dns"], docs) == ["dns: port 53/udp has no Service selecting the pods"]


def test_http_probe_on_a_udp_port_and_on_a_non_http_port(services: dict) -> None:
    docs = faithful()
    container(docs, "dns")["readinessProbe"] = {"httpGet": {"path": "/ready", "port": "dns"}}
    assert chart_losses(services["dns"], docs) == ["dns: readinessProbe httpGet on port dns, a UDP port"]
    docs = faithful()
    web = container(docs, "web")
    web["ports"].append({"containerPort": 25})
    web["readinessProbe"] = {"httpGet": {"path": "/", "port": 25}}
    assert chart_losses(services["web"], docs) == ["web: readinessProbe httpGet on port 25, which speaks smtp, not HTTP"]
    web["readinessProbe"] = {"tcpSocket": {"port": 8081}}
    assert chart_losses(services["web"], docs) == ["web: readinessProbe tcpSocket on port 8081 is not a containerPort"]


def test_liveness_must_follow_the_compose_healthcheck(services: dict) -> None:
    docs = faithful()
    container(docs, "web")["livenessProbe"] = {"httpGet": {"path": "/health/live", "port": 80}}
    assert chart_losses(services["web"], docs) == [
        "web: liveness probe does not follow the compose healthcheck [CMD curl -f http://localhost/health] "
        "(got httpGet /health/live on port 80)"]
    container(docs, "web")["livenessProbe"] = {"exec": {"command": ["curl", "-f", "http://localhost/health"]}}
    assert chart_losses(services["web"], docs) == []
    container(docs, "api")["livenessProbe"] = {"exec": {"command": ["pg_isready", "-h", "db"]}}  # shell-free: same
    assert chart_losses(services["api"], docs) == []
    del container(docs, "api")["livenessProbe"]
    assert chart_losses(services["api"], docs) == [
        "api: liveness probe does not follow the compose healthcheck [CMD-SHELL pg_isready -h db] (got no liveness probe)"]


def test_a_healthcheck_calling_the_service_by_its_own_name_is_a_local_request() -> None:
    from phasekit.check.fidelity.chart_rules import _follows

    declared = (("http", 5000, "TCP"),)
    test = ["CMD", "wget", "--spider", "http://storage:5000/status"]
    probe = {"httpGet": {"path": "/status", "port": 5000}}
    assert _follows(test, probe, declared, {}, "storage")
    assert not _follows(test, probe, declared, {}, "other")  # another service's endpoint is no self-check
    assert not _follows(["CMD", "wget", "--spider", "http://storage-api:5000/status"], probe, declared, {}, "storage")


def test_workload_kinds(services: dict) -> None:
    docs = faithful()
    seed = find(docs, "Job", "seed")
    seed["kind"] = "Deployment"
    assert chart_losses(services["seed"], docs) == [
        "seed: one-shot (restart: no) service runs as a Deployment, expected Job"]
    find(docs, "Deployment", "web")["kind"] = "Job"
    assert chart_losses(services["web"], docs) == [
        "web: long-running service runs as a Job, expected Deployment or StatefulSet"]


def test_missing_workload_and_external_datastore(services: dict) -> None:
    docs = [d for d in faithful() if d["metadata"]["name"] != "demo-db"]
    [loss] = chart_losses(services["db"], docs)
    assert loss.startswith("db: no workload runs it (image postgres:16;")
    docs.append({"kind": "Service", "metadata": {"name": "demo-db", "labels": labels("db"),
                                                  "annotations": {"phasekit.dev/external": "true"}},
                 "spec": {"type": "ExternalName", "externalName": "db.example.com"}})
    assert chart_rules.losses(services["db"], Rendered(docs, NS)) == ([], ["db: declared external (ExternalName Service)"])
    # outside the cluster: no pod of ours to reach (egress to it is the platform's business, not an edge here)
    netpols = [p for p in policies() if p["metadata"]["name"] not in {"api-to-db", "db-from-api"}]
    assert edge_losses(services, docs, netpols) == []


def test_autoscaled_or_replicated_data_service(services: dict) -> None:
    docs = faithful()
    find(docs, "StatefulSet", "db")["spec"]["replicas"] = 2
    docs.append({"kind": "HorizontalPodAutoscaler", "metadata": {"name": "demo-db"},
                 "spec": {"scaleTargetRef": {"kind": "StatefulSet", "name": "demo-db"}, "maxReplicas": 5}})
    assert chart_losses(services["db"], docs) == [
        "db: has data volumes but HorizontalPodAutoscaler demo-db scales it (max 5)",
        "db: has data volumes but runs 2 replicas"]
    assert chart_losses(services["web"], docs) == []  # web runs 3 replicas: stateless, fine
    scalable = copy.copy(services["db"])
    scalable.scalable = True
    assert chart_losses(scalable, docs) == []


def test_host_paths_are_acknowledged_or_lost(tmp_path: Path) -> None:
    folder = _compose_project(tmp_path, "services:\n  agent:\n    image: agent:1\n"
                                        "    volumes: [/var/run/docker.sock:/var/run/docker.sock]\n")
    ctx = check.Context(root=folder, env=dict(os.environ))
    [agent] = compose_side.load(ctx, compose_command(), [folder / "compose.yaml"], {})
    docs = [workload("Deployment", "agent", {"image": "agent:1"})]
    assert chart_rules.losses(agent, Rendered(docs, NS))[0] == [
        "agent: host path /var/run/docker.sock at /var/run/docker.sock dropped without a phasekit.dev/not-portable annotation"]
    docs[0]["metadata"]["annotations"] = {"phasekit.dev/not-portable": "/var/run/docker.sock"}
    assert chart_rules.losses(agent, Rendered(docs, NS)) == (
        [], ["agent: host path /var/run/docker.sock at /var/run/docker.sock acknowledged as not portable"])


# --- edges through the NetworkPolicies ------------------------------------------------------------------------
def test_edge_blocked_by_default_deny(services: dict) -> None:
    netpols = [p for p in policies() if "api-to-db" not in p["metadata"]["name"] and "db-from-api" not in p["metadata"]["name"]]
    assert edge_losses(services, faithful(), netpols) == [
        "api -> db: TCP/5432 is blocked by the NetworkPolicies (egress of api and ingress of db)"]


def test_egress_only_block(services: dict) -> None:
    netpols = [p for p in policies() if p["metadata"]["name"] != "seed-to-db"]
    assert edge_losses(services, faithful(), netpols) == [
        "seed -> db: TCP/5432 is blocked by the NetworkPolicies (egress of seed)"]


def test_edge_allowed_by_a_matching_policy_alone(services: dict) -> None:
    # no default deny: only api's egress is restricted (to db, and to DNS); nothing else is selected
    dns, api_to_db = [p for p in policies() if p["metadata"]["name"] in {"api-to-db", "dns"}]
    dns["spec"]["podSelector"] = {"matchLabels": labels("api")}
    assert edge_losses(services, faithful(), [dns, api_to_db]) == []
    api_to_db["spec"]["egress"][0]["ports"] = [{"port": 5433}]
    assert edge_losses(services, faithful(), [dns, api_to_db]) == [
        "api -> db: TCP/5432 is blocked by the NetworkPolicies (egress of api)"]


def test_named_port_resolution_follows_the_destination_pod(services: dict) -> None:
    docs = faithful()
    container(docs, "api")["ports"] = [{"name": "http", "containerPort": 9001}, {"name": "admin", "containerPort": 9000}]
    # compose's 9000 is now "admin": the policy's "http" no longer reaches it (and the Service targets 9001)
    assert "web -> api: TCP/9000 is blocked by the NetworkPolicies (egress of web and ingress of api)" in \
        edge_losses(services, docs, policies())


def test_dns_blocked_when_egress_is_restricted(services: dict) -> None:
    netpols = [p for p in policies() if p["metadata"]["name"] != "dns"]
    lost = edge_losses(services, faithful(), netpols)
    assert "web: DNS (kube-dns UDP/53) is blocked by its egress policy" in lost
    assert len([ln for ln in lost if "DNS" in ln]) == 2 * len(services)


def test_a_missing_server_workload_is_evaluated_by_the_contract_labels(services: dict) -> None:
    docs = [d for d in faithful() if d["metadata"]["name"] != "demo-db"]
    assert edge_losses(services, docs, policies()) == []
    netpols = [p for p in policies() if p["metadata"]["name"] != "db-from-api"]
    assert edge_losses(services, docs, netpols) == [
        "api -> db: TCP/5432 is blocked by the NetworkPolicies (ingress of db)"]


# --- terraform.tfvars -----------------------------------------------------------------------------------------
def test_terraform_rules(services: dict) -> None:
    entry = {"image": "nginx:1.27", "entrypoint": ["/docker-entrypoint.sh"], "command": ["nginx", "-g", "daemon off;"],
             "volumes": [{"target": "/etc/nginx/nginx.conf", "kind": "config"}], "ports": [{"port": 80}]}
    assert terraform_side.losses(services["web"], entry) == ([], [])
    bad = {**entry, "image": "ghcr.io/x/web:1", "volumes": [], "ports": [{"port": 80, "protocol": "UDP"}], "command": None}
    assert terraform_side.losses(services["web"], bad)[0] == [
        "web: image nginx:1.27 became ghcr.io/x/web:1",
        "web: command ['nginx', '-g', 'daemon off;'] became (none)",
        "web: config volume /etc/nginx/nginx.conf is missing",
        "web: port 80/tcp is missing"]
    db = {"image": "postgres:16", "ports": [{"port": 5432}],
          "volumes": [{"target": "/var/lib/postgresql/data", "kind": "tmpfs"}, {"target": "/var/run/postgresql", "kind": "tmpfs"}]}
    assert terraform_side.losses(services["db"], db)[0] == ["db: data volume /var/lib/postgresql/data is tmpfs"]
    assert terraform_side.losses(services["db"], {"image": "postgres:16"})[1] == ["command", "entrypoint", "volumes"]


# --- the adapter, end to end through `phasekit check` ---------------------------------------------------------
def _repo(tmp_path: Path, docs: list[dict], tfvars: str = "") -> Path:
    repo = _compose_project(tmp_path / "repo")
    (repo / "architecture.yaml").write_text(f"version: 1\nproject: {{name: Demo, id: {NS}}}\n", encoding="utf-8")
    chart = repo / "charts" / NS
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {NS}\nversion: 0.1.0\n", encoding="utf-8")
    (chart / "values.yaml").write_text("{}\n", encoding="utf-8")
    (chart / "values-prod.yaml").write_text("{}\n", encoding="utf-8")
    (chart / "templates" / "all.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    (repo / "k8s" / "network-policies").mkdir(parents=True)
    (repo / "k8s" / "network-policies" / "policies.yaml").write_text(yaml.safe_dump_all(policies()), encoding="utf-8")
    if tfvars:
        (repo / "terraform").mkdir()
        (repo / "terraform" / "terraform.tfvars").write_text(textwrap.dedent(tfvars), encoding="utf-8")
    return repo


def _require_helm() -> None:
    if shutil.which("helm") is None:
        pytest.skip("helm is not installed (run scripts/install-validators and source its env.sh)")


def test_check_reports_one_result_per_service_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _require_helm()
    monkeypatch.delenv("SEED_IMAGE", raising=False)
    docs = faithful()
    container(docs, "web")["image"] = "ghcr.io/example/web:0.1.0"
    report = check.run(_repo(tmp_path, docs), validators=["fidelity"])
    assert {r.artifact for r in report.results} == {
        f"charts/{NS} ({values}) ({name})" for values in ("values.yaml", "values-prod.yaml")
        for name in ("api", "db", "dns", "seed", "web")}
    failed = report.select(status=Status.FAILED)
    assert [(r.artifact, r.message) for r in failed] == [
        (f"charts/{NS} ({values}) (web)", "web: image nginx:1.27 became ghcr.io/example/web:0.1.0")
        for values in ("values-prod.yaml", "values.yaml")]
    assert report.passed == 8


def test_check_skips_without_compose_or_helm(tmp_path: Path) -> None:
    repo = _repo(tmp_path, faithful())
    (repo / "compose.yaml").unlink()
    report = check.run(repo, validators=["fidelity"])
    assert report.results and all(r.status is Status.SKIPPED for r in report.results)
    assert "no compose file to compare with" in report.results[0].message
    (repo / "compose.yaml").write_text(COMPOSE, encoding="utf-8")
    no_helm = os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if not os.path.exists(os.path.join(d, "helm")))
    report = check.run(repo, validators=["fidelity"], env={**os.environ, "PATH": no_helm, "SEED_IMAGE": "x"})
    assert {r.status for r in report.results} == {Status.SKIPPED}
    assert "helm not found" in report.results[0].message


def test_check_on_terraform_tfvars(tmp_path: Path) -> None:
    pytest.importorskip("hcl2")
    tfvars = '''\
    services = {
      "web" = {
        image      = "nginx:1.26"
        entrypoint = ["/docker-entrypoint.sh"]
        command    = ["nginx", "-g", "daemon off;"]
        volumes    = [{ target = "/etc/nginx/nginx.conf", kind = "config", source = "nginx.conf" }]
        ports      = [{ port = 80, protocol = "TCP" }]
      }
    }
    '''
    repo = _repo(tmp_path, faithful(), tfvars)
    report = check.run(repo, validators=["fidelity"], env={**os.environ, "SEED_IMAGE": "x"})
    [web] = report.select(artifact="terraform/terraform.tfvars (web)")
    assert (web.status, web.message) == (Status.FAILED, "web: image nginx:1.27 became nginx:1.26")
    [api] = report.select(artifact="terraform/terraform.tfvars (api)")
    assert (api.status, api.message) == (Status.FAILED, "api: no entry api in services or datastores")
    (repo / "terraform" / "terraform.tfvars").write_text(
        'services = {\n  "web" = {\n    image = "nginx:1.27"\n    ports = [{ port = 80 }]\n  }\n}\n')
    report = check.run(repo, validators=["fidelity"], env={**os.environ, "SEED_IMAGE": "x"})
    [web] = report.select(artifact="terraform/terraform.tfvars (web)")
    assert web.status is Status.SKIPPED and "do not carry command, entrypoint, volumes yet" in web.message


def test_scheduled_service_must_be_a_cron_job(tmp_path: Path) -> None:
    folder = _compose_project(tmp_path, "services:\n  report:\n    image: report:1\n"
                                        "    x-phasekit-schedule: '0 3 * * *'\n  web:\n    image: web:1\n")
    ctx = check.Context(root=folder, env=dict(os.environ))
    report, web = compose_side.load(ctx, compose_command(), [folder / "compose.yaml"], {})
    assert report.scheduled and not web.scheduled  # compose's JSON drops x- keys of services; its YAML keeps them
    assert chart_rules.losses(report, Rendered([workload("CronJob", "report", {"image": "report:1"})], NS))[0] == []
    assert chart_rules.losses(report, Rendered([workload("Deployment", "report", {"image": "report:1"})], NS))[0] == [
        "report: scheduled service runs as a Deployment, expected CronJob"]


def test_network_policies_without_a_chart_are_checked_on_the_contract_labels(tmp_path: Path) -> None:
    repo = _repo(tmp_path, faithful())
    shutil.rmtree(repo / "charts")
    netpols = [p for p in policies() if p["metadata"]["name"] != "web-to-api"]
    for p in netpols:  # without the chart there are no containerPort names to resolve: numbers only
        for rule in p["spec"].get("ingress", []):
            rule["ports"] = [{"port": 9000 if port["port"] == "http" else port["port"]} for port in rule["ports"]]
    (repo / "k8s" / "network-policies" / "policies.yaml").write_text(yaml.safe_dump_all(netpols), encoding="utf-8")
    report = check.run(repo, validators=["fidelity"], env={**os.environ, "SEED_IMAGE": "x"})
    [web] = report.select(artifact="k8s/network-policies (web)")
    assert (web.status, web.message) == (
        Status.FAILED, "web -> api: TCP/9000 is blocked by the NetworkPolicies (egress of web)")
    assert report.failed == 1


def test_variable_references_in_commands_and_healthchecks(tmp_path: Path) -> None:
    folder = _compose_project(tmp_path, textwrap.dedent("""\
        services:
          db:
            image: mysql:8.0
            command: ["--max-connections", "${MAX_CONN:-100}"]
            environment:
              MYSQL_ROOT_PASSWORD: root-pass
              MAX_CONN: "100"
            healthcheck:
              test: ["CMD-SHELL", "mysqladmin ping -uroot -proot-pass"]
        """))
    ctx = check.Context(root=folder, env=dict(os.environ))
    [db] = compose_side.load(ctx, compose_command(), [folder / "compose.yaml"], {})
    assert db.command == ["--max-connections", "100"] and db.written["command"] == ["--max-connections", "${MAX_CONN:-100}"]

    def losses(args: list[str], probe: list[str]) -> list[str]:
        docs = [workload("StatefulSet", "db", {"image": "mysql:8.0", "args": args, "livenessProbe": {"exec": {"command": probe}}})]
        return chart_losses(db, docs)

    literal = ["/bin/sh", "-c", "mysqladmin ping -uroot -proot-pass"]
    assert losses(["--max-connections", "100"], literal) == []
    # compose's ${VAR} kept as Kubernetes' $(VAR); a credential replaced by a reference to the same value
    assert losses(["--max-connections", "$(MAX_CONN)"], ["/bin/sh", "-c", "mysqladmin ping -uroot -p${MYSQL_ROOT_PASSWORD}"]) == []
    assert losses(["--max-connections", "$(OTHER)"], ["/bin/sh", "-c", "mysqladmin ping -uroot -p${OTHER}"]) == [
        "db: command [--max-connections 100] became container args [--max-connections $(OTHER)]",
        "db: liveness probe does not follow the compose healthcheck [CMD-SHELL mysqladmin ping -uroot -proot-pass] "
        "(got exec [/bin/sh -c mysqladmin ping -uroot -p${OTHER}])"]


def test_source_mounts_and_machine_paths(tmp_path: Path) -> None:
    folder = _compose_project(tmp_path / "project", textwrap.dedent("""\
        services:
          app:
            build: ./api
            volumes:
              - ./api:/srv/app
              - ./uploads:/srv/uploads
              - /var/log/app:/var/log/app
        """))
    (folder / "uploads").mkdir()
    ctx = check.Context(root=folder, env=dict(os.environ))
    [app] = compose_side.load(ctx, compose_command(), [folder / "compose.yaml"], {})
    assert [(m.kind, m.source) for m in app.mounts] == [
        ("source", "./api"), ("data", "./uploads"), ("data", "/var/log/app")]
    docs = [workload("Deployment", "app", {"image": "registry.example/app:1"})]
    docs[0]["metadata"]["annotations"] = {"phasekit.dev/not-portable": "/var/log/app,/srv/uploads"}
    # the code over the built image is not lost; a machine path may be waived, the project's own data may not
    assert chart_rules.losses(app, Rendered(docs, NS)) == (
        ["app: data volume /srv/uploads (from ./uploads) is not mounted"],
        ["app: source folder ./api at /srv/app is the built image's own code",
         "app: host path /var/log/app at /var/log/app acknowledged as not portable"])
