"""GitHub Actions workflows: zizmor --offline, the security audit (injection, unpinned actions, permissions)."""

from __future__ import annotations

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory
from ._github import workflows


class Zizmor(Validator):
    name = "zizmor"
    tools = ("zizmor",)
    description = "zizmor --offline (exit code set on findings)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in workflows(inventory)]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        proc = ctx.run(["zizmor", "--offline", "--no-progress", "--color=never", artifact.label], cwd=ctx.root,
                       env={"NO_COLOR": "1"})
        if proc.ok:
            return self.result(artifact, Status.PASSED)
        # zizmor logs INFO lines to stderr; the findings are on stdout.
        return self.result(artifact, Status.FAILED, proc.stdout.strip() or proc.output)
