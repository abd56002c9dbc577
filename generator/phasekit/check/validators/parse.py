"""Every YAML and JSON file must parse: a parse error is a failed artifact, never a crash."""

from __future__ import annotations

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory, ParseError


class Parse(Validator):
    name = "parse"
    description = "YAML/JSON syntax (PyYAML safe loader, json)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.structured()]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        try:
            docs = ctx.inventory.docs(artifact.path)
        except ParseError as exc:
            return self.result(artifact, Status.FAILED, str(exc))
        return self.result(artifact, Status.PASSED, f"{len(docs)} document(s)")
