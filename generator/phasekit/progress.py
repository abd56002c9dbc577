"""Progress of long work (n of N and the current item) on stderr, redrawn on one line.

Shown only when stderr is a terminal: piped or redirected output gets nothing extra, and stdout is never
touched, so what a command prints there stays parseable. PHASEKIT_NO_PROGRESS=1 turns it off.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
from typing import TextIO


class Progress:
    def __init__(self, what: str, total: int = 0, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.what, self.total, self.n = what, total, 0
        self.enabled = _is_terminal(self.stream) and not os.environ.get("PHASEKIT_NO_PROGRESS") \
            and os.environ.get("TERM") != "dumb"
        self._drawn = False
        self._lock = threading.Lock()

    def start(self, total: int) -> None:
        self.total, self.n = total, 0

    def step(self, label: str) -> None:
        """One more item (label: what it is) started or done; redraw the line."""
        with self._lock:
            self.n += 1
            if not self.enabled:
                return
            width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
            line = f"{self.what} {self.n}/{self.total}: {label}" if self.total else f"{self.what}: {label}"
            self.stream.write("\r\x1b[K" + line[:width])
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        """Clear the line, so the command's own messages start on a clean one."""
        with self._lock:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
