"""Plain helpers the tests import (`from helpers import ...`): paths, rendering an in-memory architecture,
running a validator, reading a rendered tree. Fixtures live in conftest.py, which pytest loads itself."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from phasekit import model, render

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(REPO.glob("examples/*/architecture.yaml"))


def example_ids() -> list[str]:
    return [p.parent.name for p in EXAMPLES]


def render_arch(arch: dict[str, Any], dest: Path, *blueprints: str) -> Path:
    """Render an in-memory architecture (validated first) into dest."""
    arch = model.validate(arch, "test")
    render.apply(arch, dest, list(blueprints), render.Source.resolve(None, None))
    return dest


def run_tool(argv: list[str], cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """Run a validator; skip the test (never pass it) when the tool is not installed."""
    if shutil.which(argv[0]) is None:
        pytest.skip(f"{argv[0]} is not installed (run scripts/install-validators and source its env.sh)")
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def tree_of(folder: Path) -> dict[str, bytes]:
    """Every file below folder (outside .git) -> its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.parts}


def load_yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """A folder its owner may read but not write, made writable again afterwards; the test is skipped for a
    user who can write anywhere (root), where the permission never bites."""
    path.mkdir()
    path.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(path, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        yield path
    finally:
        path.chmod(stat.S_IRWXU)


# (name, language, kind, port): the starter kit in each flavour, as `phasekit new-service` applies it.
STARTER_FLAVOURS = [
    ("orders", "python", "http", 9001),
    ("mailer", "python", "worker", 9101),
    ("catalog-api", "go", "http", 9002),
    ("indexer", "go", "worker", 9102),
    ("web-bff", "node", "http", 9003),
    ("notifier", "node", "worker", 9103),
]


# ---------------------------------------------------------------- apply and update in a repository
# (test_render, test_update, test_preview, test_template_repo)

ARCH_FILE = REPO / "examples" / "filetransfer" / "architecture.yaml"
ADR = Path("docs/architecture/decisions")
D = "docs/architecture/decisions"


def phasekit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phasekit.cli", *args], capture_output=True, text=True, cwd=cwd, env=os.environ)


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def committed_repo(tmp_path: Path, blueprints: list[str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ARCH_FILE, repo / "architecture.yaml")
    render.apply(model.load(ARCH_FILE), repo, blueprints, render.Source.resolve(None, None))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "applied")
    return repo


def kill_after(argv: list[str], cwd: Path, seconds: float) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "phasekit.cli", *argv], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9

