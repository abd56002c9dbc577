"""Run copier many times in one process for less, without changing a byte of what it writes.

Every use of copier's private code is in this module (docs/adr/0007-copier-internals.md): `_main.SandboxedEnvironment`
and `_template.load_template_config` (shared compiles, copier.yml read once), `Worker._sync_git_index_executable_bit`
and `_template.get_repo` (scratch renders), and answers files written as copier writes them after a render from a
plain copy (`plain_copy`, `record_origin`; the plain copy of a commit is kept on disk and reused).
tests/test_copier_runtime.py holds the guard tests: they fail when copier's internals change shape, and
pyproject.toml pins copier to the releases they passed on.

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
the user's repository. Within it copier also does not ask git whether a plain local folder (an absolute
path without `.git`, such as the extracted template) is a repository or a bundle: it is neither, and
asking costs three git processes per blueprint.

Within both, copier's `to_nice_yaml` filter dumps with libyaml's emitter (`yaml.CDumper`) instead of the
pure-Python one, for data whose output the two emitters write byte for byte alike (`_c_dumpable`: plain
dicts, lists and scalars, strings of printable characters, no shared containers, no empty keys); anything
else goes to the filter copier ships. tests/test_copier_runtime.py compares both on varied data.

All of them reach into copier's internals; if a copier release renames what they touch, they do nothing and
copier runs as it ships (tests/test_copier_runtime.py shows the output is the same either way, and its guard
tests fail so that the loss of speed is noticed).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import marshal
import os
import re
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


# What libyaml's and PyYAML's emitters write alike (fuzzed: tests/test_copier_runtime.py): printable BMP
# characters (no U+FEFF, no line-break characters such as U+0085 or U+2028); tab and newline only where
# the line width leaves them unfolded.
_PRINTABLE = re.compile("[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]*")
_PRINTABLE_TAB_NL = re.compile("[\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]*")
_SCALARS = (int, float, bool, type(None))


def _c_dumpable(data: Any, width: int) -> bool:
    """True when yaml.CDumper writes data exactly as yaml.Dumper does (at this line width)."""
    if type(data) not in (dict, list):
        return False  # a top-level scalar: PyYAML's emitter ends it with `...`, libyaml's does not
    wide = width >= 1000
    seen: set[int] = set()
    stack = [data]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            if not (_PRINTABLE_TAB_NL if wide and len(item) < width // 4 else _PRINTABLE).fullmatch(item):
                return False
        elif kind is dict or kind is list:
            if id(item) in seen:
                return False  # written once and referred to by an alias
            seen.add(id(item))
            if kind is dict:
                for key in item:
                    if not ((type(key) is str and key and _PRINTABLE.fullmatch(key)) or type(key) is int):
                        return False
                stack.extend(item.values())
            else:
                stack.extend(item)
        elif kind not in _SCALARS:
            return False
    return True


def _fast_to_nice_yaml(shipped: Any) -> Any:
    import yaml

    dumper = getattr(yaml, "CDumper", None)

    def to_nice_yaml(a: Any, indent: int = 4, *args: Any, **kw: Any) -> str:
        width = kw.get("width", 80)
        if dumper is None or args or "Dumper" in kw or not isinstance(width, int) or not _c_dumpable(a, width):
            return str(shipped(a, indent, *args, **kw))
        return str(yaml.dump(a, Dumper=dumper, indent=indent, allow_unicode=True, default_flow_style=False, **kw))

    to_nice_yaml.shipped = shipped  # type: ignore[attr-defined]
    return to_nice_yaml


# JSON numbers that YAML 1.1 reads as the same float (`1e-05` has no dot: a string to YAML)
_YAML_FLOAT = re.compile(r"[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?")
# Characters a YAML reader folds (line breaks inside a quoted scalar) or rejects (non-printable)
_NOT_JSON_ALIKE = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # YAML readers reject JSON's surrogate pairs


class _NotAlike(Exception):
    pass


def _yaml_float(text: str) -> float:
    if not _YAML_FLOAT.fullmatch(text):
        raise _NotAlike
    return float(text)


def _no_constant(_text: str) -> Any:
    raise _NotAlike  # NaN, Infinity: JSON's spelling is a string to YAML


def load_answers(text: str) -> Any:
    """An answers file as `yaml.safe_load` reads it, read as JSON when it is JSON behind comment lines.

    phasekit writes answers files as JSON after a header comment (YAML readers read it as is); json.loads
    reads 355 KB in milliseconds where the pure-Python YAML parser takes over a second. Whenever the two
    readers could disagree (other text than comments before the JSON, a float YAML spells differently,
    NaN, characters YAML folds or rejects, JSON that does not parse) it is read as YAML.
    """
    import json

    import yaml

    start = 0
    while start < len(text):
        end = text.find("\n", start)
        line = text[start : end if end >= 0 else len(text)]
        if line.strip() and not line.lstrip().startswith("#"):
            break
        start = len(text) if end < 0 else end + 1
    body = text[start:]
    if body.startswith("{") and not _NOT_JSON_ALIKE.search(body) and not _SURROGATE_ESCAPE.search(body):
        try:
            return json.loads(body, parse_float=_yaml_float, parse_constant=_no_constant)
        except (ValueError, _NotAlike):
            pass
    return yaml.safe_load(text)


@functools.cache
def _memoised_environment(base: type) -> type:
    class MemoisedEnvironment(base):  # type: ignore[misc]
        memoised = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            shipped = self.filters.get("to_nice_yaml")
            if shipped is not None and not hasattr(shipped, "shipped"):
                self.filters["to_nice_yaml"] = _fast_to_nice_yaml(shipped)

        def compile(self, source: Any, name: str | None = None, filename: str | None = None, raw: bool = False,
                    defer_init: bool = False) -> Any:
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


_CONFIGS: dict[tuple[Any, ...], Any] = {}


def _memoised_config(load: Any) -> Any:
    """copier's `load_template_config`, reading each copier.yml once per process: copier parses it with
    the pure-Python YAML reader in every run (9 times in `apply --all`, 0.1 s of a one-service apply).
    Keyed by the file's identity, size and modification time; every caller gets its own copy."""
    import copy

    if getattr(load, "memoised", False):
        return load

    def load_template_config(conf_path: Path, quiet: bool = False) -> Any:
        try:
            stat = os.stat(conf_path)
        except OSError:
            return load(conf_path, quiet)  # copier's own error
        key = (os.path.realpath(conf_path), stat.st_ino, stat.st_size, stat.st_mtime_ns, quiet)
        if key not in _CONFIGS:
            _CONFIGS[key] = load(conf_path, quiet)
        return copy.deepcopy(_CONFIGS[key])

    load_template_config.memoised = True  # type: ignore[attr-defined]
    return load_template_config


