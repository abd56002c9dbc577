"""Config files compose bind-mounts (nginx.conf, a crontab) travel with the chart.

Helm reads files only from inside a chart, so `apply` and `update` keep a copy of each config file of the
architecture in charts/<project>/files/<service id>/<key>; templates/files.yaml turns them into a ConfigMap.
The key is the one the helm blueprint's values.yaml gives the mount: "<index of the volume>-<file name>".
Files marked `secret` (they hold credentials, or are not in the repo) are never copied: the chart mounts them
from a Secret the team creates.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from .model import Architecture


def key(index: int, target: str) -> str:
    return re.sub(r"[^-._a-zA-Z0-9]+", "-", f"{index}-{target.rstrip('/').rsplit('/', 1)[-1]}")


def copies(arch: Architecture, base: Path) -> dict[Path, Path]:
    """{path inside the helm blueprint's output: source file} for every copied config file."""
    chart = Path("charts") / arch["project"]["id"] / "files"
    out: dict[Path, Path] = {}
    for item in [*arch["services"], *arch["datastores"]]:
        for index, volume in enumerate(item.get("volumes", [])):
            if volume["type"] != "config" or volume.get("secret") or "source" not in volume:
                continue
            source = base / volume["source"]
            folder = chart / item["id"] / key(index, volume["target"])
            if volume.get("directory") and source.is_dir():
                for file in sorted(p for p in source.iterdir() if p.is_file()):
                    out[folder / file.name] = file
            elif source.is_file():
                out[folder] = source
    return out


def write(arch: Architecture, base: Path, helm_root: Path) -> list[Path]:
    """Copy what changed into helm_root; returns the paths written (relative to helm_root)."""
    written = []
    for rel, source in copies(arch, base).items():
        target = helm_root / rel
        data = source.read_bytes()
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        shutil.copymode(source, target)
        written.append(rel)
    return written
