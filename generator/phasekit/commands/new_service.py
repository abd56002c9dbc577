"""`phasekit new-service`: start a service from the `service` blueprint and declare it in architecture.yaml.

The service gets its own folder and its own answers file (`.copier-answers.service.yml` inside that folder),
so each service updates on its own. The architecture is written only after the render succeeded, and only
with a model that validates: a refused or failed run leaves nothing behind.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import click

from .. import lock, model, render
from ..errors import PhasekitError
from ._options import arch_option, template_option, vcs_ref_option

LANGUAGES = ("python", "go", "node")
KINDS = ("http", "worker")
# DNS-1035 (what a Kubernetes Service name must be): DNS-1123 that starts with a letter. A leading digit
# would also give a Python module that cannot be imported.
SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)")


@click.command("new-service")
@click.argument("name")
@click.option("--language", type=click.Choice(LANGUAGES), default="python", show_default=True,
              help="Language of the service.")
@click.option("--kind", type=click.Choice(KINDS), default="http", show_default=True,
              help="http: serves requests; worker: a work loop (health and metrics still on PORT).")
@click.option("--port", type=int, default=8080, show_default=True,
              help="Port it listens on (for a worker: health and metrics only).")
@click.option("--dest", type=click.Path(path_type=Path), default=None,
              help="The service's folder.  [default: services/NAME beside the architecture file]")
@arch_option
@template_option
@vcs_ref_option
def command(
    name: str, language: str, kind: str, port: int, dest: Path | None, arch_path: Path,
    template: str | None, vcs_ref: str | None,
) -> None:
    """Create service NAME from the starter kit and add it to the architecture."""
    if not SERVICE_NAME.match(name):
        raise PhasekitError(
            f"invalid service name {name!r}: use lowercase letters, digits and '-', start with a letter, "
            "end with a letter or digit, at most 63 characters (a DNS-1035 label)"
        )
    if not 1 <= port <= 65535:
        raise PhasekitError(f"invalid port {port}: must be between 1 and 65535")
    arch = model.load(arch_path)
    taken = {item[key] for group in ("services", "datastores") for item in arch[group] for key in ("name", "id")}
    if name in taken:
        raise PhasekitError(f"{arch_path}: a service or datastore named '{name}' already exists")
    repo = arch_path.parent
    dest = dest if dest is not None else repo / "services" / name
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise PhasekitError(f"{dest} already exists and is not empty; choose another --dest")

    updated = copy.deepcopy(arch)
    updated["services"].append(service_entry(name, language, kind, port, _relative(dest, repo)))
    updated = model.validate(updated, str(arch_path))

    answers = {"service_name": name, "service_language": language, "service_kind": kind, "service_port": port}
    source = render.Source.resolve(template, vcs_ref)
    with lock.held(repo, "new-service"):
        result = render.apply(updated, dest, ["service"], source, extra=answers)
        _write_atomically(arch_path, model.dump(updated, _schema_ref(arch_path)))
    click.echo(f"wrote {len(result.written)} files into {dest}")
    click.echo(
        f"added service '{name}' to {arch_path}; run `phasekit update` in the repository so the applied "
        "blueprints pick it up",
        err=True,
    )


def service_entry(name: str, language: str, kind: str, port: int, path: str) -> dict[str, Any]:
    """The architecture's view of the generated service: what it serves and where its probes are."""
    probe = {"type": "http", "port": port}
    return {
        "name": name,
        "kind": kind,
        "language": language,
        "path": path,
        "build": {"context": path if path.startswith(".") else f"./{path}"},
        "ports": [{"port": port, "protocol": "TCP", "name": "http" if kind == "http" else "metrics"}],
        "health": {
            "declared": True,
            "liveness": {**probe, "path": "/health/live"},
            "readiness": {**probe, "path": "/health/ready"},
            "startup": {**probe, "path": "/health/live", "period_seconds": 2, "failure_threshold": 15},
        },
        "env": ["PORT", "DEPENDS_ON"],
    }


def _relative(dest: Path, repo: Path) -> str:
    return Path(os.path.relpath(dest.resolve(), repo.resolve())).as_posix()


def _schema_ref(arch_path: Path) -> str:
    """Keep the schema reference the file already has (a pinned version, a local path)."""
    first = arch_path.read_text(encoding="utf-8").split("\n", 1)[0]
    match = SCHEMA_LINE.match(first)
    return match.group(1) if match else model.SCHEMA_URL


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.phasekit-partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
