"""check-jsonschema with its vendored schemas: GitHub workflows and dependabot.yml."""

from __future__ import annotations

from .._core import Artifact, Context, Result, Validator
from .._inventory import Inventory
from ._github import dependabot_files, workflows


class _Schema(Validator):
    tools = ("check-jsonschema",)
    schema = ""

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        proc = ctx.run(["check-jsonschema", "--no-cache", "--builtin-schema", self.schema, artifact.label], cwd=ctx.root)
        return self.from_proc(artifact, proc)


class WorkflowSchema(_Schema):
    name = "schema-github-workflow"
    schema = "vendor.github-workflows"
    description = "check-jsonschema --builtin-schema vendor.github-workflows"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in workflows(inventory)]


class DependabotSchema(_Schema):
    name = "schema-dependabot"
    schema = "vendor.dependabot"
    description = "check-jsonschema --builtin-schema vendor.dependabot"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in dependabot_files(inventory)]
