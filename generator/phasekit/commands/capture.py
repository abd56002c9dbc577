"""`phasekit capture` (being built)."""

from __future__ import annotations

import click

from ..errors import PhasekitError


@click.command("capture")
def command() -> None:
    """Not available yet in this version."""
    raise PhasekitError("`phasekit capture` is not available yet in this version")
