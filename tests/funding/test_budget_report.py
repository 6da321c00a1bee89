"""The budget report: committed = tranches of the linked calls + commitments; paid; remaining;
section totals; the CLI formats; a bounded number of queries."""

from __future__ import annotations

import json
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import event


@contextmanager
def count_statements(app):
    from grants.extensions import db

    statements: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def _link(app, call_id: int, line_id: int) -> None:
    from grants.calls.models import Call
    from grants.extensions import db

    with app.app_context():
        db.session.get(Call, call_id).funding_line_id = line_id
        db.session.commit()
        db.session.remove()


def _report(app, year: int) -> dict:
    from grants.core.models import default_funder
    from grants.extensions import db
    from grants.funding import budget_queries

    with app.app_context():
        data = budget_queries.report(default_funder().id, year).as_json()
        db.session.remove()
    return data


def _line(report: dict, label: str) -> dict:
    for section in report["sections"]:
        for line in section["lines"]:
            if line["line"] == label:
                return line
    raise AssertionError(label)


def _seeded_world(
    app, import_seed_tables, funding_line_id, create_call, create_award, create_commitment
):
    """The seeds' tables; the 2016 call on « Appels à projets » with three laureates (one
    tranche cancelled, one partly paid); an unlinked call; a PLIE and a convention."""
    import_seed_tables()
    call_line = funding_line_id("Appels à projets")
    call_id = create_call()
    _link(app, call_id, call_line)
    create_award(
        call_id,
        {2016: ("12000", "5000", "paid"), 2017: "10000", 2018: "8000"},
    )
    create_award(call_id, {2016: ("8000", "0", "validated"), 2017: "7000"})
    create_award(call_id, {2016: ("3000", "0", "cancelled")})
    other_call = create_call()  # not linked to any line: not counted
    create_award(other_call, {2016: "9999"})
    plie_line = funding_line_id("PLIE des Graves")
    create_commitment(
        plie_line,
        2016,
        kind="plie",
        fixed_amount="5000",
        hourly_rate="1",
        hours="1250.5",
        beneficiary="PLIE des Graves",
    )
    create_commitment(plie_line, 2017, kind="plie", fixed_amount="5000", hourly_rate="1")
    create_commitment(funding_line_id("CRESS"), 2016, fixed_amount="20000", beneficiary="CRESS")
    return call_id


def test_committed_paid_and_remaining_per_line_and_section(
    app, import_seed_tables, funding_line_id, create_call, create_award, create_commitment
):
    _seeded_world(
        app, import_seed_tables, funding_line_id, create_call, create_award, create_commitment
    )
    report = _report(app, 2016)
    assert list(report) == ["year", "sections"]
    assert report["year"] == 2016
    operating, investment = report["sections"]
    assert list(operating) == ["section", "voted", "committed", "paid", "remaining", "lines"]
    assert _line(report, "Appels à projets") == {
        "rubric": "appel à projets",
        "line": "Appels à projets",
        "voted": "60000.00",
        "committed": "20000.00",
        "paid": "5000.00",
        "remaining": "40000.00",
    }
    assert _line(report, "PLIE des Graves") == {
        "rubric": "clauses d'insertion (PLIE)",
        "line": "PLIE des Graves",
        "voted": "11500.00",
        "committed": "6250.50",
        "paid": "0.00",
        "remaining": "5249.50",
    }
    assert _line(report, "CRESS")["committed"] == "20000.00"
    assert _line(report, "CRESS")["remaining"] == "0.00"
    assert operating["section"] == "fonctionnement"
    assert operating["voted"] == "445520.00"
    assert operating["committed"] == "46250.50"
    assert operating["paid"] == "5000.00"
    assert operating["remaining"] == "399269.50"
    assert investment == {
        **investment,
        "section": "investissement",
        "voted": "200000.00",
        "committed": "0.00",
        "remaining": "200000.00",
    }

    later = _report(app, 2017)
    assert _line(later, "Appels à projets")["committed"] == "17000.00"
    assert _line(later, "Appels à projets")["paid"] == "0.00"
    assert _line(later, "PLIE des Graves")["committed"] == "5000.00"
    assert later["sections"][0]["voted"] == "440520.00"


def test_an_over_committed_line_has_a_negative_remainder(
    app, create_funding_line, create_call, create_award
):
    line_id = create_funding_line(label="Aides immobilières", votes={2016: "1000"})
    call_id = create_call()
    _link(app, call_id, line_id)
    create_award(call_id, {2016: "1500.25"})
    (section,) = _report(app, 2016)["sections"]
    assert section["lines"][0]["remaining"] == "-500.25"
    assert section["remaining"] == "-500.25"


def test_a_line_without_a_vote_shows_when_something_is_committed(
    app, create_funding_line, create_commitment
):
    line_id = create_funding_line(label="Soutiens aux réseaux", votes={2022: "110000"})
    assert _report(app, 2016) == {"year": 2016, "sections": []}
    create_commitment(line_id, 2016, fixed_amount="300")
    (section,) = _report(app, 2016)["sections"]
    assert section["lines"][0] == {
        "rubric": "appel à projets",
        "line": "Soutiens aux réseaux",
        "voted": "0.00",
        "committed": "300.00",
        "paid": "0.00",
        "remaining": "-300.00",
    }


