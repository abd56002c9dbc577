"""apply (all-or-nothing, refuses to overwrite) and update (3-way merge from an older template version)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO, read_only_folder, tree_of
from phasekit import model, render, template_repo
from phasekit import update as updating
from phasekit.errors import PhasekitError
from phasekit.resources import template_root

ARCH_FILE = REPO / "examples" / "filetransfer" / "architecture.yaml"
ADR = Path("docs/architecture/decisions")


def phasekit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phasekit.cli", *args], capture_output=True, text=True, cwd=cwd, env=os.environ)


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env).stdout


def test_apply_writes_adr_records_and_answers(tmp_path):
    result = phasekit("apply", "--arch", str(ARCH_FILE), "--dest", str(tmp_path / "repo"), "--blueprint", "adr", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    repo = tmp_path / "repo"
    answers = yaml.safe_load((repo / ".copier-answers.adr.yml").read_text())
    assert answers["blueprint"] == "adr" and answers["_commit"].startswith("v")
    assert answers["architecture"] == model.load(ARCH_FILE)
    records = sorted(p.name for p in (repo / ADR).glob("0*.md"))
    # filetransfer has static IPs and secrets but no worker: 0003 and 0007 are there, 0011 is not
    assert "0003-replace-static-addresses-with-service-discovery.md" in records
    assert "0007-keep-secrets-out-of-configuration.md" in records
    assert not any(r.startswith("0011") for r in records)
    index = (repo / ADR / "README.md").read_text()
    assert all(f"({r})" in index for r in records)
    static = (repo / ADR / records[2]).read_text()
    for svc in model.load(ARCH_FILE)["services"]:
        for ip in svc["static_ips"].values():
            assert ip in static
    for line in result.stdout.splitlines():
        assert line.startswith("wrote ")


def test_apply_twice_changes_nothing(tmp_path):
    for _ in range(2):
        result = phasekit("apply", "--arch", str(ARCH_FILE), "--dest", "out", "--blueprint", "adr", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    before = tree_of(tmp_path / "out")
    result = phasekit("apply", "--arch", str(ARCH_FILE), "--dest", "out", "--blueprint", "adr", cwd=tmp_path)
    assert "wrote 0 files" in result.stderr and tree_of(tmp_path / "out") == before


def test_dry_run_writes_nothing(tmp_path):
    result = phasekit("apply", "--arch", str(ARCH_FILE), "--dest", "out", "--all", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "would write" in result.stdout and not (tmp_path / "out").exists()


def test_refuses_to_overwrite_a_users_file(tmp_path):
    mine = tmp_path / ADR / "README.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("our own index\n")
    result = phasekit("apply", "--arch", str(ARCH_FILE), "--dest", ".", "--blueprint", "adr", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "README.md exists and differs" in result.stderr
    assert mine.read_text() == "our own index\n"
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["README.md"]  # nothing else written
    assert phasekit("apply", "--arch", str(ARCH_FILE), "--dest", ".", "--blueprint", "adr", "--force", cwd=tmp_path).returncode == 0


def test_unwritable_dest(tmp_path):
    with read_only_folder(tmp_path / "locked") as locked:
        result = phasekit("apply", "--arch", str(ARCH_FILE), "--dest", str(locked), "--blueprint", "adr", cwd=tmp_path)
        assert result.returncode == 1 and "is not writable" in result.stderr


def test_unwritable_dest_as_root_is_caught_by_the_check(tmp_path, monkeypatch):
    """Root can write anywhere, so prove the check itself with os.access denied."""
    monkeypatch.setattr(render.os, "access", lambda *_a, **_k: False)
    with pytest.raises(PhasekitError, match="is not writable"):
        render.apply(model.load(ARCH_FILE), tmp_path / "x", ["adr"], render.Source.resolve(None, None))


def test_all_or_nothing_when_a_blueprint_fails(tmp_path, monkeypatch):
    source = render.Source.resolve(None, None)
    real = render.render_to

    def failing(tmp, arch, blueprint, src, extra=None):
        if blueprint == "adr":
            return real(tmp, arch, blueprint, src, extra)
        raise PhasekitError(f"blueprint {blueprint}: boom")

    monkeypatch.setattr(render, "render_to", failing)
    monkeypatch.setattr(render.catalogue, "get", lambda name: None)
    with pytest.raises(PhasekitError, match="boom"):
        render.apply(model.load(ARCH_FILE), tmp_path / "out", ["adr", "health"], source)
    assert not (tmp_path / "out").exists()


def test_bad_architecture_is_one_line(tmp_path):
    (tmp_path / "architecture.yaml").write_text("version: 1\nproject: {name: x}\nservices:\n  - name: a\n    ports: [{port: 99999}]\n")
    result = phasekit("apply", "--blueprint", "adr", "--dest", "out", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "architecture.yaml:5: services[0].ports[0].port: 99999" in result.stderr and not (tmp_path / "out").exists()


def test_unknown_blueprint_and_usage_errors(tmp_path):
    result = phasekit("apply", "--arch", str(ARCH_FILE), "--blueprint", "nope", cwd=tmp_path)
    assert result.returncode == 1 and "unknown blueprint 'nope'" in result.stderr
    assert phasekit("apply", "--phase", "9", cwd=tmp_path).returncode == 2


def test_blueprints_lists_phases(tmp_path):
    result = phasekit("blueprints", cwd=tmp_path)
    assert result.returncode == 0
    assert any(line.split()[:3] == ["adr", "phase", "1"] for line in result.stdout.splitlines())


# ---------------------------------------------------------------- update from an older template version


@pytest.fixture
def two_versions(tmp_path, monkeypatch):
    """A template cache holding v0.0.1 (an older adr blueprint) and v0.0.2 (the current one)."""
    monkeypatch.setenv("PHASEKIT_TEMPLATE_CACHE", str(tmp_path / "cache"))
    old = tmp_path / "old-template"
    shutil.copytree(template_root(), old, ignore=shutil.ignore_patterns("__pycache__"))
    record = old / "blueprints/adr/docs/architecture/decisions/0005-monitor-with-prometheus-and-grafana.md.jinja"
    record.write_text(record.read_text().replace("- Status: proposed\n", "- Status: proposed\n- Old line: v1\n"))
    (old / "blueprints/adr/docs/architecture/decisions/0004-manage-infrastructure-as-code-with-terraform.md.jinja").write_text(
        "# 4. Terraform\n\nStatus: proposed\n\nold wording\n")
    v1 = template_repo.ensure(old, version="0.0.1")
    v2 = template_repo.ensure(template_root(), version="0.0.2")
    return v1, v2


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


def test_update_on_a_fresh_machine_from_the_shipped_bundle(tmp_path, two_versions, monkeypatch):
    """A repo generated by an older release updates on a machine that never ran it: the bundle seeds the cache."""
    v1, _ = two_versions
    repo = tmp_path / "repo"
    repo.mkdir()
    render.apply(model.load(ARCH_FILE), repo, ["adr"], render.Source(v1.src_path, v1.ref))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v1")
    bundle = tmp_path / "template-history.bundle"
    template_repo.write_bundle(bundle)
    shutil.rmtree(tmp_path / "cache")  # the fresh machine has no cache ...
    monkeypatch.setattr(template_repo, "shipped_bundle", lambda: bundle)  # ... but the package ships history
    plans = updating.run(model.load(ARCH_FILE), repo, render.Source.resolve(None, None))
    assert [p.blueprint for p in plans] == ["adr"]
    assert "Old line" not in (repo / ADR / "0005-monitor-with-prometheus-and-grafana.md").read_text()


def test_update_refuses_a_dirty_repo_and_says_why(tmp_path):
    repo = tmp_path / "repo"
    assert phasekit("apply", "--arch", str(ARCH_FILE), "--dest", str(repo), "--blueprint", "adr", cwd=tmp_path).returncode == 0
    git(repo, "init", "-q")
    result = phasekit("update", "--dest", str(repo), "--arch", str(ARCH_FILE), cwd=tmp_path)
    assert result.returncode == 1 and "uncommitted changes" in result.stderr and result.stderr.count("\n") == 1


def test_update_without_applied_blueprints(tmp_path):
    result = phasekit("update", "--dest", str(tmp_path), "--arch", str(ARCH_FILE), cwd=tmp_path)
    assert result.returncode == 1 and "run `phasekit apply` first" in result.stderr


# ---------------------------------------------------------------- plain copier, no --trust


def test_plain_copier_copy_and_update_without_trust(tmp_path, two_versions):
    v1, v2 = two_versions
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ARCH_FILE, repo / "architecture.yaml")  # picked up as the default answer
    copier = [sys.executable, "-m", "copier"]
    src = str(Path(v1.src_path).expanduser())
    result = subprocess.run([*copier, "copy", "--defaults", "-d", "blueprint=adr", "-r", v1.ref, src, str(repo)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (repo / ADR / "0001-record-architecture-decisions.md").exists()
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "copied")
    result = subprocess.run([*copier, "update", "--defaults", "-a", ".copier-answers.adr.yml", "-r", v2.ref],
                            capture_output=True, text=True, cwd=repo)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load((repo / ".copier-answers.adr.yml").read_text())["_commit"] == v2.ref


# ---------------------------------------------------------------- preview and the guarantees of update

D = "docs/architecture/decisions"


@pytest.fixture
def edited_repo(tmp_path, monkeypatch):
    """A repo generated from an older template (v0.0.1) with the team's edits in several files."""
    monkeypatch.setenv("PHASEKIT_TEMPLATE_CACHE", str(tmp_path / "cache"))
    old = tmp_path / "old-template"
    shutil.copytree(template_root(), old, ignore=shutil.ignore_patterns("__pycache__"))
    adr = old / "blueprints/adr" / D
    r5 = adr / "0005-monitor-with-prometheus-and-grafana.md.jinja"
    r5.write_text(r5.read_text().replace("- Status: proposed\n", "- Status: proposed\n- Old line: v1\n"))
    (adr / "0004-manage-infrastructure-as-code-with-terraform.md.jinja").write_text("# 4. Terraform\n\nold wording\n")
    (adr / "notes.md.jinja").write_text("notes the old template wrote\n")
    (adr / "legacy.md.jinja").write_text("legacy page\n")
    (adr / "0010-enforce-policies-as-code-with-opa.md.jinja").unlink()
    v1 = template_repo.ensure(old, version="0.0.1")
    template_repo.ensure(template_root(), version="0.0.2")
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ARCH_FILE, repo / "architecture.yaml")
    render.apply(model.load(ARCH_FILE), repo, ["adr"], render.Source(v1.src_path, v1.ref))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "v0.0.1")
    (repo / D / "0005-monitor-with-prometheus-and-grafana.md").write_text(
        (repo / D / "0005-monitor-with-prometheus-and-grafana.md").read_text() + "\nOur runbooks: wiki/oncall.\n")
    (repo / D / "0004-manage-infrastructure-as-code-with-terraform.md").write_text("# 4. Terraform\n\nour wording\n")
    (repo / D / "notes.md").write_text("notes the team rewrote\n")
    (repo / D / "0006-build-test-and-deploy-with-github-actions.md").write_text(
        (repo / D / "0006-build-test-and-deploy-with-github-actions.md").read_text() + "\nTeam note.\n")
    git(repo, "commit", "-qam", "team edits")
    return repo


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


