"""What a container needs to run as compose runs it: command, entrypoint, user, volumes, restart.

Read from the canonical compose JSON (`docker compose config`). Volumes are classified once here, by what
the mount holds, because every deployment target maps the classes differently:
  data   a named/anonymous volume or a writable folder      -> PersistentVolumeClaim, docker volume
  config a file, or a read-only folder of the repo          -> ConfigMap (Secret when it holds credentials)
  tmpfs  scratch space                                      -> emptyDir (medium Memory), tmpfs
  host   the Docker socket, /proc, /sys, device files, ...  -> not portable: noted, never silently dropped
  source the service's own code over its image (development) -> not mounted: the built image carries it
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

# Host paths a container reads from the machine itself; nothing in a cluster or a cloud provides them.
HOST_PATHS = ("/var/run", "/run", "/proc", "/sys", "/dev", "/etc/localtime", "/etc/timezone", "/etc/hosts",
              "/lib/modules", "/var/lib/docker", "/var/log", "/etc/ssl/certs", "/usr/share/zoneinfo", "/")
# A folder becomes a ConfigMap only while it is small: a ConfigMap holds at most 1 MiB.
CONFIG_DIR_MAX_FILES = 32
CONFIG_DIR_MAX_BYTES = 512 * 1024
# Credentials written into a config file: such a file is mounted from a Secret, never copied into the chart.
SECRET_CONTENT = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|(passw(or)?d|secret|token|api_?key|private_?key)['\"]?\s*(=|:|=>)\s*['\"][^'\"\s$]{4,}['\"]"
    r"|\$wg(DBpassword|SecretKey|UpgradeKey)\s*=\s*['\"][^'\"$]+['\"])",
    re.I,
)
ONE_SHOT_WORDS = re.compile(r"(migrat|seed|setup|init|bootstrap|create[-_]?bucket|provision)", re.I)


def argv(value: Any) -> list[str] | None:
    """compose's normalised command/entrypoint (a list; a string when given as one) as an argument list."""
    if value is None:
        return None
    if isinstance(value, str):  # compose splits a string as a shell would, and runs it without a shell
        try:
            return shlex.split(value)
        except ValueError:
            return value.split()
    return [str(word) for word in value]


def restart(spec: dict[str, Any]) -> str | None:
    policy = spec.get("restart") or (spec.get("deploy") or {}).get("restart_policy", {}).get("condition")
    if policy in ("none",):
        return "no"
    return str(policy).split(":", 1)[0] if policy else None


def one_shot(name: str, spec: dict[str, Any], services: dict[str, Any]) -> bool:
    """Runs to completion: another service waits for it to complete, or it is told never to restart (or to
    restart only on failure) while serving nothing and looking like a seed/migration step."""
    for other in services.values():
        condition = ((other.get("depends_on") or {}).get(name) or {}).get("condition")
        if condition == "service_completed_successfully":
            return True
    policy = restart(spec)
    if spec.get("ports") or spec.get("expose"):
        return False
    words = " ".join([name, *(argv(spec.get("command")) or []), *(argv(spec.get("entrypoint")) or [])])
    return policy == "no" and "restart" in spec or policy in ("no", "on-failure") and bool(ONE_SHOT_WORDS.search(words))


def volumes(spec: dict[str, Any], base: Path, repo: Path, context: Path | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for mount in spec.get("volumes") or []:
        target = mount.get("target")
        if not target or target in seen:
            continue
        seen.add(target)
        out.append(_classify(mount, base, repo, context))
    for entry in spec.get("tmpfs") or []:
        target = str(entry).split(":", 1)[0]
        if target and target not in seen:
            seen.add(target)
            out.append({"target": target, "type": "tmpfs"})
    return out


def _classify(mount: dict[str, Any], base: Path, repo: Path, context: Path | None = None) -> dict[str, Any]:
    target, kind = mount["target"], mount.get("type")
    read_only = bool(mount.get("read_only"))
    volume: dict[str, Any] = {"target": target}
    if kind == "tmpfs":
        return {**volume, "type": "tmpfs"}
    if kind in ("volume", None) or not mount.get("source"):
        volume["type"] = "data"
        if mount.get("source"):
            volume["source"] = str(mount["source"])
        if read_only:
            volume["read_only"] = True
        return volume
    source = Path(str(mount["source"]))
    source = source if source.is_absolute() else base / source
    if _is_host_path(source, repo):
        return {**volume, "type": "host", "source": str(mount["source"]), **({"read_only": True} if read_only else {})}
    relative = repo_relative(source, repo)
    if context is not None and source.is_dir() and repo_relative(source, context) is not None:
        # The service's own code mounted over the image for development: the built image already carries it.
        return {**volume, "type": "source", "source": relative or str(source)}
    # Read-only and absent: compose would mount an empty folder, but the file was meant (a config not committed).
    missing_config = read_only and not source.exists()
    if source.is_file() or missing_config or (source.is_dir() and read_only and _small_folder(source)):
        volume.update(type="config", source=relative or str(source))
        if source.is_dir():
            volume["directory"] = True
        if read_only:
            volume["read_only"] = True
        if missing_config or _holds_credentials(source):  # not in the repo: nothing to copy, likely private
            volume["secret"] = True
        return volume
    volume.update(type="data", source=relative or str(source))
    if read_only:
        volume["read_only"] = True
    return volume


def _is_host_path(source: Path, repo: Path) -> bool:
    if repo_relative(source, repo) is not None:
        return False
    text = source.as_posix()
    return any(text == p or text.startswith(p.rstrip("/") + "/") for p in HOST_PATHS if p != "/") or text == "/"


def repo_relative(path: Path, repo: Path) -> str | None:
    """path relative to repo (POSIX, "." for repo itself), or None when it is outside."""
    try:
        rel = path.resolve().relative_to(repo.resolve())
    except (ValueError, OSError):
        return None
    return rel.as_posix()


def _small_folder(folder: Path) -> bool:
    files = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
    return 0 < len(files) <= CONFIG_DIR_MAX_FILES and sum(p.stat().st_size for p in files) <= CONFIG_DIR_MAX_BYTES


def _holds_credentials(source: Path) -> bool:
    files = [source] if source.is_file() else [p for p in source.iterdir() if p.is_file()] if source.is_dir() else []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")[:CONFIG_DIR_MAX_BYTES]
        except OSError:
            continue
        if SECRET_CONTENT.search(text):
            return True
    return False
