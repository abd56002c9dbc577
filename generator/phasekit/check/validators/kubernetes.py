"""Kubernetes manifests (any YAML whose documents carry apiVersion + kind) against the API schemas, strict.

Every document is validated once per check run: the plain manifests, each `helm template` render and each
kustomize build hand their YAML to `validate_texts`, which splits it into documents, keys each by what it
parses to (so a document the chart renders alike for every environment, or that kustomize rebuilds from a
manifest already checked, is validated once), and runs kubernetes-validate on the documents no caller has
validated yet, in one call. Each caller gets back kubernetes-validate's lines for its own documents, with
its own file named in them.

kubernetes-validate reads the API schemas from disk again for every document (the 6 MB of shared
definitions included: 40% of its time) and parses YAML in pure Python (35%). When it is a Python script,
it runs under its own interpreter with `FAST` first: each schema file is read once per call, and a file is
read with libyaml where libyaml can (anything libyaml rejects is read again by kubernetes-validate's own
loader, which gives its own error message). The verdicts and lines are those of the plain command
(tests/check compares them file by file).
"""

from __future__ import annotations

import hashlib
import re
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import yaml

from .._core import Artifact, Context, Proc, Result, Status, Validator
from .._inventory import Inventory
from ._script import python_command

_NO_SCHEMA = re.compile(r"Couldn't find schema for kind (\S+) with api version (\S+)")
_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?$", re.MULTILINE)
_LINE = re.compile(r"^(INFO|WARN|ERROR|FATAL) (\S+)( .*)?$")
_VERDICT_HEAD = re.compile(r"^(\S+) \S+")  # a verdict line's level and the file it names
_MEMO = "kubernetes-validate documents"
CHUNK = 2000  # documents per kubernetes-validate call (argv length)
# Run as `python -c FAST args...`: kubernetes-validate's entry point, its schema reads memoized and its
# YAML read in C where the C reader can.
FAST = """import errno, functools, sys, yaml
import kubernetes_validate.utils as utils
utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)
utils.all_versions = functools.lru_cache(maxsize=None)(utils.all_versions)
if getattr(yaml, "CSafeLoader", None) and getattr(utils, "construct_value", None):
    class _CLoader(yaml.CSafeLoader):
        pass
    _CLoader.add_constructor("tag:yaml.org,2002:value", utils.construct_value)
    _plain = utils.resources_from_file

    def _resources_from_file(filename):
        if filename != "-":
            try:
                with open(filename) as f:
                    return [item for item in yaml.load_all(f.read(), Loader=_CLoader) if item]
            except Exception:
                pass
        return _plain(filename)

    utils.resources_from_file = _resources_from_file
from kubernetes_validate.__main__ import main
try:
    sys.exit(main())
except IOError as exc:
    if exc.errno != errno.EPIPE:
        raise
except RuntimeError as exc:
    raise SystemExit(str(exc))
"""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """kubernetes-validate's reading (YAML 1.1 safe loader, `=` read as a string), in C."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: str(node.value))


def _canonical(value: Any) -> Any:
    """A form equal for equal data whatever the key order or formatting (and 1, 1.0, true kept apart)."""
    if isinstance(value, dict):
        return ("map", tuple(sorted((repr(_canonical(k)), _canonical(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("seq", tuple(_canonical(v) for v in value))
    return (type(value).__name__, value)


def _pieces(text: str) -> list[tuple[str, str]]:
    """(key, text) of each document kubernetes-validate would validate; the whole text as one piece when it
    does not split cleanly into one parsable document per `---` (kubernetes-validate then reads it as is)."""
    whole = [("w" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(), text)]
    out = []
    for chunk in _SEPARATOR.split(text):
        try:
            docs = list(yaml.load_all(chunk, Loader=_Loader))  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            return whole
        docs = [d for d in docs if d]  # kubernetes-validate skips empty documents
        if len(docs) > 1:
            return whole
        if docs:
            key = hashlib.sha256(repr(_canonical(docs[0])).encode("utf-8", "surrogatepass")).hexdigest()
            out.append((key, chunk))
    return out


def _run_pieces(ctx: Context, pieces: dict[str, str], claimed: dict[str, Future[list[str]]]) -> None:
    """Validate pieces (key -> text) in as few calls as argv allows; resolve each key's future with its lines."""
    folder = ctx.tempdir("kubernetes-validate-")
    keys = list(pieces)
    documents = [k for k in keys if not k.startswith("w")]
    # A whole file (it did not split into documents) goes alone: kubernetes-validate stops at the first
    # file it cannot parse, and must not take other files' verdicts with it.
    batches = [documents[i : i + CHUNK] for i in range(0, len(documents), CHUNK)]
    batches += [[k] for k in keys if k.startswith("w")]
    try:
        for batch in batches:
            for key in batch:
                (folder / f"{key}.yaml").write_text(pieces[key], encoding="utf-8")
            proc = validate(ctx, [Path(f"{key}.yaml") for key in batch], cwd=folder)
            lines: dict[str, list[str]] = {}
            for line in proc.output.splitlines():
                m = _LINE.match(line)
                if m and m[2].endswith(".yaml"):
                    lines.setdefault(m[2][: -len(".yaml")], []).append(line)
            for key in batch:
                mine = lines.get(key)
                # No line for a document: kubernetes-validate stopped before it (it gives up at the first
                # file it cannot parse); its whole output is the verdict.
                claimed[key].set_result(mine if mine else [f"ERROR {key}.yaml no verdict (exit {proc.returncode}): {proc.output}"])
    except BaseException as exc:
        for key in keys:
            if not claimed[key].done():
                claimed[key].set_exception(exc)
        raise


