"""The copier speed-ups (shared compiled templates, no git index upkeep in scratch folders) change nothing
that is written, and are engaged with the copier this project installs."""

from __future__ import annotations

import contextlib
from pathlib import Path

from conftest import REPO
from phasekit import blueprints, copier_runtime, model, render


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_blueprint_renders_the_same_bytes_with_and_without_the_speedups(tmp_path, monkeypatch, template_source):
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    names = [b.name for b in blueprints.available() if b.phase]
    fast = tmp_path / "fast"
    render.apply(arch, fast, names, template_source)
    assert copier_runtime._COMPILED, "copier's Jinja environment no longer goes through the shared compile memo"
    monkeypatch.setattr(copier_runtime, "rendering_into_scratch", contextlib.nullcontext)
    plain = tmp_path / "plain"
    render.apply(arch, plain, names, template_source)
    fast_tree, plain_tree = _tree(fast), _tree(plain)
    assert len(fast_tree) > 50
    assert fast_tree == plain_tree


def test_a_repeated_yield_path_still_renders_one_file_per_item(tmp_path, template_source):
    """copier's `yield` tag keeps state its preprocess hook resets; a memoised compile must still reset it."""
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    for attempt in ("first", "second"):  # the second render reuses every compiled path name
        render.apply(arch, tmp_path / attempt, ["terraform"], template_source)
        envs = sorted(p.name for p in (tmp_path / attempt / "terraform/environments").glob("*.tfvars"))
        assert envs == sorted(f"{e}.tfvars" for e in arch["environments"]), attempt
