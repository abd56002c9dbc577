"""Secrets planted in every compose field that can hold one never reach a generated or answers file (issue 13.2).

Values come from a git-ignored .env (interpolated by compose), from literals in the file, and from commands
and healthchecks; capture keeps names and references only, and every blueprint renders from what it kept.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

PLANTED = {
    "env-file": "s3cr3t-from-dotenv-7f1c",
    "literal-env": "literal-password-29ab",
    "url-password": "url-pass-4d2e",
    "bearer": "bearer-token-81c3",
    "query-token": "query-token-5b90",
    "basic-auth": "basic-auth-pw-6e11",
    "mysqladmin": "mysqladmin-pw-0c7d",
    "command": "command-secret-33aa",
}

COMPOSE = f"""
services:
  cache:
    image: redis:7.4
    command: ["redis-server", "--requirepass", "${{REDIS_PASSWORD}}"]
    environment:
      REDIS_PASSWORD: ${{REDIS_PASSWORD}}
    healthcheck:
      test: ["CMD-SHELL", "redis-cli -a ${{REDIS_PASSWORD}} ping"]
  db:
    image: mysql:8.0
    environment:
      MYSQL_ROOT_PASSWORD: {PLANTED['mysqladmin']}
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-p{PLANTED['mysqladmin']}"]
  api:
    image: example/api:1.2
    ports: ["8000:8000"]
    command: ["serve", "--admin-key", "{PLANTED['command']}"]
    environment:
      DB_PASSWORD: {PLANTED['literal-env']}
      DATABASE_URL: mysql://app:{PLANTED['url-password']}@db:3306/app
      CACHE_HOST: cache
    healthcheck:
      test: ["CMD", "curl", "-f", "-H", "Authorization: Bearer {PLANTED['bearer']}", "http://localhost:8000/health?token={PLANTED['query-token']}"]
  web:
    image: example/web:3.0
    ports: ["8080:8080"]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://admin:{PLANTED['basic-auth']}@localhost:8080/status"]
    depends_on: [api]
"""


def test_no_planted_secret_reaches_any_written_file(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "compose.yaml").write_text(COMPOSE, encoding="utf-8")
    (repo / ".env").write_text(f"REDIS_PASSWORD={PLANTED['env-file']}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}

    def phasekit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "phasekit.cli", *args], cwd=repo, capture_output=True, text=True, env=env)

    captured = phasekit("capture", "--from-compose", "compose.yaml", "--non-interactive")
    assert captured.returncode == 0, captured.stderr
    applied = phasekit("apply", "--all")
    assert applied.returncode == 0, applied.stderr
    written = [p for p in repo.rglob("*") if p.is_file() and p.name not in ("compose.yaml", ".env")]
    assert len(written) > 50  # every blueprint wrote its files
    leaks = [f"{p.relative_to(repo)}: {where}" for p in written for where, value in PLANTED.items()
             if value in p.read_text(encoding="utf-8", errors="replace")]
    assert leaks == []
    # What was kept instead: names and references the runtime resolves.
    arch = (repo / "architecture.yaml").read_text(encoding="utf-8")
    assert "${REDIS_PASSWORD}" in arch and "DATABASE_URL" in arch and "DB_PASSWORD" in arch
    assert "replaced by ${" in captured.stderr  # the user is told, one line per credential
