"""``{% sparkline values %}``: a small inline SVG line of a series (hotspot heat per day, issue 11), drawn on
the server; no script, no library."""
from django import template
from django.utils.html import format_html

register = template.Library()


def sparkline_points(values: list[float], *, width: int = 120, height: int = 28, pad: int = 2) -> str:
    """SVG ``points`` of a polyline through ``values`` (oldest first) in a ``width`` × ``height`` box (px),
    ``pad`` px inside each edge: x evenly spaced, y scaled from 0 (bottom) to the series' largest value (top).
    A single value is a flat line across; no values is ``""``. Coordinates to one decimal."""
    if not values:
        return ""
    top = max(max(values), 0) or 1
    inner_w, inner_h = width - 2 * pad, height - 2 * pad
    series = list(values) if len(values) > 1 else [values[0], values[0]]
    step = inner_w / (len(series) - 1)
    return " ".join(f"{pad + i * step:.1f},{pad + inner_h - (max(v, 0) / top) * inner_h:.1f}"
                    for i, v in enumerate(series))


@register.simple_tag
def sparkline(values, label: str = "", width: int = 120, height: int = 28):
    """An ``<svg role="img">`` sparkline of ``values`` with ``label`` as its accessible name."""
    points = sparkline_points([float(v) for v in values], width=width, height=height)
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{}"/></svg>',
        width, height, width, height, label, points)
