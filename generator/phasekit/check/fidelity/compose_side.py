"""What compose runs, per service, read from `docker compose config` (the reference implementation), mapped
here on purpose: the check must not share the generator's capture code, or it would share its mistakes."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .._core import Context

DEFAULT_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
REQUIRED_VARIABLE = re.compile(r"required variable (\w+) is missing a value")
# Host paths a restricted pod can never mount: the workload must say so (phasekit.dev/not-portable).
HOST_SYSTEM_PATHS = ("/var/run", "/run", "/proc", "/sys", "/dev", "/etc/localtime", "/etc/timezone")
# A peer named in an environment value: the whole value (host or host:port), or the host of a URL.
BARE_HOST = re.compile(r"^([A-Za-z0-9][\w.-]*)(?::(\d+))?$")
HOST_KEY = re.compile(r"(HOST|ADDR|ADDRESS|URL|URI|DSN|ENDPOINT|SERVER|SERVERS|BROKER|BROKERS|NODES|PEERS|UPSTREAM|BACKEND"
                      r"|SEEDS|_API|SERVICE)S?$", re.I)
URL_HOST = re.compile(r"://(?:[^/@\s]*@)?([A-Za-z0-9][\w.-]*)(?::(\d+))?")
SCHEDULE_KEY = "x-phasekit-schedule"


class ComposeError(Exception):
    """compose config failed; the message is compose's last line."""


def dns_id(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@dataclass(frozen=True)
class Mount:
    target: str
    kind: str  # data | config | tmpfs | host | source (the service's own code over its built image)
    source: str = ""
    file: bool = False  # a single file: mounted from a ConfigMap it needs subPath


@dataclass(frozen=True)
class Port:
    number: int
    protocol: str  # TCP | UDP | SCTP

    def __str__(self) -> str:
        return f"{self.number}/{self.protocol.lower()}"


@dataclass
class Service:
    name: str
    image: str | None
    build: bool
    entrypoint: list[str] | None
    command: list[str] | None
    mounts: list[Mount]
    ports: list[Port]
    healthcheck: list[str] | None  # compose's test list; None when absent or disabled
    one_shot: bool  # restart: "no"
    scheduled: bool = False
    scalable: bool = False
    # As written, ${VAR} not interpolated: the chart may keep a reference where compose put a value.
    written: dict[str, list[str] | None] = field(default_factory=dict)  # entrypoint, command, healthcheck
    environment: dict[str, str] = field(default_factory=dict)  # interpolated values
    peers: dict[str, set[int]] = field(default_factory=dict)  # server name -> ports named by the client

    @property
    def id(self) -> str:
        return dns_id(self.name)

    @property
    def has_data(self) -> bool:
        return any(m.kind == "data" for m in self.mounts)


def find_files(root: Path, architecture: dict[str, Any]) -> list[Path]:
    """architecture.yaml's sources.compose, else compose's own default file names (+ its override)."""
    listed = ((architecture.get("sources") or {}).get("compose") or []) if isinstance(architecture, dict) else []
    if listed:
        return [root / f for f in listed]
    for name in DEFAULT_NAMES:
        if (root / name).is_file():
            base = root / name
            overrides = [root / f"{base.stem}.override{ext}" for ext in (".yaml", ".yml")]
            return [base, *[o for o in overrides if o.is_file()][:1]]
    return []


def config(ctx: Context, command: list[str], files: list[Path], fmt: str = "json",
           interpolate: bool = True) -> dict[str, Any]:
    """`compose config` over files, interpolated; a required variable gets a placeholder, as capture does."""
    argv = [*command, *[a for f in files for a in ("-f", str(f))], "--profile", "*", "config", "--format", fmt,
            "--no-env-resolution", *([] if interpolate else ["--no-interpolate"])]
    # The files decide, never the caller's COMPOSE_* settings.
    env = {k: v for k, v in ctx.env.items() if not k.startswith("COMPOSE_")}
    local = dataclasses.replace(ctx, env=env)
    for _ in range(50):
        proc = local.run(argv, cwd=files[0].parent, env=env)
        missing = REQUIRED_VARIABLE.search(proc.stderr) if not proc.ok else None
        if not missing or env.get(missing.group(1)):
            break
        env[missing.group(1)] = "phasekit-placeholder"
    if not proc.ok:
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and "level=warning" not in ln]
        raise ComposeError(lines[-1].strip() if lines else f"compose config exited {proc.returncode}")
    model: dict[str, Any] = json.loads(proc.stdout) if fmt == "json" else yaml.safe_load(proc.stdout)
    return model


