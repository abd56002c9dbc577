"""Where a repository's fidelity inputs are: architecture.yaml, the compose file(s), the chart, the
NetworkPolicies and terraform.tfvars (paths of the contract, relative to the checked root)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from .._core import Context
from .._inventory import Inventory
from .compose_side import dns_id, find_files

POLICY_DIR = "k8s/network-policies"
TFVARS = "terraform/terraform.tfvars"
T = TypeVar("T")


@dataclass
class Project:
    root: Path
    inventory: Inventory

    @cached_property
    def architecture(self) -> dict[str, Any]:
        path = self.root / "architecture.yaml"
        # the inventory's cached parse (C loader): an architecture of 1,000 services is megabytes of YAML
        doc = self.inventory.first_mapping(path) if path.is_file() else None
        return doc if isinstance(doc, dict) else {}

    @cached_property
    def id(self) -> str | None:
        project = self.architecture.get("project") or {}
        name = project.get("id") or project.get("name") if isinstance(project, dict) else None
        return dns_id(str(name)) if name else None

    @cached_property
    def compose_files(self) -> list[Path]:
        return find_files(self.root, self.architecture)

    @cached_property
    def charts(self) -> list[Path]:
        """charts/<project id>; without architecture.yaml, every chart under charts/."""
        if self.id:
            return [self.root / "charts" / self.id] if (self.root / "charts" / self.id / "Chart.yaml").is_file() else []
        return sorted(p.parent for p in (self.root / "charts").glob("*/Chart.yaml"))

    @cached_property
    def policy_docs(self) -> list[dict[str, Any]]:
        folder = self.root / POLICY_DIR
        files = [p for p in self.inventory.yaml_files if p.parent == folder]
        return [d for p in files for d in self.inventory.mappings(p)]

    @property
    def tfvars(self) -> Path | None:
        path = self.root / TFVARS
        return path if path.is_file() else None


def memoised(ctx: Context, key: Any, compute: Callable[[], T]) -> T:
    """compute() once per check run, whichever artifact asks first; an exception is re-raised to every asker."""
    with ctx.memo_lock:
        lock = ctx.memo.setdefault(("lock", key), threading.Lock())
    with lock:
        if key not in ctx.memo:
            try:
                ctx.memo[key] = (True, compute())
            except Exception as exc:  # noqa: BLE001 - handed to every caller
                ctx.memo[key] = (False, exc)
    ok, value = ctx.memo[key]
    if not ok:
        raise value
    computed: T = value  # the memo holds every check's values; this key's is compute()'s
    return computed
