"""phasekit check: every validator passes its valid sample and fails its broken one with the tool's own
message; missing tools are skipped (never passed); bad input, timeouts and crashes are reported; CLI contract."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from pathlib import Path

import pytest

from phasekit import check, cli
from phasekit.check import Status
from phasekit.check.validators import ALL, by_name

SAMPLES = Path(__file__).resolve().parent / "samples"
GOOD = SAMPLES / "good"
BAD = SAMPLES / "bad"
TOOLS_HINT = "run scripts/install-validators and source ~/.cache/phasekit/tools/env.sh"

# validator -> (artifact in its bad/<validator>/ folder, text of the validator's own message)
BROKEN = {
    "parse": ("broken.json", "Expecting property name enclosed in double quotes"),
    "yamllint": ("duplicate.yaml", 'duplication of key "name" in mapping'),
    "kubernetes-validate": ("deployment.yaml", "Additional properties are not allowed ('replicas' was unexpected)"),
    "helm-lint": ("chart", 'unexpected "}" in operand'),
    "helm-template": ("chart (values-prod.yaml) [rendered]", "spec.ports.0.port: 'http' is not of type 'integer'"),
    "kustomize": ("overlay", "accumulating resources"),
    "terraform-fmt": (".", "+++ new/variables.tf"),
    "terraform-validate": (".", "Reference to undeclared input variable"),
    "terraform-tfvars": ("environments/qa.tfvars", "environment must be dev, staging or prod."),
    "hcl2": (".", "Unexpected token"),
    "promtool-config": ("prometheus.yml", 'not a valid duration string: "15 seconds"'),
    "promtool-rules": ("rules.yml", "could not parse expression"),
    "promtool-test": ("rules_test.yml", "got:[]"),
    "amtool": ("alertmanager.yml", 'undefined receiver "pager"'),
    "php-lint": ("health.php", "syntax error"),
    "blackbox-config": ("blackbox.yml", "cannot unmarshal"),
    "grafana-dashboard": ("dashboard.json", "Type 'number' is not assignable to type 'string'"),
    "grafana-provisioning": ("dashboards.yaml", "providers[0].options.path is required"),
    "actionlint": (".github/workflows/ci.yml", 'shell name "bsh" is invalid'),
    "zizmor": (".github/workflows/ci.yml", "template-injection"),
    "schema-github-workflow": (".github/workflows/ci.yml", "Schema validation errors were encountered"),
    "schema-dependabot": (".github/dependabot.yml", "'cobol' is not one of"),
    "opa-compile": (".", "rego_type_error: undefined function no_such_function"),
    "opa-test": ("probes_test.rego", "FAIL data.kubernetes.probes_test.test_probe_allowed"),
    "shellcheck": ("list.sh", "SC2045"),
    "python-compile": ("healthcheck.py", "SyntaxError"),
    "hadolint": ("Dockerfile", "DL3006"),
    "compose-config": ("compose.yaml", "services.web.ports must be a array"),
    "adr": ("docs/decisions/0002-use-postgresql.md", "missing section(s): Consequences"),
    "fidelity": ("charts/web (values.yaml) (web)", "web: image nginx:1.27 became ghcr.io/example/web:0.1.0"),
    "checkov": ("Dockerfile (CKV_DOCKER_3 /Dockerfile.)", "CKV_DOCKER_3"),
}
# The good/ tree is one small repository with a valid sample for every validator but checkov (a security
# scan flags even valid-but-minimal manifests); checkov gets its own clean sample.
GOOD_VALIDATORS = [v.name for v in ALL if v.name != "checkov"]


def _require(validator: str) -> None:
    """pytest.skip (never a pass) when a validator's tool is not installed here."""
    instance = by_name()[validator]()
    ctx = check.Context(root=GOOD, env=dict(os.environ))
    missing = instance.missing(ctx)
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed ({TOOLS_HINT})")


def test_every_validator_has_a_broken_sample() -> None:
    assert set(BROKEN) == {v.name for v in ALL}
    assert sorted(p.name for p in BAD.iterdir()) == sorted(BROKEN)


@pytest.fixture(scope="module")
def good_report() -> check.Report:
    return check.run(GOOD, validators=GOOD_VALIDATORS)


