"""One walk over the checked folder: which files exist, their parsed YAML/JSON (cached), and what they look like."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from ._core import Artifact

# Folders that hold tools' state or vendored code, never the repository's own artifacts.
SKIP_DIRS = {
    ".git", ".hg", ".svn", ".terraform", "node_modules", ".venv", "venv", "__pycache__", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode", ".cache", "site-packages",
}
YAML_SUFFIXES = {".yml", ".yaml"}
MAX_SNIFF_BYTES = 64_000_000  # the C parser reads this in seconds; past it a file is reported, not read


class ParseError(Exception):
    """A YAML/JSON file that its parser rejects; the message is the parser's."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader that keeps `on:` (GitHub workflows) and `yes`/`no` as the strings YAML 1.2 readers see."""


# Drop the YAML 1.1 boolean resolver for on/off/yes/no; keep true/false.
_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
yaml.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
    Loader=_Loader,
)


def load_yaml_text(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=_Loader))  # noqa: S506 - _Loader is a SafeLoader


class Inventory:
    """The files under `root` (skipping tool state and vendored folders) and cached parses of them."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[Path, Any] = {}
        self._lock = threading.Lock()

    # --- walking -----------------------------------------------------------------------------------------
    @cached_property
    def files(self) -> list[Path]:
        out: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(
                d for d in dirnames
                if d not in SKIP_DIRS and not (d.startswith(".") and d not in {".github"})
                and not os.path.islink(os.path.join(dirpath, d))
            )
            for name in sorted(filenames):
                path = Path(dirpath, name)
                if path.is_file() and not path.is_symlink():
                    out.append(path)
        return out

    def label(self, path: Path) -> str:
        rel = path.relative_to(self.root).as_posix()
        return rel if rel != "." else "."

    def artifact(self, path: Path, **data: Any) -> Artifact:
        return Artifact(path, self.label(path), tuple(sorted(data.items())))

    def with_suffix(self, *suffixes: str) -> list[Path]:
        return [p for p in self.files if p.suffix.lower() in suffixes]

    @cached_property
    def chart_dirs(self) -> list[Path]:
        return sorted(p.parent for p in self.files if p.name == "Chart.yaml")

    def in_chart(self, path: Path) -> Path | None:
        for chart in self.chart_dirs:
            if chart in path.parents:
                return chart
        return None

    def in_chart_templates(self, path: Path) -> bool:
        chart = self.in_chart(path)
        return chart is not None and (chart / "templates") in path.parents

    @cached_property
    def yaml_files(self) -> list[Path]:
        """YAML files, without Helm templates (Go templates, not YAML until rendered)."""
        return [p for p in self.with_suffix(*YAML_SUFFIXES) if not self.in_chart_templates(p)]

    @cached_property
    def json_files(self) -> list[Path]:
        return [p for p in self.with_suffix(".json") if not self.in_chart_templates(p)]

    # --- parsing -----------------------------------------------------------------------------------------
    def docs(self, path: Path) -> list[Any]:
        """Parsed documents of a YAML/JSON file; raises ParseError with the parser's message."""
        with self._lock:
            cached = self._cache.get(path)
        if cached is None:
            try:
                if path.stat().st_size > MAX_SNIFF_BYTES:
                    raise ParseError(f"larger than {MAX_SNIFF_BYTES} bytes; not parsed")
                text = path.read_text(encoding="utf-8")
                if path.suffix.lower() == ".json":
                    cached = [json.loads(text)]
                else:
                    cached = [d for d in load_yaml_text(text) if d is not None]
            except (yaml.YAMLError, json.JSONDecodeError, UnicodeDecodeError, ParseError) as exc:
                cached = ParseError(f"{type(exc).__name__}: {exc}")
            with self._lock:
                self._cache[path] = cached
        if isinstance(cached, ParseError):
            raise cached
        return cached

    def mappings(self, path: Path) -> list[dict[Any, Any]]:
        """The mapping documents of a file; [] when it does not parse (the `parse` validator reports that)."""
        try:
            return [d for d in self.docs(path) if isinstance(d, dict)]
        except ParseError:
            return []

    def first_mapping(self, path: Path) -> dict[Any, Any] | None:
        docs = self.mappings(path)
        return docs[0] if len(docs) == 1 else None

    def structured(self) -> Iterator[Path]:
        yield from self.yaml_files
        yield from self.json_files

    def head(self, path: Path, size: int = 256) -> str:
        try:
            with path.open("rb") as fh:
                return fh.read(size).decode("utf-8", "replace")
        except OSError:
            return ""
