"""Compose import: every compose feature the model must understand, and every bad input as one line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from phasekit import capture, model
from phasekit.errors import ModelError

FULL = """
name: shop
x-common: &common
  restart: unless-stopped
  environment: &env
    LOG_LEVEL: ${LOG_LEVEL:-debug}
services:
  web_front:
    <<: *common
    image: nginx:1.27.2
    ports:
      - "8080:80"
      - target: 443
        published: 8443
        host_ip: 127.0.0.1
        protocol: tcp
      - "127.0.0.1:5353:53/udp"
    depends_on: [api.v1]
    networks:
      edge:
        ipv4_address: 10.1.0.5
      core: {}
  api.v1:
    <<: *common
    build:
      context: ./api
      dockerfile: Dockerfile.prod
      target: runtime
    expose: ["8000"]
    environment:
      <<: *env
      DB_PASSWORD: hunter2
      SESSION_SECRET: ${SESSION_SECRET}
      CACHE_URL: redis://:pw@cache:6379/0
    env_file: [missing.env]
    secrets: [api_key]
    healthcheck:
      test: ["CMD", "curl", "-fsS", "http://localhost:8000/healthz"]
      interval: 15s
      timeout: 3s
      retries: 4
      start_period: 30s
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started}
    deploy:
      replicas: 3
      resources:
        limits: {cpus: "0.5", memory: 256M}
        reservations: {cpus: "0.25", memory: 128M}
    networks: [core]
  jobs:
    build: ./jobs
    healthcheck:
      test: pgrep -f jobs || exit 1
    profiles: [batch]
    volumes:
      - scratch:/var/scratch
    networks: [core]
  db:
    image: postgres:16
    volumes: [pgdata:/var/lib/postgresql/data]
    ports: ["5432:5432"]
    networks:
      core:
        ipv4_address: 10.2.0.9
  cache:
    image: redis
    networks: [core]
networks:
  edge:
    ipam:
      config: [{subnet: 10.1.0.0/24}]
  core:
    internal: true
    ipam:
      config: [{subnet: 10.2.0.0/24}]
volumes:
  pgdata:
  scratch:
secrets:
  api_key:
    file: ./api_key.txt
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    repo = tmp_path_factory.mktemp("shop")
    (repo / "compose.yaml").write_text(FULL)
    (repo / "api").mkdir()
    (repo / "api" / "Dockerfile.prod").write_text("FROM python:3.12-slim AS runtime\nEXPOSE 8000\nUSER 10001\n")
    (repo / "api" / "pyproject.toml").write_text('[project]\nname="api"\ndependencies=["fastapi>=0.1", "uvicorn"]\n')
    (repo / "jobs").mkdir()
    (repo / "jobs" / "Dockerfile").write_text("FROM golang:1.23\n")
    (repo / "jobs" / "go.mod").write_text("module x/jobs\n\ngo 1.23\n")
    warnings: list[str] = []
    arch = capture.from_compose([repo / "compose.yaml"], repo, warnings.append)
    return arch, warnings


def svc(arch, name):
    return next(s for s in arch["services"] if s["name"] == name)


def capture_text(folder: Path, text: str, name: str = "compose.yaml") -> tuple[dict, list[str]]:
    """Capture a compose file written from text; the architecture and every note capture said."""
    (folder / name).write_text(text)
    notes: list[str] = []
    return capture.from_compose([folder / name], folder, notes.append), notes


def facts(arch, kind):
    return sorted((f["subject"], f.get("detail", "")) for f in arch["facts"] if f["kind"] == kind)


def test_project_name_and_split_into_services_and_datastores(shop):
    arch, _ = shop
    assert arch["project"]["name"] == "shop"
    assert [s["name"] for s in arch["services"]] == ["api.v1", "jobs", "web_front"]
    assert {d["name"]: d["engine"] for d in arch["datastores"]} == {"cache": "redis", "db": "postgres"}


