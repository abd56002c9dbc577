"""Helm charts (a folder with Chart.yaml): `helm lint --strict` and `helm template` per values-<env>.yaml,
the rendered manifests then through kubernetes-validate --strict."""

from __future__ import annotations

import re

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory
from . import kubernetes

_ENV_VALUES = re.compile(r"^values-[A-Za-z0-9_.-]+\.ya?ml$")
RELEASE = "phasekit-check"


def chart_variants(inventory: Inventory) -> list[Artifact]:
    """One artifact per chart x values-<env>.yaml (values.yaml alone when a chart has no env files)."""
    out = []
    for chart in inventory.chart_dirs:
        env_files = sorted(p.name for p in chart.iterdir() if p.is_file() and _ENV_VALUES.match(p.name))
        for values in env_files or [""]:
            label = inventory.label(chart) + (f" ({values})" if values else "")
            out.append(Artifact(chart, label, (("values", values),)))
    return out


def _values_args(artifact: Artifact) -> list[str]:
    values = artifact.get("values")
    return ["--values", str(artifact.path / values)] if values else []


def _kube(ctx: Context) -> str:
    return ctx.kube_version if ctx.kube_version.count(".") >= 2 else ctx.kube_version + ".0"


class HelmLint(Validator):
    name = "helm-lint"
    tools = ("helm",)
    description = "helm lint --strict per values-<env>.yaml"
    slow = 1

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return chart_variants(inventory)

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        proc = ctx.run(["helm", "lint", "--strict", "--kube-version", _kube(ctx), str(artifact.path),
                        *_values_args(artifact)], env=_helm_env(ctx))
        return self.from_proc(artifact, proc)


class HelmTemplate(Validator):
    name = "helm-template"
    tools = ("helm",)
    description = "helm template per values-<env>.yaml, output through kubernetes-validate --strict"
    slow = 1

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return chart_variants(inventory)

    def check(self, artifact: Artifact, ctx: Context) -> list[Result]:
        proc = ctx.run(["helm", "template", RELEASE, str(artifact.path), "--kube-version", _kube(ctx),
                        *_values_args(artifact)], env=_helm_env(ctx))
        if not proc.ok:
            return [self.from_proc(artifact, proc)]
        n_docs = sum(1 for ln in proc.stdout.splitlines() if ln.startswith("kind:"))
        results = [self.result(artifact, Status.PASSED, f"rendered {n_docs} resource(s)")]
        label = artifact.label + " [rendered]"
        kv = kubernetes.KubernetesValidate()
        if kv.missing(ctx):
            results.append(kv.result(label, Status.SKIPPED, "kubernetes-validate not found on PATH"))
        else:  # documents rendered alike for another values file are validated once
            results.append(kubernetes.interpret(kv, label, kubernetes.validate_texts(ctx, {label: proc.stdout})[label]))
        return results


def _helm_env(ctx: Context) -> dict[str, str]:
    base = ctx.scratch / "helm-home"
    return {"HELM_CACHE_HOME": str(base / "cache"), "HELM_CONFIG_HOME": str(base / "config"),
            "HELM_DATA_HOME": str(base / "data")}
