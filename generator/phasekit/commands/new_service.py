"""`phasekit new-service`: start a service from the `service` blueprint and declare it in architecture.yaml.

The service gets its own folder and its own answers file (`.copier-answers.service.yml` inside that folder),
so each service updates on its own. The architecture is written only after the render succeeded, and only
with a model that validates: a refused or failed run leaves nothing behind.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
from pathlib import Path
from typing import Any

import click
import yaml

from .. import lock, model, render
from ..errors import ModelError, PhasekitError
from ._options import arch_option, template_option, vcs_ref_option

LANGUAGES = ("python", "go", "node")
KINDS = ("http", "worker")
# DNS-1035 (what a Kubernetes Service name must be): DNS-1123 that starts with a letter. A leading digit
# would also give a Python module that cannot be imported. The one definition is model.DNS_1035_LABEL.
SERVICE_NAME = model.DNS_1035_LABEL
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
    """Create service NAME from the starter kit and add it to the architecture.

    \b
    Example:
      phasekit new-service orders --language go --port 8081
    """
    if not SERVICE_NAME.fullmatch(name):
        raise PhasekitError(
            f"invalid service name {name!r}: use lowercase letters, digits and '-', start with a letter, "
            "end with a letter or digit, at most 63 characters (a DNS-1035 label)"
        )
    if not 1 <= port <= 65535:
        raise PhasekitError(f"invalid port {port}: must be between 1 and 65535")
    arch = model.load(arch_path)
    repo = arch_path.parent
    dest = dest if dest is not None else repo / "services" / name
    entry = service_entry(name, language, kind, port, _relative(dest, repo))
    declared = _declared(arch, name, entry)
    taken = {item[key] for group in ("services", "datastores") for item in arch[group] for key in ("name", "id")}
    if name in taken and not declared:
        raise PhasekitError(f"{arch_path}: a service or datastore named '{name}' already exists")
    if declared:  # a run that was killed after it wrote the architecture: finish the folder
        updated = arch
    else:
        updated = copy.deepcopy(arch)
        updated["services"].append(copy.deepcopy(entry))
        updated = model.validate(updated, str(arch_path))

    answers = {"service_name": name, "service_language": language, "service_kind": kind, "service_port": port}
    source = render.Source.resolve(template, vcs_ref)
    with lock.held(repo, "new-service"):
        if dest.exists() and (not dest.is_dir() or (any(dest.iterdir()) and not _started_here(
                dest, updated, source, answers))):
            raise PhasekitError(f"{dest} already exists and is not empty; choose another --dest")
        result = render.apply(updated, dest, ["service"], source, extra=answers)
        if not declared:
            _write_atomically(arch_path, _with_service(arch_path.read_text(encoding="utf-8"), entry, updated, arch_path))
    click.echo(f"wrote {len(result.written)} files into {dest}")
    click.echo(f"added service '{name}' to {arch_path}; {next_step(name, arch_path, dest)}", err=True)


def next_step(name: str, arch_path: Path, dest: Path) -> str:
    """The exact commands that make the applied blueprints pick the new service up. `phasekit update` merges
    through git and refuses uncommitted changes, so the commit comes first."""
    repo = arch_path.parent if str(arch_path.parent) else Path(".")
    applied = sorted(p.name for p in repo.glob(".copier-answers.*.yml") if p.name != ".copier-answers.service.yml")
    paths = " ".join(shlex.quote(_here(p)) for p in (arch_path, dest))
    commit = f'git add {paths} && git commit -m "Add service {name}"'
    if not applied:
        return f"commit it, then apply the blueprints:\n  {commit} && phasekit apply --phase 1"
    update = "phasekit update" + ("" if _here(repo) == "." else f" --arch {shlex.quote(_here(arch_path))} "
                                                                 f"--dest {shlex.quote(_here(repo))}")
    return (f"the {len(applied)} applied blueprint(s) pick it up after a commit (update merges through git):"
            f"\n  {commit} && {update}")


def _here(path: Path) -> str:
    return Path(os.path.relpath(path.resolve(), Path.cwd())).as_posix()


def _declared(arch: dict[str, Any], name: str, entry: dict[str, Any]) -> bool:
    """The architecture already holds exactly the entry this command adds (an earlier run of it)."""
    existing = next((s for s in arch["services"] if s["name"] == name), None)
    normal = model.normalise({"project": {"name": "x"}, "services": [copy.deepcopy(entry)]})["services"][0]
    return bool(existing == normal)


def _started_here(dest: Path, arch: dict[str, Any], source: render.Source, answers: dict[str, Any]) -> bool:
    """dest holds nothing but (part of) what this very command writes: an earlier run that was killed."""
    planned = render.apply(arch, dest, ["service"], source, extra=answers, dry_run=True, force=True)
    mine = {p.relative_to(dest) for p in dest.rglob("*") if (p.is_file() or p.is_symlink())
            and not p.name.endswith((".phasekit-partial", ".phasekit-backup"))}  # left by a killed write
    return mine <= set(planned.written) | set(planned.unchanged)


def _with_service(text: str, entry: dict[str, Any], expected: dict[str, Any], arch_path: Path) -> str:
    """architecture.yaml with the entry appended to `services`; every other line as it was (comments,
    order, quoting, layout). The result must load as `expected`, else the whole model is written."""
    for edit in (_spliced, _round_trip):
        try:
            candidate = edit(text, entry)
        except Exception:  # noqa: BLE001 - an unusual layout: try the next way, finally the plain dump
            continue
        if candidate is not None:
            try:
                if model.parse(candidate, str(arch_path)) == expected:
                    return candidate
            except ModelError:
                continue
    return model.dump(expected, _schema_ref(arch_path))


def _spliced(text: str, entry: dict[str, Any]) -> str | None:
    """The entry's lines inserted after the last item of a block-style `services` list, indented like
    its first item. None for a flow-style or empty list."""
    from ruamel.yaml import YAML

    data = YAML().load(text)
    services = data.get("services")
    if not services or services.fa.flow_style():
        return None
    lines = text.splitlines(keepends=True)
    first = lines[services.lc.item(0)[0]]
    if not first.lstrip().startswith("- "):
        return None
    indent = " " * (len(first) - len(first.lstrip()))
    keys = list(data)
    after = keys[keys.index("services") + 1] if keys.index("services") + 1 < len(keys) else None
    end = data.lc.key(after)[0] if after is not None else len(lines)
    while end > 0 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")) and (
            not lines[end - 1].strip() or not lines[end - 1].startswith(indent + " ")):
        end -= 1  # blank lines and comments that introduce the next key stay with it
    body = yaml.safe_dump([model.ordered_service(entry)], sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
    added = "".join(indent + line if line.strip() else line for line in body.splitlines(keepends=True))
    if end > 0 and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    return "".join(lines[:end]) + added + "".join(lines[end:])


def _round_trip(text: str, entry: dict[str, Any]) -> str:
    """The file loaded and written back by a round-trip YAML editor, with the entry appended."""
    from io import StringIO

    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    editor = YAML()
    editor.preserve_quotes = True
    editor.width = 4096  # never re-wrap the user's long lines
    data = editor.load(text)
    services = data.get("services")
    if not isinstance(services, CommentedSeq):
        services = data["services"] = CommentedSeq()
    if not services:
        services.fa.set_block_style()
    services.append(model.ordered_service(entry))
    out = StringIO()
    editor.dump(data, out)
    return out.getvalue()


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
