"""Repo detection: what a service folder says about itself (Dockerfile, dependency manifests)."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

# Web frameworks by the dependency name that reveals them, per language.
FRAMEWORKS = {
    "python": ["fastapi", "flask", "django", "streamlit", "aiohttp", "starlette", "tornado", "sanic", "gunicorn", "uvicorn"],
    "node": ["express", "fastify", "koa", "@nestjs/core", "next", "hapi"],
    "go": ["github.com/gin-gonic/gin", "github.com/labstack/echo", "github.com/gofiber/fiber", "github.com/go-chi/chi"],
    "php": ["laravel/framework", "symfony/framework-bundle", "slim/slim"],
}
# Servers that mean "http" even when the framework is unknown.
WEB_SERVERS = {"gunicorn": "http", "uvicorn": "http"}
BASE_IMAGE_LANGUAGES = {
    "python": "python", "pypy": "python", "golang": "go", "node": "node", "php": "php", "mediawiki": "php",
    "wordpress": "php", "openjdk": "java", "eclipse-temurin": "java", "amazoncorretto": "java", "maven": "java",
    "gradle": "java", "ruby": "ruby", "rust": "rust", "dotnet/sdk": "dotnet", "dotnet/aspnet": "dotnet",
    "alpine": "shell", "busybox": "shell", "debian": "shell", "ubuntu": "shell",
}
GATEWAY_IMAGES = {"nginx", "httpd", "traefik", "haproxy", "caddy", "envoyproxy/envoy", "envoy", "openresty/openresty"}
MANIFESTS = [
    ("go.mod", "go"), ("package.json", "node"), ("composer.json", "php"), ("pyproject.toml", "python"),
    ("requirements.txt", "python"), ("setup.py", "python"), ("Pipfile", "python"), ("pom.xml", "java"),
    ("build.gradle", "java"), ("Gemfile", "ruby"), ("Cargo.toml", "rust"),
]


@dataclass
class Detected:
    language: str | None = None
    framework: str | None = None
    exposed: list[int] = field(default_factory=list)
    healthcheck: list[str] | None = None  # Dockerfile HEALTHCHECK command, as argv-ish words
    user: str | None = None  # last USER in the Dockerfile
    base_image: str | None = None


def image_repository(image: str) -> str:
    """'docker.io/library/nginx:1.27@sha256:..' -> 'nginx'; 'bitnami/kafka:3' -> 'bitnami/kafka'."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref = ref[: ref.rfind(":")]
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


def image_tag(image: str) -> str | None:
    if "@" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def language_of_image(image: str) -> str | None:
    repo = image_repository(image)
    for prefix, lang in BASE_IMAGE_LANGUAGES.items():
        if repo == prefix or repo.endswith("/" + prefix) or repo.startswith(prefix + "/"):
            return lang
    return None


# Ports well-known images listen on when a compose file publishes none (they serve peers on the network
# only): without them an HTTP server would be taken for a worker and get no Service.
IMAGE_PORTS: dict[str, list[int]] = {
    "nginx": [80], "httpd": [80], "caddy": [80], "traefik": [80], "haproxy": [80], "apache/tika": [9998],
    "gotenberg/gotenberg": [3000], "netboxcommunity/netbox": [8080], "getsentry/sentry": [9000],
    "getsentry/relay": [3000], "getsentry/snuba": [1218], "grafana/grafana": [3000], "prom/prometheus": [9090],
    "prom/alertmanager": [9093], "minio/minio": [9000], "wordpress": [80], "mediawiki": [80], "nextcloud": [80],
    "gitea/gitea": [3000], "jaegertracing/all-in-one": [16686], "kibana": [5601], "elastic/kibana": [5601],
    "kibana/kibana": [5601], "logstash": [5044], "phpmyadmin": [80], "adminer": [8080],
    "mailhog/mailhog": [1025, 8025], "axllent/mailpit": [1025, 8025], "keycloak/keycloak": [8080],
    "temporalio/auto-setup": [7233], "temporalio/server": [7233],
    "temporalio/ui": [8080], "immich-app/immich-server": [2283],
    "immich-app/immich-machine-learning": [3003], "plausible/analytics": [8000], "plausible/community-edition": [8000],
    "tootsuite/mastodon": [3000], "mastodon/mastodon": [3000],
    "zulip/docker-zulip": [80, 443], "jitsi/web": [80, 443], "jitsi/prosody": [5222, 5280], "jitsi/jvb": [8080],
    "jitsi/jicofo": [8888], "paperlessngx/paperless-ngx": [8000],
    "dockersamples/examplevotingapp_vote": [80], "dockersamples/examplevotingapp_result": [80],
    "penpotapp/backend": [6060], "penpotapp/exporter": [6061], "sj26/mailcatcher": [1025, 1080],
    "postgrest/postgrest": [3000], "supabase/gotrue": [9999], "supabase/edge-runtime": [9000],
    "supabase/postgres-meta": [8080], "supabase/studio": [3000], "supabase/storage-api": [5000],
}


