"""Staff pages of calls: create, edit, publish; roles; French messages next to the fields."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.calls.conftest import call_form, field_errors, input_value, plain

NEW = "/gestion/appels/nouveau"


def _call(app, call_id=None):
    from grants.calls.models import Call
    from grants.extensions import db

    with app.app_context():
        query = sa.select(Call)
        if call_id is not None:
            query = query.where(Call.id == call_id)
        call = db.session.scalars(query.order_by(Call.id.desc())).first()
        if call is None:
            return None
        data = {
            "id": call.id,
            "status": call.status.value,
            "title": call.title,
            "opens_at": call.opens_at,
            "closes_at": call.closes_at,
            "years": [(y.year, y.envelope) for y in call.years],
            "profile": call.profile,
            "documents": [(d.id, d.label, d.mandatory, d.accepted_types) for d in call.documents],
            "criteria": [(c.id, c.label, c.weight, c.scale_max) for c in call.criteria],
            "ceiling": call.ceiling,
            "eligible_legal_forms": call.eligible_legal_forms,
            "sectors": call.sectors,
            "published_at": call.published_at,
        }
        db.session.remove()
    return data


def _audit_actions(app):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        result = [(r.action, r.changes) for r in rows]
        db.session.remove()
    return result


def test_staff_creates_a_call_with_three_years_sees_it_and_publishes_it(
    app, staff_client, get_csrf
):
    csrf = get_csrf(staff_client, NEW)
    response = staff_client.post(NEW, data=call_form(csrf))
    assert response.status_code == 302, response.get_data(as_text=True)
    call = _call(app)
    assert response.headers["Location"].endswith(f"/gestion/appels/{call['id']}/modifier")
    assert call["status"] == "draft"
    assert call["years"] == [
        (2016, Decimal("60000.00")),
        (2017, Decimal("55000.00")),
        (2018, Decimal("50000.00")),
    ]
    assert call["profile"] is None  # derived from the decreasing envelopes
    assert call["ceiling"] == Decimal("40000.00")
    # Paris 09:00 in March (UTC+1) is 08:00 UTC.
    assert call["opens_at"] == datetime(2030, 3, 1, 8, 0, tzinfo=UTC)
    assert call["closes_at"] == datetime(2030, 4, 30, 10, 0, tzinfo=UTC)  # summer time
    assert [d[1:] for d in call["documents"]] == [("Statuts", True, ["pdf", "odt"])]
    assert [c[1:] for c in call["criteria"]] == [
        ("Innovation sociale", 30, 5),
        ("Création d'emplois", 25, 5),
    ]
    assert call["sectors"] == ["Économie circulaire", "Économie de proximité"]

    listing = plain(staff_client.get("/gestion/appels").get_data(as_text=True))
    assert "Appel à projets ESS 2016" in listing
    assert "165 000,00" in listing
    assert "Brouillon" in listing

    edit_url = f"/gestion/appels/{call['id']}/modifier"
    page = staff_client.get(edit_url).get_data(as_text=True)
    assert input_value(page, "opens_at") == "2030-03-01T09:00"  # shown in Paris time
    assert input_value(page, "years-0-envelope") == "60 000,00"

    csrf = get_csrf(staff_client, edit_url)
    response = staff_client.post(f"/gestion/appels/{call['id']}/publier", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert _call(app)["status"] == "published"
    assert _call(app)["published_at"] is not None
    actions = [a for a, _ in _audit_actions(app)]
    assert actions[-2:] == ["call.create", "call.publish"]
    assert "L'appel est publié." in plain(staff_client.get(edit_url).get_data(as_text=True))

    # Published: anyone sees it, without logging in, amounts the French way.
    visitor = app.test_client()
    listing = plain(visitor.get("/appels").get_data(as_text=True))
    assert "Appel à projets ESS 2016" in listing
    page = plain(visitor.get(f"/appels/{call['id']}").get_data(as_text=True))
    assert "60 000,00 €" in page and "165 000,00 €" in page
    assert "01/03/2030 09:00" in page


def test_publishing_an_incomplete_call_says_what_is_missing(app, staff_client, get_csrf):
    csrf = get_csrf(staff_client, NEW)
    data = call_form(csrf, **{"years-1-envelope": "60000", "years-2-envelope": "60000"})
    for key in [k for k in data if k.startswith("criteria-")]:
        data[key] = ""
    assert staff_client.post(NEW, data=data).status_code == 302
    call_id = _call(app)["id"]
    edit_url = f"/gestion/appels/{call_id}/modifier"
    page = staff_client.get(edit_url).get_data(as_text=True)
    assert "Avant de pouvoir publier" in page
    csrf = get_csrf(staff_client, edit_url)
    response = staff_client.post(
        f"/gestion/appels/{call_id}/publier", data={"csrf_token": csrf}, follow_redirects=True
    )
    page = response.get_data(as_text=True)
    assert "ne peut pas encore être publié" in page
    assert "Ajoutez au moins un critère" in page
    assert "le profil dégressif ne peut pas en être dérivé" in page
    assert _call(app)["status"] == "draft"


def test_a_configured_profile_is_required_when_envelopes_do_not_decrease(
    app, staff_client, get_csrf
):
    csrf = get_csrf(staff_client, NEW)
    same = {"years-1-envelope": "60000", "years-2-envelope": "60000"}
    weights = {"years-0-weight": "0,4", "years-1-weight": "0,33", "years-2-weight": "0,27"}
    assert staff_client.post(NEW, data=call_form(csrf, **same, **weights)).status_code == 302
    call = _call(app)
    assert call["profile"] == ["0.4", "0.33", "0.27"]
    csrf = get_csrf(staff_client, f"/gestion/appels/{call['id']}/modifier")
    staff_client.post(f"/gestion/appels/{call['id']}/publier", data={"csrf_token": csrf})
    assert _call(app)["status"] == "published"


def test_invalid_input_shows_french_messages_next_to_the_fields_and_keeps_the_rest(
    app, staff_client, get_csrf
):
    csrf = get_csrf(staff_client, NEW)
    data = call_form(
        csrf,
        title="",
        reference_prefix="AAP 2016 é",
        opens_at="2030-04-30T12:00",
        closes_at="2030-03-01T09:00",
        ceiling="quarante mille",
        reviews_required="deux",
        eligible_legal_forms=None,
        **{"years-1-envelope": "55.000,00", "criteria-1-weight": "0"},
    )
    response = staff_client.post(NEW, data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Le formulaire contient des erreurs" in page
    assert field_errors(page, "title") == ["Indiquez le titre de l'appel."]
    assert "lettres sans accent" in field_errors(page, "reference_prefix")[0]
    assert field_errors(page, "closes_at") == ["La clôture doit être postérieure à l'ouverture."]
    assert "Montant invalide" in field_errors(page, "ceiling")[0]
    assert field_errors(page, "reviews_required") == [
        "Indiquez un nombre entier, sans virgule (par exemple 3)."
    ]
    assert "Montant invalide" in field_errors(page, "years-1-envelope")[0]
    assert field_errors(page, "criteria-1-weight") == ["Indiquez un nombre supérieur ou égal à 1."]
    assert field_errors(page, "eligible_legal_forms") == [
        "Cochez au moins une forme juridique éligible."
    ]
    # What was typed is still there, the valid values and the wrong ones.
    assert input_value(page, "years-0-envelope") == "60 000,00"
    assert input_value(page, "years-1-envelope") == "55.000,00"
    assert input_value(page, "documents-0-label") == "Statuts"
    assert input_value(page, "criteria-0-label") == "Innovation sociale"
    assert input_value(page, "ceiling") == "quarante mille"
    assert input_value(page, "opens_at") == "2030-04-30T12:00"
    assert _call(app) is None


def test_list_level_problems_are_shown_above_the_rows(app, staff_client, get_csrf):
    csrf = get_csrf(staff_client, NEW)
    data = call_form(
        csrf,
        **{
            "years-2-year": "2019",
            "years-0-weight": "0,5",
            "criteria-1-label": "innovation sociale",
        },
    )
    page = staff_client.post(NEW, data=data).get_data(as_text=True)
    assert "Les années budgétaires doivent se suivre" in page
    assert "Le critère « innovation sociale » figure deux fois." in page
    assert _call(app) is None


def test_the_reference_prefix_is_unique(app, staff_client, get_csrf, create_call):
    create_call(reference_prefix="AAP-2016")
    csrf = get_csrf(staff_client, NEW)
    page = staff_client.post(NEW, data=call_form(csrf)).get_data(as_text=True)
    assert field_errors(page, "reference_prefix") == [
        "Ce préfixe est déjà utilisé par un autre appel."
    ]


def test_add_rows_keeps_what_was_typed_and_saves_nothing(app, staff_client, get_csrf):
    csrf = get_csrf(staff_client, NEW)
    response = staff_client.post(NEW, data=call_form(csrf, action="add_years"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert input_value(page, "years-2-envelope") == "50 000"
    assert input_value(page, "years-6-year") == ""  # 4 posted rows + 3 new ones
    assert input_value(page, "years-7-year") is None
    assert _call(app) is None
    response = staff_client.post(NEW, data=call_form(csrf, action="add_criteria"))
    assert input_value(response.get_data(as_text=True), "criteria-5-label") == ""


def test_the_preview_shows_sanitised_html(app, staff_client, get_csrf):
    csrf = get_csrf(staff_client, NEW)
    rules_text = "**Article 1** <script>alert('x')</script><img src=x onerror=alert(1)>"
    response = staff_client.post(NEW, data=call_form(csrf, action="preview", rules=rules_text))
    page = response.get_data(as_text=True)
    assert "Aperçu (non enregistré)" in page
    assert "<strong>Article 1</strong>" in page
    assert "<script>alert" not in page
    assert "onerror" not in page.split("Aperçu (non enregistré)")[1]
    assert _call(app) is None


def test_edit_updates_rows_in_place_and_records_the_change(
    app, staff_client, get_csrf, create_call
):
    call_id = create_call(status="draft")
    before = _call(app, call_id)
    edit_url = f"/gestion/appels/{call_id}/modifier"
    page = staff_client.get(edit_url).get_data(as_text=True)
    csrf = get_csrf(staff_client, edit_url)
    # Re-post the page as it is, changing the first document's label and a criterion weight.
    data = {"csrf_token": csrf, "action": "save"}
    data.update(_form_fields(page))
    data["documents-0-label"] = "Statuts à jour"
    data["criteria-0-weight"] = "35"
    response = staff_client.post(edit_url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    after = _call(app, call_id)
    assert after["documents"][0][0] == before["documents"][0][0]  # same row, same id
    assert after["documents"][0][1] == "Statuts à jour"
    assert after["criteria"][0][:3] == (before["criteria"][0][0], "Innovation sociale", 35)
    assert after["opens_at"] == before["opens_at"]  # seconds kept when the minute is unchanged
    action, changes = _audit_actions(app)[-1]
    assert action == "call.update"
    assert set(changes) == {"documents", "criteria"}


def _form_fields(page: str) -> dict:
    """What a browser would send back for the form as rendered."""
    import re
    from html import unescape

    data: dict = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or name.group(1) == "csrf_token":
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if kind and kind.group(1) == "checkbox":
            if " checked" in tag:
                data.setdefault(name.group(1), []).append(unescape(value.group(1)))
            continue
        data[name.group(1)] = unescape(value.group(1)) if value else ""
    for name, text in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        data[name] = unescape(text).removeprefix("\n")
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        selected = re.search(r'<option selected value="([^"]*)"', options)
        data[name] = selected.group(1) if selected else ""
    return data


@pytest.mark.parametrize(
    "url",
    ["/gestion/appels", NEW, "/gestion/appels/{id}/modifier"],
)
def test_an_applicant_gets_403_on_staff_pages(applicant_client, create_call, url):
    call_id = create_call()
    assert applicant_client.get(url.format(id=call_id)).status_code == 403


def test_an_applicant_cannot_post_staff_forms(app, applicant_client, create_call, get_csrf):
    call_id = create_call(status="draft")
    csrf = get_csrf(applicant_client, "/structures/")
    assert applicant_client.post(NEW, data=call_form(csrf)).status_code == 403
    response = applicant_client.post(
        f"/gestion/appels/{call_id}/publier", data={"csrf_token": csrf}
    )
    assert response.status_code == 403
    assert _call(app, call_id)["status"] == "draft"


def test_anonymous_visitors_are_sent_to_login(client, create_call):
    call_id = create_call()
    for url in ["/gestion/appels", NEW, f"/gestion/appels/{call_id}/modifier"]:
        response = client.get(url)
        assert response.status_code == 302
        assert "/connexion" in response.headers["Location"]


def test_staff_forms_need_the_csrf_token(app, staff_client, create_call):
    call_id = create_call(status="draft")
    data = call_form("not-a-token")
    assert staff_client.post(NEW, data=data).status_code == 400
    response = staff_client.post(f"/gestion/appels/{call_id}/publier", data={})
    assert response.status_code == 400
    assert _call(app, call_id)["status"] == "draft"


@pytest.mark.parametrize(
    ("status", "segment", "allowed"),
    [
        ("draft", "publier", True),
        ("draft", "clore", False),
        ("published", "clore", True),
        ("published", "archiver", False),
        ("closed", "decider", True),
        ("closed", "publier", False),
        ("decided", "archiver", True),
        ("archived", "publier", False),
    ],
)
def test_the_lifecycle_follows_the_transition_table(
    app, staff_client, get_csrf, create_call, status, segment, allowed
):
    call_id = create_call(status=status)
    csrf = get_csrf(staff_client, "/gestion/appels")
    response = staff_client.post(
        f"/gestion/appels/{call_id}/{segment}", data={"csrf_token": csrf}, follow_redirects=True
    )
    after = _call(app, call_id)["status"]
    if allowed:
        assert after != status
    else:
        assert after == status
        assert "ne peut pas passer" in response.get_data(as_text=True)


def test_a_decided_call_can_no_longer_be_edited(app, staff_client, get_csrf, create_call):
    call_id = create_call(status="decided")
    edit_url = f"/gestion/appels/{call_id}/modifier"
    page = staff_client.get(edit_url).get_data(as_text=True)
    assert "il ne peut plus être modifié" in page
    csrf = get_csrf(staff_client, "/gestion/appels")
    response = staff_client.post(edit_url, data=call_form(csrf, title="Autre titre"))
    assert response.status_code == 422
    assert "il ne peut plus être modifié" in response.get_data(as_text=True)
    assert _call(app, call_id)["title"] != "Autre titre"


def test_the_staff_list_counts_applications_by_status(
    app, staff_client, create_call, create_organisation, add_application
):
    call_id = create_call()
    org = create_organisation()
    add_application(call_id, org, "draft")
    add_application(call_id, org, "draft")
    add_application(call_id, org, "submitted")
    page = staff_client.get("/gestion/appels").get_data(as_text=True)
    assert "Brouillon : 2" in page
    assert "Déposé : 1" in page


def test_investment_aid_needs_its_share_and_a_call_for_projects_refuses_one(
    app, staff_client, get_csrf
):
    csrf = get_csrf(staff_client, NEW)
    page = staff_client.post(NEW, data=call_form(csrf, kind="investment_aid")).get_data(
        as_text=True
    )
    assert field_errors(page, "max_expense_share") == [
        "Indiquez la part maximale des dépenses éligibles (en %)."
    ]
    page = staff_client.post(NEW, data=call_form(csrf, max_expense_share="50")).get_data(
        as_text=True
    )
    assert "Réservé aux aides à l'investissement" in plain(
        " ".join(field_errors(page, "max_expense_share"))
    )
    response = staff_client.post(
        NEW, data=call_form(csrf, kind="investment_aid", max_expense_share="33,33")
    )
    assert response.status_code == 302
    from grants.calls.models import Call
    from grants.extensions import db

    with app.app_context():
        call = db.session.scalars(sa.select(Call)).one()
        assert call.max_expense_share == Decimal("0.3333")
        db.session.remove()


def test_years_typed_out_of_order_keep_their_weights(app, staff_client, get_csrf):
    csrf = get_csrf(staff_client, NEW)
    data = call_form(
        csrf,
        **{
            "years-0-year": "2018",
            "years-0-envelope": "50000",
            "years-0-weight": "0,27",
            "years-1-weight": "0,33",
            "years-2-year": "2016",
            "years-2-envelope": "60000",
            "years-2-weight": "0,4",
        },
    )
    response = staff_client.post(NEW, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    call = _call(app)
    assert [y for y, _ in call["years"]] == [2016, 2017, 2018]
    assert call["profile"] == ["0.4", "0.33", "0.27"]


def test_rows_can_be_removed_and_added(app, staff_client, get_csrf, create_call):
    call_id = create_call(status="draft")
    before = _call(app, call_id)
    edit_url = f"/gestion/appels/{call_id}/modifier"
    page = staff_client.get(edit_url).get_data(as_text=True)
    data = {"csrf_token": get_csrf(staff_client, edit_url), "action": "save"}
    data.update(_form_fields(page))
    data["documents-0-label"] = ""  # removes « Statuts de la structure »
    data["documents-3-label"] = "Budget prévisionnel"  # the empty row shown after the others
    data["documents-3-accepted_types"] = ["xlsx", "ods"]
    response = staff_client.post(edit_url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    after = _call(app, call_id)
    assert [d[1] for d in after["documents"]] == [
        "Derniers comptes approuvés",
        "Relevé d'identité bancaire",
        "Budget prévisionnel",
    ]
    assert after["documents"][0][0] == before["documents"][1][0]
    assert after["documents"][2][3] == ["xlsx", "ods"]
