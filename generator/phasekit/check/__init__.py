"""`phasekit check`: run each ecosystem's own validator on every artifact found in a folder.

Public API (stable; blueprint tests use it)::

    from phasekit import check

    report = check.run(path)                       # -> check.Report
    report = check.run(path, validators=["kubernetes-validate", "helm-lint"], kube_version="1.31",
                       timeout=180, jobs=2, env={...})  # env replaces os.environ (PATH decides what is installed)
    report.ok()              # True when nothing failed;  report.ok(strict=True): nothing skipped either
    report.passed / .failed / .skipped               # counts;  report.summary() == "3 passed, 0 failed, 1 skipped"
    report.results           # [check.Result(validator, artifact, status, message, seconds)], sorted
    report.select(validator="helm-lint", artifact="deploy/helm/app", status=check.Status.FAILED)
    report.to_dict()         # what `--format json` prints
    check.format_text(report)
    check.VALIDATORS         # {name: description} of every adapter

Result.artifact is the path relative to the root (posix); a qualifier may follow in parentheses, e.g.
"charts/app (values-prod.yaml)" or "k8s/app.yaml (CKV_K8S_8 Deployment.default.app)"; `select(artifact=...)`
matches the path with or without the qualifier, and a prefix ending in "/" matches a whole folder.
Status is PASSED, FAILED (message = the validator's own output) or SKIPPED (tool missing, or nothing it can
validate): a skip is never a pass. A file that does not parse fails the `parse` validator; a validator
call that runs past `timeout` seconds, or an adapter that crashes, is a FAILED result and the run goes on.

Artifacts are found by what they are, not where they are: see docs/check.md for the table of validators.
Adapters live in `phasekit.check.validators`, one module each, behind `phasekit.check.Validator`.
"""

from __future__ import annotations

import json

from ._core import DEFAULT_KUBE_VERSION, DEFAULT_TIMEOUT, Artifact, Context, Report, Result, Status, Validator
from ._runner import default_kube_version, run
from .validators import ALL

VALIDATORS: dict[str, str] = {v.name: v.description for v in ALL}

__all__ = [
    "DEFAULT_KUBE_VERSION", "DEFAULT_TIMEOUT", "VALIDATORS", "Artifact", "Context", "Report", "Result", "Status",
    "Validator", "default_kube_version", "format_json", "format_text", "run",
]


def format_text(report: Report, verbose: bool = False) -> str:
    """One line per validator x artifact, failures followed by the validator's message, then the summary."""
    width = max([len(r.validator) for r in report.results] + [10])
    lines = []
    for r in report.results:
        line = f"{r.status.value:<8} {r.validator:<{width}} {r.artifact}"
        if r.status is Status.SKIPPED or (verbose and r.message and r.status is Status.PASSED):
            line += f"  ({r.message.splitlines()[0] if r.message else ''})"
        lines.append(line)
        if r.status is Status.FAILED and r.message:
            lines += ["    " + ln for ln in r.message.splitlines()[:60]]
    lines.append(f"{report.summary()} ({report.seconds:.1f}s, Kubernetes {report.kube_version})")
    return "\n".join(lines)


def format_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2)
