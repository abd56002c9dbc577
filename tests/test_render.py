"""render.py: apply (all-or-nothing, refuses to overwrite, whole files after a kill) and render_to."""

from __future__ import annotations

import pytest
import yaml

from helpers import ADR, ARCH_FILE, kill_after, phasekit, read_only_folder, tree_of
from phasekit import model, render
from phasekit.errors import PhasekitError


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


@pytest.mark.parametrize("delay", [0.5, 1.5, 3.0])
def test_killed_apply_is_completed_by_running_it_again(tmp_path, delay):
    reference = tmp_path / "reference"
    args = ["apply", "--arch", str(ARCH_FILE), "--blueprint", "adr", "--blueprint", "health", "--blueprint", "opa"]
    assert phasekit(*args, "--dest", str(reference), cwd=tmp_path).returncode == 0
    target = tmp_path / "target"
    target.mkdir()
    (target / "ours.txt").write_text("the team's file\n")
    kill_after([*args, "--dest", str(target)], tmp_path, delay)
    # whatever was written is whole: every file present is byte-identical to the uninterrupted run
    for path in target.rglob("*"):
        if path.is_file() and path.name != "ours.txt" and not path.name.endswith(".phasekit-partial"):
            assert path.read_bytes() == (reference / path.relative_to(target)).read_bytes()
    result = phasekit(*args, "--dest", str(target), cwd=tmp_path)  # the documented recovery: run it again
    assert result.returncode == 0, result.stderr
    assert {k: v for k, v in tree_of(target).items() if k != "ours.txt"} == tree_of(reference)
    assert (target / "ours.txt").read_text() == "the team's file\n"


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
