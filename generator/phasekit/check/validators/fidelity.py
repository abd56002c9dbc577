"""Fidelity: compare the compose file(s) with what the chart, the NetworkPolicies and terraform.tfvars run.

One result per compose service and environment ("charts/app (values-prod.yaml) (gateway)"), failed with one
line per loss; skipped, with the reason, when compose, helm or python-hcl2 is missing or there is no compose
file to compare with.
"""

from __future__ import annotations

import os
import re

from .._core import INSTALL_HINT, Artifact, Context, Result, Status, Validator
from .._inventory import Inventory
from ..fidelity import chart_rules, chart_side, edges, terraform_side
from ..fidelity.compose_side import ComposeError, Service, load
from ..fidelity.inputs import POLICY_DIR, Project, memoised
from ..fidelity.network_policy import namespace_labels
from . import helm

_ENV_VALUES = re.compile(r"^values-[A-Za-z0-9_.-]+\.ya?ml$")


class Skip(Exception):
    """Nothing to compare: the reason becomes a skipped result."""


def _project(ctx: Context) -> Project:
    return memoised(ctx, "fidelity-project", lambda: Project(ctx.root, ctx.inventory or Inventory(ctx.root)))


def _compose(ctx: Context, project: Project) -> list[Service]:
    """The compose services, read once per run; Skip when there is nothing (or nothing readable) to read."""
    files = project.compose_files
    if not files:
        raise Skip("no compose file to compare with (architecture.yaml sources.compose, or compose.yaml / "
                   "docker-compose.yml in the checked folder)")
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise Skip(f"compose file {os.path.relpath(missing[0], project.root)} not found")
    from ...capture.compose import compose_command  # only to locate the CLI
    from ...errors import ModelError

    try:
        command = compose_command()
    except ModelError as exc:
        raise Skip(str(exc)) from None
    return memoised(ctx, ("fidelity-compose", tuple(files)), lambda: load(ctx, command, files, project.architecture))


class Fidelity(Validator):
    name = "fidelity"
    slow = 1  # renders the chart per values file and compares every service
    description = ("compose file(s) vs the rendered chart, NetworkPolicies and terraform.tfvars: image, command, "
                   "volumes, ports, probes, workload kind, scaling, edges (issue 12 contract)")

    def discover(self, inventory: Inventory) -> list[Artifact]:
        project = Project(inventory.root, inventory)
        out = []
        for chart in project.charts:
            envs = sorted(p.name for p in chart.iterdir() if p.is_file() and _ENV_VALUES.match(p.name))
            for values in ["values.yaml", *envs]:
                out.append(Artifact(chart, f"{inventory.label(chart)} ({values})", (("values", values),)))
        if not project.charts and project.policy_docs:
            out.append(inventory.artifact(inventory.root / POLICY_DIR))
        if project.tfvars:
            out.append(inventory.artifact(project.tfvars))
        return out

    def check(self, artifact: Artifact, ctx: Context) -> list[Result]:
        project = _project(ctx)
        try:
            services = _compose(ctx, project)
            if artifact.path.name == "terraform.tfvars":
                return self._terraform(artifact, services)
            return self._kubernetes(artifact, ctx, project, services)
        except Skip as why:
            return [self.result(artifact, Status.SKIPPED, str(why))]
        except ComposeError as exc:
            return [self.result(artifact, Status.FAILED, f"docker compose config: {exc}")]

    def _per_service(self, artifact: Artifact, found: dict[str, tuple[list[str], list[str]]],
                     skipped: str = "") -> list[Result]:
        out = []
        for name, (losses, notes) in sorted(found.items()):
            label = f"{artifact.label} ({name})"
            if losses:
                out.append(self.result(label, Status.FAILED, "\n".join(losses + notes)))
            elif skipped:
                out.append(self.result(label, Status.SKIPPED, "; ".join([skipped, *notes])))
            else:
                out.append(self.result(label, Status.PASSED, "; ".join(notes) or "kept"))
        return out or [self.result(artifact, Status.PASSED, "the compose file has no services")]

    def _kubernetes(self, artifact: Artifact, ctx: Context, project: Project, services: list[Service]) -> list[Result]:
        rendered = None
        # the chart renders into `-n <project id>`; without architecture.yaml, its folder name (or the policies')
        policy_ns = next((d["metadata"]["namespace"] for d in project.policy_docs
                          if (d.get("metadata") or {}).get("namespace")), "default")
        namespace = project.id or (artifact.path.name if artifact.get("values") else policy_ns)
        part_of = namespace
        if artifact.get("values"):  # a chart x values file; else the NetworkPolicies alone
            if ctx.which("helm") is None:
                raise Skip(f"helm not found ({INSTALL_HINT})")
            chart_meta = project.inventory.first_mapping(artifact.path / "Chart.yaml") or {}
            part_of = str(chart_meta.get("name") or part_of)
            values = "" if artifact.get("values") == "values.yaml" else artifact.get("values")
            try:
                docs = chart_side.render(ctx, artifact.path, values, namespace, helm._helm_env(ctx), helm._kube(ctx))
            except chart_side.RenderError as exc:
                raise Skip(f"helm template failed (the helm-template validator reports it): {exc}") from None
            rendered = chart_side.Rendered(docs, namespace)
        docs_for_policies = project.policy_docs + (rendered.docs if rendered else [])
        policies = edges.policies_from(docs_for_policies, namespace, namespace_labels(docs_for_policies))
        blocked = edges.losses(services, rendered, policies, namespace, part_of)
        found = {}
        shared = chart_rules.shared_data(services, rendered) if rendered else {}
        for svc in services:
            losses, notes = chart_rules.losses(svc, rendered) if rendered else ([], [])
            losses += [f"{svc.name}: {loss}" for loss in shared.get(svc.name, [])]
            found[svc.name] = (losses + blocked[svc.name], notes)
        return self._per_service(artifact, found)

    def _terraform(self, artifact: Artifact, services: list[Service]) -> list[Result]:
        try:
            tfvars = terraform_side.load(artifact.path)
        except ImportError:
            raise Skip("python-hcl2 not installed (pip install 'phasekit[validate]')") from None
        except Exception as exc:  # noqa: BLE001 - the hcl2 validator reports the parse error itself
            raise Skip(f"terraform.tfvars does not parse (the hcl2 validator reports it): {exc}") from None
        entries = terraform_side.entries(tfvars)
        found: dict[str, tuple[list[str], list[str]]] = {}
        absent_anywhere: set[str] = set()
        for svc in services:
            losses, absent = terraform_side.losses(svc, entries.get(svc.id))
            absent_anywhere |= set(absent)
            found[svc.name] = (losses, [])
        skipped = ""
        if absent_anywhere:
            skipped = f"services entries do not carry {', '.join(sorted(absent_anywhere))} yet (rules 3-4 not checked)"
            found = {n: (losses, [skipped] if losses else []) for n, (losses, _) in found.items()}
        return self._per_service(artifact, found, skipped)

