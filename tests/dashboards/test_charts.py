"""The server-side SVG charts: well-formed XML in the SVG namespace, named by a <title> and
described by a <desc>, every bar labelled in text (not by its colour only), no style
attribute (CSP), people's text escaped, amounts exact."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from grants.core.money import format_money
from grants.dashboards import charts

NS = "{http://www.w3.org/2000/svg}"
SERIES = charts.series(charts.ENVELOPE, charts.COMMITTED, charts.PAID)


def parse(svg) -> ET.Element:
    root = ET.fromstring(str(svg))
    assert root.tag == f"{NS}svg"
    return root


def check_accessible(root: ET.Element, chart_id: str, title: str) -> None:
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{chart_id}-title"
    assert root.get("aria-describedby") == f"{chart_id}-desc"
    children = list(root)
    assert children[0].tag == f"{NS}title" and children[0].get("id") == f"{chart_id}-title"
    assert children[0].text == title
    assert children[1].tag == f"{NS}desc" and children[1].text
    for element in root.iter():
        assert "style" not in element.attrib, element.tag  # CSP: no inline style
        assert element.tag not in (f"{NS}style", f"{NS}script")
    for rect in root.iter(f"{NS}rect"):
        assert rect.find(f"{NS}title") is not None  # each bar says what it is
        assert Decimal(rect.get("width")) >= 0 and Decimal(rect.get("height")) >= 0


def texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{NS}text")]


def test_grouped_bars_label_every_bar():
    groups = [
        charts.BarGroup(
            "Appel 2016",
            {"envelope": Decimal("60000"), "committed": Decimal("30000"), "paid": Decimal("0")},
            "reste 30 000,00 €",
        ),
        charts.BarGroup("Appel 2017", {"envelope": Decimal("55000")}),
    ]
    root = parse(charts.grouped_bars("c1", "Appels en 2016", "Enveloppes.", groups, SERIES))
    check_accessible(root, "c1", "Appels en 2016")
    words = texts(root)
    assert "Appel 2016 — reste 30 000,00 €" in words
    assert words.count("Enveloppe") == 2 and words.count("Versé") == 2
    assert format_money(Decimal("60000")) in words
    assert format_money(Decimal("0")) in words  # a zero is written, not left blank
    bars = {r.find(f"{NS}title").text: Decimal(r.get("width")) for r in root.iter(f"{NS}rect")}
    # no bar for zero; lengths proportional to the amounts
    assert len(bars) == 3
    full = bars[f"Appel 2016, Enveloppe : {format_money(Decimal('60000'))}"]
    half = bars[f"Appel 2016, Engagé : {format_money(Decimal('30000'))}"]
    assert full == 2 * half


def test_people_text_is_escaped():
    nasty = '<script>alert("x")</script> & Cie "SCOP"'
    svg = charts.grouped_bars(
        "c2", nasty, nasty, [charts.BarGroup(nasty, {"envelope": Decimal(1)})], SERIES
    )
    assert "<script>" not in str(svg)
    root = parse(svg)
    assert root.find(f"{NS}title").text == nasty
    assert nasty in texts(root)


def test_columns_over_time():
    points = [
        charts.Point(f"{m:02d}/16", Decimal(m * 1000), f"mois {m} 2016") for m in range(1, 13)
    ] + [charts.Point("01/17", Decimal("0"), "janvier 2017")]
    root = parse(charts.columns("c3", "Versements par mois", "Par mois.", points))
    check_accessible(root, "c3", "Versements par mois")
    titles = [r.find(f"{NS}title").text for r in root.iter(f"{NS}rect")]
    assert len(titles) == 12  # the empty month has no bar
    assert titles[2] == f"mois 3 2016 : {format_money(Decimal('3000'))}"
    assert f"Maximum : {format_money(Decimal('12000'))}" in texts(root)
    assert "01/16" in texts(root)


def test_many_columns_keep_the_labels_readable():
    points = [charts.Point(f"{i}", Decimal(i)) for i in range(1, 61)]
    root = parse(charts.columns("c4", "Soixante mois", "…", points))
    labels = [t for t in texts(root) if t.isdigit()]
    assert 5 <= len(labels) <= 13


def test_hbars_and_empty_charts():
    root = parse(
        charts.hbars(
            "c5",
            "Emplois par secteur",
            "…",
            [charts.Point("Économie circulaire", Decimal(7)), charts.Point("Autre", Decimal(0))],
        )
    )
    check_accessible(root, "c5", "Emplois par secteur")
    assert {"Économie circulaire", "7", "Autre", "0"} <= set(texts(root))
    for empty in (
        charts.hbars("c6", "Rien", "…", [], empty="Aucun dossier retenu."),
        charts.columns("c7", "Rien", "…", [], empty="Aucun versement."),
        charts.grouped_bars("c8", "Rien", "…", [], SERIES, empty="Aucun appel."),
    ):
        root = parse(empty)
        assert root.find(f"{NS}title").text == "Rien"
        assert len(texts(root)) == 1 and not list(root.iter(f"{NS}rect"))


amounts = st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2, allow_nan=False)


@given(
    groups=st.lists(
        st.tuples(st.text(max_size=40), amounts, amounts, amounts), min_size=1, max_size=8
    )
)
def test_any_figures_give_a_well_formed_chart_within_its_width(groups):
    svg = charts.grouped_bars(
        "p",
        "Titre",
        "Description",
        [
            charts.BarGroup(label, {"envelope": a, "committed": b, "paid": c})
            for label, a, b, c in groups
        ],
        SERIES,
        width=600,
    )
    root = ET.fromstring(str(svg))
    width = Decimal(root.get("width"))
    for rect in root.iter(f"{NS}rect"):
        assert Decimal(rect.get("x")) + Decimal(rect.get("width")) <= width
    assert len(list(root.iter(f"{NS}text"))) == len(groups) * 7  # heading + 3 × (name, value)
