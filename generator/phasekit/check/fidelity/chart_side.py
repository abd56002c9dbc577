"""What the chart runs, per environment: `helm template` once per values file, the documents indexed by the
pod label app.kubernetes.io/name (the contract's name for a compose service's pods)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from .._core import Context
from .._inventory import load_yaml_text

NAME_LABEL = "app.kubernetes.io/name"
PART_OF_LABEL = "app.kubernetes.io/part-of"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob", "DaemonSet", "ReplicaSet")


class RenderError(Exception):
    """helm template failed; the helm-template validator reports why."""


def render(ctx: Context, chart: Path, values: str, namespace: str, helm_env: dict[str, str],
           kube_version: str) -> list[dict[str, Any]]:
    argv = ["helm", "template", "phasekit-fidelity", str(chart), "-n", namespace, "--kube-version", kube_version]
    if values:
        argv += ["--values", str(chart / values)]
    proc = ctx.run(argv, env=helm_env)
    if not proc.ok:
        errors = [ln for ln in proc.output.splitlines() if ln.startswith("Error:")]
        raise RenderError(errors[0] if errors else proc.output or f"helm exited {proc.returncode}")
    return [d for d in load_yaml_text(proc.stdout) if isinstance(d, dict)]


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload.get("spec") or {}
    if workload.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return spec.get("template") or {}


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return (pod_template(workload).get("metadata") or {}).get("labels") or {}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return pod_template(workload).get("spec") or {}


def metadata_annotations(doc: dict[str, Any]) -> dict[str, str]:
    return (doc.get("metadata") or {}).get("annotations") or {}


def main_container(workload: dict[str, Any], service_id: str, service_name: str) -> dict[str, Any]:
    """The container named after the service, else the first one (sidecars come after it)."""
    containers = pod_spec(workload).get("containers") or [{}]
    return next((c for c in containers if c.get("name") in (service_id, service_name)), containers[0])


def container_ports(container: dict[str, Any]) -> tuple[tuple[str, int, str], ...]:
    return tuple((str(p.get("name") or ""), int(p["containerPort"]), str(p.get("protocol") or "TCP").upper())
                 for p in container.get("ports") or [] if "containerPort" in p)


@dataclass
class Rendered:
    """One environment's documents, with the look-ups the rules need (indexed once: charts can be large)."""

    docs: list[dict[str, Any]]
    namespace: str

    def of_kind(self, *kinds: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d.get("kind") in kinds]

    @cached_property
    def _workloads(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for w in self.of_kind(*WORKLOAD_KINDS):
            out.setdefault(pod_labels(w).get(NAME_LABEL, ""), []).append(w)
        return out

    def workloads(self, service_id: str) -> list[dict[str, Any]]:
        return self._workloads.get(service_id, [])

    @cached_property
    def claims(self) -> set[str]:
        """Names of the PersistentVolumeClaims the chart creates."""
        return {str((d.get("metadata") or {}).get("name")) for d in self.of_kind("PersistentVolumeClaim")}

    @cached_property
    def _externals(self) -> list[dict[str, Any]]:
        return [s for s in self.of_kind("Service") if (s.get("spec") or {}).get("type") == "ExternalName"
                and str(metadata_annotations(s).get("phasekit.dev/external")).lower() == "true"]

    def external(self, service_id: str, service_name: str) -> dict[str, Any] | None:
        """The ExternalName Service standing for an external datastore."""
        for svc in self._externals:
            if (((svc.get("metadata") or {}).get("labels") or {}).get(NAME_LABEL) == service_id
                    or metadata_annotations(svc).get("phasekit.dev/service") == service_name):
                return svc
        return None

    @cached_property
    def _services(self) -> dict[str | None, list[dict[str, Any]]]:
        """Services with a selector, by the name label they select (None: they select without it)."""
        out: dict[str | None, list[dict[str, Any]]] = {}
        for svc in self.of_kind("Service"):
            selector = (svc.get("spec") or {}).get("selector") or {}
            if selector:
                out.setdefault(selector.get(NAME_LABEL), []).append(svc)
        return out

    def services_selecting(self, labels: dict[str, str]) -> list[dict[str, Any]]:
        candidates = self._services.get(labels.get(NAME_LABEL), []) + self._services.get(None, [])
        return [svc for svc in candidates
                if all(labels.get(k) == str(v) for k, v in svc["spec"]["selector"].items())]

    @cached_property
    def _autoscalers(self) -> dict[tuple[Any, Any], list[dict[str, Any]]]:
        out: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
        for h in self.of_kind("HorizontalPodAutoscaler"):
            ref = (h.get("spec") or {}).get("scaleTargetRef") or {}
            out.setdefault((ref.get("kind"), ref.get("name")), []).append(h)
        return out

    def autoscalers(self, workload: dict[str, Any]) -> list[dict[str, Any]]:
        return self._autoscalers.get((workload.get("kind"), (workload.get("metadata") or {}).get("name")), [])
