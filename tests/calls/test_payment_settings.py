"""The call's payment conditions and comment sharing: staff form, audit and JSON API."""

from __future__ import annotations

import re
from decimal import Decimal

import sqlalchemy as sa

from tests.calls.conftest import call_form, field_errors, input_value, plain

NEW = "/gestion/appels/nouveau"
SETTINGS = (
    "share_review_comments",
    "payment_years",
    "advance_share",
    "release_on_report",
    "report_due_month",
)


def _settings(app) -> list[dict]:
    from grants.calls.models import Call
    from grants.extensions import db

    with app.app_context():
        calls = db.session.scalars(sa.select(Call).order_by(Call.id)).all()
        result = [{"id": c.id, **{name: getattr(c, name) for name in SETTINGS}} for c in calls]
        db.session.remove()
    return result


def _last_audit(app):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    with app.app_context():
        entry = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        result = (entry.action, entry.changes)
        db.session.remove()
    return result


def _selected(page: str, name: str) -> str | None:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.S)
    option = re.search(r"<option selected[^>]*>([^<]*)</option>", select.group(1))
    return option.group(1) if option else None


def _checked(page: str, name: str) -> bool:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
    return " checked" in tag


def test_new_calls_keep_the_defaults(app, staff_client, get_csrf):
    page = staff_client.get(NEW).get_data(as_text=True)
    assert "Conditions de versement et d'évaluation" in plain(page)
    assert input_value(page, "advance_share") == "100"
    assert input_value(page, "payment_years") == ""
    assert _selected(page, "report_due_month") == "juin"
    assert _checked(page, "release_on_report")
    assert not _checked(page, "share_review_comments")


def test_staff_set_the_five_settings_they_are_stored_shown_and_audited(app, staff_client, get_csrf):
    csrf = get_csrf(staff_client, NEW)
    data = call_form(
        csrf,
        kind="investment_aid",
        max_expense_share="50",
        advance_share="30",
        payment_years="3",
        report_due_month="9",
        share_review_comments="y",
    )
    del data["release_on_report"]  # unchecked
    response = staff_client.post(NEW, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    [stored] = _settings(app)
    assert stored["advance_share"] == Decimal("0.3")
    assert stored["payment_years"] == 3
    assert stored["report_due_month"] == 9
    assert stored["share_review_comments"] is True
    assert stored["release_on_report"] is False
    action, changes = _last_audit(app)
    assert action == "call.create"
    assert changes["advance_share"][1] == "0.3000"
    assert changes["payment_years"][1] == 3

    edit_url = f"/gestion/appels/{stored['id']}/modifier"
    page = staff_client.get(edit_url).get_data(as_text=True)
    assert input_value(page, "advance_share") == "30"
    assert input_value(page, "payment_years") == "3"
    assert _selected(page, "report_due_month") == "septembre"
    assert _checked(page, "share_review_comments")
    assert not _checked(page, "release_on_report")

    csrf = get_csrf(staff_client, edit_url)
    data = call_form(
        csrf,
        kind="investment_aid",
        max_expense_share="50",
        advance_share="0",
        payment_years="3",
        report_due_month="9",
        share_review_comments="y",
    )
    response = staff_client.post(edit_url, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    [stored] = _settings(app)
    assert stored["advance_share"] == Decimal("0")
    assert stored["release_on_report"] is True
    action, changes = _last_audit(app)
    assert action == "call.update"
    assert set(changes) == {"advance_share", "release_on_report"}
    assert changes["advance_share"] == ["0.3000", "0.0000"]
    assert changes["release_on_report"] == [False, True]


def test_invalid_values_show_french_messages_and_store_nothing(app, staff_client, get_csrf):
    csrf = get_csrf(staff_client, NEW)
    response = staff_client.post(
        NEW, data=call_form(csrf, advance_share="150", report_due_month="13", payment_years="2")
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_errors(page, "advance_share") == ["La part doit être comprise entre 0 et 100 %."]
    assert field_errors(page, "report_due_month") == ["Choisissez une valeur dans la liste."]
    assert field_errors(page, "payment_years") == [
        "Réservé aux aides à l'investissement : laissez ce champ vide pour un appel à projets."
    ]
    assert _settings(app) == []

    response = staff_client.post(
        NEW, data=call_form(csrf, kind="investment_aid", max_expense_share="50", payment_years="11")
    )
    page = response.get_data(as_text=True)
    assert field_errors(page, "payment_years") == ["Indiquez un nombre inférieur ou égal à 10."]
    assert _settings(app) == []


def test_the_api_patch_sets_the_advance_and_comment_sharing(app, client, create_user, create_call):
    from grants.accounts.models import User
    from grants.accounts.operations import create_api_token
    from grants.extensions import db

    user_id = create_user(email="agent@example.org", roles=["staff"])
    with app.app_context():
        _, token = create_api_token(db.session.get(User, user_id), "tests")
        db.session.commit()
        db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}
    call_id = create_call(status="draft")

    shown = client.get(f"/api/v1/calls/{call_id}", headers=headers).json
    assert shown["advance_share"] == "1.0000"
    assert shown["release_on_report"] is True
    assert shown["report_due_month"] == 6

    response = client.patch(
        f"/api/v1/calls/{call_id}",
        json={"advance_share": "0.25", "share_review_comments": True},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["advance_share"] == "0.2500"
    assert response.json["share_review_comments"] is True
    [stored] = _settings(app)
    assert stored["advance_share"] == Decimal("0.25")
    assert stored["share_review_comments"] is True
    action, changes = _last_audit(app)
    assert action == "call.update"
    assert set(changes) == {"advance_share", "share_review_comments"}

    response = client.patch(
        f"/api/v1/calls/{call_id}",
        json={"advance_share": "1.5", "report_due_month": 13, "share_review_comments": "oui"},
        headers=headers,
    )
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert fields["advance_share"] == ["La part doit être comprise entre 0 et 100 %."]
    assert fields["report_due_month"] == ["Choisissez un mois entre janvier et décembre."]
    assert fields["share_review_comments"] == ["Un booléen (true ou false) est attendu."]
    assert _settings(app)[0]["advance_share"] == Decimal("0.25")
