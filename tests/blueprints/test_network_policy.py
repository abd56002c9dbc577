"""network-policy blueprint: default deny, DNS, and exactly the edges depends_on and zones declare."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import REPO, load_yaml_docs, render_arch, run_tool
from phasekit import model

EXAMPLES = sorted(p.parent.name for p in REPO.glob("examples/*/architecture.yaml"))
FOLDER = Path("k8s/network-policies")
INGRESS_NS = "ns:ingress-nginx"

Edge = tuple[str, str, str, int | None, str | None]  # (direction, from, to, port, protocol)


# ---------------------------------------------------------------------------- the architecture's edges


def expected_edges(arch: dict) -> list[Edge]:
    """Every edge the architecture declares, each once: what the policies must allow, nothing more."""
    services = {s["name"]: s for s in arch["services"]}
    stores = {d["name"]: d for d in arch["datastores"]}
    edges: list[Edge] = []
    for svc in arch["services"]:
        for dep in svc["depends_on"]:
            if dep in services:
                target = services[dep]
                for p in target["ports"]:  # a service with no port (a worker) cannot be called
                    edges.append(("egress", svc["id"], target["id"], p["port"], p["protocol"]))
                    edges.append(("ingress", svc["id"], target["id"], p["port"], p["protocol"]))
            elif not stores[dep]["managed"]:  # managed datastores live outside the cluster: see the docs
                store = stores[dep]
                port, proto = (store["port"], "TCP") if "port" in store else (None, None)
                edges.append(("egress", svc["id"], store["id"], port, proto))
                edges.append(("ingress", svc["id"], store["id"], port, proto))
        if svc["zone"] == "public":
            for p in svc["ports"]:
                edges.append(("ingress", INGRESS_NS, svc["id"], p["port"], p["protocol"]))
    return sorted(edges, key=repr)


# ---------------------------------------------------------------------------- the policies' edges


def _peer(peer: dict, project: str) -> str:
    """A policy peer as an edge end; anything but the label contract's selectors fails the test."""
    if "namespaceSelector" in peer:
        assert set(peer) == {"namespaceSelector"}, peer
        return "ns:" + peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    labels = peer["podSelector"]["matchLabels"]
    assert set(peer) == {"podSelector"} and labels["app.kubernetes.io/part-of"] == project, peer
    assert set(labels) == {"app.kubernetes.io/name", "app.kubernetes.io/part-of"}, labels
    return labels["app.kubernetes.io/name"]


def _ports(rule: dict) -> list[tuple[int | None, str | None]]:
    if "ports" not in rule:
        return [(None, None)]
    return [(p["port"], p.get("protocol", "TCP")) for p in rule["ports"]]


def policy_edges(docs: list[dict], project: str) -> list[Edge]:
    """Edges allowed by the per-workload policies (every one selects exactly one workload)."""
    edges: list[Edge] = []
    for doc in docs:
        if doc["kind"] != "NetworkPolicy" or not doc["spec"]["podSelector"]:
            continue
        own = _peer({"podSelector": doc["spec"]["podSelector"]}, project)
        assert doc["spec"]["policyTypes"] == ["Ingress", "Egress"], doc["metadata"]["name"]
        for rule in doc["spec"].get("ingress", []):
            for peer in rule["from"]:
                edges += [("ingress", _peer(peer, project), own, port, proto) for port, proto in _ports(rule)]
        for rule in doc["spec"].get("egress", []):
            for peer in rule["to"]:
                edges += [("egress", own, _peer(peer, project), port, proto) for port, proto in _ports(rule)]
    return sorted(edges, key=repr)


HELM_TEST = "helm-test.yaml"


def all_docs(folder: Path, *, helm_test: bool = False) -> list[dict]:
    """Every manifest of the folder; the helm-test policies (not architecture edges) only when asked."""
    skip = {"kustomization.yaml"} | (set() if helm_test else {HELM_TEST})
    return [doc for path in sorted((folder / FOLDER).glob("*.yaml")) if path.name not in skip for doc in load_yaml_docs(path)]


