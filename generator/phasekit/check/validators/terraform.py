"""Terraform: `terraform fmt -check`, `terraform validate`, and .tfvars against the variables they set.

Providers cannot be downloaded where phasekit's checks run, so terraform is pointed at a filesystem mirror
only (`$PHASEKIT_TF_PLUGIN_MIRROR`, default ~/.terraform.d/plugins): a module whose providers are in the
mirror (or that needs none) is validated in full; otherwise a provider-free copy holding only its
`variable` blocks is validated (types, defaults, validation rules) and the result says so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from .. import _hcl
from .._core import Artifact, Context, Proc, Result, Status, Validator
from .._inventory import Inventory

_PROVIDER = re.compile(r"provider\s+(?:registry\.terraform\.io/)?([\w.-]+/[\w.-]+)")
_NEEDS_DOWNLOAD = ("Failed to query available provider packages", "Failed to install provider",
                   "Inconsistent dependency lock file", "Failed to download module",
                   "Module not installed", "Required plugins are not installed")


def tf_dirs(inventory: Inventory) -> list[Path]:
    return sorted({p.parent for p in inventory.files if p.suffix == ".tf" or p.name.endswith(".tf.json")})


def tfvars_files(inventory: Inventory) -> list[Path]:
    return [p for p in inventory.files if p.suffix == ".tfvars"]


def _env(ctx: Context, data_dir: Path) -> dict[str, str]:
    mirror = ctx.env.get("PHASEKIT_TF_PLUGIN_MIRROR") or str(Path(ctx.env.get("HOME", "~"), ".terraform.d", "plugins"))
    rc = ctx.scratch / "terraformrc"
    if not rc.exists():
        rc.write_text(f"provider_installation {{\n  filesystem_mirror {{\n    path = {_quote(mirror)}\n  }}\n}}\n",
                      encoding="utf-8")
    return {"TF_CLI_CONFIG_FILE": str(rc), "TF_DATA_DIR": str(data_dir), "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1", "TF_INPUT": "0"}


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def variable_blocks(module: Path) -> list[_hcl.Block]:
    return [b for _name, (_text, blocks) in _variable_files(module).items() for b in blocks]


def _variable_files(module: Path) -> dict[str, tuple[str, list[_hcl.Block]]]:
    out = {}
    for tf in sorted(module.glob("*.tf")):
        text = tf.read_text(encoding="utf-8", errors="replace")
        out[tf.name] = (text, [b for b in _hcl.blocks(text) if b.type == "variable" and b.labels])
    return out


def provider_free_copy(ctx: Context, module: Path, drop: frozenset[str] = frozenset()) -> tuple[Path, int]:
    """A folder holding only the module's `variable` blocks, in files of the same names at the same lines."""
    work = ctx.tempdir("tf-free-")
    kept_total = 0
    for name, (text, blocks) in _variable_files(module).items():
        kept = [b for b in blocks if b.labels[0] not in drop]
        if kept:
            (work / name).write_text(_hcl.keep_only(text, kept), encoding="utf-8")
            kept_total += len(kept)
    return work, kept_total


def _init(ctx: Context, cwd: Path, data_dir: Path) -> Proc:
    return ctx.run(["terraform", "init", "-backend=false", "-input=false", "-lockfile=readonly", "-no-color"],
                   cwd=cwd, env=_env(ctx, data_dir))


class TerraformFmt(Validator):
    name = "terraform-fmt"
    tools = ("terraform",)
    description = "terraform fmt -check -diff (per module folder; standalone .tfvars per file)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        dirs = tf_dirs(inventory)
        loose = [p for p in tfvars_files(inventory) if p.parent not in dirs]
        return [inventory.artifact(p) for p in dirs + loose]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        target = "." if artifact.path.is_dir() else artifact.path.name
        cwd = artifact.path if artifact.path.is_dir() else artifact.path.parent
        proc = ctx.run(["terraform", "fmt", "-check", "-diff", "-no-color", target], cwd=cwd)
        if proc.ok:
            return self.result(artifact, Status.PASSED)
        return self.result(artifact, Status.FAILED, proc.output or "terraform fmt -check: files need formatting")


class TerraformValidate(Validator):
    name = "terraform-validate"
    tools = ("terraform",)
    description = "terraform init -backend=false + validate; provider-free copy when providers are unavailable"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        return [inventory.artifact(p) for p in tf_dirs(inventory)]

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        data_dir = ctx.tempdir("tf-data-")
        init = _init(ctx, artifact.path, data_dir)
        if init.ok:
            proc = ctx.run(["terraform", "validate", "-no-color"], cwd=artifact.path, env=_env(ctx, data_dir))
            return self.from_proc(artifact, proc, "full terraform validate (every provider it needs is installed)")
        if not any(marker in init.output for marker in _NEEDS_DOWNLOAD):
            return self.result(artifact, Status.FAILED, init.output)
        providers = sorted(set(_PROVIDER.findall(init.output))) or ["(registry modules or providers)"]
        variables = variable_blocks(artifact.path)
        why = f"needs {', '.join(providers)}, not installable offline"
        if not variables:
            return self.result(artifact, Status.SKIPPED, f"{why}; no provider-free part (no variables) to validate")
        work, _ = provider_free_copy(ctx, artifact.path)
        free_data = ctx.tempdir("tf-data-")
        proc = _init(ctx, work, free_data)
        if proc.ok:
            proc = ctx.run(["terraform", "validate", "-no-color"], cwd=work, env=_env(ctx, free_data))
        if not proc.ok:
            return self.result(artifact, Status.FAILED, f"provider-free copy (variables only):\n{proc.output}")
        return self.result(
            artifact, Status.PASSED,
            f"{why}: validated a provider-free copy ({len(variables)} variable blocks: types, defaults, "
            "validation rules); resources were parsed by terraform fmt only",
        )


