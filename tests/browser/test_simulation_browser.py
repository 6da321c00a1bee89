"""The what-if simulation in headless Chromium against a live server: staff change 2016's
envelope to the seeds' 30,500 EUR fallback and read the overflow and both alternatives
beside the stored table (no script, no CSP violation)."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.accounts import DEFAULT_PASSWORD
from tests.fixtures.services import console_errors, csp_violations

pytestmark = pytest.mark.browser


def test_staff_simulate_the_seeds_fallback_envelope(
    app,
    live_server,
    browser_page,
    browser_console,
    laureates_call,
    schedule_run,
    run_schedule_task,
):
    from playwright.sync_api import expect

    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    page = browser_page

    page.goto(f"{live_server}/connexion")
    page.fill("[name=email]", call.staff_email)
    page.fill("[name=password]", DEFAULT_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()

    page.goto(f"{live_server}/gestion/appels/{call.call_id}/echeanciers")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Échéanciers de l'appel")
    expect(page.get_by_text("Terminé : échéanciers enregistrés")).to_be_visible()
    page.get_by_role("link", name="Simuler d'autres enveloppes").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Simulation des échéanciers")

    envelope = page.get_by_label("Enveloppe 2016 (€)")
    expect(envelope).to_have_value("60000")
    envelope.fill("30500")
    page.get_by_role("button", name="Simuler").click()
    page.wait_for_load_state()

    expect(page.get_by_role("heading", name="Tableau simulé")).to_be_visible()
    alert = page.locator(".notice[role=alert]")
    expect(alert).to_contain_text("Dépassement des enveloppes")
    expect(alert).to_contain_text("2016 : + 29 500,00")
    expect(
        page.get_by_role("heading", name="Alternative : réduction proportionnelle")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Alternative : financement par rang")).to_be_visible()
    by_rank = page.locator("table", has=page.locator("caption", has_text="financement par rang"))
    expect(by_rank.get_by_text("Non financé").first).to_be_visible()
    # Beside the stored table: 2016 stored 60,000 / simulated 30,500 of envelope.
    compared = page.locator("table", has=page.locator("caption", has_text="montant simulé"))
    envelope_row = compared.locator("tfoot tr", has_text="Enveloppe")
    expect(envelope_row.locator("td").nth(0)).to_have_text("60 000,00 €")
    expect(envelope_row.locator("td").nth(1)).to_have_text("30 500,00 €")
    # The typed value is kept, and nothing was saved: the call still has 60,000 in 2016.
    expect(page.get_by_label("Enveloppe 2016 (€)")).to_have_value("30500")
    page.goto(f"{live_server}/gestion/appels/{call.call_id}/simulation")
    expect(page.get_by_label("Enveloppe 2016 (€)")).to_have_value("60000")

    assert csp_violations(browser_console) == []
    assert console_errors(browser_console) == []
    assert re.search(r"/simulation$", page.url)