def helm_test_edges(docs: list[dict], project: str) -> list[Edge]:
    """Edges of the helm-test policies, with the test pod of service <id> written test:<id>."""
    edges: list[Edge] = []
    test_labels = {"app.kubernetes.io/component", "app.kubernetes.io/part-of", "phasekit.dev/tests"}

    def end(selector: dict) -> str:
        labels = selector["matchLabels"]
        assert labels["app.kubernetes.io/part-of"] == project
        if set(labels) == test_labels:
            assert labels["app.kubernetes.io/component"] == "helm-test"
            return "test:" + labels["phasekit.dev/tests"]
        assert set(labels) == {"app.kubernetes.io/name", "app.kubernetes.io/part-of"}, labels
        return labels["app.kubernetes.io/name"]

    for doc in docs:
        own = end(doc["spec"]["podSelector"])
        for rule in doc["spec"].get("ingress", []):
            edges += [("ingress", end(peer["podSelector"]), own, port, proto) for peer in rule["from"] for port, proto in _ports(rule)]
        for rule in doc["spec"].get("egress", []):
            edges += [("egress", own, end(peer["podSelector"]), port, proto) for peer in rule["to"] for port, proto in _ports(rule)]
    return sorted(edges, key=repr)


def expected_helm_test_edges(arch: dict) -> list[Edge]:
    edges: list[Edge] = []
    for svc in arch["services"]:
        for p in svc["ports"]:
            if p["protocol"] == "TCP":
                edges.append(("egress", f"test:{svc['id']}", svc["id"], p["port"], "TCP"))
                edges.append(("ingress", f"test:{svc['id']}", svc["id"], p["port"], "TCP"))
    return sorted(edges, key=repr)


# ---------------------------------------------------------------------------- tests


def arch_of(example: str) -> dict:
    return model.load(REPO / "examples" / example / "architecture.yaml")



@pytest.mark.parametrize("example", EXAMPLES)
def test_edges_are_exactly_the_declared_ones(rendered, example: str) -> None:
    arch = model.load(REPO / "examples" / example / "architecture.yaml")
    docs = all_docs(rendered(example, "network-policy"))
    assert policy_edges(docs, arch["project"]["id"]) == expected_edges(arch)


@pytest.mark.parametrize("example", EXAMPLES)
def test_helm_test_pods_reach_only_their_own_service(rendered, example: str) -> None:
    """The chart's `helm test` pods: one TCP edge to the service they test, nothing else."""
    arch = arch_of(example)
    folder = rendered(example, "network-policy")
    docs = load_yaml_docs(folder / FOLDER / HELM_TEST)
    assert helm_test_edges(docs, arch["project"]["id"]) == expected_helm_test_edges(arch)
    assert all(d["spec"]["policyTypes"] in (["Ingress"], ["Egress"]) for d in docs)


