"""The applicant's journey: start a draft, fill the steps; nothing valid is ever lost."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from grants.applications.models import Application, BudgetLine, DeMinimisAid
from grants.core.db import utcnow
from tests.applications.conftest import csrf


def _html(response) -> str:
    text = html.unescape(response.get_data(as_text=True))
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _errors_next_to(html: str, field_id: str) -> str:
    """The error list rendered right after the input ``field_id``."""
    match = re.search(rf'id="{re.escape(field_id)}-erreurs"[^>]*>(.*?)</ul>', html, re.S)
    assert match, f"no errors next to {field_id}"
    return match.group(1)


# --- Starting -----------------------------------------------------------------------------


def test_start_creates_a_draft_for_one_of_my_organisations(app, applicant, create_call, load):
    call_id = create_call()
    client, user_id, org_id = applicant()
    url = f"/appels/{call_id}/candidater"
    response = client.post(url, data={"csrf_token": csrf(client, url), "organisation_id": org_id})
    assert response.status_code == 302
    assert "/etapes/structure" in response.headers["Location"]
    with app.app_context():
        from grants.extensions import db

        application = db.session.scalar(sa.select(Application))
        assert application.status.value == "draft"
        assert application.organisation_id == org_id
        assert application.created_by_id == user_id
        assert application.reference is None
    # a second start on the same call goes back to the same file
    response = client.post(url, data={"csrf_token": csrf(client, url), "organisation_id": org_id})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/dossiers/{application.id}")


def test_start_refuses_someone_elses_organisation(app, applicant, create_call, create_organisation):
    call_id = create_call()
    client, _user, _org = applicant()
    other_org = create_organisation()
    url = f"/appels/{call_id}/candidater"
    response = client.post(
        url, data={"csrf_token": csrf(client, url), "organisation_id": other_org}
    )
    assert response.status_code == 422
    assert "Choisissez l'une de vos structures." in _html(response)
    with app.app_context():
        from grants.extensions import db

        assert db.session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


def test_start_without_organisation_sends_to_create_one_with_next(applicant, create_call):
    call_id = create_call()
    client, _user, _org = applicant(org=False)
    response = client.get(f"/appels/{call_id}/candidater")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/structures/nouvelle")
    assert f"next=/appels/{call_id}/candidater" in location.replace("%2F", "/")


def test_start_only_on_an_open_call(applicant, create_call):
    now = utcnow()
    upcoming = create_call(opens_at=now + timedelta(days=2), closes_at=now + timedelta(days=30))
    closed = create_call(opens_at=now - timedelta(days=30), closes_at=now - timedelta(days=1))
    draft = create_call(status="draft")
    client, _user, org_id = applicant()
    for call_id in (upcoming, closed):
        response = client.get(f"/appels/{call_id}/candidater")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/appels/{call_id}"
    assert client.get(f"/appels/{draft}/candidater").status_code == 404


def test_start_requires_login(client, create_call):
    call_id = create_call()
    response = client.get(f"/appels/{call_id}/candidater")
    assert response.status_code in (302, 401)


# --- A step with errors keeps its valid fields --------------------------------------------


def test_project_step_saves_valid_fields_and_shows_errors_next_to_the_others(
    app, applicant, create_call, create_application, load
):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, jobs_created=4, end_date=date(2018, 6, 30))
    url = f"/dossiers/{app_id}/etapes/projet"
    response = client.post(
        url,
        data={
            "csrf_token": csrf(client, url),
            "title": "Recyclerie des Chartrons",
            "summary": "Un résumé",
            "territory": ["33063", "33281"],
            "sector": "Économie circulaire",
            "jobs_created": "trois",  # invalid
            "jobs_maintained": "2",
            "start_date": "2016-01-15",
            "end_date": "2015-12-31",  # before the start
            "action": "next",
        },
    )
    assert response.status_code == 422
    html = _html(response)
    assert "Indiquez un nombre entier" in _errors_next_to(html, "jobs_created")
    assert "La date de fin doit suivre la date de début." in _errors_next_to(html, "end_date")
    assert 'value="trois"' in html  # the invalid value is shown again
    assert "Certaines valeurs n'ont pas été enregistrées" in html
    saved = load(Application, app_id)
    assert saved.title == "Recyclerie des Chartrons"
    assert saved.summary == "Un résumé"
    assert saved.territory == ["33063", "33281"]
    assert saved.sector == "Économie circulaire"
    assert saved.jobs_maintained == 2
    assert saved.start_date == date(2016, 1, 15)
    # invalid values were not saved, and what was saved before is still there
    assert saved.jobs_created == 4
    assert saved.end_date == date(2018, 6, 30)


def test_project_step_refuses_a_sector_outside_the_call(
    applicant, create_call, create_application, load
):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    url = f"/dossiers/{app_id}/etapes/projet"
    response = client.post(
        url, data={"csrf_token": csrf(client, url), "title": "T", "sector": "Spatial"}
    )
    assert response.status_code == 422
    assert "Choisissez une valeur dans la liste." in _errors_next_to(_html(response), "sector")
    assert load(Application, app_id).title == "T"


def test_valid_step_saves_and_goes_to_the_next_step(
    applicant, create_call, create_application, load
):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    url = f"/dossiers/{app_id}/etapes/attestation"
    response = client.post(
        url,
        data={
            "csrf_token": csrf(client, url),
            "signatory_name": "Camille Martin",
            "signatory_role": "Présidente",
            "certified": "y",
            "action": "next",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/dossiers/{app_id}/etapes/deposer")
    saved = load(Application, app_id)
    assert (saved.signatory_name, saved.signatory_role, saved.certified) == (
        "Camille Martin",
        "Présidente",
        True,
    )


def test_structure_step_shows_the_organisation_and_saves_approvals(
    applicant, create_call, create_application, load
):
    call_id = create_call()
    client, _user, org_id = applicant(name="La Ressourcerie")
    app_id = create_application(call_id, org_id)
    url = f"/dossiers/{app_id}/etapes/structure"
    page = _html(client.get(url))
    assert "La Ressourcerie" in page
    assert f"/structures/{org_id}/modifier" in page
    response = client.post(
        url, data={"csrf_token": csrf(client, url), "approvals": "Agrément ESUS 2015"}
    )
    assert response.status_code == 302
    assert load(Application, app_id).approvals == "Agrément ESUS 2015"


def test_progress_indicator_says_what_is_missing(applicant, create_call, create_application):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, title="Mon projet")
    html = _html(client.get(f"/dossiers/{app_id}"))
    assert "Avancement du dossier" in html
    assert "Projet : rédigez le résumé du projet." in html
    assert "Budget 2016 : saisissez les charges et les produits" in html
    assert "Pièces : joignez le document « Statuts de la structure »." in html
    assert "À compléter" in html


def test_complete_file_shows_every_step_complete(applicant, create_call, create_application):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, complete=True)
    html = _html(client.get(f"/dossiers/{app_id}/etapes/deposer"))
    assert "Toutes les vérifications sont passées" in html
    assert "Prêt à déposer" in html
    assert html.count("Complète") == 5  # structure, projet, budget, pièces, attestation


# --- Budget -------------------------------------------------------------------------------


def _budget_lines(app, app_id):
    from grants.extensions import db

    with app.app_context():
        rows = db.session.scalars(
            sa.select(BudgetLine).where(BudgetLine.application_id == app_id).order_by(BudgetLine.id)
        ).all()
        result = [(r.year, r.account, r.label, r.amount, r.is_request, r.id) for r in rows]
        db.session.remove()
    return result


def test_budget_step_saves_lines_request_and_shows_balance(
    app, applicant, create_call, create_application
):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    url = f"/dossiers/{app_id}/etapes/budget"
    data = {
        "csrf_token": csrf(client, url),
        "request_2016": "10 000",
        "lines_2016-0-account": "64",
        "lines_2016-0-label": "Salaires",
        "lines_2016-0-amount": "15000",
        "lines_2016-1-account": "70",
        "lines_2016-1-label": "Ventes",
        "lines_2016-1-amount": "5 000,00",
        "request_2017": "8000",
        "lines_2017-0-account": "64",
        "lines_2017-0-amount": "9000",
        "action": "save",
    }
    response = client.post(url, data=data)
    assert response.status_code == 302, _html(response)[:3000]
    lines = _budget_lines(app, app_id)
    assert {(y, a, amt, req) for y, a, _l, amt, req, _id in lines} == {
        (2016, "64", Decimal("15000.00"), False),
        (2016, "70", Decimal("5000.00"), False),
        (2016, "74", Decimal("10000.00"), True),
        (2017, "64", Decimal("9000.00"), False),
        (2017, "74", Decimal("8000.00"), True),
    }
    html = _html(client.get(url))
    assert "Budget équilibré" in html  # 2016
    assert "Non équilibré : écart de 1 000,00 €" in html  # 2017
    assert "Montant total demandé à Bordeaux Métropole : 18 000,00 €" in html
    assert "Budget 2017 non équilibré" in html


def test_budget_row_with_an_error_keeps_the_saved_line_and_other_rows_are_saved(
    app, applicant, create_call, create_application
):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, complete=True)
    url = f"/dossiers/{app_id}/etapes/budget"
    before = [line for line in _budget_lines(app, app_id) if line[0] == 2016 and not line[4]]
    salaries = next(line for line in before if line[1] == "64")
    sales = next(line for line in before if line[1] == "70")
    response = client.post(
        url,
        data={
            "csrf_token": csrf(client, url),
            "request_2016": "douze mille",  # invalid: the saved request stays
            # the salaries line, changed to an invalid amount: kept as saved
            "lines_2016-0-row_id": str(salaries[5]),
            "lines_2016-0-account": "64",
            "lines_2016-0-label": "Salaires",
            "lines_2016-0-amount": "-3",
            # the sales line, emptied: removed
            "lines_2016-1-row_id": str(sales[5]),
            # a new valid line: saved
            "lines_2016-2-account": "61",
            "lines_2016-2-label": "Loyer",
            "lines_2016-2-amount": "1200",
            # a new line without account: not saved, error shown
            "lines_2016-3-label": "Sans compte",
            "lines_2016-3-amount": "10",
            "request_2017": "10000",
            "request_2018": "10000",
        },
    )
    assert response.status_code == 422
    html = _html(response)
    assert "Le montant ne peut pas être négatif." in _errors_next_to(html, "lines_2016-0-amount")
    assert "Choisissez le compte de cette ligne." in _errors_next_to(html, "lines_2016-3-account")
    assert "Indiquez un montant en euros" in _errors_next_to(html, "request_2016")
    assert 'value="-3"' in html and 'value="douze mille"' in html
    after = {
        (y, a, amt, req) for y, a, _l, amt, req, _id in _budget_lines(app, app_id) if y == 2016
    }
    assert after == {
        (2016, "64", salaries[3], False),
        (2016, "61", Decimal("1200.00"), False),
        (2016, "74", Decimal("10000.00"), True),
    }
    # the other years were not touched (their lines were not in the form: only the request)
    assert len([line for line in _budget_lines(app, app_id) if line[0] == 2017]) == 1


def test_budget_add_rows_button_offers_more_rows(applicant, create_call, create_application):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    url = f"/dossiers/{app_id}/etapes/budget"
    response = client.post(url, data={"csrf_token": csrf(client, url), "action": "add_rows"})
    assert response.status_code == 302
    page = _html(client.get(response.headers["Location"]))
    assert 'name="lines_2016-5-account"' in page
    assert 'name="lines_2016-6-account"' not in page


def test_investment_budget_step_saves_expenses_and_plan(
    app, applicant, create_call, create_application
):
    call_id = create_call(kind="investment_aid", ceiling=Decimal("100000"))
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    url = f"/dossiers/{app_id}/etapes/budget"
    response = client.post(
        url,
        data={
            "csrf_token": csrf(client, url),
            "expenses-0-label": "Ligne de tri",
            "expenses-0-amount": "200000",
            "expenses-0-eligible": "y",
            "expenses-1-label": "Frais de dossier",
            "expenses-1-amount": "10000",
            "sources-0-name": "Bordeaux Métropole",
            "sources-0-funder_type": "authority",
            "sources-0-amount": "100000",
            "sources-0-status": "requested",
            "sources-1-name": "Région Nouvelle-Aquitaine",
            "sources-1-funder_type": "region",
            "sources-1-amount": "80000",
            "sources-1-status": "obtained",
            "sources-2-name": "Fonds propres",
            "sources-2-funder_type": "bogus",
            "sources-2-amount": "30000",
        },
    )
    assert response.status_code == 422
    html = _html(response)
    assert "Choisissez une valeur dans la liste." in _errors_next_to(html, "sources-2-funder_type")
    assert "Écart de 30 000,00 €" in html
    assert "50 %" in html  # the authority's share of the eligible expenses
    with app.app_context():
        from grants.extensions import db

        application = db.session.get(Application, app_id)
        assert [(e.label, e.eligible) for e in application.expenses] == [
            ("Ligne de tri", True),
            ("Frais de dossier", False),
        ]
        assert [s.funder_type.value for s in application.funding_sources] == ["authority", "region"]


# --- De minimis ---------------------------------------------------------------------------


def test_minimis_step_only_for_an_economic_activity(applicant, create_call, create_application):
    call_id = create_call()
    client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id)
    assert client.get(f"/dossiers/{app_id}/etapes/minimis").status_code == 404
    assert "Aides de minimis" not in _html(client.get(f"/dossiers/{app_id}"))


def test_minimis_declaration_and_room(app, applicant, create_call, create_application):
    call_id = create_call()
    client, user_id, org_id = applicant(has_economic_activity=True)
    app_id = create_application(call_id, org_id, complete=True, request=Decimal("10000"))
    url = f"/dossiers/{app_id}/etapes/minimis"
    page = _html(client.get(url))
    assert "Marge restante" in page and "300 000,00 €" in page
    today = utcnow().date()
    response = client.post(
        url,
        data={
            "csrf_token": csrf(client, url),
            "granted_on": (today - timedelta(days=400)).isoformat(),
            "funder": "Région Nouvelle-Aquitaine",
            "amount": "280 000",
            "regime": "general",
        },
    )
    assert response.status_code == 302
    page = _html(client.get(url))
    assert "Région Nouvelle-Aquitaine" in page
    assert "20 000,00 €" in page  # room left
    assert "Dépasse la marge disponible" in page
    # 3 × 10,000 requested > 20,000 of room: submission is blocked with a message
    page = _html(client.get(f"/dossiers/{app_id}/etapes/deposer"))
    assert "De minimis : avec les aides déclarées depuis le" in page
    # invalid declaration: errors next to the fields, nothing added
    response = client.post(
        url,
        data={
            "csrf_token": csrf(client, url),
            "granted_on": "31/02/2020",
            "funder": "",
            "amount": "0",
        },
    )
    assert response.status_code == 422
    html = _html(response)
    assert "Indiquez une date valide" in _errors_next_to(html, "granted_on")
    assert "Indiquez le financeur" in _errors_next_to(html, "funder")
    assert "supérieur à zéro" in _errors_next_to(html, "amount")
    with app.app_context():
        from grants.extensions import db

        aids = db.session.scalars(sa.select(DeMinimisAid)).all()
        assert len(aids) == 1 and aids[0].declared_by_id == user_id
        aid_id = aids[0].id
        db.session.remove()
    response = client.post(
        f"/dossiers/{app_id}/etapes/minimis/aides/{aid_id}/supprimer",
        data={"csrf_token": csrf(client, url)},
    )
    assert response.status_code == 302
    assert "Aucune aide déclarée" in _html(client.get(url))


def test_cannot_remove_another_organisations_aid(app, applicant, create_call, create_application):
    call_id = create_call()
    client_a, _ua, org_a = applicant("a@example.org", has_economic_activity=True)
    _client_b, _ub, org_b = applicant("b@example.org", has_economic_activity=True)
    app_a = create_application(call_id, org_a)
    with app.app_context():
        from grants.extensions import db

        aid = DeMinimisAid(
            organisation_id=org_b, granted_on=date(2024, 1, 1), funder="État", amount=Decimal(5000)
        )
        db.session.add(aid)
        db.session.commit()
        aid_id = aid.id
        db.session.remove()
    url = f"/dossiers/{app_a}/etapes/minimis"
    response = client_a.post(
        f"/dossiers/{app_a}/etapes/minimis/aides/{aid_id}/supprimer",
        data={"csrf_token": csrf(client_a, url)},
    )
    assert response.status_code == 302
    with app.app_context():
        from grants.extensions import db

        assert db.session.get(DeMinimisAid, aid_id) is not None