def test_short_long_udp_and_host_ip_ports(shop):
    ports = svc(shop[0], "web_front")["ports"]
    assert [(p["port"], p["protocol"], p.get("published"), p.get("host_ip")) for p in ports] == [
        (80, "TCP", 8080, "0.0.0.0"), (443, "TCP", 8443, "127.0.0.1"), (53, "UDP", 5353, "127.0.0.1")]


def test_expose_and_build_mapping(shop):
    api = svc(shop[0], "api.v1")
    assert [p["port"] for p in api["ports"]] == [8000]
    assert api["build"] == {"context": "./api", "dockerfile": "Dockerfile.prod", "target": "runtime"}
    assert api["path"] == "api"
    assert svc(shop[0], "jobs")["build"] == {"context": "./jobs"}


def test_language_and_framework_detected_from_build_context(shop):
    api = svc(shop[0], "api.v1")
    assert (api["language"], api.get("framework"), api["kind"]) == ("python", "fastapi", "http")
    jobs = svc(shop[0], "jobs")
    assert (jobs["language"], jobs["kind"]) == ("go", "worker")
    front = svc(shop[0], "web_front")
    assert (front["kind"], front["framework"]) == ("gateway", "nginx")


def test_interpolation_anchors_and_merge_keys(shop):
    api = svc(shop[0], "api.v1")
    assert "LOG_LEVEL" in api["env"]  # from the merged anchor, interpolated with its default
    assert "CACHE_URL" not in api["env"]  # a URL carrying a password is a secret: never in a ConfigMap


def test_secrets_are_names_only_and_plain_values_are_facts(shop, tmp_path):
    arch = shop[0]
    api = svc(arch, "api.v1")
    assert api["secrets"] == ["CACHE_URL", "DB_PASSWORD", "SESSION_SECRET", "api_key"]
    plain = facts(arch, "secret-in-env")
    assert plain == [("api.v1", "CACHE_URL, DB_PASSWORD set as plain values in the compose file")]
    text = model.dump(arch)
    assert "hunter2" not in text and ":pw@" not in text


def test_healthcheck_list_form_becomes_http_probes(shop):
    health = svc(shop[0], "api.v1")["health"]
    assert health["declared"] is True
    assert health["liveness"] == {"type": "http", "path": "/healthz", "port": 8000, "period_seconds": 15,
                                  "timeout_seconds": 3, "failure_threshold": 4}
    assert health["startup"]["failure_threshold"] == 7  # 30 s start period at 5 s steps, plus one


def test_healthcheck_string_form_becomes_exec(shop):
    health = svc(shop[0], "jobs")["health"]
    assert health["liveness"]["type"] == "exec"
    assert health["liveness"]["command"] == ["/bin/sh", "-c", "pgrep -f jobs || exit 1"]


def test_depends_on_list_and_mapping(shop):
    assert svc(shop[0], "api.v1")["depends_on"] == ["cache", "db"]
    assert svc(shop[0], "web_front")["depends_on"] == ["api.v1"]


def test_replicas_resources_and_profiles(shop):
    api = svc(shop[0], "api.v1")
    assert api["replicas"] == 3
    assert api["resources"] == {"cpu_request": "250m", "cpu_limit": "500m", "memory_request": "128Mi", "memory_limit": "256Mi"}
    assert svc(shop[0], "jobs")["profiles"] == ["batch"]  # profiled services are captured too


def test_networks_zones_static_addresses_and_volumes(shop):
    arch = shop[0]
    assert {n["name"]: (n["zone"], n["internal"], n.get("subnet")) for n in arch["networks"]} == {
        "core": ("private", True, "10.2.0.0/24"), "edge": ("public", False, "10.1.0.0/24")}
    front = svc(arch, "web_front")
    assert front["static_ips"] == {"edge": "10.1.0.5"} and front["zone"] == "public"
    jobs = svc(arch, "jobs")
    assert jobs["volumes"] == [{"target": "/var/scratch", "type": "data", "source": "scratch"}]
    assert (jobs["workload"], jobs["scalable"]) == ("statefulset", False)  # a single writer of its volume
    db = next(d for d in arch["datastores"] if d["name"] == "db")
    assert db["persistent"] is True and db["static_ips"] == {"core": "10.2.0.9"} and db["version"] == "16"


