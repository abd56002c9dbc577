"""Run a Python validator under its own interpreter with a few lines of set-up before its entry point."""

from __future__ import annotations

from pathlib import Path

from .._core import Context


def python_command(ctx: Context, tool: str, code: str) -> list[str]:
    """[interpreter, "-c", code] when `tool` on PATH is a Python script (its `#!` line names a python), else
    [tool]: the tool's own interpreter and packages, so the set-up code can import them."""
    exe = ctx.which(tool)
    try:
        first = Path(exe).read_bytes()[:256].split(b"\n", 1)[0].decode() if exe else ""
    except (OSError, UnicodeDecodeError):
        first = ""
    interpreter = first[2:].strip() if first.startswith("#!") else ""
    if interpreter and " " not in interpreter and "python" in Path(interpreter).name and ctx.which(interpreter):
        return [interpreter, "-c", code]
    return [tool]
