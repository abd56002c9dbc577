"""The first hour of a new user (issue 14): commands found from a subfolder, new-service then update,
apply of the starter kit refused, the template path for plain copier."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO

ARCH_FILE = REPO / "examples" / "filetransfer" / "architecture.yaml"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def phasekit(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "phasekit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **GIT_ENV})


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ARCH_FILE, repo / "architecture.yaml")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    return repo


def test_commands_find_the_repository_roots_architecture_from_a_subfolder(tmp_path):
    repo = _repo(tmp_path)
    deep = repo / "src" / "deeper"
    deep.mkdir(parents=True)
    assessed = phasekit("assess", "--format", "json", cwd=deep)
    assert assessed.returncode == 0, assessed.stderr
    assert "using ../../architecture.yaml" in assessed.stderr
    applied = phasekit("apply", "--blueprint", "adr", cwd=deep)
    assert applied.returncode == 0, applied.stderr
    assert (repo / ".copier-answers.adr.yml").is_file()  # written at the root, beside architecture.yaml
    assert not any(deep.iterdir())


def test_the_search_stops_at_the_git_root(tmp_path):
    shutil.copy(ARCH_FILE, tmp_path / "architecture.yaml")  # above the repository: not its architecture
    inner = tmp_path / "inner"
    inner.mkdir()
    git(inner, "init", "-q")
    (inner / "sub").mkdir()
    result = phasekit("assess", cwd=inner / "sub")
    assert result.returncode == 1
    assert "architecture.yaml: no such file" in result.stderr


def test_new_service_prints_a_next_step_that_works(tmp_path):
    repo = _repo(tmp_path)
    assert phasekit("apply", "--blueprint", "adr", "--blueprint", "ci", cwd=repo).returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "phasekit")
    created = phasekit("new-service", "orders", "--port", "8081", cwd=repo)
    assert created.returncode == 0, created.stderr
    step = created.stderr.strip().splitlines()[-1].strip()
    assert step.startswith("git add ") and step.endswith("phasekit update")
    phasekit_bin = Path(sys.executable).parent
    done = subprocess.run(["bash", "-c", step], cwd=repo, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, "PATH": f"{phasekit_bin}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    answers = yaml.safe_load((repo / ".copier-answers.ci.yml").read_text(encoding="utf-8"))
    assert "orders" in [s["name"] for s in answers["architecture"]["services"]]


def test_apply_refuses_to_write_the_starter_kit_into_the_repository_root(tmp_path):
    repo = _repo(tmp_path)
    result = phasekit("apply", "--blueprint", "service", cwd=repo)
    assert result.returncode == 1
    assert "phasekit new-service NAME" in result.stderr
    assert sorted(p.name for p in repo.iterdir()) == [".git", "architecture.yaml"]


def test_plain_copier_with_template_path_and_copier_data_sees_architecture_edits(tmp_path):
    """The README's plain-copier route: the template path from phasekit, and edits to architecture.yaml reach
    `copier update` through --data-file (it otherwise reuses the architecture in the answers file)."""
    repo = _repo(tmp_path)
    printed = phasekit("template-path", cwd=repo)
    assert printed.returncode == 0, printed.stderr
    template = Path(printed.stdout.strip())
    assert (template / "copier.yml").is_file() and git(template, "tag")
    copier = str(Path(sys.executable).parent / "copier")
    subprocess.run([copier, "copy", "-q", "--defaults", "-d", "blueprint=adr", str(template), "."], cwd=repo, check=True,
                   capture_output=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "adr")
    text = (repo / "architecture.yaml").read_text(encoding="utf-8")
    (repo / "architecture.yaml").write_text(text.replace("name: filetransfer", "name: renamed-system", 1), encoding="utf-8")
    git(repo, "commit", "-qam", "rename")
    data = tmp_path / "data.yml"
    assert phasekit("copier-data", "-o", str(data), cwd=repo).returncode == 0
    subprocess.run([copier, "update", "-q", "--defaults", "--data-file", str(data), "-a", ".copier-answers.adr.yml"],
                   cwd=repo, check=True, capture_output=True)
    assert "renamed-system" in (repo / "docs/architecture/decisions/README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("architecture", [None, "- just\n- a list\n", "project: {name: x}\n"])
def test_plain_copier_without_a_usable_architecture_is_one_line_and_writes_nothing(tmp_path, architecture):
    """No traceback from plain copier (--defaults, as in CI) when architecture.yaml is missing or unusable:
    copier's own one-line error, which names the problem and the command that fixes it."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    if architecture is not None:
        (repo / "architecture.yaml").write_text(architecture, encoding="utf-8")
    before = sorted(p.name for p in repo.iterdir())
    template = Path(phasekit("template-path", cwd=repo).stdout.strip())
    copier = str(Path(sys.executable).parent / "copier")
    result = subprocess.run([copier, "copy", "-q", "--defaults", "-d", "blueprint=adr", str(template), "."], cwd=repo,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "phasekit capture" in line]
    assert len(errors) == 1 and "needs `project` and `services`" in errors[0], result.stderr
    assert sorted(p.name for p in repo.iterdir()) == before


