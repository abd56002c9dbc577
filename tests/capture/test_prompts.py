"""The capture prompts: the flow fed answers directly, and once for real through a terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

from phasekit import model
from phasekit.capture import prompts

DETECTED = {
    "version": 1,
    "project": {"name": "shop"},
    "services": [
        {"name": "api", "kind": "http", "language": "python", "ports": [{"port": 8000}], "depends_on": []},
        {"name": "old_job", "kind": "worker", "language": "go"},
    ],
    "datastores": [{"name": "db", "engine": "postgres"}],
    "facts": [{"kind": "no-healthcheck", "subject": "old_job"}, {"kind": "no-healthcheck", "subject": "api"}],
}


def test_flow_builds_a_valid_architecture_from_answers():
    ask = prompts.ScriptedAsker([
        "shop-platform",  # project name
        False,  # not everything as detected: go through it
        True, False,  # keep api, drop old_job
        True,  # keep db
        True, "web", False,  # add service "web", then stop
        False,  # no more datastores
        # api
        "http", "python", "8000, 9100", "/livez", "/readyz", None, "3", "private", ["db"],
        # web
        "gateway", "node", "80", None, None, None, None, "public", ["api"],
        "dev, prod", "kubernetes", "kubernetes", "registry.example.com/shop",
    ])
    arch = prompts.run(DETECTED, ask)
    assert arch["project"] == {"name": "shop-platform", "id": "shop-platform"}
    api, web = arch["services"]
    assert [p["port"] for p in api["ports"]] == [8000, 9100]
    assert api["health"]["liveness"] == {"type": "http", "path": "/livez", "port": 8000}
    assert api["health"]["readiness"]["path"] == "/readyz"
    assert api["health"]["startup"]["path"] == "/health/live"
    assert (api["replicas"], api["zone"], api["depends_on"]) == (3, "private", ["db"])
    assert (web["kind"], web["language"], web["zone"], web["depends_on"]) == ("gateway", "node", "public", ["api"])
    assert arch["environments"] == ["dev", "prod"]
    assert arch["targets"]["terraform_provider"] == "kubernetes"
    assert [f["subject"] for f in arch["facts"]] == ["api"]  # the dropped service's facts are gone
    assert not ask.answers


@pytest.mark.parametrize(
    ("validator", "value", "problem"),
    [
        (prompts.valid_name({"api"}), "API", "taken"),
        (prompts.valid_name(set()), "a;b", "letters, digits"),
        (prompts._ports_ok, "70000", "1 to 65535"),
        (prompts._ports_ok, "80/sctp", "tcp or udp"),
        (prompts._environments_ok, "dev, QA", "QA"),
        (prompts._path_ok, "health", "starting with '/'"),
    ],
)
def test_validators_reject_bad_answers_with_a_reason(validator, value, problem):
    verdict = validator(value)
    assert verdict is not True and problem in verdict


@pytest.mark.slow  # a terminal session through pexpect; the fast lane keeps two shorter ones
def test_terminal_session_writes_architecture(tmp_path):
    """A real pseudo-terminal: questionary draws its prompts, we type, the file appears."""
    repo = tmp_path / "repo"
    (repo / "api").mkdir(parents=True)
    (repo / "api" / "Dockerfile").write_text("FROM python:3.12\nEXPOSE 8000\n")
    (repo / "api" / "requirements.txt").write_text("flask\n")
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "40"}
    child = pexpect.spawn(sys.executable, ["-m", "phasekit.cli", "capture", "--repo", str(repo), "-o", str(tmp_path / "a.yaml")],
                          env=env, encoding="utf-8", timeout=30, dimensions=(40, 120))
    enter = "\r"

    def answer(prompt: str, keys: str = "") -> None:
        child.expect_exact(prompt)
        child.send(keys + enter)

    def confirm(prompt: str, key: str) -> None:
        child.expect_exact(prompt)
        child.send(key)  # a confirm prompt takes y/n without Enter

    answer("Project name", "\x15demo")  # Ctrl-U clears the pre-filled name
    confirm("Accept 1 service (api) and 0 datastores as they are", "n")
    answer("Keep service 'api'")
    confirm("Add a service?", "n")
    confirm("Add a datastore?", "y")
    answer("Datastore name", "cache")
    child.expect_exact("Engine of 'cache'")
    child.send("\x1b[B" * 3 + enter)  # postgres, mysql, mariadb, -> redis
    confirm("Add a datastore?", "n")
    answer("[api] kind")
    answer("[api] language")
    answer("[api] ports it listens on")
    answer("[api] liveness endpoint")
    answer("[api] readiness endpoint")
    answer("[api] startup endpoint")
    answer("[api] replicas", "\x152")
    answer("[api] network zone")
    child.expect_exact("[api] depends on")
    child.send(" " + enter)  # tick the first (only) peer: cache
    answer("Environments")
    answer("Where does it run today?")
    answer("Terraform provider")
    answer("Container registry")
    child.expect_exact("depends on: cache")  # the review, before anything is written
    assert not (tmp_path / "a.yaml").exists()
    confirm("Write ", "y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    arch = model.load(tmp_path / "a.yaml")
    assert arch["project"]["name"] == "demo"
    api = arch["services"][0]
    assert (api["name"], api["language"], api["framework"], api["replicas"]) == ("api", "python", "flask", 2)
    assert api["depends_on"] == ["cache"]
    assert arch["datastores"][0]["engine"] == "redis"


# ---------------------------------------------------------------------------- through a terminal, more


def _spawn(*args: str, cwd: Path | None = None) -> pexpect.spawn:
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "40"}
    return pexpect.spawn(sys.executable, ["-m", "phasekit.cli", "capture", *args], env=env, encoding="utf-8",
                         timeout=30, dimensions=(40, 120), cwd=str(cwd) if cwd else None)


def _one_service_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "api").mkdir(parents=True)
    (repo / "api" / "Dockerfile").write_text("FROM python:3.12\nEXPOSE 8000\n")
    return repo


def _finish(child: pexpect.spawn) -> int:
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus if child.exitstatus is not None else 128 + child.signalstatus


def test_terminal_one_service_and_no_datastore_asks_no_empty_checkbox(tmp_path):
    """The smallest system: with no peer there is no "depends on" question (it crashed, answers lost)."""
    out = tmp_path / "a.yaml"
    child = _spawn("--repo", str(_one_service_repo(tmp_path)), "-o", str(out))
    answers = {"Project name": "\r", "Accept 1 service": "n", "Keep service 'api'": "y", "Add a service?": "n",
               "Add a datastore?": "n", "] kind": "\r", "] language": "\r", "] ports": "\r", " endpoint": "\r",
               "] replicas": "\r", "] network zone": "\r", "] depends on": "\r", "Environments": "\r",
               "Where does it run": "\r", "Terraform provider": "\r", "Container registry": "\r", "Write ": "y"}
    prompts_seen = []
    while True:  # answer whatever is asked, in whatever order, until the command ends
        index = child.expect_exact([*answers, pexpect.EOF])
        if index == len(answers):
            break
        prompt = list(answers)[index]
        prompts_seen.append(prompt)
        child.send(answers[prompt])
    child.close()
    status = child.exitstatus
    assert "] depends on" not in prompts_seen and "Write " in prompts_seen
    assert status == 0, child.before
    arch = model.load(out)
    assert [s["name"] for s in arch["services"]] == ["api"] and arch["datastores"] == []


COMPOSE = """services:
  web:
    image: nginx:1.27
    ports: ["80:80"]
    depends_on: [api]
  api:
    image: example/api:1.0
    expose: ["8000"]
    depends_on: [db]
  db:
    image: postgres:16
