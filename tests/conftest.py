"""Shared fixtures: the bundled examples, a private template cache, rendered blueprints. Plain helpers are in
helpers.py (`from helpers import ...`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from helpers import ARCH_FILE, EXAMPLES, REPO, D, example_ids, git
from phasekit import blueprints, model, render, template_repo
from phasekit.resources import template_root

PHASE_BLUEPRINTS = [b.name for b in blueprints.available() if b.phase]  # what `apply --all` applies


@pytest.fixture(scope="session", autouse=True)
def _template_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each test session materialises the template into its own cache, never the user's ~/.cache."""
    cache = tmp_path_factory.mktemp("template-cache") / "template"
    os.environ["PHASEKIT_TEMPLATE_CACHE"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def template_source(_template_cache: Path) -> render.Source:
    return render.Source.resolve(None, None)


@pytest.fixture(params=EXAMPLES, ids=example_ids())
def example_arch(request: pytest.FixtureRequest) -> dict:
    return model.load(request.param)


_RENDERED: dict[tuple[str, str], Path] = {}


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, template_source: render.Source):
    """rendered(example_name, blueprint) -> folder with that blueprint applied (cached per session)."""

    def _render(example: str, *blueprints: str) -> Path:
        key = (example, ",".join(blueprints))
        if key not in _RENDERED:
            arch = model.load(REPO / "examples" / example / "architecture.yaml")
            dest = tmp_path_factory.mktemp(f"{example}-{'-'.join(blueprints)}")
            render.apply(arch, dest, list(blueprints), template_source, base=REPO / "examples" / example)
            _RENDERED[key] = dest
        return _RENDERED[key]

    return _render


@pytest.fixture(scope="session")
def all_applied(rendered):
    """all_applied(example_name) -> a folder with every phase blueprint applied for that example, as
    `phasekit apply --all` writes it beside the example (config files the chart copies come from the example).
    One render per example and session, shared by every test that needs the whole output: treat it as
    read-only (copy it to change it)."""

    def _all(example: str) -> Path:
        return rendered(example, *PHASE_BLUEPRINTS)

    return _all


# ---------------------------------------------------------------- the fast lane (`-m "not slow"`)
# Every test runs in the fast lane on one example; the other examples run in the slow lane with the rest of
# what is marked slow (every blueprint on every example, the corpus, end-to-end runs).
# The rule is here, once, rather than a mark on each parametrised test.
FAST_EXAMPLE = "filetransfer"
OTHER_EXAMPLES = {p.parent.name for p in EXAMPLES} - {FAST_EXAMPLE}


def _names_another_example(value: object) -> bool:
    if isinstance(value, Path):
        return value.name == "architecture.yaml" and value.parent.name in OTHER_EXAMPLES
    if isinstance(value, str):
        return value in OTHER_EXAMPLES
    if isinstance(value, (tuple, list)):
        return any(_names_another_example(v) for v in value)
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and any(_names_another_example(v) for v in callspec.params.values()):
            item.add_marker(pytest.mark.slow)


# ---------------------------------------------------------------- a repository generated from an older template
# (test_update, test_preview, test_template_repo)


@pytest.fixture
def two_versions(tmp_path, monkeypatch):
    """A template cache holding v0.0.1 (an older adr blueprint) and v0.0.2 (the current one)."""
    monkeypatch.setenv("PHASEKIT_TEMPLATE_CACHE", str(tmp_path / "cache"))
    old = tmp_path / "old-template"
    shutil.copytree(template_root(), old, ignore=shutil.ignore_patterns("__pycache__"))
    record = old / "blueprints/adr/docs/architecture/decisions/0005-monitor-with-prometheus-and-grafana.md.jinja"
    record.write_text(record.read_text().replace("- Status: proposed\n", "- Status: proposed\n- Old line: v1\n"))
    (old / "blueprints/adr/docs/architecture/decisions/0004-manage-infrastructure-as-code-with-terraform.md.jinja").write_text(
        "# 4. Terraform\n\nStatus: proposed\n\nold wording\n")
    v1 = template_repo.ensure(old, version="0.0.1")
    v2 = template_repo.ensure(template_root(), version="0.0.2")
    return v1, v2


@pytest.fixture
def edited_repo(tmp_path, monkeypatch):
    """A repo generated from an older template (v0.0.1) with the team's edits in several files."""
    monkeypatch.setenv("PHASEKIT_TEMPLATE_CACHE", str(tmp_path / "cache"))
    old = tmp_path / "old-template"
    shutil.copytree(template_root(), old, ignore=shutil.ignore_patterns("__pycache__"))
    adr = old / "blueprints/adr" / D
    r5 = adr / "0005-monitor-with-prometheus-and-grafana.md.jinja"
    r5.write_text(r5.read_text().replace("- Status: proposed\n", "- Status: proposed\n- Old line: v1\n"))
    (adr / "0004-manage-infrastructure-as-code-with-terraform.md.jinja").write_text("# 4. Terraform\n\nold wording\n")
    (adr / "notes.md.jinja").write_text("notes the old template wrote\n")
    (adr / "legacy.md.jinja").write_text("legacy page\n")
    (adr / "0010-enforce-policies-as-code-with-opa.md.jinja").unlink()
    v1 = template_repo.ensure(old, version="0.0.1")
    template_repo.ensure(template_root(), version="0.0.2")
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ARCH_FILE, repo / "architecture.yaml")
    render.apply(model.load(ARCH_FILE), repo, ["adr"], render.Source(v1.src_path, v1.ref))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v0.0.1")
    (repo / D / "0005-monitor-with-prometheus-and-grafana.md").write_text(
        (repo / D / "0005-monitor-with-prometheus-and-grafana.md").read_text() + "\nOur runbooks: wiki/oncall.\n")
    (repo / D / "0004-manage-infrastructure-as-code-with-terraform.md").write_text("# 4. Terraform\n\nour wording\n")
    (repo / D / "notes.md").write_text("notes the team rewrote\n")
    (repo / D / "0006-build-test-and-deploy-with-github-actions.md").write_text(
        (repo / D / "0006-build-test-and-deploy-with-github-actions.md").read_text() + "\nTeam note.\n")
    git(repo, "commit", "-qam", "team edits")
    return repo

