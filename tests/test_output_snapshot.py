"""The bytes every blueprint writes, compared with a committed record (tests/snapshots/<case>.json).

This is the guard for restructuring the blueprints (issue 16): moving logic, renaming template files or
sharing macros must not change a byte of what a user gets. Each case applies every blueprint that
`phasekit apply --all` applies (and, for the starter kit, `phasekit new-service` in each flavour) into an
empty folder, and compares the sha256 of every written file with the record; a failure lists the files
that differ, are missing or are extra.

Cases: each bundled example (examples/*/architecture.yaml) as it is, and a few variants of them that reach
the branches no example reaches (a Kafka or NATS broker, the Kubernetes Terraform provider, a Node service,
a Kafka datastore without a broker, environments other than dev/staging/prod).

Volatile values: the answers files (.copier-answers.*.yml) record `_commit` (the template cache's tag:
v<version>, or v<version>.postN when the cache already holds another tree under v<version>) and `_src_path`
(the template cache's location, a temporary folder under the tests). Both depend on the machine and the
cache rather than on the blueprints, so their values are replaced by a placeholder before hashing; the rest
of each answers file is compared byte for byte.

When an output changes on purpose, record it again and review the diff of tests/snapshots/ in the commit:

    PHASEKIT_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest -p no:cacheprovider tests/test_output_snapshot.py

(with PHASEKIT_UPDATE_SNAPSHOTS=1 the test writes the record and passes.)
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import EXAMPLES, REPO, STARTER_FLAVOURS
from phasekit import blueprints as catalogue
from phasekit import model, render
from phasekit.commands.new_service import service_entry

SNAPSHOTS = REPO / "tests" / "snapshots"
UPDATE = os.environ.get("PHASEKIT_UPDATE_SNAPSHOTS") == "1"
_VOLATILE = re.compile(r'^(  "_(?:commit|src_path)": )"(?:[^"\\]|\\.)*"', re.MULTILINE)


def _targets(**values: str) -> Callable[[dict[str, Any]], None]:
    def change(arch: dict[str, Any]) -> None:
        arch["targets"].update(values)

    return change


def _language(service: str, language: str) -> Callable[[dict[str, Any]], None]:
    def change(arch: dict[str, Any]) -> None:
        next(s for s in arch["services"] if s["name"] == service)["language"] = language

    return change


def _datastore(name: str, engine: str) -> Callable[[dict[str, Any]], None]:
    def change(arch: dict[str, Any]) -> None:
        arch["datastores"].append({"name": name, "engine": engine})

    return change


def _environments(*names: str) -> Callable[[dict[str, Any]], None]:
    def change(arch: dict[str, Any]) -> None:
        arch["environments"] = list(names)

    return change


# name -> (example, changes): variants for the branches the bundled examples leave untaken.
VARIANTS: dict[str, tuple[str, list[Callable[[dict[str, Any]], None]]]] = {
    "variant-nats-kubernetes": ("insights", [
        _targets(broker="nats", terraform_provider="kubernetes", runtime="kubernetes"), _language("ui", "node"),
    ]),
    "variant-kafka": ("meetings", [_targets(broker="kafka")]),
    "variant-kafka-datastore": ("insights", [_datastore("events", "kafka")]),
    "variant-environments": ("insights", [_environments("local", "qa", "staging", "production")]),
}
FLAVOURS = STARTER_FLAVOURS
CASES = [p.parent.name for p in EXAMPLES] + list(VARIANTS) + ["service"]


def digest(path: Path) -> str:
    data = path.read_bytes()
    if path.name.startswith(".copier-answers."):
        data = _VOLATILE.sub(r'\1"<volatile>"', data.decode("utf-8")).encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def record_of(folder: Path, prefix: str = "") -> dict[str, str]:
    return {
        prefix + p.relative_to(folder).as_posix(): digest(p)
        for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


def render_case(case: str, dest: Path, source: render.Source) -> dict[str, str]:
    if case == "service":
        arch_file = REPO / "examples" / "insights" / "architecture.yaml"
        record: dict[str, str] = {}
        for name, language, kind, port in FLAVOURS:
            arch = copy.deepcopy(model.load(arch_file))
            arch["services"].append(service_entry(name, language, kind, port, f"services/{name}"))
            arch = model.validate(arch, "snapshot")
            answers = {"service_name": name, "service_language": language, "service_kind": kind, "service_port": port}
            render.apply(arch, dest / name, ["service"], source, extra=answers)
            record.update(record_of(dest / name, f"{name}/"))
        return record
    example, changes = VARIANTS.get(case, (case, []))
    base = REPO / "examples" / example
    arch = copy.deepcopy(model.load(base / "architecture.yaml"))
    for change in changes:
        change(arch)
    arch = model.validate(arch, case)
    render.apply(arch, dest, catalogue.select([], [], True), source, base=base)
    return record_of(dest)


def compare(recorded: dict[str, str], now: dict[str, str]) -> list[str]:
    """One line per difference: `differs`, `missing` (recorded, not written now) or `extra` (new)."""
    lines = [f"differs: {p}" for p in sorted(recorded.keys() & now.keys()) if recorded[p] != now[p]]
    lines += [f"missing: {p}" for p in sorted(recorded.keys() - now.keys())]
    lines += [f"extra:   {p}" for p in sorted(now.keys() - recorded.keys())]
    return lines


@pytest.mark.parametrize("case", CASES)
def test_output_matches_the_record(case: str, tmp_path: Path, template_source: render.Source) -> None:
    now = render_case(case, tmp_path / "out", template_source)
    assert now, f"{case}: nothing was written"
    snapshot = SNAPSHOTS / f"{case}.json"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return
    assert snapshot.is_file(), f"no record {snapshot.relative_to(REPO)}: run with PHASEKIT_UPDATE_SNAPSHOTS=1"
    problems = compare(json.loads(snapshot.read_text(encoding="utf-8")), now)
    if problems:
        print(f"{case}: {len(problems)} file(s) differ from {snapshot.relative_to(REPO)}:", *problems, sep="\n  ")
    assert not problems, f"{case}: output differs from the record:\n  " + "\n  ".join(problems)


def test_compare_names_each_kind_of_difference() -> None:
    assert compare({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "x", "d": "4"}) == [
        "differs: b", "missing: c", "extra:   d",
    ]


def test_only_the_volatile_answers_values_are_masked(tmp_path: Path) -> None:
    body = '# header\n{\n  "_commit": "v1.2.3.post4",\n  "_src_path": "/tmp/x",\n  "blueprint": "adr"\n}\n'
    one, two = tmp_path / ".copier-answers.adr.yml", tmp_path / "other" / ".copier-answers.adr.yml"
    two.parent.mkdir()
    one.write_text(body)
    two.write_text(body.replace("v1.2.3.post4", "v9").replace("/tmp/x", "~/.cache/y"))
    assert digest(one) == digest(two)
    two.write_text(body.replace('"adr"', '"helm"'))
    assert digest(one) != digest(two)
    plain = tmp_path / "values.yaml"
    plain.write_text('  "_commit": "v1"\n')
    assert digest(plain) == hashlib.sha256(plain.read_bytes()).hexdigest()
