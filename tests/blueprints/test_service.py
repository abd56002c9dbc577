"""The `service` starter kit and `phasekit new-service`: every flavour is generated through the CLI, then
built, run and tested with its own toolchain (python end to end; node and go with their test runners)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from helpers import REPO, STARTER_FLAVOURS, run_tool
from phasekit import model
from phasekit.cli import main as phasekit

# One service per starter-kit flavour, all added to the same repository.
FLAVOURS = STARTER_FLAVOURS
BY_NAME = {f[0]: f for f in FLAVOURS}


@pytest.fixture(scope="session")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository holding the insights architecture, with one new service per flavour."""
    root = tmp_path_factory.mktemp("new-service-repo")
    shutil.copy(REPO / "examples" / "insights" / "architecture.yaml", root / "architecture.yaml")
    for name, language, kind, port in FLAVOURS:
        code = phasekit([
            "new-service", name, "--language", language, "--kind", kind, "--port", str(port),
            "--arch", str(root / "architecture.yaml"),
        ])
        assert code == 0, name
    return root


def service_dir(repo: Path, name: str) -> Path:
    return repo / "services" / name


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


# ---------------------------------------------------------------------------- the architecture


def test_new_services_are_declared_and_the_model_validates(repo: Path) -> None:
    arch = model.load(repo / "architecture.yaml")  # raises if the written model does not validate
    services = model.services_by_name(arch)
    original = model.load(REPO / "examples" / "insights" / "architecture.yaml")
    assert [s["name"] for s in arch["services"]] == [s["name"] for s in original["services"]] + [f[0] for f in FLAVOURS]
    for name, language, kind, port in FLAVOURS:
        svc = services[name]
        assert (svc["kind"], svc["language"], svc["path"]) == (kind, language, f"services/{name}")
        assert svc["build"] == {"context": f"./services/{name}"}
        assert [p["port"] for p in svc["ports"]] == [port]
        assert svc["health"]["declared"] is True
        assert {k: (svc["health"][k]["type"], svc["health"][k]["path"], svc["health"][k]["port"])
                for k in ("liveness", "readiness", "startup")} == {
            "liveness": ("http", "/health/live", port),
            "readiness": ("http", "/health/ready", port),
            "startup": ("http", "/health/live", port),
        }
        # Its own answers file, inside its own folder: each service updates on its own.
        answers = yaml.safe_load((service_dir(repo, name) / ".copier-answers.service.yml").read_text())
        assert answers["blueprint"] == "service"
        assert (answers["service_name"], answers["service_language"], answers["service_kind"]) == (name, language, kind)
        assert name in [s["name"] for s in answers["architecture"]["services"]]
    assert not list(repo.glob(".copier-answers.*.yml")), "nothing is written at the repository root"


