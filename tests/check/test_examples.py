"""`phasekit check` on everything `phasekit apply --all` writes for the filetransfer example (the blueprint
tests check each blueprint on every example): every validator that applies runs, nothing crashes or times
out, and the output passes all of them; checkov's findings are reported one per failed check."""

from __future__ import annotations

import pytest

from phasekit import check
from phasekit.check import Status


@pytest.fixture(scope="module")
def full_report(all_applied) -> check.Report:  # noqa: ANN001
    return check.run(all_applied("filetransfer"))


@pytest.mark.slow
def test_runs_without_crash_or_timeout(full_report: check.Report) -> None:
    bad = [r for r in full_report.results if "validator crashed" in r.message or "timed out" in r.message
           or r.message.startswith("checkov exited")]
    assert not bad, check.format_text(full_report)
    assert full_report.passed > 0


@pytest.mark.slow
def test_every_written_file_is_found(full_report: check.Report) -> None:
    root = full_report.root
    structured = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix in {".yml", ".yaml", ".json"}
                  and "templates" not in p.relative_to(root).parts}
    assert structured <= {r.artifact for r in full_report.select(validator="parse")}


@pytest.mark.slow
def test_full_output_passes_every_validator_but_checkov(full_report: check.Report) -> None:
    failed = [r for r in full_report.select(status=Status.FAILED) if r.validator != "checkov"]
    assert not failed, check.format_text(full_report)


@pytest.mark.slow
def test_checkov_findings_are_one_result_per_failed_check(full_report: check.Report) -> None:
    results = full_report.select(validator="checkov")
    if results and results[0].status is Status.SKIPPED:
        pytest.skip("checkov is not installed (run scripts/install-validators and source its env.sh)")
    assert results
    for r in full_report.select(validator="checkov", status=Status.FAILED):
        assert r.message.startswith("[") and "CKV" in r.message
