"""A reviewer scores a file and submits, in headless Chromium against a live server."""

from __future__ import annotations

import re

import pytest

from tests.browser.journey_helpers import unexpected_console_errors
from tests.fixtures.accounts import DEFAULT_PASSWORD
from tests.fixtures.services import console_errors, csp_violations

pytestmark = pytest.mark.browser

EMAIL = "alice@evaluateurs.example"


def _reference(app, application_id: int) -> str:
    from grants.applications.models import Application
    from grants.extensions import db

    with app.app_context():
        reference = db.session.get(Application, application_id).reference
        db.session.remove()
    return reference


def test_reviewer_scores_a_file_and_submits(
    app,
    live_server,
    browser_page,
    browser_console,
    create_reviewer,
    create_user,
    create_organisation,
    create_call,
    create_application,
    create_review,
):
    from playwright.sync_api import expect

    reviewer = create_reviewer(email=EMAIL, full_name="Alice Évaluatrice")
    member = create_user(email="porteur@recyclerie.example")
    org = create_organisation(member_ids=[member], name="La Recyclerie du Lac")
    call = create_call(title="Appel à projets ESS 2016", reference_prefix="AAP-2016")
    file_id = create_application(call, org, status="under_review", complete=True)
    create_review(file_id, reviewer)
    reference = _reference(app, file_id)

    page = browser_page
    page.goto(f"{live_server}/connexion")
    page.fill("[name=email]", EMAIL)
    page.fill("[name=password]", DEFAULT_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()

    page.get_by_role("link", name="Mes évaluations").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes évaluations")
    row = page.locator("tbody tr").filter(has_text=reference)
    expect(row).to_contain_text("La Recyclerie du Lac")
    expect(row).to_contain_text("À faire")
    row.get_by_role("link", name=reference).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.get_by_role("heading", name="Projet", exact=True)).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Statuts de la structure.pdf").click()
    assert download.value.suggested_filename == "Statuts de la structure.pdf"

    # Score four criteria out of five and try to submit: the missing ones are flagged.
    for label, score in [
        ("Innovation sociale", "4 / 5"),
        ("Création d'emplois", "3 / 5"),
        ("Ancrage territorial", "5 / 5"),
        ("Viabilité économique", "2 / 5"),
    ]:
        page.get_by_label(f"Note : {label}").select_option(label=score)
    page.get_by_label("Commentaire : Innovation sociale").fill("Un modèle original de réemploi.")
    page.get_by_role("button", name="Rendre l'évaluation").click()
    page.wait_for_load_state()
    expect(page.locator(".error-summary")).to_be_visible()
    cooperation = page.locator("div.field").filter(has=page.get_by_label("Note : Coopération"))
    expect(cooperation.locator(".errors")).to_have_text("Notez le critère « Coopération ».")
    expect(page.locator("#opinion-erreurs")).to_have_text(
        "Donnez votre avis global (favorable, réservé ou défavorable)."
    )
    # What was typed is still there (and was saved as a draft).
    expect(page.get_by_label("Note : Innovation sociale")).to_have_value("4")
    expect(page.get_by_label("Commentaire : Innovation sociale")).to_have_value(
        "Un modèle original de réemploi."
    )

    page.get_by_label("Note : Coopération").select_option(label="3 / 5")
    page.get_by_role("radio", name="Favorable", exact=True).check()
    page.get_by_label("Synthèse").fill("Projet solide, ancré dans le quartier.")
    page.get_by_role("button", name="Rendre l'évaluation").click()
    page.wait_for_load_state()

    expect(page.locator(".flashes")).to_contain_text("Votre évaluation est rendue")
    expect(page.get_by_text("Votre évaluation est verrouillée.")).to_be_visible()
    expect(page.get_by_role("button", name="Rendre l'évaluation")).to_have_count(0)
    expect(page.locator("main")).to_contain_text("Projet solide, ancré dans le quartier.")

    page.get_by_role("link", name="← Mes évaluations").click()
    expect(page.locator("tbody tr").filter(has_text=reference)).to_contain_text(re.compile("Rendu"))

    from grants.extensions import db
    from grants.reviews.models import Review, ReviewStatus

    with app.app_context():
        review = db.session.scalars(db.select(Review)).one()
        assert review.status == ReviewStatus.submitted
        assert sorted(s.score for s in review.scores) == [2, 3, 3, 4, 5]
        db.session.remove()

    assert csp_violations(browser_console) == []
    assert unexpected_console_errors(console_errors(browser_console)) == []
