"""The copier speed-ups (shared compiled templates, no git index upkeep in scratch folders) change nothing
that is written, and are engaged with the copier this project installs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO, tree_of
from phasekit import blueprints, copier_runtime, model, render


def test_every_blueprint_renders_the_same_bytes_with_and_without_the_speedups(tmp_path, monkeypatch, template_source):
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    names = [b.name for b in blueprints.available() if b.phase]
    fast = tmp_path / "fast"
    render.apply(arch, fast, names, template_source)
    assert copier_runtime._COMPILED, "copier's Jinja environment no longer goes through the shared compile memo"
    monkeypatch.setattr(copier_runtime, "rendering_into_scratch", contextlib.nullcontext)
    plain = tmp_path / "plain"
    render.apply(arch, plain, names, template_source)
    fast_tree, plain_tree = tree_of(fast), tree_of(plain)
    assert len(fast_tree) > 50
    assert fast_tree == plain_tree


def test_a_repeated_yield_path_still_renders_one_file_per_item(tmp_path, template_source):
    """copier's `yield` tag keeps state its preprocess hook resets; a memoised compile must still reset it."""
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    for attempt in ("first", "second"):  # the second render reuses every compiled path name
        render.apply(arch, tmp_path / attempt, ["terraform"], template_source)
        envs = sorted(p.name for p in (tmp_path / attempt / "terraform/environments").glob("*.tfvars"))
        assert envs == sorted(f"{e}.tfvars" for e in arch["environments"]), attempt


def test_a_new_process_reads_compiled_templates_from_disk_and_survives_a_corrupt_cache(tmp_path, monkeypatch,
                                                                                         template_source):
    """Compiled code kept on disk (next to the template cache) gives the same bytes in a new process, and an
    entry that cannot be read (truncated, garbage) is compiled again, never trusted."""
    arch_file = REPO / "examples" / "insights" / "architecture.yaml"
    names = [b.name for b in blueprints.available() if b.phase]
    plain = tmp_path / "plain"
    monkeypatch.setattr(copier_runtime, "rendering_into_scratch", contextlib.nullcontext)  # the reference
    render.apply(model.load(arch_file), plain, names, template_source)
    cache = copier_runtime._disk_cache()
    assert cache is not None and cache.is_relative_to(Path(os.environ["PHASEKIT_TEMPLATE_CACHE"]).parent)

    def apply_in_a_new_process(dest: Path) -> dict[str, bytes]:
        result = subprocess.run([sys.executable, "-m", "phasekit.cli", "apply", "--all", "--arch", str(arch_file),
                                 "--dest", str(dest)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return tree_of(dest)

    first = apply_in_a_new_process(tmp_path / "first")
    entries = sorted(cache.glob("*.code"))
    assert len(entries) > 100, "compiled templates are not kept on disk"
    second = apply_in_a_new_process(tmp_path / "second")
    for i, entry in enumerate(entries):  # spoil every entry: half truncated, half garbage
        entry.write_bytes(entry.read_bytes()[: len(entry.read_bytes()) // 2] if i % 2 else b"\x00not marshal")
    spoiled = apply_in_a_new_process(tmp_path / "spoiled")
    assert tree_of(plain) == first == second == spoiled
