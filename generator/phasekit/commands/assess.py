"""`phasekit assess` (being built)."""

from __future__ import annotations

import click

from ..errors import PhasekitError


@click.command("assess")
def command() -> None:
    """Not available yet in this version."""
    raise PhasekitError("`phasekit assess` is not available yet in this version")
