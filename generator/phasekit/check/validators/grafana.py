"""Grafana dashboards (JSON with panels) type-checked by tsc against @grafana/schema's Dashboard type,
and provisioning files (apiVersion + providers/datasources) checked for the fields Grafana requires."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory

TYPE_MODULE = "@grafana/schema/dist/esm/raw/dashboard/x/Dashboard_types.gen"
_TS_ERROR = re.compile(r"^(?P<file>[^(\s]+\.ts)\((?P<line>\d+),(?P<col>\d+)\): (?P<msg>.*)$")
_TSCONFIG = {
    "compilerOptions": {"strict": True, "noEmit": True, "module": "nodenext", "moduleResolution": "nodenext",
                        "skipLibCheck": True, "types": []},
    "include": ["*.ts"],
}


def is_dashboard(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("panels"), list) and ("schemaVersion" in doc or "title" in doc)


class GrafanaDashboard(Validator):
    name = "grafana-dashboard"
    tools = ("tsc",)
    description = "tsc: dashboard JSON `satisfies Dashboard` (@grafana/schema, node_modules at $PHASEKIT_NODE_MODULES)"

    def node_modules(self, ctx: Context) -> Path | None:
        nm = ctx.env.get("PHASEKIT_NODE_MODULES")
        return Path(nm) if nm and (Path(nm) / "@grafana" / "schema").is_dir() else None

    def missing(self, ctx: Context) -> list[str]:
        return super().missing(ctx) + ([] if self.node_modules(ctx) else ["@grafana/schema ($PHASEKIT_NODE_MODULES)"])

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.json_files if is_dashboard(inventory.first_mapping(p))]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        modules = self.node_modules(ctx)
        if modules is None:  # missing() names it, so the runner skips before asking; said here for a direct call
            return self.result(artifact, Status.SKIPPED, "@grafana/schema ($PHASEKIT_NODE_MODULES) not found")
        work = ctx.tempdir("grafana-")
        os.symlink(modules, work / "node_modules")
        (work / "tsconfig.json").write_text(json.dumps(_TSCONFIG), encoding="utf-8")
        source = artifact.path.read_text(encoding="utf-8").rstrip()
        # Everything on the JSON's first line, so a tsc line number is the dashboard's line number.
        (work / "dashboard.ts").write_text(
            f"import type {{ Dashboard }} from '{TYPE_MODULE}'; export const dashboard = {source} satisfies Dashboard;\n",
            encoding="utf-8")
        proc = ctx.run(["tsc", "-p", str(work), "--pretty", "false"], cwd=work)
        if proc.ok:
            return self.result(artifact, Status.PASSED, "satisfies Dashboard")
        lines = []
        for ln in proc.output.splitlines():
            m = _TS_ERROR.match(ln)
            lines.append(f"{artifact.label}:{m['line']}: {m['msg']}" if m else ln)
        return self.result(artifact, Status.FAILED, "\n".join(lines))


def _provisioning_problems(doc: dict[Any, Any]) -> list[str]:
    problems = []
    if doc.get("apiVersion") != 1:
        problems.append(f"apiVersion must be 1, not {doc.get('apiVersion')!r}")
    for i, p in enumerate(doc.get("providers") or []):
        if not isinstance(p, dict):
            problems.append(f"providers[{i}] is not a mapping")
            continue
        for key in ("name",):
            if not p.get(key):
                problems.append(f"providers[{i}].{key} is required")
        if p.get("type", "file") != "file":
            problems.append(f"providers[{i}].type must be 'file'")
        if not isinstance(p.get("options"), dict) or not p["options"].get("path"):
            problems.append(f"providers[{i}].options.path is required")
    for i, d in enumerate(doc.get("datasources") or []):
        if not isinstance(d, dict):
            problems.append(f"datasources[{i}] is not a mapping")
            continue
        for key in ("name", "type"):
            if not d.get(key):
                problems.append(f"datasources[{i}].{key} is required")
        if d.get("access", "proxy") not in {"proxy", "direct"}:
            problems.append(f"datasources[{i}].access must be proxy or direct")
    for key in ("providers", "datasources", "deleteDatasources"):
        if key in doc and not isinstance(doc[key], list):
            problems.append(f"{key} must be a list")
    return problems


def is_provisioning(doc: Any) -> bool:
    return isinstance(doc, dict) and "apiVersion" in doc and "kind" not in doc and any(
        k in doc for k in ("providers", "datasources", "deleteDatasources"))


class GrafanaProvisioning(Validator):
    name = "grafana-provisioning"
    description = "Grafana provisioning files: apiVersion 1; providers name/type/options.path; datasources name/type"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.yaml_files if is_provisioning(inventory.first_mapping(p))]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        doc = ctx.inventory.first_mapping(artifact.path)
        problems = _provisioning_problems(doc)
        return self.result(artifact, Status.FAILED if problems else Status.PASSED, "\n".join(problems))
