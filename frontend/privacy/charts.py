"""Geometry of the dashboard's stacked bar charts, drawn as SVG by the template (no script, no inline style)."""

from datetime import date, timedelta

from django.utils.translation import gettext as _

CHART_DAYS = 30
CHART_SERIES = 6  # agencies with their own colour; the rest are one "その他" series


def nice_max(value: int) -> int:
    """The top of a chart's scale: 1, 2 or 5 times a power of ten, at least the value."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return max(step * factor, 1)
        step *= 10


def days_until(last: date, count: int) -> list[date]:
    """``count`` days ending with ``last``, oldest first."""
    return [last - timedelta(days=count - 1 - i) for i in range(count)]


def stacked_bars(days: list[date], series: list[tuple[str, str, dict]], *, height=200, width=900) -> dict:
    """Geometry for a stacked bar chart drawn as SVG in the template (no script, no inline style).

    ``series``: (css class, label, {day: count}). Bars stack in series order.
    """
    left, bottom, top = 44, 26, 8
    plot_w, plot_h = width - left - 8, height - bottom - top
    totals = [sum(values.get(d, 0) for _c, _l, values in series) for d in days]
    top_value = nice_max(max(totals, default=0))
    slot = plot_w / max(len(days), 1)
    bar_w = max(slot * 0.7, 1)
    bars = []
    for i, d in enumerate(days):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for css, label, values in series:
            n = values.get(d, 0)
            if not n:
                continue
            h = plot_h * n / top_value
            y -= h
            bars.append(
                {
                    "x": round(x, 1),
                    "y": round(y, 1),
                    "w": round(bar_w, 1),
                    "h": round(h, 1),
                    "css": css,
                    "title": f"{d.month}/{d.day} {label}: {n}",
                }
            )
    ticks = [
        {"y": round(top + plot_h - plot_h * v / top_value, 1), "value": v}
        for v in sorted({0, top_value // 2, top_value})
    ]
    step = max(1, len(days) // 6)
    dates = [
        {"x": round(left + i * slot + slot / 2, 1), "text": f"{d.month}/{d.day}"}
        for i, d in enumerate(days)
        if i % step == 0 or i == len(days) - 1
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "ticks": ticks,
        "dates": dates,
        "left": left,
        "right": width - 8,
        "base": top + plot_h,
        "label_y": height - 6,
        "total": sum(totals),
    }


def agency_series(per_day: dict, agencies: dict[str, str]) -> list[tuple[str, str, dict]]:
    """The series of the events chart: the busiest agencies each with its colour, the rest as "その他"."""
    totals: dict[str, int] = {}
    for counts in per_day.values():
        for code, n in counts.items():
            totals[code] = totals.get(code, 0) + n
    ranked = sorted(totals, key=lambda c: (-totals[c], c))
    series = []
    for i, code in enumerate(ranked[:CHART_SERIES]):
        values = {d: counts.get(code, 0) for d, counts in per_day.items()}
        series.append((f"series-{i}", agencies.get(code) or code or _("システム"), values))
    rest = ranked[CHART_SERIES:]
    if rest:
        values = {d: sum(counts.get(c, 0) for c in rest) for d, counts in per_day.items()}
        series.append(("series-other", _("その他"), values))
    return series
