"""Compose files (by name, or by their top-level keys): `docker compose config` (or `docker-compose config`).

As `docker compose` does by default, compose.yaml (or docker-compose.yml, ...) is checked together with the
compose.override.yaml (docker-compose.override.yml, ...) beside it, and the override merged onto it; any
other override file whose services lack image/build is checked merged onto the base file in its folder.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import yaml

from .._core import Artifact, Context, Result, Validator
from .._inventory import Inventory, _Loader

_NAME = re.compile(r"^(docker-)?compose([.-][\w.-]+)?\.ya?ml$|\.compose\.ya?ml$")
_TOP = {"version", "name", "services", "networks", "volumes", "configs", "secrets", "include", "models"}
STUB_IMAGE = "phasekit-check/stub:0"
_probe_lock = threading.Lock()
_probed: dict[str, list[str] | None] = {}


def is_compose(path: Path, doc: dict[Any, Any] | None) -> bool:
    if doc is None or "apiVersion" in doc:
        return False
    services = doc.get("services")
    if not isinstance(services, dict) or not all(isinstance(s, dict) for s in services.values()):
        return False
    if _NAME.search(path.name):
        return True
    return all(isinstance(k, str) and (k in _TOP or k.startswith("x-")) for k in doc)


DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


def default_override(path: Path) -> Path | None:
    """The override file compose merges onto this default-named file when both are present."""
    if path.name not in DEFAULT_FILES:
        return None
    stem, suffix = path.name.rsplit(".", 1)
    for ext in (suffix, "yaml" if suffix == "yml" else "yml"):
        candidate = path.with_name(f"{stem}.override.{ext}")
        if candidate.is_file():
            return candidate
    return None


def _complete(doc: dict[Any, Any]) -> bool:
    return all("image" in s or "build" in s for s in doc.get("services", {}).values())


class Compose(Validator):
    name = "compose-config"
    description = "docker compose config --quiet (the Compose reference implementation)"

    def command(self, ctx: Context) -> list[str] | None:
        path = ctx.env.get("PATH", "")
        with _probe_lock:
            if path not in _probed:
                cmd: list[str] | None = None
                if ctx.which("docker"):
                    try:
                        if ctx.run(["docker", "compose", "version"], timeout=30).ok:
                            cmd = ["docker", "compose"]
                    except Exception:  # noqa: BLE001 - a broken docker CLI is just "not available"
                        cmd = None
                if cmd is None and ctx.which("docker-compose"):
                    cmd = ["docker-compose"]
                _probed[path] = cmd
            return _probed[path]

    def missing(self, ctx: Context) -> list[str]:
        return [] if self.command(ctx) else ["docker compose (or docker-compose)"]

    def discover(self, inventory: Inventory) -> list[Artifact]:
        found: dict[Path, dict[Any, Any]] = {}
        for path in inventory.yaml_files:
            if inventory.in_chart(path):
                continue
            doc = inventory.first_mapping(path)
            if doc is not None and is_compose(path, doc):
                found[path] = doc
        out = []
        overrides = {o: path for path in found if (o := default_override(path)) is not None}
        for path, doc in found.items():
            base, stub = "", ()
            if path in overrides:  # as compose does: the default file's override merged onto it
                out.append(inventory.artifact(path, base=overrides[path].name))
                continue
            if (override := default_override(path)) is not None:
                out.append(inventory.artifact(path, override=override.name))
                continue
            if not _complete(doc):
                names = set(doc["services"])
                for other, odoc in found.items():
                    if other != path and other.parent == path.parent and _complete(odoc) and names <= set(odoc["services"]):
                        base = other.name
                        break
                else:  # an override of the team's own compose file, which is not here
                    stub = tuple(sorted(n for n, s in doc["services"].items() if "image" not in s and "build" not in s))
            out.append(inventory.artifact(path, base=base, stub=stub))
        return out

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        cmd = self.command(ctx) or ["docker-compose"]
        files = ([artifact.get("base")] if artifact.get("base") else []) + [artifact.path.name]
        note = f"merged onto {artifact.get('base')}" if artifact.get("base") else ""
        base_override = default_override(artifact.path.parent / artifact.get("base")) if artifact.get("base") else None
        if base_override is not None:  # the team's file is always run with its compose.override.yaml
            files.insert(1, base_override.name)
            note = f"merged onto {artifact.get('base')} and {base_override.name}"
        if artifact.get("override"):
            files.append(artifact.get("override"))
            note = f"with {artifact.get('override')} merged onto it, as docker compose does"
        if artifact.get("stub"):
            stub = ctx.tempdir("compose-") / "base.yaml"
            stub.write_text(json.dumps({"services": {n: {"image": STUB_IMAGE} for n in artifact.get("stub")}}),
                            encoding="utf-8")
            files.insert(0, str(stub))
            note = f"override file: merged onto a stub base ({STUB_IMAGE} for {', '.join(artifact.get('stub'))})"
        missing = _missing_env_files(artifact.path.parent, files)
        if missing:
            # A team's .env is usually git-ignored, so absent from a checkout: check the rest of the file
            # with those env files optional (an overlay, as `docker compose -f` merges it), and say so.
            overlay = ctx.tempdir("compose-") / "env-files.yaml"
            overlay.write_text(_optional_env_files(artifact.path.parent, missing), encoding="utf-8")
            files.append(str(overlay))
            absent = sorted({e for entries in missing.values() for e, present in entries if not present})
            note = "; ".join(filter(None, [note, f"env_file {', '.join(absent)} not found: checked as optional "
                                                  "(create it before `docker compose up`)"]))
        argv = [*cmd, "--project-directory", ".", *[a for f in files for a in ("-f", f)], "config", "--quiet"]
        placeholders: dict[str, str] = {}
        for _ in range(50):  # `${VAR:?}` needs a value at run time, not in a file: give it one to check the rest
            proc = ctx.run(argv, cwd=artifact.path.parent, env=placeholders)
            required = REQUIRED_VARIABLE.search(proc.output) if proc.returncode else None
            if not required or required.group(1) in placeholders:
                break
            placeholders[required.group(1)] = "phasekit-placeholder"
        if placeholders:
            note = "; ".join(filter(None, [note, f"required variable(s) {', '.join(sorted(placeholders))} unset: "
                                                  "checked with a placeholder (set them before `docker compose up`)"]))
        return self.from_proc(artifact, proc, note)


REQUIRED_VARIABLE = re.compile(r"required variable (\w+) is missing a value")


def _env_entries(service: Any) -> list[tuple[str, bool]]:
    """(path, required) of a service's env_file, in any of its spellings."""
    value = service.get("env_file") if isinstance(service, dict) else None
    items = [value] if isinstance(value, (str, dict)) else value if isinstance(value, list) else []
    out = []
    for item in items:
        if isinstance(item, str):
            out.append((item, True))
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            out.append((item["path"], item.get("required", True) is not False))
    return out