# --- valid samples ---------------------------------------------------------------------------------------------
EXPECTED_GOOD = {  # validator -> artifacts it must find in good/ (by content: not all sit where phasekit puts them)
    "kubernetes-validate": {"k8s/deployment.yaml", "chart (values-dev.yaml) [rendered]", "chart (values-prod.yaml) [rendered]",
                            "k8s [kustomize build]"},
    "kustomize": {"k8s"},
    "helm-lint": {"chart (values-dev.yaml)", "chart (values-prod.yaml)"},
    "helm-template": {"chart (values-dev.yaml)", "chart (values-prod.yaml)"},
    "terraform-fmt": {"terraform", "terraform/modules/naming", "terraform/environments/dev.tfvars"},
    "terraform-validate": {"terraform", "terraform/modules/naming"},
    "terraform-tfvars": {"terraform/environments/dev.tfvars"},
    "hcl2": {"terraform", "terraform/modules/naming", "terraform/environments/dev.tfvars"},
    "promtool-config": {"monitoring/prometheus.yml"},
    "promtool-rules": {"monitoring/rules.yml"},
    "promtool-test": {"monitoring/rules_test.yml"},
    "amtool": {"monitoring/alertmanager.yml"},
    "blackbox-config": {"monitoring/blackbox.yml"},
    "grafana-dashboard": {"monitoring/grafana/dashboards/web.json"},
    "grafana-provisioning": {"monitoring/grafana/provisioning/dashboards.yaml",
                             "monitoring/grafana/provisioning/datasources.yaml"},
    "actionlint": {".github/workflows/ci.yml"},
    "zizmor": {".github/workflows/ci.yml"},
    "schema-github-workflow": {".github/workflows/ci.yml"},
    "schema-dependabot": {".github/dependabot.yml"},
    "opa-compile": {"policy"},
    "opa-test": {"policy/probes_test.rego"},
    "shellcheck": {"scripts/healthcheck.sh"},
    "python-compile": {"scripts/healthcheck.py"},
    "php-lint": {"scripts/health.php"},
    "hadolint": {"app/Dockerfile"},
    "compose-config": {"compose.yaml"},
    "adr": {"docs/decisions/0001-record-architecture-decisions.md"},
}


@pytest.mark.parametrize("validator", sorted(EXPECTED_GOOD))
def test_valid_sample_passes(good_report: check.Report, validator: str) -> None:
    _require(validator)
    results = good_report.select(validator=validator)
    assert {r.artifact for r in results} == EXPECTED_GOOD[validator]
    for r in results:
        assert r.status is Status.PASSED, f"{r.validator} {r.artifact}: {r.message}"


def test_good_tree_has_no_failures_and_parses_and_lints_every_yaml(good_report: check.Report) -> None:
    assert good_report.failed == 0, check.format_text(good_report)
    yaml_files = {p.relative_to(GOOD).as_posix() for p in GOOD.rglob("*.y*ml") if "templates" not in p.parts}
    assert {r.artifact for r in good_report.select(validator="parse")} >= yaml_files
    if shutil.which("yamllint"):
        assert {r.artifact for r in good_report.select(validator="yamllint")} == yaml_files


def test_terraform_says_what_it_validated(good_report: check.Report) -> None:
    _require("terraform-validate")
    root = good_report.select(validator="terraform-validate", artifact="terraform")[0]
    assert "needs kreuzwerker/docker" in root.message and "provider-free copy" in root.message
    module = good_report.select(validator="terraform-validate", artifact="terraform/modules/naming")[0]
    assert module.message.startswith("full terraform validate")
    tfvars = good_report.select(validator="terraform-tfvars")[0]
    # what the file does not set (a secret, here) must come from elsewhere; it is named, not failed
    assert tfvars.message.endswith("required but set elsewhere (-var-file, -var, TF_VAR_*): registry_token")


def test_checkov_clean_sample_passes() -> None:
    _require("checkov")
    report = check.run(SAMPLES / "checkov-clean", validators=["checkov"])
    assert [r.status for r in report.results] == [Status.PASSED], check.format_text(report)


