"""update.py: the 3-way merge from an older template version, its session (no commit left behind) and abort."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import ADR, ARCH_FILE, D, committed_repo, git, kill_after, phasekit, tree_of
from phasekit import model, render
from phasekit import update as updating


def test_update_keeps_user_edits_and_brings_template_changes(tmp_path, two_versions):
    v1, v2 = two_versions
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ARCH_FILE, repo / "architecture.yaml")
    git(repo, "init", "-q")
    render.apply(model.load(ARCH_FILE), repo, ["adr"], render.Source(v1.src_path, v1.ref))
    assert "- Old line: v1" in (repo / ADR / "0005-monitor-with-prometheus-and-grafana.md").read_text()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "phasekit v0.0.1")
    readme = repo / ADR / "README.md"
    readme.write_text(readme.read_text() + "\nMaintained by the platform team.\n")
    git(repo, "commit", "-qam", "our edit")

    result = phasekit("update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Maintained by the platform team." in readme.read_text()  # the user's edit survived
    record = (repo / ADR / "0005-monitor-with-prometheus-and-grafana.md").read_text()
    assert "Old line" not in record  # the template's change arrived
    assert "old wording" not in (repo / ADR / "0004-manage-infrastructure-as-code-with-terraform.md").read_text()
    answers = yaml.safe_load((repo / ".copier-answers.adr.yml").read_text())
    assert answers["_commit"] == v2.ref == "v0.0.2"


def test_architecture_change_flows_through_update(tmp_path, two_versions):
    v1, _ = two_versions
    repo = tmp_path / "repo"
    repo.mkdir()
    arch = model.load(ARCH_FILE)
    render.apply(arch, repo, ["adr"], render.Source(v1.src_path, v1.ref))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    arch["services"].append({"name": "billing", "ports": [{"port": 7000}]})
    (repo / "architecture.yaml").write_text(model.dump(model.validate(arch)))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "new service")
    result = phasekit("update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "| billing |" in (repo / ADR / "0002-separate-liveness-readiness-and-startup-checks.md").read_text()


def test_update_refuses_a_dirty_repo_and_says_why(tmp_path):
    repo = tmp_path / "repo"
    assert phasekit("apply", "--arch", str(ARCH_FILE), "--dest", str(repo), "--blueprint", "adr", cwd=tmp_path).returncode == 0
    git(repo, "init", "-q")
    result = phasekit("update", "--dest", str(repo), "--arch", str(ARCH_FILE), cwd=tmp_path)
    assert result.returncode == 1 and "uncommitted changes" in result.stderr and result.stderr.count("\n") == 1


def test_update_without_applied_blueprints(tmp_path):
    result = phasekit("update", "--dest", str(tmp_path), "--arch", str(ARCH_FILE), cwd=tmp_path)
    assert result.returncode == 1 and "run `phasekit apply` first" in result.stderr


def test_update_keeps_edits_reports_conflicts_and_never_loses_a_file(edited_repo, tmp_path):
    result = phasekit("update", "--dest", str(edited_repo), "--arch", str(ARCH_FILE), cwd=tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("phasekit: error: update left conflict markers in 1 file(s): ")
    assert last.count(".md") == 1 and "0004-manage-infrastructure-as-code-with-terraform.md" in last
    conflicted = (edited_repo / D / "0004-manage-infrastructure-as-code-with-terraform.md").read_text()
    assert "<<<<<<<" in conflicted and "our wording" in conflicted
    merged = (edited_repo / D / "0005-monitor-with-prometheus-and-grafana.md").read_text()
    assert "Our runbooks: wiki/oncall." in merged and "Old line" not in merged  # both sides' changes
    assert (edited_repo / D / "0006-build-test-and-deploy-with-github-actions.md").read_text().endswith("Team note.\n")
    assert (edited_repo / D / "notes.md").read_text() == "notes the team rewrote\n"  # orphaned, kept
    assert not (edited_repo / D / "legacy.md").exists()  # unedited and dropped by the template
    assert (edited_repo / D / "0010-enforce-policies-as-code-with-opa.md").exists()
    # git explains the state: every change is in the work tree, nothing was committed behind the user's back
    assert git(edited_repo, "log", "--oneline").count("\n") == 2
    assert "0004-manage" in git(edited_repo, "status", "--porcelain")


def test_update_of_several_blueprints_leaves_no_commit_and_every_change_visible(tmp_path):
    repo = committed_repo(tmp_path, ["adr", "health", "network-policy"])
    head = git(repo, "rev-parse", "HEAD")
    arch = model.load(repo / "architecture.yaml")
    arch["services"].append({"name": "billing", "ports": [{"port": 7000}], "depends_on": ["db"]})
    (repo / "architecture.yaml").write_text(model.dump(model.validate(arch)))
    git(repo, "commit", "-qam", "billing")
    head = git(repo, "rev-parse", "HEAD")
    result = phasekit("update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert git(repo, "rev-parse", "HEAD") == head  # no commit on the user's behalf
    changed = git(repo, "status", "--porcelain")
    for path in (".copier-answers.adr.yml", ".copier-answers.health.yml", "health/services.json",
                 "k8s/network-policies/services.yaml"):
        assert path in changed, changed
    assert "billing" in (repo / "health" / "services.json").read_text()
    assert "service-billing" in (repo / "k8s" / "network-policies" / "services.yaml").read_text()
    assert not (Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / updating.BASE_MARKER).exists()


def test_update_with_nothing_to_do_changes_nothing(tmp_path):
    repo = committed_repo(tmp_path, ["adr", "health"])
    result = phasekit("update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert git(repo, "status", "--porcelain") == ""
    assert "nothing to do" in result.stderr


@pytest.mark.parametrize("delay", [1.0, 3.0, 6.0])
def test_killed_update_is_undone_by_abort(tmp_path, delay):
    repo = committed_repo(tmp_path, ["adr", "health", "network-policy"])
    arch = model.load(repo / "architecture.yaml")
    arch["services"].append({"name": "billing", "ports": [{"port": 7000}]})
    (repo / "architecture.yaml").write_text(model.dump(model.validate(arch)))
    git(repo, "commit", "-qam", "billing")
    head, before = git(repo, "rev-parse", "HEAD"), tree_of(repo)
    code = kill_after(["update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml")], tmp_path, delay)
    marker = Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / updating.BASE_MARKER
    if code == -9 and marker.exists():
        result = phasekit("update", "--abort", "--dest", str(repo), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert git(repo, "rev-parse", "HEAD") == head and tree_of(repo) == before
        assert git(repo, "status", "--porcelain") == ""
    else:  # finished (or killed before it began): the repo is either updated or untouched, never half
        assert git(repo, "rev-parse", "HEAD") == head and not marker.exists()
    assert phasekit("update", "--abort", "--dest", str(repo), cwd=tmp_path).returncode == 1  # nothing left to abort


def test_update_where_one_blueprint_only_refreshes_its_answers(tmp_path):
    """An SLO change rewrites adr and monitoring files but only health's answers: each step must leave the
    tree clean for the next copier update."""
    repo = committed_repo(tmp_path, ["adr", "health", "monitoring"])
    arch = model.load(repo / "architecture.yaml")
    arch["services"][0]["slo"]["availability"] = 99.9
    (repo / "architecture.yaml").write_text(model.dump(model.validate(arch)))
    git(repo, "commit", "-qam", "tighter objective")
    head = git(repo, "rev-parse", "HEAD")
    result = phasekit("update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "health (.): nothing to do" in result.stderr
    changed = git(repo, "status", "--porcelain")
    assert ".copier-answers.health.yml" in changed and "monitoring/prometheus/rules.yml" in changed
    assert git(repo, "rev-parse", "HEAD") == head


def test_a_users_git_config_cannot_break_or_hook_into_phasekits_commits(tmp_path, monkeypatch):
    """Signing required (with a gpg that always fails) and a post-commit hook, in the user's global git
    config: the template cache and the temporary commits of `update` still work, and the hook does not run
    in the user's repository."""
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    ran = tmp_path / "hook-ran"
    hook = hooks / "post-commit"
    hook.write_text(f"#!/bin/sh\npwd >> '{ran}'\n")
    hook.chmod(0o755)
    config = tmp_path / "gitconfig"
    config.write_text(f"[commit]\n\tgpgsign = true\n[tag]\n\tgpgsign = true\n[gpg]\n\tprogram = false\n"
                      f"[core]\n\thooksPath = {hooks}\n")
    repo = committed_repo(tmp_path, ["adr", "health"])  # committed before the hostile config applies
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("PHASEKIT_TEMPLATE_CACHE", str(tmp_path / "fresh-cache"))  # built under that config
    with pytest.raises(subprocess.CalledProcessError):  # the config really does break a plain commit
        git(repo, "commit", "-q", "--allow-empty", "-m", "signed?")
    arch = model.load(repo / "architecture.yaml")
    arch["services"].append({"name": "billing", "ports": [{"port": 7000}]})
    (repo / "architecture.yaml").write_text(model.dump(model.validate(arch)))
    git(repo, "-c", "commit.gpgsign=false", "-c", f"core.hooksPath={tmp_path / 'none'}", "commit", "-qam", "billing")
    head = git(repo, "rev-parse", "HEAD")
    # A timeout: with tag.gpgsign on, a plain `git tag` turns into a signed one and waits in an editor.
    result = subprocess.run([sys.executable, "-m", "phasekit.cli", "update", "--dest", str(repo),
                             "--arch", str(repo / "architecture.yaml")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "billing" in (repo / "health" / "services.json").read_text()
    assert git(repo, "rev-parse", "HEAD") == head
    # copier's own scratch repositories (old_copy, new_copy) do run the user's global hooks; the user's
    # repository, where phasekit commits and resets, must not see them.
    ran_in = ran.read_text().split() if ran.exists() else []
    assert str(repo) not in ran_in, "a post-commit hook ran on phasekit's temporary commit"


# ---------------------------------------------------------------- an update killed half-way (issue 13, items 1 and 5)

KILLED = """
import os, sys
from phasekit import cli, gitcmd
from phasekit import update as updating
what, after = os.environ["PHASEKIT_TEST_KILL"].split(":")
seen = [0]
def tick():
    seen[0] += 1
    if seen[0] >= int(after):
        os._exit(137)
if what == "commit":
    real_run = gitcmd.run
    def run(repo, *args, **kwargs):
        out = real_run(repo, *args, **kwargs)
        if args[:1] == ("commit",):
            tick()
        return out
    gitcmd.run = run
else:  # killed once a blueprint's merge wrote its files, before its temporary commit
    real_merge = updating._merge
    def merge(folder, plan):
        real_merge(folder, plan)
        tick()
    updating._merge = merge
sys.exit(cli.main(sys.argv[1:]))
"""


def _repo_with_pending_update(tmp_path: Path) -> Path:
    repo = committed_repo(tmp_path, ["adr", "health", "network-policy"])
    arch = model.load(repo / "architecture.yaml")
    arch["services"].append({"name": "billing", "ports": [{"port": 7000}]})
    (repo / "architecture.yaml").write_text(model.dump(model.validate(arch)))
    git(repo, "commit", "-qam", "billing")
    return repo


def _killed_update(repo: Path, at: str) -> None:
    """Run `phasekit update` and kill it (os._exit, no cleanup) at a given point: `commit:N` after its
    N-th temporary commit, `copier:N` after the N-th blueprint's merge (updating._merge) wrote its files."""
    result = subprocess.run([sys.executable, "-c", KILLED, "update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml")],
                            capture_output=True, text=True, env={**os.environ, "PHASEKIT_TEST_KILL": at})
    assert result.returncode == 137, result.stderr
    assert (Path(git(repo, "rev-parse", "--absolute-git-dir").strip()) / updating.BASE_MARKER).exists()


@pytest.mark.parametrize("at", ["commit:1", "copier:2"])
def test_abort_undoes_exactly_what_the_killed_update_wrote(tmp_path, at):
    repo = _repo_with_pending_update(tmp_path)
    head, before = git(repo, "rev-parse", "HEAD"), tree_of(repo)
    ignored = repo / "build.log"  # git-ignored files are the user's: never cleaned
    (repo / ".git" / "info" / "exclude").write_text("build.log\n")
    ignored.write_text("mine\n")
    _killed_update(repo, at)
    assert git(repo, "rev-parse", "HEAD") != head or git(repo, "status", "--porcelain")  # something to undo
    result = phasekit("update", "--abort", "--dest", str(repo), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == ""
    assert {k: v for k, v in tree_of(repo).items() if k != "build.log"} == before and ignored.read_text() == "mine\n"


@pytest.mark.parametrize("later", ["new file", "commit", "edited file"])
def test_abort_refuses_when_anything_else_changed_after_the_kill(tmp_path, later):
    repo = _repo_with_pending_update(tmp_path)
    _killed_update(repo, "commit:1")
    if later == "new file":
        (repo / "notes.txt").write_text("written after the kill\n")
    elif later == "commit":
        (repo / "notes.txt").write_text("committed after the kill\n")
        git(repo, "add", "notes.txt")
        git(repo, "commit", "-qm", "our work")
    else:  # a file the update had already committed (adr is the first blueprint), edited by the user
        readme = repo / ADR / "README.md"
        readme.write_text(readme.read_text() + "our line\n")
    head, files = git(repo, "rev-parse", "HEAD"), tree_of(repo)
    result = phasekit("update", "--abort", "--dest", str(repo), cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "not aborted" in result.stderr and "nothing was changed" in result.stderr
    assert git(repo, "rev-parse", "HEAD") == head and tree_of(repo) == files  # the later work is all there
    # the marker has expired: a second abort cannot destroy the later work either
    again = phasekit("update", "--abort", "--dest", str(repo), cwd=tmp_path)
    assert again.returncode == 1 and "nothing to abort" in again.stderr and tree_of(repo) == files


@pytest.mark.parametrize("at", ["commit:1", "copier:2"])
def test_update_after_a_kill_points_to_abort_and_never_keeps_temporary_commits(tmp_path, at):
    repo = _repo_with_pending_update(tmp_path)
    head = git(repo, "rev-parse", "HEAD")
    _killed_update(repo, at)
    result = phasekit("update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml"), cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "phasekit update --abort" in result.stderr
    assert phasekit("update", "--abort", "--dest", str(repo), cwd=tmp_path).returncode == 0
    result = phasekit("update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert git(repo, "rev-parse", "HEAD") == head  # no temporary commit became history
    assert "billing" in (repo / "health" / "services.json").read_text()