def load(ctx: Context, command: list[str], files: list[Path], architecture: dict[str, Any]) -> list[Service]:
    data = config(ctx, command, files)
    try:
        written = config(ctx, command, files, interpolate=False).get("services") or {}
    except ComposeError:  # should compose refuse the file as written, compare interpolated values only
        written = {}
    base = files[0].parent.absolute()
    specs = data.get("services") or {}
    schedules: set[str] = set()
    if any(SCHEDULE_KEY in f.read_text(encoding="utf-8", errors="replace") for f in files):
        # compose's JSON output drops service-level x- extensions (v5.6); its YAML output keeps them
        as_yaml = config(ctx, command, files, fmt="yaml")
        schedules = {n for n, s in (as_yaml.get("services") or {}).items() if (s or {}).get(SCHEDULE_KEY)}
    model = {s.get("name"): s for key in ("services", "datastores") for s in (architecture.get(key) or [])
             if isinstance(s, dict)} if isinstance(architecture, dict) else {}
    services = []
    for name in sorted(specs):
        spec, declared, raw = specs[name] or {}, model.get(name) or {}, written.get(name) or {}
        services.append(Service(
            name=name, image=spec.get("image"), build=bool(spec.get("build")),
            entrypoint=_literal(spec.get("entrypoint")), command=_literal(spec.get("command")),
            mounts=_mounts(spec, base), ports=_ports(spec), healthcheck=_healthcheck(spec),
            one_shot=spec.get("restart") == "no",
            scheduled=name in schedules or bool(declared.get("schedule")),
            scalable=declared.get("scalable") is True,
            written={"entrypoint": _literal(_words(raw.get("entrypoint"))), "command": _literal(_words(raw.get("command"))),
                     "healthcheck": _healthcheck(raw)},
            environment={k: str(v) for k, v in (spec.get("environment") or {}).items() if v is not None},
        ))
    _peers(services, specs)
    return services


def _words(value: Any) -> list[str] | None:
    """A command as written: compose keeps the string form when it does not interpolate, and splits it as a
    shell would (without running one) when it does."""
    if isinstance(value, str):
        try:
            return shlex.split(value) or None
        except ValueError:
            return value.split() or None
    return [str(w) for w in value] if value else None


def _shown(source: str, base: Path) -> str:
    """A bind source as the compose file writes it (./x), not compose's absolute path."""
    path = Path(source)
    return f"./{path.relative_to(base).as_posix()}" if path.is_absolute() and path.is_relative_to(base) else source


def _mounts(spec: dict[str, Any], base: Path) -> list[Mount]:
    context = Path((spec.get("build") or {}).get("context") or "/nonexistent").absolute()
    out = []
    for vol in spec.get("volumes") or []:
        kind, source, target = vol.get("type"), vol.get("source") or "", vol.get("target")
        if kind == "tmpfs":
            out.append(Mount(target, "tmpfs"))
        elif kind == "volume":
            out.append(Mount(target, "data", source))
        elif kind == "bind":
            if source.startswith(HOST_SYSTEM_PATHS) or source.endswith("docker.sock"):
                out.append(Mount(target, "host", source))
            elif Path(source).is_dir() and Path(source).absolute().is_relative_to(context):
                # development: the code is mounted over the image that already carries it
                out.append(Mount(target, "source", _shown(source, base)))
            elif vol.get("read_only") or _is_file(source, target):
                out.append(Mount(target, "config", _shown(source, base), file=_is_file(source, target)))
            else:  # a writable directory (compose creates a missing source as one)
                out.append(Mount(target, "data", _shown(source, base)))
    out += [Mount(t.split(":", 1)[0], "tmpfs") for t in spec.get("tmpfs") or []]
    return out


def _is_file(source: str, target: str) -> bool:
    """A bind of a file; a source absent here (a checkout without it) is judged by the target's name."""
    path = Path(source)
    return path.is_file() if path.exists() else bool(Path(target).suffix)


def _ports(spec: dict[str, Any]) -> list[Port]:
    found = [Port(int(p["target"]), str(p.get("protocol") or "tcp").upper()) for p in spec.get("ports") or []]
    for entry in spec.get("expose") or []:
        numbers, _, proto = str(entry).partition("/")
        low, _, high = numbers.partition("-")
        found += [Port(n, (proto or "tcp").upper()) for n in range(int(low), int(high or low) + 1)]
    return list(dict.fromkeys(found))


def _literal(words: Any) -> list[str] | None:
    """`compose config` keeps `$$` (compose's escape for a literal `$`); the container receives one `$`."""
    return [str(w).replace("$$", "$") for w in words] if words else None


def _healthcheck(spec: dict[str, Any]) -> list[str] | None:
    hc = spec.get("healthcheck") or {}
    test = hc.get("test")
    if hc.get("disable") or not test or test == ["NONE"]:
        return None
    return _literal([test] if isinstance(test, str) else list(test))


def _peers(services: list[Service], specs: dict[str, Any]) -> None:
    """Edges: depends_on, links, and environment values whose host is a service (or one of its aliases)."""
    names = {}
    for name, spec in specs.items():
        names[name] = name
        for alias in [spec.get("hostname"), spec.get("container_name"),
                      *[a for net in (spec.get("networks") or {}).values() for a in ((net or {}).get("aliases") or [])]]:
            if alias:
                names.setdefault(alias, name)
    for svc in services:
        spec = specs[svc.name] or {}
        for server in [*(spec.get("depends_on") or {}), *[ln.split(":")[0] for ln in spec.get("links") or []]]:
            svc.peers.setdefault(server, set())
        for key, value in (spec.get("environment") or {}).items():
            for piece in re.split(r"[\s,;]+", str(value or "")):
                # A bare word is a host only where the key names one (DB_HOST=db) or it carries a port
                # (db:5432): POSTGRES_DB=zulip names a database, not the service zulip.
                bare = BARE_HOST.findall(piece) if HOST_KEY.search(key) or re.fullmatch(r"[\w.-]+:\d+", piece) else []
                for host, port in [*bare, *URL_HOST.findall(piece)]:
                    if host in names:
                        svc.peers.setdefault(names[host], set()).update({int(port)} if port else set())
        svc.peers.pop(svc.name, None)
