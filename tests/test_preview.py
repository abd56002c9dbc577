"""preview.py: what `phasekit update` will do to each file, as `update --dry-run` and update itself report it."""

from __future__ import annotations

from helpers import ARCH_FILE, D, committed_repo, git, phasekit, tree_of
from phasekit import model


def test_update_dry_run_previews_every_state_and_writes_nothing(edited_repo, tmp_path):
    before = tree_of(edited_repo)
    result = phasekit("update", "--dry-run", "--dest", str(edited_repo), "--arch", str(ARCH_FILE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    states = {line.rsplit(None, 1)[1].rsplit("/", 1)[1]: line.rsplit(None, 1)[0].strip() for line in result.stdout.splitlines()}
    assert states == {
        "0004-manage-infrastructure-as-code-with-terraform.md": "CONFLICT",
        "0005-monitor-with-prometheus-and-grafana.md": "merge",
        "0006-build-test-and-deploy-with-github-actions.md": "keep (yours)",
        "0010-enforce-policies-as-code-with-opa.md": "new",
        "legacy.md": "delete",
        "notes.md": "keep (yours; no longer generated)",
    }
    assert "adr (.): 1 new, " in result.stderr and "dry run: nothing written" in result.stderr
    assert tree_of(edited_repo) == before


def test_update_reports_deleted_generated_files_truthfully(tmp_path):
    """Issue 13.10: a generated file the team deleted was reported "new" but never created (copier keeps
    the deletion). It is reported as missing, before and after, and stays deleted."""
    repo = committed_repo(tmp_path, ["adr"])
    gone = [repo / D / "0001-record-architecture-decisions.md", repo / D / "0002-separate-liveness-readiness-and-startup-checks.md"]
    for path in gone:
        path.unlink()
    git(repo, "commit", "-qam", "we keep our decisions elsewhere")
    arch = model.load(repo / "architecture.yaml")
    arch["services"].append({"name": "billing", "ports": [{"port": 7000}]})
    (repo / "architecture.yaml").write_text(model.dump(model.validate(arch)))
    git(repo, "commit", "-qam", "billing")
    for extra in (["--dry-run"], []):
        result = phasekit("update", *extra, "--dest", str(repo), "--arch", str(repo / "architecture.yaml"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        reported = {line.rsplit(None, 1)[1].rsplit("/", 1)[1]: line.rsplit(None, 1)[0].strip() for line in result.stdout.splitlines()}
        for path in gone:
            assert reported[path.name] == "missing (deleted here; not recreated)"
        assert "new" not in reported.values() and "2 missing" in result.stderr
        assert not any(path.exists() for path in gone)