def test_rendering_from_a_plain_copy_equals_rendering_through_git(tmp_path, template_source):
    """apply renders from an extracted copy of the tagged template (no clone per blueprint); the output,
    answers file included, must be byte-identical to what copier writes when it clones the tag itself."""
    arch = model.load(ARCH_FILE)
    fast, slow = tmp_path / "fast", tmp_path / "slow"
    render.render_to(fast, arch, "adr", template_source)
    through_git = render.Source(template_source.src_path, template_source.vcs_ref)
    through_git.plain = lambda: None  # type: ignore[method-assign]
    render.render_to(slow, arch, "adr", through_git)
    assert tree_of(fast) == tree_of(slow)
    assert yaml.safe_load((fast / ".copier-answers.adr.yml").read_text())["_commit"] == template_source.vcs_ref


def _committed_repo(tmp_path: Path, blueprints: list[str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ARCH_FILE, repo / "architecture.yaml")
    render.apply(model.load(ARCH_FILE), repo, blueprints, render.Source.resolve(None, None))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "applied")
    return repo


def test_update_of_several_blueprints_leaves_no_commit_and_every_change_visible(tmp_path):
    repo = _committed_repo(tmp_path, ["adr", "health", "network-policy"])
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
    repo = _committed_repo(tmp_path, ["adr", "health"])
    result = phasekit("update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert git(repo, "status", "--porcelain") == ""
    assert "nothing to do" in result.stderr


def _kill_after(argv: list[str], cwd: Path, seconds: float) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "phasekit.cli", *argv], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


