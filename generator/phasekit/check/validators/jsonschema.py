"""check-jsonschema with its vendored schemas: GitHub workflows and dependabot.yml."""

from __future__ import annotations

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory
from ._github import dependabot_files, workflows


class _Schema(Validator):
    tools = ("check-jsonschema",)
    schema = ""
    batch = True

    def check_batch(self, artifacts: list[Artifact], ctx: Context) -> list[Result]:
        """One call for all files: its error lines start with "<file>::"."""
        proc = ctx.run(["check-jsonschema", "--builtin-schema", self.schema, *[a.label for a in artifacts]],
                       cwd=ctx.root)
        if proc.ok:
            return [self.result(a, Status.PASSED) for a in artifacts]
        lines = [ln.strip() for ln in proc.output.splitlines()]
        attributable = any("::" in ln for ln in lines)
        results = []
        for a in artifacts:
            named = any(ln.startswith(a.label + "::") for ln in lines)
            # A file the batch names (or any file, when the output names none) is rerun alone for its full message.
            results.append(self.check(a, ctx) if named or not attributable else self.result(a, Status.PASSED))
        return results

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        proc = ctx.run(["check-jsonschema", "--builtin-schema", self.schema, artifact.label], cwd=ctx.root)
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
