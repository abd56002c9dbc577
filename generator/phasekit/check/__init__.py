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

from ._core import DEFAULT_KUBE_VERSION, DEFAULT_TIMEOUT, INSTALL_HINT, Artifact, Context, Report, Result, Status, Validator
from ._generated import Generated
from ._runner import default_kube_version, run
from .validators import ALL

VALIDATORS: dict[str, str] = {v.name: v.description for v in ALL}

__all__ = [
    "DEFAULT_KUBE_VERSION", "DEFAULT_TIMEOUT", "VALIDATORS", "Artifact", "Context", "Report", "Result", "Status",
    "Validator", "default_kube_version", "failures_by_file", "format_json", "format_sarif", "format_text", "run",
]


def format_text(report: Report, verbose: bool = False, generated: Generated | None = None) -> str:
    """One line per validator x artifact (failures followed by the validator's message), then the failures
    grouped by file (whose file: phasekit's output or yours, when `generated` is given), then the summary;
    how to install missing validators is said once."""
    width = max([len(r.validator) for r in report.results] + [10])
    lines = []
    for r in report.results:
        line = f"{r.status.value:<8} {r.validator:<{width}} {r.artifact}"
        if r.status is Status.SKIPPED or (verbose and r.message and r.status is Status.PASSED):
            line += f"  ({r.message.splitlines()[0] if r.message else ''})"
        lines.append(line)
        if r.status is Status.FAILED and r.message:
            lines += ["    " + ln for ln in r.message.splitlines()[:60]]
    by_file = failures_by_file(report)
    if by_file:
        lines += ["", f"Failures by file ({len(by_file)} file{'' if len(by_file) == 1 else 's'}):"]
        file_width = min(max(len(f) for f in by_file), 60)
        for path, validators in by_file.items():
            owner = "" if not generated else ("  [phasekit wrote it]" if generated.owns(path) else "  [yours]")
            lines.append(f"  {path:<{file_width}}  {', '.join(validators)}{owner}")
    missing = sorted({r.validator for r in report.results if r.status is Status.SKIPPED and r.message.endswith(" not found")})
    if missing:
        checks = sum(1 for r in report.results if r.status is Status.SKIPPED and r.message.endswith(" not found"))
        lines += ["", f"{checks} check{'' if checks == 1 else 's'} skipped because a validator is not installed "
                      f"({', '.join(missing)}): {INSTALL_HINT}"]
    summary = report.summary()
    if generated and report.failed:
        ours = sum(1 for r in report.results if r.status is Status.FAILED and generated.owns(r.artifact))
        summary = summary.replace(f"{report.failed} failed",
                                  f"{report.failed} failed ({ours} in files phasekit wrote, {report.failed - ours} in yours)")
    lines.append(f"{summary} ({report.seconds:.1f}s, Kubernetes {report.kube_version})")
    return "\n".join(lines)


def failures_by_file(report: Report) -> dict[str, list[str]]:
    """file (the artifact without its qualifier) -> the validators that failed on it, in file order."""
    out: dict[str, list[str]] = {}
    for r in report.results:
        if r.status is Status.FAILED:
            names = out.setdefault(r.artifact.split(" (", 1)[0], [])
            if r.validator not in names:
                names.append(r.validator)
    return dict(sorted(out.items()))


def format_json(report: Report, generated: Generated | None = None) -> str:
    data = report.to_dict()
    if generated:
        for item in data["results"]:
            item["generated"] = generated.owns(item["artifact"])
    if any(r.status is Status.SKIPPED and r.message.endswith(" not found") for r in report.results):
        data["install_hint"] = INSTALL_HINT
    return json.dumps(data, indent=2)


SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def format_sarif(report: Report, generated: Generated | None = None) -> str:
    """SARIF 2.1.0 for code-scanning upload: one rule per validator, one result per failure (level error),
    located at the artifact's file relative to the checked folder."""
    from .. import __version__

    failed = [r for r in report.results if r.status is Status.FAILED]
    rules = sorted({r.validator for r in failed})
    results = []
    for r in failed:
        path = r.artifact.split(" (", 1)[0]
        first = next((ln.strip() for ln in r.message.splitlines() if ln.strip()), f"{r.validator} failed")
        properties: dict[str, object] = {"details": r.message[:4000]}
        if generated:
            properties["generatedByPhasekit"] = generated.owns(r.artifact)
        result = {
            "ruleId": r.validator,
            "ruleIndex": rules.index(r.validator),
            "level": "error",
            "message": {"text": f"{r.artifact}: {first}" if r.artifact != path else first},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"}}}],
            "properties": properties,
        }
        results.append(result)
    run = {
        "tool": {"driver": {
            "name": "phasekit check", "version": __version__, "informationUri": "https://phasekit.dev",
            "rules": [{"id": name, "name": name, "shortDescription": {"text": VALIDATORS.get(name, name)}}
                      for name in rules],
        }},
        "originalUriBaseIds": {"%SRCROOT%": {"uri": report.root.as_uri() + "/"}},
        "results": results,
    }
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2)