"""


@pytest.mark.slow  # a terminal session through pexpect; the fast lane keeps two shorter ones
def test_terminal_accept_everything_detected_then_review_then_write(tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    out = tmp_path / "architecture.yaml"
    child = _spawn("--from-compose", "compose.yaml", "-o", str(out), cwd=tmp_path)
    asked = 0
    for prompt, keys in [("Project name", "\r"), ("Accept 2 services (", "y"),
                         ("Add a service?", "n"), ("Add a datastore?", "n"), ("Environments", "\r"),
                         ("Where does it run", "\r"), ("Terraform provider", "\r"), ("Container registry", "\r")]:
        child.expect_exact(prompt)
        child.send(keys)
        asked += 1
    child.expect_exact("depends on: api")  # the review lists every service before writing
    child.expect_exact("Write ")
    assert not out.exists()
    child.send("y")
    assert _finish(child) == 0, child.before
    assert asked == 8  # no question per service
    arch = model.load(out)
    assert {s["name"]: s["depends_on"] for s in arch["services"]} == {"web": ["api"], "api": ["db"]}


@pytest.mark.slow  # a terminal session through pexpect; the fast lane keeps two shorter ones
def test_terminal_recapture_asks_replace_first_and_starts_from_the_file(tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    out = tmp_path / "architecture.yaml"
    subprocess_capture = [sys.executable, "-m", "phasekit.cli", "capture", "--from-compose", "compose.yaml",
                          "--non-interactive", "-o", str(out)]
    import subprocess

    subprocess.run(subprocess_capture, cwd=tmp_path, check=True, capture_output=True)
    edited = out.read_text().replace("replicas: 1", "replicas: 3", 1)
    edited = edited.replace(f"name: {tmp_path.name}", "name: renamed-by-hand", 1)
    out.write_text(edited)

    child = _spawn("--from-compose", "compose.yaml", "-o", str(out), cwd=tmp_path)
    child.expect_exact("exists. Capture again and replace it")  # the first question
    child.send("n")
    assert _finish(child) == 1
    assert out.read_text() == edited

    child = _spawn("--from-compose", "compose.yaml", "-o", str(out), cwd=tmp_path)
    child.expect_exact("exists. Capture again")
    child.send("y")
    child.expect_exact("renamed-by-hand")  # the project name's default is the file's, not the folder's
    for prompt, keys in [("Project name", ""), ("Accept 2 services", "y"), ("Add a service?", "n"),
                         ("Add a datastore?", "n"), ("Environments", "\r"), ("Where does it run", "\r"),
                         ("Terraform provider", "\r"), ("Container registry", "\r"), ("Write ", "y")]:
        child.expect_exact(prompt) if prompt != "Project name" else child.send("\r")
        if keys:
            child.send(keys)
    assert _finish(child) == 0, child.before
    arch = model.load(out)
    assert arch["project"]["name"] == "renamed-by-hand"
    assert 3 in [s["replicas"] for s in arch["services"]]  # the hand edit survived


def test_terminal_ctrl_c_exits_130_and_writes_nothing(tmp_path):
    out = tmp_path / "a.yaml"
    child = _spawn("--repo", str(_one_service_repo(tmp_path)), "-o", str(out))
    child.expect_exact("Project name")
    child.sendcontrol("c")
    assert _finish(child) == 130
    assert "nothing written" in child.before and "Traceback" not in child.before
    assert not out.exists()


@pytest.mark.slow  # a terminal session through pexpect; the fast lane keeps two shorter ones
def test_terminal_declining_the_review_writes_nothing(tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    out = tmp_path / "architecture.yaml"
    child = _spawn("--from-compose", "compose.yaml", "-o", str(out), cwd=tmp_path)
    for prompt, keys in [("Project name", "\r"), ("Accept 2 services", "y"), ("Add a service?", "n"),
                         ("Add a datastore?", "n"), ("Environments", "\r"), ("Where does it run", "\r"),
                         ("Terraform provider", "\r"), ("Container registry", "\r"), ("Write ", "n")]:
        child.expect_exact(prompt)
        child.send(keys)
    assert _finish(child) == 1
    assert not out.exists()


def test_without_a_terminal_interactive_capture_says_use_non_interactive(tmp_path):
    import subprocess

    done = subprocess.run([sys.executable, "-m", "phasekit.cli", "capture", "--repo", str(_one_service_repo(tmp_path)),
                           "-o", str(tmp_path / "a.yaml")], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert done.returncode == 1
    assert "--non-interactive" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "a.yaml").exists()


def test_flow_accepting_everything_asks_nothing_per_service():
    ask = prompts.ScriptedAsker(["shop", True, False, False, None, None, None, None])
    arch = prompts.run(DETECTED, ask)
    assert [s["name"] for s in arch["services"]] == ["api", "old_job"]
    assert not any(q.startswith("[") for q in ask.asked) and not ask.answers


def test_starting_point_keeps_the_files_entries_and_adds_new_detections():
    existing = {**DETECTED, "services": [{**DETECTED["services"][0], "replicas": 4}], "facts": []}
    detected = {**DETECTED, "services": [{**DETECTED["services"][0], "replicas": 1}, {"name": "new", "kind": "worker"}]}
    merged = prompts.starting_point(existing, detected)
    assert [(s["name"], s.get("replicas")) for s in merged["services"]] == [("api", 4), ("new", None)]
