"""`phasekit new-service` edits architecture.yaml round-trip and can be run again after a kill (issue 13.11)."""

from __future__ import annotations

import shutil

import pytest

from helpers import REPO, tree_of
from phasekit import model
from phasekit.cli import main as phasekit
from phasekit.commands import new_service

HAND_WRITTEN = """\
# yaml-language-server: $schema=../schemas/architecture.schema.json
# The shop, as the platform team sees it.
version: 1
project:
  name: shop   # what we call it
services:
  # the public API; owned by team blue
  - name: api
    ports: [{port: 8080}]
    replicas: 2
datastores:
  - {name: db, engine: postgres}  # managed later
"""


def test_new_service_keeps_comments_order_and_layout(tmp_path):
    arch_path = tmp_path / "architecture.yaml"
    arch_path.write_text(HAND_WRITTEN)
    assert phasekit(["new-service", "billing", "--arch", str(arch_path)]) == 0
    text = arch_path.read_text()
    original = HAND_WRITTEN.splitlines()
    lines = text.splitlines()
    # every original line is still there, in order, unchanged; the new lines are the new entry only
    assert lines[:10] == original[:10] and lines[-2:] == original[-2:]
    added = lines[10:-2]
    assert added[0] == "  - name: billing" and all(ln.startswith("    ") for ln in added[1:])
    assert len(added) < 40
    arch = model.load(arch_path)
    assert [s["name"] for s in arch["services"]] == ["api", "billing"] and arch["services"][0]["replicas"] == 2


@pytest.mark.parametrize("killed", ["before the architecture was written", "half-way through the folder",
                                    "after everything was written"])
def test_new_service_can_be_run_again_after_a_kill(tmp_path, monkeypatch, killed):
    reference, target = tmp_path / "reference", tmp_path / "target"
    for root in (reference, target):
        root.mkdir()
        shutil.copy(REPO / "examples" / "insights" / "architecture.yaml", root / "architecture.yaml")
    assert phasekit(["new-service", "billing", "--arch", str(reference / "architecture.yaml")]) == 0
    argv = ["new-service", "billing", "--arch", str(target / "architecture.yaml")]
    if killed == "before the architecture was written":
        def interrupted(*_args):
            raise KeyboardInterrupt

        with monkeypatch.context() as patch:
            patch.setattr(new_service, "_write_atomically", interrupted)
            assert phasekit(argv) == 1  # "phasekit: aborted"
        assert "billing" not in (target / "architecture.yaml").read_text()
    else:
        assert phasekit(argv) == 0
        if killed == "half-way through the folder":
            for path in sorted((target / "services" / "billing").rglob("*"))[::2]:
                if path.is_file():
                    path.unlink()
    assert phasekit(argv) == 0  # the re-run completes what is missing and adds nothing twice
    assert tree_of(target) == tree_of(reference)
    assert [s["name"] for s in model.load(target / "architecture.yaml")["services"]].count("billing") == 1


def test_a_folder_with_other_files_is_still_refused(tmp_path):
    arch_path = tmp_path / "architecture.yaml"
    arch_path.write_text(HAND_WRITTEN)
    mine = tmp_path / "services" / "billing" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("ours\n")
    assert phasekit(["new-service", "billing", "--arch", str(arch_path)]) == 1
    assert arch_path.read_text() == HAND_WRITTEN and sorted(mine.parent.iterdir()) == [mine]