def image_ports(image: str) -> list[int]:
    return IMAGE_PORTS.get(image_repository(image), [])


def is_gateway_image(image: str) -> bool:
    repo = image_repository(image)
    return repo in GATEWAY_IMAGES or repo.rsplit("/", 1)[-1] in {"nginx", "httpd", "traefik", "haproxy", "caddy"}


def detect(folder: Path, dockerfile: str = "Dockerfile") -> Detected:
    """Read what exists; a missing folder or file just detects nothing."""
    found = Detected()
    if not folder.is_dir():
        return found
    _read_dockerfile(folder / dockerfile, found)
    deps: set[str] = set()
    for manifest, language in MANIFESTS:
        path = folder / manifest
        if path.is_file():
            found.language = found.language or language
            deps |= _dependencies(path)
    if found.language is None and found.base_image:
        found.language = language_of_image(found.base_image)
    for name in FRAMEWORKS.get(found.language or "", []):
        if name in deps:
            found.framework = name.rsplit("/", 1)[-1]
            break
    if found.framework is None:
        found.framework = next((server for server in WEB_SERVERS if server in deps), None)
    return found


def _read_dockerfile(path: Path, found: Detected) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    text = re.sub(r"\\\n", " ", text)  # join continuation lines
    for line in text.splitlines():
        words = line.strip().split()
        if not words or words[0].startswith("#"):
            continue
        instruction = words[0].upper()
        if instruction == "FROM":
            images = [w for w in words[1:] if not w.startswith("--")]
            if images:  # the last stage's base is what runs
                found.base_image = images[0]
        elif instruction == "EXPOSE":
            for word in words[1:]:
                number = word.split("/", 1)[0]
                if number.isdigit() and 0 < int(number) < 65536 and int(number) not in found.exposed:
                    found.exposed.append(int(number))
        elif instruction == "HEALTHCHECK" and len(words) > 1:
            if words[1].upper() == "NONE":
                found.healthcheck = []
                continue
            rest = line.strip().split(None, 1)[1]
            cmd = re.split(r"\bCMD\b", rest, maxsplit=1)
            found.healthcheck = ["CMD-SHELL", cmd[1].strip()] if len(cmd) == 2 else None
        elif instruction == "USER" and len(words) > 1:
            found.user = words[1]


def _dependencies(path: Path) -> set[str]:
    """Dependency names (lowercase) from one manifest; unreadable files give none."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    name = path.name
    try:
        if name == "package.json":
            data = json.loads(text)
            return {k.lower() for key in ("dependencies", "devDependencies") for k in (data.get(key) or {})}
        if name == "composer.json":
            return {k.lower() for k in (json.loads(text).get("require") or {})}
        if name == "pyproject.toml":
            data = tomllib.loads(text)
            specs = list(data.get("project", {}).get("dependencies", []))
            specs += list(data.get("tool", {}).get("poetry", {}).get("dependencies", {}))
            return {_requirement_name(s) for s in specs}
        if name == "go.mod":
            return {m.group(1).lower() for m in re.finditer(r"^\s*(?:require\s+)?([\w.\-/]+)\s+v\d", text, re.M)}
    except (ValueError, tomllib.TOMLDecodeError, AttributeError):
        return set()
    if name in ("requirements.txt", "Pipfile", "setup.py"):
        return {_requirement_name(line) for line in text.splitlines() if line.strip() and not line.startswith(("#", "-"))}
    return set()


def _requirement_name(spec: str) -> str:
    return re.split(r"[\s<>=!~;\[@(]", spec.strip().strip("\"'"), maxsplit=1)[0].lower()
