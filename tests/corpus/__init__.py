"""The compose corpus: real-world deployment shapes for capture and fidelity tests.

`entries()` lists every corpus entry as (name, [compose files in `-f` order]); SOURCES.yaml beside this
file is the index. A second corpus with the same layout (its own SOURCES.yaml) is added when
PHASEKIT_COMPOSE_CORPUS names its folder, or when ../shared/compose-corpus exists beside the repository;
its entries are named "external/<name>". Use it to run the same tests on upstream files kept outside git.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "compose-corpus"


def load_sources(root: Path = HERE) -> list[dict]:
    """The entries of root/SOURCES.yaml, in file order."""
    data = yaml.safe_load((root / "SOURCES.yaml").read_text(encoding="utf-8"))
    return list(data["entries"])


def _external_root() -> Path | None:
    named = os.environ.get("PHASEKIT_COMPOSE_CORPUS")
    if named:
        return Path(named).resolve()
    return SHARED if (SHARED / "SOURCES.yaml").is_file() else None


def entries() -> list[tuple[str, list[Path]]]:
    """(name, compose files) for every entry: this corpus, then the external one if there is one."""
    out = [(e["name"], [HERE / e["name"] / f for f in e["files"]]) for e in load_sources()]
    external = _external_root()
    if external is not None:
        out += [(f"external/{e['name']}", [external / e["name"] / f for f in e["files"]]) for e in load_sources(external)]
    return out
