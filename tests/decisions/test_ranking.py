"""The ranking page, its sort, the envelope running out, its XLSX export and its SQL budget."""

from __future__ import annotations

import io
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from tests.decisions.conftest import text_of

# Default grid: five criteria on 0–5 (weights 30/25/20/15/10): 3 everywhere = 60, 4 = 80.
GOOD = ((3, 3, 3, 3, 3), (4, 4, 4, 4, 4))  # 60 and 80: mean 70, σ 10
SPLIT = ((5, 5, 5, 5, 5), (1, 1, 1, 1, 1))  # 100 and 20: mean 60, σ 40, disagreement


def _url(committee, suffix=""):
    return f"/gestion/appels/{committee.call_id}/classement{suffix}"


def test_staff_see_scores_dispersion_counts_and_disagreement(staff_client, committee):
    good = committee.file(reviews=GOOD, org_name="Recyclerie du Lac")
    split = committee.file(reviews=SPLIT, org_name="Atelier Vélo")
    partial = committee.file(reviews=((4, 4, 4, 4, 4),), org_name="Épicerie solidaire")
    response = staff_client.get(_url(committee))
    assert response.status_code == 200
    text = text_of(response)
    # Sorted by score: 80 (one review), 70, 60.
    assert text.index("Épicerie solidaire") < text.index("Recyclerie du Lac")
    assert text.index("Recyclerie du Lac") < text.index("Atelier Vélo")
    assert "70,00" in text and "10,00" in text  # mean and σ of the good file
    assert "60,00" in text and "40,00" in text
    assert "2/2 avis" in text
    assert "1/2 avis" in text and "Avis manquants" in text
    assert "Désaccord (80,00 points d'écart)" in text
    html = response.get_data(as_text=True)
    for f in (good, split, partial):
        assert f"/gestion/dossiers/{f.id}/decision" in html


def test_sorting_by_reference_and_by_normalised_score(staff_client, committee):
    first = committee.file(reviews=((2, 2, 2, 2, 2), (2, 2, 2, 2, 2)), org_name="Alpha")
    second = committee.file(reviews=GOOD, org_name="Bêta")
    by_score = text_of(staff_client.get(_url(committee)))
    assert by_score.index("Bêta") < by_score.index("Alpha")
    by_reference = text_of(staff_client.get(_url(committee, "?tri=reference")))
    assert by_reference.index("Alpha") < by_reference.index("Bêta")
    assert first.id < second.id
    normalised = staff_client.get(_url(committee, "?tri=normalisee"))
    assert normalised.status_code == 200
    assert text_of(normalised).index("Bêta") < text_of(normalised).index("Alpha")


def test_only_eligible_submitted_files_are_ranked(staff_client, committee):
    committee.file(org_name="Retenue ici")
    committee.file(
        org_name="Déclarée irrecevable",
        eligibility_override=False,
        eligibility_override_reason="Hors territoire",
    )
    committee.file(status="draft", org_name="Brouillon oublié", reviews=())
    committee.file(status="withdrawn", org_name="Retirée", reviews=())
    text = text_of(staff_client.get(_url(committee)))
    assert "Retenue ici" in text
    for absent in ("Déclarée irrecevable", "Brouillon oublié", "Retirée"):
        assert absent not in text
    assert "1 dossier recevable" in text


def test_the_row_where_an_envelope_runs_out_is_flagged(staff_client, committee):
    # Envelope 2016: 60,000; three files asking 25,000 each in 2016 → out at the third.
    for n, reviews in enumerate((GOOD, GOOD, SPLIT)):
        committee.file(request="25000", reviews=reviews, org_name=f"Structure {n}")
    text = text_of(staff_client.get(_url(committee)))
    assert text.count("Enveloppe 2016 dépassée") == 1
    assert text.count("Enveloppe 2018 dépassée") == 1  # 50,000 too
    assert "Enveloppe 2017 dépassée" in text  # 55,000
    flagged = text.index("Enveloppe 2016 dépassée")
    assert text.index("Structure 2") < flagged  # the last ranked file
    assert "75 000,00 € / 60 000,00 €" in text


def test_a_rejected_file_no_longer_counts_in_the_running_sums(app, staff_client, committee):
    from grants.applications.models import Application
    from grants.decisions.models import Decision, Outcome
    from grants.extensions import db

    top = committee.file(request="25000", reviews=GOOD)
    committee.file(request="25000", reviews=SPLIT)
    with app.app_context():
        application = db.session.get(Application, top.id)
        application.status = "rejected"
        application.decided_at = application.submitted_at
        db.session.add(
            Decision(application_id=top.id, outcome=Outcome.rejected, reason="Hors priorités")
        )
        db.session.commit()
        db.session.remove()
    text = text_of(staff_client.get(_url(committee)))
    assert "25 000,00 € / 60 000,00 €" in text
    assert "50 000,00 € / 60 000,00 €" not in text


def test_the_ranking_is_for_staff_only(client, committee, create_user, login):
    committee.file()
    assert client.get(_url(committee)).status_code == 302  # to the login page
    create_user(email="curieux@example.org", roles=["reviewer"])
    login(client, "curieux@example.org")
    assert client.get(_url(committee)).status_code == 403
    assert client.get(_url(committee, ".xlsx")).status_code == 403
    assert client.get(f"/gestion/appels/{committee.call_id}/seances").status_code == 403


