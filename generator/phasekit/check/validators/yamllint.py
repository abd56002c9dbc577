"""Every YAML file (Helm templates excepted): yamllint, `relaxed` config unless the repo has its own .yamllint.
One yamllint call for all files; its parsable output is split per file. Answers files are left out: they are
data copier writes as JSON (the parse validator still reads each one), not YAML anyone edits, and they were
a third of yamllint's time."""

from __future__ import annotations

import re

from .._core import Artifact, Context, Result, Status, Validator
from .._inventory import Inventory

_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): \[(?P<level>error|warning)\] (?P<msg>.*)$")
_OWN = (".yamllint", ".yamllint.yaml", ".yamllint.yml")
CHUNK = 400  # files per call (argv length)


class Yamllint(Validator):
    name = "yamllint"
    tools = ("yamllint",)
    description = "yamllint -d relaxed -f parsable (errors fail, warnings are listed)"
    batch = True
    slow = 2  # one call over every YAML file, pure Python: among the longest at 200 services

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in inventory.yaml_files if not p.name.startswith(".copier-answers.")]

    def check_batch(self, artifacts: list[Artifact], ctx: Context) -> list[Result]:
        own = [ctx.root / f for f in _OWN if (ctx.root / f).is_file()]
        config = ["-c", str(own[0])] if own else ["-d", "relaxed"]
        results = []
        for i in range(0, len(artifacts), CHUNK):
            chunk = artifacts[i : i + CHUNK]
            proc = ctx.run(["yamllint", *config, "-f", "parsable", *[a.label for a in chunk]], cwd=ctx.root)
            lines = [m for m in (_LINE.match(ln) for ln in proc.output.splitlines()) if m]
            if proc.returncode not in (0, 1) and not lines:  # yamllint itself failed (bad config, crash)
                results += [self.result(a, Status.FAILED, proc.output) for a in chunk]
                continue
            for a in chunk:
                mine = [m for m in lines if m["file"] == a.label]
                errors = [m.group(0) for m in mine if m["level"] == "error"]
                warnings = [m for m in mine if m["level"] == "warning"]
                if errors:
                    results.append(self.result(a, Status.FAILED, "\n".join(errors)))
                else:
                    results.append(self.result(a, Status.PASSED, f"{len(warnings)} warning(s)" if warnings else ""))
        return results

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        return self.check_batch([artifact], ctx)[0]
