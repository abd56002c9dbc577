"""What the repository already holds, detected by file content (not only by name)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

# Folders that hold tools, caches or dependencies rather than the team's own files.
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".terraform", ".venv", "venv", "__pycache__", ".tox",
             ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode"}
# Bounds so that assessing a large monorepo stays fast: files beyond them are not read (and said so).
MAX_FILE_BYTES = 1_000_000
MAX_FILES = 20_000
YAML_SUFFIXES = {".yml", ".yaml"}
CONFIG_SUFFIXES = YAML_SUFFIXES | {".json", ".tf", ".tfvars", ".hcl", ".toml", ".conf", ".env"}
CODE_SUFFIXES = {".py", ".go", ".js", ".mjs", ".cjs", ".ts", ".php", ".rb", ".java", ".kt", ".rs", ".cs",
                 ".conf", ".lua", ".sh"}
# A report phasekit wrote itself carries this marker, so assessing twice never counts its own text as evidence.
REPORT_FORMAT = "phasekit-assess/1"


def _is_own_input(rel: str) -> bool:
    """The architecture and copier's answer files restate the whole model; they are not evidence."""
    name = rel.rsplit("/", 1)[-1]
    return name == "architecture.yaml" or (name.startswith(".copier-answers") and name.endswith((".yml", ".yaml")))


def _is_own_report(path: Path) -> bool:
    """A JSON report phasekit wrote names every capability; reading it back would count the report as evidence."""
    if path.suffix != ".json":
        return False
    try:
        with path.open("rb") as handle:
            head = handle.read(200)
    except OSError:
        return False
    return f'"format": "{REPORT_FORMAT}"'.encode() in head


