"""Every YAML file (Helm templates excepted): yamllint, `relaxed` config unless the repo has its own .yamllint."""

from __future__ import annotations

import re

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory

_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): \[(?P<level>error|warning)\] (?P<msg>.*)$")
_OWN = (".yamllint", ".yamllint.yaml", ".yamllint.yml")


class Yamllint(Validator):
    name = "yamllint"
    tools = ("yamllint",)
    description = "yamllint -d relaxed -f parsable (errors fail, warnings are listed)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.yaml_files]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        own = [ctx.root / f for f in _OWN if (ctx.root / f).is_file()]
        config = ["-c", str(own[0])] if own else ["-d", "relaxed"]
        proc = ctx.run(["yamllint", *config, "-f", "parsable", artifact.label], cwd=ctx.root)
        lines = [m for m in (_LINE.match(ln) for ln in proc.output.splitlines()) if m]
        errors = [m.group(0) for m in lines if m.group("level") == "error"]
        warnings = [m.group(0) for m in lines if m.group("level") == "warning"]
        if proc.returncode != 0 or errors:
            return self.result(artifact, Status.FAILED, "\n".join(errors) or proc.output)
        return self.result(artifact, Status.PASSED, f"{len(warnings)} warning(s)" if warnings else "")
