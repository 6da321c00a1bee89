"""Staff decide from the ranking, in headless Chromium against a live server."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.accounts import DEFAULT_PASSWORD
from tests.fixtures.services import console_errors, csp_violations

pytestmark = pytest.mark.browser


def _reference(app, application_id: int) -> str:
    from grants.applications.models import Application
    from grants.extensions import db

    with app.app_context():
        reference = db.session.get(Application, application_id).reference
        db.session.remove()
    return reference


def test_staff_accept_a_file_from_the_ranking(
    app, live_server, browser_page, browser_console, committee
):
    from playwright.sync_api import expect

    page = browser_page
    laureate = committee.file(org_name="La Recyclerie du Lac", title="Recyclerie solidaire")
    committee.file(org_name="Atelier Vélo", reviews=((2, 2, 2, 2, 2), (2, 2, 2, 2, 2)))
    reference = _reference(app, laureate.id)

    page.goto(f"{live_server}/connexion")
    page.fill("[name=email]", committee.staff_email)
    page.fill("[name=password]", DEFAULT_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()

    page.goto(f"{live_server}/gestion/appels")
    page.get_by_role("link", name=re.compile("Classement et décisions")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Classement de l'appel")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("La Recyclerie du Lac")  # 70/100 before 40/100
    expect(rows.first).to_contain_text("70,00")
    expect(rows.first).to_contain_text("2/2 avis")

    page.get_by_role("link", name=f"Décider pour {reference}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    page.get_by_role("radio", name="Retenir le dossier (avec le montant attribué)").check()
    page.get_by_role("textbox", name=re.compile("^Montant attribué")).fill("25 000")
    expect(page.get_by_label("Séance du comité")).to_have_value(str(committee.session_id))
    page.get_by_role("button", name="Enregistrer la décision").click()
    page.wait_for_load_state()
    expect(page.locator(".flashes")).to_contain_text("est retenu (25")

    page.get_by_role("link", name="← Classement de l'appel").click()
    first = page.locator("tbody tr").first
    expect(first).to_contain_text("Retenu")
    expect(first).to_contain_text("25 000,00")
    expect(page.get_by_text("Déjà attribué (dossiers retenus)")).to_be_visible()

    assert csp_violations(browser_console) == []
    assert console_errors(browser_console) == []