def test_lines_of_another_funder_are_not_in_the_report(app, create_funding_line):
    from grants.core.models import Funder
    from grants.extensions import db
    from grants.funding.models import BudgetSection, FundingLine, FundingLineYear

    create_funding_line(label="Mienne", votes={2016: "10"})
    with app.app_context():
        other = Funder(name="Région", siret="23330001700013")
        db.session.add(other)
        db.session.flush()
        db.session.add(
            FundingLine(
                funder_id=other.id,
                section=BudgetSection.fonctionnement,
                rubric="appel à projets",
                label="Autre",
                years=[FundingLineYear(year=2016, voted=99)],
            )
        )
        db.session.commit()
        db.session.remove()
    (section,) = _report(app, 2016)["sections"]
    assert [line["line"] for line in section["lines"]] == ["Mienne"]
    assert section["voted"] == "10.00"


def test_cli_report_json_and_table(
    app, import_seed_tables, funding_line_id, create_call, create_award, create_commitment
):
    _seeded_world(
        app, import_seed_tables, funding_line_id, create_call, create_award, create_commitment
    )
    runner = app.test_cli_runner()
    result = runner.invoke(args=["budget", "report", "--year", "2016", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith('{"year": 2016, "sections": [{"section": "fonctionnement", ')
    assert json.loads(result.stdout) == _report(app, 2016)
    assert "têtes de réseau" in result.stdout  # UTF-8, not \u escapes

    table = runner.invoke(args=["budget", "report", "--year", "2016", "--format", "table"])
    assert table.exit_code == 0
    text = table.stdout.replace("\u202f", " ").replace("\xa0", " ")
    assert "FONCTIONNEMENT" in text and "INVESTISSEMENT" in text
    total = next(line for line in text.splitlines() if line.startswith("Total fonctionnement"))
    assert total.split()[2:] == [
        "445", "520,00", "€",
        "46", "250,50", "€",
        "5", "000,00", "€",
        "399", "269,50", "€",
    ]  # fmt: skip
    assert "Lignes de garantie dite « Loi Galland » sur prêt bancaire" in text


def test_cli_report_needs_a_year(app):
    result = app.test_cli_runner().invoke(args=["budget", "report"])
    assert result.exit_code == 2
    assert "--year" in result.stderr


def _many_lines(app, create_funding_line, create_call, create_award, create_commitment, n):
    for i in range(n):
        line_id = create_funding_line(
            label=f"Ligne {n}-{i}",
            section="fonctionnement" if i % 2 else "investissement",
            rubric=f"rubrique {i % 3}",
            votes={2016: "10000", 2017: "9000"},
        )
        call_id = create_call()
        _link(app, call_id, line_id)
        create_award(call_id, {2016: ("1000", "500", "paid"), 2017: "800"})
        create_commitment(
            line_id, 2016, kind="plie", fixed_amount="5000", hourly_rate="1", hours="3"
        )


def test_the_report_reads_a_bounded_number_of_statements(
    app, create_funding_line, create_call, create_award, create_commitment
):
    _many_lines(app, create_funding_line, create_call, create_award, create_commitment, 5)
    _report(app, 2016)  # warm up (funder)
    with count_statements(app) as few:
        small = _report(app, 2016)
    _many_lines(app, create_funding_line, create_call, create_award, create_commitment, 45)
    with count_statements(app) as many:
        large = _report(app, 2016)
    assert sum(len(s["lines"]) for s in small["sections"]) == 5
    assert sum(len(s["lines"]) for s in large["sections"]) == 50
    assert len(many) == len(few) <= 5, (few, many)
    (line,) = [x for s in large["sections"] for x in s["lines"] if x["line"] == "Ligne 45-7"]
    assert line["committed"] == "6003.00" and line["paid"] == "500.00"


def test_the_report_counts_thousands_of_tranches_exactly(app, create_funding_line, create_call):
    """Σ of many cent amounts in SQL stays exact to the cent (no float drift)."""
    from decimal import Decimal

    from grants.extensions import db
    from grants.funding.models import Award, Tranche

    line_id = create_funding_line(votes={2016: "1000000"})
    call_id = create_call()
    _link(app, call_id, line_id)
    with app.app_context():
        from grants.applications.models import Application, ApplicationStatus
        from grants.organisations.models import LegalForm, Organisation

        org = Organisation(name="S", legal_form=LegalForm.scop, siret="73282932000074")
        db.session.add(org)
        db.session.flush()
        for n in range(600):
            # a bare row is enough: the report reads awards and tranches only
            application = Application(
                call_id=call_id, organisation_id=org.id, status=ApplicationStatus.draft
            )
            db.session.add(application)
            db.session.flush()
            award = Award(application_id=application.id, call_id=call_id, total=Decimal("0.10"))
            award.tranches = [
                Tranche(
                    year=2016,
                    amount=Decimal("0.10"),
                    paid_amount=Decimal("0.10"),
                    requested_amount=Decimal("0.10"),
                )
            ]
            db.session.add(award)
            if n % 200 == 0:
                db.session.flush()
        db.session.commit()
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Tranche))
        db.session.remove()
    assert count == 600
    (section,) = _report(app, 2016)["sections"]
    assert section["committed"] == "60.00" and section["paid"] == "60.00"
    assert section["remaining"] == "999940.00"
