"""The dashboard and the report pages in headless Chromium: the inline SVG charts and the
report form load without a Content-Security-Policy violation or a console error, and a
member fills and hands in a report with the keyboard-reachable controls."""

from __future__ import annotations

import os
import re

import pytest

from tests.dashboards.test_dashboards import STAFF
from tests.dashboards.test_dashboards import world as _world  # noqa: F401
from tests.fixtures.accounts import DEFAULT_PASSWORD
from tests.fixtures.services import console_errors, csp_violations

pytestmark = pytest.mark.browser

#: set to a folder to keep screenshots of the pages (a visual check, not a test)
SHOTS = os.environ.get("GRANTS_SCREENSHOTS")


def _login(page, live_server, email):
    page.goto(f"{live_server}/connexion")
    page.fill("[name=email]", email)
    page.fill("[name=password]", DEFAULT_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def test_dashboard_charts_load_without_csp_violation(
    live_server,
    browser_page,
    browser_console,
    _world,  # noqa: F811
):
    from playwright.sync_api import expect

    page = browser_page
    _login(page, live_server, STAFF)
    page.goto(f"{live_server}/gestion/tableau-de-bord?annee=2016")
    expect(page.get_by_role("heading", level=1)).to_have_text("Tableau de bord")
    expect(page.get_by_role("img", name="Versements par mois")).to_be_visible()
    expect(page.get_by_role("img", name="Emplois créés par secteur")).to_be_visible()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/dashboard.png", full_page=True)
    page.goto(f"{live_server}/gestion/appels/{_world.call}/tableau-de-bord")
    expect(page.get_by_role("img", name=re.compile("par année$")).first).to_be_visible()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/dashboard-call.png", full_page=True)
    assert csp_violations(browser_console) == []
    assert console_errors(browser_console) == []


def test_a_member_hands_in_a_report(app, live_server, browser_page, browser_console, report_world):
    from playwright.sync_api import expect

    page = browser_page
    _login(page, live_server, "alice@recyclerie.example")
    page.goto(f"{live_server}/rapports")
    page.get_by_role("link", name="Compte rendu 2016").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Compte rendu annuel 2016")
    page.get_by_label("Compte rendu d'activité").fill("Deux ateliers ouverts.")
    page.get_by_label("Montant réalisé, ligne 64 Salaires").fill("15000")
    page.get_by_label("Montant réalisé, ligne 70 Ventes").fill("3000")
    page.get_by_label("Montant réalisé, ligne 74 Subvention demandée").fill("10000")
    page.get_by_label("Emplois créés dans l'année").fill("2")
    page.get_by_label("Emplois maintenus").fill("1")
    page.get_by_label("Personnes accompagnées").fill("30")
    page.get_by_role("button", name="Remettre le compte rendu au service").click()
    page.wait_for_load_state()
    expect(page.locator(".flashes")).to_contain_text("n'est pas remis")
    explanation = page.get_by_label("Explication de l'écart, ligne 70 Ventes")
    expect(explanation).to_have_attribute("aria-invalid", "true")
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/report-gap.png", full_page=True)
    explanation.fill("Boutique fermée trois mois.")
    page.get_by_role("button", name="Remettre le compte rendu au service").click()
    page.wait_for_load_state()
    expect(page.locator(".flashes")).to_contain_text("est remis au service")
    expect(page.get_by_text("Remis", exact=True)).to_be_visible()
    assert csp_violations(browser_console) == []
    # the refused submission answered 422 on purpose
    assert [e for e in console_errors(browser_console) if "422" not in e] == []
