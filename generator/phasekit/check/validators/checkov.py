"""checkov --skip-download: one security scan over the whole folder, one failed result per failed check.

Only the frameworks that find something in what phasekit writes run: the folder scan for Dockerfiles and
GitHub workflows, a second folder scan for Helm charts (when there is one), and the kubernetes framework on
the plain Kubernetes manifests (the NetworkPolicies), named file by file. kubernetes, kustomize, terraform
and secrets over the whole folder found nothing and cost a quarter of checkov's time. The Helm scan is a
process of its own so that no checkov process holds every framework's results at once (468 MB at 200
services in one process; the Helm scan alone 304 MB), and each runs its frameworks one after the other
(CHECKOV_WORKERS_NUMBER=1: phasekit already runs validators side by side).

checkov keeps every DEBUG log line of a run in memory (formatted, for its platform upload) whatever
LOG_LEVEL says: at 200 services that is 20 MB and an eighth of the Helm scan's CPU. When `checkov` on PATH
is a Python script, it runs under its own interpreter with that in-memory log raised to WARNING first;
its checks and its output are unchanged (compared byte for byte but for its temporary paths)."""

from __future__ import annotations

import json
from typing import Any

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory
from . import kubernetes
from ._script import python_command

# The frameworks that find something in what phasekit writes; the other ~25 (cloudformation, serverless,
# sca, and kubernetes, kustomize, terraform, secrets over the whole folder) only cost time.
FRAMEWORKS = ("dockerfile", "github_actions")
CHARTS = "helm charts"
# Run as `python -c QUIET args...`: checkov's entry point, with the log it keeps in memory at WARNING.
QUIET = """import logging, sys, warnings
try:
    import checkov.logging_init
except ImportError:
    pass
root = logging.getLogger()
root.setLevel(logging.WARNING)
for handler in root.handlers:
    handler.setLevel(logging.WARNING)
from checkov.main import Checkov
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=SyntaxWarning)
    sys.exit(Checkov().run())
"""
MANIFESTS = "kubernetes manifests"


class Checkov(Validator):
    name = "checkov"
    tools = ("checkov",)
    description = (f"checkov -d DIR --skip-download -o json --framework {' '.join(FRAMEWORKS)}; the same with "
                   "--framework helm; checkov -f MANIFEST... --framework kubernetes")
    slow = 2  # the Helm scan is one of the longest calls

    def discover(self, inventory: Inventory) -> list[Artifact]:
        found = [inventory.artifact(inventory.root, frameworks=FRAMEWORKS)]
        if inventory.chart_dirs:
            found.append(Artifact(inventory.root, f"{CHARTS} ({len(inventory.chart_dirs)})", (("frameworks", ("helm",)),)))
        manifests = kubernetes.KubernetesValidate().discover(inventory)
        if manifests:
            found.append(Artifact(inventory.root, f"{MANIFESTS} ({len(manifests)} files)",
                                  (("files", tuple(m.label for m in manifests)), ("frameworks", ("kubernetes",)))))
        return found

    def check(self, artifact: Artifact, ctx: Context) -> list[Result]:
        files = artifact.get("files")
        scope = [arg for f in files for arg in ("-f", f)] if files else ["-d", "."]
        proc = ctx.run([*python_command(ctx, "checkov", QUIET), *scope, "--skip-download", "-o", "json", "--quiet", "--compact",
                        "--framework", *artifact.get("frameworks", FRAMEWORKS)],
                       cwd=artifact.path, env={"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE",
                                               "CHECKOV_WORKERS_NUMBER": "1"},
                       timeout=max(ctx.timeout, 600))
        try:
            data: Any = json.loads(proc.stdout) if proc.stdout.strip() else []
        except json.JSONDecodeError:
            return [self.result(artifact, Status.FAILED, f"checkov exited {proc.returncode}:\n{proc.output[-4000:]}")]
        reports = data if isinstance(data, list) else [data]
        results: list[Result] = []
        passed = 0
        for rep in reports:
            if not isinstance(rep, dict) or "results" not in rep:
                continue
            framework = rep.get("check_type", "?")
            passed += int(rep.get("summary", {}).get("passed", 0))
            for fc in rep["results"].get("failed_checks", []):
                path = str(fc.get("file_path", "")).lstrip("/")
                lines = fc.get("file_line_range") or []
                where = f"lines {lines[0]}-{lines[1]}" if len(lines) == 2 else ""
                label = f"{path} ({fc.get('check_id')} {fc.get('resource', '')})".strip()
                msg = f"[{framework}] {fc.get('check_id')}: {fc.get('check_name')} — {fc.get('resource', '')} {where}"
                if fc.get("guideline"):
                    msg += f"\n{fc['guideline']}"
                results.append(Result(self.name, label, Status.FAILED, msg.strip()))
            for err in rep["results"].get("parsing_errors", []) if isinstance(rep["results"].get("parsing_errors"), list) else []:
                results.append(Result(self.name, f"{str(err).lstrip('/')} (parse)", Status.FAILED,
                                      f"[{framework}] checkov could not parse this file"))
        if proc.returncode not in (0, 1):
            results.append(self.result(artifact, Status.FAILED, f"checkov exited {proc.returncode}:\n{proc.output[-4000:]}"))
        if not results:
            results.append(self.result(artifact, Status.PASSED, f"{passed} check(s) passed"))
        return sorted(results, key=lambda r: r.artifact)

