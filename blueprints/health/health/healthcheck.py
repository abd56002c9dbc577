#!/usr/bin/env python3
"""phasekit health checker: one stdlib-only checker for every service, driven by services.json.

    healthcheck.py [--config FILE] [--host HOST] SERVICE [liveness|readiness|startup]
    healthcheck.py [--config FILE] --all [--external HOST] [liveness|readiness|startup]

Exit status: 0 healthy, 1 unhealthy (or timed out), 2 usage or configuration error.
Every check of one service answers within the configured deadline (at most 5 s): each socket
operation gets the time that is left, and a watchdog ends the check when the deadline passes,
even if name resolution hangs.

Probe types (from services.json, generated from architecture.yaml by phasekit):
  http    GET http://HOST:PORT/PATH; healthy on a 2xx or 3xx status
  tcp     a TCP connection to HOST:PORT is accepted
  worker  the heartbeat contract (see below)
  exec    run a command; healthy on exit status 0
  none    nothing to check (cron jobs); always healthy
Readiness may also list `dependencies` (host:port that must accept TCP connections); liveness never does,
so a dependency outage makes a service unready, never restarted.

Worker heartbeat contract (files in the probe's `dir`, default /tmp/healthcheck):
  heartbeat  the worker writes the current Unix time in whole seconds at least every few seconds from its
             main loop (write a temporary file, then rename it over `heartbeat`)
  ready      the worker creates it when it can do work (its dependencies answer) and removes it when not
  liveness = heartbeat younger than max_age_seconds; startup = heartbeat exists;
  readiness = liveness and `ready` exists.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

PROBES = ("liveness", "readiness", "startup")
MAX_DEADLINE = 5.0
DEFAULT_DEADLINE = 4.0
OK, UNHEALTHY, USAGE = 0, 1, 2


class Unhealthy(Exception):
    """A check failed; the message says why."""


class Deadline:
    """The time left for one service's check; every blocking call asks it for its timeout."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise Unhealthy("deadline exceeded")
        return remaining

    def timeout(self, wanted: float | None = None) -> float:
        left = self.left()
        return min(left, wanted) if wanted else left


def check_tcp(host: str, port: int, deadline: Deadline, wanted: float | None = None) -> str:
    try:
        with socket.create_connection((host, port), timeout=deadline.timeout(wanted)):
            return f"tcp {host}:{port} accepted"
    except OSError as exc:
        raise Unhealthy(f"tcp {host}:{port}: {exc.strerror or exc}") from None


def check_http(host: str, port: int, path: str, deadline: Deadline, wanted: float | None = None) -> str:
    """A minimal HTTP/1.0 GET that reads only the status line, each read bounded by the deadline."""
    target = f"http://{host}:{port}{path}"
    request = (
        f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: phasekit-healthcheck\r\n"
        "Accept: */*\r\nConnection: close\r\n\r\n"
    ).encode("ascii", "strict")
    try:
        with socket.create_connection((host, port), timeout=deadline.timeout(wanted)) as sock:
            sock.settimeout(deadline.timeout(wanted))
            sock.sendall(request)
            data = b""
            while b"\r\n" not in data and len(data) < 4096:
                sock.settimeout(deadline.timeout(wanted))
                chunk = sock.recv(1024)
                if not chunk:
                    break
                data += chunk
    except socket.timeout:
        raise Unhealthy(f"http {target}: no answer in time") from None
    except OSError as exc:
        raise Unhealthy(f"http {target}: {exc.strerror or exc}") from None
    status_line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise Unhealthy(f"http {target}: not an HTTP answer: {status_line[:80]!r}")
    status = int(parts[1])
    if not 200 <= status < 400:
        raise Unhealthy(f"http {target}: status {status}")
    return f"http {target}: status {status}"


def check_worker(probe_name: str, probe: dict, deadline: Deadline) -> str:
    folder = probe.get("dir", "/tmp/healthcheck")
    max_age = float(probe.get("max_age_seconds", 60))
    beat_file = os.path.join(folder, "heartbeat")
    deadline.left()
    try:
        with open(beat_file, encoding="ascii") as handle:
            text = handle.read(64).strip()
    except OSError:
        raise Unhealthy(f"worker: no heartbeat file {beat_file}") from None
    if probe_name == "startup":
        return f"worker: heartbeat file {beat_file} exists"
    if not text.isdigit():
        raise Unhealthy(f"worker: {beat_file} does not hold a Unix time")
    age = time.time() - int(text)
    if age > max_age:
        raise Unhealthy(f"worker: last heartbeat {age:.0f}s ago (limit {max_age:.0f}s)")
    if probe_name == "readiness" and not os.path.exists(os.path.join(folder, "ready")):
        raise Unhealthy(f"worker: alive but not ready (no {os.path.join(folder, 'ready')})")
    return f"worker: heartbeat {max(age, 0):.0f}s old"


def check_exec(probe: dict, deadline: Deadline) -> str:
    command = probe.get("command") or []
    if not command:
        raise Unhealthy("exec: no command")
    try:
        result = subprocess.run(command, capture_output=True, timeout=deadline.timeout(), check=False)
    except subprocess.TimeoutExpired:
        raise Unhealthy(f"exec {command[0]}: no answer in time") from None
    except OSError as exc:
        raise Unhealthy(f"exec {command[0]}: {exc.strerror or exc}") from None
    if result.returncode != 0:
        raise Unhealthy(f"exec {command[0]}: exit status {result.returncode}")
    return f"exec {command[0]}: exit status 0"


