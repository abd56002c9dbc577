"""Alertmanager (`amtool check-config`) and blackbox exporter (`--config.check`) configs, found by their keys."""

from __future__ import annotations

from typing import Any

from .._core import Artifact, Context, Result
from ._keyed import KeyedYaml


def is_alertmanager(doc: dict[Any, Any]) -> bool:
    return isinstance(doc.get("route"), dict) and isinstance(doc.get("receivers"), list) and "apiVersion" not in doc


def is_blackbox(doc: dict[Any, Any]) -> bool:
    modules = doc.get("modules")
    return (isinstance(modules, dict) and bool(modules)
            and all(isinstance(m, dict) and "prober" in m for m in modules.values()))


class Amtool(KeyedYaml):
    name = "amtool"
    tools = ("amtool",)
    description = "amtool check-config (Alertmanager routing, receivers, templates)"
    wanted = staticmethod(is_alertmanager)

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        # Relative *_file paths (secrets) resolve against the file's folder, as Alertmanager does.
        return self.from_proc(artifact, ctx.run(["amtool", "check-config", artifact.path.name], cwd=artifact.path.parent))


class Blackbox(KeyedYaml):
    name = "blackbox-config"
    tools = ("prometheus-blackbox-exporter",)
    description = "prometheus-blackbox-exporter --config.check (probe modules)"
    wanted = staticmethod(is_blackbox)

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        argv = ["prometheus-blackbox-exporter", f"--config.file={artifact.path.name}", "--config.check"]
        return self.from_proc(artifact, ctx.run(argv, cwd=artifact.path.parent))
