"""Charts drawn on the server as inline SVG: bars and lines, no JavaScript and nothing fetched from elsewhere.

Inline SVG needs no vendored library or CDN, prints, works offline and is
checked by the tests like any HTML. Values are plotted as floats; labels are
escaped. Each bar and point has a <title> that browsers show on hover.
"""

from collections.abc import Callable, Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 70, 16, 16, 56
COLOURS = ("#417690", "#e38d13", "#5b9e44", "#b3423a", "#7d5ba6", "#8a8a8a")

Series = tuple[str, Sequence[float | None]]


def _scale(series: Sequence[Series]) -> tuple[float, float]:
    values = [float(value) for _name, values in series for value in values if value is not None]
    low, high = min([0.0, *values]), max([0.0, *values])
    return (low, high) if high > low else (low, low + 1)


def _frame(
    labels: Sequence[str], series: Sequence[Series], low: float, high: float, fmt: Callable[[float], str]
) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="reporting-chart" '
        f'role="img" width="100%" style="max-width:{WIDTH}px;font:11px sans-serif">'
    ]
    for step in range(5):
        value = low + (high - low) * step / 4
        y = TOP + plot_h - plot_h * step / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{escape(fmt(value))}</text>')
    every = max(1, len(labels) // 12)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    for index, label in enumerate(labels):
        if index % every == 0:
            x = LEFT + slot * (index + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" fill="#555">{escape(label)}</text>'
            )
    for number, (name, _values) in enumerate(series):
        x = LEFT + number * 160
        colour = COLOURS[number % len(COLOURS)]
        parts.append(f'<rect x="{x}" y="{HEIGHT - 18}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{HEIGHT - 9}" fill="#333">{escape(name)}</text>')
    return parts


def _y(value: float, low: float, high: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h - plot_h * (value - low) / (high - low)


def bar_chart(labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str] = str) -> SafeString:
    """Grouped bars: one group per label, one bar per series."""
    low, high = _scale(series)
    parts = _frame(labels, series, low, high, fmt)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    bar = slot * 0.8 / max(1, len(series))
    zero = _y(0.0, low, high)
    for number, (name, values) in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        for index, value in enumerate(values):
            if value is None:
                continue
            x = LEFT + slot * index + slot * 0.1 + bar * number
            y = _y(float(value), low, high)
            top, height = min(y, zero), abs(zero - y)
            title = f"{labels[index]} · {name}: {fmt(float(value))}"
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{height:.1f}" fill="{colour}">'
                f"<title>{escape(title)}</title></rect>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text in it is escaped above)


def line_chart(labels: Sequence[str], series: Sequence[Series], fmt: Callable[[float], str] = str) -> SafeString:
    """One line per series over the labels (periods)."""
    low, high = _scale(series)
    parts = _frame(labels, series, low, high, fmt)
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(labels))
    for number, (name, values) in enumerate(series):
        colour = COLOURS[number % len(COLOURS)]
        points = [
            (LEFT + slot * (index + 0.5), _y(float(value), low, high), index, value)
            for index, value in enumerate(values)
            if value is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _index, _value in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y, index, value in points:
            title = f"{labels[index]} · {name}: {fmt(float(value))}"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(title)}</title></circle>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308
