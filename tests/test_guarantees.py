"""Guarantees that hold for every blueprint at once: no trust needed, no secrets written, deterministic."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from helpers import EXAMPLES, REPO
from phasekit import blueprints, model, render

# Literal secret values the bundled compose files carry (the gap being closed); none may be written.
SECRET_VALUES = ["changeme", "s3cr3t-token", "wiki-db-pass", "root-pass", "mw-secret-7d1e0c", "ghp_exampletokenvalue", "hunter2"]
LEAKED_TEMP = re.compile(r"/tmp/(pytest-|phasekit-|copier\.|tmp[a-z0-9_]{6,})")
SYSTEM_BLUEPRINTS = [b.name for b in blueprints.available() if b.phase]


def test_root_template_needs_no_trust():
    config = yaml.safe_load((REPO / "copier.yml").read_text())
    assert not {"_tasks", "_migrations", "_jinja_extensions"} & set(config)
    for folder in (REPO / "blueprints").iterdir():
        assert not (folder / "copier.yml").exists() and not (folder / "copier.yaml").exists(), folder


def test_dependency_floors_carry_the_sandbox_fixes():
    text = (REPO / "pyproject.toml").read_text()
    assert '"copier>=9.17.2' in text and '"Jinja2>=3.1.6"' in text


@pytest.fixture(params=EXAMPLES, ids=lambda p: p.parent.name)
def everything(request, all_applied):
    """Every system blueprint applied for one example (rendered with unsafe=False, as render.apply always does)."""
    return model.load(request.param), all_applied(request.param.parent.name), request.param.parent


def test_no_secret_value_in_any_generated_or_answers_file(everything):
    _, dest, _ = everything
    leaks = []
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        leaks += [f"{path.relative_to(dest)}: {value}" for value in SECRET_VALUES if value in text]
    assert leaks == []


def test_secrets_are_referenced_by_name(everything):
    """Answers files carry secret names (from the architecture), never a value next to them."""
    arch, dest, _ = everything
    for answers in dest.glob(".copier-answers.*.yml"):
        recorded = yaml.safe_load(answers.read_text())["architecture"]
        assert [s["secrets"] for s in recorded["services"]] == [s["secrets"] for s in arch["services"]]


def test_apply_is_deterministic_and_idempotent(everything, tmp_path, template_source):
    arch, dest, example = everything
    again = tmp_path / "again"
    render.apply(arch, again, SYSTEM_BLUEPRINTS, template_source, base=example)
    first = {p.relative_to(dest): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    second = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert first == second
    result = render.apply(arch, dest, SYSTEM_BLUEPRINTS, template_source, base=example, dry_run=True)
    assert result.written == [] and len(result.unchanged) == len(first)


def test_no_timestamps_or_absolute_paths_in_output(everything):
    _, dest, _ = everything
    offenders = []
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        # a path of the machine that rendered it (answers files record the template cache: tests keep it in tmp)
        temp_path = LEAKED_TEMP.search(text) and not path.name.startswith(".copier-answers.")
        if str(dest) in text or temp_path or re.search(r"20\d\d-\d\d-\d\dT\d\d:\d\d", text):
            offenders.append(str(path.relative_to(dest)))
    assert offenders == []


def test_the_image_ci_builds_is_the_image_helm_and_terraform_run(tmp_path, template_source):
    """Three blueprints name the same image: ci pushes it, the chart and Terraform pull it."""
    arch = model.load(REPO / "examples" / "filetransfer" / "architecture.yaml")
    render.apply(arch, tmp_path, ["ci", "helm", "terraform"], template_source)
    build = yaml.safe_load((tmp_path / ".github" / "workflows" / "build.yml").read_text())
    pushed = {e["id"]: e["image"] for e in build["jobs"]["image"]["strategy"]["matrix"]["include"]}
    values = yaml.safe_load((tmp_path / "charts" / arch["project"]["id"] / "values.yaml").read_text())
    pulled = {sid: f"{values['image']['registry']}/{spec['image']['repository']}" for sid, spec in values["services"].items()}
    tfvars = (tmp_path / "terraform" / "terraform.tfvars").read_text()
    built = [s for s in arch["services"] if "build" in s]
    assert built
    for svc in built:
        assert pushed[svc["id"]] == pulled[svc["id"]] == f"{arch['targets']['registry']}/{svc['id']}"
        assert re.search(rf'image\s*=\s*"{re.escape(pushed[svc["id"]])}"', tfvars), svc["id"]


def test_an_unpinned_image_never_propagates(tmp_path, template_source):
    """A service captured as `gitea/gitea:latest` is a gap to close, not a value to copy into artifacts."""
    arch = model.validate({"version": 1, "project": {"name": "forge"}, "services": [
        {"name": "gitea", "image": "gitea/gitea:latest", "ports": [{"port": 3000}], "zone": "public"},
        {"name": "tool", "image": "example/tool", "kind": "worker"}]}, "test")
    render.apply(arch, tmp_path, SYSTEM_BLUEPRINTS, template_source)
    # Terraform keeps the captured reference as data, and its module validation refuses to plan it until
    # the team pins a version (asserted below); every other artifact must not carry it at all.
    module_vars = (tmp_path / "terraform" / "modules" / "service" / "variables.tf").read_text()
    assert '!endswith(var.image, ":latest")' in module_vars and "The image must be pinned" in module_vars
    offenders = []
    # The chart, likewise, keeps the repository as data with an empty tag and refuses to render until pinned.
    values = yaml.safe_load((tmp_path / "charts" / "forge" / "values.yaml").read_text())["services"]
    assert [(values[s]["image"]["repository"], values[s]["image"]["tag"]) for s in ("gitea", "tool")] == [
        ("gitea/gitea", ""), ("example/tool", "")]
    if shutil.which("helm"):
        proc = subprocess.run(["helm", "template", "r", str(tmp_path / "charts" / "forge")], capture_output=True, text=True)
        assert proc.returncode != 0 and "pin a version" in proc.stderr
    for path in sorted(p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith(".copier-answers.")
                       and p.name != "terraform.tfvars" and p.name != "values.yaml"):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            if re.search(r"gitea/gitea:latest|example/tool(?![:\w/-])", line):
                offenders.append(f"{path.relative_to(tmp_path)}:{number}: {line.strip()}")
    assert offenders == []
    snippet = (tmp_path / "health" / "snippets" / "Dockerfile.healthcheck").read_text()
    assert "ARG GITEA_TAG\n" in snippet and "FROM gitea/gitea:${GITEA_TAG} AS gitea" in snippet