class TerraformTfvars(Validator):
    name = "terraform-tfvars"
    tools = ("terraform",)
    description = "each .tfvars planned against a provider-free copy of the variables of the module it sets"
    slow = 1  # a terraform plan per environment

    def discover(self, inventory: Inventory) -> list[Artifact]:
        modules = {d: {b.labels[0]: b for b in variable_blocks(d) if b.labels} for d in tf_dirs(inventory)}
        found = []
        for tfvars in tfvars_files(inventory):
            keys = set(_hcl.top_level_attributes(tfvars.read_text(encoding="utf-8", errors="replace")))
            best = _best_module(tfvars, keys, modules)
            found.append(inventory.artifact(tfvars, module=str(best) if best else "", keys=tuple(sorted(keys))))
        return found

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        module = artifact.get("module")
        if not module:
            return self.result(artifact, Status.SKIPPED, "no Terraform module here declares the variables it sets")
        keys = set(artifact.get("keys", ()))
        autos = [a for a in _auto_loaded(Path(module)) if a != artifact.path]
        for auto in autos:
            keys |= set(_hcl.top_level_attributes(auto.read_text(encoding="utf-8", errors="replace")))
        # The file is checked for what it sets. A required variable it leaves unset must come from another
        # var-file, -var or TF_VAR_* (secrets never sit in tfvars), so it is left out of the copy and named.
        unset = sorted(b.labels[0] for b in variable_blocks(Path(module)) if _hcl.is_required(b) and b.labels[0] not in keys)
        work, kept = provider_free_copy(ctx, Path(module), frozenset(unset))
        for auto in autos:  # terraform.tfvars and *.auto.tfvars load before -var-file, as in a real plan
            shutil.copyfile(auto, work / auto.name)
        data_dir = ctx.tempdir("tf-data-")
        proc = _init(ctx, work, data_dir)
        if proc.ok:
            proc = ctx.run(["terraform", "plan", "-input=false", "-lock=false", "-refresh=false", "-no-color",
                            f"-var-file={artifact.path}"], cwd=work, env=_env(ctx, data_dir))
        rel_module = os.path.relpath(module, ctx.root)
        if not proc.ok or "undeclared variable" in proc.output:
            return self.result(artifact, Status.FAILED, f"against variables of {rel_module}:\n{proc.output}")
        note = f"planned against the variables of {rel_module} ({kept} declared, {len(keys)} set"
        note += f" with {', '.join(a.name for a in autos)})" if autos else ")"
        if unset:
            note += f"; required but set elsewhere (-var-file, -var, TF_VAR_*): {', '.join(unset)}"
        return self.result(artifact, Status.PASSED, note)


def _auto_loaded(module: Path) -> list[Path]:
    return sorted(p for p in module.iterdir() if p.is_file() and (
        p.name in {"terraform.tfvars", "terraform.tfvars.json"} or p.name.endswith((".auto.tfvars", ".auto.tfvars.json"))))


def _best_module(tfvars: Path, keys: set[str], modules: dict[Path, dict[str, _hcl.Block]]) -> Path | None:
    """The module declaring most of the file's variables; ties go to the nearest folder."""
    scored = []
    for module, variables in modules.items():
        hits = len(keys & set(variables))
        if hits:
            distance = len(Path(os.path.relpath(module, tfvars.parent)).parts)
            scored.append((-hits, distance, str(module)))
    return Path(sorted(scored)[0][2]) if scored else None


class Hcl2Parse(Validator):
    name = "hcl2"
    tools = ("hcl2tojson",)
    description = "python-hcl2 (hcl2tojson) parses every .tf, .tfvars and .hcl file (e.g. backend configs)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        dirs = tf_dirs(inventory)
        loose = [p for p in inventory.files if p.suffix in {".tfvars", ".hcl"} and p.parent not in dirs]
        return [inventory.artifact(p) for p in dirs + loose]

    batch = True

    @staticmethod
    def files(artifact: Artifact, ctx: Context) -> list[str]:
        if artifact.path.is_dir():
            found = sorted(p for p in artifact.path.iterdir() if p.suffix in {".tf", ".tfvars", ".hcl"})
        else:
            found = [artifact.path]
        return [p.relative_to(ctx.root).as_posix() for p in found]

    def check_batch(self, artifacts: list[Artifact], ctx: Context) -> list[Result]:
        """One hcl2tojson call (python-hcl2's import is slow): -s skips what does not parse, and only
        those files are parsed again, alone, for their error message."""
        wanted = {a.label: self.files(a, ctx) for a in artifacts}
        every = [f for files in wanted.values() for f in files]
        proc = ctx.run(["hcl2tojson", "-s", "--ndjson", *every], cwd=ctx.root)
        parsed = set()
        for line in proc.stdout.splitlines():
            try:
                parsed.add(json.loads(line).get("__file__"))
            except (json.JSONDecodeError, AttributeError):
                continue
        results = []
        for a in artifacts:
            broken = [f for f in wanted[a.label] if f not in parsed]
            if not broken:
                results.append(self.result(a, Status.PASSED, f"parsed {len(wanted[a.label])} file(s)"))
                continue
            messages = []
            for f in broken:
                alone = ctx.run(["hcl2tojson", f], cwd=ctx.root)
                lines = (alone.stderr.strip() or alone.output or "not parsed").splitlines()
                messages.append("\n".join([f"{f}:"] + lines[1 if lines[:1] == [f] else 0 :]))
            results.append(self.result(a, Status.FAILED, "\n".join(messages)))
        return results

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        return self.check_batch([artifact], ctx)[0]
