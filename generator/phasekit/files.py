"""Writing a file the user named (capture -o, the architecture new-service edits): whole or not at all,
through a symlink to the file it points to, and never over something that is not a regular file."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from .errors import PhasekitError


def writable_target(path: Path, what: str) -> Path:
    """The regular file to write for `path`: path itself, or the file a symlink points to. Refuses a
    folder, a device, a FIFO or a socket, a dangling symlink, and a path below something that is not a
    folder, with one line naming `what` (the option or file role)."""
    if path.is_symlink():
        target = path.resolve()
        if not target.exists():
            raise PhasekitError(f"{what} {path} is a symlink to {target}, which does not exist; nothing written")
        path = target
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise PhasekitError(f"{what} {path}: {parent} is not a folder; nothing written")
            break
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise PhasekitError(f"{what} {path}: {exc.strerror or exc}; nothing written") from None
    if stat.S_ISDIR(mode):
        raise PhasekitError(f"{what} {path} is a folder; give a file name")
    if not stat.S_ISREG(mode):
        raise PhasekitError(f"{what} {path} is not a regular file (a device, FIFO or socket); nothing written")
    return path


def write_atomically(path: Path, text: str, what: str) -> None:
    """Write beside the file, then rename over it: a reader never sees half a file, and a failure (a
    read-only folder, a full disk) leaves the old file as it was and one line naming the problem."""
    path = writable_target(path, what)
    partial = path.with_name(f".{path.name}.phasekit-partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(partial, stat.S_IMODE(path.stat().st_mode))
        os.replace(partial, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise PhasekitError(f"{what} {path}: cannot write: {exc.strerror or exc}; nothing written") from None
