"""Budget lines: the pure rules (CSV tables, arithmetic, PLIE formula, the text table)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grants.funding import budget
from tests.fixtures.funding import BUDGET_DATA

D = Decimal


def _table(name: str) -> budget.BudgetTable:
    return budget.parse_budget_csv(budget.decode_csv((BUDGET_DATA / name).read_bytes()))


# --- the seeds' tables -------------------------------------------------------------------------


def test_the_seeds_2016_2018_totals_are_those_of_the_design():
    operating = _table("budget-2016-2018-fonctionnement.csv")
    investment = _table("budget-2016-2018-investissement.csv")
    assert operating.years == [2016, 2017, 2018]
    assert [operating.totals(y)["fonctionnement"] for y in (2016, 2017, 2018)] == [
        D("445520.00"),
        D("440520.00"),
        D("435520.00"),
    ]
    assert investment.totals(2016) == {"fonctionnement": 0, "investissement": D("200000.00")}
    assert len(operating.rows) == 23 and len(investment.rows) == 4


def test_accents_and_french_quotes_are_kept():
    investment = _table("budget-2016-2018-investissement.csv")
    labels = [row.label for row in investment.rows]
    assert "Lignes de garantie dite « Loi Galland » sur prêt bancaire" in labels
    operating = _table("budget-2016-2018-fonctionnement.csv")
    assert operating.rows[0].rubric == "têtes de réseau"
    assert operating.rows[-1].line_number == 24


def test_the_2022_table_has_both_sections():
    table = _table("budget-2022-2026.csv")
    assert table.years == [2022, 2023, 2024]
    assert table.totals(2023) == {
        "fonctionnement": D("949831.00"),
        "investissement": D("2020000.00"),
    }


# --- malformed tables --------------------------------------------------------------------------

HEADER = "section,rubrique,ligne,2016,2017\n"


def _errors(text: str) -> list[str]:
    with pytest.raises(budget.BudgetCsvError) as info:
        budget.parse_budget_csv(text)
    return info.value.messages


def test_an_unknown_section_is_reported_with_its_line_number():
    messages = _errors(
        HEADER + "fonctionnement,a,b,1,2\n\nfonctionement,têtes de réseau,CRESS,20000,20000\n"
    )
    assert messages == [
        "Ligne 4 : Section « fonctionement » inconnue : fonctionnement ou investissement."
    ]


def test_a_non_numeric_amount_is_reported():
    messages = _errors(HEADER + "investissement,outils,Prêts,20 k€,1000\n")
    assert messages == [
        "Ligne 2 : montant 2016 : « 20 k€ » n'est pas un montant : des chiffres, avec au plus "
        "deux décimales (ex. 20000 ou 20000.50)."
    ]


@pytest.mark.parametrize("amount", ["1e5", "-100", "10.123", "NaN", "Infinity", "0x10"])
def test_amounts_that_are_not_plain_decimals_are_refused(amount):
    (message,) = _errors(HEADER + f"fonctionnement,a,b,{amount},1\n")
    assert message.startswith("Ligne 2 : montant 2016 : ")


def test_every_problem_is_listed_at_once():
    messages = _errors(
        HEADER
        + "fonctionnement,,b,1,2\nautre,a,b,x,2\nfonctionnement,a,b,1\nfonctionnement,a,c,1,2\n"
        "fonctionnement,a,c,3,4\n"
    )
    assert messages == [
        "Ligne 2 : rubrique : Indiquez la rubrique.",
        "Ligne 3 : Section « autre » inconnue : fonctionnement ou investissement.",
        "Ligne 3 : montant 2016 : « x » n'est pas un montant : des chiffres, avec au plus deux "
        "décimales (ex. 20000 ou 20000.50).",
        "Ligne 4 : 4 colonnes au lieu de 5 (section, rubrique, ligne et une par année) ; un "
        "libellé contenant une virgule doit être entre guillemets.",
        "Ligne 6 : la ligne « c » (rubrique « a ») figure déjà ligne 5.",
    ]


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("", "Le fichier est vide"),
        ("rubrique,section,ligne,2016\n", "Ligne 1 : en-tête inattendu"),
        ("section;rubrique;ligne;2016\n", "Ligne 1 : les colonnes doivent être séparées"),
        ("section,rubrique,ligne\n", "Ligne 1 : aucune colonne d'année"),
        ("section,rubrique,ligne,2016,deux\n", "Ligne 1, colonne 5 : « deux » n'est pas"),
        ("section,rubrique,ligne,2016,2016\n", "Ligne 1, colonne 5 : l'année 2016 apparaît"),
        (HEADER, "Le fichier ne contient aucune ligne"),
    ],
)
def test_bad_headers_and_empty_files(text, start):
    messages = _errors(text)
    assert messages[0].startswith(start), messages


def test_a_file_that_is_not_utf8_is_refused():
    with pytest.raises(budget.BudgetCsvError) as info:
        budget.decode_csv((HEADER + "fonctionnement,têtes,a,1,2\n").encode("cp1252"))
    assert "UTF-8" in info.value.messages[0]


def test_decimals_are_read_exactly_never_through_float():
    table = budget.parse_budget_csv(
        HEADER
        + "fonctionnement,a,un,0.1,1\nfonctionnement,a,deux,0.2,1\n"
        + 'fonctionnement,a,trois,"1 234,5",999999999999.99\n'
    )
    assert table.totals(2016)["fonctionnement"] == D("1234.80")
    assert table.rows[2].votes == {2016: D("1234.50"), 2017: D("999999999999.99")}
    # through float, 0.1 + 0.2 would already be 0.30000000000000004
    assert str(table.rows[0].votes[2016] + table.rows[1].votes[2016]) == "0.30"


def test_an_empty_cell_is_no_vote_and_a_quoted_label_may_hold_a_comma():
    table = budget.parse_budget_csv(
        HEADER + 'investissement,"outils, prêts","Prêt, « zéro »",,500\n'
    )
    (row,) = table.rows
    assert row.label == "Prêt, « zéro »" and row.rubric == "outils, prêts"
    assert row.votes == {2017: D("500.00")}


# --- arithmetic --------------------------------------------------------------------------------


def test_plie_formula_of_the_seeds():
    assert budget.plie_amount(D("5000"), D("1"), D("1250.5")) == D("6250.50")
    assert budget.plie_amount(D("5000"), D("1"), None) == D("5000.00")
    # rounded once, to the cent, half up
    assert budget.plie_amount(D("0"), D("1.25"), D("10.5")) == D("13.13")
    assert budget.commitment_amount("fixed", D("20000"), D("3"), D("100")) == D("20000.00")


def test_remaining_goes_negative_when_over_committed():
    figures = budget.Figures(voted=D("100"), committed=D("130"), paid=D("10"))
    assert figures.remaining == D("-30")
    assert figures.over_committed
    assert figures.as_json() == {
        "voted": "100.00",
        "committed": "130.00",
        "paid": "10.00",
        "remaining": "-30.00",
    }


def test_bar_widths():
    assert budget.bar(budget.Figures(D("100"), D("50"), D("25")), 160) == {
        "voted": 160,
        "committed": 80,
        "paid": 40,
        "over": False,
    }
    over = budget.bar(budget.Figures(D("100"), D("200"), D("0")), 160)
    assert over == {"voted": 80, "committed": 160, "paid": 0, "over": True}
    assert budget.bar(budget.Figures(), 160)["committed"] == 0


money = st.decimals(min_value=0, max_value=D("99999999.99"), places=2, allow_nan=False)
hours = st.one_of(st.none(), st.decimals(min_value=0, max_value=D("999999.99"), places=2))


@given(fixed=money, rate=money, hours=hours)
def test_plie_amount_property(fixed, rate, hours):
    amount = budget.plie_amount(fixed, rate, hours)
    exact = fixed + rate * (hours or 0)
    assert amount == amount.quantize(D("0.01"))
    assert abs(amount - exact) <= D("0.005")
    assert amount >= fixed
    more = budget.plie_amount(fixed, rate, (hours or D(0)) + 1)
    assert more >= amount


line_inputs = st.lists(
    st.tuples(
        st.sampled_from(budget.SECTIONS),
        st.sampled_from(["têtes de réseau", "PLIE", "communication", "outils"]),
        st.one_of(st.none(), money),
        money,
        money,
        money,
    ),
    max_size=30,
)


@settings(max_examples=300)
@given(rows=line_inputs, seed=st.integers(0, 1000))
def test_report_arithmetic_property(rows, seed):
    inputs = [
        budget.LineInput(
            id=n + 1,
            section=section,
            rubric=rubric,
            label=f"Ligne {n}",
            voted=voted,
            tranches=tranches,
            paid=min(paid, tranches),
            commitments=commitments,
        )
        for n, (section, rubric, voted, tranches, paid, commitments) in enumerate(rows)
    ]
    report = budget.build_report(2016, inputs)
    shuffled = inputs[:]
    random.Random(seed).shuffle(shuffled)
    assert budget.build_report(2016, shuffled) == report
    data = report.as_json()
    shown = 0
    for section in data["sections"]:
        lines = section["lines"]
        shown += len(lines)
        for key in ("voted", "committed", "paid", "remaining"):
            assert D(section[key]) == sum((D(line[key]) for line in lines), D(0))
        for line in lines + [section]:
            assert D(line["remaining"]) == D(line["voted"]) - D(line["committed"])
            for key in ("voted", "committed", "paid", "remaining"):
                assert D(line[key]).as_tuple().exponent == -2
    hidden = [i for i in inputs if i.voted is None and not (i.tranches or i.paid or i.commitments)]
    assert shown == len(inputs) - len(hidden)
    by_id = {i.id: i for i in inputs}
    for section in report.sections:
        for line in section.lines:
            source = by_id[line.id]
            assert line.figures.committed == source.tranches + source.commitments
            assert line.figures.voted == (source.voted or 0)
    present = {i.section for i in inputs if i not in hidden}
    assert [s.section for s in report.sections] == [s for s in budget.SECTIONS if s in present]


def test_rubrics_keep_the_order_of_the_table():
    def line(n, rubric):
        return budget.LineInput(n, "fonctionnement", rubric, f"L{n}", D("1"))

    report = budget.build_report(2016, [line(1, "a"), line(2, "b"), line(3, "a"), line(4, "c")])
    assert [(r, [x.id for x in lines]) for r, lines in report.sections[0].rubrics()] == [
        ("a", [1, 3]),
        ("b", [2]),
        ("c", [4]),
    ]


# --- the text table ----------------------------------------------------------------------------


def test_the_table_is_aligned_and_french():
    report = budget.build_report(
        2016,
        [
            budget.LineInput(1, "fonctionnement", "têtes de réseau", "CRESS", D("20000")),
            budget.LineInput(
                2, "fonctionnement", "têtes de réseau", "ADIE", D("45000"), D("1234.5"), D("100")
            ),
            budget.LineInput(3, "investissement", "outils", "Prêts « zéro »", D("11000")),
        ],
    )
    text = budget.format_table(report.as_json())
    lines = text.splitlines()
    assert lines[0] == "Budget 2016 (montants en euros)"
    plain = text.replace("\u202f", " ").replace("\xa0", " ")
    assert "65 000,00 €" in plain and "63 765,50 €" in plain and "Prêts « zéro »" in plain
    assert "Total fonctionnement" in plain and "Total investissement" in plain
    # the amounts are right-aligned: every row with amounts ends at the same column
    money_rows = [line for line in lines if line.endswith("€")]
    assert len(money_rows) == 5
    assert len({len(line) for line in money_rows}) == 1
    # the rubric is printed once for its lines
    assert plain.count("têtes de réseau") == 1


def test_an_empty_year_prints_a_sentence():
    assert budget.format_table({"year": 2030, "sections": []}) == (
        "Budget 2030 : aucune ligne budgétaire pour cette année.\n"
    )