# --- broken samples --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("validator", sorted(BROKEN))
def test_broken_sample_fails_with_the_validators_message(validator: str) -> None:
    _require(validator)
    artifact, message = BROKEN[validator]
    # helm-template hands its rendered output to kubernetes-validate, which reports under its own name.
    report = check.run(BAD / validator, validators=[validator])
    name = "kubernetes-validate" if validator == "helm-template" else validator
    failed = report.select(validator=name, artifact=artifact, status=Status.FAILED)
    assert failed, check.format_text(report)
    assert any(message in r.message for r in failed), check.format_text(report)
    assert not report.ok()


def test_terraform_provider_free_copy_catches_bad_default() -> None:
    _require("terraform-validate")
    report = check.run(BAD / "terraform-validate", validators=["terraform-validate"])
    [res] = report.select(artifact="with-provider")
    assert res.status is Status.FAILED
    assert res.message.startswith("provider-free copy")
    assert 'on main.tf line 14, in variable "replicas"' in res.message  # the original file and line
    assert 'Call to function "length" failed' in res.message


def test_unparseable_files_fail_with_the_parse_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n")
    (tmp_path / "dash.json").write_text('{"panels": [}')
    (tmp_path / "main.tf").write_text('variable "x" {\n')
    report = check.run(tmp_path, validators=["parse", "kubernetes-validate", "hcl2", "terraform-fmt"])
    assert report.select(validator="parse", artifact="deploy.yaml")[0].status is Status.FAILED
    assert "while parsing" in report.select(validator="parse", artifact="deploy.yaml")[0].message
    assert "JSONDecodeError" in report.select(validator="parse", artifact="dash.json")[0].message
    assert not report.select(validator="kubernetes-validate")  # not recognisable, so not sniffed as a manifest
    for name in ("hcl2", "terraform-fmt"):
        if shutil.which(by_name()[name].tools[0]):
            assert report.select(validator=name, artifact=".")[0].status is Status.FAILED


