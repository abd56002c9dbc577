"""`phasekit check` (being built)."""

from __future__ import annotations

import click

from ..errors import PhasekitError


@click.command("check")
def command() -> None:
    """Not available yet in this version."""
    raise PhasekitError("`phasekit check` is not available yet in this version")
