"""`phasekit new-service` (being built)."""

from __future__ import annotations

import click

from ..errors import PhasekitError


@click.command("new-service")
def command() -> None:
    """Not available yet in this version."""
    raise PhasekitError("`phasekit new-service` is not available yet in this version")
