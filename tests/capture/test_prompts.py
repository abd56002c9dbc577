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
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    arch = model.load(tmp_path / "a.yaml")
    assert arch["project"]["name"] == "demo"
    api = arch["services"][0]
    assert (api["name"], api["language"], api["framework"], api["replicas"]) == ("api", "python", "flask", 2)
    assert api["depends_on"] == ["cache"]
    assert arch["datastores"][0]["engine"] == "redis"
