"""The applicant's whole journey in headless Chromium (issue 3, "Tests"): log in, open the
public call, start a file, fill every step through the real forms (with one deliberate
mistake), watch the progress indicator, submit, then download the PDF receipt made by the
REAL worker process (``celery_worker``) — against the live server, with no CSP violation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.journey_helpers import (
    field_box,
    make_pdf,
    pdf_text,
    screenshot,
    section,
    unexpected_console_errors,
)
from tests.fixtures.accounts import DEFAULT_PASSWORD
from tests.fixtures.services import console_errors, csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.integration]

EMAIL = "camille.martin@example.org"
ORG = "Régie de quartier Bastide"
CALL = "Appel à projets ESS 2016"
PROJECT = {
    "Intitulé du projet": "Recyclerie solidaire de la Bastide",
    "Résumé du projet": "Une recyclerie qui collecte, répare et revend des objets du quotidien.",
    "Objectifs du projet": "Réduire les déchets du quartier ; créer des emplois d'insertion.",
    "Public visé": "Demandeurs d'emploi de longue durée du quartier de la Bastide",
}
SECTOR = "Économie circulaire"
COMMUNE = "Bègles"
#: per year: amount asked of the funder (line 74), salaries (64), sales (70), Region (74)
BUDGET = {
    2016: ("10 000", "23 000", "5 000", "8 000"),
    2017: ("9 000", "22 000", "5 000", "8 000"),
    2018: ("8 000", "21 000", "5 000", "8 000"),
}
DOCUMENTS = {
    "Statuts de la structure": "statuts-regie-bastide.pdf",
    "Derniers comptes approuvés": "comptes-2015.pdf",
}
RECEIPT_TIMEOUT = 30.0
MONEY = r"[\s\u00a0\u202f]"


def _money(text: str) -> re.Pattern:
    """``"27 000,00 €"`` whatever the (no-break) spaces of the French format."""
    return re.compile(re.escape(text).replace(r"\ ", MONEY).replace(" ", MONEY))


def _progress(page) -> tuple[int, int]:
    bar = page.get_by_role("progressbar", name="Étapes complètes")
    return int(bar.get_attribute("value")), int(bar.get_attribute("max"))


def _save_and_continue(page) -> None:
    page.get_by_role("button", name="Enregistrer et continuer").click()
    page.wait_for_load_state()


def _login(page, base: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/connexion")
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()
    expect(page.locator("header")).to_contain_text(EMAIL)


def _start_from_the_public_call(page, base: str, call_id: int) -> str:
    """Public call page → « Déposer un dossier » → choose the organisation; the file's URL."""
    from playwright.sync_api import expect

    page.goto(f"{base}/appels/{call_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(CALL)
    expect(section(page, "Pièces à joindre")).to_contain_text("Statuts de la structure")
    page.get_by_role("link", name="Déposer un dossier").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", level=1)).to_contain_text(CALL)
    page.get_by_label(ORG).check()
    page.get_by_role("button", name="Créer le dossier").click()
    page.wait_for_load_state()
    expect(page).to_have_url(re.compile(r"/dossiers/\d+/etapes/structure$"))
    expect(page.locator(".flashes")).to_contain_text(f"Le dossier de « {ORG} » est créé")
    return re.search(r"^(.*/dossiers/\d+)/", page.url).group(1)


def _structure_step(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", level=1)).to_have_text("Structure")
    expect(page.locator("dl.props")).to_contain_text(ORG)
    # A fresh draft: the progress indicator says what is missing.
    done, total = _progress(page)
    assert total == 5 and done < total, (done, total)  # no de minimis step: no economic activity
    progress = page.get_by_role("navigation", name="Étapes du dossier")
    expect(progress.get_by_role("listitem").filter(has_text="Projet")).to_contain_text(
        "À compléter"
    )
    expect(progress).not_to_contain_text("Aides de minimis")
    page.get_by_label("Agréments, habilitations et relations avec l'administration").fill(
        "Agrément ESUS depuis 2014 ; conventionnée atelier et chantier d'insertion."
    )
    _save_and_continue(page)


def _projet_step_with_a_mistake(page, file_url: str) -> None:
    """Fill the project with two mistakes; the errors are next to their fields in French,
    the valid values are kept on the page and saved; then correct them."""
    from playwright.sync_api import expect

    expect(page).to_have_url(f"{file_url}/etapes/projet")
    for label, value in PROJECT.items():
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Secteur prioritaire").select_option(label=SECTOR)
    page.get_by_label(COMMUNE, exact=True).check()
    page.get_by_label("Emplois créés (nombre)").fill("trois")  # mistake 1: not a number
    page.get_by_label("Emplois maintenus (nombre)").fill("2")
    page.get_by_label("Date de début du projet").fill("2016-01-01")
    page.get_by_label("Date de fin du projet").fill("2015-12-31")  # mistake 2: before the start
    _save_and_continue(page)

    # Still on the step, with the French messages next to the fields concerned.
    expect(page).to_have_url(f"{file_url}/etapes/projet")
    expect(page.locator(".error-summary")).to_contain_text("Le formulaire contient des erreurs")
    expect(page.locator(".flashes")).to_contain_text("Les autres informations ont bien été")
    for label, message in (
        ("Date de fin du projet", "La date de fin doit suivre la date de début."),
        ("Emplois créés (nombre)", "Indiquez un nombre entier, sans décimale."),
    ):
        box = field_box(page, label)
        expect(box.locator("ul.errors")).to_have_text(message)
        control = page.get_by_label(label, exact=True)
        expect(control).to_have_attribute("aria-invalid", "true")
        described = control.get_attribute("aria-describedby") or ""
        errors_id = box.locator("ul.errors").get_attribute("id")
        assert errors_id in described.split(), (label, described, errors_id)
    # Only those two fields are in error.
    expect(page.locator("div.field-error")).to_have_count(2)
    screenshot(page, "1-projet-erreurs")

    # The valid values are on the page again…
    for label, value in PROJECT.items():
        expect(page.get_by_label(label, exact=True)).to_have_value(value)
    expect(page.get_by_label("Secteur prioritaire")).to_have_value(SECTOR)
    expect(page.get_by_label(COMMUNE, exact=True)).to_be_checked()
    expect(page.get_by_label("Emplois maintenus (nombre)")).to_have_value("2")
    expect(page.get_by_label("Date de début du projet")).to_have_value("2016-01-01")
    # …and the invalid ones too, to be corrected rather than typed again.
    expect(page.get_by_label("Emplois créés (nombre)")).to_have_value("trois")

    # The valid values were saved: the draft is not lost when the page is left.
    page.goto(f"{file_url}/etapes/projet")
    expect(page.get_by_label("Intitulé du projet")).to_have_value(PROJECT["Intitulé du projet"])
    expect(page.get_by_label(COMMUNE, exact=True)).to_be_checked()
    expect(page.get_by_label("Date de début du projet")).to_have_value("2016-01-01")
    expect(page.get_by_label("Date de fin du projet")).to_have_value("")  # not saved: invalid
    expect(page.locator(".notice")).to_contain_text("indiquez les dates de début et de fin")

    page.get_by_label("Emplois créés (nombre)").fill("3")
    page.get_by_label("Date de fin du projet").fill("2018-12-31")
    _save_and_continue(page)
    expect(page).to_have_url(f"{file_url}/etapes/budget")
    expect(page.locator(".flashes")).to_contain_text("Les informations ont été enregistrées.")


def _budget_step(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", level=1)).to_have_text("Budget")
    for year, (request, salaries, sales, region) in BUDGET.items():
        page.get_by_label(f"Montant demandé pour {year}", exact=True).fill(request)
        rows = [("64", "Salaires et charges", salaries), ("70", "Ventes", sales)]
        rows.append(("74", "Subvention Région Nouvelle-Aquitaine (sollicitée)", region))
        for n, (account, label, amount) in enumerate(rows, start=1):
            where = f"ligne {n} du budget {year}"
            page.get_by_label(f"Compte, {where}", exact=True).select_option(account)
            page.get_by_label(f"Libellé, {where}", exact=True).fill(label)
            page.get_by_label(f"Montant en euros, {where}", exact=True).fill(amount)
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    page.wait_for_load_state()

    expect(page.locator(".flashes")).to_contain_text("Les informations ont été enregistrées.")
    for year, (request, salaries, *_rest) in BUDGET.items():
        totals = page.locator("fieldset").filter(has_text=f"Budget {year}")
        expect(totals.get_by_text("Budget équilibré")).to_be_visible()
        props = totals.locator("dl.props")
        expect(props).to_contain_text(_money(f"{salaries},00 €"))  # charges = products
        expect(props).to_contain_text(_money(f"{request},00 €"))  # asked on line 74
    expect(page.locator("#budget")).to_contain_text(_money("27 000,00 €"))
    screenshot(page, "2-budget")
    page.get_by_role("link", name="Étape suivante →").click()
    page.wait_for_load_state()


def _pieces_step(page, file_url: str) -> None:
    from playwright.sync_api import expect

    expect(page).to_have_url(f"{file_url}/etapes/pieces")
    for label, filename in DOCUMENTS.items():
        box = section(page, label, exact=False)  # its name has the badges too
        expect(box).to_contain_text("Obligatoire")
        page.get_by_label(f"Fichier pour « {label} »", exact=True).set_input_files(
            {
                "name": filename,
                "mimeType": "application/pdf",
                "buffer": make_pdf(label, [ORG, "Document joint au dossier de candidature."]),
            }
        )
        box.get_by_role("button", name="Envoyer le fichier").click()
        page.wait_for_load_state()
        expect(page.locator(".flashes")).to_contain_text(
            f"« {label} » : le fichier « {filename} » a été ajouté."
        )
        box = section(page, label, exact=False)
        expect(box.get_by_role("heading")).to_contain_text("Fourni")
        expect(box.get_by_role("link", name=filename)).to_be_visible()
    _step_is_complete(page, "Pièces jointes")
    page.get_by_role("link", name="Étape suivante →").click()
    page.wait_for_load_state()


def _step_is_complete(page, label: str) -> None:
    from playwright.sync_api import expect

    item = (
        page.get_by_role("navigation", name="Étapes du dossier")
        .get_by_role("listitem")
        .filter(has_text=label)
    )
    expect(item).to_contain_text("Complète")


def _attestation_step(page, file_url: str) -> None:
    from playwright.sync_api import expect

    expect(page).to_have_url(f"{file_url}/etapes/attestation")
    page.get_by_label("Nom et prénom du représentant légal (ou de son mandataire)").fill(
        "Camille Martin"
    )
    page.get_by_label("Qualité", exact=True).fill("Présidente")
    page.get_by_label("Je certifie que la structure est à jour", exact=False).check()
    _save_and_continue(page)
    expect(page).to_have_url(f"{file_url}/etapes/deposer")


def _submit(page) -> str:
    """Every step complete, submit: the reference given to the file."""
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", level=1)).to_have_text("Vérification et dépôt")
    done, total = _progress(page)
    assert done == total == 5, (done, total)
    expect(page.get_by_text("Toutes les vérifications sont passées")).to_be_visible()
    for label in ("Structure", "Projet", "Budget", "Pièces jointes", "Attestation"):
        _step_is_complete(page, label)
    expect(page.get_by_role("navigation", name="Étapes du dossier")).to_contain_text(
        "Prêt à déposer"
    )
    page.get_by_role("button", name="Déposer le dossier").click()
    page.wait_for_load_state()

    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"^Dossier AAP-2016-\d{4}$"))
    reference = heading.inner_text().removeprefix("Dossier ").strip()
    assert reference == "AAP-2016-0001"
    expect(page.locator(".flashes")).to_contain_text(
        f"Votre dossier est déposé sous la référence {reference}."
    )
    # Frozen at once: no way to edit it from its page.
    main = page.locator("main")
    expect(main).to_contain_text("il n'est plus modifiable")
    expect(page.get_by_role("link", name="Compléter le dossier")).to_have_count(0)
    expect(page.get_by_role("link", name="Vérifier et déposer")).to_have_count(0)
    expect(main.locator("form input:not([type=hidden]), textarea, select")).to_have_count(0)
    return reference


def _check_read_only(page, file_url: str) -> None:
    """The submitted file's page shows every answer, read-only; its steps are closed."""
    from playwright.sync_api import expect

    page.goto(file_url)
    main = page.locator("main")
    expect(main).to_contain_text("il n'est plus modifiable")
    expect(main.locator("dl.props").first).to_contain_text("Déposé")
    expect(main.locator("form input:not([type=hidden]), textarea, select")).to_have_count(0)
    expect(section(page, "Projet")).to_contain_text(PROJECT["Intitulé du projet"])
    expect(section(page, "Projet")).to_contain_text(COMMUNE)
    expect(section(page, "Budget du projet")).to_contain_text(_money("27 000,00 €"))
    for label, filename in DOCUMENTS.items():
        expect(section(page, "Pièces jointes")).to_contain_text(f"{label} : {filename}")
    expect(section(page, "Attestation")).to_contain_text("Certifié exact par Camille Martin")
    screenshot(page, "3-depose")

    # A step of the submitted file can't be opened for editing any more.
    page.goto(f"{file_url}/etapes/projet")
    expect(page).to_have_url(file_url)
    expect(page.locator(".flashes")).to_contain_text("il n'est plus modifiable")


def _download_receipt(page, file_url: str, reference: str) -> tuple[bytes, bool]:
    """Click the receipt link of the file's page and wait (≤ 30 s) for the download.

    If the worker has not made the PDF yet, the link opens a page saying so, which reloads
    itself every 5 s (``Refresh`` header) until the download starts: what a person sees.
    Returns the PDF and whether that waiting page was met.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect

    if page.url != file_url:
        page.goto(file_url)
    link = page.get_by_role("link", name="Télécharger l'accusé de réception (PDF)")
    pending = False
    with page.expect_download(timeout=RECEIPT_TIMEOUT * 1000) as download_info:
        link.click()
        try:
            page.get_by_role("status").filter(has_text="en cours de production").wait_for(
                timeout=1500
            )
            pending = True
        except PlaywrightTimeout:  # made already: the click started the download
            pass
        if pending:
            expect(page.get_by_role("heading", level=1)).to_have_text(
                f"Accusé de réception du dossier {reference}"
            )
    download = download_info.value
    assert download.failure() is None, download.failure()
    assert download.suggested_filename == f"accuse-de-reception-{reference}.pdf"
    return Path(download.path()).read_bytes(), pending


def test_applicant_journey_from_login_to_the_receipt(
    app,
    live_server,
    browser_page,
    browser_console,
    celery_worker,
    create_user,
    create_organisation,
    create_call,
):
    from playwright.sync_api import expect

    user_id = create_user(email=EMAIL, full_name="Camille Martin")
    create_organisation(member_ids=[user_id], name=ORG, has_economic_activity=False)
    call_id = create_call(title=CALL, reference_prefix="AAP-2016")
    page = browser_page

    _login(page, live_server)
    file_url = _start_from_the_public_call(page, live_server, call_id)
    _structure_step(page)
    _projet_step_with_a_mistake(page, file_url)
    _budget_step(page)
    _pieces_step(page, file_url)
    _attestation_step(page, file_url)
    reference = _submit(page)
    # Straight away, as a person would: the receipt link of the freshly submitted file
    # (usually the worker is still at it, and the waiting page reloads into the download).
    data, _pending = _download_receipt(page, file_url, reference)
    assert data.startswith(b"%PDF")
    text = pdf_text(data)
    assert reference in text, text
    assert ORG in text, text
    for filename in DOCUMENTS.values():
        assert filename in text, text

    _check_read_only(page, file_url)

    # The worker also sent the acknowledgement by e-mail.
    mail = celery_worker.wait_for_mail(EMAIL)
    assert reference in str(mail["Subject"])

    expect(page.locator("header")).to_contain_text(EMAIL)  # still logged in throughout
    assert csp_violations(browser_console) == []
    assert unexpected_console_errors(console_errors(browser_console)) == []
