"""Just enough HCL structure to build provider-free copies: top-level blocks and attribute names.

This is not a parser (terraform fmt/validate and python-hcl2 do the parsing); it only finds where top-level
blocks start and end, stepping over strings, `${...}` templates, heredocs and comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEREDOC = re.compile(r"<<(-?)([A-Za-z_][A-Za-z0-9_-]*)[ \t]*\n")
_HEADER = re.compile(r'^\s*([A-Za-z_][\w-]*)((?:\s+"[^"]*"|\s+[A-Za-z_][\w-]*)*)\s*$')
_ATTR = re.compile(r"\s*([A-Za-z_][\w-]*)\s*=(?!=)")


@dataclass(frozen=True)
class Block:
    type: str
    labels: tuple[str, ...]
    text: str  # the whole block, header to closing brace
    start: int = 0  # offset of the header's line in the file
    end: int = 0  # offset after the closing brace

    @property
    def body(self) -> str:
        return self.text[self.text.index("{") + 1 : self.text.rindex("}")]


def _scan(text: str) -> tuple[list[tuple[int, int]], list[int]]:
    """Spans (start of `{`, end after `}`) of top-level braces, and offsets of lines that start at top level."""
    spans: list[tuple[int, int]] = []
    line_starts = [0]
    stack: list[str] = []  # "{" brace, "$" template interpolation, '"' string
    i, n = 0, len(text)
    open_at = -1
    while i < n:
        c = text[i]
        top = stack[-1] if stack else ""
        if top == '"':
            if c == "\\":
                i += 2
                continue
            if c == '"':
                stack.pop()
            elif c in "$%" and text.startswith(c, i + 1):  # $${ and %%{ are literal
                i += 2
                continue
            elif c in "$%" and text.startswith("{", i + 1):
                stack.append("$")
                i += 2
                continue
            i += 1
            continue
        if c == "#" or text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if text.startswith("<<", i):
            m = _HEREDOC.match(text, i)
            if m:
                end = re.compile(rf"^[ \t]*{re.escape(m.group(2))}[ \t]*$", re.M).search(text, m.end())
                i = n if end is None else end.end()
                continue
        if c == '"':
            stack.append('"')
        elif c == "{":
            if not stack:
                open_at = i
            stack.append("{")
        elif c == "}":
            if stack:
                stack.pop()
                if not stack and open_at >= 0:
                    spans.append((open_at, i + 1))
                    open_at = -1
        elif c == "\n" and not stack:
            line_starts.append(i + 1)
        i += 1
    return spans, line_starts


def blocks(text: str) -> list[Block]:
    """Top-level blocks such as `variable "x" { ... }` (attributes whose value is an object are not blocks)."""
    spans, _ = _scan(text)
    out = []
    for start, end in spans:
        line_start = text.rfind("\n", 0, start) + 1
        header = _HEADER.match(text[line_start:start])
        if header is None:
            continue
        labels = tuple(lbl.strip('"') for lbl in re.findall(r'"[^"]*"|[A-Za-z_][\w-]*', header.group(2)))
        out.append(Block(header.group(1), labels, text[line_start:end], line_start, end))
    return out


def top_level_attributes(text: str) -> list[str]:
    """Names assigned at the top level (a .tfvars file's variables)."""
    _, starts = _scan(text)
    names = []
    for pos in starts:
        m = _ATTR.match(text, pos)
        if m:
            names.append(m.group(1))
    return sorted(set(names))


def is_required(block: Block) -> bool:
    return re.search(r"^\s*default\s*=", block.body, re.M) is None


def is_sensitive(block: Block) -> bool:
    return re.search(r"^\s*sensitive\s*=\s*true\b", block.body, re.M) is not None


def keep_only(text: str, kept: list[Block]) -> str:
    """The file with everything but `kept` blanked out, so line numbers in messages still match the original."""
    pieces, pos = [], 0
    for block in sorted(kept, key=lambda b: b.start):
        pieces.append("\n" * text.count("\n", pos, block.start))
        pieces.append(block.text)
        pos = block.end
    pieces.append("\n")
    return "".join(pieces)
