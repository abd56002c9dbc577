"""End to end, as a user runs it: capture a compose file, apply every blueprint, check what phasekit wrote.

For the bundled examples and every entry of the compose corpus (tests/corpus, with provenance): no validator
fails on a file phasekit wrote, and the fidelity check (compose file against chart, NetworkPolicies and
Terraform) finds no loss. An image the compose file leaves unpinned is pinned first, as the chart's and
Terraform's refusal tells the user to; the fidelity check accepts a pinned version of the same repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from corpus import entries
from helpers import REPO

pytestmark = pytest.mark.slow

CASES = [(f"examples/{p.parent.name}", p.parent, ["docker-compose.yml"]) for p in sorted(REPO.glob("examples/*/architecture.yaml"))]
CASES += [(f"corpus/{name}", files[0].parent, [f.relative_to(files[0].parent).as_posix() for f in files])
          for name, files in entries() if not name.startswith("external/")]
PIN = "pinned-by-the-test"


def phasekit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run([sys.executable, "-m", "phasekit.cli", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=900)


def pin_unpinned(architecture: Path) -> list[str]:
    """What a user does when the chart says `pin a version`: give each unpinned third-party image a tag."""
    arch = yaml.safe_load(architecture.read_text(encoding="utf-8"))
    subjects = {f["subject"] for f in arch.get("facts", []) if f["kind"] == "unpinned-image"}
    pinned = []
    for item in [*arch["services"], *arch.get("datastores", [])]:
        if item["name"] in subjects and "build" not in item:
            item["image"] = item["image"].removesuffix(":latest") + ":" + PIN
            pinned.append(item["name"])
    text = architecture.read_text(encoding="utf-8").splitlines()[0] + "\n" + yaml.safe_dump(arch, sort_keys=False)
    architecture.write_text(text, encoding="utf-8")
    return pinned


@pytest.mark.parametrize(("name", "folder", "files"), CASES, ids=[c[0] for c in CASES])
def test_capture_apply_check_runs_what_compose_runs(tmp_path, name, folder, files):
    if shutil.which("helm") is None:
        pytest.skip("helm is not installed (run scripts/install-validators and source its env.sh)")
    work = tmp_path / "repo"
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns("architecture.yaml"))
    sources = [arg for f in files for arg in ("--from-compose", f)]
    captured = phasekit("capture", *sources, "--non-interactive", cwd=work)
    assert captured.returncode == 0, captured.stderr
    pin_unpinned(work / "architecture.yaml")
    applied = phasekit("apply", "--all", cwd=work)
    assert applied.returncode == 0, applied.stderr
    checked = phasekit("check", "--only-generated", "--format", "json", cwd=work)
    report = json.loads(checked.stdout)
    failed = [f"{r['validator']} {r['artifact']}: {r['message'][:300]}" for r in report["results"] if r["status"] == "failed"]
    assert failed == [], "\n".join(failed)
    fidelity = [r for r in report["results"] if r["validator"] == "fidelity"]
    assert any(r["status"] == "passed" and r["artifact"].startswith("charts/") for r in fidelity), fidelity
    assert any(r["status"] == "passed" and r["artifact"].startswith("terraform/") for r in fidelity), fidelity
