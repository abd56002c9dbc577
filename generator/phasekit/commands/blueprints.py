"""`phasekit blueprints`: list the blueprints and their phases."""

from __future__ import annotations

import click

from ..blueprints import PHASE_NAMES, available


@click.command("blueprints")
def command() -> None:
    """List the blueprints (layers) and the phase each belongs to.

    \b
    Example:
      phasekit blueprints && phasekit apply --blueprint helm
    """
    for bp in sorted(available(), key=lambda b: (b.phase or 99, b.name)):
        phase = f"phase {bp.phase}" if bp.phase else "starter"
        click.echo(f"{bp.name:<15} {phase:<8} {PHASE_NAMES[bp.phase]:<18} {bp.summary}")
