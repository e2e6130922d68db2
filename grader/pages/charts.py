"""Bar charts as inline SVG, drawn on the server: no script, readable without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup


@dataclass(frozen=True)
class Bar:
    """One bar: its label under the axis, its value, and a CSS class for its colour."""

    label: str
    value: int
    kind: str = "bar"


def bar_chart(bars: list[Bar], title: str, width: int = 640, height: int = 240) -> Markup:
    """A labelled vertical bar chart; each bar shows its value above it."""
    left, right, top, bottom = 44, 8, 22, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = max([b.value for b in bars] + [1])
    # At least six slots wide, centred: one or two bars do not fill the whole width.
    step = plot_w / max(len(bars), 6)
    offset = left + (plot_w - step * len(bars)) / 2
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for value in sorted({0, (top_value + 1) // 2, top_value}):
        y = top + plot_h * (1 - value / top_value)
        label = str(value)
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" '
                     f'y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{label}</text>')
    for i, bar in enumerate(bars):
        h = plot_h * bar.value / top_value
        x = offset + i * step + step * 0.14
        w = step * 0.72
        y = top + plot_h - h
        parts.append(f'<rect class="{escape(bar.kind)}" x="{x:.1f}" y="{y:.1f}" '
                     f'width="{w:.1f}" height="{max(h, 0.0):.1f}" rx="2">'
                     f"<title>{escape(bar.label)}: {bar.value}</title></rect>")
        if bar.value:
            parts.append(f'<text class="value" x="{x + w / 2:.1f}" y="{y - 4:.1f}" '
                         f'text-anchor="middle">{bar.value}</text>')
        parts.append(f'<text class="label" x="{x + w / 2:.1f}" y="{height - bottom + 20}" '
                     f'text-anchor="middle">{escape(bar.label)}</text>')
    parts.append(f'<line class="baseline" x1="{left}" x2="{width - right}" '
                 f'y1="{top + plot_h}" y2="{top + plot_h}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def score_bars(buckets: list[int]) -> list[Bar]:
    """The store's score buckets (tenths of the maximum, then full marks) as bars."""
    bars = [Bar(f"{10 * i}–{10 * (i + 1)}", count, "bar")
            for i, count in enumerate(buckets[:-1])]
    bars.append(Bar("full", buckets[-1] if buckets else 0, "bar full"))
    return bars