def test_progress_on_a_terminal_and_nothing_extra_when_piped(tmp_path):
    import pexpect

    repo = _repo(tmp_path)
    env = {**os.environ, **GIT_ENV, "TERM": "xterm", "COLUMNS": "120"}
    child = pexpect.spawn(sys.executable, ["-m", "phasekit.cli", "apply", "--blueprint", "adr", "--blueprint", "ci"],
                          cwd=str(repo), env=env, encoding="utf-8", timeout=120, dimensions=(40, 120))
    child.expect_exact("render 2/2: ci")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    child = pexpect.spawn(sys.executable, ["-m", "phasekit.cli", "check", ".", "--validator", "yamllint",
                                           "--validator", "parse"],
                          cwd=str(repo), env=env, encoding="utf-8", timeout=300, dimensions=(40, 120))
    child.expect(r"check \d+/\d+: (yamllint|parse) ")
    child.expect(pexpect.EOF)
    child.close()

    piped = phasekit("check", ".", "--validator", "parse", "--format", "json", cwd=repo)
    assert "\x1b" not in piped.stderr and "\r" not in piped.stderr
    import json

    assert json.loads(piped.stdout)["summary"]  # stdout stays parseable
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "phasekit")
    piped = phasekit("update", cwd=repo)
    assert piped.returncode == 0, piped.stderr
    assert "\x1b" not in piped.stderr and "/2:" not in piped.stderr


def _checked_repo(tmp_path: Path) -> Path:
    repo = _repo(tmp_path)
    assert phasekit("apply", "--blueprint", "health", "--blueprint", "ci", cwd=repo).returncode == 0
    (repo / "own").mkdir()
    (repo / "own" / "Dockerfile").write_text('FROM python:3.12\nRUN pip install flask\nCMD ["python", "app.py"]\n')
    return repo


def test_check_groups_failures_by_file_and_tells_phasekits_files_from_yours(tmp_path):
    import json

    import pytest

    if shutil.which("hadolint") is None:
        pytest.skip("hadolint is not installed (run scripts/install-validators and source its env.sh)")
    repo = _checked_repo(tmp_path)
    text = phasekit("check", ".", "--validator", "hadolint", cwd=repo)
    assert text.returncode == 1
    tail = text.stdout[text.stdout.index("Failures by file"):]
    assert "own/Dockerfile" in tail and "[yours]" in tail
    assert "(0 in files phasekit wrote, 1 in yours)" in text.stdout

    only = phasekit("check", ".", "--validator", "hadolint", "--only-generated", "--format", "json", cwd=repo)
    assert only.returncode == 0, only.stdout + only.stderr
    results = json.loads(only.stdout)["results"]
    assert results and all(r["generated"] for r in results)
    assert "own/Dockerfile" not in {r["artifact"] for r in results}

    sarif = json.loads(phasekit("check", ".", "--validator", "hadolint", "--format", "sarif", cwd=repo).stdout)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["hadolint"]
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location["uri"] == "own/Dockerfile" and run["results"][0]["level"] == "error"
    assert run["results"][0]["properties"]["generatedByPhasekit"] is False
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["hadolint"]