@pytest.mark.parametrize("delay", [0.5, 1.5, 3.0])
def test_killed_apply_is_completed_by_running_it_again(tmp_path, delay):
    reference = tmp_path / "reference"
    args = ["apply", "--arch", str(ARCH_FILE), "--blueprint", "adr", "--blueprint", "health", "--blueprint", "opa"]
    assert phasekit(*args, "--dest", str(reference), cwd=tmp_path).returncode == 0
    target = tmp_path / "target"
    target.mkdir()
    (target / "ours.txt").write_text("the team's file\n")
    _kill_after([*args, "--dest", str(target)], tmp_path, delay)
    # whatever was written is whole: every file present is byte-identical to the uninterrupted run
    for path in target.rglob("*"):
        if path.is_file() and path.name != "ours.txt" and not path.name.endswith(".phasekit-partial"):
            assert path.read_bytes() == (reference / path.relative_to(target)).read_bytes()
    result = phasekit(*args, "--dest", str(target), cwd=tmp_path)  # the documented recovery: run it again
    assert result.returncode == 0, result.stderr
    assert {k: v for k, v in tree_of(target).items() if k != "ours.txt"} == tree_of(reference)
    assert (target / "ours.txt").read_text() == "the team's file\n"


@pytest.mark.parametrize("delay", [1.0, 3.0, 6.0])
def test_killed_update_is_undone_by_abort(tmp_path, delay):
    repo = _committed_repo(tmp_path, ["adr", "health", "network-policy"])
    arch = model.load(repo / "architecture.yaml")
    arch["services"].append({"name": "billing", "ports": [{"port": 7000}]})
    (repo / "architecture.yaml").write_text(model.dump(model.validate(arch)))
    git(repo, "commit", "-qam", "billing")
    head, before = git(repo, "rev-parse", "HEAD"), tree_of(repo)
    code = _kill_after(["update", "--dest", str(repo), "--arch", str(repo / "architecture.yaml")], tmp_path, delay)
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
    repo = _committed_repo(tmp_path, ["adr", "health", "monitoring"])
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
    repo = _committed_repo(tmp_path, ["adr", "health"])  # committed before the hostile config applies
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
    repo = _committed_repo(tmp_path, ["adr", "health", "network-policy"])
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


