"""How GitHub Actions workflows and dependabot.yml are recognised (shared by several adapters)."""

from __future__ import annotations

from pathlib import Path

from .._inventory import Inventory


def workflows(inventory: Inventory) -> list[Path]:
    found = []
    for path in inventory.yaml_files:
        doc = inventory.first_mapping(path)
        if doc is None or inventory.in_chart(path):
            continue
        in_dir = path.parent.name == "workflows" and path.parent.parent.name == ".github"
        looks = isinstance(doc.get("jobs"), dict) and ("on" in doc or True in doc)
        if looks or (in_dir and "jobs" in doc):
            found.append(path)
    return found


def dependabot_files(inventory: Inventory) -> list[Path]:
    found = []
    for path in inventory.yaml_files:
        doc = inventory.first_mapping(path)
        if doc is None:
            continue
        if path.stem == "dependabot" or (doc.get("version") == 2 and isinstance(doc.get("updates"), list)):
            found.append(path)
    return found
