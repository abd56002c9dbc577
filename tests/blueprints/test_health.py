"""The health blueprint: the checker run for real against local servers, and every rendered file compared with
the architecture and passed through its native validator (shellcheck, hadolint, docker compose, gofmt, node)."""

from __future__ import annotations

import json
import os
import py_compile
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers import EXAMPLES, REPO, load_yaml_docs, render_arch, run_tool
from phasekit import model

EXAMPLE_NAMES = [p.parent.name for p in EXAMPLES]
PROBES = ("liveness", "readiness", "startup")
WORKER_COMMAND = ["/bin/sh", "/healthcheck/healthcheck.sh"]


def _arch(example: str) -> dict:
    return model.load(REPO / "examples" / example / "architecture.yaml")


def _seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)s", value)
    assert match, f"not a duration in seconds: {value!r}"
    return int(match.group(1))


# ------------------------------------------------------------------------------ local servers


class _Handler(BaseHTTPRequestHandler):
    routes = {"/health/live": 200, "/health/ready": 503, "/redirect": 302}

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        status = self.routes.get(self.path, 404)
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/health/live")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def http_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _socket_server(hold: bool) -> Iterator[int]:
    """A raw TCP server on loopback that accepts connections and closes them, or holds them unanswered."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            if hold:
                held.append(conn)
            else:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(1)
        for conn in held:
            conn.close()
        sock.close()


def tcp_listener():
    """Accepts connections and closes them (a socket service such as the MIME server)."""
    return _socket_server(hold=False)


def hanging_server():
    """Accepts TCP connections and never answers: an HTTP check must give up by itself."""
    return _socket_server(hold=True)


def closed_port() -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# ------------------------------------------------------------------------------ the checker, for real


@pytest.fixture(scope="module")
def checker(rendered) -> Path:
    return rendered(EXAMPLE_NAMES[0], "health") / "health" / "healthcheck.py"


def run_checker(checker: Path, config: dict, tmp_path: Path, *args: str) -> tuple[int, str, float]:
    path = tmp_path / "services.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(checker), "--config", str(path), *args],
        capture_output=True, text=True, timeout=30, check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - start


def one_service(**probes: dict) -> dict:
    full = {name: probes.get(name, {"type": "none"}) for name in PROBES}
    return {"version": 1, "host": "127.0.0.1", "deadline_seconds": 4, "services": {"svc": {"probes": full}}}


def test_http_200_is_healthy_and_503_is_not(checker: Path, tmp_path: Path) -> None:
    with http_server() as port:
        config = one_service(
            liveness={"type": "http", "port": port, "path": "/health/live"},
            readiness={"type": "http", "port": port, "path": "/health/ready", "dependencies": []},
            startup={"type": "http", "port": port, "path": "/redirect"},
        )
        assert run_checker(checker, config, tmp_path, "svc", "liveness")[0] == 0
        code, out, _ = run_checker(checker, config, tmp_path, "svc", "readiness")
        assert code == 1 and "status 503" in out
        assert run_checker(checker, config, tmp_path, "svc", "startup")[0] == 0


def test_tcp_listener_closed_port_and_hanging_server(checker: Path, tmp_path: Path) -> None:
    with tcp_listener() as open_port:
        config = one_service(liveness={"type": "tcp", "port": open_port})
        assert run_checker(checker, config, tmp_path, "svc", "liveness")[0] == 0
    config = one_service(liveness={"type": "tcp", "port": closed_port()})
    code, out, _ = run_checker(checker, config, tmp_path, "svc", "liveness")
    assert code == 1 and "unhealthy" in out
    with hanging_server() as port:
        config = one_service(liveness={"type": "http", "port": port, "path": "/health/live", "timeout_seconds": 30})
        code, out, elapsed = run_checker(checker, config, tmp_path, "svc", "liveness")
    assert code == 1, out
    assert elapsed < 5, f"the check took {elapsed:.1f}s; every check must answer within 5 s"


def test_deadline_cannot_be_raised_past_five_seconds(checker: Path, tmp_path: Path) -> None:
    with hanging_server() as port:
        config = one_service(liveness={"type": "http", "port": port, "path": "/"})
        config["deadline_seconds"] = 60
        code, _, elapsed = run_checker(checker, config, tmp_path, "svc", "liveness", "--deadline", "60")
    assert code == 1 and elapsed < 6


def test_readiness_covers_dependencies_liveness_does_not(checker: Path, tmp_path: Path) -> None:
    down = {"name": "db", "host": "127.0.0.1", "port": closed_port()}
    with http_server() as port:
        config = one_service(
            liveness={"type": "http", "port": port, "path": "/health/live", "dependencies": [down]},
            readiness={"type": "http", "port": port, "path": "/health/live", "dependencies": [down]},
        )
        assert run_checker(checker, config, tmp_path, "svc", "liveness")[0] == 0
        code, out, _ = run_checker(checker, config, tmp_path, "svc", "readiness")
    assert code == 1 and f"tcp 127.0.0.1:{down['port']}" in out


def test_worker_heartbeat_contract(checker: Path, tmp_path: Path) -> None:
    beat_dir = tmp_path / "hb"
    probe = {"type": "worker", "dir": str(beat_dir), "max_age_seconds": 60}
    config = one_service(liveness=probe, readiness={**probe, "dependencies": []}, startup=probe)
    assert run_checker(checker, config, tmp_path, "svc", "startup")[0] == 1  # no heartbeat yet
    beat_dir.mkdir()
    (beat_dir / "heartbeat").write_text(f"{int(time.time())}\n")
    assert run_checker(checker, config, tmp_path, "svc", "startup")[0] == 0
    assert run_checker(checker, config, tmp_path, "svc", "liveness")[0] == 0
    assert run_checker(checker, config, tmp_path, "svc", "readiness")[0] == 1  # alive, not ready
    (beat_dir / "ready").touch()
    assert run_checker(checker, config, tmp_path, "svc", "readiness")[0] == 0
    (beat_dir / "heartbeat").write_text(f"{int(time.time()) - 600}\n")
    code, out, _ = run_checker(checker, config, tmp_path, "svc", "liveness")
    assert code == 1 and "ago" in out


def test_external_mode_uses_published_ports_and_refuses_to_check_nothing(checker: Path, tmp_path: Path) -> None:
    with http_server() as port:
        config = one_service(liveness={"type": "http", "port": 5000, "path": "/health/live"})
        config["services"]["svc"]["published"] = {"5000": port}
        code, out, _ = run_checker(checker, config, tmp_path, "--all", "--external", "127.0.0.1", "liveness")
        assert code == 0, out
    config["services"]["svc"]["published"] = {}
    code, out, _ = run_checker(checker, config, tmp_path, "--all", "--external", "127.0.0.1", "liveness")
    assert code == 1 and "no service could be checked" in out


def test_usage_errors_exit_2(checker: Path, tmp_path: Path) -> None:
    config = one_service()
    assert run_checker(checker, config, tmp_path, "nope", "liveness")[0] == 2
    assert run_checker(checker, config, tmp_path, "svc", "sideways")[0] == 2


# ------------------------------------------------------------------------------ the POSIX sh checker


@pytest.fixture(scope="module")
def sh_checker(rendered) -> Path:
    return rendered(EXAMPLE_NAMES[0], "health") / "health" / "healthcheck.sh"


def run_sh(script: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", str(script), *args], capture_output=True, text=True, timeout=30, check=False,
        env={**os.environ, **(env or {})},
    )


def test_sh_checker_is_shellcheck_clean(sh_checker: Path) -> None:
    result = run_tool(["shellcheck", "--shell=sh", "--severity=style", str(sh_checker)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_sh_checker_worker_contract(sh_checker: Path, tmp_path: Path) -> None:
    env = {"HEALTHCHECK_DIR": str(tmp_path), "HEALTHCHECK_MAX_AGE": "60"}
    assert run_sh(sh_checker, "startup", env=env).returncode == 1
    (tmp_path / "heartbeat").write_text(f"{int(time.time())}\n")
    assert run_sh(sh_checker, "startup", env=env).returncode == 0
    assert run_sh(sh_checker, "liveness", env=env).returncode == 0
    assert run_sh(sh_checker, "readiness", env=env).returncode == 1
    (tmp_path / "ready").touch()
    assert run_sh(sh_checker, "readiness", env=env).returncode == 0
    (tmp_path / "heartbeat").write_text(f"{int(time.time()) - 3600}\n")
    assert run_sh(sh_checker, "liveness", env=env).returncode == 1
    (tmp_path / "heartbeat").write_text(f"{int(time.time())}")  # no trailing newline: still read
    assert run_sh(sh_checker, "liveness", env=env).returncode == 0
    (tmp_path / "heartbeat").write_text("garbage\n")
    assert run_sh(sh_checker, "liveness", env=env).returncode == 1
    assert run_sh(sh_checker, "sideways").returncode == 2


def test_sh_checker_http_and_hang(sh_checker: Path) -> None:
    if not (shutil.which("curl") or shutil.which("wget")):
        pytest.skip("neither curl nor wget is installed")
    with http_server() as port:
        assert run_sh(sh_checker, "http", f"http://127.0.0.1:{port}/health/live").returncode == 0
        assert run_sh(sh_checker, "http", f"http://127.0.0.1:{port}/health/ready").returncode == 1
    with hanging_server() as port:
        start = time.monotonic()
        result = run_sh(sh_checker, "http", f"http://127.0.0.1:{port}/", env={"HEALTHCHECK_TIMEOUT": "9"})
        assert result.returncode == 1 and time.monotonic() - start < 6.5


# ------------------------------------------------------------------------------ generated config vs architecture


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_every_service_has_its_probes(rendered, example: str) -> None:
    arch = _arch(example)
    config = json.loads((rendered(example, "health") / "health" / "services.json").read_text(encoding="utf-8"))
    assert set(config["services"]) == {s["name"] for s in arch["services"]}
    assert 0 < config["deadline_seconds"] <= 5
    ports = {s["name"]: s["ports"][0]["port"] for s in arch["services"] if s["ports"]}
    ports |= {d["name"]: d["port"] for d in arch["datastores"] if not d["managed"] and "port" in d}
    for svc in arch["services"]:
        entry = config["services"][svc["name"]]
        assert entry["id"] == svc["id"]
        for name in PROBES:
            declared, probe = svc["health"][name], entry["probes"][name]
            if declared["type"] == "exec" and declared["command"] == [*WORKER_COMMAND, name]:
                assert probe["type"] == "worker"
            else:
                assert probe["type"] == declared["type"]
            if declared["type"] in ("http", "tcp"):
                assert probe["port"] == declared["port"]
                assert probe["timeout_seconds"] <= 4
            if declared["type"] == "http":
                assert probe["path"] == declared["path"]
            if name != "readiness":
                assert "dependencies" not in probe, "liveness and startup must never look at dependencies"
        deps = entry["probes"]["readiness"]["dependencies"]
        if svc["health"]["readiness"]["type"] == "none":
            assert deps == []  # nothing of its own to probe: no dependency check either
            continue
        assert [d["name"] for d in deps] == [d for d in svc["depends_on"] if d in ports]
        assert all(d["port"] == ports[d["name"]] for d in deps)
        assert entry["published"] == {str(p["port"]): p["published"] for p in svc["ports"] if "published" in p and p["protocol"] == "TCP"}


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_rendered_checker_answers_for_every_service(rendered, example: str) -> None:
    """Against an address nobody answers on (TEST-NET-1), every probe of every service fails within its deadline
    and says why: no crash, no hang, one line per service."""
    out = rendered(example, "health") / "health"
    config = json.loads((out / "services.json").read_text(encoding="utf-8"))
    for probe in PROBES:
        start = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(out / "healthcheck.py"), "--all", "--host", "192.0.2.1", "--deadline", "0.5", probe],
            capture_output=True, text=True, timeout=60, check=False,
        )
        lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
        assert set(lines) == {f"{name} {probe}" for name in config["services"]}, result.stdout + result.stderr
        for name, entry in config["services"].items():
            healthy = entry["probes"][probe]["type"] == "none"
            assert lines[f"{name} {probe}"].startswith("healthy" if healthy else "unhealthy"), lines
        assert time.monotonic() - start < 1 + 0.8 * len(config["services"])


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_compose_override_covers_every_service_and_datastore(rendered, example: str) -> None:
    arch = _arch(example)
    override = rendered(example, "health") / "docker-compose.healthcheck.yml"
    (doc,) = load_yaml_docs(override)
    expected = {s["name"] for s in arch["services"]} | {d["name"] for d in arch["datastores"] if not d["managed"]}
    assert set(doc["services"]) == expected
    by_name = model.services_by_name(arch)
    for name, entry in doc["services"].items():
        check = entry["healthcheck"]
        svc = by_name.get(name)
        if svc is not None and svc["health"]["readiness"]["type"] == "none":
            assert check == {"disable": True}
            continue
        assert check["test"][0] in ("CMD", "CMD-SHELL")
        assert _seconds(check["timeout"]) <= 5
        assert _seconds(check["interval"]) >= 1 and check["retries"] >= 1 and _seconds(check["start_period"]) >= 0
        if svc is None:
            continue
        ready = svc["health"]["readiness"]
        if ready["type"] == "exec":
            assert check["test"][1:] == ready["command"]
        elif svc["language"] == "python":
            assert check["test"][1:] == ["python3", "/healthcheck/healthcheck.py", name, "readiness"]
        else:
            assert check["test"][2:4] == ["/healthcheck/healthcheck.sh", ready["type"]]
            assert str(ready["port"]) in " ".join(check["test"])
        assert {"type": "bind", "source": "./health", "target": "/healthcheck", "read_only": True} in entry["volumes"]


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_compose_override_merges_with_the_teams_compose_file(rendered, example: str, tmp_path: Path) -> None:
    base_dir = REPO / "examples" / example
    override = rendered(example, "health") / "docker-compose.healthcheck.yml"
    schema = run_tool(["check-jsonschema", "--builtin-schema", "vendor.compose-spec", str(override)])
    assert schema.returncode == 0, schema.stdout + schema.stderr
    lint = run_tool(["yamllint", "-d", "relaxed", "-f", "parsable", str(override)])
    assert lint.returncode == 0 and "[error]" not in lint.stdout, lint.stdout
    base = base_dir / "docker-compose.yml"
    if not base.is_file():
        pytest.skip(f"examples/{example} has no docker-compose.yml to merge with")
    work = tmp_path / example
    shutil.copytree(base_dir, work)
    shutil.copy(override, work / override.name)
    (work / ".env").touch()
    required = set(re.findall(r"\$\{(\w+):?\?", base.read_text(encoding="utf-8")))
    env = {**os.environ, **{var: "placeholder" for var in required}}
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    argv = ["docker-compose", "-f", "docker-compose.yml", "-f", override.name, "--profile", "*", "config", "--format", "json"]
    result = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    merged = json.loads(result.stdout)
    arch = _arch(example)
    for name in [s["name"] for s in arch["services"]] + [d["name"] for d in arch["datastores"] if not d["managed"]]:
        assert "healthcheck" in merged["services"][name], name


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_dockerfile_snippets(rendered, example: str) -> None:
    arch = _arch(example)
    snippet = rendered(example, "health") / "health" / "snippets" / "Dockerfile.healthcheck"
    result = run_tool(["hadolint", "--failure-threshold", "style", str(snippet)])
    assert result.returncode == 0, result.stdout + result.stderr
    stages = re.findall(r"^FROM \S+ AS (\S+)$", snippet.read_text(encoding="utf-8"), flags=re.M)
    assert stages == [s["id"] for s in arch["services"]]
    text = snippet.read_text(encoding="utf-8")
    for svc in arch["services"]:
        section = text.split(f" AS {svc['id']}\n", 1)[1].split("\nFROM ", 1)[0]
        if svc["health"]["liveness"]["type"] == "none":
            assert "HEALTHCHECK NONE" in section
            continue
        live = svc["health"]["liveness"]
        assert "--timeout=5s" in section and "HEALTHCHECK --interval=" in section
        if live["type"] == "exec":
            assert json.dumps(live["command"]) in section
        elif svc["language"] == "python":
            assert json.dumps([svc["name"], "liveness"])[1:-1] in section
        elif live["type"] == "http":
            assert f":{live['port']}{live['path']}" in section
        else:
            assert f'"{live["port"]}"' in section


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_endpoint_snippets_for_the_languages_present(rendered, example: str, tmp_path: Path) -> None:
    arch = _arch(example)
    snippets = rendered(example, "health") / "health" / "snippets"
    ours = [s for s in arch["services"] if "build" in s]
    frameworks = {s.get("framework") for s in ours}
    languages = {s["language"] for s in ours}
    expected = {
        "flask_health.py": "flask" in frameworks,
        "fastapi_health.py": "fastapi" in frameworks,
        "heartbeat.py": any(s["kind"] == "worker" and s["language"] == "python" for s in arch["services"]),
        "go/health.go": "go" in languages,
        "node/health.js": "node" in languages,
        "nginx-health.conf": any(s["kind"] == "gateway" for s in arch["services"]),
    }
    for rel, wanted in expected.items():
        assert (snippets / rel).is_file() == wanted, rel
    for py in snippets.glob("*.py"):
        py_compile.compile(str(py), cfile=str(tmp_path / (py.name + "c")), doraise=True)
    if (snippets / "go" / "health.go").is_file():
        fmt = run_tool(["gofmt", "-l", str(snippets / "go")])
        assert fmt.returncode == 0 and fmt.stdout == "", fmt.stdout + fmt.stderr
        module = tmp_path / "gomod"
        shutil.copytree(snippets / "go", module)
        (module / "go.mod").write_text("module example.com/health\n\ngo 1.22\n", encoding="utf-8")
        env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local"}
        vet = subprocess.run(["go", "vet", "./..."], cwd=module, env=env, capture_output=True, text=True, timeout=300)
        assert vet.returncode == 0, vet.stderr
    if (snippets / "node" / "health.js").is_file():
        check = run_tool(["node", "--check", str(snippets / "node" / "health.js")])
        assert check.returncode == 0, check.stderr


def test_snippets_for_every_language_and_odd_names(tmp_path: Path) -> None:
    """Node, Go and a gateway together, with compose names that need quoting; all files still parse."""
    arch = {
        "version": 1,
        "project": {"name": "odd"},
        "services": [
            {"name": "Web.App_1", "kind": "http", "language": "node", "build": {"context": "./web"}, "ports": [{"port": 3000, "published": 3000}], "depends_on": ["cache"]},
            {"name": "jobs", "kind": "worker", "language": "go", "build": {"context": "./jobs"}},
            {"name": "edge", "kind": "gateway", "language": "other", "image": "nginx:1.27", "ports": [{"port": 8080}], "depends_on": ["Web.App_1"]},
            {"name": "nightly", "kind": "cron", "language": "shell", "build": {"context": "./nightly"}},
        ],
        "datastores": [{"name": "cache", "engine": "memcached"}, {"name": "rds", "engine": "postgres", "managed": True}],
    }
    out = render_arch(arch, tmp_path / "out", "health")
    config = json.loads((out / "health" / "services.json").read_text(encoding="utf-8"))
    assert config["services"]["Web.App_1"]["probes"]["readiness"]["dependencies"] == [{"name": "cache", "host": "cache", "port": 11211}]
    assert config["services"]["jobs"]["probes"]["liveness"]["type"] == "worker"
    (doc,) = load_yaml_docs(out / "docker-compose.healthcheck.yml")
    assert set(doc["services"]) == {"Web.App_1", "jobs", "edge", "nightly", "cache"}  # managed rds is not ours to run
    assert (out / "health" / "snippets" / "node" / "health.js").is_file()
    assert (out / "health" / "snippets" / "go" / "health.go").is_file()
    assert (out / "health" / "snippets" / "nginx-health.conf").is_file()
    assert not (out / "health" / "snippets" / "flask_health.py").exists()
    result = run_tool(["hadolint", "--failure-threshold", "style", str(out / "health" / "snippets" / "Dockerfile.healthcheck")])
    assert result.returncode == 0, result.stdout


def test_update_adds_a_new_service_and_keeps_team_edits(tmp_path: Path, template_source) -> None:
    """`phasekit update` after a service is added: its config entry and compose check appear, and an edit the
    team made to the override (a longer interval for one service) survives the 3-way merge."""
    from phasekit import render
    from phasekit import update as updating

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    arch = _arch("filetransfer")
    dest = tmp_path / "repo"
    dest.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(dest)]
    subprocess.run([*git[:-2], "init", "-q", str(dest)], check=True)
    render.apply(arch, dest, ["health"], template_source)
    override = dest / "docker-compose.healthcheck.yml"
    text = override.read_text(encoding="utf-8")
    edited = text.replace('interval: "10s"', 'interval: "15s"', 1)
    assert edited != text
    override.write_text(edited, encoding="utf-8")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "apply health"], check=True)
    arch["services"].append({**arch["services"][-1], "name": "audit_log", "id": "audit-log", "depends_on": ["db"]})
    arch = model.validate(arch, "test")
    updating.run(arch, dest, template_source)
    config = json.loads((dest / "health" / "services.json").read_text(encoding="utf-8"))
    assert config["services"]["audit_log"]["probes"]["readiness"]["dependencies"] == [{"name": "db", "host": "db", "port": 5432}]
    (doc,) = load_yaml_docs(override)
    assert "audit_log" in doc["services"]
    assert 'interval: "15s"' in override.read_text(encoding="utf-8")


FOREIGN_COMPOSE = """\
x-common: &common
  restart: always
