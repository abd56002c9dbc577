"""checkov --skip-download: one security scan over the whole folder, one failed result per failed check."""

from __future__ import annotations

import json
from typing import Any

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory


# The frameworks of what phasekit writes and checks; the other ~20 (cloudformation, serverless, arm, sca, ...)
# only cost time (a third of checkov's run on a full example).
FRAMEWORKS = ("kubernetes", "helm", "kustomize", "terraform", "dockerfile", "github_actions", "secrets")


class Checkov(Validator):
    name = "checkov"
    tools = ("checkov",)
    description = f"checkov -d DIR --skip-download -o json --framework {' '.join(FRAMEWORKS)}"
    slow = True

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(inventory.root)]

    def check(self, artifact: Artifact, ctx: Context) -> list[Result]:
        proc = ctx.run(["checkov", "-d", ".", "--skip-download", "-o", "json", "--quiet", "--compact",
                        "--framework", *FRAMEWORKS],
                       cwd=artifact.path, env={"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE"},
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
