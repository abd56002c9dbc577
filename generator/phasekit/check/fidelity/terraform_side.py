"""Contract rules 2-5 for the docker-provider Terraform: terraform.tfvars `services` (and `datastores`)
entries keep each compose service's image, command, entrypoint, volumes and ports."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .chart_rules import same_image
from .compose_side import Service

NEW_FIELDS = ("command", "entrypoint", "volumes")


def _plain(value: Any) -> Any:
    """python-hcl2 (8.x) keeps the quotes of HCL strings: '"nginx:1.27"' -> 'nginx:1.27'."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value[1:-1]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items() if k != "__comments__"}
    return value


def load(path: Path) -> dict[str, Any]:
    """python-hcl2 in this Python (the `validate` extra), else its hcl2tojson command (the validators' venv)."""
    try:
        import hcl2  # imported here so `phasekit check` starts without it
    except ImportError:
        tool = shutil.which("hcl2tojson")
        if tool is None:
            raise
        out = subprocess.run([tool, str(path)], capture_output=True, text=True, check=False, timeout=120)
        if out.returncode != 0:
            raise ValueError(f"hcl2tojson: {(out.stderr or out.stdout).strip().splitlines()[-1:]}") from None
        tfvars: dict[str, Any] = _plain(json.loads(out.stdout))
        return tfvars
    with path.open(encoding="utf-8") as fh:
        tfvars = _plain(hcl2.load(fh))
    return tfvars


def entries(tfvars: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """id -> entry of services and datastores; a datastore's data_path is its data volume."""
    out = {k: v for k, v in (tfvars.get("services") or {}).items() if isinstance(v, dict)}
    for key, store in (tfvars.get("datastores") or {}).items():
        if isinstance(store, dict) and key not in out:
            ports = store.get("ports") or ([{"port": store["port"]}] if store.get("port") else [])
            entry = {**store, "ports": ports}
            if store.get("data_path") and store.get("persistent") and "volumes" not in store:
                entry["volumes"] = [{"target": store["data_path"], "kind": "data"}]
            out[key] = entry
    return out


def _unescape(word: Any) -> Any:
    """HCL escapes a literal ${ as $${ (and %{ as %%{); the file means the text compose wrote."""
    return word.replace("$${", "${").replace("%%{", "%{") if isinstance(word, str) else word


def losses(svc: Service, entry: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(losses, fields the entry does not carry yet)."""
    if entry is None:
        return [f"{svc.name}: no entry {svc.id} in services or datastores"], []
    out: list[str] = []
    absent = [f for f in NEW_FIELDS if f not in entry]
    built = entry.get("build") is True or svc.build
    if not built and svc.image and not same_image(svc.image, entry.get("image")):
        out.append(f"{svc.name}: image {svc.image} became {entry.get('image')}")
    for key, value in (("entrypoint", svc.entrypoint), ("command", svc.command)):
        written = svc.written.get(key)  # as the file says it: Terraform expands ${VAR} itself, as compose does
        got = [_unescape(w) for w in entry[key]] if key in entry and entry[key] else None
        if key in entry and got != value and not (written and got == written):
            out.append(f"{svc.name}: {key} {value or '(none)'} became {entry[key] or '(none)'}")
    if "volumes" in entry:
        kinds = {v.get("target"): v.get("kind") for v in entry["volumes"] or [] if isinstance(v, dict)}
        for m in svc.mounts:
            if m.kind not in ("host", "source") and kinds.get(m.target) != m.kind:
                state = f"is {kinds[m.target]}" if m.target in kinds else "is missing"
                out.append(f"{svc.name}: {m.kind} volume {m.target} {state}")
    ports = {(int(p["port"]), str(p.get("protocol") or "TCP").upper()) for p in entry.get("ports") or [] if "port" in p}
    for p in svc.ports:
        if (p.number, p.protocol) not in ports:
            out.append(f"{svc.name}: port {p} is missing")
    return out, absent