# --- missing tools, timeouts, crashes ------------------------------------------------------------------------------
def _path_without(*tools: str) -> str:
    """PATH with every directory that holds one of these tools removed."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    return os.pathsep.join(d for d in dirs if not any(os.path.exists(os.path.join(d, t)) for t in tools))


def test_missing_tool_is_skipped_never_passed() -> None:
    env = {**os.environ, "PATH": _path_without("shellcheck", "hadolint")}
    report = check.run(GOOD, validators=["shellcheck", "hadolint", "python-compile"], env=env)
    assert [(r.validator, r.status) for r in report.results] == [
        ("hadolint", Status.SKIPPED), ("python-compile", Status.PASSED), ("shellcheck", Status.SKIPPED)]
    assert "shellcheck not found" in report.select(validator="shellcheck")[0].message
    assert report.summary() == "1 passed, 0 failed, 2 skipped"
    assert report.ok() and not report.ok(strict=True)


def test_missing_opa_engine_and_grafana_schema_are_skipped() -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"PHASEKIT_OPA_PYTHON", "PHASEKIT_NODE_MODULES"}}
    report = check.run(GOOD, validators=["opa-compile", "opa-test", "grafana-dashboard"], env=env)
    assert {r.status for r in report.results} == {Status.SKIPPED}
    assert report.passed == 0 and report.skipped == 3


def _fake_tool(bindir: Path, name: str, body: str) -> None:
    bindir.mkdir(exist_ok=True)
    script = bindir / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_hanging_validator_times_out_and_the_run_goes_on(tmp_path: Path) -> None:
    _fake_tool(tmp_path / "bin", "shellcheck", "sleep 30")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    started = time.monotonic()
    report = check.run(GOOD, validators=["shellcheck", "python-compile"], env=env, timeout=1)
    assert time.monotonic() - started < 15
    [hung] = report.select(validator="shellcheck")
    assert hung.status is Status.FAILED and "timed out after 1s" in hung.message
    assert report.select(validator="python-compile")[0].status is Status.PASSED


def test_crashing_tool_and_crashing_adapter_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_tool(tmp_path / "bin", "hadolint", 'echo "Traceback: segfault in parser" >&2; exit 139')
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    def boom(self, artifact, ctx):  # noqa: ANN001
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(by_name()["adr"], "check", boom)
    report = check.run(GOOD, validators=["hadolint", "adr", "python-compile"], env=env)
    assert "segfault in parser" in report.select(validator="hadolint")[0].message
    crashed = report.select(validator="adr")[0]
    assert crashed.status is Status.FAILED and "validator crashed: RuntimeError: adapter bug" in crashed.message
    assert report.select(validator="python-compile")[0].status is Status.PASSED


def test_unknown_validator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown validator"):
        check.run(GOOD, validators=["nope"])


# --- CLI ---------------------------------------------------------------------------------------------------------
def test_cli_text_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", str(GOOD), "--validator", "adr", "--validator", "python-compile"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["passed", "adr", "docs/decisions/0001-record-architecture-decisions.md"]
    assert out[-1].startswith("2 passed, 0 failed, 0 skipped")
    assert cli.main(["check", str(BAD / "adr"), "--validator", "adr"]) == 1
    captured = capsys.readouterr()
    assert "missing section(s): Consequences" in captured.out and "1 failed" in captured.err


def test_cli_strict_fails_on_skipped(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", _path_without("shellcheck"))
    assert cli.main(["check", str(GOOD), "--validator", "shellcheck"]) == 0
    assert "0 passed, 0 failed, 1 skipped" in capsys.readouterr().out
    assert cli.main(["check", str(GOOD), "--validator", "shellcheck", "--strict"]) == 1
    assert "1 skipped (--strict)" in capsys.readouterr().err


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["check", str(BAD / "python-compile"), "--format", "json", "--kube-version", "1.30",
                     "--validator", "python-compile"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["kube_version"] == "1.30"
    assert {k: data["summary"][k] for k in ("passed", "failed", "skipped")} == {"passed": 0, "failed": 1, "skipped": 0}
    [res] = [r for r in data["results"] if r["validator"] == "python-compile"]
    assert res["artifact"] == "healthcheck.py" and res["status"] == "failed" and "SyntaxError" in res["message"]


def test_cli_rejects_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", str(GOOD), "--format", "xml"]) == 2
    assert cli.main(["check", str(GOOD / "nope")]) == 2
    assert cli.main(["check", str(GOOD), "--kube-version", "latest"]) == 2


def test_kube_version_comes_from_architecture_yaml(tmp_path: Path) -> None:
    (tmp_path / "architecture.yaml").write_text("targets:\n  kubernetes_version: '1.29'\n")
    assert check.run(tmp_path, validators=["parse"]).kube_version == "1.29"
    assert check.run(GOOD, validators=["parse"]).kube_version == check.DEFAULT_KUBE_VERSION


@pytest.mark.parametrize("text, missing", [
    ("# T\n\nStatus: accepted\n\n## Context\nx\n## Decision\ny\n## Consequences\nz\n", []),
    ("# T\n\n- Status: proposed\n\n## Context\nx\n## Decision\ny\n## Consequences\nz\n", []),
    ("---\nstatus: accepted\n---\n# T\n## Context and Problem Statement\n## Decision Outcome\n### Consequences\n", []),
    ("# T\n## Context\n```\n## Decision\n```\n", ["Status", "Decision", "Consequences"]),
])
def test_adr_sections(text: str, missing: list[str]) -> None:
    from phasekit.check.validators.adr import missing_sections

    assert missing_sections(text) == missing


_COMPOSE_WITH_ENV_FILE = """services:
  api:
    image: example/api:1.0
    env_file: [.env, defaults.env]
    ports: ["{port}"]
  worker:
    image: example/api:1.0
    env_file:
      - path: local.env
        required: false
