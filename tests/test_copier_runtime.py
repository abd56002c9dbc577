"""The copier speed-ups (shared compiled templates, no git index upkeep in scratch folders) change nothing
that is written, and are engaged with the copier this project installs."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO, tree_of
from phasekit import blueprints, copier_runtime, model, render


def test_every_blueprint_renders_the_same_bytes_with_and_without_the_speedups(tmp_path, monkeypatch, template_source):
    monkeypatch.setenv("PHASEKIT_JOBS", "1")  # rendered in this process, where the memo can be seen
    copier_runtime._COMPILED.clear()
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    names = [b.name for b in blueprints.available() if b.phase]
    fast = tmp_path / "fast"
    render.apply(arch, fast, names, template_source)
    assert copier_runtime._COMPILED, "copier's Jinja environment no longer goes through the shared compile memo"
    monkeypatch.setattr(copier_runtime, "rendering_into_scratch", contextlib.nullcontext)
    plain = tmp_path / "plain"
    render.apply(arch, plain, names, template_source)
    fast_tree, plain_tree = tree_of(fast), tree_of(plain)
    assert len(fast_tree) > 50
    assert fast_tree == plain_tree


def test_a_repeated_yield_path_still_renders_one_file_per_item(tmp_path, template_source):
    """copier's `yield` tag keeps state its preprocess hook resets; a memoised compile must still reset it."""
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    for attempt in ("first", "second"):  # the second render reuses every compiled path name
        render.apply(arch, tmp_path / attempt, ["terraform"], template_source)
        envs = sorted(p.name for p in (tmp_path / attempt / "terraform/environments").glob("*.tfvars"))
        assert envs == sorted(f"{e}.tfvars" for e in arch["environments"]), attempt


