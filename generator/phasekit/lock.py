"""One phasekit command at a time per repository: two applies (or an apply and an update) writing the same
files interleave and leave a mix. The lock is an advisory lock (flock) on a file in the repository's git
folder (outside git, one per folder in the temporary folder): the kernel releases it when the holder
exits, even when it is killed, so it never goes stale. The file says who holds it."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from . import gitcmd
from .errors import PhasekitError

LOCK_NAME = "phasekit.lock"
HELD: set[int] = set()  # descriptors of the locks this process holds


def _close_in_forked_child() -> None:
    """A flock lasts while any copy of its descriptor is open: a forked child (parallel.py's workers) must not
    keep the repository locked after its parent ended, so it closes the copies it inherited."""
    for fd in HELD:
        with contextlib.suppress(OSError):
            os.close(fd)
    HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_in_forked_child)


def lock_path(dest: Path) -> Path:
    """The repository's lock file: in its git folder, else keyed by the folder's real path."""
    existing = next((p for p in [dest, *dest.absolute().parents] if p.is_dir()), Path("/"))
    try:
        return Path(gitcmd.run(existing, "rev-parse", "--absolute-git-dir")) / LOCK_NAME
    except PhasekitError:
        key = hashlib.sha256(str(dest.resolve()).encode()).hexdigest()[:24]
        folder = Path(tempfile.gettempdir()) / f"phasekit-locks-{os.getuid() if hasattr(os, 'getuid') else 0}"
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder / f"{key}.lock"


@contextlib.contextmanager
def held(dest: Path, command: str) -> Iterator[None]:
    """Hold the lock of dest's repository for the block; refuse at once (one line naming the holder)
    when another phasekit command holds it."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    path = lock_path(dest)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "another phasekit command"
            raise PhasekitError(f"{dest} is in use by {holder}; wait until it ends and run this again") from None
        since = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"phasekit {command} (pid {os.getpid()}, since {since})\n".encode(), 0)
        HELD.add(fd)
        try:
            yield
        finally:
            HELD.discard(fd)
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the lock