"""


def _compose_result(folder: Path, name: str) -> check.Result:
    report = check.run(folder, validators=["compose-config"])
    return next(r for r in report.results if r.artifact == name)


def test_a_git_ignored_env_file_is_checked_as_optional_and_said(tmp_path: Path) -> None:
    """A team's .env is usually absent from a checkout: the compose file passes with a note naming it (an
    override merged onto it too), the overlay never hides another error, and with the files there, no note."""
    _require("compose-config")
    (tmp_path / "defaults.env").write_text("LOG_LEVEL=info\n")
    (tmp_path / "docker-compose.yml").write_text(_COMPOSE_WITH_ENV_FILE.format(port="8000:8000"))
    (tmp_path / "docker-compose.override.yml").write_text("services:\n  api:\n    env_file: [extra.env]\n")
    result = _compose_result(tmp_path, "docker-compose.yml")
    assert result.status is Status.PASSED, result.message
    # checked as compose runs it: with the override merged onto it
    assert "docker-compose.override.yml merged onto it" in result.message
    assert "env_file .env, extra.env not found: checked as optional" in result.message
    override = _compose_result(tmp_path, "docker-compose.override.yml")  # merged onto the base
    assert override.status is Status.PASSED and ".env, extra.env not found" in override.message, override.message
    (tmp_path / "docker-compose.yml").write_text(_COMPOSE_WITH_ENV_FILE.format(port="70000:8000"))
    broken = _compose_result(tmp_path, "docker-compose.yml")
    assert broken.status is Status.FAILED and "70000" in broken.message, broken.message
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "defaults.env").write_text("B=2\n")
    (tmp_path / "extra.env").write_text("C=3\n")
    (tmp_path / "docker-compose.yml").write_text(_COMPOSE_WITH_ENV_FILE.format(port="8000:8000"))
    present = _compose_result(tmp_path, "docker-compose.yml")
    assert present.status is Status.PASSED and "env_file" not in present.message, present.message


# --- validating less often loses nothing: each kind of broken artifact still fails -----------------------------
BROKEN_DEPLOYMENT = (BAD / "kubernetes-validate" / "deployment.yaml").read_text()
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n"


def test_a_document_validated_once_still_fails_every_file_that_holds_it(tmp_path: Path, monkeypatch) -> None:
    """kubernetes-validate sees each distinct document once per run (same content, any formatting or key
    order); every file that holds a broken one still fails with the message naming that file."""
    _require("kubernetes-validate")
    from phasekit.check.validators import kubernetes

    (tmp_path / "a.yaml").write_text(NAMESPACE + "---\n" + BROKEN_DEPLOYMENT)
    (tmp_path / "b.yaml").write_text("# the same deployment, keys reordered\n" + BROKEN_DEPLOYMENT.replace(
        "kind: Deployment\n", "").replace("apiVersion: apps/v1\n", "") + "kind: Deployment\napiVersion: apps/v1\n")
    (tmp_path / "c.yaml").write_text(NAMESPACE)
    (tmp_path / "d.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  colour: red\n")
    seen: list[str] = []
    validate = kubernetes.validate
    monkeypatch.setattr(kubernetes, "validate", lambda ctx, files, cwd=None: seen.extend(map(str, files)) or validate(ctx, files, cwd))
    report = check.run(tmp_path, validators=["kubernetes-validate"])
    assert len(seen) == 3, seen  # the namespace, the deployment (in a.yaml and b.yaml), d.yaml's namespace
    for name in ("a.yaml", "b.yaml"):
        [res] = report.select(artifact=name)
        assert res.status is Status.FAILED and "('replicas' was unexpected)" in res.message, check.format_text(report)
        assert f"ERROR {name} did not validate for resource deployment/web" in res.message
    assert report.select(artifact="c.yaml")[0].status is Status.PASSED
    [d] = report.select(artifact="d.yaml")
    assert d.status is Status.FAILED and "('colour' was unexpected)" in d.message


def test_a_file_that_does_not_split_into_documents_is_validated_whole_and_alone(tmp_path: Path) -> None:
    """A file kubernetes-validate cannot parse fails on its own; the other files keep their own verdicts."""
    _require("kubernetes-validate")
    (tmp_path / "good.yaml").write_text(NAMESPACE)
    (tmp_path / "odd.yaml").write_text(NAMESPACE + "--- {apiVersion: v1, kind: Namespace, metadata: {name: x, y: 1}}\n")
    report = check.run(tmp_path, validators=["kubernetes-validate"])
    assert report.select(artifact="good.yaml")[0].status is Status.PASSED
    [odd] = report.select(artifact="odd.yaml")
    assert odd.status is Status.FAILED and "('y' was unexpected)" in odd.message, check.format_text(report)


@pytest.mark.slow  # checkov, several runs
def test_checkov_still_finds_each_kind_of_finding_with_fewer_frameworks(tmp_path: Path) -> None:
    """checkov's folder scan runs helm, dockerfile and github_actions; the kubernetes framework runs on the
    plain manifests (a kustomize folder included, which the folder scan passed over)."""
    _require("checkov")
    shutil.copy(BAD / "checkov" / "Dockerfile", tmp_path / "Dockerfile")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("name: ci\non: push\npermissions: write-all\njobs:\n  test:\n"
                                      "    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n")
    privileged = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n"
                  "  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n"
                  "    spec:\n      containers:\n        - name: web\n          image: ghcr.io/example/web:1.0.0\n"
                  "          securityContext:\n            privileged: true\n")
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 1\n")
    (chart / "templates" / "deployment.yaml").write_text(privileged)
    k8s = tmp_path / "k8s"
    k8s.mkdir()
    (k8s / "kustomization.yaml").write_text("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                            "resources:\n  - deployment.yaml\n")
    (k8s / "deployment.yaml").write_text(privileged)
    report = check.run(tmp_path, validators=["checkov"])
    failed = report.select(validator="checkov", status=Status.FAILED)
    frameworks = {r.message.split("]", 1)[0].lstrip("[") for r in failed}
    assert {"dockerfile", "github_actions", "helm", "kubernetes"} <= frameworks, check.format_text(report)
    assert any(r.artifact.startswith("k8s/deployment.yaml (CKV_K8S_16") for r in failed), check.format_text(report)


def test_answers_files_are_not_linted_but_still_parsed(tmp_path: Path) -> None:
    _require("yamllint")
    (tmp_path / ".copier-answers.adr.yml").write_text('# Written by copier\n{"architecture": {"a": 1,}\n')
    (tmp_path / "values.yaml").write_text("name: a\nname: b\n")
    report = check.run(tmp_path, validators=["parse", "yamllint"])
    assert not report.select(validator="yamllint", artifact=".copier-answers.adr.yml")
    assert report.select(validator="parse", artifact=".copier-answers.adr.yml")[0].status is Status.FAILED
    assert report.select(validator="yamllint", artifact="values.yaml")[0].status is Status.FAILED


# --- validators run under their own interpreter with set-up code -----------------------------------------------
def test_kubernetes_validate_fast_gives_the_plain_commands_verdicts_line_for_line(tmp_path: Path) -> None:
    """kubernetes-validate with its schema reads memoized and its YAML read in C prints what the plain
    command prints, for passing, failing, schema-less, `=`-valued, multi-document and unparsable files."""
    from phasekit.check.validators import kubernetes

    _require("kubernetes-validate")
    ctx = check.Context(root=tmp_path, env=dict(os.environ))
    fast = kubernetes.python_command(ctx, "kubernetes-validate", kubernetes.FAST)
    assert fast[1:] == ["-c", kubernetes.FAST], "kubernetes-validate is not a Python script here"
    files = {
        "good.yaml": (GOOD / "k8s" / "deployment.yaml").read_text(),
        "bad.yaml": (BAD / "kubernetes-validate" / "deployment.yaml").read_text(),
        "two.yaml": NAMESPACE + "---\n" + NAMESPACE.replace("name: shop", "name: shop2") + "---\n",
        "equals.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  a: =\n",
        "crd.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n",
        "unknown-field.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x, y: 1}\n",
        "tab.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n\tname: x\n",
        "unclosed.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: [x\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    # one file per call for the unparsable ones: kubernetes-validate stops at the first file it cannot parse
    for group in (["good.yaml", "bad.yaml", "two.yaml", "equals.yaml", "crd.yaml", "unknown-field.yaml"],
                  ["tab.yaml"], ["unclosed.yaml"]):
        args = ["--strict", "-k", "1.31", *group]
        plain = ctx.run(["kubernetes-validate", *args], cwd=tmp_path)
        quick = ctx.run([*fast, *args], cwd=tmp_path)
        assert (quick.returncode, quick.stdout, quick.stderr) == (plain.returncode, plain.stdout, plain.stderr)
        assert plain.output, group
    assert "ERROR bad.yaml did not validate" in ctx.run(["kubernetes-validate", "--strict", "bad.yaml"], cwd=tmp_path).output


def test_checkov_runs_with_its_in_memory_debug_log_off_and_still_fails_a_finding(tmp_path: Path) -> None:
    from phasekit.check.validators import checkov

    _require("checkov")
    ctx = check.Context(root=tmp_path, env=dict(os.environ))
    assert checkov.python_command(ctx, "checkov", checkov.QUIET)[1:] == ["-c", checkov.QUIET]
    shutil.copy(BAD / "checkov" / "Dockerfile", tmp_path / "Dockerfile")
    report = check.run(tmp_path, validators=["checkov"])
    assert report.select(validator="checkov", artifact="Dockerfile", status=Status.FAILED), check.format_text(report)


def test_a_tool_that_is_no_python_script_runs_as_itself(tmp_path: Path) -> None:
    from phasekit.check.validators._script import python_command

    (tmp_path / "tool").write_text("#!/bin/sh\necho hi\n")
    (tmp_path / "tool").chmod(0o755)
    (tmp_path / "py").write_text("#!/usr/bin/env python3\nprint('hi')\n")  # env: interpreter not known
    (tmp_path / "py").chmod(0o755)
    ctx = check.Context(root=tmp_path, env={"PATH": str(tmp_path)})
    assert python_command(ctx, "tool", "x") == ["tool"]
    assert python_command(ctx, "py", "x") == ["py"]
    assert python_command(ctx, "absent", "x") == ["absent"]


def test_go_validators_get_a_lighter_garbage_collector_unless_the_caller_set_one(tmp_path: Path) -> None:
    """GOGC/GOMEMLIMIT reach the tools check runs; a value in the caller's environment wins."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "seen"
    (bin_dir / "promtool").write_text(f'#!/bin/sh\necho "$GOGC $GOMEMLIMIT" >> {seen}\n')
    (bin_dir / "promtool").chmod(0o755)
    root = tmp_path / "repo"
    root.mkdir()
    (root / "prometheus.yml").write_text("global: {scrape_interval: 15s}\nscrape_configs: []\n")
    check.run(root, validators=["promtool-config"], env={"PATH": str(bin_dir)})
    check.run(root, validators=["promtool-config"], env={"PATH": str(bin_dir), "GOGC": "50"})
    assert seen.read_text().splitlines() == ["200 250MiB", "50 250MiB"]