def _relabel(line: str, label: str) -> str:
    """A verdict line names the piece it checked ("ERROR d1a2.yaml ..."); the caller knows it by its label."""
    found = _VERDICT_HEAD.match(line)
    return f"{found[1]} {label}{line[found.end():]}" if found else line


def validate_texts(ctx: Context, texts: dict[str, str]) -> dict[str, Proc]:
    """label -> YAML text in, label -> kubernetes-validate's verdict on it out (lines name the label)."""
    split = {label: _pieces(text) for label, text in texts.items()}
    wanted = {key: piece for pieces in split.values() for key, piece in pieces}
    with ctx.memo_lock:
        known: dict[str, Future[list[str]]] = ctx.memo.setdefault(_MEMO, {})
        mine = {key: known.setdefault(key, Future()) for key in wanted if key not in known}
        futures = {key: known[key] for key in wanted}
    if mine:
        _run_pieces(ctx, {key: wanted[key] for key in mine}, mine)
    out = {}
    for label, pieces in split.items():
        lines = [_relabel(line, label) for key, _ in pieces for line in futures[key].result()]
        failed = any(line.startswith(("ERROR", "FATAL")) for line in lines)
        out[label] = Proc(1 if failed else 0, "\n".join(lines))
    return out


def is_manifest(doc: object) -> bool:
    """A Kubernetes API object (a Kustomization is kustomize's input, checked by the kustomize adapter)."""
    return (isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and isinstance(doc.get("kind"), str)
            and not doc["apiVersion"].startswith("kustomize.config.k8s.io/"))


def interpret(validator: Validator, artifact: Artifact | str, proc: Proc) -> Result:
    """kubernetes-validate's verdict: ERROR lines fail; kinds without a schema (CRDs) are not a pass."""
    errors = [ln for ln in proc.output.splitlines() if ln.startswith("ERROR")]
    passed = [ln for ln in proc.output.splitlines() if ln.startswith("INFO") and " passed " in ln]
    unknown = sorted({f"{api} {kind}" for kind, api in _NO_SCHEMA.findall(proc.output)})
    if errors or not proc.ok:
        return validator.result(artifact, Status.FAILED, "\n".join(errors) or proc.output)
    if unknown and not passed:
        return validator.result(artifact, Status.SKIPPED, "no schema for " + ", ".join(unknown))
    note = f"{len(passed)} resource(s)"
    if unknown:
        note += "; not validated (no schema): " + ", ".join(unknown)
    return validator.result(artifact, Status.PASSED, note)


def validate(ctx: Context, files: list[Path], cwd: Path | None = None) -> Proc:
    return ctx.run([*python_command(ctx, "kubernetes-validate", FAST), "--strict", "-k", ctx.kube_version,
                    *[str(f) for f in files]], cwd=cwd)


class KubernetesValidate(Validator):
    name = "kubernetes-validate"
    tools = ("kubernetes-validate",)
    description = "kubernetes-validate --strict -k <version> (OpenAPI schemas of that Kubernetes release)"

    def discover(self, inventory: Inventory) -> list[Artifact]:
        found = []
        for path in inventory.yaml_files:
            if inventory.in_chart(path) or path.name.startswith(".copier-answers"):
                continue
            if any(is_manifest(d) for d in inventory.mappings(path)):
                found.append(inventory.artifact(path))
        return found

    batch = True

    def check_batch(self, artifacts: list[Artifact], ctx: Context) -> list[Result]:
        """Every distinct document of these files in one kubernetes-validate call (see validate_texts)."""
        texts, unreadable = {}, {}
        for a in artifacts:
            try:
                texts[a.label] = a.path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                unreadable[a.label] = f"{type(exc).__name__}: {exc}"
        verdicts = validate_texts(ctx, texts)
        results = []
        for a in artifacts:
            proc = verdicts.get(a.label)
            if proc is None or not proc.output:
                why = unreadable.get(a.label) or "no verdict: kubernetes-validate found no document in it"
                results.append(self.result(a, Status.FAILED, why))
                continue
            results.append(interpret(self, a, proc))
        return results

    def check(self, artifact: Artifact, ctx: Context) -> Result:
        return self.check_batch([artifact], ctx)[0]
