"""Dockerfiles (Dockerfile, Dockerfile.*, *.Dockerfile, Containerfile): hadolint."""

from __future__ import annotations

from .._core import Artifact, Context, Result, Validator
from .._inventory import Inventory


def is_dockerfile(name: str) -> bool:
    lower = name.lower()
    return (lower in {"dockerfile", "containerfile"} or lower.startswith(("dockerfile.", "containerfile."))
            or lower.endswith((".dockerfile", ".containerfile"))) and not lower.endswith((".jinja", ".dockerignore"))


class Hadolint(Validator):
    name = "hadolint"
    tools = ("hadolint",)
    description = "hadolint (its default failure threshold; a repo's .hadolint.yaml is honoured)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.files if is_dockerfile(p.name)]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        return self.from_proc(artifact, ctx.run(["hadolint", "--no-color", artifact.label], cwd=ctx.root))
