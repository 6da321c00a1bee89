"""The exports page in headless Chromium: ask for an export, watch it finish without
reloading by hand (static/js/exports.js polls the status), download it; no CSP violation."""

from __future__ import annotations

import pytest

from tests.fixtures.accounts import DEFAULT_PASSWORD
from tests.fixtures.services import console_errors, csp_violations

pytestmark = pytest.mark.browser


def test_the_page_follows_a_job_until_its_file_is_ready(
    app, live_server, browser_page, browser_console, create_user, funded, run_job, monkeypatch
):
    from playwright.sync_api import expect

    from grants.exports.tasks import run_export

    sent: list[int] = []
    monkeypatch.setattr(run_export, "apply_async", lambda args=(), **kw: sent.append(args[0]))
    funded(payments=[(2016, "12000", "paid")])
    create_user(email="agent@bordeaux-metropole.fr", roles=["staff"])
    page = browser_page
    page.goto(f"{live_server}/connexion")
    page.fill("[name=email]", "agent@bordeaux-metropole.fr")
    page.fill("[name=password]", DEFAULT_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()

    page.goto(f"{live_server}/gestion/exports")
    page.get_by_label("Contenu").select_option("payments")
    page.get_by_label("Format").select_option("csv")
    page.get_by_role("button", name="Demander l'export").click()
    page.wait_for_load_state()
    expect(page.locator(".flashes")).to_contain_text("est demandé")
    jobs = page.get_by_role("region", name="Exports demandés")
    expect(jobs).to_contain_text("En attente")

    assert len(sent) == 1 and run_job(sent[0]) == "done"  # the worker's part
    link = jobs.get_by_role("link", name="Télécharger")
    expect(link).to_be_visible(timeout=15_000)  # the page reloaded by itself
    expect(jobs).to_contain_text("Prêt")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.startswith("paiements-")

    assert csp_violations(browser_console) == []
    assert console_errors(browser_console) == []