# ---------------------------------------------------------------- apply when a write cannot succeed (items 4, 13, 16)


@pytest.mark.parametrize("obstacle", ["file named like a folder", "folder named like a file", "symlink out of the repo"])
def test_apply_checks_every_target_before_the_first_write(tmp_path, obstacle):
    dest, outside = tmp_path / "repo", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    if obstacle == "file named like a folder":
        (dest / "terraform").write_text("not a folder\n")
    elif obstacle == "folder named like a file":
        (dest / ".copier-answers.terraform.yml").mkdir()
    else:
        (dest / "docs").symlink_to(outside, target_is_directory=True)
    before = tree_of(dest)
    result = phasekit("apply", "--arch", str(ARCH_FILE), "--dest", str(dest), "--blueprint", "adr",
                      "--blueprint", "health", "--blueprint", "terraform", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "nothing written" in result.stderr
    assert tree_of(dest) == before and not any(outside.iterdir())
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in dest.iterdir() if p.name in
                                                              ("terraform", ".copier-answers.terraform.yml", "docs"))


def test_a_failed_write_puts_back_everything_this_apply_wrote(tmp_path, monkeypatch):
    """A full disk half-way: files written earlier in the run are removed, a file it replaced (--force)
    is put back as it was, no folder it created stays."""
    dest = tmp_path / "repo"
    readme = dest / ADR / "README.md"
    readme.parent.mkdir(parents=True)
    readme.write_text("our own index\n")
    before = tree_of(dest)
    real, calls = render._stage, []

    def stage(src, dst):
        calls.append(dst)
        if len(calls) == 15:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(render, "_stage", stage)
    with pytest.raises(PhasekitError, match="No space left on device; nothing written") as info:
        render.apply(model.load(ARCH_FILE), dest, ["adr", "health"], render.Source.resolve(None, None), force=True)
    assert "\n" not in str(info.value) and len(calls) == 15
    assert tree_of(dest) == before
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["docs", "docs/architecture",
                                                                        "docs/architecture/decisions", str(ADR / "README.md")]


def test_a_rendered_file_is_copied_when_the_scratch_folder_is_on_another_file_system(tmp_path, monkeypatch):
    """Rendered files are renamed into place; across file systems (EXDEV) they are copied, mode kept."""
    rendered, partial = tmp_path / "scratch" / "run.sh", tmp_path / "repo" / ".run.sh.phasekit-partial"
    rendered.parent.mkdir()
    partial.parent.mkdir()
    rendered.write_text("#!/bin/sh\n")
    rendered.chmod(0o755)

    def cross_device(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(render.os, "rename", cross_device)
    render._stage(rendered, partial)
    assert partial.read_text() == "#!/bin/sh\n" and partial.stat().st_mode & 0o777 == 0o755
    assert rendered.exists()  # copied, not moved
    monkeypatch.undo()
    partial.unlink()
    render._stage(rendered, partial)
    assert partial.read_text() == "#!/bin/sh\n" and not rendered.exists()  # same file system: moved


def test_update_reports_deleted_generated_files_truthfully(tmp_path):
    """Issue 13.10: a generated file the team deleted was reported "new" but never created (copier keeps
    the deletion). It is reported as missing, before and after, and stays deleted."""
    repo = _committed_repo(tmp_path, ["adr"])
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
