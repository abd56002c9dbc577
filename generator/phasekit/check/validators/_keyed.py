"""Validators that recognise their files by the keys of the first YAML document (outside Helm charts)."""

from __future__ import annotations

from typing import Any

from .._core import Artifact, Validator
from .._inventory import Inventory


class KeyedYaml(Validator):
    def wanted(self, doc: dict[Any, Any]) -> bool:  # pragma: no cover - interface
        raise NotImplementedError

    def discover(self, inventory: Inventory) -> list[Artifact]:
        found = []
        for path in inventory.yaml_files:
            doc = inventory.first_mapping(path)
            if doc is not None and not inventory.in_chart(path) and self.wanted(doc):
                found.append(inventory.artifact(path))
        return found
