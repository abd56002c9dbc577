"""Python scripts (health checks, helpers): they must compile (syntax only; nothing is executed)."""

from __future__ import annotations

import re

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory

_SHEBANG = re.compile(r"^#!.*\bpython[0-9.]*\b")


class PythonCompile(Validator):
    name = "python-compile"
    description = "compile() of every Python file (the interpreter's own parser)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.files
                if p.suffix == ".py" or (p.suffix == "" and _SHEBANG.match(inventory.head(p, 128)))]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        try:
            compile(artifact.path.read_bytes(), artifact.label, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            return self.result(artifact, Status.FAILED, f"{type(exc).__name__}: {exc}")
        return self.result(artifact, Status.PASSED)
