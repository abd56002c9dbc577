"""OPA rego: every policy set compiled, and every `test_*` rule of its `_test.rego` files run, on the real
OPA engine (opa-golib-python-bindings, in the python named by $PHASEKIT_OPA_PYTHON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory

RUNNER = Path(__file__).resolve().parent.parent / "rego_runner.py"


def bundles(inventory: Inventory) -> dict[Path, list[Path]]:
    """Rego files grouped by policy set: the topmost folder of an unbroken chain of folders holding .rego files."""
    rego = [p for p in inventory.files if p.suffix == ".rego"]
    dirs = {p.parent for p in rego}
    groups: dict[Path, list[Path]] = {}
    for path in rego:
        top = path.parent
        while top.parent in dirs and top != inventory.root:
            top = top.parent
        groups.setdefault(top, []).append(path)
    return groups


class _Rego(Validator):
    def python(self, ctx: Context) -> str | None:
        py = ctx.env.get("PHASEKIT_OPA_PYTHON")
        return py if py and ctx.which(py) else None

    def missing(self, ctx: Context) -> list[str]:
        return [] if self.python(ctx) else ["OPA engine ($PHASEKIT_OPA_PYTHON with opa-golib-python-bindings)"]

    def evaluate(self, ctx: Context, files: list[Path]) -> tuple[dict | None, str]:
        proc = ctx.run([self.python(ctx) or sys.executable, str(RUNNER), *[str(f) for f in files]], cwd=ctx.root)
        try:
            return json.loads(proc.stdout.strip().splitlines()[-1]), ""
        except (IndexError, json.JSONDecodeError):
            return None, proc.output or f"rego runner exited {proc.returncode}"


class RegoCompile(_Rego):
    name = "opa-compile"
    description = "OPA engine compiles each policy set (parse + type check)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(top, files=tuple(str(f) for f in sorted(files)))
                for top, files in sorted(bundles(inventory).items())]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        files = [Path(f) for f in artifact.get("files")]
        report, crash = self.evaluate(ctx, files)
        if report is None:
            return self.result(artifact, Status.FAILED, crash)
        if report["compile"]:
            return self.result(artifact, Status.FAILED, report["compile"].replace(str(ctx.root) + "/", ""))
        return self.result(artifact, Status.PASSED, f"{len(files)} file(s) compiled")


class RegoTest(_Rego):
    name = "opa-test"
    description = "OPA engine runs every test_* rule of each _test.rego file (like `opa test`)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        out = []
        for _top, files in sorted(bundles(inventory).items()):
            for test in sorted(f for f in files if f.name.endswith("_test.rego")):
                out.append(inventory.artifact(test, files=tuple(str(f) for f in sorted(files))))
        return out

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        report, crash = self.evaluate(ctx, [Path(f) for f in artifact.get("files")])
        if report is None:
            return self.result(artifact, Status.FAILED, crash)
        if report["compile"]:
            return self.result(artifact, Status.FAILED, "does not compile: " + report["compile"].replace(str(ctx.root) + "/", ""))
        mine = [t for t in report["tests"] if Path(t["file"]) == artifact.path]
        failed = [t for t in mine if not t["passed"]]
        if not mine:
            return self.result(artifact, Status.FAILED, "no test_* rules found")
        if failed:
            return self.result(artifact, Status.FAILED, "\n".join(
                f"FAIL {t['name']}" + (f" ({t['error']})" if t["error"] else "") for t in failed)
                + f"\n{len(mine) - len(failed)} passed, {len(failed)} failed")
        return self.result(artifact, Status.PASSED, f"{len(mine)} test(s) passed")
