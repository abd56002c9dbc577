"""Run copier many times in one process for less, without changing a byte of what it writes.

`apply --all` runs copier once per blueprint, and each run builds a new Jinja environment that compiles
every template string again: question defaults, path names, the answers file name (about 1,900 compiles
for 215 distinct strings at one service, 40% of the command's time). `shared_compiles()` keeps compiled
code for the life of the process, keyed by everything that can change it, so each string compiles once.
Compiled template code is also kept on disk next to the template cache (what Jinja's bytecode caches do;
theirs key on the file's path, which is a new temporary folder in every phasekit process), so a second
command does not compile the blueprints again. The key holds the source, the template name, the compiler
settings and the Python and Jinja versions; an unreadable entry is compiled again.

`rendering_into_scratch()` is for runs whose destination is a fresh temporary folder: there copier's
per-file `git config core.fileMode` check (it mirrors executable bits into the destination's git index)
cannot find an index to update, and costs a process per file. Not for `copier update`, which writes into
the user's repository.

Both reach into copier's internals; if a copier release renames what they touch, they do nothing and
copier runs as it ships (tests/test_copier_runtime.py shows the output is the same either way).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_COMPILED: dict[tuple[Any, ...], Any] = {}


def _fingerprint(env: Any) -> tuple[Any, ...]:
    """What an environment's compiler output depends on besides the source itself."""
    return (
        type(env), env.block_start_string, env.block_end_string, env.variable_start_string,
        env.variable_end_string, env.comment_start_string, env.comment_end_string, env.line_statement_prefix,
        env.line_comment_prefix, env.trim_blocks, env.lstrip_blocks, env.newline_sequence,
        env.keep_trailing_newline, tuple(sorted(env.extensions)), env.optimized, env.is_async,
        env.autoescape if isinstance(env.autoescape, bool) else id(env.autoescape),
        env.finalize is not None, env.code_generator_class, env.context_class,
    )


@functools.cache
def _disk_cache() -> Path | None:
    import jinja2  # here, not at import: `phasekit --help` loads this module and never renders

    from .template_repo import cache_location

    folder = cache_location()[1].parent / "jinja" / f"py{sys.version_info[0]}.{sys.version_info[1]}-jinja{jinja2.__version__}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home: compile in memory only
    return folder


def _disk_key(env: Any, source: str, name: str | None, defer_init: bool) -> str | None:
    if not isinstance(env.autoescape, bool):
        return None  # a callable's identity does not survive the process
    stable = tuple(f"{x.__module__}.{x.__qualname__}" if isinstance(x, type) else x for x in _fingerprint(env))
    return hashlib.sha256(repr((source, name, defer_init, stable)).encode("utf-8", "surrogatepass")).hexdigest()


def _load(path: Path) -> Any:
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return code if isinstance(code, types.CodeType) else None


def _store(path: Path, code: Any) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as out:
            marshal.dump(code, out)
        os.replace(tmp, path)  # readers see the whole entry or none
    except OSError:
        pass


def _compile_cached(env: Any, base_compile: Any, source: str, name: str | None, filename: str | None,
                    defer_init: bool) -> tuple[Any, bool]:
    """(code, compiled now) for source, from disk when an earlier process compiled it."""
    folder, key = _disk_cache(), _disk_key(env, source, name, defer_init)
    path = folder / f"{key}.code" if folder and key else None
    code = _load(path) if path else None
    if code is not None:
        return code, False
    code = base_compile(source, name, filename, False, defer_init)
    if path:
        _store(path, code)
    return code, True


@functools.cache
def _memoised_environment(base: type) -> type:
    class MemoisedEnvironment(base):  # type: ignore[misc, valid-type]
        memoised = True

        def compile(self, source, name=None, filename=None, raw=False, defer_init=False):  # noqa: A003
            if raw or not isinstance(source, str):  # Python source wanted, or an AST: compile as is
                return super().compile(source, name, filename, raw, defer_init)
            key = (source, name, filename, defer_init, _fingerprint(self))
            code = _COMPILED.get(key)
            fresh = False
            if code is None:
                code, fresh = _compile_cached(self, super().compile, source, name, filename, defer_init)
                _COMPILED[key] = code
            if not fresh:
                # Extensions keep per-render state that their preprocess hook resets (copier's `yield`
                # tag does): run the hooks as compiling would, and drop what they return.
                self.preprocess(source, name, filename)
            return code

    return MemoisedEnvironment


@contextlib.contextmanager
def _replaced(owner: Any, attribute: str, value: Any) -> Iterator[None]:
    if not hasattr(owner, attribute):  # copier changed: leave it as it is
        yield
        return
    original = getattr(owner, attribute)
    setattr(owner, attribute, value)
    try:
        yield
    finally:
        setattr(owner, attribute, original)


@contextlib.contextmanager
def shared_compiles() -> Iterator[None]:
    """Within this block, copier's Jinja environments share compiled templates."""
    from copier import _main

    base = getattr(_main, "SandboxedEnvironment", None)
    if base is None or not hasattr(base, "compile") or getattr(base, "memoised", False):
        yield
        return
    with _replaced(_main, "SandboxedEnvironment", _memoised_environment(base)):
        yield


@contextlib.contextmanager
def rendering_into_scratch() -> Iterator[None]:
    """Within this block copier runs only into fresh temporary folders: skip its git index upkeep."""
    from copier._main import Worker

    with shared_compiles(), _replaced(Worker, "_sync_git_index_executable_bit", lambda *_args: None):
        yield