services:
  Web.Front:
    <<: *common
    build:
      context: ./web
      dockerfile: Dockerfile.prod
    ports: ["8080:3000"]
    depends_on: [cache, queue, search]
  api_v2:
    <<: *common
    build: ./api
    expose: ["9000"]
    depends_on:
      pg: {condition: service_started}
      maria: {condition: service_started}
  mongo: {image: "mongo:7"}
  pg: {image: "postgres:16-alpine"}
  maria: {image: "mariadb:11"}
  cache: {image: "memcached:1.6"}
  queue: {image: "rabbitmq:3.13-management"}
  search: {image: "elasticsearch:8.15.0"}
  objects: {image: "minio/minio:RELEASE.2024-10-13T13-34-11Z", command: "server /data"}
  bus: {image: "nats:2.10"}
  stream: {image: "apache/kafka:3.8.0"}
"""


def foreign_system(root: Path) -> dict:
    """A compose file this project did not ship (anchors, dotted names, every datastore engine), captured."""
    from phasekit import capture

    (root / "web").mkdir(parents=True)
    (root / "api").mkdir()
    (root / "docker-compose.yml").write_text(FOREIGN_COMPOSE, encoding="utf-8")
    (root / "web" / "Dockerfile.prod").write_text('FROM node:22-alpine\nCMD ["node", "server.js"]\n', encoding="utf-8")
    (root / "web" / "package.json").write_text('{"name": "web"}\n', encoding="utf-8")
    (root / "api" / "Dockerfile").write_text("FROM golang:1.23\n", encoding="utf-8")
    (root / "api" / "go.mod").write_text("module example.com/api\n\ngo 1.23\n", encoding="utf-8")
    if shutil.which("docker-compose") is None and shutil.which("docker") is None:
        pytest.skip("capture needs docker compose")
    return capture.from_compose([root / "docker-compose.yml"], root, lambda _msg: None)


def test_foreign_compose_file_gets_a_check_for_everything(tmp_path: Path) -> None:
    root = tmp_path / "foreign"
    arch = foreign_system(root)
    assert len(arch["datastores"]) >= 9
    out = render_arch(arch, root, "health")
    (doc,) = load_yaml_docs(out / "docker-compose.healthcheck.yml")
    assert set(doc["services"]) == {s["name"] for s in arch["services"]} | {d["name"] for d in arch["datastores"]}
    tests = {name: entry["healthcheck"]["test"] for name, entry in doc["services"].items()}
    assert tests["pg"][0] == "CMD-SHELL" and "pg_isready" in tests["pg"][1]
    assert "mc" in tests["objects"] and "rabbitmq-diagnostics" in tests["queue"]
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    result = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "-f", "docker-compose.healthcheck.yml", "config", "--format", "json"],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    merged = json.loads(result.stdout)["services"]
    assert all("healthcheck" in merged[name] for name in doc["services"])
    hadolint = run_tool(["hadolint", "--failure-threshold", "style", str(out / "health" / "snippets" / "Dockerfile.healthcheck")])
    assert hadolint.returncode == 0, hadolint.stdout


def test_dollar_signs_survive_the_override_and_the_dockerfile_snippet(tmp_path: Path) -> None:
    """Compose's `$$` is a literal `$` for the container's shell: captured as `$`, written back as `$$` in the
    override (else compose would fill it from the host), and as `$` in the Dockerfile HEALTHCHECK."""
    from phasekit import capture

    root = tmp_path / "dollar"
    root.mkdir()
    (root / "docker-compose.yml").write_text(
        "services:\n"
        "  api:\n"
        "    image: example/api:1.0\n"
        "    ports: ['8080:8080']\n"
        "    healthcheck:\n"
        "      test: ['CMD-SHELL', 'wget -q -O /dev/null http://127.0.0.1:$$API_PORT/health || exit 1']\n"
    )
    arch = capture.from_compose([root / "docker-compose.yml"], root, lambda _m: None)
    wanted = "wget -q -O /dev/null http://127.0.0.1:$API_PORT/health || exit 1"
    arch = model.validate(arch, "test")
    assert arch["services"][0]["health"]["readiness"]["command"][-1] == wanted
    out = render_arch(arch, root, "health")
    snippet = (out / "health" / "snippets" / "Dockerfile.healthcheck").read_text()
    assert json.dumps(wanted) in snippet  # exec form: Docker substitutes nothing, the shell expands $API_PORT
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")

    def test_as_compose_reads_it(*files: str) -> str:
        argv = ["docker-compose", *(a for f in files for a in ("-f", f)), "config", "--format", "json"]
        result = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=120, check=False,
                                env={**os.environ, "API_PORT": "9999"})
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["services"]["api"]["healthcheck"]["test"][-1]

    # compose prints `$` re-escaped as `$$`: the override must read exactly as the team's own file does.
    own = test_as_compose_reads_it("docker-compose.yml")
    assert "9999" not in own
    assert test_as_compose_reads_it("docker-compose.yml", "docker-compose.healthcheck.yml") == own
