"""Capture the current architecture: compose import, repo detection and interactive prompts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import model
from . import compose, detect


def from_compose(files: list[Path], repo: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    """Compose files -> validated, normalised architecture; tells the user once about renamed services."""
    raw = compose.to_model(files, repo, warn)
    arch = model.validate(raw, str(files[0]))
    renamed = [item for item in [*arch["services"], *arch["datastores"]] if item["id"] != item["name"]]
    if len(renamed) > 5:  # one line, not one per service, for a large system
        examples = ", ".join(f"'{item['name']}' is '{item['id']}'" for item in renamed[:3])
        warn(f"{len(renamed)} names are changed for Kubernetes, Helm and Terraform (DNS-1123), e.g. {examples}")
    else:
        for item in renamed:
            warn(f"'{item['name']}' is named '{item['id']}' in Kubernetes, Helm and Terraform (DNS-1123)")
    return arch


COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
SKIP_DIRS = {".git", "node_modules", "vendor", ".venv", "venv", "__pycache__", "dist", "build", ".terraform"}


def find_compose(repo: Path) -> Path | None:
    return next((repo / n for n in COMPOSE_NAMES if (repo / n).is_file()), None)


def from_repo(repo: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    """Detection without a compose file given: the repo's own compose file, else one service per Dockerfile."""
    if not repo.is_dir():
        from ..errors import PhasekitError

        raise PhasekitError(f"--repo {repo} is not a folder")
    found = find_compose(repo)
    if found:
        warn(f"using {found} (give --from-compose to choose another file)")
        return from_compose([found], repo, warn)
    services: list[dict[str, Any]] = []
    for dockerfile in sorted(_dockerfiles(repo)):
        folder = dockerfile.parent
        name = folder.name if folder != repo else repo.resolve().name
        if not name or any(model.dns_id(s["name"]) == model.dns_id(name) for s in services):
            continue
        info = detect.detect(folder, dockerfile.name)
        ports: list[dict[str, Any]] = [{"target": p} for p in info.exposed]
        svc: dict[str, Any] = {
            "name": name,
            "kind": compose._kind({}, None, info, ports),
            "language": info.language or "unknown",
            "build": {"context": "./" + folder.relative_to(repo).as_posix() if folder != repo else "."},
            "path": folder.relative_to(repo).as_posix() if folder != repo else ".",
            "ports": [{"port": p} for p in info.exposed],
        }
        if info.framework:
            svc["framework"] = info.framework
        services.append(svc)
    name = repo.resolve().name or "system"
    return {"version": 1, "project": {"name": name}, "services": services, "datastores": [], "facts": []}


def _dockerfiles(repo: Path, depth: int = 3) -> list[Path]:
    out: list[Path] = []

    def walk(folder: Path, level: int) -> None:
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            return
        for entry in entries:
            if entry.is_file() and entry.name == "Dockerfile":
                out.append(entry)
            elif entry.is_dir() and entry.name not in SKIP_DIRS and level < depth:
                walk(entry, level + 1)

    walk(repo, 0)
    return out
