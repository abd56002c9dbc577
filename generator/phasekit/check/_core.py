"""The data `phasekit check` reports (Status, Result, Report) and what every adapter is given (Artifact, Context)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar

from ..model import DEFAULT_KUBERNETES_VERSION

DEFAULT_KUBE_VERSION = DEFAULT_KUBERNETES_VERSION  # the schema's default (one place)

DEFAULT_TIMEOUT = 180.0
INSTALL_HINT = "run `phasekit install-validators`, then `. ~/.cache/phasekit/tools/env.sh`"


class Status(str, Enum):  # noqa: UP042 - a StrEnum would change str(status), which reports print
    """The outcome of one validator on one artifact. SKIPPED is never a pass."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Result:
    """One line of the report: validator x artifact."""

    validator: str
    artifact: str  # path relative to the checked root (posix), possibly with a qualifier: "chart (values-dev.yaml)"
    status: Status
    message: str = ""  # the validator's own output for failures; a note for passes/skips
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "validator": self.validator, "artifact": self.artifact, "status": self.status.value,
            "message": self.message, "seconds": round(self.seconds, 3),
        }


@dataclass
class Report:
    """Everything one `check.run` found. `ok()` is the exit-code rule: nothing failed (and, strict, nothing skipped)."""

    root: Path
    results: list[Result]
    seconds: float = 0.0
    kube_version: str = DEFAULT_KUBE_VERSION

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    @property
    def passed(self) -> int:
        return self.count(Status.PASSED)

    @property
    def failed(self) -> int:
        return self.count(Status.FAILED)

    @property
    def skipped(self) -> int:
        return self.count(Status.SKIPPED)

    def ok(self, strict: bool = False) -> bool:
        return self.failed == 0 and (not strict or self.skipped == 0)

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"

    def select(self, validator: str | None = None, artifact: str | None = None,
               status: Status | None = None) -> list[Result]:
        """Results filtered by validator name, artifact (exact, or a path prefix ending in '/'), status."""
        out = []
        for r in self.results:
            if validator is not None and r.validator != validator:
                continue
            if artifact is not None and not (r.artifact == artifact or (artifact.endswith("/") and r.artifact.startswith(artifact))
                                             or r.artifact.startswith(artifact + " (")):
                continue
            if status is not None and r.status is not status:
                continue
            out.append(r)
        return out

    def validators(self) -> Counter[str]:
        return Counter(r.validator for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "kube_version": self.kube_version,
            "summary": {"passed": self.passed, "failed": self.failed, "skipped": self.skipped,
                        "seconds": round(self.seconds, 2)},
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True)
class Artifact:
    """Something a validator checks: a file or a folder, with a display label and adapter-specific data."""

    path: Path  # absolute
    label: str  # relative to the root, posix
    data: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        return dict(self.data).get(key, default)


class ToolTimeout(Exception):
    """A validator call ran past its time bound."""


@dataclass
class Proc:
    returncode: int
    output: str  # stdout and stderr, in that order, stripped
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Context:
    """What adapters share: the root, the environment (PATH decides what is installed), time bounds, a scratch dir."""

    root: Path
    env: dict[str, str]
    kube_version: str = DEFAULT_KUBE_VERSION
    timeout: float = DEFAULT_TIMEOUT
    scratch: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    inventory: Any = None  # the _inventory.Inventory of root
    memo: dict[Any, Any] = field(default_factory=dict)  # adapters share results of one call (under memo_lock)
    memo_lock: threading.Lock = field(default_factory=threading.Lock)

    def which(self, tool: str) -> str | None:
        if os.sep in tool:
            return tool if os.access(tool, os.X_OK) else None
        return shutil.which(tool, path=self.env.get("PATH", ""))

    def tempdir(self, prefix: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.scratch))

    def run(self, argv: Sequence[str], cwd: Path | None = None, env: Mapping[str, str] | None = None,
            timeout: float | None = None, stdin: str | None = None) -> Proc:
        """Run a tool found on this context's PATH; raise ToolTimeout past the bound (its process group is killed)."""
        exe = self.which(argv[0]) or argv[0]
        full_env = {**self.env, **(env or {})}
        limit = timeout or self.timeout
        proc = subprocess.Popen(
            [exe, *argv[1:]], cwd=cwd, env=full_env, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
        )
        try:
            out, err = proc.communicate(stdin, timeout=limit)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.communicate()
            raise ToolTimeout(f"timed out after {limit:g}s: {' '.join(argv[:3])}") from None
        text = "\n".join(part.strip("\n") for part in (out, err) if part and part.strip())
        return Proc(proc.returncode, text.strip(), out or "", err or "")


class Validator:
    """One adapter. Subclasses set `name` and `tools`, and implement `discover` and `check`.

    `discover(inventory)` returns the artifacts this validator applies to (found by content, not location);
    `check(artifact, ctx)` returns one Result, or several (e.g. one per failed checkov check). Raising is
    allowed: the runner reports the crash as a failed result and goes on.
    """

    name: ClassVar[str] = ""
    tools: ClassVar[tuple[str, ...]] = ()  # executables that must be on PATH
    description: ClassVar[str] = ""
    slow: ClassVar[int] = 0  # scheduled first, a larger number sooner (calls that grow with the system: 1; the longest: 2)
    batch: ClassVar[bool] = False  # True: check_batch(artifacts, ctx) checks all artifacts in one tool call

    def missing(self, ctx: Context) -> list[str]:
        return [t for t in self.tools if ctx.which(t) is None]

    def discover(self, inventory: Any) -> list[Artifact]:  # pragma: no cover - interface
        raise NotImplementedError

    def check(self, artifact: Artifact, ctx: Context) -> Result | list[Result]:  # pragma: no cover - interface
        raise NotImplementedError

    def check_batch(self, artifacts: list[Artifact], ctx: Context) -> list[Result]:
        """One call for many artifacts (tools with per-file output); default: one check per artifact."""
        out: list[Result] = []
        for artifact in artifacts:
            res = self.check(artifact, ctx)
            out += res if isinstance(res, list) else [res]
        return out

    # helpers for adapters
    def result(self, artifact: Artifact | str, status: Status, message: str = "") -> Result:
        label = artifact if isinstance(artifact, str) else artifact.label
        return Result(self.name, label, status, message.strip())

    def from_proc(self, artifact: Artifact | str, proc: Proc, ok_message: str = "") -> Result:
        if proc.ok:
            return self.result(artifact, Status.PASSED, ok_message)
        return self.result(artifact, Status.FAILED, proc.output or f"exit code {proc.returncode}")


def now() -> float:
    return time.perf_counter()
