"""`phasekit install-validators`: install the tools `phasekit check` runs, from an installed phasekit.

It runs the install script phasekit ships (scripts/install-validators in a checkout): apt (with sudo when
not root), PyPI and npm, pinned, into ~/.cache/phasekit/tools (PHASEKIT_TOOLS overrides). Idempotent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import click

from ..errors import PhasekitError
from ..resources import install_script


@click.command("install-validators")
def command() -> None:
    """Install the validators `phasekit check` runs into ~/.cache/phasekit/tools (apt, PyPI, npm; pinned).

    Then make them visible to `phasekit check` in this shell:

    \b
    Example:
      phasekit install-validators && . ~/.cache/phasekit/tools/env.sh && phasekit check
    """
    script = install_script()
    if not script.is_file():
        raise PhasekitError(f"the install script is missing from this phasekit ({script}); reinstall phasekit")
    bash = shutil.which("bash")
    if bash is None:
        raise PhasekitError("bash is needed to install the validators")
    done = subprocess.run([bash, str(script)], check=False, env=os.environ)
    if done.returncode != 0:
        raise PhasekitError(f"installing the validators failed (exit {done.returncode}); see the output above")
    tools = Path(os.environ.get("PHASEKIT_TOOLS", "~/.cache/phasekit/tools")).expanduser()
    click.echo(f"now run: . {tools / 'env.sh'}", err=True)