def test_unknown_call_is_404(staff_client):
    assert staff_client.get("/gestion/appels/999999/classement").status_code == 404


def test_xlsx_export_holds_the_rows_with_numbers(staff_client, committee):
    committee.file(reviews=GOOD, org_name="Recyclerie du Lac", title="Recyclerie")
    committee.file(reviews=SPLIT, org_name="Atelier Vélo", title="Vélos")
    response = staff_client.get(_url(committee, ".xlsx"))
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert ".xlsx" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    assert header[:6] == ("Rang", "Référence", "Structure", "Projet", "Statut", "Note (sur 100)")
    assert "Demandé 2016" in header and "Cumul 2016" in header and "Montant attribué" in header
    assert len(rows) == 3
    first = dict(zip(header, rows[1], strict=True))
    assert first["Structure"] == "Recyclerie du Lac"
    assert first["Rang"] == 1
    assert first["Note (sur 100)"] == 70
    assert first["Écart type"] == 10
    assert first["Demandé 2016"] == 10000
    assert isinstance(first["Demandé (total)"], int | float) and first["Demandé (total)"] == 30000
    second = dict(zip(header, rows[2], strict=True))
    assert second["Désaccord entre évaluateurs"] == "Oui"
    assert second["Cumul 2016"] == 20000
    # The money columns carry a euro format.
    money_col = header.index("Demandé 2016") + 1
    assert "€" in sheet.cell(row=2, column=money_col).number_format


# --- SQL budget ---------------------------------------------------------------------------


@contextmanager
def count_statements(app):
    from grants.extensions import db

    statements: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", _count)


def _bulk_files(app, call_id: int, reviewer_ids: list[int], start: int, n: int, siret: str) -> None:
    """``n`` files under review with two submitted reviews each, inserted in bulk."""
    from grants.applications.models import Application, BudgetLine
    from grants.calls.models import Call, Criterion
    from grants.core.db import utcnow
    from grants.extensions import db
    from grants.organisations.models import LegalForm, Organisation
    from grants.reviews.models import Review, ReviewScore

    now = utcnow()
    with app.app_context():
        call = db.session.get(Call, call_id)
        years = [y.year for y in call.years]
        criteria = db.session.scalars(
            sa.select(Criterion.id).where(Criterion.call_id == call_id)
        ).all()
        org = Organisation(
            name=f"Réseau {start}",
            legal_form=LegalForm.scop,
            siret=siret,
            address="1 rue",
            postal_code="33000",
            city="Bordeaux",
            commune_insee="33063",
        )
        db.session.add(org)
        db.session.flush()
        apps = [
            {
                "call_id": call_id,
                "organisation_id": org.id,
                "status": "under_review",
                "title": f"Projet {i}",
                "territory": ["33063"],
                "sequence": i,
                "reference": f"{call.reference_prefix}-{i:05d}",
                "submitted_at": now - timedelta(days=2),
            }
            for i in range(start, start + n)
        ]
        db.session.execute(sa.insert(Application), apps)
        ids = db.session.scalars(
            sa.select(Application.id).where(
                Application.call_id == call_id, Application.sequence >= start
            )
        ).all()
        db.session.execute(
            sa.insert(BudgetLine),
            [
                {
                    "application_id": a,
                    "year": y,
                    "account": "74",
                    "amount": Decimal("5000"),
                    "is_request": True,
                }
                for a in ids
                for y in years
            ],
        )
        reviews = [
            {
                "application_id": a,
                "reviewer_id": r,
                "status": "submitted",
                "opinion": "favourable",
                "summary": "",
                "submitted_at": now,
            }
            for a in ids
            for r in reviewer_ids
        ]
        db.session.execute(sa.insert(Review), reviews)
        review_ids = db.session.scalars(
            sa.select(Review.id).where(Review.application_id.in_(ids))
        ).all()
        db.session.execute(
            sa.insert(ReviewScore),
            [
                {"review_id": rid, "criterion_id": c, "score": (rid + c) % 6, "comment": ""}
                for rid in review_ids
                for c in criteria
            ],
        )
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("suffix", ["", ".xlsx", "?tri=normalisee"])
def test_the_ranking_runs_the_same_queries_with_10_and_1000_files(
    app, staff_client, committee, create_committee_session, suffix
):
    from grants.decisions.models import Decision, Outcome
    from grants.extensions import db

    _bulk_files(app, committee.call_id, committee.reviewer_ids, 1, 10, "35600000000048")
    with app.app_context():  # a decision with its session on the page
        db.session.add(
            Decision(
                application_id=db.session.scalar(sa.text("SELECT min(id) FROM application")),
                outcome=Outcome.waitlisted,
                session_id=committee.session_id,
            )
        )
        db.session.commit()
        db.session.remove()
    url = _url(committee, suffix)
    staff_client.get(url)  # warm up
    with count_statements(app) as few:
        response = staff_client.get(url)
        assert response.status_code == 200
    if not suffix:
        assert text_of(response).count("2/2 avis") == 10
    _bulk_files(app, committee.call_id, committee.reviewer_ids, 100, 990, "55210055400013")
    create_committee_session(committee.call_id, ref="2016/099")
    with count_statements(app) as many:
        response = staff_client.get(url)
        assert response.status_code == 200
    if not suffix:
        assert text_of(response).count("2/2 avis") == 1000
    assert len(many) == len(few), (few, many)