def test_a_missing_validator_is_named_once_with_a_command_an_installed_phasekit_has(tmp_path):
    repo = _checked_repo(tmp_path)
    bare = {**os.environ, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    bare.pop("DOCKER_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "phasekit.cli", "check", ".", "--validator", "hadolint",
                           "--validator", "yamllint"], cwd=repo, capture_output=True, text=True, env=bare)
    if "yamllint not found" not in done.stdout:
        import pytest

        pytest.skip("yamllint is installed system-wide")
    assert done.stdout.count("phasekit install-validators") == 1
    skipped = sum(line.startswith("skipped ") for line in done.stdout.splitlines())
    assert f"{skipped} checks skipped because a validator is not installed" in done.stdout
    assert "scripts/install-validators" not in done.stdout
    assert "phasekit install-validators" in phasekit("install-validators", "--help", cwd=repo).stdout


# ---------------------------------------------------------------------------- no false failures


def test_services_named_like_the_monitoring_stack_keep_job_names_unique(tmp_path):
    """A system running its own prometheus/grafana/alertmanager: the stack's jobs are renamed, promtool passes."""
    import pytest

    from helpers import render_arch
    from phasekit import check, model

    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (run scripts/install-validators and source its env.sh)")
    arch = model.load(ARCH_FILE)
    for name, port in (("prometheus", 9090), ("grafana", 3000), ("alertmanager", 9093)):
        arch["services"].append({"name": name, "kind": "http", "image": f"example/{name}:1.0",
                                 "ports": [{"port": port}], "language": "unknown"})
    for svc in arch["services"]:
        svc.pop("id", None)
    out = render_arch(arch, tmp_path / "out", "monitoring")
    config = yaml.safe_load((out / "monitoring/prometheus/prometheus.yml").read_text(encoding="utf-8"))
    jobs = [job["job_name"] for job in config["scrape_configs"]]
    assert len(jobs) == len(set(jobs))
    assert {"prometheus", "monitoring-prometheus", "grafana", "monitoring-grafana"} <= set(jobs)
    report = check.run(out, validators=["promtool-config", "promtool-rules", "promtool-test", "compose-config"])
    assert report.failed == 0, check.format_text(report)
    assert report.passed >= 3


def test_buildkit_heredocs_are_not_a_hadolint_failure(tmp_path):
    import pytest

    from phasekit import check

    if shutil.which("hadolint") is None:
        pytest.skip("hadolint is not installed (run scripts/install-validators and source its env.sh)")
    (tmp_path / "Dockerfile").write_text(
        "# syntax=docker/dockerfile:1\nFROM python:3.12-slim@sha256:" + "0" * 64 + "\n"
        "RUN <<EOF\nset -e\necho hello > /tmp/x\nEOF\n"
        "COPY <<-EOT /app/hello.txt\n\thello\n\tEOT\n"
        "USER 10001\nCMD [\"python\"]\n")
    (tmp_path / "Dockerfile.plain").write_text("FROM python:3.12-slim\nRUN pip install flask\nUSER 10001\n")
    report = check.run(tmp_path, validators=["hadolint"])
    heredoc = report.select(artifact="Dockerfile")[0]
    assert heredoc.status is check.Status.PASSED, heredoc.message
    assert "2 BuildKit heredoc instruction(s) not linted" in heredoc.message
    plain = report.select(artifact="Dockerfile.plain")[0]  # findings on the rest are still reported
    assert plain.status is check.Status.FAILED and "DL3013" in plain.message


