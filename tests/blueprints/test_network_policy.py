"""network-policy blueprint: the rendered policies, evaluated as Kubernetes evaluates them, allow every edge the
architecture declares (on every port of the server, UDP as UDP, from Jobs and CronJobs too), Prometheus, DNS and
the declared external endpoints, and nothing else."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from helpers import REPO, load_yaml_docs, render_arch, run_tool
from phasekit import model

EXAMPLES = sorted(p.parent.name for p in REPO.glob("examples/*/architecture.yaml"))
FOLDER = Path("k8s/network-policies")
HELM_TEST = "helm-test.yaml"
DEFAULT_CLUSTER_CIDRS = ["10.42.0.0/15", "10.96.0.0/12", "10.244.0.0/16"]


# ---------------------------------------------------------------------------- a NetworkPolicy evaluator
# Written here from the Kubernetes documentation (networking.k8s.io/v1 NetworkPolicy), independent of the
# templates: a pod that no policy of a direction selects is open in that direction; once selected, a
# connection passes only when some selecting policy's rule allows it; a connection needs the client's
# egress and the server's ingress. ipBlock is matched against the peer's address, pods included (the
# stricter reading: CNIs differ on whether ipBlock applies to pod IPs).


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str | None  # None: an address outside the cluster
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    ip: str = "203.0.113.99"
    named_ports: dict[str, int] = field(default_factory=dict, hash=False, compare=False)  # containerPort names


def selects(selector: dict | None, labels: dict[str, str]) -> bool:
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _namespace_labels(name: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": name}


def peer_matches(peer: dict, policy_namespace: str, other: Pod) -> bool:
    if "ipBlock" in peer:
        address = ipaddress.ip_address(other.ip)
        block = peer["ipBlock"]
        net = ipaddress.ip_network(block["cidr"], strict=False)
        if address.version != net.version or address not in net:
            return False
        return not any(address in ipaddress.ip_network(x, strict=False) for x in block.get("except") or [] if ipaddress.ip_network(x, strict=False).version == address.version)
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        in_namespace = selects(peer["namespaceSelector"], _namespace_labels(other.namespace))
    else:
        in_namespace = other.namespace == policy_namespace
    return in_namespace and selects(peer.get("podSelector"), other.labels)


def port_matches(ports: list[dict] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != protocol:
            continue
        if "port" not in entry:
            return True
        assert isinstance(entry["port"], int), "named ports are not used by the blueprint"
        if entry["port"] <= port <= entry.get("endPort", entry["port"]):
            return True
    return False


def policy_types(spec: dict) -> list[str]:
    return spec.get("policyTypes") or (["Ingress"] + (["Egress"] if "egress" in spec else []))


def direction_allows(policies: list[dict], pod: Pod, other: Pod, port: int, protocol: str, direction: str) -> bool:
    if pod.namespace is None:
        return True  # outside the cluster: no NetworkPolicy applies
    selecting = [
        p for p in policies
        if p["metadata"]["namespace"] == pod.namespace and direction in policy_types(p["spec"]) and selects(p["spec"]["podSelector"], pod.labels)
    ]
    if not selecting:
        return True
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        for rule in policy["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            if (not peers or any(peer_matches(peer, policy["metadata"]["namespace"], other) for peer in peers)) and port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def allowed(policies: list[dict], src: Pod, dst: Pod, port: int, protocol: str = "TCP") -> bool:
    return direction_allows(policies, src, dst, port, protocol, "Egress") and direction_allows(policies, dst, src, port, protocol, "Ingress")


def test_the_evaluator_follows_kubernetes() -> None:
    """The evaluator itself, on textbook cases, so a wrong evaluator cannot make the other tests pass."""
    a = Pod("a", "ns", {"app": "a"}, "10.244.0.1")
    b = Pod("b", "ns", {"app": "b"}, "10.244.0.2")
    elsewhere = Pod("b2", "other", {"app": "b"}, "10.244.0.3")
    outside = Pod("x", None, {}, "198.51.100.1")
    deny = {"metadata": {"namespace": "ns"}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}
    assert allowed([], a, b, 80) and not allowed([deny], a, b, 80)
    out = {"metadata": {"namespace": "ns"}, "spec": {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"],
           "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": 80}]}]}}
    into = {"metadata": {"namespace": "ns"}, "spec": {"podSelector": {"matchLabels": {"app": "b"}}, "ingress": [{"from": [{"podSelector": {}}]}]}}
    assert allowed([deny, out, into], a, b, 80)
    assert not allowed([deny, out, into], a, b, 80, "UDP") and not allowed([deny, out, into], a, b, 81)
    assert not allowed([deny, out], a, b, 80)  # b's ingress is still denied
    assert not allowed([deny, out, into], b, a, 80)  # the reverse direction is not an edge
    assert not allowed([deny, out, into], a, elsewhere, 80)  # a podSelector alone stays in its namespace
    web = {"metadata": {"namespace": "ns"}, "spec": {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"],
           "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}], "ports": [{"port": 443}]}]}}
    assert allowed([deny, web], a, outside, 443) and not allowed([deny, web], a, outside, 80)
    assert not allowed([deny, web, into], a, b, 443)  # b's address is in the except list
    both = {"metadata": {"namespace": "ns"}, "spec": {"podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}, "podSelector": {"matchLabels": {"app": "b"}}}]}]}}
    assert direction_allows([deny, both], b, elsewhere, 1, "TCP", "Ingress")
    assert not direction_allows([deny, both], b, Pod("c", "other", {"app": "c"}, "10.244.0.4"), 1, "TCP", "Ingress")
    assert not direction_allows([deny, both], b, a, 1, "TCP", "Ingress")
    assert selects({"matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]}, {"app": "a"})
    assert not selects({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {"app": "a"})


# ---------------------------------------------------------------------------- the system, as pods


def pod_of(project: str, ident: str, number: int) -> Pod:
    return Pod(ident, project, {"app.kubernetes.io/name": ident, "app.kubernetes.io/part-of": project}, f"10.244.1.{number}")


def in_cluster(store: dict, environments: list[str]) -> bool:
    """The chart runs the datastore's pods in some environment (not managed, not external everywhere)."""
    return not store["managed"] and not set(environments) <= set(store["external_in"])


