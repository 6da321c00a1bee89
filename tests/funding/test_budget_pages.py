"""The staff pages of the budget: report, lines, calls linked to a line, commitments."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa

from tests.funding.test_budget_report import count_statements


def plain(html: str) -> str:
    return unescape(html).replace("\u202f", " ").replace("\xa0", " ")


def field_errors(html: str, field_id: str) -> list[str]:
    match = re.search(
        rf'<ul class="errors" id="{re.escape(field_id)}-erreurs">(.*?)</ul>', html, re.S
    )
    if not match:
        return []
    return [unescape(m) for m in re.findall(r"<li>(.*?)</li>", match.group(1), re.S)]


def input_value(html: str, field_id: str) -> str | None:
    match = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', html)
    if not match:
        return None
    value = re.search(r'value="([^"]*)"', match.group(0))
    return unescape(value.group(1)) if value else ""


def csrf(client, url: str) -> str:
    from tests.fixtures.core import csrf_token_from

    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return csrf_token_from(response.get_data(as_text=True))


def _db(app, fn):
    from grants.extensions import db

    with app.app_context():
        value = fn(db.session)
        db.session.remove()
    return value


def _audit(app, action: str) -> list[dict]:
    from grants.audit.models import AuditEntry

    return _db(
        app,
        lambda s: [
            e.changes
            for e in s.scalars(
                sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        ],
    )


# --- permissions -------------------------------------------------------------------------------


def _urls(line_id: int, commitment_id: int) -> list[tuple[str, str]]:
    return [
        ("get", "/gestion/budget"),
        ("get", "/gestion/budget?annee=2016"),
        ("get", "/gestion/budget/lignes/nouvelle"),
        ("post", "/gestion/budget/lignes/nouvelle"),
        ("get", f"/gestion/budget/lignes/{line_id}"),
        ("get", f"/gestion/budget/lignes/{line_id}/modifier"),
        ("post", f"/gestion/budget/lignes/{line_id}/modifier"),
        ("post", f"/gestion/budget/lignes/{line_id}/appels"),
        ("get", f"/gestion/budget/lignes/{line_id}/engagements/nouveau/plie"),
        ("post", f"/gestion/budget/lignes/{line_id}/engagements/nouveau/convention"),
        ("get", f"/gestion/budget/engagements/{commitment_id}/modifier"),
        ("post", f"/gestion/budget/engagements/{commitment_id}/modifier"),
        ("post", f"/gestion/budget/engagements/{commitment_id}/supprimer"),
    ]


@pytest.mark.parametrize("role", ["applicant", "reviewer"])
def test_only_staff_reach_the_budget_pages(
    app, client_as, role, create_funding_line, create_commitment, get_csrf
):
    from grants.funding.models import Commitment, FundingLine

    line_id = create_funding_line(label="CRESS", votes={2016: "1000"})
    commitment_id = create_commitment(line_id, 2016)
    client = client_as(role)
    token = get_csrf(client, "/structures/nouvelle")
    data = {
        "csrf_token": token,
        "section": "fonctionnement",
        "rubric": "r",
        "label": "pirate",
        "year": "2016",
        "beneficiary": "x",
        "fixed_amount": "1",
    }
    for method, url in _urls(line_id, commitment_id):
        response = getattr(client, method)(url, data=data)
        assert response.status_code == 403, (url, response.status_code)
    # nothing was changed
    assert _db(app, lambda s: s.get(Commitment, commitment_id).fixed_amount) == 20000
    assert _db(app, lambda s: [line.label for line in s.scalars(sa.select(FundingLine))]) == [
        "CRESS"
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/gestion/budget")
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_staff_and_admins_see_the_report(client_as, import_seed_tables, role):
    import_seed_tables()
    client = client_as(role)
    response = client.get("/gestion/budget?annee=2016")
    assert response.status_code == 200
    text = plain(response.get_data(as_text=True))
    assert "Budget 2016" in text
    assert "Total fonctionnement" in text and "445 520,00 €" in text
    assert "Total investissement" in text and "200 000,00 €" in text
    assert "Lignes de garantie dite « Loi Galland » sur prêt bancaire" in text
    assert "<svg" in response.get_data(as_text=True)
    assert 'style="' not in response.get_data(as_text=True)  # CSP: no inline styles
    other = plain(client.get("/gestion/budget?annee=2017").get_data(as_text=True))
    assert "440 520,00 €" in other


def test_the_report_page_reads_a_bounded_number_of_statements(
    app, client_as, create_funding_line, create_call, create_award, create_commitment
):
    from tests.funding.test_budget_report import _many_lines

    client = client_as("staff")
    _many_lines(app, create_funding_line, create_call, create_award, create_commitment, 5)
    client.get("/gestion/budget?annee=2016")
    with count_statements(app) as few:
        assert client.get("/gestion/budget?annee=2016").status_code == 200
    _many_lines(app, create_funding_line, create_call, create_award, create_commitment, 45)
    with count_statements(app) as many:
        response = client.get("/gestion/budget?annee=2016")
    assert response.status_code == 200
    assert plain(response.get_data(as_text=True)).count("6 003,00 €") == 50
    assert len(many) == len(few), (few, many)


def test_the_report_shows_an_over_committed_line_in_words(
    app, client_as, create_funding_line, create_commitment
):
    line_id = create_funding_line(label="Prix coup de cœur", votes={2016: "100"})
    create_commitment(line_id, 2016, fixed_amount="150")
    text = plain(client_as("staff").get("/gestion/budget?annee=2016").get_data(as_text=True))
    assert "-50,00 €" in text and "Dépassement" in text


# --- lines -------------------------------------------------------------------------------------


def _line_form(token: str, **overrides) -> dict:
    data = {
        "csrf_token": token,
        "action": "save",
        "section": "fonctionnement",
        "rubric": "têtes de réseau",
        "label": "CRESS",
        "votes-0-year": "2016",
        "votes-0-voted": "20 000",
        "votes-1-year": "2017",
        "votes-1-voted": "20000,50",
        "votes-2-year": "",
        "votes-2-voted": "",
    }
    data.update(overrides)
    return data


def test_create_a_line_with_its_votes(app, client_as):
    from grants.funding.models import FundingLine

    client = client_as("staff")
    token = csrf(client, "/gestion/budget/lignes/nouvelle")
    response = client.post("/gestion/budget/lignes/nouvelle", data=_line_form(token))
    assert response.status_code == 302
    line = _db(
        app,
        lambda s: (
            lambda line: (
                line.section.value,
                line.rubric,
                line.label,
                [(v.year, str(v.voted)) for v in line.years],
            )
        )(s.scalar(sa.select(FundingLine))),
    )
    assert line == (
        "fonctionnement",
        "têtes de réseau",
        "CRESS",
        [(2016, "20000.00"), (2017, "20000.50")],
    )
    page = plain(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "La ligne « CRESS » a été créée." in page
    assert "20 000,50 €" in page
    (changes,) = _audit(app, "budget_line.create")
    assert changes["voted_2017"] == [None, "20000.50"]


def test_line_form_errors_are_french_and_next_to_the_fields(app, client_as):
    from grants.funding.models import FundingLine

    client = client_as("staff")
    token = csrf(client, "/gestion/budget/lignes/nouvelle")
    response = client.post(
        "/gestion/budget/lignes/nouvelle",
        data=_line_form(
            token,
            section="autre",
            rubric="  ",
            label="Appels à projets",
            **{
                "votes-0-voted": "vingt mille",
                "votes-1-year": "2016",
                "votes-2-year": "2018",
                "votes-2-voted": "",
            },
        ),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "section") == [
        "Section « autre » inconnue : fonctionnement ou investissement."
    ]
    assert field_errors(html, "rubric") == ["Indiquez la rubrique."]
    assert field_errors(html, "votes-0-voted")[0].startswith("« vingt mille » n'est pas un montant")
    assert field_errors(html, "votes-1-year") == ["L'année 2016 figure déjà ligne 1."]
    assert field_errors(html, "votes-2-voted") == [
        "Indiquez le montant voté (0 si rien n'est voté), ou videz l'année."
    ]
    # what was typed is kept
    assert input_value(html, "label") == "Appels à projets"
    assert input_value(html, "votes-0-voted") == "vingt mille"
    assert 'aria-invalid="true"' in html
    assert _db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(FundingLine))) == 0


def test_a_line_cannot_be_created_twice(client_as, create_funding_line):
    create_funding_line(label="CRESS", rubric="têtes de réseau")
    client = client_as("staff")
    token = csrf(client, "/gestion/budget/lignes/nouvelle")
    response = client.post("/gestion/budget/lignes/nouvelle", data=_line_form(token))
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "label") == [
        "Cette ligne existe déjà dans cette section et cette rubrique."
    ]


def test_add_years_button_keeps_the_input_and_saves_nothing(app, client_as):
    from grants.funding.models import FundingLine

    client = client_as("staff")
    token = csrf(client, "/gestion/budget/lignes/nouvelle")
    response = client.post(
        "/gestion/budget/lignes/nouvelle", data=_line_form(token, action="add_years")
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert input_value(html, "votes-1-voted") == "20000,50"
    assert input_value(html, "votes-5-year") == ""
    assert _db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(FundingLine))) == 0


def test_edit_a_line_changes_and_removes_votes(app, client_as, create_funding_line):
    from grants.funding.models import FundingLine

    line_id = create_funding_line(
        label="ADIE", rubric="têtes de réseau", votes={2016: "45000", 2017: "45000"}
    )
    client = client_as("staff")
    url = f"/gestion/budget/lignes/{line_id}/modifier"
    page = client.get(url).get_data(as_text=True)
    assert input_value(page, "votes-0-voted") == "45 000,00"
    token = csrf(client, url)
    response = client.post(
        url,
        data=_line_form(
            token,
            label="ADIE Nouvelle-Aquitaine",
            **{
                "votes-0-year": "2016",
                "votes-0-voted": "46 000",
                "votes-1-year": "",
                "votes-1-voted": "",
                "votes-2-year": "2018",
                "votes-2-voted": "40000",
            },
        ),
    )
    assert response.status_code == 302
    line = _db(
        app,
        lambda s: (lambda line: (line.label, [(v.year, str(v.voted)) for v in line.years]))(
            s.get(FundingLine, line_id)
        ),
    )
    assert line == ("ADIE Nouvelle-Aquitaine", [(2016, "46000.00"), (2018, "40000.00")])
    (changes,) = _audit(app, "budget_line.update")
    assert changes == {
        "label": ["ADIE", "ADIE Nouvelle-Aquitaine"],
        "voted_2016": ["45000.00", "46000.00"],
        "voted_2017": ["45000.00", None],
        "voted_2018": [None, "40000.00"],
    }


def test_a_line_of_another_funder_is_404(app, client_as):
    from grants.core.models import Funder
    from grants.extensions import db
    from grants.funding.models import BudgetSection, FundingLine

    with app.app_context():
        other = Funder(name="Région", siret="23330001700013")
        db.session.add(other)
        db.session.flush()
        line = FundingLine(
            funder_id=other.id, section=BudgetSection.fonctionnement, rubric="r", label="l"
        )
        db.session.add(line)
        db.session.commit()
        line_id = line.id
        db.session.remove()
    client = client_as("staff")
    assert client.get(f"/gestion/budget/lignes/{line_id}").status_code == 404
    assert client.get(f"/gestion/budget/lignes/{line_id}/modifier").status_code == 404


# --- calls -------------------------------------------------------------------------------------


def test_link_and_unlink_a_call(app, client_as, create_funding_line, create_call, create_award):
    from grants.calls.models import Call

    line_id = create_funding_line(label="Appels à projets", votes={2016: "60000"})
    call_id = create_call(title="Appel à projets ESS 2016")
    create_award(call_id, {2016: "12000"})
    client = client_as("staff")
    url = f"/gestion/budget/lignes/{line_id}"
    page = client.get(url).get_data(as_text=True)
    assert f'<option value="{call_id}">Appel à projets ESS 2016' in unescape(page)
    token = csrf(client, url)
    response = client.post(f"{url}/appels", data={"csrf_token": token, "call_id": str(call_id)})
    assert response.status_code == 302
    assert _db(app, lambda s: s.get(Call, call_id).funding_line_id) == line_id
    page = plain(client.get(url).get_data(as_text=True))
    assert "sont désormais imputées sur cette ligne" in page
    assert "12 000,00 €" in page  # committed in 2016
    assert _audit(app, "call.funding_line") == [{"funding_line_id": [None, line_id]}]

    response = client.post(f"{url}/appels/{call_id}/retirer", data={"csrf_token": token})
    assert response.status_code == 302
    assert _db(app, lambda s: s.get(Call, call_id).funding_line_id) is None
    assert (
        client.post(f"{url}/appels/{call_id}/retirer", data={"csrf_token": token}).status_code
        == 404
    )


def test_linking_an_unknown_call_is_refused(app, client_as, create_funding_line):
    line_id = create_funding_line()
    client = client_as("staff")
    url = f"/gestion/budget/lignes/{line_id}"
    token = csrf(client, url)
    response = client.post(f"{url}/appels", data={"csrf_token": token, "call_id": "999"})
    assert response.status_code == 302
    assert "Cet appel n&#39;existe pas." in client.get(url).get_data(as_text=True)


# --- commitments -------------------------------------------------------------------------------


def test_create_a_plie_commitment_with_its_computed_amount(app, client_as, create_funding_line):
    from grants.funding.models import Commitment

    line_id = create_funding_line(
        label="PLIE des Graves", rubric="clauses d'insertion (PLIE)", votes={2016: "11500"}
    )
    client = client_as("staff")
    url = f"/gestion/budget/lignes/{line_id}/engagements/nouveau/plie"
    page = client.get(url).get_data(as_text=True)
    assert input_value(page, "fixed_amount") == "5 000,00"
    assert input_value(page, "hourly_rate") == "1,00"
    assert input_value(page, "year") == "2016"
    assert input_value(page, "beneficiary") == "PLIE des Graves"
    token = csrf(client, url)
    data = {
        "csrf_token": token,
        "year": "2016",
        "beneficiary": "PLIE des Graves",
        "organisation_id": "",
        "fixed_amount": "5 000",
        "hourly_rate": "1",
        "hours": "1 250,5",
        "note": "Heures déclarées par le PLIE",
    }
    response = client.post(url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    commitment = _db(app, lambda s: s.scalar(sa.select(Commitment)))
    assert (commitment.kind.value, str(commitment.hours), str(commitment.fixed_amount)) == (
        "plie",
        "1250.50",
        "5000.00",
    )
    page = plain(client.get(f"/gestion/budget/lignes/{line_id}").get_data(as_text=True))
    assert "Engagement 2016 « PLIE des Graves » enregistré : 6 250,50 €." in page
    assert "5 000,00 € + 1,00 € × 1 250,5 h" in page
    report = plain(client.get("/gestion/budget?annee=2016").get_data(as_text=True))
    assert "5 249,50 €" in report  # remaining
    (changes,) = _audit(app, "commitment.create")
    assert changes["hours"] == [None, "1250.50"]


def test_commitment_errors_are_french_and_show_the_amount_preview(client_as, create_funding_line):
    line_id = create_funding_line()
    client = client_as("staff")
    url = f"/gestion/budget/lignes/{line_id}/engagements/nouveau/plie"
    token = csrf(client, url)
    response = client.post(
        url,
        data={
            "csrf_token": token,
            "year": "16",
            "beneficiary": "",
            "organisation_id": "",
            "fixed_amount": "-5",
            "hourly_rate": "1",
            "hours": "beaucoup",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "year") == ["Indiquez une année sur quatre chiffres (ex. 2016)."]
    assert field_errors(html, "beneficiary") == ["Indiquez le bénéficiaire."]
    assert field_errors(html, "fixed_amount") == ["Le montant ne peut pas être négatif."]
    assert field_errors(html, "hours")[0].startswith("Nombre d'heures invalide")
    assert input_value(html, "hours") == "beaucoup"
    assert "à calculer (corrigez les montants)" in html


def test_convention_edit_and_delete(app, client_as, create_funding_line, create_organisation):
    from grants.funding.models import Commitment

    org_id = create_organisation(name="CRESS Nouvelle-Aquitaine")
    line_id = create_funding_line(label="CRESS", rubric="têtes de réseau", votes={2016: "20000"})
    client = client_as("staff")
    url = f"/gestion/budget/lignes/{line_id}/engagements/nouveau/convention"
    page = client.get(url).get_data(as_text=True)
    assert 'id="hours"' not in page  # a convention has no hours
    token = csrf(client, url)
    response = client.post(
        url,
        data={
            "csrf_token": token,
            "year": "2016",
            "beneficiary": "CRESS",
            "organisation_id": str(org_id),
            "fixed_amount": "20 000",
            "hours": "99",  # ignored for a convention
        },
    )
    assert response.status_code == 302
    commitment = _db(app, lambda s: s.scalar(sa.select(Commitment)))
    assert commitment.organisation_id == org_id and commitment.hours is None
    page = plain(client.get(f"/gestion/budget/lignes/{line_id}").get_data(as_text=True))
    assert "CRESS Nouvelle-Aquitaine" in page and "montant fixe" in page

    edit = f"/gestion/budget/engagements/{commitment.id}/modifier"
    assert input_value(client.get(edit).get_data(as_text=True), "fixed_amount") == "20 000,00"
    response = client.post(
        edit,
        data={
            "csrf_token": token,
            "year": "2016",
            "beneficiary": "CRESS",
            "organisation_id": str(org_id),
            "fixed_amount": "18 000",
        },
    )
    assert response.status_code == 302
    assert _audit(app, "commitment.update") == [{"fixed_amount": ["20000.00", "18000.00"]}]
    report = plain(client.get("/gestion/budget?annee=2016").get_data(as_text=True))
    assert "2 000,00 €" in report

    response = client.post(
        f"/gestion/budget/engagements/{commitment.id}/supprimer", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert _db(app, lambda s: s.scalar(sa.select(sa.func.count()).select_from(Commitment))) == 0
    assert len(_audit(app, "commitment.delete")) == 1


def test_plie_hours_entered_later_raise_the_amount(
    app, client_as, create_funding_line, create_commitment
):
    line_id = create_funding_line(label="PLIE de Bordeaux", votes={2016: "20000"})
    commitment_id = create_commitment(
        line_id, 2016, kind="plie", fixed_amount="5000", hourly_rate="1", beneficiary="PLIE"
    )
    client = client_as("staff")
    edit = f"/gestion/budget/engagements/{commitment_id}/modifier"
    page = plain(client.get(edit).get_data(as_text=True))
    assert "5 000,00 €" in page  # computed amount with no hours yet
    token = csrf(client, edit)
    response = client.post(
        edit,
        data={
            "csrf_token": token,
            "year": "2016",
            "beneficiary": "PLIE",
            "fixed_amount": "5000",
            "hourly_rate": "1",
            "hours": "12000",
        },
    )
    assert response.status_code == 302
    page = plain(client.get(f"/gestion/budget/lignes/{line_id}").get_data(as_text=True))
    assert "Engagement modifié : 17 000,00 €." in page
    assert "3 000,00 €" in page  # remaining 2016