def test_an_answers_file_whose_render_cannot_be_repeated_is_noted_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Which files phasekit wrote is found while the validators run; what cannot be told is still said."""
    (tmp_path / ".copier-answers.adr.yml").write_text(
        '# Written by copier\n{"_commit": "v9.9.9", "_src_path": "/nowhere/template", "architecture": {}}\n')
    (tmp_path / "docs").mkdir()
    assert cli.main(["check", str(tmp_path), "--validator", "parse"]) == 0
    err = capsys.readouterr().err
    assert err.count("note: cannot tell which files .copier-answers.adr.yml rendered") == 1, err
    assert cli.main(["check", str(tmp_path), "--validator", "parse", "--only-generated"]) == 1
    err = capsys.readouterr().err
    assert "note: cannot tell" in err and "no file phasekit wrote" in err, err


def test_the_longest_calls_start_first_and_short_ones_finish_the_run(tmp_path: Path) -> None:
    """With one job, calls run in schedule order: promtool's unit tests (longest) before a terraform plan
    (grows with the system) before a batch (yamllint is long too) before a single short call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("promtool", "shellcheck", "terraform", "check-jsonschema"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    root = tmp_path / "repo"
    (root / ".github").mkdir(parents=True)
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "rules_test.yml").write_text("rule_files: [rules.yml]\ntests: []\n")
    (root / ".github" / "dependabot.yml").write_text("version: 2\nupdates: []\n")
    (root / "main.tf").write_text('variable "a" {}\n')
    (root / "dev.tfvars").write_text('a = 1\n')

    class Order:
        def __init__(self) -> None:
            self.labels: list[str] = []

        def start(self, total: int) -> None:
            pass

        def step(self, label: str) -> None:
            self.labels.append(label.split()[0])

    order = Order()
    check.run(root, validators=["shellcheck", "schema-dependabot", "terraform-tfvars", "promtool-test"],
              jobs=1, progress=order, env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    assert order.labels == ["promtool-test", "terraform-tfvars", "schema-dependabot", "shellcheck"]
