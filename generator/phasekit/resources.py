"""Where the template (copier.yml, blueprints/, schemas/) lives: inside the wheel, or the source tree."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def template_root() -> Path:
    """The folder holding the root copier.yml and blueprints/."""
    installed = _PACKAGE / "_template"
    if (installed / "copier.yml").is_file():
        return installed
    source = _PACKAGE.parent.parent  # generator/phasekit -> repository root
    if (source / "copier.yml").is_file():
        return source
    raise RuntimeError(f"phasekit template not found next to {_PACKAGE}")


def schema_path(name: str = "architecture.schema.json") -> Path:
    return template_root() / "schemas" / name


def blueprints_dir() -> Path:
    return template_root() / "blueprints"


def install_script() -> Path:
    """scripts/install-validators: shipped in the wheel as phasekit/_tools/, read from the checkout otherwise."""
    installed = _PACKAGE / "_tools" / "install-validators"
    if installed.is_file():
        return installed
    return _PACKAGE.parent.parent / "scripts" / "install-validators"