@pytest.mark.slow  # `apply --all` in three new processes
def test_a_new_process_reads_compiled_templates_from_disk_and_survives_a_corrupt_cache(tmp_path, monkeypatch,
                                                                                         template_source):
    """Compiled code kept on disk (next to the template cache) gives the same bytes in a new process, and an
    entry that cannot be read (truncated, garbage) is compiled again, never trusted."""
    arch_file = REPO / "examples" / "insights" / "architecture.yaml"
    names = [b.name for b in blueprints.available() if b.phase]
    plain = tmp_path / "plain"
    monkeypatch.setattr(copier_runtime, "rendering_into_scratch", contextlib.nullcontext)  # the reference
    render.apply(model.load(arch_file), plain, names, template_source)
    cache = copier_runtime._disk_cache()
    assert cache is not None and cache.is_relative_to(Path(os.environ["PHASEKIT_TEMPLATE_CACHE"]).parent)

    def apply_in_a_new_process(dest: Path) -> dict[str, bytes]:
        result = subprocess.run([sys.executable, "-m", "phasekit.cli", "apply", "--all", "--arch", str(arch_file),
                                 "--dest", str(dest)], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        return tree_of(dest)

    first = apply_in_a_new_process(tmp_path / "first")
    entries = sorted(cache.glob("*.code"))
    assert len(entries) > 100, "compiled templates are not kept on disk"
    second = apply_in_a_new_process(tmp_path / "second")
    for i, entry in enumerate(entries):  # spoil every entry: half truncated, half garbage
        entry.write_bytes(entry.read_bytes()[: len(entry.read_bytes()) // 2] if i % 2 else b"\x00not marshal")
    spoiled = apply_in_a_new_process(tmp_path / "spoiled")
    assert tree_of(plain) == first == second == spoiled


def _varied(seed: int) -> dict:
    """Nested data with the strings YAML emitters treat specially: quotes, indicators, reserved words,
    line breaks, tabs, non-ASCII, astral and invisible characters, long strings and keys, shared lists."""
    import random

    r = random.Random(seed)
    pieces = [*"abc XYZ019-_:#'\"\\{}[],&*!|>%@`?\t\n\r", "\u00e9", "\u2028", "\u0085", "\ufeff", "\U0001f600",
              "\x07", "\u00a0", "  ", "---", "...", "null", "yes", "on", "1.5", "0x1F", "~", "1e3", ": ", " #", "- "]

    def text(n: int = 8) -> str:
        return "".join(r.choice(pieces) for _ in range(r.randint(0, n)))

    shared = [text()]

    def value(depth: int = 0):
        roll = r.random()
        if depth > 3 or roll < 0.5:
            return r.choice([text(), text(), "plain words", r.randint(-5, 10**12), r.random() * 1e6, True, False,
                             None, float("inf"), float("nan"), 1e20, -0.0, text() * r.choice([1, 40, 300]),
                             "x" * 200, shared if r.random() < 0.05 else "s"])
        if roll < 0.75:
            return [value(depth + 1) for _ in range(r.randint(0, 4))]
        keys = [text() or "k", text(), r.randint(0, 9), "k" * r.choice([5, 130]), True]
        return {r.choice(keys): value(depth + 1) for _ in range(r.randint(0, 4))}

    return {"top": value(), "more": [value(), value()]} if seed % 7 else value()


def test_the_c_backed_to_nice_yaml_writes_what_copiers_filter_writes():
    """The libyaml-backed filter gives the pure-Python filter's bytes on varied data, in every call shape the
    blueprints use; data the two emitters would write differently goes to copier's own filter."""
    from jinja2_ansible_filters.core_filters import to_nice_yaml as shipped

    fast = copier_runtime._fast_to_nice_yaml(shipped)
    taken = 0
    for seed in range(600):
        data = _varied(seed)
        for kwargs in ({"indent": 2, "width": 10000}, {"indent": 2, "width": 10000, "sort_keys": False}, {}):
            assert fast(data, **kwargs) == shipped(data, **kwargs), (seed, kwargs, data)
            taken += copier_runtime._c_dumpable(data, kwargs.get("width", 80))
    assert taken > 400, f"the C emitter was used for only {taken} of 1,800 dumps"
    assert not copier_runtime._c_dumpable({"a": "\u2028"}, 10000) and not copier_runtime._c_dumpable("top", 10000)


def test_copiers_environments_get_the_c_backed_filter():
    with copier_runtime.shared_compiles():
        from copier import _main

        env = _main.SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    assert hasattr(env.filters["to_nice_yaml"], "shipped")
    assert env.from_string("{{ x | to_nice_yaml(indent=2, width=10000) }}").render(x={"a": [1, "b"]}) == "a:\n- 1\n- b\n"


def test_answers_files_read_as_json_give_what_yaml_gives(monkeypatch):
    """The JSON fast path reads what yaml.safe_load reads; where the two would differ it reads YAML."""
    import json

    import yaml

    header = "# Written by copier for phasekit (JSON, which YAML readers read as is). Do not edit.\n"
    samples = [_varied(seed) for seed in range(300)]
    samples += [{"a": 1e-05}, {"a": 1e20}, {"a": 0.5}, {"a": float("nan")}, {"a": "x\u2028y"}, {"a": "\U0001f600"},
                {"a": "x\x85y"}, {"a": "\ufeff"}, {"k": [None, True, 12, "yes", "on", "~", ""]}]
    read_as_json = 0
    safe_load, yaml_reads = yaml.safe_load, []
    monkeypatch.setattr(yaml, "safe_load", lambda text: yaml_reads.append(1) or safe_load(text))
    for data in samples:
        if not isinstance(data, dict):
            continue
        data = json.loads(json.dumps(data, default=str))  # answers are JSON data: string keys
        for ascii_only in (False, True):
            body = json.dumps(data, indent=2, sort_keys=True, separators=(",", ": "), ensure_ascii=ascii_only,
                              default=str)
            text = header + body + "\n"
            try:
                expected = safe_load(text)
            except yaml.YAMLError:
                continue  # not an answers file phasekit could have read before either
            before = len(yaml_reads)
            got = copier_runtime.load_answers(text)
            read_as_json += len(yaml_reads) == before
            assert json.dumps(got, sort_keys=True, default=repr) == json.dumps(expected, sort_keys=True, default=repr), text
    assert read_as_json > 100, "answers files are no longer read as JSON"
    assert copier_runtime.load_answers("a: 1\n") == {"a": 1}  # plain YAML still reads


def test_the_origin_is_written_into_answers_as_a_full_dump_would_write_it():
    """record_origin edits the two top-level lines in place; the bytes equal dumping the whole file again."""
    import json

    def dump(data: dict) -> str:
        return json.dumps(data, indent=2, sort_keys=True, separators=(",", ": "), ensure_ascii=False) + "\n"

    origin = {"_commit": "v1.2.3-4-gabc", "_src_path": "~/.cache/phasekit/template \"quoted\" é\\"}
    bodies = [
        {"_src_path": "/tmp/phasekit-template-x/0", "architecture": _varied(3), "blueprint": "adr"},
        {"_commit": "v0", "_src_path": "/tmp/x", "architecture": {"a": [1, {"b": "c"}]}, "zz": "last"},
        {"architecture": {"_src_path": "nested, not top-level"}, "blueprint": "helm"},
        {"_src_path": "/tmp/x"},
        {"Zeta": 1},  # no key sorts after the origin's: dumped again
    ]
    for data in bodies:
        data = json.loads(json.dumps(data, default=str))
        expected = dump({**data, **origin})
        edited = copier_runtime._with_origin(dump(data), origin)
        assert edited in (None, expected), data
        assert (edited is None) == ("Zeta" in data)


# ---------------------------------------------------------------- guards: copier's internals still have the shape
# copier_runtime relies on (ADR 0007). Each speed-up falls back to copier as it ships when what it touches is
# gone, so the output stays right; these fail so that a copier release that moved them is noticed and the
# pin in pyproject.toml is not widened blindly.


def test_guard_copier_is_a_release_the_speedups_were_tested_with():
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.version import Version

    pin = next(r for r in map(Requirement, metadata.requires("phasekit") or []) if r.name == "copier")
    assert Version(metadata.version("copier")) in pin.specifier, (metadata.version("copier"), str(pin))
    assert pin.specifier.filter(["9.19.1"]) and not list(pin.specifier.filter(["10.0.0"]))


def test_guard_copier_builds_its_environment_from_main_sandboxed_environment():
    import inspect

    import jinja2.sandbox
    from copier import _main

    assert issubclass(_main.SandboxedEnvironment, jinja2.sandbox.SandboxedEnvironment)
    assert "SandboxedEnvironment(" in inspect.getsource(_main), "copier no longer builds its environment from this name"
    compile_params = list(inspect.signature(_main.SandboxedEnvironment.compile).parameters)
    assert compile_params == ["self", "source", "name", "filename", "raw", "defer_init"]
    with copier_runtime.shared_compiles():
        assert getattr(_main.SandboxedEnvironment, "memoised", False)
    assert not getattr(_main.SandboxedEnvironment, "memoised", False)  # put back afterwards


def test_guard_copier_syncs_the_git_index_through_one_worker_method(tmp_path, template_source):
    """The method exists, copier calls it while rendering (so skipping it saves something), and scratch
    renders skip it."""
    import copier
    from copier import _main

    calls: list[object] = []
    real = _main.Worker._sync_git_index_executable_bit
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    plain = template_source.plain()
    assert plain is not None
    try:
        _main.Worker._sync_git_index_executable_bit = lambda *args: calls.append(args[1:]) or real(*args)
        render.render_to(tmp_path / "scratch", arch, "adr", template_source)
        assert calls == [], "scratch renders still run copier's git index upkeep"
        copier.run_copy(str(plain[0]), tmp_path / "as-shipped", data={"blueprint": "adr", "architecture": arch},
                        defaults=True, overwrite=True, unsafe=False, quiet=True)
        assert calls, "copier no longer calls Worker._sync_git_index_executable_bit: drop its replacement"
    finally:
        _main.Worker._sync_git_index_executable_bit = real


def test_guard_copier_reads_copier_yml_through_template_load_template_config(tmp_path, template_source):
    """copier reads each template's copier.yml through this function (once per render as shipped); within
    shared_compiles two renders read it once, and each gets a copy it may change."""
    import inspect

    from copier import _template

    assert list(inspect.signature(_template.load_template_config).parameters) == ["conf_path", "quiet"]
    real = _template.load_template_config
    reads: list[object] = []
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    copier_runtime._CONFIGS.clear()  # read by an earlier test in this process
    try:
        _template.load_template_config = lambda *args, **kw: reads.append(args[0]) or real(*args, **kw)
        render.render_to(tmp_path / "one", arch, "adr", template_source)
        render.render_to(tmp_path / "two", arch, "ci", template_source)
        assert len(reads) == 1, f"copier.yml read {len(reads)} times in two renders"
        with copier_runtime.shared_compiles():
            first = _template.load_template_config(reads[0])
            first["_subdirectory"] = "changed"
            assert _template.load_template_config(reads[0])["_subdirectory"] != "changed"
        copier_runtime._CONFIGS.clear()
        import copier

        plain = template_source.plain()
        assert plain is not None
        copier.run_copy(str(plain[0]), tmp_path / "as-shipped", data={"blueprint": "adr", "architecture": arch},
                        defaults=True, overwrite=True, unsafe=False, quiet=True)
        assert len(reads) == 2, "copier no longer reads copier.yml through load_template_config: drop its memo"
    finally:
        _template.load_template_config = real


def test_a_prepared_source_renders_without_reading_copier_yml_again(tmp_path, template_source):
    """Source.prepare reads copier.yml before apply forks its workers: no render reads it after that."""
    from copier import _template

    real = _template.load_template_config
    reads: list[object] = []
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    copier_runtime._CONFIGS.clear()
    try:
        _template.load_template_config = lambda *args, **kw: reads.append(args[0]) or real(*args, **kw)
        template_source.prepare()
        assert len(reads) == 1
        render.render_to(tmp_path / "one", arch, "adr", template_source)
        render.render_to(tmp_path / "two", arch, "ci", template_source)
        assert len(reads) == 1, "a render after prepare read copier.yml again"
    finally:
        _template.load_template_config = real


def test_guard_copier_asks_template_get_repo_whether_a_source_is_git(tmp_path):
    import inspect

    from copier import _template

    assert list(inspect.signature(_template.get_repo).parameters) == ["url"]
    assert "get_repo(" in inspect.getsource(_template), "copier no longer resolves sources through get_repo"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert copier_runtime._plain_folder_is_no_repo(_template.get_repo)(str(plain)) is None
    assert _template.get_repo(str(plain)) is None  # what the shortcut answers is what copier answers


def test_guard_copier_writes_commit_and_src_path_as_the_plain_render_records_them(tmp_path, template_source):
    """The answers file of a render through git (copier's own clone) and of a plain-copy render with
    record_origin are the same bytes (test_render covers a whole blueprint); and both keys are there."""
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    fast = tmp_path / "fast"
    render.render_to(fast, arch, "adr", template_source)
    through_git = render.Source(template_source.src_path, template_source.vcs_ref)
    through_git.plain = lambda: None  # type: ignore[method-assign]
    slow = tmp_path / "slow"
    render.render_to(slow, arch, "adr", through_git)
    answers = ".copier-answers.adr.yml"
    assert (fast / answers).read_bytes() == (slow / answers).read_bytes()
    recorded = copier_runtime.load_answers((slow / answers).read_text(encoding="utf-8"))
    assert recorded["_commit"] == template_source.vcs_ref and recorded["_src_path"] == template_source.src_path


# ---------------------------------------------------------------------------- the plain copy kept on disk
def _commits(repo: Path) -> tuple[str, str]:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
    first = subprocess.run(["git", "rev-list", "--max-parents=0", "HEAD"], cwd=repo, capture_output=True, text=True,
                           check=True).stdout.split()[0]
    return head, first


def test_a_commit_is_extracted_once_and_reused_by_later_processes(tmp_path, monkeypatch):
    from phasekit import gitcmd

    monkeypatch.setenv("PHASEKIT_TEMPLATE_CACHE", str(tmp_path / "cache" / "template"))
    head, _ = _commits(REPO)
    folder, commit = copier_runtime._extract(REPO, "HEAD")
    assert folder == tmp_path / "cache" / "plain" / head
    assert (folder / "copier.yml").read_bytes() == subprocess.run(
        ["git", "show", "HEAD:copier.yml"], cwd=REPO, capture_output=True, check=True).stdout
    assert commit == gitcmd.run(REPO, "describe", "--tags", "--always", "HEAD")

    def no_archive(repo, *args, **kwargs):
        raise AssertionError(f"git {' '.join(args)} ran again")

    monkeypatch.setattr(gitcmd, "run_bytes", no_archive)  # `describe`/`rev-parse` go through gitcmd.run
    monkeypatch.setattr(gitcmd, "run", lambda repo, *args, **kw: (head if args[0] == "rev-parse" else commit))
    again, _ = copier_runtime._extract(REPO, "HEAD")
    assert again == folder


def test_an_unfinished_extraction_is_not_used_and_another_commit_gets_its_own_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PHASEKIT_TEMPLATE_CACHE", str(tmp_path / "cache" / "template"))
    head, first = _commits(REPO)
    # a process killed mid-extraction left the folder without its completion mark, and a stray file in it
    broken = tmp_path / "cache" / "plain" / head
    broken.mkdir(parents=True)
    (broken / "copier.yml").write_text("half a file")
    folder, _ = copier_runtime._extract(REPO, "HEAD")
    assert folder == broken and (folder / "copier.yml").read_text() != "half a file"
    if first != head:
        older, _ = copier_runtime._extract(REPO, first)
        assert older.name == first and older != folder
    assert not [p for p in (tmp_path / "cache" / "plain").iterdir() if p.name.startswith(".partial-")]


def test_a_read_only_cache_extracts_for_the_process_only(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o500)
    monkeypatch.setenv("PHASEKIT_TEMPLATE_CACHE", str(cache / "template"))
    try:
        folder, _ = copier_runtime._extract(REPO, "HEAD")
        assert (folder / "copier.yml").is_file() and not folder.is_relative_to(cache)
    finally:
        cache.chmod(0o700)
