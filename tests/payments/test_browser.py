"""From the convention's signature to the last payment, in headless Chromium against a
live server."""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.fixtures.accounts import DEFAULT_PASSWORD
from tests.fixtures.applications import PDF_BYTES
from tests.fixtures.services import console_errors, csp_violations

pytestmark = pytest.mark.browser


def test_staff_sign_the_convention_and_pay_every_tranche(
    app, live_server, browser_page, browser_console, payment_world, create_award, tmp_path
):
    from playwright.sync_api import expect

    _call_id, application_id = payment_world.new_call(release_on_report=False)
    award_id = create_award(application_id, "25000", years={2016: "15000", 2017: "10000"})
    signed_copy = tmp_path / "convention signée.pdf"
    signed_copy.write_bytes(PDF_BYTES)

    page = browser_page
    page.goto(f"{live_server}/connexion")
    page.fill("[name=email]", "agent@metropole.example")
    page.fill("[name=password]", DEFAULT_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()

    page.goto(f"{live_server}/gestion/aides")
    page.get_by_role("link", name=re.compile(r"^AAP-")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("La Recyclerie du Quai")
    page.get_by_role("button", name="Générer la convention").click()
    expect(page.locator(".flashes")).to_contain_text("est générée et envoyée")

    page.get_by_role("link", name="Enregistrer la signature").click()
    page.get_by_label("Date de signature").fill(date.today().isoformat())
    page.get_by_label("Copie signée (PDF)").set_input_files(str(signed_copy))
    page.get_by_role("button", name="Enregistrer la signature").click()
    expect(page.locator(".flashes")).to_contain_text("La signature est enregistrée")
    expect(page.get_by_text("Convention signée").first).to_be_visible()

    for year, amount in ((2016, "15000"), (2017, "10000")):
        page.get_by_role("link", name=f"Demander un versement sur la tranche {year}").click()
        expect(page.get_by_label(re.compile("Montant du versement"))).to_have_value(amount)
        page.get_by_role("button", name="Demander le versement").click()
        expect(page.locator(".flashes")).to_contain_text(f"demandé sur la tranche {year}")
        page.get_by_role("button", name=re.compile("^Valider")).first.click()
        expect(page.locator(".flashes")).to_contain_text("Le versement est validé")
        page.get_by_role("link", name=re.compile("^Enregistrer le paiement")).first.click()
        page.get_by_label("Date du paiement").fill(f"{year}-05-02")
        page.get_by_label("Référence du mandat de paiement").fill(f"M-{year}-0042")
        page.get_by_role("button", name="Enregistrer le paiement").click()
        expect(page.locator(".flashes")).to_contain_text("Le paiement est enregistré")

    expect(page.get_by_text("Soldée")).to_be_visible()
    expect(page.get_by_text("Payé le 02/05/2017, mandat M-2017-0042")).to_be_visible()
    assert award_id
    assert csp_violations(browser_console) == []
    assert console_errors(browser_console) == []
