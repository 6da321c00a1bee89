"""Charts drawn on the server as small, accessible SVG documents (no script, no library).

Each function returns :class:`markupsafe.Markup` to put inline in a page. What makes them
fit the application's rules:

* **accessible**: ``role="img"`` named by a ``<title>`` (``aria-labelledby``) and
  described by a ``<desc>`` (``aria-describedby``); every bar has its own ``<title>``
  (label and value); the pages also give the figures in a table;
* **no colour-only information**: every bar is labelled in text (series name and value
  next to it), so the chart reads the same in black and white;
* **CSP-safe** (``default-src 'self'``): presentation attributes only (``fill``,
  ``font-size``…), never a ``style`` attribute or element, no script;
* **well-formed XML** with the SVG namespace (a page may also serve it alone);
* **exact**: amounts stay ``Decimal``; geometry is computed in ``Decimal`` and rounded
  to a tenth of a pixel.

The text is escaped (labels come from people: call titles, sectors).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from markupsafe import Markup, escape

from grants.core.money import format_money

ZERO = Decimal("0")
TENTH = Decimal("0.1")
SVG_NS = "http://www.w3.org/2000/svg"
FONT = 'font-family="sans-serif"'
INK = "#1d1d1f"
MUTED = "#5b5f6b"
AXIS = "#8a8f9c"

#: the series of the money charts: (key, French label, fill); fills contrast with white
ENVELOPE = ("envelope", "Enveloppe", "#9aa3ba")
VOTED = ("voted", "Voté", "#9aa3ba")
COMMITTED = ("committed", "Engagé", "#3552a8")
PAID = ("paid", "Versé", "#1f7a4d")


#: characters XML 1.0 does not allow (control characters, lone surrogates, U+FFFE/FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _esc(text: str) -> Markup:
    """Escaped for XML, characters XML can't carry dropped (a chart stays well-formed)."""
    return escape(_NOT_XML.sub("", str(text)))


@dataclass(frozen=True)
class Series:
    key: str
    label: str
    fill: str


@dataclass(frozen=True)
class BarGroup:
    """One category of a grouped bar chart: a label, one value per series, and a note
    (e.g. « reste 12 000,00 € ») written after the label."""

    label: str
    values: Mapping[str, Decimal]
    note: str = ""


@dataclass(frozen=True)
class Point:
    label: str
    value: Decimal
    #: a longer label for the bar's title (e.g. « mars 2017 » for « 03/17 »)
    title: str = ""


@dataclass
class _Svg:
    width: int
    height: int
    chart_id: str
    title: str
    desc: str
    parts: list[str] = field(default_factory=list)

    def add(self, part: str) -> None:
        self.parts.append(part)

    def render(self) -> Markup:
        cid = _esc(self.chart_id)
        head = (
            f'<svg xmlns="{SVG_NS}" class="chart" role="img" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" '
            f'aria-labelledby="{cid}-title" aria-describedby="{cid}-desc">'
            f'<title id="{cid}-title">{_esc(self.title)}</title>'
            f'<desc id="{cid}-desc">{_esc(self.desc)}</desc>'
        )
        return Markup(head + "".join(self.parts) + "</svg>")  # noqa: S704 (escaped above)


def series(*specs: tuple[str, str, str]) -> list[Series]:
    return [Series(*spec) for spec in specs]


def _num(value: Decimal) -> str:
    """A coordinate: a tenth of a pixel, no exponent, no trailing zeros."""
    text = format(value.quantize(TENTH, rounding=ROUND_HALF_UP), "f")
    return text[:-2] if text.endswith(".0") else text


def _scale(values, span: Decimal) -> Callable[[Decimal], Decimal]:
    top = max((v for v in values if v is not None and v > 0), default=ZERO)
    if top <= 0:
        return lambda value: ZERO
    return lambda value: (max(value, ZERO) / top * span) if value else ZERO


def _text(x, y, text: str, *, size: int = 12, anchor: str = "start", fill: str = INK,
          bold: bool = False) -> str:  # fmt: skip
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{_num(Decimal(x))}" y="{_num(Decimal(y))}" {FONT} font-size="{size}" '
        f'text-anchor="{anchor}" fill="{fill}"{weight}>{_esc(text)}</text>'
    )


def _rect(x, y, width, height, fill: str, title: str, stroke: str | None = None) -> str:
    outline = f' stroke="{stroke}"' if stroke else ""
    return (
        f'<rect x="{_num(Decimal(x))}" y="{_num(Decimal(y))}" width="{_num(Decimal(width))}" '
        f'height="{_num(Decimal(height))}" fill="{fill}"{outline}>'
        f"<title>{_esc(title)}</title></rect>"
    )


def _empty(svg: _Svg, message: str) -> Markup:
    svg.height = 40
    svg.add(_text(8, 24, message, fill=MUTED))
    return svg.render()