@contextlib.contextmanager
def shared_compiles() -> Iterator[None]:
    """Within this block, copier's Jinja environments share compiled templates, and each copier.yml is
    read once."""
    from copier import _main, _template

    base = getattr(_main, "SandboxedEnvironment", None)
    if base is None or not hasattr(base, "compile") or getattr(base, "memoised", False):
        yield
        return
    loader = getattr(_template, "load_template_config", None)
    with (_replaced(_main, "SandboxedEnvironment", _memoised_environment(base)),
          _replaced(_template, "load_template_config", _memoised_config(loader))):
        yield


def preload(template: Path | None) -> None:
    """Import copier, and read template's copier.yml into the memo of `shared_compiles`, in this process:
    forked workers (parallel.py) inherit both, where each would otherwise load them again (0.3 CPU-s)."""
    from copier import _template

    conf = template / "copier.yml" if template else None
    if conf is not None and conf.is_file() and hasattr(_template, "load_template_config"):
        with shared_compiles():
            _template.load_template_config(conf)


def _plain_folder_is_no_repo(get_repo: Any) -> Any:
    def plain_get_repo(url: str) -> Any:
        if os.path.isabs(url) and not url.endswith(".git") and os.path.isdir(url) and not os.path.exists(os.path.join(url, ".git")):
            return None  # what copier's git calls would find: neither a repository root nor a bundle
        return get_repo(url)

    return plain_get_repo


@contextlib.contextmanager
def rendering_into_scratch() -> Iterator[None]:
    """Within this block copier runs only into fresh temporary folders: skip its git index upkeep."""
    from copier import _template
    from copier._main import Worker

    with (shared_compiles(), _replaced(Worker, "_sync_git_index_executable_bit", lambda *_args: None),
          _replaced(_template, "get_repo", _plain_folder_is_no_repo(getattr(_template, "get_repo", None)))):
        yield


# ---------------------------------------------------------------------------- rendering from a plain copy
# copier clones a git template for every render (one clone, ~200 git calls and a delete per blueprint);
# render.Source.plain() renders from a plain folder extracted once per process instead, and the answers
# file is then given the `_commit` and `_src_path` copier would have recorded had it cloned the tag.

_PLAIN: dict[tuple[str, str], tuple[Path, str]] = {}
_PLAIN_ROOT: list[tempfile.TemporaryDirectory[str]] = []  # removed when the process ends


def plain_copy(repo: Path, ref: str) -> tuple[Path, str]:
    """A plain copy of the local git template repo at ref (extracted once per process), and the `_commit`
    copier records for ref (`git describe --tags --always`)."""
    key = (str(repo.resolve()), ref)
    if key not in _PLAIN:
        _PLAIN[key] = _extract(repo, ref)
    return _PLAIN[key]


