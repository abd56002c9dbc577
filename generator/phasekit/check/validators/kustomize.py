"""Kustomize folders (kustomization.yaml): `kubectl kustomize` builds them offline, then the output goes
through kubernetes-validate --strict like any manifest."""

from __future__ import annotations

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory
from . import kubernetes

NAMES = {"kustomization.yaml", "kustomization.yml", "Kustomization"}


class Kustomize(Validator):
    name = "kustomize"
    tools = ("kubectl",)
    description = "kubectl kustomize DIR, output through kubernetes-validate --strict"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p.parent) for p in inventory.files if p.name in NAMES]

    def check(self, artifact: Artifact, ctx: Context) -> list[Result]:
        proc = ctx.run(["kubectl", "kustomize", "."], cwd=artifact.path)
        if not proc.ok:
            return [self.from_proc(artifact, proc)]
        n = sum(1 for ln in proc.stdout.splitlines() if ln.startswith("kind:"))
        results = [self.result(artifact, Status.PASSED, f"built {n} resource(s)")]
        kv = kubernetes.KubernetesValidate()
        label = artifact.label + " [kustomize build]"
        if kv.missing(ctx):
            results.append(kv.result(label, Status.SKIPPED, "kubernetes-validate not found on PATH"))
        else:  # documents the build leaves as the manifests had them are validated once (kubernetes.py)
            results.append(kubernetes.interpret(kv, label, kubernetes.validate_texts(ctx, {label: proc.stdout})[label]))
        return results
