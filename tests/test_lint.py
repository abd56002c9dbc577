"""ruff and mypy, configured in pyproject.toml, pass on the whole tree: run by the test command (and so by CI)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import REPO


@pytest.mark.parametrize("tool", [["ruff", "check", "--no-cache", "--output-format", "concise"], ["mypy"]], ids=["ruff", "mypy"])
def test_passes(tool: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", *tool], cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    if "No module named" in result.stderr:
        pytest.fail(f"{tool[0]} is not installed: pip install -e '.[test]'")
    assert result.returncode == 0, f"{' '.join(tool)}:\n{result.stdout}{result.stderr}"
