"""Shell scripts (*.sh, *.bash, or a sh/bash/dash/ksh shebang): shellcheck."""

from __future__ import annotations

import re

from .._core import Artifact, Context, Result, Validator
from .._inventory import Inventory

_SHEBANG = re.compile(r"^#!\s*(?:/usr/bin/env\s+(?:-S\s+)?)?\S*/?(?:sh|bash|dash|ksh)\b")


class Shellcheck(Validator):
    name = "shellcheck"
    tools = ("shellcheck",)
    description = "shellcheck -f gcc"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        found = []
        for path in inventory.files:
            if path.suffix in {".sh", ".bash"} or (
                path.suffix == "" and _SHEBANG.match(inventory.head(path, 128).split("\n", 1)[0])
            ):
                if not inventory.in_chart_templates(path):
                    found.append(inventory.artifact(path))
        return found

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        return self.from_proc(artifact, ctx.run(["shellcheck", "-f", "gcc", artifact.label], cwd=ctx.root))