def test_facts_for_the_gap_report(shop):
    arch = shop[0]
    assert [s for s, _ in facts(arch, "static-ip")] == ["db", "web_front"]
    assert [s for s, _ in facts(arch, "no-healthcheck")] == ["web_front"]
    assert [s for s, _ in facts(arch, "single-replica")] == ["jobs", "web_front"]
    assert facts(arch, "unpinned-image") == [("cache", "image redis has no version tag")]
    assert facts(arch, "public-bind") == [("db", "port(s) 5432 published on all interfaces"),
                                          ("web_front", "port(s) 8080 published on all interfaces")]
    assert [s for s, _ in facts(arch, "root-user")] == ["jobs"]  # api sets USER 10001


def test_missing_env_file_is_a_warning(shop):
    arch, warnings = shop
    assert any("env_file ./missing.env does not exist" in w for w in warnings)
    assert facts(arch, "missing-env-file") == [("api.v1", "./missing.env is missing")]


def test_renamed_services_are_told_once(shop):
    arch, warnings = shop
    assert svc(arch, "api.v1")["id"] == "api-v1" and svc(arch, "web_front")["id"] == "web-front"
    assert sum("'api.v1' is named 'api-v1'" in w for w in warnings) == 1


def test_required_variable_gets_a_placeholder_never_stored(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x:1\n    environment:\n      TOKEN: ${TOKEN:?needed}\n")
    warnings: list[str] = []
    arch = capture.from_compose([tmp_path / "compose.yaml"], tmp_path, warnings.append)
    assert any("TOKEN is required" in w for w in warnings)
    assert "placeholder" not in model.dump(arch)


# ---------------------------------------------------------------- bad input through the CLI

BAD = {
    "invalid_yaml": ("services:\n  a:\n    image: x\n   bad: [\n", "invalid YAML"),
    "empty": ("", "empty compose file"),
    "services_not_mapping": ("services: [1, 2]\n", "services must be a mapping"),
    "invalid_name": ('services:\n  "a;b":\n    image: x:1\n', "'a;b' not allowed"),
    "space_in_name": ('services:\n  "my app":\n    image: x:1\n', "'my app' not allowed"),
    "port_out_of_range": ('services:\n  a:\n    image: x:1\n    ports: ["80:70000"]\n', "invalid containerPort: 70000"),
    "unknown_dependency": ("services:\n  a:\n    image: x:1\n    depends_on: [nope]\n", 'depends on undefined service "nope"'),
    "collision_after_mapping": ("services:\n  a_b:\n    image: x:1\n  a.b:\n    image: x:1\n", "both map to the Kubernetes name 'a-b'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_compose_is_one_line_exit_1_nothing_written(case, tmp_path):
    text, expected = BAD[case]
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(text)
    out = tmp_path / "architecture.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "phasekit.cli", "capture", "--from-compose", str(compose), "--non-interactive", "-o", str(out)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if not ln.startswith("note:")]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0] and "Traceback" not in result.stderr
    assert str(compose) in lines[0] or "docker-compose.yml" in lines[0]
    assert not out.exists() and not list(tmp_path.glob(".architecture*"))


def test_existing_output_is_not_replaced_without_force(tmp_path):
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  a:\n    image: x:1\n    ports: ['80']\n")
    out = tmp_path / "architecture.yaml"
    out.write_text("# mine\n")
    cmd = [sys.executable, "-m", "phasekit.cli", "capture", "--from-compose", str(compose), "--non-interactive", "-o", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode == 1 and "pass --force" in result.stderr and out.read_text() == "# mine\n"
    assert subprocess.run([*cmd, "--force"], capture_output=True, text=True).returncode == 0
    assert model.load(out)["services"][0]["name"] == "a"


@pytest.mark.parametrize("example", ["filetransfer", "insights", "backup", "mediawiki"])
def test_bundled_examples_are_what_capture_writes(example, tmp_path):
    """The committed examples are captured, not hand-written: capturing again gives the same model."""
    folder = Path(__file__).resolve().parents[2] / "examples" / example
    arch = capture.from_compose([folder / "docker-compose.yml"], folder, lambda _m: None)
    assert arch == model.load(folder / "architecture.yaml")


def test_real_world_shapes_list_env_inferred_edges_and_datastore_secrets(tmp_path):
    """Shapes found in public compose files: `KEY=VALUE` lists, peers reached only through env values,
    passwords on the datastore itself, a broker publishing its management UI beside its protocol port."""
    (tmp_path / "compose.yaml").write_text(textwrap.dedent("""
        services:
          app:
            image: example/app:2.1
            ports: ["3000:3000"]
            environment:
              - DB_HOST=db:5432
              - CACHE_URL=redis://cache:6379/0
              - DB_PASSWD=app-secret
              - UNRELATED=db2
          db:
            image: postgres:16
            environment:
              - POSTGRES_PASSWORD=pg-secret
          cache:
            image: redis:7
          mq:
            image: rabbitmq:3.13-management
            ports: ["15672:15672", "5672:5672"]
    """))
    warnings: list[str] = []
    arch = capture.from_compose([tmp_path / "compose.yaml"], tmp_path, warnings.append)
    app = svc(arch, "app")
    assert app["depends_on"] == ["cache", "db"]
    assert sum("reached through" in w for w in warnings) == 2
    assert app["secrets"] == ["DB_PASSWD"] and "DB_HOST" in app["env"]
    assert facts(arch, "secret-in-env") == [("app", "DB_PASSWD set as plain values in the compose file"),
                                             ("db", "POSTGRES_PASSWORD set as plain values in the compose file")]
    assert next(d for d in arch["datastores"] if d["name"] == "mq")["port"] == 5672
    assert "pg-secret" not in model.dump(arch) and "app-secret" not in model.dump(arch)


def test_many_renamed_services_are_told_in_one_line(tmp_path):
    services = "".join(f"  svc_{i}:\n    image: x:1\n" for i in range(8))
    (tmp_path / "compose.yaml").write_text(f"services:\n{services}")
    warnings: list[str] = []
    capture.from_compose([tmp_path / "compose.yaml"], tmp_path, warnings.append)
    assert warnings == ["8 names are changed for Kubernetes, Helm and Terraform (DNS-1123), e.g. "
                        "'svc_0' is 'svc-0', 'svc_1' is 'svc-1', 'svc_2' is 'svc-2'"]


def test_an_image_left_incomplete_by_an_unset_variable_names_the_variable_use(tmp_path):
    """temporal's compose file reads its versions from a .env; without it the image is `temporalio/ui:`."""
    (tmp_path / "compose.yaml").write_text("services:\n  ui:\n    image: temporalio/ui:${UI_VERSION}\n")
    with pytest.raises(ModelError, match=r"service 'ui': image 'temporalio/ui:' is incomplete \('temporalio/ui:\$\{UI_VERSION\}'"):
        capture.from_compose([tmp_path / "compose.yaml"], tmp_path, lambda _m: None)


def test_compose_limits_without_reservations_never_give_a_request_above_the_limit(tmp_path):
    """Issue 13.7: limits of 50m / 64Mi kept the default requests of 100m / 128Mi; 0.0001 CPUs gave 0m."""
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(textwrap.dedent("""\
        services:
          small:
            image: x:1
            deploy: {resources: {limits: {cpus: "0.05", memory: 64M}}}
          tiny:
            image: x:1
            deploy: {resources: {limits: {cpus: "0.0001"}}}
        """))
    arch = capture.from_compose([compose], tmp_path, lambda _m: None)
    res = {s["name"]: s["resources"] for s in arch["services"]}
    assert res["small"] == {"cpu_request": "50m", "cpu_limit": "50m", "memory_request": "64Mi", "memory_limit": "64Mi"}
    assert res["tiny"]["cpu_limit"] == "1m" and res["tiny"]["cpu_request"] == "1m"


@pytest.mark.parametrize(("test", "probe"), [
    ('["CMD", "curl", "-f", "http://localhost:8080/health check"]', "exec"),  # one word with a space: no probe path
    ('["CMD-SHELL", "curl -f \'http://localhost:8080/a b\' || exit 1"]', "exec"),
    ('["CMD-SHELL", "curl -f http://localhost:8080/healthz || exit 1"]', "/healthz"),
    ('["CMD", "node", "-e", "fetch(\'http://localhost:8080/ready\').then(r => process.exit(r.ok ? 0 : 1))"]', "/ready"),
])
def test_a_health_url_is_read_whole_or_not_at_all(tmp_path, test, probe):
    arch, _notes = capture_text(tmp_path,
        f"services:\n  api:\n    image: example/api:1\n    ports: ['8080:8080']\n    healthcheck:\n      test: {test}\n")
    live = arch["services"][0]["health"]["liveness"]
    assert (live["type"] if probe == "exec" else live["path"]) == probe, live


def test_build_contexts_include_and_extends_outside_the_repository(tmp_path):
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    (repo / "app").mkdir(parents=True)
    (outside / "svc").mkdir(parents=True)
    (repo / "app" / "Dockerfile").write_text("FROM python:3.12\n")
    (outside / "svc" / "Dockerfile").write_text("FROM python:3.12\n")
    (outside / "base.yml").write_text("services:\n  base:\n    image: nginx:1.27\n    ports: ['80:80']\n")
    (outside / "inc.yml").write_text("services:\n  cache:\n    image: memcached:1.6\n")
    text = ("include:\n  - ../outside/inc.yml\nservices:\n  app:\n    build: ./app\n    ports: ['8000:8000']\n"
            "  ext:\n    build: ../outside/svc\n    ports: ['8001:8000']\n"
            "  web:\n    extends: {file: ../outside/base.yml, service: base}\n")
    (repo / "compose.yaml").write_text(text)
    with pytest.raises(ModelError, match="service 'ext': build context .* is outside the repository"):
        capture.from_compose([repo / "compose.yaml"], repo, lambda _m: None)
    (repo / "compose.yaml").write_text(text.replace("build: ../outside/svc", "build: ../outside/svc\n    image: example/ext:1"))
    notes: list[str] = []
    arch = capture.from_compose([repo / "compose.yaml"], repo, notes.append)
    written = model.dump(model.validate(arch, "test"))
    assert str(tmp_path) not in written  # repository paths only
    ext = next(s for s in arch["services"] if s["name"] == "ext")
    assert ext["image"] == "example/ext:1" and "build" not in ext
    assert {s["name"] for s in arch["services"]} >= {"app", "web"} and arch["sources"]["compose"] == ["compose.yaml"]
    said = "\n".join(notes)
    assert "includes ../outside/inc.yml" in said and "extends ../outside/base.yml" in said and "image example/ext:1" in said


@pytest.mark.parametrize(("image", "engine"), [
    ("postgrest/postgrest:v14.5", None), ("supabase/postgres-meta:v0.95.2", None), ("mongo-express:1.0", None),
    ("prometheuscommunity/postgres-exporter:v0.17.1", None), ("dpage/pgadmin4:9.1", None),
    ("zulip/zulip-postgresql:14", "postgres"), ("supabase/postgres:15.8.1.085", "postgres"),
    ("example/mysql8:1", "mysql"), ("valkey/valkey-bundle:8", "redis"),
])
def test_an_engine_is_named_by_a_whole_word_and_a_tool_beside_it_is_not_one(image, engine):
    from phasekit.capture.compose import _datastore_engine

    assert _datastore_engine(image) == engine


def test_a_healthcheck_that_calls_the_service_by_its_own_name_is_its_probe(tmp_path):
    arch, _notes = capture_text(tmp_path,
        "services:\n  storage:\n    image: example/storage:1\n    healthcheck:\n"
        "      test: ['CMD', 'wget', '--spider', 'http://storage:5000/status']\n"
        "  other:\n    image: example/other:1\n    healthcheck:\n"
        "      test: ['CMD', 'wget', '--spider', 'http://storage:5000/status']\n")
    storage, other = svc(arch, "storage"), svc(arch, "other")
    assert [p["port"] for p in storage["ports"]] == [5000]
    assert storage["health"]["liveness"]["type"] == "http" and storage["health"]["liveness"]["path"] == "/status"
    assert other["ports"] == [] and other["health"]["liveness"]["type"] == "exec"  # checks another service


def test_variables_compose_filled_in_from_the_host_are_passed_to_the_container(tmp_path):
    arch, notes = capture_text(tmp_path,
        "services:\n  rt:\n    image: example/rt:1\n    ports: ['4000:4000']\n"
        "    environment: {DB_PASSWORD: '${POSTGRES_PASSWORD}'}\n"
        "    command: ['serve', '--region', '${REGION:-eu}', '--pid', '$$$$']\n"
        "    healthcheck:\n      test: ['CMD-SHELL', 'curl -H \"Authorization: Bearer ${ANON_KEY}\" http://localhost:4000/ && echo $$HOME']\n")
    rt = svc(model.validate(arch, "test"), "rt")
    assert rt["host_variables"] == ["ANON_KEY", "REGION"]
    assert "ANON_KEY" in rt["secrets"] and "REGION" in rt["env"] and "HOME" not in rt["env"] + rt["secrets"]
    assert sum("filled in from the host" in n for n in notes) == 2


def test_a_writable_repo_folder_with_files_is_data_and_its_empty_claim_is_said(tmp_path):
    (tmp_path / "functions" / "main").mkdir(parents=True)
    (tmp_path / "functions" / "main" / "index.ts").write_text("export {}\n")
    (tmp_path / "empty").mkdir()
    arch, notes = capture_text(tmp_path,
        "services:\n  fn:\n    image: example/fn:1\n    volumes: ['./functions:/home/fn', './empty:/scratch', 'cache:/c']\n"
        "volumes: {cache: {}}\n")
    assert [v["type"] for v in svc(arch, "fn")["volumes"]] == ["data", "data", "data"]
    said = [n for n in notes if "starts empty" in n]
    assert len(said) == 1 and "/home/fn" in said[0] and "functions" in said[0]


def test_a_called_service_without_a_known_port_is_said_once(tmp_path):
    """compose reaches `api` on any port; a cluster only through the ports it declares."""
    arch, notes = capture_text(tmp_path,
        "services:\n  web:\n    image: example/web:1\n    ports: ['80:80']\n    depends_on: [api, migrate]\n"
        "  api:\n    image: example/api:1\n"
        "  migrate:\n    image: example/api:1\n    command: ['migrate']\n    restart: 'no'\n"
        "  known:\n    image: penpotapp/backend:2.4.3\n  web2:\n    image: example/web:1\n    depends_on: [known]\n")
    said = [n for n in notes if "no port of it is known" in n]
    assert len(said) == 1 and said[0].startswith("service 'api' is called by web"), notes
    assert [p["port"] for p in svc(arch, "known")["ports"]] == [6060]  # the image catalogue knows it
