"""git for phasekit's own bookkeeping: the template cache's commits and tags, and the temporary commits
`phasekit update` makes (and resets) in the user's repository.

The user's git configuration still applies, except what would make these commands depend on the user:
signing (a `commit.gpgsign = true` without a key at hand would fail them), hooks (a post-commit hook would
run on a commit the user never makes), the identity, and line-ending conversion (the template cache's
trees must hash the same on every machine). Variables a git hook sets for its own repository (GIT_DIR,
GIT_INDEX_FILE, GIT_WORK_TREE) are dropped, so running phasekit from a hook cannot redirect it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .errors import PhasekitError

IDENTITY = {"name": "phasekit", "email": "phasekit@localhost"}
_NEUTRAL = [
    "-c", f"user.name={IDENTITY['name']}", "-c", f"user.email={IDENTITY['email']}",
    "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "core.hooksPath=/dev/null",
    "-c", "core.autocrlf=false",
]
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_INDEX_FILE", "GIT_WORK_TREE", "GIT_OBJECT_DIRECTORY", "GIT_PREFIX")


def run_bytes(repo: Path, *args: str, env: dict[str, str] | None = None) -> bytes:
    """`git -C repo args...` -> stdout; one line naming the command and git's last error line on failure."""
    full_env = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    full_env.update(env or {})
    result = subprocess.run(["git", "-C", str(repo), *_NEUTRAL, *args], capture_output=True, env=full_env, check=False)
    if result.returncode != 0:
        last = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {result.returncode}"]
        raise PhasekitError(f"git {' '.join(args[:2])} failed in {repo}: {last[0]}")
    return result.stdout


def run(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Like run_bytes, decoded and stripped."""
    return run_bytes(repo, *args, env=env).decode(errors="replace").strip()
