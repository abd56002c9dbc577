"""Readiness: can this service reach every dependency it declares?

DEPENDS_ON lists dependency names, comma-separated (the service's `depends_on` in architecture.yaml).
Each one is found through `<NAME>_URL` (upper case, '-' and '.' become '_'), either a URL such as
postgres://db:5432/app or a plain host:port. A dependency is reachable when a TCP connection opens within
READY_TIMEOUT_SECONDS (default 1). The answer names dependencies only, never their addresses: URLs may
carry credentials.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

# Ports for URL schemes that leave the port out.
SCHEME_PORTS = {
    "http": 80, "https": 443, "postgres": 5432, "postgresql": 5432, "mysql": 3306, "redis": 6379,
    "rediss": 6379, "amqp": 5672, "amqps": 5671, "nats": 4222, "kafka": 9092, "mongodb": 27017,
}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str  # "ok", "not configured", "invalid address" or "unreachable"


def env_var(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper()) + "_URL"


def declared(env: Mapping[str, str]) -> list[str]:
    return sorted({part.strip() for part in env.get("DEPENDS_ON", "").split(",") if part.strip()})


def address(value: str) -> tuple[str, int] | None:
    """(host, port) from a URL or host:port; None when it cannot be read."""
    value = value.strip()
    try:
        if "://" in value:
            parts = urlsplit(value)
            port = parts.port or SCHEME_PORTS.get(parts.scheme)
            host = parts.hostname
        else:
            host, _, raw_port = value.rpartition(":")
            host, port = host.strip("[]"), int(raw_port)
    except ValueError:
        return None
    if not host or not port or not 0 < port < 65536:
        return None
    return host, port


def check_all(env: Mapping[str, str], timeout: float) -> list[Check]:
    checks = []
    for name in declared(env):
        value = env.get(env_var(name), "")
        if not value:
            checks.append(Check(name, False, "not configured"))
            continue
        target = address(value)
        if target is None:
            checks.append(Check(name, False, "invalid address"))
            continue
        try:
            with socket.create_connection(target, timeout=timeout):
                checks.append(Check(name, True, "ok"))
        except OSError:
            checks.append(Check(name, False, "unreachable"))
    return checks
