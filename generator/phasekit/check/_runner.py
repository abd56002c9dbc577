"""Discover artifacts, run every validator x artifact on a thread pool, and collect one Report."""

from __future__ import annotations

import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import yaml

from ._core import (
    DEFAULT_KUBE_VERSION,
    DEFAULT_TIMEOUT,
    Artifact,
    Context,
    Report,
    Result,
    Status,
    ToolTimeout,
    Validator,
    now,
)
from ._inventory import Inventory
from .validators import ALL, by_name

# Go validators (helm, promtool, terraform, kubectl, opa, ...) collect garbage half as often: promtool's rule
# unit tests at 200 services spend a quarter less CPU (23 -> 17 s), helm alike; GOMEMLIMIT makes a
# process collect sooner as its heap nears 250 MiB. A value in the caller's environment wins.
GO_ENV = {"GOGC": "200", "GOMEMLIMIT": "250MiB"}


def default_kube_version(root: Path) -> str:
    """targets.kubernetes_version of root/architecture.yaml when there is one, else DEFAULT_KUBE_VERSION."""
    arch = root / "architecture.yaml"
    try:
        doc = yaml.safe_load(arch.read_text(encoding="utf-8")) if arch.is_file() else None
        version = doc.get("targets", {}).get("kubernetes_version") if isinstance(doc, dict) else None
    except (yaml.YAMLError, OSError, AttributeError):
        version = None
    return str(version) if version else DEFAULT_KUBE_VERSION


def _one(validator: Validator, artifacts: list[Artifact], ctx: Context) -> list[Result]:
    """Run one task (one artifact, or all of a batch validator's); failures of the adapter become results."""
    start = now()
    try:
        if validator.batch:
            results = validator.check_batch(artifacts, ctx)
        else:
            out = validator.check(artifacts[0], ctx)
            results = out if isinstance(out, list) else [out]
    except ToolTimeout as exc:
        results = [validator.result(a, Status.FAILED, str(exc)) for a in artifacts]
    except Exception as exc:  # noqa: BLE001 - a crashing adapter is reported, the run goes on
        tb = traceback.format_exc(limit=3)
        why = f"validator crashed: {type(exc).__name__}: {exc}\n{tb}"
        results = [validator.result(a, Status.FAILED, why) for a in artifacts]
    spent = now() - start
    return [Result(r.validator, r.artifact, r.status, r.message, spent / len(results)) for r in results]


class Steps(Protocol):
    """What `run` reports progress to (phasekit.progress.Progress): the number of calls, then each finished one."""

    def start(self, total: int) -> None: ...

    def step(self, label: str) -> None: ...


def _step_when_done(progress: Steps, label: str) -> Callable[[Future[list[Result]]], None]:
    return lambda _future: progress.step(label)


def run(
    root: Path | str,
    *,
    validators: Iterable[str] | None = None,
    kube_version: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int | None = None,
    env: Mapping[str, str] | None = None,
    progress: Steps | None = None,
    include: Callable[[str], bool] | None = None,
) -> Report:
    """Check every artifact under root. See the package docstring for the contract."""
    started = now()
    root = Path(root).resolve()
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    registry = by_name()
    names = list(validators) if validators is not None else [v.name for v in ALL]
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown validator(s): {', '.join(unknown)}; known: {', '.join(registry)}")
    chosen = [registry[n]() for n in names]
    scratch = Path(tempfile.mkdtemp(prefix="phasekit-check-"))
    inventory = Inventory(root)
    ctx = Context(root=root, env={**GO_ENV, **(os.environ if env is None else env)},
                  kube_version=kube_version or default_kube_version(root), timeout=timeout, scratch=scratch,
                  inventory=inventory)
    results: list[Result] = []
    tasks: list[tuple[Validator, list[Artifact]]] = []
    try:
        for validator in chosen:
            try:
                artifacts = validator.discover(inventory)
            except Exception as exc:  # noqa: BLE001
                results.append(Result(validator.name, ".", Status.FAILED, f"discovery crashed: {type(exc).__name__}: {exc}"))
                continue
            if include is not None:  # e.g. only what phasekit wrote
                artifacts = [a for a in artifacts if include(a.label)]
            if not artifacts:
                continue
            missing = validator.missing(ctx)
            if missing:
                why = f"{', '.join(missing)} not found"  # how to install it is said once, in the summary
                results += [validator.result(a, Status.SKIPPED, why) for a in artifacts]
                continue
            if validator.batch:
                tasks.append((validator, artifacts))
            else:
                tasks += [(validator, [a]) for a in artifacts]
        # the longest calls first (promtool's unit tests, checkov, yamllint), then the calls that grow with the
        # system, then batches: the last calls to finish are short ones
        tasks.sort(key=lambda t: (-int(t[0].slow), not t[0].batch))
        workers = jobs or os.cpu_count() or 2
        if progress is not None:
            progress.start(len(tasks))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="phasekit-check") as pool:
            futures: list[Future[list[Result]]] = []
            for v, a in tasks:
                fut = pool.submit(_one, v, a, ctx)
                if progress is not None:  # one step per finished call: validator and artifact
                    label = f"{v.name} {a[0].label if len(a) == 1 else f'({len(a)} artifacts)'}"
                    fut.add_done_callback(_step_when_done(progress, label))
                futures.append(fut)
            for fut in futures:
                results += fut.result()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results.sort(key=lambda r: (r.artifact, r.validator))
    return Report(root=root, results=results, seconds=now() - started, kube_version=ctx.kube_version)
