"""The ten capabilities and their checks. Each check reads the architecture model and the repository.

Every rule here is described for readers in docs/assess.md; keep the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from ..model import FRAMEWORK_HEALTH_PATHS
from ._repo import CODE_SUFFIXES, CONFIG_SUFFIXES, RepoScan, walk
from ._types import Capability, Check

BROKER_ENGINES = {"kafka", "nats", "rabbitmq"}
BROKER_WORDS = r"kafka|nats|rabbitmq|redpanda|pulsar"
SCANNERS = r"trivy|codeql|grype|snyk|zizmor|checkov|anchore|dependency-review|gitleaks|osv-scanner|hadolint|kics|tfsec"
# Two is the smallest count with no single point of failure: one replica can be lost (or drained) while one serves.
MIN_REPLICAS = 2


@dataclass
class Context:
    arch: dict[str, Any]
    repo: RepoScan

    @property
    def services(self) -> list[dict[str, Any]]:
        services: list[dict[str, Any]] = self.arch["services"]
        return services

    @property
    def datastores(self) -> list[dict[str, Any]]:
        stores: list[dict[str, Any]] = self.arch["datastores"]
        return stores

    def facts(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.arch["facts"] if f["kind"] == kind]

    def fact_lines(self, kind: str) -> list[str]:
        return [f"fact {kind}: {f['subject']}" + (f" ({f['detail']})" if f.get("detail") else "") for f in self.facts(kind)]

    @cached_property
    def probed_services(self) -> list[dict[str, Any]]:
        """Services that can have a health check at all (cron jobs run to completion and have none)."""
        return [s for s in self.services if s["kind"] != "cron"]

    @cached_property
    def chart_evidence(self) -> list[str]:
        return [f"Helm chart {c}/" for c in self.repo.charts]

    # -------------------------------------------------------------- repo evidence shared by several checks

    @cached_property
    def workflows(self) -> dict[str, dict[str, Any]]:
        out = {}
        for rel, docs in self.repo.yaml_docs.items():
            if rel.startswith(".github/workflows/") and docs and isinstance(docs[0], dict) and isinstance(docs[0].get("jobs"), dict):
                out[rel] = docs[0]
        for rel, docs in self.repo.yaml_docs.items():
            if rel == ".gitlab-ci.yml" and docs and isinstance(docs[0], dict):
                out[rel] = {"on": {"push": None}, "jobs": {k: v for k, v in docs[0].items() if isinstance(v, dict) and "script" in v}}
        return out

    def workflow_text_hits(self, pattern: str) -> list[str]:
        rx = re.compile(pattern, re.IGNORECASE)
        return [rel for rel in self.workflows if rx.search(self.repo.text(rel))]

    @cached_property
    def network_policies(self) -> list[str]:
        return self.repo.k8s_kind("NetworkPolicy")

    @cached_property
    def default_deny(self) -> list[str]:
        """Files with a NetworkPolicy that selects every pod and allows nothing in."""
        hits = []
        for rel, objs in self.repo.manifests.items():
            for obj in objs:
                spec = obj.get("spec") or {}
                if obj["kind"] == "NetworkPolicy" and spec.get("podSelector") in ({}, None) and "podSelector" in spec \
                        and "Ingress" in (spec.get("policyTypes") or []) and not spec.get("ingress"):
                    hits.append(rel)
                    break
        return hits


def _names(items: list[dict[str, Any]]) -> str:
    return ", ".join(i["name"] for i in items)


def _files(label: str, rels: list[str], limit: int = 5) -> list[str]:
    if not rels:
        return []
    shown = ", ".join(rels[:limit]) + (f" and {len(rels) - limit} more" if len(rels) > limit else "")
    return [f"{label}: {shown}"]


# ============================================================================ 1. infrastructure as code


def iac(ctx: Context) -> Capability:
    repo, arch = ctx.repo, ctx.arch
    compose = sorted(repo.compose_files)
    tf = [rel for rel in repo.with_suffix(".tf") if re.search(r'^\s*(resource|module)\s+"', repo.text(rel), re.MULTILINE)]
    declared_ev = _files("compose files", compose) + _files("Terraform", tf) + ctx.chart_evidence
    if arch["targets"]["runtime"] == "compose":
        declared_ev.append("targets.runtime: compose (the captured system is started from a compose file)")
    tfvars = repo.with_suffix(".tfvars", ".tfvars.json")
    per_env = {env: [rel for rel in tfvars if env in re.split(r"[/._-]", rel)] for env in arch["environments"]}
    missing_env = [env for env, hits in per_env.items() if not hits]
    backends = [rel for rel in repo.with_suffix(".tf") if re.search(r'^\s*backend\s+"\w+"', repo.text(rel), re.MULTILINE)]
    backends += repo.with_suffix(".tfbackend")
    return Capability("iac", "Infrastructure as code", [
        Check("iac.declared", "The system is declared in files, not set up by hand", bool(declared_ev), declared_ev,
              problem="No compose file, chart or Terraform describes how the system is run.",
              why="What is not written down cannot be reviewed, repeated or rebuilt after a loss.",
              blueprint="terraform"),
        Check("iac.terraform", "Infrastructure is managed by Terraform", bool(tf), _files("Terraform with resources or modules", tf)
              or ["no *.tf file declares a resource or module"],
              problem="No Terraform (*.tf with resources or modules) in the repository.",
              why="Without a plan/apply workflow and state, changes to networks and services are not reviewed and drift goes unseen.",
              blueprint="terraform"),
        Check("iac.environments", f"One configuration per environment ({', '.join(arch['environments'])})", not missing_env,
              [f"{env}: {', '.join(hits)}" for env, hits in per_env.items() if hits]
              + ([f"no tfvars for: {', '.join(missing_env)}"] if missing_env else []) + ctx.fact_lines("missing-env-file"),
              problem=f"No variable file for {', '.join(missing_env)}; values such as addresses and sizes are hard-coded.",
              why="Environments that are copied by hand diverge; staging stops predicting production.",
              blueprint="terraform"),
        Check("iac.state", "Terraform state is kept in a backend, one per environment", bool(backends), _files("backend", backends)
              or ["no backend block in *.tf and no *.tfbackend file"],
              problem="No Terraform backend is configured.",
              why="Local state gets lost or edited concurrently; a backend gives locking and one truth per environment.",
              blueprint="terraform"),
    ])


# ============================================================================ 2. health checks


def health(ctx: Context) -> Capability:
    repo = ctx.repo
    compose_checks = repo.compose_healthchecks()
    probe_files = repo.k8s_text(r"readinessProbe|\}\}Probe:")
    missing, evidence = [], []
    for svc in ctx.probed_services:
        if svc["health"]["declared"]:
            evidence.append(f"{svc['name']}: health.declared is true")
        elif svc["name"] in compose_checks or svc["id"] in compose_checks:
            evidence.append(f"{svc['name']}: healthcheck in {compose_checks.get(svc['name']) or compose_checks[svc['id']]}")
        elif probe_files and _mentioned(repo, probe_files + _chart_values(repo), svc):
            evidence.append(f"{svc['name']}: probes in {', '.join(probe_files[:2])}")
        else:
            missing.append(svc)
    evidence += ctx.fact_lines("no-healthcheck")
    # The endpoints the probes call must exist in code: every HTTP path the model declares, found in a source file.
    # A path the service's framework serves itself (Streamlit's /_stcore/health) needs no code of ours.
    builtin = [f"{svc['name']}: {svc['health'][p]['path']} is served by {svc['framework']} itself"
               for svc in ctx.probed_services for p in ("liveness",)
               if svc.get("framework") in FRAMEWORK_HEALTH_PATHS
               and FRAMEWORK_HEALTH_PATHS[svc["framework"]] == svc["health"][p].get("path")]
    paths = sorted({svc["health"][p]["path"] for svc in ctx.probed_services for p in ("liveness", "readiness")
                    if svc["health"][p]["type"] == "http" and not svc["health"]["declared"]
                    and FRAMEWORK_HEALTH_PATHS.get(svc.get("framework", "")) != svc["health"][p].get("path")})
    # A snippet the health blueprint wrote serves nothing until the app imports it: only the team's own code
    # (outside the blueprint's health/ folder) counts, by the path itself or by an import of a snippet module.
    code = [rel for rel in repo.files if PurePosixPath(rel).suffix.lower() in CODE_SUFFIXES and not rel.startswith(SNIPPETS)]
    wired = [rel for rel in code if SNIPPET_IMPORT.search(repo.text(rel))]
    found = {p: [rel for rel in code if p in repo.text(rel)] or wired for p in paths}
    unserved = [p for p, hits in found.items() if not hits]
    return Capability("health", "Health checks", [
        Check("health.checks", "Every service has a health check the runtime runs", not missing,
              evidence + ([f"no health check: {_names(missing)}"] if missing else []),
              problem=f"No health check for {_names(missing)}.",
              why="A hung process looks alive: nothing restarts it, and traffic keeps going to it.",
              blueprint="health"),
        Check("health.endpoints", "Services serve liveness and readiness endpoints", not unserved,
              builtin + [f"{p}: {', '.join(hits[:3])}" for p, hits in found.items() if hits]
              + ([f"not found in any source file: {', '.join(unserved)}"] if unserved else [])
              + ([] if paths or builtin else ["no HTTP probe path to serve (TCP/exec probes, or checks already declared)"]),
              problem=f"No code serves {', '.join(unserved)}.",
              why="Liveness (am I stuck?) and readiness (can I serve: are my dependencies up?) are different answers; "
                  "a probe against a missing path fails or, worse, checks nothing.",
              blueprint=None, phase=1,
              action="Import the snippet the health blueprint wrote (health/snippets/) into each service's app, or "
                     "serve the paths yourself; a snippet that nothing imports serves nothing."),
    ])


# The health blueprint's folder: its checker calls the paths and its snippets offer them; neither serves them.
SNIPPETS = "health/"
SNIPPET_IMPORT = re.compile(r"\b(flask_health|fastapi_health|heartbeat)\b|health/snippets/|healthsnippet")


def _chart_values(repo: RepoScan) -> list[str]:
    return [rel for rel in repo.chart_text if PurePosixPath(rel).name.startswith("values")]


def _mentioned(repo: RepoScan, rels: list[str], item: dict[str, Any]) -> bool:
    """A chart that ranges over the services names each one in its values (by name or DNS id)."""
    rx = re.compile(rf"(?<![\w-])({re.escape(item['id'])}|{re.escape(item['name'])})(?![\w-])")
    return any(rx.search(repo.text(rel)) for rel in rels)


# ============================================================================ 3. dynamic scaling


def scaling(ctx: Context) -> Capability:
    repo = ctx.repo
    pinned = [x for x in [*ctx.services, *ctx.datastores] if x["static_ips"]]
    addr_ev = [f"{x['name']}: " + ", ".join(f"{ip} on {net}" for net, ip in sorted(x["static_ips"].items())) for x in pinned]
    k8s_services = repo.k8s_kind("Service")
    discovery = bool(k8s_services) and bool(repo.k8s_kind("Deployment") or repo.k8s_kind("StatefulSet"))
    if pinned and discovery:
        addr_ev.append("the Kubernetes target addresses services by DNS name: " + ", ".join(k8s_services[:3])
                       + " (the static addresses stay in the compose file until it is retired)")
    hpa = repo.k8s_kind("HorizontalPodAutoscaler") + repo.k8s_text(r"ScaledObject")
    fixed = [s for s in ctx.services if s["kind"] not in ("cron",)]
    local = [s for s in ctx.services if _kept_paths(s) and not s["stateful"] and s["kind"] != "cron"]
    no_res = ctx.facts("no-resources")
    res_ev = ctx.fact_lines("no-resources")
    resources_in_chart = repo.k8s_text(r"\brequests\s*:")
    if no_res and resources_in_chart:
        res_ev.append("resource requests set in " + ", ".join(resources_in_chart[:3]))
    return Capability("scaling", "Dynamic scaling", [
        Check("scaling.addresses", "Services find each other by name, not by fixed IP address", not pinned or discovery, addr_ev
              or ["no static addresses in the architecture"],
              problem=f"Static IP addresses on {_names(pinned)}: a second replica would need an address of its own, "
                      "so no service can scale out.",
              why="Fixed addresses pin one instance per address and must be edited by hand on every change; service "
                  "discovery (a Kubernetes Service) balances over however many replicas run.",
              blueprint="helm"),
        Check("scaling.autoscaling", "Replica counts follow load (an autoscaler), not a fixed number", bool(hpa),
              _files("autoscaler", hpa) or ["fixed replica counts: " + ", ".join(f"{s['name']}={s['replicas']}" for s in fixed)],
              problem="Replica counts are fixed (" + ", ".join(f"{s['name']}={s['replicas']}" for s in fixed) + ").",
              why="A fixed count is either too small at peak or paid for when idle.",
              blueprint="helm"),
        Check("scaling.resources", "Every service declares CPU and memory requests", not no_res or bool(resources_in_chart),
              res_ev or ["no no-resources facts; the model carries requests and limits for every service"],
              problem=f"No resource requests for {', '.join(f['subject'] for f in no_res)}.",
              why="An autoscaler scales on utilisation of the request, and the scheduler places pods by it.",
              blueprint="helm"),
        Check("scaling.local-state", "Replicas share no local disk", not local,
              [f"{s['name']} writes {', '.join(_kept_paths(s))}" for s in local] or ["no service keeps data on a local path"],
              problem=f"Data kept on a local path by {_names(local)}; each replica would see only its own files.",
              why="Work written by one replica is invisible to the others and lost with its pod.",
              blueprint=None, phase=2,
              action="Move the data to a shared store (object storage or a database) or keep the files only for "
                     "the duration of a request; then drop the path from writable_paths or mark the service stateful."),
    ])


# Scratch space by convention (FHS): files there are not expected to outlive the process, so replicas need not share them.
SCRATCH = ("/tmp", "/var/tmp", "/run", "/var/run", "/var/cache")


def _kept_paths(svc: dict[str, Any]) -> list[str]:
    return [p for p in svc["writable_paths"] if not any(p == s or p.startswith(s + "/") for s in SCRATCH)]


# ============================================================================ 4. fault tolerance


def fault(ctx: Context) -> Capability:
    repo = ctx.repo
    single = [s for s in ctx.probed_services if s["replicas"] < MIN_REPLICAS]
    many = _replicas_in_values(repo)
    rep_ev = [f"{s['name']}: replicas {s['replicas']}" for s in single] + ctx.fact_lines("single-replica")
    if many:
        rep_ev.append(f"chart values ask for at least {MIN_REPLICAS} replicas: {', '.join(many[:3])}")
    pdb = repo.k8s_kind("PodDisruptionBudget")
    # Charts often build probe keys in a loop ({{ $probe }}Probe:), so a probe handler also counts.
    probes = repo.k8s_text(r"readinessProbe|livenessProbe|\}\}Probe:|httpGet:|tcpSocket:")
    stores = [d for d in ctx.datastores if d["persistent"] and not d["managed"]]
    # A single writer of its data (scalable: false) stays at one pod in every chart: the team decides first.
    writers = [s for s in single if not s.get("scalable", True) and s.get("workload") in ("deployment", "statefulset")]
    rep_ev += [f"{s['name']}: writes its data to a volume (scalable: false), so the chart runs one pod" for s in writers]
    return Capability("fault", "Fault tolerance", [
        Check("fault.replicas", f"No single point of failure: at least {MIN_REPLICAS} replicas of every service",
              not single or (bool(many) and not writers), rep_ev or [f"every service runs {MIN_REPLICAS} or more replicas"],
              problem=f"Single points of failure: {_names(single)} run one replica.",
              why="One crash, node loss or deploy takes the service down; nothing serves while it restarts.",
              blueprint="helm",
              needs=(f"move the data of {_names(writers)} to shared storage and set scalable: true" if writers else "")),
        Check("fault.disruption-budget", "A PodDisruptionBudget keeps replicas up during node maintenance", bool(pdb),
              _files("PodDisruptionBudget", pdb) or ["no PodDisruptionBudget"],
              problem="No PodDisruptionBudget.",
              why="A node drain may evict every replica at once; a budget makes voluntary disruptions wait.",
              blueprint="helm"),
        Check("fault.probes", "The orchestrator restarts and routes around failed instances (liveness and readiness probes)",
              bool(probes), _files("probes", probes) or ["no liveness/readiness probes in Kubernetes manifests or charts"],
              problem="Nothing acts on health: no orchestrator probes.",
              why="A check nobody acts on does not restart a stuck process or take it out of the load balancer.",
              blueprint="helm"),
        Check("fault.datastores", "Persistent datastores are replicated or managed", not stores,
              [f"{d['name']} ({d['engine']}): one self-run instance" for d in stores] or ["no self-run persistent datastores"],
              problem=f"One self-managed instance holds the data of {_names(stores)}.",
              why="Losing its volume or host loses the data or stops every service that depends on it.",
              blueprint=None, phase=2,
              action="Move the datastore to a managed service or a replicated operator deployment with tested "
                     "backups; then set managed: true for it in architecture.yaml."),
    ])


def _replicas_in_values(repo: RepoScan) -> list[str]:
    """Chart values (or plain manifests) that ask for MIN_REPLICAS or more instances."""
    keys = {"replicas", "replicaCount", "minReplicas", "minAvailable"}
    hits = []
    for rel, docs in repo.yaml_docs.items():
        if rel not in repo.chart_text and rel not in repo.manifests:
            continue
        if any(k in keys and isinstance(v, int) and not isinstance(v, bool) and v >= MIN_REPLICAS
               for k, v in walk(docs)) and (rel in repo.manifests or PurePosixPath(rel).name.startswith("values")):
            hits.append(rel)
    return hits


# ============================================================================ 5. observability


def observability(ctx: Context) -> Capability:
    repo = ctx.repo
    scrape = [rel for rel, docs in repo.yaml_docs.items() if any(isinstance(d, dict) and isinstance(d.get("scrape_configs"), list) for d in docs)]
    images = {s["name"]: (s.get("image") or "") for s in ctx.services}
    scrape += [f"service {n} ({img})" for n, img in images.items() if re.search(r"prometheus|victoriametrics|otel", img)]
    alerts = []
    for rel, docs in repo.yaml_docs.items():
        for doc in docs:
            groups = doc.get("groups") if isinstance(doc, dict) else None
            if isinstance(groups, list):
                rules = [r for g in groups if isinstance(g, dict) for r in (g.get("rules") or []) if isinstance(r, dict)]
                if any("alert" in r for r in rules):
                    alerts.append(rel)
                    break
    dashboards = []
    for rel, doc in repo.json_docs.items():
        dash = doc.get("dashboard", doc) if isinstance(doc, dict) else None
        if isinstance(dash, dict) and isinstance(dash.get("panels"), list) and dash["panels"]:
            dashboards.append(rel)
    tracing = [rel for rel, docs in repo.yaml_docs.items()
               if any(isinstance(d, dict) and {"receivers", "exporters", "service"} <= set(d) for d in docs)]
    tracing += [rel for rel in repo.grep(r"opentelemetry|\botlp\b|jaeger|zipkin", CONFIG_SUFFIXES - {".json"}) if rel not in tracing]
    tracing += [f"service {n} ({img})" for n, img in images.items() if re.search(r"jaeger|otel|tempo|zipkin", img)]
    return Capability("observability", "Observability", [
        Check("observability.metrics", "Metrics are collected from every service (Prometheus)", bool(scrape),
              _files("scrape configuration", scrape) or ["no Prometheus scrape configuration"],
              problem="No metrics are collected.", why="Without metrics there is no baseline, no capacity planning and no alert.",
              blueprint="monitoring"),
        Check("observability.alerts", "Alert rules page someone when the service fails its objectives", bool(alerts),
              _files("alert rules", alerts) or ["no Prometheus alert rules"],
              problem="No alert rules.", why="Users find outages first; an SLO burn-rate alert finds them before users do.",
              blueprint="monitoring"),
        Check("observability.dashboards", "Dashboards show the golden signals", bool(dashboards),
              _files("dashboards", dashboards) or ["no Grafana dashboard JSON"],
              problem="No dashboards.", why="During an incident the team needs one place that shows rate, errors and latency.",
              blueprint="monitoring"),
        Check("observability.tracing", "Requests are traced across services (OpenTelemetry)", bool(tracing),
              _files("tracing configuration", tracing) or ["no OpenTelemetry/Jaeger configuration"],
              problem="No distributed tracing.", why="A slow request that crosses several services cannot be explained from logs of each.",
              blueprint="events"),
    ])


# ============================================================================ 6. automation


def automation(ctx: Context) -> Capability:
    ci, cd = [], []
    for rel, wf in ctx.workflows.items():
        triggers = wf["on"] if "on" in wf else wf.get(True)  # type: ignore[call-overload]  # PyYAML reads `on:` as True
        names = set(triggers) if isinstance(triggers, dict) else set(triggers) if isinstance(triggers, list) else {triggers}
        if names & {"push", "pull_request", "merge_group"} and wf["jobs"]:
            ci.append(rel)
        for job_id, job in wf["jobs"].items():
            if isinstance(job, dict) and ("environment" in job or "deploy" in str(job_id).lower()):
                cd.append(rel)
                break
    deps = [rel for rel, docs in ctx.repo.yaml_docs.items() if PurePosixPath(rel).name in ("dependabot.yml", "dependabot.yaml")
            and docs and isinstance(docs[0], dict) and docs[0].get("updates")]
    deps += [rel for rel in ctx.repo.files if PurePosixPath(rel).name in ("renovate.json", "renovate.json5", ".renovaterc")]
    return Capability("automation", "Automation", [
        Check("automation.ci", "Every change is built and tested by CI", bool(ci),
              _files("CI workflows", ci) or ["no CI workflow runs on push or pull request"],
              problem="No CI pipeline: changes are tested by hand, if at all.",
              why="Untested changes reach production; review has nothing objective to rely on.", blueprint="ci"),
        Check("automation.cd", "Deployments run from a pipeline, per environment", bool(cd), _files("deploy workflows", cd) or ["no deploy job"],
              problem="Deployments are manual commands.", why="Manual deploys are slow, differ between people and cannot be rolled back reliably.",
              blueprint="ci"),
        Check("automation.dependencies", "Dependency updates are proposed automatically", bool(deps), _files("update configuration", deps)
              or ["no Dependabot or Renovate configuration"],
              problem="Dependencies and base images are updated by hand.", why="Security fixes wait until someone remembers.",
              blueprint="ci"),
    ])


# ============================================================================ 7. policy as code


def policy(ctx: Context) -> Capability:
    rego = [rel for rel in ctx.repo.with_suffix(".rego") if not rel.endswith("_test.rego")
            and re.search(r"^\s*package\s+\S", ctx.repo.text(rel), re.MULTILINE)]
    tests = [rel for rel in ctx.repo.with_suffix("_test.rego") if re.search(r"\btest_\w+", ctx.repo.text(rel))]
    nets = ctx.network_policies
    return Capability("policy", "Policy as code", [
        Check("policy.network", "NetworkPolicies allow only the declared traffic", bool(nets),
              _files("NetworkPolicies", nets) or ["no NetworkPolicy"],
              problem="No NetworkPolicies: every pod can reach every other pod.",
              why="Zones exist only on paper; one compromised service reaches the database and the private zone.",
              blueprint="network-policy"),
        Check("policy.default-deny", "Traffic is denied unless a policy allows it", bool(ctx.default_deny),
              _files("default-deny", ctx.default_deny) or ["no default-deny NetworkPolicy (empty podSelector, Ingress, no rules)"],
              problem="No default-deny policy.", why="Allow-lists only protect when everything else is denied.",
              blueprint="network-policy"),
        Check("policy.opa", "Deployment and access rules are written as OPA policies", bool(rego), _files("rego", rego) or ["no .rego policies"],
              problem="No policy as code: rules live in people's heads and nginx.conf.",
              why="Policies that are code are reviewed, tested and enforced the same way every time.",
              blueprint="opa"),
        Check("policy.tests", "Policies have unit tests", bool(tests), _files("rego tests", tests) or ["no *_test.rego with test_ rules"],
              problem="No policy tests.", why="An untested policy either blocks good changes or lets bad ones through.",
              blueprint="opa"),
    ])


# ============================================================================ 8. security


def security(ctx: Context) -> Capability:
    repo = ctx.repo
    in_env = ctx.facts("secret-in-env")
    secret_refs = repo.k8s_text(r"secretKeyRef|secretRef|ExternalSecret|SealedSecret")
    sec_ev = ctx.fact_lines("secret-in-env")
    if in_env and secret_refs:
        sec_ev.append("the Kubernetes target reads secrets from Secret objects: " + ", ".join(secret_refs[:3]))
    root = ctx.facts("root-user") + ctx.facts("privileged")
    nonroot = repo.k8s_text(r"runAsNonRoot:\s*true")
    built = [s for s in ctx.services if s.get("build")]
    dockerfiles = [rel for rel in repo.files if PurePosixPath(rel).name.startswith("Dockerfile")]
    users = [rel for rel in dockerfiles if _final_user_nonroot(repo.text(rel))]
    root_ev = ctx.fact_lines("root-user") + ctx.fact_lines("privileged") + _files("runAsNonRoot: true", nonroot) \
        + _files("Dockerfiles ending with a non-root USER", users)
    root_ok = bool(nonroot) or (not root and bool(built) and len(users) >= len(built) and not [s for s in ctx.services if not s.get("build")])
    unpinned = [x for x in [*ctx.services, *ctx.datastores] if x.get("image") and _unpinned(x["image"])]
    pin_ev = [f"{x['name']}: {x['image']}" for x in unpinned] + ctx.fact_lines("unpinned-image")
    scans = ctx.workflow_text_hits(SCANNERS)
    exposed = []
    for svc in ctx.services:
        if svc["zone"] == "private":
            exposed += [f"{svc['name']}: port {p['port']} published on {p.get('host_ip') or '0.0.0.0'}" for p in svc["ports"]
                        if p.get("published") and (p.get("host_ip") or "0.0.0.0") not in ("127.0.0.1", "::1")]
    exp_ev = exposed + ctx.fact_lines("public-bind")
    if exposed and ctx.default_deny:
        exp_ev.append("default-deny NetworkPolicies keep the private zone closed: " + ", ".join(ctx.default_deny[:2]))
    return Capability("security", "Security", [
        # A chart that takes secrets by reference is evidence, not closure: while capture still finds plain
        # values in the compose file, those credentials sit in the repository and must be moved and rotated.
        Check("security.secrets", "Secrets come from a secret store, not plain environment values", not in_env,
              sec_ev or ["no secret-in-env facts"],
              problem="Secrets in plain environment values: " + "; ".join(f"{f['subject']} ({f.get('detail', '')})" for f in in_env) + ".",
              why="Plain env values end up in compose files, `docker inspect`, logs and crash dumps, and are never rotated.",
              blueprint=None, phase=1,
              action="Move each value into a secret store (the Helm chart and workflows already take secrets by name), "
                     "delete it from the compose file, rotate it, then run `phasekit capture` again."),
        Check("security.non-root", "Containers run as non-root and unprivileged", root_ok,
              root_ev or ["not shown: no manifest sets runAsNonRoot and not every image's Dockerfile ends with a non-root USER"],
              problem="Containers run as root (or it is not shown that they do not)"
              + (f": {', '.join(f['subject'] for f in root)}" if root else "") + ".",
              why="A process that escapes its container as root owns the host.",
              blueprint="helm"),
        Check("security.pinned-images", "Images are pinned to a version", not unpinned and not ctx.facts("unpinned-image"),
              pin_ev or ["every image names a version tag"],
              problem=f"Unpinned images: {', '.join(pin_ev)}.",
              why="`latest` changes under you: a rebuild ships code nobody reviewed and a rollback does not roll back.",
              blueprint=None, phase=4,
              action="Pin each image to a version tag (or digest) in the compose file and architecture.yaml; Dependabot then proposes the updates."),
        Check("security.scanning", "Images, dependencies and configuration are scanned in CI", bool(scans),
              _files("scanners in workflows", scans) or ["no vulnerability or configuration scanning in CI"],
              problem="No vulnerability scanning.", why="Known CVEs in base images and libraries ship unnoticed.",
              blueprint="ci"),
        Check("security.exposure", "Private-zone services are not published to the outside", not exposed or bool(ctx.default_deny),
              exp_ev or ["no private-zone service publishes a port beyond localhost"],
              problem="Private services published on all interfaces: " + "; ".join(exposed) + ".",
              why="The zone boundary is bypassed: anyone who reaches the host reaches the private service directly.",
              blueprint="network-policy"),
    ])


def _unpinned(image: str) -> bool:
    if "@sha256:" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" not in last or last.endswith(":latest")


def _final_user_nonroot(dockerfile: str) -> bool:
    users = re.findall(r"^\s*USER\s+(\S+)", dockerfile, re.MULTILINE | re.IGNORECASE)
    return bool(users) and users[-1].split(":")[0] not in ("root", "0")


# ============================================================================ 9. event-driven communication


def events(ctx: Context) -> Capability:
    repo = ctx.repo
    brokers = [f"datastore {d['name']} ({d['engine']})" for d in ctx.datastores if d["engine"] in BROKER_ENGINES]
    brokers += [f"service {s['name']} ({s['image']})" for s in ctx.services if re.search(BROKER_WORDS, s.get("image") or "")]
    rx = re.compile(rf"(image|repository)\s*[:=]\s*[\"']?[\w./-]*({BROKER_WORDS})|kind:\s*(Kafka|KafkaTopic|NatsCluster|Stream|RabbitmqCluster)\b"
                    rf"|nats://|bootstrap[._]servers|jetstream", re.IGNORECASE)
    brokers += [rel for rel in repo.files if PurePosixPath(rel).suffix.lower() in CONFIG_SUFFIXES and rx.search(repo.text(rel))]
    dlq = repo.grep(r"dead[-_ ]?letter|(^|[^a-z])dlq([^a-z]|$)", CONFIG_SUFFIXES)
    # The events blueprint deploys a broker only for a system that has chosen one (or already runs one).
    needs = "" if ctx.arch["targets"]["broker"] != "none" or any(d["engine"] in BROKER_ENGINES for d in ctx.datastores) \
        else "Choose the broker (set targets.broker to kafka or nats in architecture.yaml)"
    names = {s["name"]: s for s in ctx.services}
    sync = [(s["name"], dep) for s in ctx.services if s["kind"] != "gateway" for dep in s["depends_on"] if dep in names]
    return Capability("events", "Event-driven communication", [
        Check("events.broker", "A message broker carries work between services", bool(brokers),
              _files("broker", brokers) or ["no broker in the architecture or the repository"],
              problem="No message broker: every interaction is a synchronous call.",
              why="A slow or down consumer stalls its callers; load cannot be buffered or spread over workers.",
              blueprint="events", needs=needs),
        Check("events.dead-letter", "Failed messages go to a dead-letter queue", bool(dlq),
              _files("dead-letter configuration", dlq) or ["no dead-letter queue"],
              problem="No dead-letter queue.", why="A message that always fails blocks its partition or is silently dropped.",
              blueprint="events", needs=needs),
        Check("events.async-calls", "Services do not call each other synchronously point to point", not sync,
              [f"{a} calls {b} synchronously" for a, b in sync] or ["no service-to-service calls (a gateway proxying requests is expected)"],
              problem="Synchronous point-to-point calls: " + ", ".join(f"{a} → {b}" for a, b in sync) + ".",
              why="The caller waits for, and fails with, the callee; both must scale together.",
              blueprint=None, phase=3,
              action="Move long-running or fire-and-forget calls onto broker topics (the events blueprint provides "
                     "them); then make the service depend on the broker instead of the callee in architecture.yaml."),
    ])


# ============================================================================ 10. decisions


def decisions(ctx: Context) -> Capability:
    adrs = []
    for rel in ctx.repo.with_suffix(".md"):
        parts = PurePosixPath(rel).parts
        if len(parts) >= 2 and parts[-2].lower() in ("decisions", "adr", "adrs") and re.match(r"\d{3,4}-", parts[-1]):
            text = ctx.repo.text(rel).lower()
            if "status" in text and "decision" in text:
                adrs.append(rel)
    return Capability("decisions", "Documented decisions (ADRs)", [
        Check("decisions.adr", "Architecture decisions are recorded (ADRs with status, context, decision)", bool(adrs),
              _files("ADRs", adrs) or ["no ADR folder (docs/architecture/decisions, docs/adr) with numbered records"],
              problem="No architecture decision records.",
              why="Why the network is split, why IPs are fixed, why the broker was chosen: without records each "
                  "decision is argued again and reversed by accident.",
              blueprint="adr"),
    ])


CAPABILITIES: list[Callable[[Context], Capability]] = [
    iac, health, scaling, fault, observability, automation, policy, security, events, decisions,
]