def _missing_env_files(folder: Path, files: list[str]) -> dict[str, list[tuple[str, bool]]]:
    """service -> [(env file, exists)] for the services of these compose files with a required env file
    that is not there. Paths holding `$` are left to compose (they are interpolated)."""
    entries: dict[str, list[tuple[str, bool]]] = {}
    for name in files:
        try:
            doc = yaml.load((folder / name).read_text(encoding="utf-8"), Loader=_Loader)
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            return {}  # compose will say what is wrong with the file itself
        for service, body in ((doc or {}).get("services") or {}).items() if isinstance(doc, dict) else ():
            merged = entries.setdefault(str(service), [])  # `-f` files append to a service's env_file
            merged += [entry for entry in _env_entries(body) if entry not in merged]
    missing = {}
    for service, found in entries.items():
        if any(req and "$" not in p and not (folder / p).exists() for p, req in found):
            missing[service] = [(p, (folder / p).exists() or "$" in p) for p, _ in found]
    return missing


def _optional_env_files(folder: Path, missing: dict[str, list[tuple[str, bool]]]) -> str:
    """A compose overlay replacing each such service's env_file list with the same files, absent ones optional."""
    lines = ["services:"]
    for service, entries in sorted(missing.items()):
        lines += [f"  {json.dumps(service)}:", "    env_file: !override"]
        for path, present in entries:
            lines += [f"      - path: {json.dumps(str(folder / path))}", f"        required: {'true' if present else 'false'}"]
    return "\n".join(lines) + "\n"
