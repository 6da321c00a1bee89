"""The schedules pages (issue 5, points 2 and 3): the call's schedules (staff), the what-if
simulation that never writes, a laureate's schedule, and who may see what."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.fixtures.funding import SEED_LAUREATES

#: every table a simulation could touch
WATCHED = (
    "award",
    "tranche",
    "decision",
    "call",
    "call_year",
    "schedule_run",
    "notification",
    "outgoing_mail",
    "audit_entry",
    "application",
)


@pytest.fixture
def snapshot(app):
    """``snapshot()`` → every row of the watched tables (to compare before / after)."""

    def _take():
        from grants.extensions import db

        with app.app_context():
            data = {
                name: sorted(
                    tuple(str(v) for v in row)
                    for row in db.session.execute(sa.text(f'SELECT * FROM "{name}"')).all()
                )
                for name in WATCHED
            }
            db.session.remove()
        return data

    return _take


@pytest.fixture
def decided(laureates_call, schedule_run, run_schedule_task):
    """The seeds' call with its six laureates' schedules stored."""
    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    return call


def simulation_data(client, get_csrf, call, **changes) -> dict:
    url = f"/gestion/appels/{call.call_id}/simulation"
    page = client.get(url).get_data(as_text=True)
    data = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    data["csrf_token"] = get_csrf(client, url)
    data.update(changes)
    return data


def field_errors(page: str, name: str) -> list[str]:
    match = re.search(rf'<ul class="errors" id="{re.escape(name)}-erreurs">(.*?)</ul>', page, re.S)
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


# --- The simulation ------------------------------------------------------------------------


def test_the_form_is_prefilled_with_the_call_and_its_awards(client, login, decided):
    login(client, decided.staff_email)
    page = client.get(f"/gestion/appels/{decided.call_id}/simulation").get_data(as_text=True)

    assert 'name="envelope_2016"' in page and 'value="60000"' in page
    # The call's profile, derived from its envelopes, is pre-filled.
    assert 'value="0,363637"' in page and 'value="0,303030"' in page
    for file in decided.files:
        name = file.name.replace("'", "&#39;")  # as Jinja escapes it
        assert f"{file.reference} — {name}" in page
    assert 'value="40000"' in page and 'value="15000"' in page
    # The stored table is shown.
    assert "14\u202f545,00" in page


def test_the_seeds_fallback_of_30500_shows_the_overflow_and_the_alternatives(
    client, login, get_csrf, decided, snapshot
):
    login(client, decided.staff_email)
    before = snapshot()

    response = client.post(
        f"/gestion/appels/{decided.call_id}/simulation",
        data=simulation_data(client, get_csrf, decided, envelope_2016="30 500"),
    )

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Dépassement des enveloppes" in page
    assert "2016 : + 29\u202f500,00" in page
    assert "Alternative : réduction proportionnelle" in page
    assert "Alternative : financement par rang" in page
    assert "Non financé" in page  # by rank, the last laureates get nothing
    # Beside the stored table: per year, the stored amount then the simulated one.
    assert "Tableau simulé à côté du tableau enregistré" in page
    first = re.search(r"<tr>\s*<th scope=\"row\">AAP-[^<]*-0001<br>.*?</tr>", page, re.S).group(0)
    cells = re.findall(r'<td class="num">(?:<strong>)?([^<]*)', first)
    assert cells[:2] == ["14\u202f545,00\xa0€", "14\u202f546,00\xa0€"]
    # Nothing was written: every row of every watched table is the same.
    assert snapshot() == before


def test_a_simulation_that_fits_and_other_amounts_never_writes(
    client, login, get_csrf, decided, snapshot
):
    login(client, decided.staff_email)
    before = snapshot()
    first = decided.files[0]
    key = "amount__" + re.sub(r"[^A-Za-z0-9]", "_", first.reference)
    data = simulation_data(client, get_csrf, decided, **{key: "30 000"}, unit="10")

    response = client.post(f"/gestion/appels/{decided.call_id}/simulation", data=data)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Dans les enveloppes" in page
    assert "10\u202f910,00" in page  # 30,000 by the profile, rounded to 10 EUR
    assert snapshot() == before


def test_an_award_emptied_is_left_out_of_the_simulation(client, login, get_csrf, decided):
    login(client, decided.staff_email)
    last = decided.files[-1]
    key = "amount__" + re.sub(r"[^A-Za-z0-9]", "_", last.reference)
    page = client.post(
        f"/gestion/appels/{decided.call_id}/simulation",
        data=simulation_data(client, get_csrf, decided, **{key: ""}),
    ).get_data(as_text=True)
    assert f"Sans : {last.reference}." in page


def test_bad_values_get_french_messages_next_to_their_fields(
    client, login, get_csrf, decided, snapshot
):
    login(client, decided.staff_email)
    before = snapshot()
    data = simulation_data(
        client,
        get_csrf,
        decided,
        envelope_2017="beaucoup",
        unit="0",
        weight_2016="0,5",
        weight_2017="0,3",
        weight_2018="0,1",
    )

    response = client.post(f"/gestion/appels/{decided.call_id}/simulation", data=data)

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_errors(page, "envelope_2017") == [
        "Montant invalide : tapez des chiffres, avec au plus deux décimales après la virgule "
        "(par exemple 60 000 ou 60 000,50)."
    ]
    assert field_errors(page, "unit") == ["Le montant doit être supérieur à 0."]
    assert 'value="beaucoup"' in page  # the input is kept
    assert "La simulation n'a pas pu être calculée" in page
    data.update(envelope_2017="55000", unit="1")
    page = client.post(f"/gestion/appels/{decided.call_id}/simulation", data=data).get_data(
        as_text=True
    )
    assert "La somme des poids doit valoir exactement 1 (elle vaut 0.9)." in field_errors(
        page, "profil"
    )
    assert snapshot() == before


def test_emptied_weights_with_envelopes_that_do_not_decrease_explain_why(
    client, login, get_csrf, decided
):
    login(client, decided.staff_email)
    data = simulation_data(
        client,
        get_csrf,
        decided,
        envelope_2016="30500",
        weight_2016="",
        weight_2017="",
        weight_2018="",
    )
    response = client.post(f"/gestion/appels/{decided.call_id}/simulation", data=data)
    assert response.status_code == 422
    assert any(
        "ne peut pas être dérivé" in e
        for e in field_errors(response.get_data(as_text=True), "profil")
    )


# --- The schedules page ------------------------------------------------------------------------


def test_staff_start_the_computation_from_the_schedules_page(
    app, client, login, get_csrf, laureates_call, run_schedule_task
):
    call = laureates_call()
    login(client, call.staff_email)
    url = f"/gestion/appels/{call.call_id}/echeanciers"
    page = client.get(url)
    assert "Refresh" not in page.headers
    assert "Calculer les échéanciers" in page.get_data(as_text=True)

    response = client.post(url, data={"csrf_token": get_csrf(client, url)})

    assert response.status_code == 302
    page = client.get(url)
    assert page.headers["Refresh"] == "3"  # the progress refreshes while it runs
    text = page.get_data(as_text=True)
    assert "Calcul des échéanciers lancé" in text
    assert "En attente du serveur de tâches" in text and "<progress" in text
    from grants.extensions import db

    with app.app_context():
        run_id = db.session.scalar(sa.text("SELECT id FROM schedule_run"))
        db.session.remove()
    run_schedule_task(run_id)
    page = client.get(url)
    assert "Refresh" not in page.headers
    text = page.get_data(as_text=True)
    assert "Terminé : échéanciers enregistrés" in text
    assert "6 aides modifiées" in text
    for amount in ("14\u202f545,00", "60\u202f000,00", "4\u202f545,00"):
        assert amount in text


def test_the_page_shows_the_overflow_and_applies_an_alternative(
    app, client, login, get_csrf, laureates_call, schedule_run, run_schedule_task
):
    from grants.calls.models import Call, CallYear
    from grants.extensions import db

    call = laureates_call()
    with app.app_context():
        db.session.get(Call, call.call_id).profile = ["0.363637", "0.333333", "0.303030"]
        db.session.scalar(
            sa.select(CallYear).where(CallYear.call_id == call.call_id, CallYear.year == 2016)
        ).envelope = Decimal("30500")
        db.session.commit()
        db.session.remove()
    run_id = schedule_run(call.call_id, call.staff_id)
    run_schedule_task(run_id)
    login(client, call.staff_email)
    url = f"/gestion/appels/{call.call_id}/echeanciers"
    text = client.get(url).get_data(as_text=True)
    assert "Les enveloppes sont dépassées : aucun échéancier n'est enregistré." in text
    assert "2016 : dépassement de 29\u202f500,00" in text
    assert "Appliquer l'alternative « réduction proportionnelle »" in text

    response = client.post(
        f"{url}/calculs/{run_id}/alternative",
        data={"alternative": "proportional", "csrf_token": get_csrf(client, url)},
    )

    assert response.status_code == 302
    text = client.get(url).get_data(as_text=True)
    assert "Alternative « réduction proportionnelle » appliquée" in text
    with app.app_context():
        totals = db.session.scalars(sa.text("SELECT total FROM award ORDER BY rank")).all()
        db.session.remove()
    assert all(
        Decimal(str(t)) < Decimal(a) for t, (_, a) in zip(totals, SEED_LAUREATES, strict=True)
    )


def test_the_schedules_page_reads_a_bounded_number_of_statements(
    client, login, laureates_call, schedule_run, run_schedule_task, query_counter, quick_user
):
    small = laureates_call(SEED_LAUREATES[:2])
    run_schedule_task(schedule_run(small.call_id, small.staff_id))
    large = laureates_call()
    run_schedule_task(schedule_run(large.call_id, large.staff_id))
    quick_user("chef@bordeaux-metropole.fr", roles=["staff"])
    login(client, "chef@bordeaux-metropole.fr")
    counts = []
    for call in (small, large):
        with query_counter() as statements:
            assert client.get(f"/gestion/appels/{call.call_id}/echeanciers").status_code == 200
        counts.append(list(statements))
    assert len(counts[0]) == len(counts[1])


# --- Permissions ----------------------------------------------------------------------------------


def test_applicants_and_reviewers_get_403_on_the_staff_pages(
    client, login, get_csrf, decided, quick_user
):
    quick_user("relecteur@example.org", roles=["reviewer"])
    for email in (decided.files[0].member_email, "relecteur@example.org"):
        login(client, email)
        token = get_csrf(client, "/dossiers")
        base = f"/gestion/appels/{decided.call_id}"
        assert client.get(f"{base}/echeanciers").status_code == 403
        assert client.get(f"{base}/simulation").status_code == 403
        assert client.post(f"{base}/simulation", data={"csrf_token": token}).status_code == 403
        assert client.post(f"{base}/echeanciers", data={"csrf_token": token}).status_code == 403
        client.post("/deconnexion", data={"csrf_token": token})


def test_anonymous_visitors_are_sent_to_the_login_page(client, decided):
    response = client.get(f"/gestion/appels/{decided.call_id}/echeanciers")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_a_member_reads_the_schedule_of_their_award_only(client, login, decided):
    mine, other = decided.files[0], decided.files[1]
    login(client, mine.member_email)

    page = client.get(f"/dossiers/{mine.id}/echeancier")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "14\u202f545,00" in text and "13\u202f333,00" in text and "12\u202f122,00" in text
    assert client.get(f"/dossiers/{other.id}/echeancier").status_code == 403


def test_staff_read_any_laureates_schedule(client, login, decided):
    login(client, decided.staff_email)
    assert client.get(f"/dossiers/{decided.files[3].id}/echeancier").status_code == 200
