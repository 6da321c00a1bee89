"""Helpers of the call tests: a logged-in staff member, a valid form, application rows."""

from __future__ import annotations

import re
from html import unescape

import pytest

STAFF_EMAIL = "agent@bordeaux-metropole.fr"


@pytest.fixture
def staff_client(client, create_user, login):
    """The test client, logged in as a staff member."""
    create_user(email=STAFF_EMAIL, roles=["staff"], full_name="Agent ESS")
    login(client, STAFF_EMAIL)
    return client


@pytest.fixture
def applicant_client(client, create_user, login):
    create_user(email="porteur@example.org")
    login(client, "porteur@example.org")
    return client


def call_form(csrf: str, **overrides) -> dict:
    """The staff form filled in like a real « Appel à projets ESS 2016 »."""
    data = {
        "csrf_token": csrf,
        "action": "save",
        "kind": "project_call",
        "title": "Appel à projets ESS 2016",
        "reference_prefix": "AAP-2016",
        "summary": "Soutenir 5 à 6 projets de l'ESS par an, sur trois ans.",
        "description": "Un appel pour les projets **innovants**.",
        "rules": "## Article 1\n\nLes dossiers sont déposés en ligne.",
        "opens_at": "2030-03-01T09:00",
        "closes_at": "2030-04-30T12:00",
        "years-0-year": "2016",
        "years-0-envelope": "60 000,00",
        "years-0-weight": "",
        "years-1-year": "2017",
        "years-1-envelope": "55000",
        "years-1-weight": "",
        "years-2-year": "2018",
        "years-2-envelope": "50 000",
        "years-2-weight": "",
        "years-3-year": "",
        "years-3-envelope": "",
        "years-3-weight": "",
        "eligible_legal_forms": ["association", "scop", "scic"],
        "sectors": "Économie circulaire\nÉconomie de proximité",
        "ceiling": "40 000",
        "max_expense_share": "",
        "reviews_required": "2",
        "advance_share": "100",
        "payment_years": "",
        "release_on_report": "y",
        "report_due_month": "6",
        "documents-0-id": "",
        "documents-0-label": "Statuts",
        "documents-0-mandatory": "y",
        "documents-0-accepted_types": ["pdf", "odt"],
        "documents-1-id": "",
        "documents-1-label": "",
        "documents-1-accepted_types": ["pdf"],
        "criteria-0-id": "",
        "criteria-0-label": "Innovation sociale",
        "criteria-0-description": "",
        "criteria-0-weight": "30",
        "criteria-0-scale_max": "5",
        "criteria-1-id": "",
        "criteria-1-label": "Création d'emplois",
        "criteria-1-description": "Emplois créés et maintenus",
        "criteria-1-weight": "25",
        "criteria-1-scale_max": "5",
        "criteria-2-id": "",
        "criteria-2-label": "",
        "criteria-2-description": "",
        "criteria-2-weight": "",
        "criteria-2-scale_max": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def field_errors(html: str, field_id: str) -> list[str]:
    """The messages shown next to the field ``field_id`` (the ``field`` macro's list)."""
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


@pytest.fixture
def add_application(app):
    """``add_application(call_id, org_id, status="draft", **fields)`` → id (a row, directly)."""
    counter = {"n": 0}

    def _add(call_id: int, org_id: int, status: str = "draft", **fields):
        from grants.applications.models import Application, ApplicationStatus
        from grants.calls.models import Call
        from grants.core.db import utcnow
        from grants.extensions import db

        counter["n"] += 1
        status = ApplicationStatus(status)
        with app.app_context():
            call = db.session.get(Call, call_id)
            values = {"title": f"Projet {counter['n']}"}
            if status != ApplicationStatus.draft:
                values.update(
                    reference=f"{call.reference_prefix}-{counter['n']:04d}",
                    sequence=counter["n"],
                    submitted_at=utcnow(),
                )
            if status == ApplicationStatus.withdrawn:
                values["withdrawn_at"] = utcnow()
            if status in (ApplicationStatus.accepted, ApplicationStatus.rejected):
                values["decided_at"] = utcnow()
            values.update(fields)
            application = Application(
                call_id=call_id, organisation_id=org_id, status=status, **values
            )
            db.session.add(application)
            db.session.commit()
            app_id = application.id
            db.session.remove()
        return app_id

    return _add


def plain(html: str) -> str:
    """The page's text as a reader sees it: entities decoded, the narrow no-break spaces
    of French amounts as plain spaces. Not for checking what markup reached the page."""
    return unescape(html).replace("\u202f", " ").replace("\xa0", " ")
