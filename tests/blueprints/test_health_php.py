"""The PHP health endpoints: served for real by `php -S` on loopback, liveness never checks a dependency."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from helpers import REPO, render_arch
from phasekit import model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def snippet(tmp_path_factory):
    arch = model.load(REPO / "examples" / "mediawiki" / "architecture.yaml")
    dest = render_arch(arch, tmp_path_factory.mktemp("php"), "health")
    return dest / "health" / "snippets" / "php" / "health.php"


def test_written_for_php_services_with_their_dependencies(snippet):
    text = snippet.read_text()
    assert "//   mediawiki: HEALTH_DEPENDENCIES=memcached:11211,mysql:3306" in text


def test_not_written_without_php(tmp_path):
    arch = model.load(REPO / "examples" / "insights" / "architecture.yaml")
    dest = render_arch(arch, tmp_path, "health")
    assert not (dest / "health" / "snippets" / "php").exists()


def test_served_endpoints_answer_within_their_bounds(snippet):
    if shutil.which("php") is None:
        pytest.skip("php is not installed (scripts/install-validators installs php-cli)")
    assert subprocess.run(["php", "-l", str(snippet)], capture_output=True).returncode == 0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    up = listener.getsockname()[1]
    down = free_port()
    port = free_port()
    env = {**os.environ, "HEALTH_DEPENDENCIES": f"127.0.0.1:{up}, 127.0.0.1:{down}"}
    server = subprocess.Popen(["php", "-S", f"127.0.0.1:{port}", str(snippet)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        assert get(f"http://127.0.0.1:{port}/health/live") == (200, {"status": "alive"})  # dependency down: still alive
        started = time.monotonic()
        status, body = get(f"http://127.0.0.1:{port}/health/ready")
        assert (status, body) == (503, {"status": "not ready", "failed": [f"127.0.0.1:{down}"]})
        assert time.monotonic() - started < 5
        assert get(f"http://127.0.0.1:{port}/other")[0] == 404
    finally:
        server.terminate()
        server.wait()
        listener.close()