def system_pods(arch: dict) -> dict[str, Pod]:
    """One pod per service and per datastore the chart runs (labels of the contract), by id."""
    project = arch["project"]["id"]
    ids = [s["id"] for s in arch["services"]]
    ids += [d["id"] for d in arch["datastores"] if in_cluster(d, arch["environments"])]
    return {ident: pod_of(project, ident, n + 1) for n, ident in enumerate(ids)}


def server_ports(item: dict) -> set[tuple[int, str]]:
    ports = {(p["port"], p.get("protocol", "TCP")) for p in item.get("ports", [])}
    if item.get("port"):
        ports.add((item["port"], "TCP"))
    return ports


def declared_edges(arch: dict) -> dict[tuple[str, str], set[tuple[int, str]] | None]:
    """(client id, server id) -> the ports the client may open on the server's pods (None: every port)."""
    by_name = {s["name"]: s for s in arch["services"]} | {d["name"]: d for d in arch["datastores"]}
    stores = {d["name"] for d in arch["datastores"]}
    pods = system_pods(arch)
    edges: dict[tuple[str, str], set[tuple[int, str]] | None] = {}
    for svc in arch["services"] + arch["datastores"]:  # a datastore may depend on a service too (a log shipper)
        for dep in svc.get("depends_on", []):
            server = by_name[dep]
            if server["id"] not in pods:
                continue
            ports = server_ports(server)
            if ports:
                edges[(svc["id"], server["id"])] = ports
            elif dep in stores:
                edges[(svc["id"], server["id"])] = None  # a datastore that declares no port: every port
    return edges