def grouped_bars(
    chart_id: str,
    title: str,
    desc: str,
    groups: Sequence[BarGroup],
    bar_series: Sequence[Series],
    *,
    width: int = 720,
    formatter: Callable[[Decimal], str] = format_money,
    empty: str = "Aucune donnée.",
) -> Markup:
    """Horizontal bars grouped by category: for each group its label (and note), then one
    bar per series, each labelled « Série : valeur »."""
    label_w, gap = 90, 8
    bar_h, row_h, head_h, group_gap = 14, 20, 22, 12
    value_w = 150
    plot_w = Decimal(width - label_w - gap - value_w)
    svg = _Svg(width, 0, chart_id, title, desc)
    if not groups:
        return _empty(svg, empty)
    scale = _scale([g.values.get(s.key, ZERO) for g in groups for s in bar_series], plot_w)
    y = 4
    for group in groups:
        heading = f"{group.label} — {group.note}" if group.note else group.label
        svg.add(_text(0, y + 15, heading, size=13, bold=True))
        y += head_h
        for s in bar_series:
            value = group.values.get(s.key, ZERO)
            length = scale(value)
            shown = formatter(value)
            svg.add(_text(label_w - 4, y + bar_h - 2, s.label, anchor="end", fill=MUTED))
            if length > 0:
                svg.add(
                    _rect(
                        label_w + gap,
                        y,
                        length,
                        bar_h,
                        s.fill,
                        f"{group.label}, {s.label} : {shown}",
                    )  # fmt: skip
                )
            svg.add(_text(label_w + gap + length + 6, y + bar_h - 2, shown))
            y += row_h
        y += group_gap
    svg.height = y
    return svg.render()


def columns(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[Point],
    *,
    fill: str = PAID[2],
    width: int = 720,
    height: int = 240,
    formatter: Callable[[Decimal], str] = format_money,
    empty: str = "Aucune donnée.",
) -> Markup:
    """Vertical columns over time (e.g. payments by month): an axis with the maximum, a
    label under every n-th column, the value of each column in its title, and written
    above it when there are few columns."""
    svg = _Svg(width, height, chart_id, title, desc)
    if not points:
        return _empty(svg, empty)
    left, right, top, bottom = 8, 8, 28, 34
    plot_w = Decimal(width - left - right)
    plot_h = Decimal(height - top - bottom)
    scale = _scale([p.value for p in points], plot_h)
    step = plot_w / len(points)
    bar_w = max(step * Decimal("0.7"), Decimal(1))
    base = Decimal(top) + plot_h
    peak = max(p.value for p in points)
    svg.add(_text(left, 14, f"Maximum : {formatter(peak)}", fill=MUTED))
    svg.add(
        f'<line x1="{left}" y1="{_num(base)}" x2="{width - right}" y2="{_num(base)}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    every = max(1, -(-len(points) // 12))  # at most about 12 labels
    write_values = len(points) <= 12
    for i, point in enumerate(points):
        x = Decimal(left) + step * i + (step - bar_w) / 2
        h = scale(point.value)
        shown = formatter(point.value)
        name = point.title or point.label
        if h > 0:
            svg.add(_rect(x, base - h, bar_w, h, fill, f"{name} : {shown}"))
        if write_values and point.value:
            svg.add(_text(x + bar_w / 2, base - h - 4, shown, size=10, anchor="middle"))
        if i % every == 0:
            svg.add(_text(x + bar_w / 2, base + 16, point.label, size=11, anchor="middle"))
    return svg.render()


def hbars(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[Point],
    *,
    fill: str = COMMITTED[2],
    width: int = 720,
    formatter: Callable[[Decimal], str] = lambda v: format(v, "f"),
    empty: str = "Aucune donnée.",
) -> Markup:
    """One horizontal bar per label, the value written after the bar (e.g. jobs created
    per sector)."""
    svg = _Svg(width, 0, chart_id, title, desc)
    if not points:
        return _empty(svg, empty)
    label_w, gap, value_w, row_h, bar_h = 230, 8, 70, 24, 16
    plot_w = Decimal(width - label_w - gap - value_w)
    scale = _scale([p.value for p in points], plot_w)
    y = 4
    for point in points:
        length = scale(point.value)
        shown = formatter(point.value)
        label = point.label if len(point.label) <= 34 else point.label[:33] + "…"
        svg.add(_text(label_w - 4, y + bar_h - 3, label, anchor="end"))
        if length > 0:
            svg.add(_rect(label_w + gap, y, length, bar_h, fill, f"{point.label} : {shown}"))
        svg.add(_text(label_w + gap + length + 6, y + bar_h - 3, shown))
        y += row_h
    svg.height = y + 4
    return svg.render()
