"""Shared fixtures: the bundled examples, a private template cache, rendered blueprints. Plain helpers are in
helpers.py (`from helpers import ...`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import EXAMPLES, REPO, example_ids
from phasekit import model, render


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