@dataclass
class RepoScan:
    """A read-only view of the repository: the files, their text, and parsed YAML/JSON documents."""

    root: Path | None
    files: dict[str, Path] = field(default_factory=dict)  # posix path relative to root -> absolute
    truncated: bool = False

    @classmethod
    def scan(cls, root: Path | None) -> RepoScan:
        scan = cls(root)
        if root is None or not root.is_dir():
            return scan
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                rel = path.relative_to(root).as_posix()
                if _is_own_input(rel) or not path.is_file() or _is_own_report(path):
                    continue
                found.append(rel)
        found.sort()
        if len(found) > MAX_FILES:
            scan.truncated = True
            found = found[:MAX_FILES]
        scan.files = {rel: root / rel for rel in found}
        return scan

    # ------------------------------------------------------------------ raw access

    def text(self, rel: str) -> str:
        cache = self._texts
        if rel not in cache:
            path = self.files[rel]
            try:
                cache[rel] = "" if path.stat().st_size > MAX_FILE_BYTES else path.read_text("utf-8", errors="replace")
            except OSError:
                cache[rel] = ""
        return cache[rel]

    @cached_property
    def _texts(self) -> dict[str, str]:
        return {}

    def with_suffix(self, *suffixes: str) -> list[str]:
        return [rel for rel in self.files if rel.lower().endswith(suffixes)]

    def grep(self, pattern: str, suffixes: set[str] | None = None, flags: int = re.IGNORECASE) -> list[str]:
        rx = re.compile(pattern, flags)
        hits = []
        for rel in self.files:
            if suffixes is not None and Path(rel).suffix.lower() not in suffixes:
                continue
            if rx.search(self.text(rel)):
                hits.append(rel)
        return hits

    @cached_property
    def yaml_docs(self) -> dict[str, list[Any]]:
        """Every YAML file that parses (Helm templates and other Go templates usually do not)."""
        out: dict[str, list[Any]] = {}
        for rel in self.with_suffix(".yml", ".yaml"):
            try:
                docs = [d for d in yaml.safe_load_all(self.text(rel)) if d is not None]
            except yaml.YAMLError:
                continue
            out[rel] = docs
        return out

    @cached_property
    def json_docs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for rel in self.with_suffix(".json"):
            try:
                doc = json.loads(self.text(rel))
            except ValueError:
                continue
            out[rel] = doc
        return out

    # ------------------------------------------------------------------ Kubernetes and Helm

    @cached_property
    def charts(self) -> list[str]:
        """Folders holding a Helm chart (a Chart.yaml with apiVersion and name)."""
        out = []
        for rel, docs in self.yaml_docs.items():
            if rel.endswith("Chart.yaml") and docs and isinstance(docs[0], dict) and "name" in docs[0] and "apiVersion" in docs[0]:
                out.append(rel.rsplit("/", 1)[0] if "/" in rel else ".")
        return sorted(out)

    def _chart_files(self) -> list[str]:
        prefixes = tuple("" if c == "." else c + "/" for c in self.charts)
        return [rel for rel in self.files if prefixes and rel.startswith(prefixes)]

    @cached_property
    def chart_text(self) -> dict[str, str]:
        """Chart templates and values, as text (templates are Go templates, so they are searched, not parsed)."""
        return {rel: self.text(rel) for rel in self._chart_files() if Path(rel).suffix in (".yaml", ".yml", ".tpl", ".json")}

    @cached_property
    def manifests(self) -> dict[str, list[dict[str, Any]]]:
        """Plain Kubernetes objects (apiVersion + kind) outside charts, by file."""
        chart_files = set(self._chart_files())
        out: dict[str, list[dict[str, Any]]] = {}
        for rel, docs in self.yaml_docs.items():
            if rel in chart_files:
                continue
            objs = [d for d in _flatten_lists(docs) if isinstance(d, dict) and "apiVersion" in d and isinstance(d.get("kind"), str)]
            if objs:
                out[rel] = objs
        return out

    def k8s_kind(self, kind: str) -> list[str]:
        """Files (manifests or chart templates) that define an object of this kind."""
        rx = re.compile(rf"^\s*kind:\s*[\"']?{re.escape(kind)}[\"']?\s*$", re.MULTILINE)
        hits = {rel for rel, objs in self.manifests.items() if any(o["kind"] == kind for o in objs)}
        hits |= {rel for rel, text in self.chart_text.items() if rx.search(text)}
        return sorted(hits)

    def k8s_text(self, pattern: str) -> list[str]:
        """Files among manifests and chart files whose text matches pattern."""
        rx = re.compile(pattern)
        files = sorted(set(self.manifests) | set(self.chart_text))
        return [rel for rel in files if rx.search(self.text(rel))]

    # ------------------------------------------------------------------ compose

    @cached_property
    def compose_files(self) -> dict[str, dict[str, Any]]:
        """YAML files shaped like Compose files: a top-level `services` mapping of mappings."""
        out = {}
        chart_files = set(self._chart_files())
        for rel, docs in self.yaml_docs.items():
            doc = docs[0] if len(docs) == 1 and rel not in chart_files else None
            if isinstance(doc, dict) and isinstance(doc.get("services"), dict) and doc["services"] and all(
                isinstance(v, dict) or v is None for v in doc["services"].values()
            ) and "apiVersion" not in doc:
                out[rel] = doc
        return out

    def compose_healthchecks(self) -> dict[str, str]:
        """Compose service name -> file that gives it an enabled healthcheck."""
        out: dict[str, str] = {}
        for rel, doc in self.compose_files.items():
            for name, svc in doc["services"].items():
                check = (svc or {}).get("healthcheck")
                if isinstance(check, dict) and not check.get("disable") and check.get("test") not in (None, ["NONE"], "NONE"):
                    out.setdefault(str(name), rel)
        return out


def _flatten_lists(docs: list[Any]) -> list[Any]:
    """A `kind: List` (or a YAML list of objects) counts as its items."""
    out: list[Any] = []
    for doc in docs:
        if isinstance(doc, list):
            out.extend(_flatten_lists(doc))
        elif isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            out.extend(_flatten_lists(doc["items"]))
        else:
            out.append(doc)
    return out


def walk(value: Any) -> Iterator[tuple[Any, Any]]:
    """Every (key, value) pair in a nested structure of dicts and lists."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key, item
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
