"""terraform blueprint: formatted, parseable HCL that matches the architecture, per-environment tfvars that the
real terraform binary accepts (and rejects when broken), no captured address, and a clean checkov run.

Providers cannot be downloaded here, so every environment is planned against a provider-free copy of the
output: root files that declare a provider, a resource or the terraform block are left out (locals they define
become stub strings), and each module keeps its variables, its locals and the outputs that read no resource. `terraform init
-backend=false`, `validate` and `plan -var-file=environments/<env>.tfvars` then check every tfvars value
against the types and validation blocks of the root AND of the modules it reaches.
See docs/blueprints/terraform.md.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import REPO, render_arch, run_tool
from phasekit import model

EXAMPLES = sorted(p.parent.name for p in REPO.glob("examples/*/architecture.yaml"))
PROVIDERS = ("docker", "kubernetes")
CASES = [(e, p) for e in EXAMPLES for p in PROVIDERS]
CASE_IDS = [f"{e}-{p}" for e, p in CASES]
ROOT_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "networks.tf", "services.tf", "providers.tf",
              "terraform.tfvars")
MODULES = ("network", "service", "monitoring", "storage")
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf")
PLATFORM_BLOCKS = {"resource", "data", "provider", "terraform"}
PROVIDER_SOURCES = {"docker": "kreuzwerker/docker", "kubernetes": "hashicorp/kubernetes"}
CHECKOV_SKIPS = {"CKV_K8S_14", "CKV_K8S_22", "CKV_K8S_35", "CKV_K8S_43"}


# ---------------------------------------------------------------------------- rendering (once per session)


def _arch(example: str, provider: str) -> dict:
    arch = model.load(REPO / "examples" / example / "architecture.yaml")
    arch["targets"]["terraform_provider"] = provider
    return arch


_OUT: dict[tuple[str, str], Path] = {}


@pytest.fixture(scope="session")
def tf_out(tmp_path_factory: pytest.TempPathFactory, template_source):
    """tf_out(example, provider) -> the rendered terraform/ folder (rendered once per session)."""

    def _get(example: str, provider: str) -> Path:
        if (example, provider) not in _OUT:
            dest = tmp_path_factory.mktemp(f"tf-{example}-{provider}") / example
            repo_copy(example, dest)
            render_arch(_arch(example, provider), dest, "terraform")
            _OUT[(example, provider)] = dest / "terraform"
        return _OUT[(example, provider)]

    return _get


def repo_copy(example: str, dest: Path) -> Path:
    """The example's repository, where terraform/ is rendered: config volumes are read from it (`..`).
    A config file compose mounts but the repository does not hold (backup's kubeconfig is the team's own,
    never committed) gets a placeholder, as the team's checkout would have the real file."""
    shutil.copytree(REPO / "examples" / example, dest)
    arch = model.load(REPO / "examples" / example / "architecture.yaml")
    for item in arch["services"] + arch["datastores"]:
        for vol in item.get("volumes", []):
            path = dest / vol.get("source", "")
            if vol["type"] == "config" and not vol.get("secret") and not vol.get("directory") and not path.exists():
                path.write_text("# placeholder written by the test: the team's own file\n", encoding="utf-8")
    return dest


_PARSED: dict[Path, dict] = {}


def parse_tree(root: Path) -> dict[Path, dict]:
    """python-hcl2's view of every .tf/.tfvars/.hcl file under root, in one hcl2tojson run (its start-up is slow)."""
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix in {".tf", ".tfvars", ".hcl"})
    proc = run_tool(["hcl2tojson", "-q", "--strip-string-quotes", "--ndjson", *files], cwd=root)
    assert proc.returncode == 0, proc.stderr
    docs = {}
    for line in proc.stdout.splitlines():
        doc = json.loads(line)
        docs[(root / doc.pop("__file__")).resolve()] = doc
    assert len(docs) == len(files), f"hcl2tojson parsed {len(docs)} of {len(files)} files"
    _PARSED.update(docs)
    return docs


def hcl(path: Path) -> dict:
    """python-hcl2's view of one file (hcl2tojson on PATH after sourcing the validators' env.sh)."""
    path = path.resolve()
    if path not in _PARSED:
        parse_tree(path.parent)
    return _PARSED[path]


def blocks(doc: dict, kind: str) -> dict[str, dict]:
    """{label: body} for `variable "x" {}`-style blocks in an hcl2tojson document."""
    return {k: v for b in doc.get(kind, []) for k, v in b.items() if not k.startswith("__")}


def keys(obj: dict) -> list[str]:
    return [k for k in obj if not k.startswith("__")]


