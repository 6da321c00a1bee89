"""Pure rules of the exports: cells, the SCDL row, and the schema validator — read from the
official schema file, with its custom checks — on good and bad rows."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grants.exports import rules
from grants.exports.rules import ColumnType as T

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "grants" / "data" / ("scdl-subventions-2.1.1.schema.json")
)
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
NAMES = [f["name"] for f in SCHEMA["fields"]]
SETTINGS = rules.ScdlSettings(
    funder_name="Bordeaux Métropole",
    funder_siret="24330031600011",
    service_name="Service ESS",
    service_siret="24330031600011",
    extract_end=date(2016, 12, 31),
)


def subsidy(**overrides) -> rules.ScdlSubsidy:
    values = {
        "reference": "AAP-2016-0001",
        "organisation": "Recyclerie de la Bastide",
        "siret": "73282932000074",
        "rna": None,
        "title": "Recyclerie solidaire",
        "call_title": "Appel à projets ESS 2016",
        "amount": Decimal("30000"),
        "decision_date": date(2016, 6, 15),
        "convention_signed_on": date(2016, 7, 1),
        "tranches": [(2016, Decimal("12000")), (2017, Decimal("10000")), (2018, Decimal("8000"))],
        "requested": Decimal("36000"),
        "deliberation_ref": "2016/042",
        "convention_reference": "CONV-AAP-2016-0001",
        "submitted_on": date(2016, 3, 1),
    }
    values.update(overrides)
    return rules.ScdlSubsidy(**values)


def table(*rows: dict) -> tuple[list[str], list[list[str]]]:
    return NAMES, [[row.get(name, "") for name in NAMES] for row in rows]


def good_row(**changes) -> dict:
    row = rules.scdl_row(subsidy(), SETTINGS)
    row.update(changes)
    return row


def problems(*rows: dict) -> list[str]:
    return [str(p) for p in rules.validate_table(*table(*rows), SCHEMA).problems]


# --- cells --------------------------------------------------------------------------------


def test_csv_cells():
    assert rules.csv_cell(Decimal("1234.5"), T.money) == "1234.50"
    assert rules.csv_cell(Decimal("1000000"), T.money) == "1000000.00"
    assert rules.csv_cell(None, T.money) == ""
    assert rules.csv_cell(date(2016, 7, 1), T.date) == "2016-07-01"
    # stored in UTC, written in Paris time with the offset
    assert rules.csv_cell(datetime(2016, 7, 1, 12, 5, tzinfo=UTC), T.datetime) == (
        "2016-07-01T14:05:00+02:00"
    )
    assert rules.csv_cell(3, T.integer) == "3"
    assert rules.csv_cell("=1+1", T.text) == "'=1+1"
    assert rules.csv_cell("-- voir note", T.text) == "'-- voir note"
    assert rules.csv_cell("@SUM(A1)", T.text) == "'@SUM(A1)"
    assert rules.csv_cell("Économie circulaire", T.text) == "Économie circulaire"


def test_xlsx_cells():
    value, fmt = rules.xlsx_cell(Decimal("12.5"), T.money)
    assert value == Decimal("12.50") and "€" in fmt
    value, fmt = rules.xlsx_cell(datetime(2016, 1, 1, 10, tzinfo=UTC), T.datetime)
    assert value == datetime(2016, 1, 1, 11) and value.tzinfo is None
    assert rules.xlsx_cell("bell\x07", T.text) == ("bell", None)


@given(st.decimals(min_value=0, max_value=Decimal("1e11"), places=2, allow_nan=False))
def test_money_text_is_exact(amount):
    text = rules.money_text(amount)
    assert Decimal(text) == amount
    assert "," not in text and " " not in text and text.split(".")[1].__len__() == 2


def test_file_names():
    assert rules.export_filename(
        "paiements", "xlsx", call_prefix="AAP 2016", year=2016, job_id=3
    ) == ("paiements-AAP-2016-2016-n3.xlsx")
    assert (
        rules.export_filename("subventions-scdl", "csv", year=2016) == "subventions-scdl-2016.csv"
    )


# --- SCDL rows ----------------------------------------------------------------------------


def test_scdl_row_of_a_multi_year_subsidy():
    row = rules.scdl_row(subsidy(), SETTINGS)
    assert row["idSubvention"] == "AAP-2016-0001"
    assert row["nomAttribuant"] == "Bordeaux Métropole"
    assert row["idAttribuant"] == row["idServiceInstructeur"] == "24330031600011"
    assert row["idBeneficiaire"] == "73282932000074"
    assert "rnaBeneficiaire" not in row
    assert row["exerciceBudgetaire"] == "2016"
    assert row["dateDecision"] == "2016-06-15"
    assert row["dateConvention"] == "2016-07-01"
    assert row["referenceDecision"] == "2016/042"
    assert row["montant"] == "30000.00" and row["montantDemande"] == "36000.00"
    assert row["nature"] == "aide en numéraire"
    assert row["conditionsVersement"] == "échelonné"
    assert row["pluriannualite"] == "oui"
    assert row["anneesPluriannualite"] == "2016 - 2017 - 2018"
    assert row["datesPeriodeVersement"] == "2016-01-01/2018-12-31"
    assert row["notificationUE"] == "non"
    assert row["pourcentageSubvention"] == "1.00"
    assert row["dispositif"] == "Appel à projets ESS 2016"
    assert row["cléVersement"] == "CONV-AAP-2016-0001"
    assert "2016 : 12000.00 EUR" in row["descriptionConditionsVersement"]
    assert "compte rendu" in row["descriptionConditionsVersement"]


def test_scdl_row_of_a_single_payment_association_under_de_minimis():
    row = rules.scdl_row(
        subsidy(
            siret=None,
            rna="W332001234",
            tranches=[(2016, Decimal("25000"))],
            investment=True,
            de_minimis=True,
            cofunders=["Région Nouvelle-Aquitaine"],
        ),
        SETTINGS,
    )
    assert row["rnaBeneficiaire"] == "W332001234" and "idBeneficiaire" not in row
    assert row["conditionsVersement"] == "unique" and row["pluriannualite"] == "non"
    assert row["datesPeriodeVersement"] == "2016-01-01/2016-12-31"
    assert "factures" in row["descriptionConditionsVersement"]
    assert row["notificationUE"] == "oui"
    assert row["cofinancement"] == "oui"
    assert row["attribuantsCofinanceurs"] == "Région Nouvelle-Aquitaine"
    assert not problems(row)


def test_long_texts_are_cut_to_the_schema_limits():
    row = rules.scdl_row(
        subsidy(
            title="Projet " * 100,
            tranches=[(2000 + n, Decimal("1234567.89")) for n in range(20)],
        ),
        SETTINGS,
    )
    assert len(row["objet"]) == 256 and row["objet"].endswith("…")
    assert len(row["descriptionConditionsVersement"]) <= 256
    assert not problems(row)


SIRETS = ["73282932000074", "55210055400013", "35600000000048", "24330031600011"]
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=300
).filter(lambda s: s.strip())


@settings(max_examples=60, deadline=None)
@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999"), places=2),
    years=st.lists(st.integers(2000, 2099), min_size=0, max_size=6, unique=True),
    title=text,
    organisation=text,
    siret=st.sampled_from([None, *SIRETS]),
    advance=st.decimals(min_value=0, max_value=1, places=2),
    investment=st.booleans(),
)
def test_every_subsidy_gives_a_valid_row(
    amount, years, title, organisation, siret, advance, investment
):
    """Whatever the data, a row built for an organisation with a valid SIRET or an RNA
    passes the schema and its custom checks."""
    row = rules.scdl_row(
        subsidy(
            amount=amount,
            title=title,
            organisation=organisation,
            siret=siret,
            rna=None if siret else "W332001234",
            tranches=[(y, amount) for y in sorted(years)],
            advance_share=advance,
            investment=investment,
        ),
        SETTINGS,
    )
    assert not problems(row)


# --- the validator ------------------------------------------------------------------------


def test_a_good_row_passes():
    assert problems(good_row()) == []


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"idBeneficiaire": "73282932000075"}, "idBeneficiaire", "SIRET valide"),
        ({"idBeneficiaire": "7328293200007"}, "idBeneficiaire", "SIRET valide"),
        ({"idBeneficiaire": "732 829 320 00074"}, "idBeneficiaire", "SIRET valide"),
        ({"idAttribuant": "24330031600012"}, "idAttribuant", "SIRET valide"),
        ({"idAttribuant": "2433003160001"}, "idAttribuant", "format attendu"),
        ({"idBeneficiaire": "", "rnaBeneficiaire": ""}, "idBeneficiaire/rnaBeneficiaire", "ou"),
        ({"rnaBeneficiaire": "W12345678"}, "rnaBeneficiaire", "format attendu"),
        ({"dateConvention": ""}, "dateConvention", "obligatoire"),
        ({"nomBeneficiaire": ""}, "nomBeneficiaire", "obligatoire"),
        ({"dateConvention": "01/07/2016"}, "dateConvention", "AAAA-MM-JJ"),
        ({"dateDecision": "2016-02-30"}, "dateDecision", "AAAA-MM-JJ"),
        ({"montant": "30 000,00"}, "montant", "point"),
        ({"exerciceBudgetaire": "2016.5"}, "exerciceBudgetaire", "entier"),
        ({"nature": "subvention"}, "nature", "valeur admise"),
        ({"conditionsVersement": "Échelonné"}, "conditionsVersement", "valeur admise"),
        ({"notificationUE": "Non"}, "notificationUE", "valeur admise"),
        ({"datesPeriodeVersement": "2016"}, "datesPeriodeVersement", "format attendu"),
        ({"datesPeriodeVersement": "2016-01-01/"}, "datesPeriodeVersement", "format attendu"),
        ({"pourcentageSubvention": "1.5"}, "pourcentageSubvention", "maximum"),
        ({"pourcentageSubvention": "0"}, "pourcentageSubvention", "minimum"),
        ({"objet": "x" * 257}, "objet", "256 au plus"),
        ({"idRAE": "123456"}, "idRAE", "5 au plus"),
    ],
)
def test_bad_cells_are_caught(changes, field, words):
    found = problems(good_row(**changes))
    assert any(f"ligne 2, colonne {field} :" in p and words in p for p in found), found


def test_a_row_with_neither_siret_nor_rna_and_one_with_a_bad_siret():
    found = problems(
        good_row(),
        good_row(idBeneficiaire="", rnaBeneficiaire=""),
        good_row(idBeneficiaire="12345678901234"),
        good_row(idBeneficiaire="", rnaBeneficiaire="W332001234"),
    )
    assert found == [
        "ligne 3, colonne idBeneficiaire/rnaBeneficiaire : renseignez idBeneficiaire ou "
        "rnaBeneficiaire.",
        "ligne 4, colonne idBeneficiaire : « 12345678901234 » n'est pas un numéro SIRET valide.",
    ]


def test_la_poste_sirets_are_valid():
    assert problems(good_row(idBeneficiaire="35600000000048")) == []


def test_the_header_must_be_the_schema_s():
    header = [n for n in NAMES if n != "objet"] + ["commentaire"]
    report = rules.validate_table(header, [], SCHEMA)
    assert [str(p) for p in report.problems] == [
        "ligne 1, colonne objet : colonne absente de l'en-tête.",
        "ligne 1, colonne commentaire : colonne inconnue du schéma.",
    ]
    swapped = [NAMES[1], NAMES[0], *NAMES[2:]]
    report = rules.validate_table(swapped, [], SCHEMA)
    assert "ordre" in str(report.problems[0])


def test_a_short_row_is_reported():
    report = rules.validate_table(NAMES, [["a", "b"]], SCHEMA)
    assert "2 cellules au lieu de 40" in str(report.problems[0])


def test_unique_constraint_and_problem_cap():
    schema = {
        "fields": [{"name": "id", "type": "integer", "constraints": {"unique": True}}],
    }
    report = rules.validate_table(["id"], [["1"], ["2"], ["1"]], schema)
    assert [str(p) for p in report.problems] == ["ligne 4, colonne id : « 1 » figure déjà ligne 2."]
    report = rules.validate_table(["id"], [["x"]] * 250, schema)
    assert len(report.problems) == rules.MAX_PROBLEMS and report.more == 50
    assert report.lines()[-1] == "… et 50 autre(s) problème(s)."


def test_an_unknown_custom_check_or_type_is_not_skipped():
    schema = {**SCHEMA, "custom_checks": [{"name": "french-gps-point", "params": {}}]}
    with pytest.raises(rules.SchemaError, match="french-gps-point"):
        rules.validate_table(NAMES, [], schema)
    schema = {"fields": [{"name": "g", "type": "geopoint"}]}
    with pytest.raises(rules.SchemaError, match="geopoint"):
        rules.validate_table(["g"], [["1,2"]], schema)


def test_validate_csv_reads_a_file_with_a_bom():
    header, rows = table(good_row(), good_row(idBeneficiaire="1"))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    report = rules.validate_csv(io.StringIO("\ufeff" + buffer.getvalue(), newline=""), SCHEMA)
    assert report.rows == 2
    assert [p.row for p in report.problems] == [3]
    assert (
        rules.validate_csv(io.StringIO(""), SCHEMA)
        .problems[0]
        .message.startswith("le fichier est vide")
    )


# --- agreement with frictionless on the standard part -------------------------------------


def _write(tmp_path, *rows) -> Path:
    path = tmp_path / "scdl.csv"
    header, cells = table(*rows)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(cells)
    return path


def _frictionless_errors(path: Path) -> list[tuple[int, str]]:
    from frictionless import Resource, Schema

    schema = Schema.from_descriptor(SCHEMA)
    with Resource(path=path.name, basepath=str(path.parent), schema=schema) as resource:
        report = resource.validate()
    return [(row, name) for row, name in report.flatten(["rowNumber", "fieldName"])]


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"montant": "30 000,00"},
        {"dateConvention": ""},
        {"nature": "subvention"},
        {"datesPeriodeVersement": "2016"},
        {"pourcentageSubvention": "1.5"},
        {"rnaBeneficiaire": "W12"},
        {"idAttribuant": "1234"},
    ],
)
def test_frictionless_agrees_on_the_standard_part(tmp_path, changes):
    path = _write(tmp_path, good_row(**changes))
    with path.open(newline="") as fh:
        ours = {(p.row, p.field) for p in rules.validate_csv(fh, SCHEMA).problems}
    theirs = set(_frictionless_errors(path))
    assert ours == theirs


def test_frictionless_does_not_run_the_custom_checks_we_do(tmp_path):
    """Why our validator exists: frictionless passes a file with a false SIRET."""
    path = _write(tmp_path, good_row(idBeneficiaire="12345678901234"))
    assert _frictionless_errors(path) == []
    with path.open(newline="") as fh:
        assert rules.validate_csv(fh, SCHEMA).problems
