"""Kubernetes manifests (any YAML whose documents carry apiVersion + kind) against the API schemas, strict."""

from __future__ import annotations

import re
from pathlib import Path

from .._core import Artifact, Context, Proc, Result, Status, Validator
from .._inventory import Inventory

_NO_SCHEMA = re.compile(r"Couldn't find schema for kind (\S+) with api version (\S+)")


def is_manifest(doc: object) -> bool:
    """A Kubernetes API object (a Kustomization is kustomize's input, checked by the kustomize adapter)."""
    return (isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)
            and not doc["apiVersion"].startswith("kustomize.config.k8s.io/"))


def interpret(validator: Validator, artifact: Artifact | str, proc: Proc) -> Result:
    """kubernetes-validate's verdict: ERROR lines fail; kinds without a schema (CRDs) are not a pass."""
    errors = [ln for ln in proc.output.splitlines() if ln.startswith("ERROR")]
    passed = [ln for ln in proc.output.splitlines() if ln.startswith("INFO") and " passed " in ln]
    unknown = sorted({f"{api} {kind}" for kind, api in _NO_SCHEMA.findall(proc.output)})
    if errors or not proc.ok:
        return validator.result(artifact, Status.FAILED, "\n".join(errors) or proc.output)
    if unknown and not passed:
        return validator.result(artifact, Status.SKIPPED, "no schema for " + ", ".join(unknown))
    note = f"{len(passed)} resource(s)"
    if unknown:
        note += "; not validated (no schema): " + ", ".join(unknown)
    return validator.result(artifact, Status.PASSED, note)


def validate(ctx: Context, files: list[Path], cwd: Path | None = None) -> Proc:
    return ctx.run(["kubernetes-validate", "--strict", "-k", ctx.kube_version, *[str(f) for f in files]], cwd=cwd)


class KubernetesValidate(Validator):
    name = "kubernetes-validate"
    tools = ("kubernetes-validate",)
    description = "kubernetes-validate --strict -k <version> (OpenAPI schemas of that Kubernetes release)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        found = []
        for path in inventory.yaml_files:
            if inventory.in_chart(path) or path.name.startswith(".copier-answers"):
                continue
            if any(is_manifest(d) for d in inventory.mappings(path)):
                found.append(inventory.artifact(path))
        return found

    batch = True

    def check_batch(self, artifacts: list[Artifact], ctx: Context) -> list[Result]:
        """One kubernetes-validate call; its lines name the file they are about."""
        proc = validate(ctx, [Path(a.label) for a in artifacts], cwd=ctx.root)
        results = []
        for a in artifacts:
            mine = "\n".join(ln for ln in proc.output.splitlines() if ln.split(" ", 2)[1:2] == [a.label])
            if not mine:
                results.append(self.result(a, Status.FAILED, proc.output or f"no verdict (exit {proc.returncode})"))
                continue
            failed = any(ln.startswith("ERROR") for ln in mine.splitlines())
            results.append(interpret(self, a, Proc(1 if failed else 0, mine)))
        return results

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        return interpret(self, artifact, validate(ctx, [Path(artifact.label)], cwd=ctx.root))
