"""The SCDL open-data export of a year: which subsidies, which values, validated against the
official schema (our validator with the custom checks, and frictionless for the standard
part); ``grants export scdl`` and its exit codes; the worker job."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from grants.exports import rules

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "grants" / "data" / ("scdl-subventions-2.1.1.schema.json")
)


@pytest.fixture
def year_2016(funded, create_call, app):
    """Subsidies decided in 2016 (and one in 2017), signed or not, over 23,000 or not."""
    call_id = create_call(
        status="closed", title="Appel à projets ESS 2016", reference_prefix="AAP-2016"
    )
    big = funded(
        call_id=call_id,
        org={"name": "Recyclerie de la Bastide", "siret": "73282932000074"},
        title="Recyclerie solidaire",
    )
    association = funded(
        call_id=call_id,
        org={
            "name": "Association Les Jardins",
            "siret": "55210055400013",
            "legal_form": "association",
            "rna": "W332001234",
            "has_economic_activity": True,
        },
        title="Jardins partagés",
        tranches={2016: "25000"},
    )
    small = funded(
        call_id=call_id,
        org={"name": "Petite structure", "siret": "35600000000048"},
        tranches={2016: "8000", 2017: "7000"},
    )
    unsigned = funded(call_id=call_id, signed_on=None, org={"name": "Pas encore signée"})
    no_convention = funded(call_id=call_id, signed_on=False, org={"name": "Sans convention"})
    later = funded(
        call_id=call_id,
        org={"name": "Décidée en 2017"},
        held_on=date(2017, 1, 10),
        signed_on=date(2017, 2, 1),
    )
    return big, association, small, unsigned, no_convention, later


def parse(data: bytes) -> list[dict]:
    assert not data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def frictionless_errors(data: bytes, tmp_path) -> list:
    import json

    from frictionless import Resource, Schema

    path = tmp_path / "scdl.csv"
    path.write_bytes(data)
    schema = Schema.from_descriptor(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    with Resource(path=path.name, basepath=str(tmp_path), schema=schema) as resource:
        report = resource.validate()
    return report.flatten(["rowNumber", "fieldName", "type", "note"])


def build(app, tmp_path, year=2016, include_all=False):
    from grants.exports import scdl
    from grants.extensions import db

    path = tmp_path / f"scdl-{year}-{include_all}.csv"
    with app.app_context():
        result = scdl.build_scdl(path, year, app.config, include_all=include_all)
        db.session.remove()
    return result, path.read_bytes()


def test_the_subsidies_of_a_year(app, year_2016, tmp_path, query_counter):
    result, data = build(app, tmp_path)
    rows = parse(data)
    assert [r["nomBeneficiaire"] for r in rows] == [
        "Recyclerie de la Bastide",
        "Association Les Jardins",
    ]
    assert result.valid and result.rows == 2
    assert (result.counts.unsigned, result.counts.under_threshold) == (2, 1)
    assert "2 exclue(s) faute de convention signée" in result.summary()
    assert "1 de 23 000 € ou moins" in result.summary()

    big, association = rows
    assert list(big) == [
        f["name"] for f in __import__("json").loads(SCHEMA_PATH.read_text())["fields"]
    ]
    assert big["nomAttribuant"] == app.config["FUNDER_NAME"]
    assert big["idAttribuant"] == app.config["FUNDER_SIRET"]
    assert big["idServiceInstructeur"] == app.config["FUNDER_SIRET"]
    assert big["nomServiceInstructeur"] == "Service économie sociale et solidaire"
    assert big["idBeneficiaire"] == "73282932000074" and big["rnaBeneficiaire"] == ""
    assert big["objet"] == "Recyclerie solidaire"
    assert big["dispositif"] == "Appel à projets ESS 2016"
    assert big["montant"] == "30000.00"
    assert big["montantDemande"] == "30000.00"
    assert big["dateDecision"] == "2016-06-15" and big["exerciceBudgetaire"] == "2016"
    assert big["dateConvention"] == "2016-07-01"
    assert big["referenceDecision"] == "2016/042"
    assert big["conditionsVersement"] == "échelonné"
    assert big["datesPeriodeVersement"] == "2016-01-01/2018-12-31"
    assert big["anneesPluriannualite"] == "2016 - 2017 - 2018"
    assert big["notificationUE"] == "non"
    assert big["pourcentageSubvention"] == "1.00"
    assert big["dateMiseAJour"] == "2016-12-31"
    assert big["idSubvention"].startswith("AAP-2016-")
    assert association["rnaBeneficiaire"] == "W332001234"
    assert association["conditionsVersement"] == "unique"
    assert association["notificationUE"] == "oui"
    assert len({r["idSubvention"] for r in rows}) == len(rows)


def test_all_subsidies_on_request(app, year_2016, tmp_path):
    result, data = build(app, tmp_path, include_all=True)
    assert [r["nomBeneficiaire"] for r in parse(data)] == [
        "Recyclerie de la Bastide",
        "Association Les Jardins",
        "Petite structure",
    ]
    assert result.valid and "23 000" not in result.summary()


def test_another_year(app, year_2016, tmp_path):
    _result, data = build(app, tmp_path, year=2017)
    assert [r["nomBeneficiaire"] for r in parse(data)] == ["Décidée en 2017"]


def test_the_export_validates_against_the_schema_and_with_frictionless(app, year_2016, tmp_path):
    _result, data = build(app, tmp_path, include_all=True)
    with (tmp_path / "check.csv").open("wb") as fh:
        fh.write(data)
    from grants.exports.scdl import load_schema

    report = rules.validate_csv(io.StringIO(data.decode(), newline=""), load_schema())
    assert report.valid and report.rows == 3
    assert frictionless_errors(data, tmp_path) == []


def test_the_packaged_schema_is_the_official_one():
    official = Path("/work/shared/standards/scdl-subventions-2.1.1.schema.json")
    if not official.exists():
        pytest.skip("the shared standards folder is not here")
    assert SCHEMA_PATH.read_bytes() == official.read_bytes()


@pytest.fixture
def bad_siret(funded, app):
    """A subsidy whose beneficiary's SIRET has a wrong check digit (14 digits, so the
    database takes it) and no RNA."""
    return funded(org={"name": "SIRET faux", "siret": "12345678901234"})


def test_a_false_siret_fails_validation(app, year_2016, bad_siret, tmp_path):
    result, data = build(app, tmp_path)
    assert not result.valid
    assert [str(p) for p in result.report.problems] == [
        "ligne 4, colonne idBeneficiaire : « 12345678901234 » n'est pas un numéro SIRET valide."
    ]
    # frictionless alone would have let it through: the check is the schema's custom one
    assert frictionless_errors(data, tmp_path) == []


# --- the command ---------------------------------------------------------------------------


def test_cli_writes_the_csv_to_stdout(app, year_2016):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["export", "scdl", "--year", "2016"])
    assert result.exit_code == 0, result.stderr
    rows = parse(result.stdout_bytes)
    assert len(rows) == 2
    assert "2 subvention(s) attribuée(s) en 2016 exportée(s)" in result.stderr
    assert "faute de convention signée" in result.stderr

    result = runner.invoke(args=["export", "scdl", "--year", "2016", "--all"])
    assert result.exit_code == 0 and len(parse(result.stdout_bytes)) == 3


def test_cli_output_file(app, year_2016, tmp_path):
    target = tmp_path / "subventions.csv"
    result = app.test_cli_runner().invoke(
        args=["export", "scdl", "--year", "2016", "--output", str(target)]
    )
    assert result.exit_code == 0 and result.stdout_bytes == b""
    assert len(parse(target.read_bytes())) == 2


def test_cli_refuses_data_that_does_not_validate(app, year_2016, bad_siret):
    result = app.test_cli_runner().invoke(args=["export", "scdl", "--year", "2016"])
    assert result.exit_code == 2
    assert result.stdout_bytes == b""
    assert "ne respecte pas le schéma officiel" in result.stderr
    assert "colonne idBeneficiaire" in result.stderr and "12345678901234" in result.stderr
    assert "Aucun fichier n'a été produit." in result.stderr


def test_cli_year_is_required_and_checked(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["export", "scdl"]).exit_code == 2
    assert runner.invoke(args=["export", "scdl", "--year", "1999"]).exit_code == 2


def test_cli_on_an_empty_year_gives_the_header(app):
    result = app.test_cli_runner().invoke(args=["export", "scdl", "--year", "2030"])
    assert result.exit_code == 0
    assert result.stdout_bytes.decode().splitlines()[0].startswith("idSubvention,nomAttribuant,")


# --- the worker job ------------------------------------------------------------------------


def test_the_scdl_job(app, year_2016, new_job, run_job, job_state, stored, tmp_path):
    job = new_job("scdl", "csv", {"year": 2016, "all": True})
    assert run_job(job) == "done"
    state = job_state(job)
    assert state.filename == "subventions-scdl-2016-toutes.csv"
    assert (state.progress, state.total) == (3, 3)
    data = stored(state.file_key)
    assert len(parse(data)) == 3
    assert frictionless_errors(data, tmp_path) == []


def test_the_scdl_job_fails_with_the_list_of_problems(
    app, year_2016, bad_siret, new_job, run_job, job_state
):
    job = new_job("scdl", "csv", {"year": 2016})
    assert run_job(job) == "failed"
    state = job_state(job)
    assert state.file_key is None
    assert "ne respecte pas le schéma officiel" in state.error
    assert "ligne 4, colonne idBeneficiaire" in state.error
    assert "faute de convention signée" in state.error
