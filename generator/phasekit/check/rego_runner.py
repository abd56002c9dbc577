"""Compile a set of rego files on the real OPA engine and run every `test_*` rule of its `*_test.rego` files.

Run by `phasekit check` with the python that has opa-golib-python-bindings ($PHASEKIT_OPA_PYTHON), because
no `opa` CLI is available: `python rego_runner.py FILE.rego...`. Prints one JSON object:
{"compile": null | "error", "tests": [{"file", "name", "passed", "error"}]}. Exit 0 when it could run.
Like `opa test`, a test passes only when its rule is defined and true; `todo_test_*` rules are not run.
"""

import json
import re
import sys

from opa_bindings import OpaEngine
from opa_bindings.engine import OpaError, OpaUndefinedError

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.M)
_TEST = re.compile(r"^(test_\w+)\b", re.M)


def main(files):
    report = {"compile": None, "tests": []}
    sources = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            sources[f] = fh.read()
    with OpaEngine() as engine:
        try:
            for f, src in sources.items():
                engine.add_policy(f, src)
            engine.eval_query("true")  # forces compilation of every module (type errors surface here)
        except OpaError as exc:
            report["compile"] = str(exc)
            print(json.dumps(report))
            return 0
        for f, src in sources.items():
            if not f.endswith("_test.rego"):
                continue
            pkg = _PACKAGE.search(src)
            if pkg is None:
                continue
            for name in sorted(set(_TEST.findall(src))):
                entry = {"file": f, "name": f"data.{pkg.group(1)}.{name}", "passed": False, "error": None}
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
    sys.exit(main(sys.argv[1:]))
