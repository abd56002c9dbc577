"""Capture on the compose corpus (tests/corpus): every real-world shape imports, and no service is lost.

For each entry, `phasekit capture --from-compose ... --non-interactive` must exit 0 and write a model holding
every service that `docker compose config` sees (profiles included) as a service or a datastore, named
as the fidelity contract says, with no value from the entry's env files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from corpus import HERE, entries, load_sources
from phasekit import model
from phasekit.capture.compose import compose_command

# Entry name -> one-line reason capture breaks on it today. strict: a fix makes the test fail until the line goes.
BROKEN: dict[str, str] = {}

PLACEHOLDER_SECRET = "placeholder-not-a-secret"  # the value every corpus env file uses for a password


def _params() -> list:
    marks = lambda name: [pytest.mark.xfail(reason=BROKEN[name], strict=True)] if name in BROKEN else []  # noqa: E731
    return [pytest.param(name, files, id=name, marks=marks(name)) for name, files in entries()]


def contract_id(name: str) -> str:
    """The fidelity contract's name rule: lowercase, `_` and `.` become `-`."""
    return re.sub(r"[_.]", "-", name.lower())


def compose_services(files: list[Path]) -> set[str]:
    """Service names as Compose itself resolves the files (every profile), env files read."""
    argv = [*compose_command(), *(a for f in files for a in ("-f", str(f))), "--profile", "*", "config", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    result = subprocess.run(argv, cwd=files[0].parent, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"docker compose config failed: {result.stderr}"
    return set(json.loads(result.stdout)["services"])


@pytest.mark.slow  # about 2 s an entry: compose runs three times
@pytest.mark.parametrize(("name", "files"), _params())
def test_capture_keeps_every_compose_service(name: str, files: list[Path], tmp_path: Path) -> None:
    expected = compose_services(files)
    out = tmp_path / "architecture.yaml"
    argv = [sys.executable, "-m", "phasekit.cli", "capture", *(a for f in files for a in ("--from-compose", str(f))),
            "--non-interactive", "-o", str(out)]
    result = subprocess.run(argv, cwd=files[0].parent, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"capture failed on {name}: {result.stderr}"
    arch = model.load(out)
    captured = {item["name"]: item for item in [*arch["services"], *arch["datastores"]]}
    assert not expected - captured.keys(), f"compose services missing from architecture.yaml: {sorted(expected - captured.keys())}"
    assert not captured.keys() - expected, f"architecture.yaml names services compose does not have: {sorted(captured.keys() - expected)}"
    assert {n: item["id"] for n, item in captured.items()} == {n: contract_id(n) for n in expected}
    assert PLACEHOLDER_SECRET not in out.read_text(encoding="utf-8")


# ---------------------------------------------------------------- the corpus itself


def test_every_corpus_folder_is_indexed_with_provenance() -> None:
    sources = load_sources()
    names = [e["name"] for e in sources]
    assert len(names) == len(set(names)) and len(names) >= 14
    assert sorted(names) == sorted(p.name for p in HERE.iterdir() if p.is_dir() and p.name != "__pycache__")
    for entry in sources:
        folder = HERE / entry["name"]
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), entry["name"]
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", entry["repository"]), entry["name"]
        assert entry["path"] and entry["licence"] and entry["teaches"], entry["name"]
        for file in entry["files"]:
            assert (folder / file).is_file(), f"{entry['name']}: {file} is missing"
        for companion in entry["companions"]:
            assert (folder / companion["path"]).is_file() and companion["why"], f"{entry['name']}: {companion}"


def test_corpus_compose_files_say_what_they_follow() -> None:
    """Each compose file names its origin in its first lines, so nobody mistakes it for an upstream copy."""
    for name, files in entries():
        if name.startswith("external/"):
            continue
        head = files[0].read_text(encoding="utf-8").splitlines()[:3]
        assert any("written for phasekit" in line for line in head), name
        assert yaml.safe_load(files[0].read_text(encoding="utf-8"))["services"], name
