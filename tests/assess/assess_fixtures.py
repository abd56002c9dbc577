"""Fixtures for the assess tests, imported by the test modules that use them: each example before and after
`apply --all`, and the Mermaid parser."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from phasekit import assess, blueprints, model

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DIRS = sorted(p.parent for p in REPO.glob("examples/*/architecture.yaml"))


@dataclass
class BeforeAfter:
    arch: dict
    before: assess.Report
    after: assess.Report
    applied: list[str]
    repo: Path


_CACHE: dict[str, BeforeAfter] = {}


@pytest.fixture(scope="session")
def before_after(tmp_path_factory: pytest.TempPathFactory, all_applied):
    """before_after(example) -> the example folder assessed as it is, then again after every shipped phase
    blueprint was applied to a copy of it (what `phasekit apply --all` does: the session's all_applied render,
    laid over a copy of the example)."""

    def _get(example: str) -> BeforeAfter:
        if example not in _CACHE:
            src = REPO / "examples" / example
            arch = model.load(src / "architecture.yaml")
            before = assess.assess(arch, src)
            dest = tmp_path_factory.mktemp(f"assess-{example}") / example
            shutil.copytree(src, dest)
            shutil.copytree(all_applied(example), dest, dirs_exist_ok=True)
            chosen = blueprints.select([], [], everything=True)
            _CACHE[example] = BeforeAfter(arch, before, assess.assess(arch, dest), chosen, dest)
        return _CACHE[example]

    return _get


def mermaid_dir() -> Path:
    return Path(os.environ.get("PHASEKIT_MERMAID", Path.home() / ".cache/phasekit/mermaid"))


@pytest.fixture(scope="session")
def mermaid_parse(tmp_path_factory: pytest.TempPathFactory):
    """parse(text or [texts]) -> (ok, message) with mermaid's own parser, one Node process per call (loading
    mermaid takes seconds, so batch); skip when scripts/install-mermaid-check has not run."""
    script = mermaid_dir() / "mermaid-parse.mjs"
    if shutil.which("node") is None or not script.is_file():
        pytest.skip("the Mermaid parser is not installed (run scripts/install-mermaid-check)")
    folder = tmp_path_factory.mktemp("mermaid")
    counter = iter(range(1_000_000))

    def _parse(texts: str | list[str]) -> tuple[bool, str]:
        files = []
        for text in [texts] if isinstance(texts, str) else texts:
            path = folder / f"diagram-{next(counter)}.mmd"
            path.write_text(text, encoding="utf-8")
            files.append(str(path))
        result = subprocess.run(["node", str(script), *files], capture_output=True, text=True, timeout=300, check=False)
        lines = result.stdout.splitlines()
        ok = result.returncode == 0 and len(lines) == len(files) and all(line.startswith("OK ") for line in lines)
        return ok, (result.stdout + result.stderr).strip()

    return _parse