def test_a_compose_file_is_checked_with_its_override_as_compose_merges_them(tmp_path):
    import pytest

    from phasekit import check

    (tmp_path / "compose.yaml").write_text("services:\n  api:\n    image: example/api:1.0\n    networks: [front]\n")
    (tmp_path / "compose.override.yaml").write_text("networks:\n  front: {}\n")
    report = check.run(tmp_path, validators=["compose-config"])
    if report.skipped:
        pytest.skip("docker compose is not installed (run scripts/install-validators and source its env.sh)")
    base = report.select(artifact="compose.yaml")[0]
    assert base.status is check.Status.PASSED, base.message
    assert "compose.override.yaml merged onto it" in base.message
    (tmp_path / "compose.override.yaml").unlink()  # alone, the undefined network is a real failure
    assert check.run(tmp_path, validators=["compose-config"]).failed == 1


# ---------------------------------------------------------------------------- fits the user's tools


def test_every_command_has_an_example_in_its_help(tmp_path):
    from phasekit.cli import cli

    for name in sorted(cli.commands):
        shown = phasekit(name, "--help", cwd=tmp_path)
        assert shown.returncode == 0 and "Example:" in shown.stdout, name
        example = shown.stdout.split("Example:", 1)[1].strip().splitlines()[0]
        assert "phasekit" in example, (name, example)


def test_pre_commit_hooks_run_commands_that_exist(tmp_path):
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["id"] for h in hooks} == {"phasekit-check", "phasekit-check-all"}
    for hook in hooks:
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        argv = hook["entry"].split()
        assert argv[0] == "phasekit"
        assert phasekit(*argv[1:], "--help", cwd=tmp_path).returncode == 0, hook["entry"]


@pytest.mark.slow
def test_the_pre_commit_hook_passes_good_output_and_fails_a_broken_file(tmp_path):
    """pre-commit itself installs phasekit from this checkout (try-repo) and runs the phasekit-check hook."""
    repo = _repo(tmp_path)
    assert phasekit("apply", "--blueprint", "adr", "--blueprint", "ci", cwd=repo).returncode == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "phasekit")
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    pre_commit = [sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "phasekit-check", "--all-files"]

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(pre_commit, cwd=repo, env=env, capture_output=True, text=True, timeout=900, check=False)

    passed = run()
    assert passed.returncode == 0 and "phasekit check (the files phasekit wrote)" in passed.stdout, passed.stdout + passed.stderr
    workflow = next((repo / ".github" / "workflows").glob("*.yml"))
    workflow.write_text(workflow.read_text(encoding="utf-8") + "  broken: [\n", encoding="utf-8")
    failed = run()
    assert failed.returncode == 1 and workflow.name in failed.stdout, failed.stdout + failed.stderr


def test_the_sarif_upload_example_is_a_valid_workflow():
    import pytest

    if shutil.which("actionlint") is None:
        pytest.skip("actionlint is not installed (run scripts/install-validators and source its env.sh)")
    example = REPO / "docs" / "examples" / "phasekit-check.yml"
    lint = subprocess.run(["actionlint", str(example)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    text = example.read_text(encoding="utf-8")
    assert "phasekit check --format sarif" in text and "upload-sarif@" in text and "pip install phasekit" not in text


def test_the_template_extracts_on_python_3_11_before_extraction_filters(tmp_path, monkeypatch):
    """Debian 12's python3 is 3.11.2: tarfile has no `filter=` there (added in 3.11.4); apply crashed on it."""
    import tarfile

    from phasekit import copier_runtime

    original = tarfile.TarFile.extractall

    def old_extractall(self, path=".", members=None, *, numeric_owner=False, **kwargs):
        if kwargs:
            raise TypeError(f"TarFile.extractall() got an unexpected keyword argument {next(iter(kwargs))!r}")
        return original(self, path, members, numeric_owner=numeric_owner)

    monkeypatch.setenv("PHASEKIT_TEMPLATE_CACHE", str(tmp_path / "cache" / "template"))  # extract, not reuse
    monkeypatch.delattr(tarfile, "data_filter", raising=False)
    monkeypatch.setattr(tarfile.TarFile, "extractall", old_extractall)
    folder, _commit = copier_runtime._extract(REPO, "HEAD")
    assert (folder / "copier.yml").is_file()