def test_new_service_works_on_every_example(example_arch: dict, tmp_path: Path) -> None:
    arch_path = tmp_path / "architecture.yaml"
    arch_path.write_text(model.dump(example_arch))
    name = "starter-probe"
    assert phasekit(["new-service", name, "--arch", str(arch_path)]) == 0
    arch = model.load(arch_path)
    assert model.services_by_name(arch)[name]["ports"][0]["port"] == 8080
    assert len(arch["services"]) == len(example_arch["services"]) + 1
    assert (tmp_path / "services" / name / name.replace("-", "_") / "app.py").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["Bad_Name"], "invalid service name"),
        (["9lives"], "invalid service name"),
        (["a" * 64], "invalid service name"),
        (["api"], "already exists"),  # a service of insights
        (["postgres"], "already exists"),  # a datastore of insights
        (["fresh", "--port", "70000"], "invalid port 70000"),
        (["fresh", "--port", "0"], "invalid port 0"),
    ],
)
def test_bad_input_exits_1_with_one_line_and_writes_nothing(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arch_path = tmp_path / "architecture.yaml"
    shutil.copy(REPO / "examples" / "insights" / "architecture.yaml", arch_path)
    before = arch_path.read_bytes()
    capsys.readouterr()
    assert phasekit(["new-service", *argv, "--arch", str(arch_path)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert arch_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["architecture.yaml"]


def test_update_of_a_service_is_a_no_op(repo: Path, tmp_path: Path) -> None:
    """`phasekit update` on an untouched service folder changes nothing (the port comes from the model)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    work = tmp_path / "repo"
    shutil.copytree(repo, work)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    assert phasekit(["update", "--arch", str(work / "architecture.yaml"), "--dest", str(work / "services" / "mailer")]) == 0
    changed = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=True).stdout
    answers = "services/mailer/.copier-answers.service.yml"
    assert changed in ("", f" M {answers}\n"), changed
    # The answers file records the current architecture (five more services since mailer was created) and may
    # record a newer template version (the template tree changes while blueprints are being edited).
    before = yaml.safe_load(subprocess.run([*git, "show", f"HEAD:{answers}"], capture_output=True, text=True).stdout)
    after = yaml.safe_load((work / answers).read_text())
    assert after["architecture"] == model.load(work / "architecture.yaml")
    volatile = {"_commit", "architecture"}
    assert {k: v for k, v in before.items() if k not in volatile} == {k: v for k, v in after.items() if k not in volatile}


# ---------------------------------------------------------------------------- every flavour


@pytest.mark.parametrize("name", list(BY_NAME))
def test_dockerfile_is_multi_stage_non_root_with_healthcheck(repo: Path, name: str) -> None:
    dockerfile = service_dir(repo, name) / "Dockerfile"
    result = run_tool(["hadolint", "--failure-threshold", "style", str(dockerfile)])
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.strip() for line in dockerfile.read_text().splitlines()]
    assert lines[0] == "# syntax=docker/dockerfile:1"
    assert sum(line.startswith("FROM ") for line in lines) >= 2
    runtime = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")):]
    assert [line for line in runtime if line.startswith("USER ")] == ["USER 10001:10001"]
    assert any(line.startswith("HEALTHCHECK ") for line in runtime)
    port = BY_NAME[name][3]
    assert f"EXPOSE {port}" in runtime
    assert "COPY --from=build" in " ".join(runtime)


@pytest.mark.parametrize("name", list(BY_NAME))
def test_readme_documents_endpoints_and_configuration(repo: Path, name: str) -> None:
    readme = (service_dir(repo, name) / "README.md").read_text()
    for needle in ("/health/live", "/health/ready", "/metrics", "`PORT`", "`DEPENDS_ON`", "`<NAME>_URL`"):
        assert needle in readme, needle


# ---------------------------------------------------------------------------- python, end to end


def _start(folder: Path, module: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    full_env = {"PATH": os.environ["PATH"], "HOST": "127.0.0.1", "PORT": str(port), **env}
    proc = subprocess.Popen(
        [sys.executable, "-m", module], cwd=folder, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{module} exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.fail(f"{module} did not listen on {port}")


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


@pytest.mark.parametrize("name", ["orders", "mailer"])
def test_python_service_runs_answers_and_shuts_down(repo: Path, name: str) -> None:
    folder, module = service_dir(repo, name), name.replace("-", "_")
    proc, base = _start(folder, module, {"WORK_INTERVAL_SECONDS": "0.05"})
    try:
        assert http_get(f"{base}/health/live")[0] == 200
        status, body = http_get(f"{base}/health/ready")
        assert (status, json.loads(body)["status"]) == (200, "ready")
        assert http_get(f"{base}/nowhere")[0] == 404
        time.sleep(0.2)  # a worker finishes a few units of work
        status, metrics = http_get(f"{base}/metrics")
        assert status == 200
    finally:
        assert _stop(proc) == 0, "SIGTERM ends the service cleanly"
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed: the metrics text was not linted")
    check = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert re.search(r'^http_requests_total\{method="GET",path="/health/live",code="200"\} 1$', metrics, re.M)
    assert re.search(r'^http_requests_total\{method="GET",path="other",code="404"\} 1$', metrics, re.M)
    if BY_NAME[name][2] == "worker":
        processed = re.search(r"^jobs_processed_total (\d+)$", metrics, re.M)
        assert processed and int(processed.group(1)) >= 1


def test_python_readiness_follows_declared_dependencies(repo: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        up = listener.getsockname()[1]
        down = free_port()
        env = {"DEPENDS_ON": "postgres,redis", "POSTGRES_URL": f"postgres://app:pw@127.0.0.1:{up}/db",
               "REDIS_URL": f"127.0.0.1:{down}"}
        proc, base = _start(service_dir(repo, "orders"), "orders", env)
        try:
            status, body = http_get(f"{base}/health/ready")
            metrics = http_get(f"{base}/metrics")[1]
        finally:
            _stop(proc)
    assert status == 503
    assert json.loads(body)["checks"] == {"postgres": "ok", "redis": "unreachable"}
    assert "pw@" not in body
    assert 'dependency_up{dependency="postgres"} 1' in metrics
    assert 'dependency_up{dependency="redis"} 0' in metrics


@pytest.mark.parametrize("name", ["orders", "mailer"])
def test_python_service_own_tests_pass(repo: Path, name: str) -> None:
    folder = service_dir(repo, name)
    result = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-v"], cwd=folder, capture_output=True, text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    ran = re.search(r"^Ran (\d+) tests?", result.stderr, re.M)
    assert ran and int(ran.group(1)) >= 7
    shutil.rmtree(folder / "tests" / "__pycache__", ignore_errors=True)


def test_python_service_installs_as_a_package(repo: Path, tmp_path: Path) -> None:
    """pip builds and installs the generated pyproject; the installed module starts like the folder one."""
    folder = service_dir(repo, "orders")
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(folder)],
        capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0 and ("No module named 'setuptools'" in result.stderr or "bdist_wheel" in result.stderr):
        pytest.skip("setuptools>=70.1 (or wheel) is not installed: cannot build the package offline")
    assert result.returncode == 0, result.stderr
    assert (target / "orders" / "app.py").is_file()
    check = subprocess.run(
        [sys.executable, "-c", "import orders.app as a; print(a.SERVICE, a.DEFAULT_PORT)"],
        env={**os.environ, "PYTHONPATH": str(target)}, cwd=tmp_path, capture_output=True, text=True,
    )
    assert check.stdout.split() == ["orders", "9001"], check.stderr


# ---------------------------------------------------------------------------- node and go


@pytest.mark.parametrize("name", ["web-bff", "notifier"])
def test_node_service_parses_and_its_tests_pass(repo: Path, name: str) -> None:
    folder = service_dir(repo, name)
    for source in sorted((folder / "src").glob("*.js")) + sorted((folder / "test").glob("*.js")):
        result = run_tool(["node", "--check", str(source)])
        assert result.returncode == 0, result.stderr
    package = json.loads((folder / "package.json").read_text())
    assert package["name"] == name and package["scripts"]["test"] == "node --test"
    result = run_tool(["node", "--test"], cwd=folder, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = re.search(r"^# pass (\d+)$", result.stdout, re.M)
    worker = BY_NAME[name][2] == "worker"
    assert passed and int(passed.group(1)) >= (6 if worker else 5), result.stdout
    assert re.search(r"^# fail 0$", result.stdout, re.M)


@pytest.mark.slow  # go vet and go test
@pytest.mark.parametrize("name", ["catalog-api", "indexer"])
def test_go_service_vets_and_its_tests_pass(repo: Path, name: str, tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("go is not installed (Debian: apt-get install -y golang-go); the Go flavour was not compiled")
    folder = service_dir(repo, name)
    assert (folder / "go.mod").read_text().startswith(f"module {name}\n")
    env = {
        **os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local",
        "GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath"),
    }
    for argv in (["go", "vet", "./..."], ["go", "test", "-v", "-count=1", "./..."]):
        result = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
    passed = set(re.findall(r"^--- PASS: (\w+)", result.stdout, re.M))
    assert {"TestLive", "TestReadyWhenDependencyListens", "TestMetricsArePrometheusText"} <= passed, result.stdout
    assert ("TestWorkLoopCountsJobsAndStops" in passed) is (BY_NAME[name][2] == "worker")
    gofmt = subprocess.run(["gofmt", "-l", "."], cwd=folder, capture_output=True, text=True)
    assert gofmt.stdout == "", f"not gofmt-formatted: {gofmt.stdout}"


def test_dest_is_recorded_and_a_non_empty_dest_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch_path = tmp_path / "architecture.yaml"
    shutil.copy(REPO / "examples" / "insights" / "architecture.yaml", arch_path)
    dest = tmp_path / "apps" / "billing"
    assert phasekit(["new-service", "billing", "--language", "node", "--dest", str(dest), "--arch", str(arch_path)]) == 0
    svc = model.services_by_name(model.load(arch_path))["billing"]
    assert (svc["path"], svc["build"]["context"]) == ("apps/billing", "./apps/billing")
    assert (dest / "src" / "server.js").is_file() and (dest / ".copier-answers.service.yml").is_file()
    before = arch_path.read_bytes()
    capsys.readouterr()
    assert phasekit(["new-service", "invoices", "--dest", str(dest), "--arch", str(arch_path)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not empty" in err
    assert arch_path.read_bytes() == before