def _extract(repo: Path, ref: str) -> tuple[Path, str]:
    """The tree of ref as plain files: kept on disk beside the template cache, one folder per commit (a
    commit's tree never changes, so a later process reuses it without running git archive again), or in a
    folder removed when the process ends if that cache is not writable."""
    import shutil

    from . import gitcmd
    from .template_repo import cache_location

    commit = gitcmd.run(repo, "describe", "--tags", "--always", ref)  # what copier records
    sha = gitcmd.run(repo, "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}")
    kept = cache_location()[1].parent / "plain" / sha
    if (kept / _COMPLETE).is_file():
        return kept, commit
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(dir=kept.parent, prefix=".partial-"))
    except OSError:  # a read-only home: extract for this process only
        if not _PLAIN_ROOT:
            _PLAIN_ROOT.append(tempfile.TemporaryDirectory(prefix="phasekit-template-"))
        folder = Path(tempfile.mkdtemp(dir=_PLAIN_ROOT[0].name))  # its own name, whatever was extracted before
        _unpack(repo, sha, folder)
        return folder, commit
    try:
        _unpack(repo, sha, partial)
        (partial / _COMPLETE).write_text(sha + "\n")
        try:
            os.rename(partial, kept)  # whole or absent: a killed extraction leaves only a .partial- folder
        except OSError:
            if (kept / _COMPLETE).is_file():
                pass  # another process finished first: use its copy
            else:  # never one of ours (each is renamed in whole, mark included): replace it
                shutil.rmtree(kept)
                os.rename(partial, kept)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return kept, commit


_COMPLETE = ".phasekit-extracted"  # written last: a folder without it is not used


def _unpack(repo: Path, sha: str, folder: Path) -> None:
    import io
    import tarfile

    from . import gitcmd

    with tarfile.open(fileobj=io.BytesIO(gitcmd.run_bytes(repo, "archive", "--format=tar", sha))) as archive:
        # The "data" filter exists from Python 3.11.4 (Debian 12 ships 3.11.2): the archive is phasekit's own
        # template from git, so without the filter it is extracted as it is.
        if hasattr(tarfile, "data_filter"):
            archive.extractall(folder, filter="data")
        else:
            archive.extractall(folder)


def record_origin(answers: Path, src_path: str, commit: str) -> None:
    """Write `_commit` and `_src_path` into an answers file rendered from a plain copy, exactly as copier
    writes them when it renders from git: the blueprints write answers with copier's `to_nice_json`
    filter (sorted keys, indent 2, characters unescaped: YAML readers reject JSON's surrogate-pair
    escapes), which is repeated here after the header comment. The two top-level lines are edited in
    place (`_with_origin`) rather than the whole architecture dumped again; the same bytes either way."""
    import json

    text = answers.read_text(encoding="utf-8")
    body_at = text.index("{")
    origin = {"_commit": commit, "_src_path": src_path}
    body = _with_origin(text[body_at:], origin)
    if body is None:
        data = json.loads(text[body_at:])
        data.update(origin)
        body = json.dumps(data, indent=2, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"
    answers.write_text(text[:body_at] + body, encoding="utf-8")


_TOP_KEY = re.compile(r'^  ("(?:[^"\\]|\\.)*"): ', re.MULTILINE)


def _with_origin(body: str, origin: dict[str, str]) -> str | None:
    """body (indent-2 JSON, keys sorted) with origin's top-level string values set; None when it is not
    that shape (then the caller dumps it again)."""
    import json

    if not body.startswith("{\n") or not body.endswith("\n}\n"):
        return None
    found = [(json.loads(m[1]), m.start(), m.end()) for m in _TOP_KEY.finditer(body)]
    keys = [k for k, _, _ in found]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        return None
    for key, value in origin.items():
        encoded = json.dumps(value, ensure_ascii=False)
        spans = {k: (start, end) for k, start, end in found}
        if key in spans:
            start, end = spans[key]
            line_end = body.index("\n", end)
            old = body[end:line_end]
            if not old.startswith('"') or old.rstrip(",")[-1:] != '"' or json.loads(old.rstrip(",")) is None:
                return None
            body = body[:end] + encoded + ("," if old.endswith(",") else "") + body[line_end:]
        else:
            after = [start for k, start, _ in found if k > key]
            if not after:
                return None  # it would be the last key: the line before it needs a comma
            at = after[0]
            body = body[:at] + f"  {json.dumps(key)}: {encoded},\n" + body[at:]
        found = [(json.loads(m[1]), m.start(), m.end()) for m in _TOP_KEY.finditer(body)]
    return body