@pytest.mark.parametrize("example", EXAMPLES)
def test_one_policy_per_workload_plus_deny_and_dns(rendered, example: str) -> None:
    arch = model.load(REPO / "examples" / example / "architecture.yaml")
    project = arch["project"]["id"]
    docs = all_docs(rendered(example, "network-policy"))
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    assert all(d["metadata"]["namespace"] == project for d in policies.values())
    expected = {f"service-{s['id']}" for s in arch["services"]}
    expected |= {f"datastore-{d['id']}" for d in arch["datastores"] if not d["managed"]}
    assert set(policies) == expected | {"default-deny-all", "allow-dns-egress"}
    for name in expected:
        selected = policies[name]["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        assert name.endswith("-" + selected)

    deny = policies["default-deny-all"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["allow-dns-egress"]["spec"]
    assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"] and "ingress" not in dns
    (rule,) = dns["egress"]
    assert sorted((p["port"], p["protocol"]) for p in rule["ports"]) == [(53, "TCP"), (53, "UDP")]
    (peer,) = rule["to"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "kube-system"}
    assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}

    (ns,) = [d for d in docs if d["kind"] == "Namespace"]
    assert ns["metadata"]["name"] == project
    version = "v" + arch["targets"]["kubernetes_version"]
    for mode in ("enforce", "audit", "warn"):
        assert ns["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert ns["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}-version"] == version


@pytest.mark.parametrize("example", EXAMPLES)
def test_private_services_are_not_reachable_from_the_ingress_controller(rendered, example: str) -> None:
    arch = model.load(REPO / "examples" / example / "architecture.yaml")
    edges = policy_edges(all_docs(rendered(example, "network-policy")), arch["project"]["id"])
    from_outside = {to for _, src, to, _, _ in edges if src == INGRESS_NS}
    assert from_outside == {s["id"] for s in arch["services"] if s["zone"] == "public" and s["ports"]}
    assert not from_outside & {d["id"] for d in arch["datastores"]}  # datastores are never reached from outside


@pytest.mark.parametrize("example", EXAMPLES)
def test_kubernetes_validate_strict(rendered, example: str) -> None:
    arch = model.load(REPO / "examples" / example / "architecture.yaml")
    folder = rendered(example, "network-policy") / FOLDER
    files = sorted(str(p) for p in folder.glob("*.yaml") if p.name != "kustomization.yaml")
    result = run_tool(["kubernetes-validate", "--strict", "-k", arch["targets"]["kubernetes_version"], *files])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == len(all_docs(folder.parent.parent, helm_test=True))


@pytest.mark.parametrize("example", EXAMPLES)
def test_kustomize_builds_every_manifest(rendered, example: str) -> None:
    folder = rendered(example, "network-policy")
    result = run_tool(["kubectl", "kustomize", str(folder / FOLDER)])
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(map(key, built)) == sorted(map(key, all_docs(folder, helm_test=True)))


@pytest.mark.parametrize("example", EXAMPLES)
def test_checkov_reports_no_failed_check(rendered, example: str) -> None:
    folder = rendered(example, "network-policy") / FOLDER
    result = run_tool(["checkov", "--framework", "kubernetes", "--skip-download", "-d", str(folder), "-o", "json", "--quiet"])
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    for item in reports:
        summary = item.get("summary", item)
        assert summary["failed"] == 0 and summary["parsing_errors"] == 0, item
    assert result.returncode == 0, result.stdout[-2000:]


# ---------------------------------------------------------------------------- corner cases of the model

CORNERS = {
    "version": 1,
    "project": {"name": "Corner Cases"},
    "services": [
        {"name": "edge.proxy", "kind": "gateway", "zone": "public", "ports": [{"port": 8443}], "depends_on": ["api_v2", "jobs"]},
        {"name": "api_v2", "ports": [{"port": 8080}, {"port": 5353, "protocol": "UDP"}], "depends_on": ["cloud_db", "blob", "cache"]},
        {"name": "jobs", "kind": "worker", "depends_on": ["cache"]},
    ],
    "datastores": [
        {"name": "cloud_db", "engine": "postgres", "managed": True},
        {"name": "blob", "engine": "s3"},
        {"name": "cache", "engine": "redis"},
        {"name": "unused", "engine": "mysql"},
    ],
}


@pytest.fixture(scope="module")
def corners(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    arch = model.validate(CORNERS, "corners")
    return arch, render_arch(CORNERS, tmp_path_factory.mktemp("np-corners"), "network-policy")


def test_corner_cases_edges(corners) -> None:
    """UDP ports, a portless worker, a portless datastore, a managed one and an unused one."""
    arch, folder = corners
    edges = policy_edges(all_docs(folder), arch["project"]["id"])
    assert edges == expected_edges(arch)
    assert ("egress", "edge-proxy", "jobs", None, None) not in edges  # a worker listens on nothing
    assert ("egress", "api-v2", "blob", None, None) in edges  # s3 without a port: any port, that pod only
    assert not [e for e in edges if "cloud-db" in e[1:3]]  # managed: closed until the team opens it
    assert ("ingress", "api-v2", "edge-proxy", 8443, "TCP") not in edges
    assert ("ingress", "edge-proxy", "api-v2", 5353, "UDP") in edges
    tests = helm_test_edges(load_yaml_docs(folder / FOLDER / HELM_TEST), arch["project"]["id"])
    assert tests == expected_helm_test_edges(arch) and not [e for e in tests if e[4] == "UDP"]
    names = {d["metadata"]["name"] for d in all_docs(folder)}
    assert "datastore-unused" in names and "datastore-cloud-db" not in names
    unused = next(d for d in all_docs(folder) if d["metadata"]["name"] == "datastore-unused")
    assert unused["spec"]["ingress"] == [] and unused["spec"]["egress"] == []


def test_no_datastores_means_no_datastore_file(tmp_path: Path) -> None:
    arch = {"version": 1, "project": {"name": "solo"}, "services": [{"name": "web", "ports": [{"port": 80}]}]}
    folder = render_arch(arch, tmp_path, "network-policy") / FOLDER
    assert not (folder / "datastores.yaml").exists()
    kustomization = load_yaml_docs(folder / "kustomization.yaml")[0]
    assert kustomization["resources"] == ["namespace.yaml", "default-deny.yaml", "services.yaml", "helm-test.yaml"]
    built = run_tool(["kubectl", "kustomize", str(folder)])
    assert built.returncode == 0, built.stderr


def test_rendering_is_deterministic(corners, tmp_path: Path) -> None:
    _, first = corners
    second = render_arch(CORNERS, tmp_path, "network-policy")
    for path in sorted((first / FOLDER).glob("*")):
        text = path.read_text(encoding="utf-8")
        assert text == (second / FOLDER / path.name).read_text(encoding="utf-8")
        assert text.endswith("\n") and not text.endswith("\n\n")



def test_corner_cases_validate(corners) -> None:
    arch, folder = corners
    files = sorted(str(p) for p in (folder / FOLDER).glob("*.yaml") if p.name != "kustomization.yaml")
    result = run_tool(["kubernetes-validate", "--strict", "-k", arch["targets"]["kubernetes_version"], *files])
    assert result.returncode == 0, result.stdout + result.stderr
    built = run_tool(["kubectl", "kustomize", str(folder / FOLDER)])
    assert built.returncode == 0, built.stderr


def test_update_adds_a_new_edge_and_keeps_the_teams_edits(tmp_path: Path) -> None:
    """`phasekit update` (copier's 3-way merge): a new depends_on opens its edge, the team's own policy stays."""
    import subprocess
    import sys

    def run(*argv: str) -> None:
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr

    def git(*argv: str) -> None:
        run("git", "-c", "user.email=t@example.com", "-c", "user.name=t", *argv)

    phasekit = [sys.executable, "-c", "import sys; from phasekit.cli import main; sys.exit(main())"]
    arch = model.load(REPO / "examples" / "insights" / "architecture.yaml")
    (tmp_path / "architecture.yaml").write_text(model.dump(arch), encoding="utf-8")
    run(*phasekit, "apply", "--arch", "architecture.yaml", "--dest", ".", "--blueprint", "network-policy")
    own = tmp_path / FOLDER / "allow-monitoring.yaml"
    own.write_text("# the team's own policy\n", encoding="utf-8")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "network policies")
    next(s for s in arch["services"] if s["name"] == "ui")["depends_on"].append("redis")
    (tmp_path / "architecture.yaml").write_text(model.dump(arch), encoding="utf-8")
    git("commit", "-qam", "ui reads redis")
    run(*phasekit, "update", "--arch", "architecture.yaml", "--dest", ".")
    edges = policy_edges(all_docs(tmp_path), arch["project"]["id"])
    assert ("egress", "ui", "redis", 6379, "TCP") in edges and ("ingress", "ui", "redis", 6379, "TCP") in edges
    assert edges == expected_edges(model.validate(arch, "test"))
    assert own.read_text(encoding="utf-8") == "# the team's own policy\n"
