#!/usr/bin/env python3
"""Turn rendered manifests or Terraform files into the JSON input the policies read.

The output is conftest's --combine shape, a list of {"path", "contents"}:
  collect_input.py manifests chart.yaml k8s/network-policies/ -o manifests.json   (YAML, "-" = stdin)
  collect_input.py terraform terraform/ -o terraform.json                         (needs python-hcl2)
then: opa eval --fail-defined -d policies -i manifests.json 'data.phasekit.kubernetes[policy].deny[msg]'
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _files(paths: list[str], suffixes: tuple[str, ...]) -> list[Path]:
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in suffixes and ".terraform" not in p.parts)
        else:
            found.append(path)
    return found


def manifests(paths: list[str]) -> list[dict[str, Any]]:
    import yaml

    items = []
    if "-" in paths:
        items.append({"path": "<stdin>", "contents": [d for d in yaml.safe_load_all(sys.stdin) if d]})
    for path in _files([p for p in paths if p != "-"], (".yaml", ".yml")):
        if path.name == "kustomization.yaml":
            continue
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        items.append({"path": path.as_posix(), "contents": docs})
    return items


def terraform(paths: list[str]) -> list[dict[str, Any]]:
    import hcl2

    items = []
    for path in _files(paths, (".tf", ".tfvars")):
        with path.open(encoding="utf-8") as handle:
            items.append({"path": path.as_posix(), "contents": hcl2.load(handle)})
    return items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["manifests", "terraform"])
    parser.add_argument("paths", nargs="+", help="files or folders ('-' reads YAML from stdin)")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    args = parser.parse_args(argv)
    collected = manifests(args.paths) if args.kind == "manifests" else terraform(args.paths)
    text = json.dumps(collected, indent=None, sort_keys=True)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
