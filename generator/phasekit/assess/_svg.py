"""Hand-built, deterministic SVG readiness charts: one bar per capability, and one strip per capability's checks."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from ._types import Capability, Report

GREEN, AMBER, RED, GREY, INK = "#2e7d32", "#f9a825", "#c62828", "#e0e0e0", "#212121"
FONT = "font-family=\"DejaVu Sans, Arial, sans-serif\""


def _colour(cap: Capability) -> str:
    return GREEN if cap.met else AMBER if cap.percent > 0 else RED


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)}>')
    return "\n".join([head, f"  <title>{escape(title)}</title>", f'  <rect width="{width}" height="{height}" fill="#ffffff"/>',
                      *body, "</svg>"]) + "\n"


def readiness_chart(report: Report) -> str:
    """Bars for the ten capabilities, with the overall score in the title."""
    label_w, bar_w, row, top = 250, 320, 30, 50
    width, height = label_w + bar_w + 70, top + row * len(report.capabilities) + 20
    title = f"{report.project}: {report.percent}% ready ({report.met}/{len(report.capabilities)} capabilities met)"
    body = [f'  <text x="12" y="28" {FONT} font-size="16" font-weight="bold" fill="{INK}">{escape(title)}</text>']
    for index, cap in enumerate(report.capabilities):
        y = top + index * row
        filled = round(bar_w * cap.percent / 100)
        body += [
            f'  <text x="12" y="{y + 17}" {FONT} font-size="13" fill="{INK}">{escape(cap.title)}</text>',
            f'  <rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="18" fill="{GREY}"/>',
            f'  <rect x="{label_w}" y="{y + 4}" width="{filled}" height="18" fill="{_colour(cap)}"/>',
            f'  <text x="{label_w + bar_w + 8}" y="{y + 17}" {FONT} font-size="13" fill="{INK}">{cap.percent}%</text>',
        ]
    return _svg(width, height, title, body)


def capability_chart(cap: Capability) -> str:
    """One segment per check: green passed, red open; the capability's score beside it."""
    seg, gap, left = 46, 4, 12
    n = len(cap.checks)
    width = max(360, left + n * (seg + gap) + 80)
    title = f"{cap.title}: {cap.percent}% ({sum(c.passed for c in cap.checks)}/{n} checks)"
    body = [f'  <text x="{left}" y="20" {FONT} font-size="13" font-weight="bold" fill="{INK}">{escape(title)}</text>']
    for index, check in enumerate(cap.checks):
        x = left + index * (seg + gap)
        colour = GREEN if check.passed else RED
        body.append(f'  <rect x="{x}" y="30" width="{seg}" height="16" fill="{colour}">'
                    f'<title>{escape(check.id)}: {"passed" if check.passed else "open"}</title></rect>')
    return _svg(width, 56, title, body)
