"""PHP files (health endpoints, front controllers): `php -l`, the interpreter's own syntax check."""

from __future__ import annotations

from .._core import Artifact, Context, Result, Validator
from .._inventory import Inventory


class PhpLint(Validator):
    name = "php-lint"
    tools = ("php",)
    description = "php -l (syntax check; nothing is executed)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.files if p.suffix == ".php"]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        return self.from_proc(artifact, ctx.run(["php", "-l", "-d", "display_errors=stderr", str(artifact.path)]))