def terraform(argv: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not installed")
    return subprocess.run(["terraform", *argv, "-no-color"] if stdin is None else ["terraform", *argv],
                          cwd=cwd, capture_output=True, text=True, timeout=300, input=stdin, check=False)


# ---------------------------------------------------------------------------- the offline procedure


def provider_free_copy(tf: Path, dest: Path) -> Path:
    """A copy of terraform/ that terraform can init, validate and plan without any provider (next to a copy of
    the repository around it, where the config files are read from)."""
    shutil.copytree(tf.parent, dest.parent, dirs_exist_ok=True, ignore=lambda d, names: ["terraform"] if Path(d) == tf.parent else [])
    shutil.copytree(tf, dest)
    stub_locals: list[str] = []
    for f in sorted(dest.glob("*.tf")):
        doc = hcl(f)
        if PLATFORM_BLOCKS & doc.keys():
            stub_locals += [k for b in doc.get("locals", []) for k in b if not k.startswith("__")]
            f.unlink()
    (dest / "offline_stub.tf").write_text("".join(f'locals {{\n  {n} = "offline-stub"\n}}\n' for n in stub_locals))
    for mod in sorted((dest / "modules").iterdir()):
        # The module's locals read only its variables: keep them, so the plan evaluates them with real values.
        # Outputs computed from variables and locals are kept; those that read a resource become null.
        local_blocks = [b for f in sorted(mod.glob("*.tf")) for b in top_level_blocks(f.read_text(), "locals")]
        assert not any(READS_RESOURCE.search(b) for b in local_blocks), mod
        outputs = []
        for block in top_level_blocks((mod / "outputs.tf").read_text(), r'output "[\w-]+"'):
            name = re.match(r'output "([\w-]+)"', block).group(1)
            outputs.append(f'output "{name}" {{\n  value = null\n}}\n' if READS_RESOURCE.search(block) else block)
        for f in mod.glob("*.tf"):
            if f.name != "variables.tf":
                f.unlink()
        (mod / "locals.tf").write_text("".join(local_blocks))
        (mod / "outputs.tf").write_text("".join(outputs))
    init = terraform(["init", "-backend=false", "-input=false"], dest)
    assert init.returncode == 0, init.stdout + init.stderr
    # The operator says where config files holding credentials sit on the Docker host (the plan stops
    # until they do: test_a_secret_config_file_needs_its_host_path).
    secret = {key: {v["target"]: f"/srv/secrets{v['target']}" for v in item["volumes"] if v["kind"] == "config" and v.get("secret")}
              for where in ("services", "datastores") for key, item in hcl(dest / "terraform.tfvars")[where].items()}
    secret = {k: v for k, v in secret.items() if v}
    if secret and (dest / "variables.tf").read_text().count('variable "secret_files"'):
        (dest / "operator_secrets.auto.tfvars").write_text(f"secret_files = {json.dumps(secret)}\n")
    return dest


READS_RESOURCE = re.compile(r"\b(docker|kubernetes)_\w+\.")


def top_level_blocks(text: str, header: str) -> list[str]:
    """The text of each top-level block whose first line matches header (braces are balanced in strings)."""
    found = []
    for match in re.finditer(rf"^{header} {{$", text, flags=re.M):
        depth, i = 0, match.start()
        while True:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
            if depth == 0 and text[i - 1] == "}":
                break
        found.append(text[match.start():i] + "\n")
    return found


def plan(work: Path, var_file: str) -> subprocess.CompletedProcess[str]:
    return terraform(["plan", "-input=false", "-lock=false", "-refresh=false", f"-var-file={var_file}"], work)


_FREE: dict[tuple[str, str], Path] = {}


@pytest.fixture(scope="session")
def offline(tf_out, tmp_path_factory):
    def _get(example: str, provider: str) -> Path:
        if (example, provider) not in _FREE:
            work = tmp_path_factory.mktemp(f"tf-free-{example}-{provider}") / "terraform"
            _FREE[(example, provider)] = provider_free_copy(tf_out(example, provider), work)
        return _FREE[(example, provider)]

    return _get


# ---------------------------------------------------------------------------- layout and syntax


@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
def test_layout_has_root_modules_and_an_env_pair_per_environment(tf_out, example, provider):
    tf = tf_out(example, provider)
    arch = _arch(example, provider)
    for name in ROOT_FILES:
        assert (tf / name).is_file(), name
    for mod in MODULES:
        for name in MODULE_FILES:
            assert (tf / "modules" / mod / name).is_file(), f"modules/{mod}/{name}"
    envs = sorted(p.name for p in (tf / "environments").iterdir())
    assert envs == sorted([f"{e}.tfvars" for e in arch["environments"]] + [f"{e}.backend.hcl" for e in arch["environments"]])
    for f in tf.rglob("*"):
        assert ".jinja" not in f.name and "{" not in f.name, f
        if f.is_file():
            assert f.read_text(encoding="utf-8").endswith("\n"), f


@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
def test_terraform_fmt_and_hcl2_accept_every_file(tf_out, example, provider):
    tf = tf_out(example, provider)
    parse_tree(tf)
    proc = terraform(["fmt", "-check", "-recursive", "-diff"], tf)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    docs = parse_tree(tf)
    assert len(docs) == len(ROOT_FILES) + len(MODULES) * len(MODULE_FILES) + 2 * len(_arch(example, provider)["environments"])


# ---------------------------------------------------------------------------- the system matches the architecture


def _network_keys(arch: dict, item: dict) -> list[str]:
    ids = {n["name"]: n["id"] for n in arch["networks"]}
    return [ids[n] for n in item["networks"]] if item["networks"] else ["default"]


def _runs_as_compose_does(got: dict, item: dict) -> None:
    """The fields the fidelity check reads: command, entrypoint and volumes exactly as the model has them
    (host paths are named in not_portable instead of being mounted)."""
    assert got["command"] == item.get("command") and got["entrypoint"] == item.get("entrypoint"), item["name"]
    assert got["working_dir"] == item.get("working_dir") and got["user"] == item.get("user"), item["name"]
    want = [(v["target"], v["type"], v.get("source")) for v in item.get("volumes", []) if v["type"] != "host"]
    have = [(v["target"], v["kind"], v["source"]) for v in got["volumes"]]
    assert have[:len(want)] == want, item["name"]
    assert got["not_portable"] == [v["target"] for v in item.get("volumes", []) if v["type"] == "host"]


@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
def test_every_service_and_datastore_is_in_the_maps(tf_out, example, provider):
    arch = _arch(example, provider)
    system = hcl(tf_out(example, provider) / "terraform.tfvars")
    assert system["project"] == arch["project"]["id"]
    services = system["services"]
    assert sorted(services) == sorted(s["id"] for s in arch["services"])
    for svc in arch["services"]:
        got = services[svc["id"]]
        assert got["name"] == svc["name"]
        assert got["kind"] == svc["kind"]
        assert got["replicas"] == (svc["replicas"] if svc["scalable"] else min(svc["replicas"], 1))
        assert (got["workload"], got["scalable"]) == (svc["workload"], svc["scalable"])
        assert got["zone"] == svc["zone"]
        assert got["networks"] == _network_keys(arch, svc)
        assert [(p["name"], p["port"], p["protocol"], p.get("published")) for p in got["ports"]] == [
            (p["name"], p["port"], p["protocol"], p.get("published")) for p in svc["ports"]]
        for probe in ("liveness", "readiness", "startup"):
            want = {k: v for k, v in svc["health"][probe].items()}
            assert got["health"][probe] == want, (svc["name"], probe)
        assert got["env_names"] == svc["env"] and got["secrets"] == svc["secrets"]
        assert got["resources"] == svc["resources"]
        _runs_as_compose_does(got, svc)
        if "build" in svc or "image" not in svc:
            assert got["build"] is True and got["image"] == f"{arch['targets']['registry']}/{svc['id']}"
        else:
            assert got["build"] is False and got["image"] == svc["image"]
    stores = system["datastores"]
    assert sorted(stores) == sorted(d["id"] for d in arch["datastores"])
    for ds in arch["datastores"]:
        got = stores[ds["id"]]
        assert (got["name"], got["engine"], got["networks"]) == (ds["name"], ds["engine"], _network_keys(arch, ds))
        assert [(p["port"], p["protocol"]) for p in got["ports"]] == [(p["port"], p["protocol"]) for p in ds["ports"]]
        if ds["managed"]:
            assert got["managed"] is True
        else:
            assert got["managed"] is False and got["image"].split(":")[0] == ds["image"].split(":")[0]
        _runs_as_compose_does(got, ds)
    declared = {n["id"] for n in arch["networks"]}
    used = {k for item in arch["services"] + arch["datastores"] for k in _network_keys(arch, item)}
    assert set(system["networks"]) == declared | used


@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
def test_environment_files_hold_what_differs_and_a_locked_backend(tf_out, example, provider):
    arch = _arch(example, provider)
    tf = tf_out(example, provider)
    envs = arch["environments"]
    named = [e for e in envs if e in ("prod", "production", "prd", "live")]
    production = named[0] if named else envs[-1]
    buckets = set()
    for i, env in enumerate(envs):
        values = hcl(tf / "environments" / f"{env}.tfvars")
        assert values["environment"] == env
        assert sorted(values["replicas"]) == sorted(s["id"] for s in arch["services"])
        for svc in arch["services"]:
            n = values["replicas"][svc["id"]]
            if svc["replicas"] == 0:
                assert n == 0
            elif not svc["scalable"]:
                assert n == 1  # a single writer, a job or a scheduled service: never scaled out
            elif env == production:
                assert n == (svc["replicas"] if svc["kind"] == "cron" else max(svc["replicas"], 2))
            elif i == 0:
                assert n == 1  # development
            else:
                assert n == svc["replicas"]
        runs_here = [d["id"] for d in arch["datastores"] if not d["managed"]]
        assert set(values["resources"]) >= {s["id"] for s in arch["services"]}
        assert set(values["resources"]) <= {s["id"] for s in arch["services"]} | set(runs_here)
        backend = hcl(tf / "environments" / f"{env}.backend.hcl")
        assert backend["use_lockfile"] is True and backend["encrypt"] is True
        assert backend["key"] == f"{arch['project']['id']}/{env}/terraform.tfstate"
        assert len(backend["bucket"]) <= 63 and env in backend["bucket"]
        buckets.add(backend["bucket"])
    assert len(buckets) == len(envs)
    versions = hcl(tf / "versions.tf")["terraform"][0]
    assert "s3" in versions["backend"][0]


def _addresses(arch: dict) -> set[str]:
    """Every address the model captured: static IPs and network subnets (the gap being closed)."""
    found = set()
    for item in arch["services"] + arch["datastores"]:
        found |= set(item["static_ips"].values())
    found |= {n["subnet"] for n in arch["networks"] if n.get("subnet")}
    for fact in arch["facts"]:
        if fact["kind"] == "static-ip":
            found |= set(re.findall(r"\d+\.\d+\.\d+\.\d+(?:/\d+)?", fact.get("detail", "")))
    return found


@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
def test_no_captured_address_or_fixed_container_ip_anywhere(tf_out, example, provider):
    arch = _arch(example, provider)
    captured = _addresses(arch)
    for f in tf_out(example, provider).rglob("*"):
        if not f.is_file():
            continue
        text = f.read_text(encoding="utf-8")
        for address in captured:
            assert address not in text, f"{f.name} reproduces the captured address {address}"
        assert "ipv4_address" not in text and "ipv6_address" not in text and "cluster_ip = \"1" not in text, f
        for literal in re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", text):
            ip = ipaddress.ip_address(literal)
            assert ip.is_loopback or ip.is_unspecified, f"{f.name}: hard-coded address {literal}"


# ---------------------------------------------------------------------------- providers and module conventions


@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
def test_provider_is_the_chosen_one_pinned_root_tilde_modules_minimum(tf_out, example, provider):
    tf = tf_out(example, provider)
    required = hcl(tf / "versions.tf")["terraform"][0]["required_providers"][0]
    assert keys(required) == [provider]
    assert required[provider]["source"] == PROVIDER_SOURCES[provider]
    assert required[provider]["version"].startswith("~> ")
    for mod in MODULES:
        req = hcl(tf / "modules" / mod / "versions.tf")["terraform"][0]
        assert req["required_version"].startswith(">= ")
        assert keys(req["required_providers"][0]) == [provider]
        assert req["required_providers"][0][provider]["version"].startswith(">= ")
        assert "backend" not in req
    other = "kubernetes_" if provider == "docker" else "docker_"
    mine = "docker_container" if provider == "docker" else "kubernetes_deployment_v1"
    text = "".join(f.read_text(encoding="utf-8") for f in tf.rglob("*.tf"))
    assert mine in text and f'resource "{other}' not in text
    assert list(blocks(hcl(tf / "providers.tf"), "provider")) == [provider]


@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
def test_every_variable_and_output_is_typed_and_described_with_validations(tf_out, example, provider):
    tf = tf_out(example, provider)
    for folder in [tf, *(tf / "modules" / m for m in MODULES)]:
        variables = blocks(hcl(folder / "variables.tf"), "variable")
        outputs = blocks(hcl(folder / "outputs.tf"), "output")
        assert variables and outputs
        for name, body in variables.items():
            assert body.get("description") and body.get("type"), f"{folder.name}: variable {name}"
        for name, body in outputs.items():
            assert body.get("description") and "value" in body, f"{folder.name}: output {name}"
        validated = {n for n, b in variables.items() if b.get("validation")}
        assert "environment" in validated, folder
    root = blocks(hcl(tf / "variables.tf"), "variable")
    conditions = json.dumps(root["services"]["validation"])
    assert "65535" in conditions and "1000" in conditions and "replicas" in conditions
    assert "var.environment" in root["environment"]["validation"][0]["condition"]
    assert json.dumps(_arch(example, provider)["environments"]) in root["environment"]["validation"][0]["condition"]
    service = blocks(hcl(tf / "modules" / "service" / "variables.tf"), "variable")
    assert {"ports", "replicas", "environment", "image", "health"} <= {n for n, b in service.items() if b.get("validation")}
    services_tf = hcl(tf / "services.tf")
    for call in ("service", "datastore"):
        assert blocks(services_tf, "module")[call]["for_each"] in ("${local.services}", "${local.datastores}")


# ---------------------------------------------------------------------------- real terraform, offline


@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
def test_every_environment_plans_offline_against_root_and_module_validations(offline, example, provider):
    work = offline(example, provider)
    proc = terraform(["validate"], work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    arch = _arch(example, provider)
    for env in arch["environments"]:
        proc = plan(work, f"environments/{env}.tfvars")
        assert proc.returncode == 0, f"{env}: {proc.stdout}{proc.stderr}"
    # The merge of system and environment, as terraform computes it: images get the tag, replicas the env's.
    prod = arch["environments"][-1]
    console = terraform(["console", f"-var-file=environments/{prod}.tfvars"], work, stdin="jsonencode(local.services)\n")
    assert console.returncode == 0, console.stderr
    merged = json.loads(json.loads(console.stdout.strip()))
    values = hcl(work / "environments" / f"{prod}.tfvars")
    for svc in arch["services"]:
        got = merged[svc["id"]]
        assert got["replicas"] == values["replicas"][svc["id"]]
        if got["build"]:
            assert got["image"] == f"{arch['targets']['registry']}/{svc['id']}:{prod}"


BROKEN = {
    "negative replicas": ("env", r'("[a-z0-9-]+"\s*=\s*)\d+', r"\g<1>-1", "Replicas must be whole numbers"),
    "unknown environment": ("env", r'environment(\s*)= "[a-z0-9-]+"', r'environment\1= "qa"', "The environment must be one of"),
    "latest image tag": ("env", r'image_tag(\s*)= "[a-z0-9-]+"', r'image_tag\1= "latest"', "not 'latest'"),
    "port out of range": ("system", r"port = \d+, protocol", "port = 70000, protocol", "between 1 and 65535"),
    "fractional replicas": ("system", r"replicas = \d+", "replicas = 1.5", "whole number"),
    "unknown network": ("system", r'networks = \["[a-z0-9-]+"', 'networks = ["nowhere"', "networks declared in var.networks"),
}


@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_value_is_rejected_by_terraform(offline, tmp_path, example, provider, case):
    where, pattern, repl, message = BROKEN[case]
    arch = _arch(example, provider)
    env = arch["environments"][0]
    work = tmp_path / "terraform"
    shutil.copytree(offline(example, provider), work, symlinks=True)
    target = work / ("terraform.tfvars" if where == "system" else f"environments/{env}.tfvars")
    text = target.read_text(encoding="utf-8")
    broken, count = re.subn(pattern, repl, text, count=1)
    if not count:
        pytest.skip(f"{example} has nothing to break for '{case}'")
    target.write_text(broken, encoding="utf-8")
    proc = plan(work, f"environments/{env}.tfvars")
    assert proc.returncode != 0
    assert message in " ".join((proc.stdout + proc.stderr).split()), proc.stdout + proc.stderr


def test_values_that_look_like_templates_stay_literal(tmp_path):
    """A command or env name with ${...}, %{...} or quotes reaches terraform as the same string."""
    arch = _arch("insights", "docker")
    worker = next(s for s in arch["services"] if s["kind"] == "worker")
    nasty = ["/bin/sh", "-c", 'echo "${HOME}" %{if x} \\ \'q\' <a&b>']
    worker["health"]["readiness"] = {"type": "exec", "command": nasty}
    render_arch(copy.deepcopy(arch), tmp_path / "out", "terraform")
    work = provider_free_copy(tmp_path / "out" / "terraform", tmp_path / "free")
    expr = f'jsonencode(var.services["{worker["id"]}"].health.readiness.command)\n'
    proc = terraform(["console", "-var-file=environments/dev.tfvars"], work, stdin=expr)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(json.loads(proc.stdout.strip())) == nasty


def test_custom_environments_get_their_own_files_and_validation(tmp_path):
    arch = _arch("filetransfer", "kubernetes")
    arch["environments"] = ["test", "live"]
    render_arch(copy.deepcopy(arch), repo_copy("filetransfer", tmp_path / "out"), "terraform")
    tf = tmp_path / "out" / "terraform"
    assert sorted(p.name for p in (tf / "environments").iterdir()) == [
        "live.backend.hcl", "live.tfvars", "test.backend.hcl", "test.tfvars"]
    work = provider_free_copy(tf, tmp_path / "free")
    for env in ("test", "live"):
        assert plan(work, f"environments/{env}.tfvars").returncode == 0
    (work / "environments" / "test.tfvars").write_text(
        (work / "environments" / "test.tfvars").read_text().replace('environment          = "test"', 'environment          = "dev"'))
    proc = plan(work, "environments/test.tfvars")
    assert proc.returncode != 0 and "must be one of: test, live" in proc.stdout + proc.stderr


# ---------------------------------------------------------------------------- checkov


@pytest.fixture(scope="session")
def checkov_report(tf_out, tmp_path_factory) -> dict:
    """One checkov run over every example and provider (checkov's start-up dominates its time)."""
    root = tmp_path_factory.mktemp("tf-checkov")
    for example, provider in CASES:
        shutil.copytree(tf_out(example, provider), root / f"{example}-{provider}")
    proc = run_tool(["checkov", "-d", str(root), "--framework", "terraform", "--skip-download", "--compact", "-o", "json"],
                    timeout=900)
    report = json.loads(proc.stdout)
    return report if isinstance(report, dict) else report[0]


@pytest.mark.slow
@pytest.mark.parametrize(("example", "provider"), CASES, ids=CASE_IDS)
def test_checkov_finds_no_failed_check(checkov_report, example, provider):
    assert checkov_report["summary"]["parsing_errors"] == 0
    def mine(kind: str) -> list[dict]:
        return [c for c in checkov_report["results"][kind] if f"/{example}-{provider}/" in c["file_abs_path"]]
    assert mine("failed_checks") == []
    if provider == "kubernetes":  # checkov has no checks for docker_* resources; say so rather than pretend
        assert len(mine("passed_checks")) >= 50
    for skip in mine("skipped_checks"):
        assert skip["check_id"] in CHECKOV_SKIPS and len(skip["check_result"].get("suppress_comment", "")) > 40, skip


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_minimal_architecture_renders_formats_and_plans(tmp_path, provider):
    """No datastores, no networks, a gRPC service with a dotted name and a stopped cron job: still valid."""
    arch = {
        "version": 1,
        "project": {"name": "Tiny System"},
        "services": [
            {"name": "rpc.server", "kind": "grpc", "image": "example/rpc:2.0", "ports": [{"port": 50051}]},
            {"name": "nightly", "kind": "cron", "language": "shell", "replicas": 0},
        ],
        "targets": {"terraform_provider": provider},
    }
    render_arch(arch, tmp_path / "out", "terraform")
    tf = tmp_path / "out" / "terraform"
    assert terraform(["fmt", "-check", "-recursive", "-diff"], tf).returncode == 0
    system = hcl(tf / "terraform.tfvars")
    assert keys(system["services"]) == ["rpc-server", "nightly"] and system["datastores"] == {}
    assert keys(system["networks"]) == ["default"]
    work = provider_free_copy(tf, tmp_path / "free")
    for env in ("dev", "staging", "prod"):
        proc = plan(work, f"environments/{env}.tfvars")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert hcl(work / "environments" / f"{env}.tfvars")["replicas"]["nightly"] == 0


def test_docker_healthcheck_uses_the_health_checkers_probe_modes(tf_out) -> None:
    """http and tcp probes call `healthcheck.sh http URL` / `tcp HOST PORT`; its bare `readiness` mode is
    the worker heartbeat contract and would mark every web service unhealthy."""
    text = (tf_out("filetransfer", "docker") / "modules" / "service" / "main.tf").read_text()
    assert '["http", "http://127.0.0.1:${coalesce(local.readiness.port, 0)}${coalesce(local.readiness.path, "/")}"]' in text
    assert '["tcp", "127.0.0.1", tostring(coalesce(local.readiness.port, 0))]' in text
    assert '"/healthcheck/healthcheck.sh", "readiness"]' not in text
    health_sh = (REPO / "blueprints" / "health" / "health" / "healthcheck.sh").read_text()
    assert "healthcheck.sh http URL" in health_sh and "healthcheck.sh tcp HOST PORT" in health_sh


def test_an_unpinned_image_is_flagged_where_it_must_be_pinned_and_refused_until_it_is(tmp_path):
    """A service running an untagged image: the tfvars say so above its entry, terraform refuses to plan
    it with the module's message, and pinning the tag there is all it takes."""
    arch = _arch("insights", "docker")
    arch["services"].append({"name": "flower", "image": "mher/flower", "ports": [{"port": 5555}]})
    render_arch(copy.deepcopy(arch), tmp_path / "out", "terraform")
    text = (tmp_path / "out" / "terraform" / "terraform.tfvars").read_text(encoding="utf-8")
    flagged = re.findall(r"# architecture.yaml runs (\S+) unpinned", text)
    assert flagged == ["mher/flower"], flagged  # the pinned and the built images are not flagged
    assert text.index("runs mher/flower unpinned") < text.index('"flower" = {')
    work = provider_free_copy(tmp_path / "out" / "terraform", tmp_path / "free")
    proc = plan(work, "environments/dev.tfvars")
    assert proc.returncode != 0 and "The image must be pinned" in " ".join((proc.stdout + proc.stderr).split())
    tfvars = work / "terraform.tfvars"
    tfvars.write_text(tfvars.read_text(encoding="utf-8").replace('"mher/flower"', '"mher/flower:2.0"'), encoding="utf-8")
    proc = plan(work, "environments/dev.tfvars")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---------------------------------------------------------------------------- fidelity: what compose runs


def _service(tf: Path, key: str, where: str = "services") -> dict:
    return hcl(tf / "terraform.tfvars")[where][key]


def _console(work: Path, env: str, expr: str):
    proc = terraform(["console", f"-var-file=environments/{env}.tfvars"], work, stdin=f"jsonencode({expr})\n")
    assert proc.returncode == 0, proc.stderr
    return json.loads(json.loads(proc.stdout.strip()))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_filetransfer_runs_nginx_with_its_config_and_keeps_data_and_postgres(tf_out, offline, provider):
    """The issue's reader test: nginx:1.27 with its nginx.conf, the transfers and the database on persistent
    volumes (never tmpfs), postgres deployed; computed by terraform itself from the rendered files."""
    tf = tf_out("filetransfer", provider)
    gateway = _service(tf, "gateway")
    assert (gateway["image"], gateway["build"]) == ("nginx:1.27", False)  # not ghcr.io/example/gateway
    assert gateway["volumes"] == [{"target": "/etc/nginx/nginx.conf", "kind": "config", "source": "gateway/nginx.conf",
                                   "read_only": True}]
    assert _service(tf, "mime-server")["volumes"] == [{"target": "/var/lib/transfers", "kind": "data", "source": "transfers"}]
    db = _service(tf, "db", "datastores")
    assert (db["image"], db["managed"]) == ("postgres:16", False)
    assert db["volumes"] == [{"target": "/var/lib/postgresql/data", "kind": "data", "source": "pgdata"}]
    assert [(p["port"], p["protocol"]) for p in db["ports"]] == [(5432, "TCP")]

    work = offline("filetransfer", provider)
    conf = (REPO / "examples" / "filetransfer" / "gateway" / "nginx.conf").read_text(encoding="utf-8")
    assert _console(work, "prod", 'local.config_files["gateway"]') == {"/etc/nginx/nginx.conf": conf}
    assert "db" in _console(work, "prod", "keys(local.datastores)")
    mounts = _console(work, "prod", "local.mounts")
    names = {"docker": ("filetransfer-prod-transfers", "filetransfer-prod-pgdata"), "kubernetes": ("transfers", "pgdata")}
    assert [(m["kind"], m["name"]) for m in mounts["mime-server"]] == [("data", names[provider][0])]
    assert [(m["kind"], m["name"]) for m in mounts["db"]] == [("data", names[provider][1])]
    assert sorted(_console(work, "prod", "keys(local.data_volumes)")) == sorted(names[provider])
    # The module mounts them: data volumes from modules/storage, config files uploaded or from a ConfigMap.
    main = (tf / "modules" / "service" / "main.tf").read_text(encoding="utf-8")
    if provider == "docker":
        assert "volume_name    = volumes.value.name" in main and 'for_each = var.config_files' in main
        assert 'if v.kind == "tmpfs"' in main and "local.tmpfs" in main
        assert 'resource "docker_volume" "this"' in (tf / "modules" / "storage" / "main.tf").read_text(encoding="utf-8")
    else:
        assert "claim_name = volume.key" in main and 'resource "kubernetes_config_map_v1" "files"' in main
        assert "sub_path   = volume_mount.value" in main
        assert 'resource "kubernetes_persistent_volume_claim_v1" "this"' in (tf / "modules" / "storage" / "main.tf").read_text(encoding="utf-8")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_backup_keeps_minios_command_and_data_and_the_agents_user(tf_out, offline, provider):
    tf = tf_out("backup", provider)
    minio = _service(tf, "minio", "datastores")
    assert minio["image"] == "minio/minio:RELEASE.2024-10-13T13-34-11Z"
    assert minio["command"] == ["server", "/data", "--console-address", ":9001"] and minio["entrypoint"] is None
    assert minio["volumes"] == [{"target": "/data", "kind": "data", "source": "minio-data"}]
    assert [(p["port"], p["protocol"]) for p in minio["ports"]] == [(9000, "TCP"), (9001, "TCP")]
    agent = _service(tf, "backup-agent")
    assert agent["command"] == ["/usr/local/bin/backup-agent", "--schedule", "@hourly"]
    assert (agent["user"], agent["run_as_user"], agent["run_as_group"]) == ("65532:65532", 65532, 65532)
    assert [v["kind"] for v in agent["volumes"]] == ["config", "data"]
    assert (agent["scalable"], agent["replicas"]) == (False, 1)
    work = offline("backup", provider)
    for env in ("dev", "prod"):  # a single writer of its volume: one replica everywhere, production too
        assert _console(work, env, 'local.services["backup-agent"].replicas') == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_mediawiki_shares_its_images_volume_and_mounts_localsettings(tf_out, offline, provider):
    tf = tf_out("mediawiki", provider)
    wiki, backup = _service(tf, "mediawiki"), _service(tf, "backup")
    assert wiki["image"] == "mediawiki:1.42" and backup["command"] == ["crond", "-f"]
    assert _service(tf, "mysql", "datastores")["image"] == "mysql:8.0"
    work = offline("mediawiki", provider)
    mounts = _console(work, "dev", "local.mounts")
    shared = {m["name"] for key in ("mediawiki", "backup") for m in mounts[key] if m["kind"] == "data"}
    assert len(shared) == 1, shared  # one volume for the compose volume `images`, mounted by both
    files = _console(work, "dev", "local.config_files")
    assert files["mediawiki"] == {"/var/www/html/LocalSettings.php": (REPO / "examples/mediawiki/wiki/LocalSettings.php").read_text()}
    assert list(files["backup"]) == ["/etc/crontabs/root"]


def test_a_config_file_missing_from_the_repository_is_refused_by_name(tmp_path):
    """Rendered outside the repository that holds gateway/nginx.conf, the plan stops and names the file."""
    render_arch(_arch("filetransfer", "docker"), tmp_path / "out", "terraform")
    work = provider_free_copy(tmp_path / "out" / "terraform", tmp_path / "free" / "terraform")
    proc = plan(work, "environments/dev.tfvars")
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0 and "the config file mounted at /etc/nginx/nginx.conf is missing" in said, said


def test_commands_jobs_tmpfs_udp_and_host_paths_reach_both_providers(tmp_path):
    """A one-shot seed, a scheduled job, a UDP server with a tmpfs and the Docker socket: each lands where the
    contract says, and terraform plans it."""
    arch = {
        "version": 1,
        "project": {"name": "edge"},
        "services": [
            {"name": "seed", "kind": "worker", "image": "example/seed:1.0", "one_shot": True, "restart": "no",
             "entrypoint": ["/bin/sh", "-c"], "command": ["psql ${DATABASE_URL:-postgres://db} -f /seed.sql"]},
            {"name": "nightly", "kind": "cron", "image": "example/nightly:1.0", "schedule": "@daily"},
            {"name": "dns", "kind": "tcp", "image": "example/dns:1.0", "ports": [{"port": 53, "protocol": "UDP"}],
             "volumes": [{"target": "/run/cache", "type": "tmpfs"},
                         {"target": "/var/run/docker.sock", "type": "host", "source": "/var/run/docker.sock"}]},
        ],
    }
    for provider in PROVIDERS:
        arch["targets"] = {"terraform_provider": provider}
        out = tmp_path / provider
        render_arch(copy.deepcopy(arch), out, "terraform")
        tf = out / "terraform"
        assert terraform(["fmt", "-check", "-recursive", "-diff"], tf).returncode == 0
        system = hcl(tf / "terraform.tfvars")["services"]
        assert (system["seed"]["workload"], system["nightly"]["workload"]) == ("job", "cronjob")
        assert system["seed"]["command"] == ["psql ${DATABASE_URL:-postgres://db} -f /seed.sql".replace("${", "$${")]
        assert system["dns"]["volumes"] == [{"target": "/run/cache", "kind": "tmpfs", "source": None}]
        assert system["dns"]["not_portable"] == ["/var/run/docker.sock"]
        assert [(p["port"], p["protocol"]) for p in system["dns"]["ports"]] == [(53, "UDP")]
        assert "Not mounted (a path of the host, not portable): /var/run/docker.sock" in (tf / "terraform.tfvars").read_text()
        main = (tf / "modules" / "service" / "main.tf").read_text()
        if provider == "docker":
            assert 'restart  = local.runs_once ? "no"' in main and "must_run = !local.runs_once" in main
        else:
            assert 'resource "kubernetes_job_v1" "this"' in main and 'resource "kubernetes_cron_job_v1" "this"' in main
            assert '"$(${m[1]})"' in main
        work = provider_free_copy(tf, tmp_path / f"free-{provider}" / "terraform")
        proc = plan(work, "environments/prod.tfvars")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _console(work, "prod", 'local.services["nightly"].replicas') == 1


def test_a_secret_config_file_needs_its_host_path(tf_out, tmp_path):
    """backup's kubeconfig holds credentials: Docker mounts it from the host path the operator sets in
    secret_files (never read into the state), and the plan names it until it is set."""
    tf = tf_out("backup", "docker")
    assert {"target": "/etc/backup/kubeconfig", "kind": "config", "source": "kubeconfig", "read_only": True,
            "secret": True} in _service(tf, "backup-agent")["volumes"]
    work = provider_free_copy(tf, tmp_path / "free" / "terraform")
    assert plan(work, "environments/dev.tfvars").returncode == 0
    assert _console(work, "dev", 'local.config_files["backup-agent"]') == {}  # never read
    (work / "operator_secrets.auto.tfvars").unlink()
    proc = plan(work, "environments/dev.tfvars")
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0 and "set secret_files[<key>][<container path>] for /etc/backup/kubeconfig" in said, said