INGRESS_CONTROLLER = Pod("ingress-controller", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}, "10.244.9.1")
KUBE_DNS = Pod("kube-dns", "kube-system", {"k8s-app": "kube-dns"}, "10.96.0.10")
PROMETHEUS = Pod("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}, "10.244.8.1")
BLACKBOX = Pod("blackbox", "monitoring", {"app.kubernetes.io/name": "prometheus-blackbox-exporter"}, "10.244.8.2")
PUSHGATEWAY = Pod("pushgateway", "monitoring", {"app.kubernetes.io/name": "prometheus-pushgateway"}, "10.244.8.3")
GRAFANA = Pod("grafana", "monitoring", {"app.kubernetes.io/name": "grafana"}, "10.244.8.4")
PROMETHEUS_ELSEWHERE = Pod("prometheus-elsewhere", "default", {"app.kubernetes.io/name": "prometheus"}, "10.244.7.1")
INTERNET = Pod("internet", None, {}, "203.0.113.99")


def policies_of(folder: Path, *, helm_test: bool = True) -> list[dict]:
    skip = {"kustomization.yaml"} | (set() if helm_test else {HELM_TEST})
    docs = [d for p in sorted((folder / FOLDER).glob("*.yaml")) if p.name not in skip for d in load_yaml_docs(p)]
    return [d for d in docs if d["kind"] == "NetworkPolicy"]


def all_docs(folder: Path) -> list[dict]:
    return [d for p in sorted((folder / FOLDER).glob("*.yaml")) if p.name != "kustomization.yaml" for d in load_yaml_docs(p)]


def probe_ports(arch: dict) -> set[tuple[int, str]]:
    """Ports worth trying between two pods: every port of the system, plus a few nobody declared."""
    ports = {(22, "TCP"), (9464, "TCP"), (5432, "UDP"), (6379, "TCP")}
    for item in arch["services"] + arch["datastores"]:
        ports |= server_ports(item)
    return ports


def assert_exactly_the_declared_edges(policies: list[dict], arch: dict) -> None:
    pods = system_pods(arch)
    edges = declared_edges(arch)
    wrong = []
    for (client, server), ports in edges.items():
        for port, protocol in sorted(ports or {(1, "TCP"), (65535, "UDP")}):
            if not allowed(policies, pods[client], pods[server], port, protocol):
                wrong.append(f"{client} -> {server}:{port}/{protocol} is declared but denied")
    for src in pods.values():
        for dst in pods.values():
            for port, protocol in sorted(probe_ports(arch)):
                declared = edges.get((src.name, dst.name), set())
                expected = declared is None or (port, protocol) in declared
                if src != dst and allowed(policies, src, dst, port, protocol) != expected:
                    wrong.append(f"{src.name} -> {dst.name}:{port}/{protocol}: {'denied' if expected else 'allowed'} (expected {'allowed' if expected else 'denied'})")
    assert wrong == []


# ---------------------------------------------------------------------------- the bundled examples


def arch_of(example: str) -> dict:
    return model.load(REPO / "examples" / example / "architecture.yaml")


@pytest.mark.parametrize("example", EXAMPLES)
def test_exactly_the_declared_edges_pass(rendered, example: str) -> None:
    """Every depends_on edge on every port of its server, between the system's pods; no other pair of pods."""
    arch = arch_of(example)
    assert_exactly_the_declared_edges(policies_of(rendered(example, "network-policy")), arch)


# (example, client, server, port, protocol, allowed): the edges the compose files declare, and some they do not.
EXPECTED = [
    ("filetransfer", "gateway", "public-app", 5000, "TCP", True),
    ("filetransfer", "gateway", "intranet-api", 5001, "TCP", True),
    ("filetransfer", "intranet-api", "db", 5432, "TCP", True),
    ("filetransfer", "intranet-api", "mime-server", 9000, "TCP", True),
    ("filetransfer", "public-app", "mime-server", 9000, "TCP", True),
    ("filetransfer", "public-app", "db", 5432, "TCP", False),
    ("filetransfer", "gateway", "db", 5432, "TCP", False),
    ("filetransfer", "gateway", "mime-server", 9000, "TCP", False),
    ("filetransfer", "intranet-api", "db", 5433, "TCP", False),
    ("filetransfer", "db", "intranet-api", 5001, "TCP", False),
    ("backup", "backup-agent", "minio", 9000, "TCP", True),
    ("backup", "backup-agent", "minio", 9001, "TCP", True),
    ("backup", "gitops-generator", "minio", 9000, "TCP", True),
    ("backup", "minio", "gitops-generator", 8080, "TCP", False),
    ("backup", "backup-agent", "gitops-generator", 8080, "TCP", False),
    ("mediawiki", "mediawiki", "mysql", 3306, "TCP", True),
    ("mediawiki", "mediawiki", "memcached", 11211, "TCP", True),
    ("mediawiki", "backup", "mysql", 3306, "TCP", True),
    ("mediawiki", "backup", "memcached", 11211, "TCP", False),
    ("mediawiki", "memcached", "mysql", 3306, "TCP", False),
    ("meetings", "migrate", "db", 5432, "TCP", True),  # a one-shot Job
    ("meetings", "api", "db", 5432, "TCP", True),
    ("meetings", "web", "api", 8000, "TCP", True),
    ("meetings", "api", "recorder", 9000, "TCP", True),
    ("meetings", "web", "recorder", 9000, "TCP", True),
    ("meetings", "web", "db", 5432, "TCP", False),
    ("meetings", "recorder", "db", 5432, "TCP", False),
    ("meetings", "api", "turn", 3478, "UDP", False),
]


@pytest.mark.parametrize(("example", "client", "port", "expected"), [
    ("backup", "gitops-generator", 443, True),  # GIT_REMOTE: egress to git.example.com
    ("backup", "gitops-generator", 22, False),
    ("backup", "backup-agent", 443, False),
    ("mediawiki", "backup", 443, True),  # backup.example.net
    ("mediawiki", "mediawiki", 443, False),
])
def test_declared_egress_of_the_examples(rendered, example: str, client: str, port: int, expected: bool) -> None:
    arch = arch_of(example)
    policies = policies_of(rendered(example, "network-policy"))
    assert allowed(policies, system_pods(arch)[client], INTERNET, port) is expected
    inside = Pod("elsewhere", "other", {}, "10.244.200.1")  # an address in the cluster's ranges
    assert not allowed(policies, system_pods(arch)[client], inside, port)


def test_udp_stays_udp_from_the_ingress_controller(rendered) -> None:
    """meetings: the TURN relay listens on 3478 over UDP and TCP; both are open to the ingress side, as declared."""
    arch = arch_of("meetings")
    policies = policies_of(rendered("meetings", "network-policy"))
    turn = system_pods(arch)["turn"]
    assert allowed(policies, INGRESS_CONTROLLER, turn, 3478, "UDP") and allowed(policies, INGRESS_CONTROLLER, turn, 3478, "TCP")
    assert not allowed(policies, INGRESS_CONTROLLER, turn, 3479, "UDP")
    assert not allowed(policies, PROMETHEUS, turn, 3478, "UDP") and allowed(policies, PROMETHEUS, turn, 3478, "TCP")


@pytest.mark.parametrize(("example", "client", "server", "port", "protocol", "expected"), EXPECTED, ids=lambda v: str(v))
def test_known_edges_of_the_examples(rendered, example: str, client: str, server: str, port: int, protocol: str, expected: bool) -> None:
    arch = arch_of(example)
    pods = system_pods(arch)
    assert allowed(policies_of(rendered(example, "network-policy")), pods[client], pods[server], port, protocol) is expected


@pytest.mark.parametrize("example", EXAMPLES)
def test_datastore_pods_are_selected_and_closed(rendered, example: str) -> None:
    """The chart runs every datastore now: its pods are selected, reachable only from their clients, open to nothing."""
    arch = arch_of(example)
    policies = policies_of(rendered(example, "network-policy"))
    pods = system_pods(arch)
    for store in arch["datastores"]:
        pod = pods[store["id"]]
        for port, protocol in server_ports(store):
            assert not allowed(policies, INGRESS_CONTROLLER, pod, port, protocol), store["id"]
            assert not allowed(policies, Pod("stranger", arch["project"]["id"], {"app.kubernetes.io/name": "other"}, "10.244.3.3"), pod, port, protocol)
        assert not allowed(policies, pod, INTERNET, 443)
        assert not [(o.name, p) for o in pods.values() for p, proto in probe_ports(arch) if o != pod and allowed(policies, pod, o, p, proto)]


@pytest.mark.parametrize("example", EXAMPLES)
def test_ingress_controller_reaches_public_services_only(rendered, example: str) -> None:
    arch = arch_of(example)
    policies = policies_of(rendered(example, "network-policy"))
    pods = system_pods(arch)
    for svc in arch["services"]:
        for port, protocol in server_ports(svc):
            assert allowed(policies, INGRESS_CONTROLLER, pods[svc["id"]], port, protocol) is (svc["zone"] == "public"), svc["id"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_prometheus_scrapes_through_the_default_deny(rendered, example: str) -> None:
    """Prometheus and the blackbox exporter in namespace monitoring reach every service's TCP ports (9464 for a
    worker) and every datastore's; other monitoring pods, and Prometheus in another namespace, do not."""
    arch = arch_of(example)
    policies = policies_of(rendered(example, "network-policy"))
    pods = system_pods(arch)
    for item in arch["services"] + arch["datastores"]:
        tcp = sorted(p for p, proto in server_ports(item) if proto == "TCP")
        ports = tcp if tcp or item in arch["datastores"] else [9464]
        for port in ports:
            assert allowed(policies, PROMETHEUS, pods[item["id"]], port), (item["id"], port)
            assert allowed(policies, BLACKBOX, pods[item["id"]], port), (item["id"], port)
            assert not allowed(policies, GRAFANA, pods[item["id"]], port)
            assert not allowed(policies, PROMETHEUS_ELSEWHERE, pods[item["id"]], port)
        assert not allowed(policies, PROMETHEUS, pods[item["id"]], 2222)
        pushes = item in arch["services"] and (item["kind"] == "cron" or item["workload"] == "cronjob")
        assert allowed(policies, pods[item["id"]], PUSHGATEWAY, 9091) is pushes, item["id"]


@pytest.mark.parametrize("example", EXAMPLES)
def test_dns_and_nothing_outside(rendered, example: str) -> None:
    arch = arch_of(example)
    policies = policies_of(rendered(example, "network-policy"))
    for pod in system_pods(arch).values():
        assert allowed(policies, pod, KUBE_DNS, 53, "UDP") and allowed(policies, pod, KUBE_DNS, 53, "TCP")
        assert not allowed(policies, pod, KUBE_DNS, 5353, "UDP")
        svc = next((s for s in arch["services"] if s["id"] == pod.name), {"egress": []})
        declared = {(e["port"], e.get("protocol", "TCP")) for e in svc["egress"] if "host" in e}  # a host: any outside address
        for port, protocol in sorted(declared | {(443, "TCP"), (25, "TCP"), (5432, "TCP"), (443, "UDP")}):
            assert allowed(policies, pod, INTERNET, port, protocol) is ((port, protocol) in declared), (pod.name, port, protocol)
        same_labels_elsewhere = Pod(pod.name, "other", pod.labels, "10.244.5.5")
        assert not [p for p, proto in probe_ports(arch) if allowed(policies, pod, same_labels_elsewhere, p, proto)]


@pytest.mark.parametrize("example", EXAMPLES)
def test_one_policy_per_workload_plus_deny_and_dns(rendered, example: str) -> None:
    arch = arch_of(example)
    project = arch["project"]["id"]
    docs = all_docs(rendered(example, "network-policy"))
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy" and not d["metadata"]["name"].startswith("helm-test-")}
    assert all(d["metadata"]["namespace"] == project for d in policies.values())
    stores = [d for d in arch["datastores"] if in_cluster(d, arch["environments"])]
    expected = {f"service-{s['id']}" for s in arch["services"]} | {f"datastore-{d['id']}" for d in stores}
    assert set(policies) == expected | {"default-deny-all", "allow-dns-egress"}
    for name in expected:
        selected = policies[name]["spec"]["podSelector"]["matchLabels"]
        assert name.endswith("-" + selected["app.kubernetes.io/name"]) and selected["app.kubernetes.io/part-of"] == project

    deny = policies["default-deny-all"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["allow-dns-egress"]["spec"]
    assert dns["podSelector"] == {} and dns["policyTypes"] == ["Egress"] and "ingress" not in dns
    (rule,) = dns["egress"]
    assert sorted((p["port"], p["protocol"]) for p in rule["ports"]) == [(53, "TCP"), (53, "UDP")]

    (ns,) = [d for d in docs if d["kind"] == "Namespace"]
    assert ns["metadata"]["name"] == project
    version = "v" + arch["targets"]["kubernetes_version"]
    for mode in ("enforce", "audit", "warn"):
        assert ns["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert ns["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}-version"] == version


@pytest.mark.parametrize("example", EXAMPLES)
def test_helm_test_pods_reach_only_their_own_service(rendered, example: str) -> None:
    """The chart's `helm test` pods: a TCP connection to the service they test, nothing else."""
    arch = arch_of(example)
    project = arch["project"]["id"]
    folder = rendered(example, "network-policy")
    policies = policies_of(folder)
    pods = system_pods(arch)
    helm_only = load_yaml_docs(folder / FOLDER / HELM_TEST)
    assert all(d["spec"]["policyTypes"] in (["Ingress"], ["Egress"]) for d in helm_only)
    for svc in arch["services"] + [d for d in arch["datastores"] if in_cluster(d, arch["environments"])]:
        tester = Pod(f"test-{svc['id']}", project, {"app.kubernetes.io/component": "helm-test", "app.kubernetes.io/part-of": project,
                                                    "phasekit.dev/tests": svc["id"]}, "10.244.2.1")
        for other in pods.values():
            for port, protocol in sorted(probe_ports(arch)):
                expected = other.name == svc["id"] and protocol == "TCP" and (port, protocol) in server_ports(svc)
                assert allowed(policies, tester, other, port, protocol) is expected, (tester.name, other.name, port, protocol)


def chart_pods(docs: list[dict], namespace: str) -> tuple[dict[str, list[Pod]], list[dict], list[Pod]]:
    """What `helm template` runs: pods by compose service (annotation phasekit.dev/service), the Services, test pods."""
    pods: dict[str, list[Pod]] = {}
    for n, doc in enumerate(docs):
        kind = doc["kind"]
        if kind not in ("Deployment", "StatefulSet", "Job", "CronJob"):
            continue
        template = doc["spec"]["jobTemplate"]["spec"]["template"] if kind == "CronJob" else doc["spec"]["template"]
        service = doc["metadata"]["annotations"]["phasekit.dev/service"]
        named = {p["name"]: p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", []) if "name" in p}
        pods.setdefault(service, []).append(Pod(f"{kind}/{doc['metadata']['name']}", namespace, template["metadata"]["labels"], f"10.244.4.{n}", named))
    services = [d for d in docs if d["kind"] == "Service"]
    tests = [Pod(d["metadata"]["name"], namespace, d["metadata"]["labels"], "10.244.6.1") for d in docs if d["kind"] == "Pod"]
    return pods, services, tests


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_charts_pods_reach_what_they_depend_on(rendered, example: str) -> None:
    """Against the real chart (`helm template` per environment): every depends_on edge, from every pod of the client
    (whatever its workload kind) to every pod behind the server's Service, on every port of that Service; the pods
    of a service that declares no edge reach none; `helm test` pods reach the Service they test."""
    arch = arch_of(example)
    project = arch["project"]["id"]
    folder = rendered(example, "helm", "network-policy")
    chart = folder / "charts" / project
    policies = policies_of(folder)
    names = {s["name"]: s for s in arch["services"]} | {d["name"]: d for d in arch["datastores"]}
    for env in arch["environments"]:
        values = chart / f"values-{env}.yaml"
        result = run_tool(["helm", "template", project, str(chart), "--namespace", project, "-f", str(values)])
        assert result.returncode == 0, result.stderr
        pods, services, tests = chart_pods([d for d in yaml.safe_load_all(result.stdout) if d], project)
        assert set(pods) == {s["name"] for s in arch["services"]} | {d["name"] for d in arch["datastores"] if env not in d["external_in"] and not d["managed"]}
        behind = {}  # compose name -> (pods selected by its Service, the Service's ports)
        for service in services:
            if service["spec"].get("type") == "ExternalName":
                continue
            selected = [p for group in pods.values() for p in group if selects({"matchLabels": service["spec"]["selector"]}, p.labels)]
            (name,) = {n for n, group in pods.items() if set(group) & set(selected)}
            ports = []
            for entry in service["spec"]["ports"]:  # the port the pod listens on: targetPort, by number or by name
                target = entry.get("targetPort", entry["port"])
                ports.append((selected[0].named_ports[target] if isinstance(target, str) else target, entry.get("protocol", "TCP")))
            behind[name] = (selected, ports)
        checked = 0
        for svc in arch["services"]:
            for dep in svc["depends_on"]:
                if dep not in behind:
                    assert not names[dep].get("ports") or dep not in pods, (env, dep)  # a worker, or external here
                    continue
                targets, ports = behind[dep]
                for client in pods[svc["name"]]:
                    for target in targets:
                        for port, protocol in ports:
                            assert allowed(policies, client, target, port, protocol), f"{env}: {client.name} -> {target.name}:{port}/{protocol}"
                            checked += 1
            for other, (targets, ports) in behind.items():
                if other not in svc["depends_on"] and other != svc["name"]:
                    assert not [1 for c in pods[svc["name"]] for t in targets for port, proto in ports if allowed(policies, c, t, port, proto)], (env, svc["name"], other)
        assert checked > 0
        for tester in tests:
            targets, ports = behind[names_by_id(arch)[tester.labels["phasekit.dev/tests"]]]
            assert any(allowed(policies, tester, t, port, proto) for t in targets for port, proto in ports), (env, tester.name)


def names_by_id(arch: dict) -> dict[str, str]:
    return {item["id"]: item["name"] for item in arch["services"] + arch["datastores"]}


@pytest.mark.parametrize("example", EXAMPLES)
def test_kubernetes_validate_strict(rendered, example: str) -> None:
    arch = arch_of(example)
    folder = rendered(example, "network-policy") / FOLDER
    files = sorted(str(p) for p in folder.glob("*.yaml") if p.name != "kustomization.yaml")
    result = run_tool(["kubernetes-validate", "--strict", "-k", arch["targets"]["kubernetes_version"], *files])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == len(all_docs(folder.parent.parent))


@pytest.mark.parametrize("example", EXAMPLES)
def test_kustomize_builds_every_manifest(rendered, example: str) -> None:
    folder = rendered(example, "network-policy")
    result = run_tool(["kubectl", "kustomize", str(folder / FOLDER)])
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(map(key, built)) == sorted(map(key, all_docs(folder)))


@pytest.mark.slow  # checkov
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
    "environments": ["dev", "prod"],
    "services": [
        {"name": "edge.proxy", "kind": "gateway", "zone": "public", "ports": [{"port": 8443}], "depends_on": ["api_v2", "jobs"]},
        {"name": "api_v2", "ports": [{"port": 8080}, {"port": 5353, "protocol": "UDP"}],
         "depends_on": ["cloud_db", "blob", "cache", "pg", "statsd", "everywhere"],
         "egress": [{"host": "smtp.example.com", "port": 587}, {"cidr": "192.0.2.0/24", "port": 443},
                    {"cidr": "198.51.100.7/32", "port": 514, "protocol": "UDP"}]},
        {"name": "jobs", "kind": "worker", "depends_on": ["cache"]},
        {"name": "seed", "kind": "worker", "one_shot": True, "restart": "no", "depends_on": ["pg", "api_v2"]},
        {"name": "nightly", "kind": "cron", "schedule": "@daily", "depends_on": ["pg", "blob"]},
    ],
    "datastores": [
        {"name": "cloud_db", "engine": "postgres", "port": 5432, "managed": True, "endpoint": "db.abc123.eu-west-1.rds.amazonaws.com"},
        {"name": "pg", "engine": "postgres", "port": 5432, "ports": [{"port": 5432}, {"port": 9187}], "external_in": ["prod"], "endpoint": "192.0.2.40"},
        {"name": "everywhere", "engine": "mysql", "port": 3306, "external_in": ["dev", "prod"]},
        {"name": "blob", "engine": "s3"},
        {"name": "cache", "engine": "redis", "port": 6379, "ports": [{"port": 6379}, {"port": 26379}]},
        {"name": "statsd", "engine": "other", "ports": [{"port": 8125, "protocol": "UDP"}]},
        {"name": "unused", "engine": "mysql", "port": 3306},
    ],
}


@pytest.fixture(scope="module")
def corners(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    arch = model.validate(CORNERS, "corners")
    return arch, render_arch(CORNERS, tmp_path_factory.mktemp("np-corners"), "network-policy")


def test_corner_cases_model(corners) -> None:
    """The corner architecture means what the tests below assume."""
    arch, _ = corners
    workloads = {s["id"]: s["workload"] for s in arch["services"]}
    assert workloads["seed"] == "job" and workloads["nightly"] == "cronjob"
    assert set(system_pods(arch)) == {"edge-proxy", "api-v2", "jobs", "seed", "nightly", "pg", "blob", "cache", "statsd", "unused"}


def test_corner_cases_edges(corners) -> None:
    """UDP ports, a portless worker, a portless datastore, Job and CronJob clients, a datastore with several ports."""
    arch, folder = corners
    policies = policies_of(folder)
    assert_exactly_the_declared_edges(policies, arch)
    pods = system_pods(arch)
    assert allowed(policies, pods["edge-proxy"], pods["api-v2"], 5353, "UDP")
    assert not allowed(policies, pods["edge-proxy"], pods["api-v2"], 5353, "TCP")
    assert allowed(policies, pods["api-v2"], pods["statsd"], 8125, "UDP") and not allowed(policies, pods["api-v2"], pods["statsd"], 8125, "TCP")
    assert allowed(policies, pods["api-v2"], pods["cache"], 26379) and allowed(policies, pods["jobs"], pods["cache"], 6379)
    assert allowed(policies, pods["api-v2"], pods["blob"], 9000) and allowed(policies, pods["nightly"], pods["blob"], 443)  # s3 without a port
    assert allowed(policies, pods["seed"], pods["pg"], 5432) and allowed(policies, pods["seed"], pods["pg"], 9187)  # a Job
    assert allowed(policies, pods["seed"], pods["api-v2"], 8080)
    assert allowed(policies, pods["nightly"], pods["pg"], 5432) and not allowed(policies, pods["nightly"], pods["cache"], 6379)  # a CronJob
    assert not allowed(policies, pods["edge-proxy"], pods["jobs"], 9464)  # a worker listens on nothing
    assert allowed(policies, PROMETHEUS, pods["jobs"], 9464) and allowed(policies, PROMETHEUS, pods["api-v2"], 8080)
    assert not allowed(policies, PROMETHEUS, pods["api-v2"], 5353, "UDP")
    assert allowed(policies, pods["nightly"], PUSHGATEWAY, 9091) and not allowed(policies, pods["seed"], PUSHGATEWAY, 9091)
    names = {p["metadata"]["name"] for p in policies}
    assert {"datastore-unused", "datastore-pg"} <= names and not {"datastore-cloud-db", "datastore-everywhere"} & names
    unused = next(p for p in policies if p["metadata"]["name"] == "datastore-unused")
    assert unused["spec"]["egress"] == [] and len(unused["spec"]["ingress"]) == 1  # Prometheus only
    assert not [o for o in pods.values() if allowed(policies, o, pods["unused"], 3306)]
    assert allowed(policies, PROMETHEUS, pods["unused"], 3306)
    statsd = next(p for p in policies if p["metadata"]["name"] == "datastore-statsd")
    assert len(statsd["spec"]["ingress"]) == 1  # api_v2 only: nothing to scrape over UDP


def outside(ip: str) -> Pod:
    return Pod(ip, None, {}, ip)


def test_corner_cases_external_endpoints(corners) -> None:
    """Managed and external datastores at their endpoint's port, declared egress by cidr or host; never the cluster."""
    arch, folder = corners
    policies = policies_of(folder)
    pods = system_pods(arch)
    api, seed, nightly, jobs = pods["api-v2"], pods["seed"], pods["nightly"], pods["jobs"]
    somewhere = outside("203.0.113.7")
    # managed (a host name): any address outside the cluster ranges, on its port only
    assert allowed(policies, api, somewhere, 5432) and not allowed(policies, api, somewhere, 5433)
    assert not allowed(policies, jobs, somewhere, 5432)  # jobs does not depend on it
    # external in prod at an IP address: that address only, on its ports
    assert allowed(policies, seed, outside("192.0.2.40"), 5432) and allowed(policies, nightly, outside("192.0.2.40"), 9187)
    assert not allowed(policies, seed, outside("192.0.2.41"), 5432)
    # external everywhere without an endpoint: outside the cluster on 3306
    assert allowed(policies, api, somewhere, 3306) and not allowed(policies, seed, somewhere, 3306)
    # declared egress: host -> outside the cluster on 587; cidr -> that block on 443; UDP stays UDP
    assert allowed(policies, api, somewhere, 587) and not allowed(policies, api, somewhere, 25)
    assert allowed(policies, api, outside("192.0.2.200"), 443) and not allowed(policies, api, outside("198.51.100.200"), 443)
    assert allowed(policies, api, outside("198.51.100.7"), 514, "UDP") and not allowed(policies, api, outside("198.51.100.7"), 514, "TCP")
    assert not allowed(policies, api, outside("198.51.100.8"), 514, "UDP")
    # the "outside" blocks exclude the cluster's pod and service ranges: no path to another namespace's pods
    for cidr in DEFAULT_CLUSTER_CIDRS:
        inside = str(next(ipaddress.ip_network(cidr).hosts()))
        other_ns = Pod("postgres-elsewhere", "other", {"app.kubernetes.io/name": "pg"}, inside)
        for port in (5432, 3306, 587):
            assert not allowed(policies, api, other_ns, port), (cidr, port)


def test_corner_cases_comments_explain_hosts(corners) -> None:
    _, folder = corners
    text = (folder / FOLDER / "services.yaml").read_text(encoding="utf-8")
    assert "# to smtp.example.com (declared egress): a NetworkPolicy cannot" in text
    assert 'db.abc123.eu-west-1.rds.amazonaws.com' in text and "cannot name a host" in text


def test_cluster_ranges_and_monitoring_namespace_are_answers(tmp_path: Path) -> None:
    """Both are questions of the blueprint (stored in its answers file); other values reach every policy."""
    from phasekit import render

    arch = model.validate(CORNERS, "corners")
    render.render_to(tmp_path, arch, "network-policy", render.Source.resolve(None, None),
                     extra={"monitoring_namespace": "observability", "cluster_cidrs": ["172.30.0.0/16", "fd00:10::/56"]})
    policies = policies_of(tmp_path)
    pods = system_pods(arch)
    prometheus = Pod("prometheus", "observability", PROMETHEUS.labels, "172.30.8.1")
    assert allowed(policies, prometheus, pods["api-v2"], 8080) and not allowed(policies, PROMETHEUS, pods["api-v2"], 8080)
    assert allowed(policies, pods["api-v2"], outside("10.1.2.3"), 587)  # 10/8 is no longer a cluster range
    assert not allowed(policies, pods["api-v2"], outside("172.30.1.1"), 587)
    assert allowed(policies, pods["api-v2"], outside("2001:db8::1"), 587) and not allowed(policies, pods["api-v2"], outside("fd00:10::5"), 587)
    files = sorted(str(p) for p in (tmp_path / FOLDER).glob("*.yaml") if p.name != "kustomization.yaml")
    result = run_tool(["kubernetes-validate", "--strict", "-k", "1.31", *files])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("answers", "message"), [
    ({"monitoring_namespace": "Not_A_Namespace"}, "namespace name"),
    ({"cluster_cidrs": ["10.0.0.0"]}, "not a CIDR"),
    ({"cluster_cidrs": "10.0.0.0/8"}, "list of CIDRs"),
])
def test_bad_answers_are_refused(tmp_path: Path, answers: dict, message: str) -> None:
    from phasekit import render
    from phasekit.errors import PhasekitError

    arch = model.validate(CORNERS, "corners")
    with pytest.raises(PhasekitError, match=message):
        render.render_to(tmp_path, arch, "network-policy", render.Source.resolve(None, None), extra=answers)


def test_corner_cases_validate(corners) -> None:
    arch, folder = corners
    files = sorted(str(p) for p in (folder / FOLDER).glob("*.yaml") if p.name != "kustomization.yaml")
    result = run_tool(["kubernetes-validate", "--strict", "-k", arch["targets"]["kubernetes_version"], *files])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == len(all_docs(folder))
    built = run_tool(["kubectl", "kustomize", str(folder / FOLDER)])
    assert built.returncode == 0, built.stderr


def test_all_datastores_outside_the_cluster(tmp_path: Path) -> None:
    """No datastore pods anywhere: datastores.yaml holds no policy (only why), kustomize still builds."""
    arch = {"version": 1, "project": {"name": "solo"}, "services": [{"name": "web", "ports": [{"port": 80}], "depends_on": ["db"]}],
            "datastores": [{"name": "db", "engine": "postgres", "port": 5432, "managed": True}]}
    folder = render_arch(arch, tmp_path, "network-policy") / FOLDER
    assert load_yaml_docs(folder / "datastores.yaml") == []
    assert "datastore-db" not in {p["metadata"]["name"] for p in policies_of(folder.parent.parent)}
    built = run_tool(["kubectl", "kustomize", str(folder)])
    assert built.returncode == 0, built.stderr
    pods = {"web": pod_of("solo", "web", 1)}
    assert allowed(policies_of(folder.parent.parent), pods["web"], outside("203.0.113.7"), 5432)


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
    pods = system_pods(arch)
    assert not allowed(policies_of(tmp_path), pods["ui"], pods["redis"], 6379)
    own = tmp_path / FOLDER / "allow-monitoring.yaml"
    own.write_text("# the team's own policy\n", encoding="utf-8")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "network policies")
    next(s for s in arch["services"] if s["name"] == "ui")["depends_on"].append("redis")
    (tmp_path / "architecture.yaml").write_text(model.dump(arch), encoding="utf-8")
    git("commit", "-qam", "ui reads redis")
    run(*phasekit, "update", "--arch", "architecture.yaml", "--dest", ".")
    assert allowed(policies_of(tmp_path), pods["ui"], pods["redis"], 6379)
    assert_exactly_the_declared_edges(policies_of(tmp_path), model.validate(arch, "test"))
    assert own.read_text(encoding="utf-8") == "# the team's own policy\n"


def test_a_datastore_that_depends_on_a_service_may_call_it_and_nothing_else(tmp_path: Path) -> None:
    """compose's `db: depends_on: [vector]` (Supabase's Postgres waits for its log shipper) is an edge too."""
    arch = model.load(REPO / "examples" / "insights" / "architecture.yaml")
    store = arch["datastores"][0]
    target = next(s for s in arch["services"] if s["ports"])
    store["depends_on"] = [target["name"]]
    arch = model.validate(arch, "test")
    render_arch(arch, tmp_path, "network-policy")
    policies = policies_of(tmp_path)
    pods = system_pods(arch)
    port = target["ports"][0]["port"]
    assert allowed(policies, pods[store["id"]], pods[target["id"]], port)
    assert_exactly_the_declared_edges(policies, arch)
