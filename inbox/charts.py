"""Charts for the manager dashboard, drawn on the server as SVG by pygal: they show
without JavaScript, print, and scale with the page. Labels come in already translated.

pygal puts a small configuration script inside each SVG for its optional tooltips; the
pages allow no inline scripts, so it is removed and the SVG stays static."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from markupsafe import Markup, escape

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
_TITLE = re.compile(r"<title>.*?</title>", re.S)
FONTS = '"Noto Sans KR", "NanumGothic", system-ui, sans-serif'
COLOURS = ("#2f6fed", "#c01c28", "#1a7f37", "#b54708", "#7a5af8", "#0e9384", "#667085")


@cache
def _style():
    from pygal.style import Style  # noqa: PLC0415  (imported on first use: the web process stays small)

    return Style(
        font_family=FONTS, label_font_size=12, major_label_font_size=12, legend_font_size=13, value_font_size=11,
        background="transparent", plot_background="transparent", colors=COLOURS,
    )  # fmt: skip


def _render(chart, title: str) -> Markup:
    svg = chart.render(is_unicode=True)
    svg = _SCRIPT.sub("", svg)
    svg = _TITLE.sub(f"<title>{escape(title)}</title>", svg, count=1)
    # pygal's own SVG, every label in it escaped by pygal; the caption escaped here.
    return Markup(f'<figure class="chart-figure"><figcaption>{escape(title)}</figcaption>{svg}</figure>')  # noqa: S704


def _config(**extra) -> dict:
    return {
        "disable_xml_declaration": True, "js": [], "style": _style(), "width": 800, "height": 300,
        "legend_at_bottom": True, "legend_at_bottom_columns": 3, "print_values": False,
        "no_data_text": extra.pop("no_data_text", ""), "truncate_label": 24, "show_minor_x_labels": True,
        **extra,
    }  # fmt: skip


def line(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], *, unit: str = "",
         no_data: str = "") -> Markup:  # fmt: skip
    import pygal  # noqa: PLC0415

    chart = pygal.Line(**_config(no_data_text=no_data, x_label_rotation=0, show_dots=True, allow_interruptions=True,
                                 value_formatter=lambda v: f"{v:.1f}{unit}", x_labels_major_every=max(1, len(labels) // 8),
                                 show_minor_x_labels=False))  # fmt: skip
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _render(chart, title)


def bars(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], *, unit: str = "",
         horizontal: bool = True, no_data: str = "", decimals: int = 1) -> Markup:  # fmt: skip
    import pygal  # noqa: PLC0415

    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    height = max(220, 60 + 26 * len(labels) * max(1, len(series))) if horizontal else 300
    chart = kind(**_config(no_data_text=no_data, height=min(height, 900), print_values=True,
                           value_formatter=lambda v: f"{v:,.{decimals}f}{unit}"))  # fmt: skip
    chart.x_labels = list(labels)
    for name, values in series.items():
        chart.add(name, list(values))
    return _render(chart, title)


def funnel(title: str, stages: Sequence[tuple[str, int]], *, no_data: str = "") -> Markup:
    """Stages as horizontal bars, widest first: easier to read than a drawn funnel."""
    import pygal  # noqa: PLC0415

    chart = pygal.HorizontalBar(**_config(no_data_text=no_data, height=60 + 34 * len(stages), show_legend=False,
                                          print_values=True, value_formatter=lambda v: f"{v:,.0f}"))  # fmt: skip
    chart.x_labels = [name for name, _ in reversed(stages)]
    chart.add(title, [value for _, value in reversed(stages)])
    return _render(chart, title)
