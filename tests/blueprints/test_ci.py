"""The ci blueprint: the workflows and dependabot.yml parsed and compared with the architecture, the hardening
rules checked one by one, and actionlint, zizmor --offline and check-jsonschema run on every example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import EXAMPLES, REPO, render_arch, run_tool
from phasekit import model

EXAMPLE_NAMES = [p.parent.name for p in EXAMPLES]
WORKFLOWS = ("test", "build", "deploy", "health-check", "security", "drift", "blueprint-update")

# The verified pins of ../shared/action-pins.md (action -> (commit, tag)); a workflow may use nothing else.
PINS = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/setup-node": ("820762786026740c76f36085b0efc47a31fe5020", "v7.0.0"),
    "actions/setup-go": ("b7ad1dad31e06c5925ef5d2fc7ad053ef454303e", "v7.0.0"),
    "docker/setup-buildx-action": ("37fe631027851001ddb9b187196cc803df7f5f0e", "v4.3.0"),
    "docker/login-action": ("4907a6ddec9925e35a0a9e82d7399ccc52663121", "v4.1.0"),
    "docker/metadata-action": ("dc802804100637a589fabce1cb79ff13a1411302", "v6.2.0"),
    "docker/build-push-action": ("53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7.3.0"),
    "hashicorp/setup-terraform": ("dfe3c3f87815947d99a8997f908cb6525fc44e9e", "v4.0.1"),
    "Azure/setup-helm": ("9bc31f4ebc9c6b171d7bfbaa5d006ae7abdb4310", "v5.0.1"),
    "peter-evans/create-pull-request": ("5f6978faf089d4d20b00c7766989d076bb2fc7f1", "v8.1.1"),
    "github/codeql-action/upload-sarif": ("8aad20d150bbac5944a9f9d289da16a4b0d87c1e", "v4.36.2"),
    "aquasecurity/trivy-action": ("ed142fd0673e97e23eac54620cfb913e5ce36c25", "v0.36.0"),
    "bridgecrewio/checkov-action": ("59b9d7edfcad5b87fbe3f473a9a134a721ad03f8", "v12.3119.0"),
    "open-policy-agent/setup-opa": ("b2b258e089860efaadaaf71bf6e3aecb4a3eeff1", "v2.4.0"),
}
ECOSYSTEMS = {"python": "pip", "go": "gomod", "node": "npm", "php": "composer"}
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")


def _arch(example: str) -> dict:
    return model.load(REPO / "examples" / example / "architecture.yaml")


def _workflows(out: Path) -> dict[str, dict]:
    folder = out / ".github" / "workflows"
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yml"))}


def _on(workflow: dict) -> dict:
    # PyYAML reads the key `on` as the boolean True (YAML 1.1).
    return workflow.get("on", workflow.get(True))


def _built(arch: dict) -> list[dict]:
    return [s for s in arch["services"] if "build" in s]


def _deployed(arch: dict) -> list[str]:
    envs = arch["environments"]
    return envs[1:] if len(envs) > 1 else envs


def _strip(path: str) -> str:
    return re.sub(r"^\./", "", path).strip("/")


# ------------------------------------------------------------------------------ hardening, for every example


def check_hardening(out: Path) -> None:
    workflows = _workflows(out)
    assert set(workflows) == set(WORKFLOWS)
    for name, wf in workflows.items():
        assert wf["permissions"] == {}, f"{name}: top-level permissions must be {{}}"
        reusable = "workflow_call" in _on(wf)
        if not reusable:
            assert "concurrency" in wf, f"{name}: needs a concurrency group"
        for job_id, job in wf["jobs"].items():
            assert "permissions" in job, f"{name}.{job_id}: least privilege needs job-level permissions"
            if reusable and "uses" not in job:
                assert "concurrency" in job, f"{name}.{job_id}: a reusable workflow's job needs its own concurrency group"
            if "uses" in job:
                assert job["uses"].startswith("$/.github/workflows/"), job["uses"]
                continue
            assert "timeout-minutes" in job, f"{name}.{job_id}"
            for step in job["steps"]:
                run = step.get("run", "")
                assert "${{" not in run, f"{name}.{job_id}: expression inside run: pass it through env:"
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{name}.{job_id}: persist-credentials"
        for line in (out / ".github" / "workflows" / f"{name}.yml").read_text(encoding="utf-8").splitlines():
            match = USES.match(line)
            if not match or match.group(1).startswith("$/"):
                continue
            action, _, sha = match.group(1).partition("@")
            assert action in PINS, f"{name}: {action} has no verified pin"
            assert (sha, match.group(2).strip()) == (PINS[action][0], f"# {PINS[action][1]}"), line


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_workflows_are_hardened(rendered, example: str) -> None:
    check_hardening(rendered(example, "ci"))


# ------------------------------------------------------------------------------ compared with the architecture


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_build_matrix_has_every_built_service(rendered, example: str) -> None:
    arch = _arch(example)
    build = _workflows(rendered(example, "ci"))["build"]
    built = _built(arch)
    if not built:
        assert "image" not in build["jobs"]
        return
    matrix = build["jobs"]["image"]["strategy"]["matrix"]["include"]
    assert [m["service"] for m in matrix] == [s["name"] for s in built]
    registry = arch["targets"]["registry"].rstrip("/")
    for entry, svc in zip(matrix, built, strict=True):
        context = svc["build"]["context"].rstrip("/") or "."
        assert entry["context"] == context
        assert entry["dockerfile"] == f"{context}/{svc['build'].get('dockerfile', 'Dockerfile')}"
        assert entry["target"] == svc["build"].get("target", "")
        assert entry["image"] == f"{registry}/{svc['id']}"
    assert build["jobs"]["deploy"]["needs"] == ["image"]
    assert build["jobs"]["deploy"]["uses"] == "$/.github/workflows/deploy.yml"


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_test_jobs_cover_every_language(rendered, example: str) -> None:
    arch = _arch(example)
    jobs = _workflows(rendered(example, "ci"))["test"]["jobs"]
    assert "shell" in jobs
    for language in ("python", "go", "node", "php"):
        services = [s for s in _built(arch) if s["language"] == language]
        if not services:
            assert language not in jobs
            continue
        matrix = jobs[language]["strategy"]["matrix"]["include"]
        assert [m["service"] for m in matrix] == [s["name"] for s in services]
        assert [m["path"] for m in matrix] == [_strip(s.get("path", s["build"]["context"])) or "." for s in services]


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_deploy_promotes_through_gated_environments(rendered, example: str) -> None:
    arch = _arch(example)
    out = rendered(example, "ci")
    jobs = _workflows(out)["deploy"]["jobs"]
    envs = _deployed(arch)
    assert set(jobs) == {f"deploy-{e}" for e in envs} | {f"health-{e}" for e in envs}
    previous = None
    for env in envs:
        deploy, health = jobs[f"deploy-{env}"], jobs[f"health-{env}"]
        assert deploy["environment"]["name"] == env
        assert deploy["env"]["ENVIRONMENT"] == env
        assert deploy.get("needs") == ([f"health-{previous}"] if previous else None)
        script = "\n".join(step.get("run", "") for step in deploy["steps"])
        assert "environments/${ENVIRONMENT}.tfvars" in script and "environments/${ENVIRONMENT}.backend.hcl" in script
        assert health["uses"] == "$/.github/workflows/health-check.yml"
        assert health["needs"] == [f"deploy-{env}"] and health["with"]["environment"] == env
        previous = env
    verify = _workflows(out)["health-check"]["jobs"]["verify"]
    assert any("health/healthcheck.py --all --external" in step.get("run", "") for step in verify["steps"])
    drift = _workflows(out)["drift"]["jobs"]["plan"]
    assert drift["strategy"]["matrix"]["environment"] == envs
    assert any("-detailed-exitcode" in step.get("run", "") for step in drift["steps"])


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_security_and_update_jobs(rendered, example: str) -> None:
    workflows = _workflows(rendered(example, "ci"))
    security = workflows["security"]["jobs"]
    uses = {step.get("uses", "").split("@")[0] for job in security.values() for step in job["steps"]}
    assert {"bridgecrewio/checkov-action", "aquasecurity/trivy-action", "open-policy-agent/setup-opa"} <= uses
    update = workflows["blueprint-update"]
    assert "schedule" in _on(update)
    steps = update["jobs"]["update"]["steps"]
    assert any("phasekit update --arch architecture.yaml" in step.get("run", "") for step in steps)
    assert steps[-1]["uses"].startswith("peter-evans/create-pull-request@")
    assert update["jobs"]["update"]["permissions"] == {"contents": "write", "pull-requests": "write"}


@pytest.mark.parametrize(
    ("variable", "src_path", "installed"),
    [
        ("git+https://git.example.com/ops/phasekit@v0.2.0", "~/.cache/phasekit/template",
         "git+https://git.example.com/ops/phasekit@v0.2.0"),
        ("", "https://git.example.com/ops/phasekit.git", "git+https://git.example.com/ops/phasekit.git"),
        ("", "gh:ops/phasekit", "git+https://github.com/ops/phasekit"),
        ("", "~/.cache/phasekit/template", None),  # a path on the machine that applied it: say what to set
    ],
)
def test_update_workflow_installs_phasekit_from_a_source_that_exists(rendered, tmp_path, variable, src_path, installed):
    """Never `pip install phasekit` (no index has it): the variable, else the recorded git source, else an error."""
    out = rendered("filetransfer", "ci")
    steps = _workflows(out)["blueprint-update"]["jobs"]["update"]["steps"]
    script = next(s["run"] for s in steps if s.get("name") == "Install phasekit")
    assert "pip install phasekit" not in script and '"phasekit' not in script
    answers = json.loads((out / ".copier-answers.ci.yml").read_text(encoding="utf-8").split("\n", 1)[1])
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".copier-answers.ci.yml").write_text("# header\n" + json.dumps({**answers, "_src_path": src_path}))
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python").write_text(f'#!/bin/sh\nif [ "$1" = -m ]; then echo "INSTALL $*"; exit 0; fi\nexec {sys.executable} "$@"\n')
    (shim / "python").chmod(0o755)
    env = {"PATH": f"{shim}:/usr/bin:/bin", "PHASEKIT_SOURCE": variable}
    done = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True, check=False)
    if installed is None:
        assert done.returncode == 1 and "INSTALL" not in done.stdout
        assert "::error::set the repository variable PHASEKIT_SOURCE" in done.stdout
    else:
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"INSTALL -m pip install {installed}"


@pytest.mark.parametrize(("outcome", "draft"), [("clean", "false"), ("conflict", "true"), ("broken", None)])
def test_update_workflow_opens_a_draft_listing_conflicts(rendered, tmp_path, outcome, draft):
    """A conflicting update still gets its pull request, as a draft naming the files; any other failure fails."""
    steps = _workflows(rendered("filetransfer", "ci"))["blueprint-update"]["jobs"]["update"]["steps"]
    step = next(s for s in steps if s.get("id") == "update")
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "GITHUB_OUTPUT": str(tmp_path / "out"), "HOME": str(tmp_path),
           **step["env"]}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    (repo / "a.txt").write_text("one\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "x"], cwd=repo, check=True, env=env)
    fake = {  # what `phasekit update` does in each case
        "clean": "echo two > a.txt",
        "conflict": "printf '<<<<<<< before\\none\\n=======\\ntwo\\n>>>>>>> after\\n' > a.txt; echo 'conflict' >&2; exit 1",
        "broken": "echo 'phasekit: error: bad architecture' >&2; exit 1",
    }[outcome]
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "phasekit").write_text(f"#!/bin/sh\n{fake}\n")
    (tmp_path / "bin" / "phasekit").chmod(0o755)
    done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True, check=False)
    if draft is None:
        assert done.returncode == 1 and "bad architecture" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    out = (tmp_path / "out").read_text()
    assert f"draft={draft}" in out
    assert ("- a.txt" in out) == (outcome == "conflict")
    assert not (repo / "update.log").exists()


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_dependabot_covers_every_ecosystem(rendered, example: str) -> None:
    arch = _arch(example)
    config = yaml.safe_load((rendered(example, "ci") / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    expected = {"github-actions": ["/"]}
    for svc in _built(arch):
        if svc["language"] in ECOSYSTEMS:
            expected.setdefault(ECOSYSTEMS[svc["language"]], []).append("/" + _strip(svc.get("path", svc["build"]["context"])))
        expected.setdefault("docker", []).append("/" + _strip(svc["build"]["context"]))
    assert set(updates) == set(expected)
    for ecosystem, dirs in expected.items():
        assert updates[ecosystem]["directories"] == sorted(set(d.rstrip("/") or "/" for d in dirs))
        assert updates[ecosystem]["cooldown"]["default-days"] >= 1


# ------------------------------------------------------------------------------ the real validators


def run_validators(out: Path) -> None:
    files = sorted(str(p) for p in (out / ".github" / "workflows").glob("*.yml"))
    lint = run_tool(["actionlint", *files], cwd=out)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = run_tool(["zizmor", "--offline", "--no-progress", "--format", "plain", "."], cwd=out)
    assert audit.returncode == 0 and "No findings to report" in audit.stdout, audit.stdout + audit.stderr
    schema = run_tool(["check-jsonschema", "--builtin-schema", "vendor.github-workflows", *files])
    assert schema.returncode == 0, schema.stdout + schema.stderr
    dependabot = run_tool(["check-jsonschema", "--builtin-schema", "vendor.dependabot", str(out / ".github" / "dependabot.yml")])
    assert dependabot.returncode == 0, dependabot.stdout + dependabot.stderr
    yamllint = run_tool(["yamllint", "-d", "relaxed", "-f", "parsable", str(out / ".github")])
    assert yamllint.returncode == 0 and "[error]" not in yamllint.stdout, yamllint.stdout


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_validators(rendered, example: str) -> None:
    run_validators(rendered(example, "ci"))


def test_kubernetes_provider_one_environment_and_every_language(tmp_path: Path) -> None:
    """The other branches of the templates: kubernetes provider, a private registry, one environment, node, php,
    odd compose names; still valid, still hardened, still complete."""
    arch = {
        "version": 1,
        "project": {"name": "Odd System"},
        "services": [
            {"name": "Web.App_1", "kind": "http", "language": "node", "build": {"context": "./web/"}, "ports": [{"port": 3000}]},
            {"name": "portal", "kind": "http", "language": "php", "build": {"context": ".", "dockerfile": "docker/Portal.Dockerfile"}, "ports": [{"port": 80}]},
            {"name": "jobs", "kind": "worker", "language": "go", "path": "cmd/jobs", "build": {"context": "./cmd/jobs", "target": "prod"}},
            {"name": "edge", "kind": "gateway", "language": "other", "image": "nginx:1.27", "ports": [{"port": 8080}]},
        ],
        "environments": ["live"],
        "targets": {"terraform_provider": "kubernetes", "registry": "registry.example.com/team"},
    }
    out = render_arch(arch, tmp_path / "out", "ci")
    check_hardening(out)
    run_validators(out)
    workflows = _workflows(out)
    assert [m["service"] for m in workflows["build"]["jobs"]["image"]["strategy"]["matrix"]["include"]] == ["Web.App_1", "portal", "jobs"]
    login = next(s for s in workflows["build"]["jobs"]["image"]["steps"] if s.get("uses", "").startswith("docker/login-action@"))
    assert login["with"]["registry"] == "registry.example.com"
    assert "packages" not in workflows["build"]["jobs"]["image"]["permissions"]
    assert set(workflows["test"]["jobs"]) == {"shell", "node", "php", "go"}
    assert set(workflows["deploy"]["jobs"]) == {"deploy-live", "health-live"}
    steps = workflows["deploy"]["jobs"]["deploy-live"]["steps"]
    assert any("TF_VAR_kubeconfig_path=" in step.get("run", "") for step in steps)
    config = yaml.safe_load((out / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    dirs = {u["package-ecosystem"]: u["directories"] for u in config["updates"]}
    assert dirs == {"github-actions": ["/"], "npm": ["/web"], "composer": ["/"], "gomod": ["/cmd/jobs"], "docker": ["/", "/cmd/jobs", "/web"]}


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_checkov_and_trivy_pass_on_health_and_ci_output(rendered, example: str) -> None:
    """The security workflow's own scanners, run here on what the health and ci blueprints write:
    no failed check (the one suppression, CKV_DOCKER_3 on the snippet file, carries its reason in the file)."""
    import json

    out = rendered(example, "health", "ci")
    result = run_tool(["checkov", "-d", str(out), "--skip-download", "--quiet", "--compact", "-o", "json",
                       "--framework", "github_actions", "dockerfile"])
    reports = json.loads(result.stdout or "[]")
    reports = reports if isinstance(reports, list) else [reports]
    failed = [c for r in reports for c in r.get("results", {}).get("failed_checks", [])]
    assert not failed, [(c["check_id"], c["file_path"]) for c in failed]
    assert sum(r["summary"]["passed"] for r in reports) > 0
    skipped = [c for r in reports for c in r.get("results", {}).get("skipped_checks", [])]
    assert {c["check_id"] for c in skipped} <= {"CKV_DOCKER_3"}
    trivy = run_tool(["trivy", "config", "--quiet", "--exit-code", "1", "--severity", "HIGH,CRITICAL",
                      "--skip-dirs", "health/snippets", "."], cwd=out)
    assert trivy.returncode == 0, trivy.stdout + trivy.stderr


def test_foreign_compose_file(tmp_path: Path) -> None:
    """A compose file this project did not ship, captured, then ci rendered and validated."""
    from test_health import foreign_system

    root = tmp_path / "foreign"
    arch = foreign_system(root)
    out = render_arch(arch, root, "ci")
    check_hardening(out)
    run_validators(out)
    workflows = _workflows(out)
    assert [m["service"] for m in workflows["build"]["jobs"]["image"]["strategy"]["matrix"]["include"]] == [s["name"] for s in _built(arch)]
    assert {"node", "go"} <= set(workflows["test"]["jobs"])