def run_probe(probe_name: str, probe: dict, host: str, deadline: Deadline) -> list[str]:
    kind = probe.get("type", "none")
    wanted = probe.get("timeout_seconds")
    if kind == "http":
        lines = [check_http(host, int(probe["port"]), probe.get("path", "/"), deadline, wanted)]
    elif kind == "tcp":
        lines = [check_tcp(host, int(probe["port"]), deadline, wanted)]
    elif kind == "worker":
        lines = [check_worker(probe_name, probe, deadline)]
    elif kind == "exec":
        lines = [check_exec(probe, deadline)]
    elif kind == "none":
        lines = ["nothing to check (probe type none)"]
    else:
        raise Unhealthy(f"unknown probe type {kind!r}")
    for dep in probe.get("dependencies", []) if probe_name == "readiness" else []:
        lines.append(f"dependency {dep['name']}: " + check_tcp(dep["host"], int(dep["port"]), deadline, wanted))
    return lines


def check_service(config: dict, name: str, probe_name: str, host: str | None, deadline_s: float) -> tuple[int, str]:
    """Run one probe of one service under a watchdog; returns (exit status, one-line report)."""
    service = config["services"][name]
    probe = service["probes"][probe_name]
    host = host or config.get("host", "127.0.0.1")
    outcome: list[tuple[int, str]] = []

    def work() -> None:
        try:
            lines = run_probe(probe_name, probe, host, Deadline(deadline_s))
            outcome.append((OK, "; ".join(lines)))
        except Unhealthy as exc:
            outcome.append((UNHEALTHY, str(exc)))
        except Exception as exc:  # noqa: BLE001 - a checker must answer, whatever went wrong
            outcome.append((UNHEALTHY, f"{type(exc).__name__}: {exc}"))

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(deadline_s + 0.2)
    if not outcome:
        return UNHEALTHY, f"{name} {probe_name}: unhealthy: no answer within {deadline_s:g}s"
    status, text = outcome[0]
    return status, f"{name} {probe_name}: {'healthy' if status == OK else 'unhealthy'}: {text}"


def external_probe(service: dict, probe: dict) -> dict | None:
    """The probe as seen from outside the host: its port replaced by the published one, or None."""
    if probe.get("type") not in ("http", "tcp"):
        return None
    published = service.get("published", {}).get(str(probe["port"]))
    if published is None:
        return None
    return {**probe, "port": published, "dependencies": []}


def load_config(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        config = json.load(handle)
    if not isinstance(config, dict) or not isinstance(config.get("services"), dict):
        raise ValueError("expected an object with a `services` mapping")
    return config


def main(argv: list[str] | None = None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description="phasekit health checker (stdlib only)")
    parser.add_argument("--config", default=os.environ.get("HEALTHCHECK_CONFIG", os.path.join(here, "services.json")))
    parser.add_argument("--host", help="address to probe (default: the config's host, 127.0.0.1)")
    parser.add_argument("--external", metavar="HOST", help="with --all: probe published ports on HOST")
    parser.add_argument("--deadline", type=float, help=f"seconds per service, at most {MAX_DEADLINE:g}")
    parser.add_argument("--all", action="store_true", help="check every service in the config")
    parser.add_argument("target", nargs="*", help="SERVICE [PROBE], or [PROBE] with --all")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except (OSError, ValueError) as exc:
        print(f"healthcheck: cannot read {args.config}: {exc}", file=sys.stderr)
        return USAGE
    deadline = min(args.deadline or float(config.get("deadline_seconds", DEFAULT_DEADLINE)), MAX_DEADLINE)
    targets = list(args.target)
    if args.all:
        probe_name = targets[0] if targets else "readiness"
        names = sorted(config["services"])
    else:
        if not targets:
            parser.error("name a SERVICE (or use --all)")
        names, probe_name = [targets[0]], (targets[1] if len(targets) > 1 else "liveness")
    if probe_name not in PROBES:
        parser.error(f"probe must be one of {', '.join(PROBES)}")
    unknown = [n for n in names if n not in config["services"]]
    if unknown:
        print(f"healthcheck: unknown service {unknown[0]!r} (known: {', '.join(sorted(config['services']))})", file=sys.stderr)
        return USAGE
    worst, checked = OK, 0
    for name in names:
        if args.external:
            service = config["services"][name]
            probe = external_probe(service, service["probes"][probe_name])
            if probe is None:
                print(f"{name} {probe_name}: not checked from outside (no published {probe_name} port)")
                continue
            view = {"services": {name: {**service, "probes": {probe_name: probe}}}}
            status, line = check_service(view, name, probe_name, args.external, deadline)
        else:
            status, line = check_service(config, name, probe_name, args.host, deadline)
        print(line)
        worst, checked = max(worst, status), checked + 1
    if not checked:
        print(f"healthcheck: no service could be checked from {args.external}", file=sys.stderr)
        return UNHEALTHY
    return worst


if __name__ == "__main__":
    sys.exit(main())
