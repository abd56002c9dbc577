"""Compile a set of rego files on the real OPA engine and run every `test_*` rule of its `*_test.rego` files.

Run by `phasekit check` with the python that has opa-golib-python-bindings ($PHASEKIT_OPA_PYTHON), because
no `opa` CLI is available: `python rego_runner.py ROOT FILE.rego... [--data data.json...]`. Like
`opa test ROOT`, data.json/data.yaml files are loaded under the path of their folder relative to ROOT.
Prints one JSON object: {"compile": null | "error", "tests": [{"file", "name", "passed", "error"}]}.
A test passes only when its rule is defined and true; `todo_test_*` rules are not run.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any, TypedDict

from opa_bindings import OpaEngine
from opa_bindings.engine import OpaError, OpaUndefinedError

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.M)
_TEST = re.compile(r"^(test_\w+)\b", re.M)


class RuleOutcome(TypedDict):
    """One `test_*` rule: its file, its full name (data.<package>.<rule>), and why it failed to evaluate."""

    file: str
    name: str
    passed: bool
    error: str | None


class RunReport(TypedDict):
    """What the runner prints: the compile error (None: every module compiled) and the test outcomes."""

    compile: str | None
    tests: list[RuleOutcome]


def _load_data(path: str) -> Any:
    with open(path, encoding="utf-8") as fh:
        if path.endswith(".json"):
            return json.load(fh)
        import yaml  # the validators venv has PyYAML (yamllint needs it)

        return yaml.safe_load(fh)


def main(root: str, args: list[str]) -> int:
    files = [a for a in args if a.endswith(".rego")]
    data_files = [a for a in args if not a.endswith(".rego")]
    report: RunReport = {"compile": None, "tests": []}
    sources: dict[str, str] = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            sources[f] = fh.read()
    with OpaEngine() as engine:
        try:
            for f in data_files:
                rel = os.path.relpath(os.path.dirname(os.path.abspath(f)), root)
                prefix = "" if rel == "." else "/".join(rel.split(os.sep))
                engine.add_data(_load_data(f), prefix)
            for f, src in sources.items():
                engine.add_policy(f, src)
            engine.eval_query("true")  # forces compilation of every module (type errors surface here)
        except (OpaError, ValueError, OSError) as exc:
            report["compile"] = str(exc)
            print(json.dumps(report))
            return 0
        for f, src in sources.items():
            if not f.endswith("_test.rego"):
                continue
            pkg = _PACKAGE.search(src)
            if pkg is None:
                continue
            names = sorted(set(_TEST.findall(src)))
            try:  # one evaluation of the whole test package; per test only when that errors
                whole = engine.eval_document(pkg.group(1), None)
            except OpaError:
                whole = None
            for name in names:
                entry: RuleOutcome = {"file": f, "name": f"data.{pkg.group(1)}.{name}", "passed": False, "error": None}
                if isinstance(whole, dict):
                    entry["passed"] = whole.get(name) is True
                    entry["error"] = None if name in whole else "undefined"
                else:
                    try:
                        entry["passed"] = engine.eval_document(f"{pkg.group(1)}.{name}", None) is True
                    except OpaUndefinedError:
                        entry["error"] = "undefined"
                    except OpaError as exc:
                        entry["error"] = str(exc)
                report["tests"].append(entry)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
