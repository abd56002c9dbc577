"""OPA rego: the policies compiled and every `test_*` rule of the `_test.rego` files run, on the real OPA
engine (opa-golib-python-bindings, in the python named by $PHASEKIT_OPA_PYTHON), like `opa test DIR` where
DIR is the deepest folder holding every .rego file; data.json/data.yaml files under DIR are loaded too."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory

if TYPE_CHECKING:  # the runner imports the OPA bindings, which only the validators' python has
    from ..rego_runner import RunReport

RUNNER = Path(__file__).resolve().parent.parent / "rego_runner.py"
DATA_FILES = {"data.json", "data.yaml", "data.yml"}


def bundle(inventory: Inventory) -> tuple[Path, list[Path], list[Path]] | None:
    """(root, rego files, data files) of the one policy set under the checked folder."""
    rego = [p for p in inventory.files if p.suffix == ".rego"]
    if not rego:
        return None
    top = Path(os.path.commonpath([str(p.parent) for p in rego]))
    data = [p for p in inventory.files if p.name in DATA_FILES and (p.parent == top or top in p.parents)]
    return top, sorted(rego), sorted(data)


class _Rego(Validator):
    def python(self, ctx: Context) -> str | None:
        py = ctx.env.get("PHASEKIT_OPA_PYTHON")
        return py if py and ctx.which(py) else None

    def missing(self, ctx: Context) -> list[str]:
        return [] if self.python(ctx) else ["OPA engine ($PHASEKIT_OPA_PYTHON with opa-golib-python-bindings)"]

    def artifacts(self, inventory: Inventory) -> tuple[Path, tuple[tuple[str, Any], ...]] | None:
        found = bundle(inventory)
        if found is None:
            return None
        top, rego, data = found
        return top, (("top", str(top)), ("files", tuple(map(str, rego))), ("data", tuple(map(str, data))))

    def evaluate(self, ctx: Context, artifact: Artifact) -> tuple[RunReport | None, str]:
        """One engine run per policy set, shared by opa-compile and every opa-test result."""
        key = ("rego", artifact.get("top"))
        with ctx.memo_lock:
            if key not in ctx.memo:
                argv = [self.python(ctx) or sys.executable, str(RUNNER), artifact.get("top"),
                        *artifact.get("files"), *artifact.get("data")]
                proc = ctx.run(argv, cwd=ctx.root)
                try:
                    ctx.memo[key] = (json.loads(proc.stdout.strip().splitlines()[-1]), "")
                except (IndexError, json.JSONDecodeError):
                    ctx.memo[key] = (None, proc.output or f"rego runner exited {proc.returncode}")
            outcome: tuple[RunReport | None, str] = ctx.memo[key]  # the runner's JSON (RunReport), or why none
            return outcome


def _short(ctx: Context, text: str) -> str:
    return text.replace(str(ctx.root) + os.sep, "")


class RegoCompile(_Rego):
    name = "opa-compile"
    description = "OPA engine compiles every policy (parse + type check), with data.json/yaml loaded"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        found = self.artifacts(inventory)
        return [] if found is None else [Artifact(found[0], inventory.label(found[0]), found[1])]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        report, crash = self.evaluate(ctx, artifact)
        if report is None:
            return self.result(artifact, Status.FAILED, crash)
        if report["compile"]:
            return self.result(artifact, Status.FAILED, _short(ctx, report["compile"]))
        return self.result(artifact, Status.PASSED, f"{len(artifact.get('files'))} file(s) compiled")


class RegoTest(_Rego):
    name = "opa-test"
    description = "OPA engine runs every test_* rule of each _test.rego file (like `opa test`)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        found = self.artifacts(inventory)
        if found is None:
            return []
        return [Artifact(Path(f), inventory.label(Path(f)), found[1])
                for f in found[1][1][1] if f.endswith("_test.rego")]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        report, crash = self.evaluate(ctx, artifact)
        if report is None:
            return self.result(artifact, Status.FAILED, crash)
        if report["compile"]:
            return self.result(artifact, Status.FAILED, "does not compile: " + _short(ctx, report["compile"]))
        mine = [t for t in report["tests"] if Path(t["file"]) == artifact.path]
        failed = [t for t in mine if not t["passed"]]
        if not mine:
            return self.result(artifact, Status.FAILED, "no test_* rules found")
        if failed:
            return self.result(artifact, Status.FAILED, "\n".join(
                f"FAIL {t['name']}" + (f" ({t['error']})" if t["error"] else "") for t in failed)
                + f"\n{len(mine) - len(failed)} passed, {len(failed)} failed")
        return self.result(artifact, Status.PASSED, f"{len(mine)} test(s) passed")
