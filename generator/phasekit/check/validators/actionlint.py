"""GitHub Actions workflows: actionlint (runs shellcheck on `run:` blocks when it is installed)."""

from __future__ import annotations

from .._core import Artifact, Context, Result, Validator
from .._inventory import Inventory
from ._github import workflows


class Actionlint(Validator):
    name = "actionlint"
    tools = ("actionlint",)
    description = "actionlint -no-color"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in workflows(inventory)]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        return self.from_proc(artifact, ctx.run(["actionlint", "-no-color", artifact.label], cwd=ctx.root))
