"""The audit log page: staff only, newest first, filters, bounded number of queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.organisations import org_form
from tests.organisations.html import field_errors, select_options, text


@pytest.fixture
def staff_client(app, create_user, login):
    create_user(email="agent@example.org", roles=["staff"])
    client = app.test_client()
    login(client, "agent@example.org")
    return client


@pytest.fixture
def add_entries(app):
    """``add_entries(n, ...)``: ``n`` audit entries, each by its own new user."""

    def _add(
        n,
        action="organisation.update",
        object_type="organisation",
        object_id="1",
        start=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        step=timedelta(minutes=1),
        actor_prefix="auteur",
        changes=None,
    ):
        from grants.accounts.models import User
        from grants.audit.models import AuditEntry
        from grants.extensions import db

        with app.app_context():
            for i in range(n):
                user = User(email=f"{actor_prefix}{i}@example.org", password_hash="x")
                db.session.add(user)
                db.session.flush()
                db.session.add(
                    AuditEntry(
                        actor_id=user.id,
                        action=action,
                        object_type=object_type,
                        object_id=str(object_id),
                        summary=f"Entrée {actor_prefix} {i}",
                        changes=changes if changes is not None else {"name": [f"a{i}", f"b{i}"]},
                        created_at=start + i * step,
                    )
                )
            db.session.commit()
            db.session.remove()

    return _add


def _summaries(response) -> list[str]:
    return re.findall(r"Entrée [a-z]+ \d+", text(response))


def test_anonymous_is_sent_to_login(client):
    response = client.get("/journal/")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


@pytest.mark.parametrize("roles", [(), ("reviewer",)])
def test_applicants_and_reviewers_are_refused(app, create_user, login, roles):
    create_user(email="porteur@example.org", roles=roles)
    client = app.test_client()
    login(client, "porteur@example.org")
    assert client.get("/journal/").status_code == 403


def test_admin_sees_the_log(app, create_user, login):
    create_user(email="admin@example.org", roles=["admin"])
    client = app.test_client()
    login(client, "admin@example.org")
    assert client.get("/journal/").status_code == 200


def test_staff_sees_what_was_done_with_a_readable_diff(
    app, create_user, login, get_csrf, staff_client
):
    # an applicant creates and edits an organisation through the pages
    create_user(email="porteur@example.org")
    applicant = app.test_client()
    login(applicant, "porteur@example.org")
    token = get_csrf(applicant, "/structures/nouvelle")
    response = applicant.post(
        "/structures/nouvelle", data={**org_form(name="Avant"), "csrf_token": token}
    )
    org_path = response.headers["Location"]
    org_id = org_path.rsplit("/", 1)[1]
    applicant.post(
        f"{org_path}/modifier",
        data={**org_form(name="Après", in_qpv="y"), "csrf_token": token},
    )

    page = staff_client.get("/journal/")
    assert page.status_code == 200
    body = text(page)
    body = body[body.index('<table class="audit">') :]
    assert "porteur@example.org" in body
    update = body.index("<code>organisation.update</code>")
    create = body.index("<code>organisation.create</code>")
    assert update < create  # newest first
    assert f'href="/structures/{org_id}">n°\xa0{org_id}</a>' in body  # linked to the object
    assert "Modification de structure" in body  # the action in words
    row = body[update : body.index("</tr>\n  \n    <tr>", update)]
    assert re.search(r"<th scope=\"row\">Nom</th><td>Avant</td><td>Après</td>", row)
    assert re.search(r"Quartier prioritaire \(QPV\)</th><td>non</td><td>oui</td>", row)
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", body)


def test_pagination_50_per_page(add_entries, staff_client):
    add_entries(60)
    url = "/journal/?action=organisation.update"  # (the agent's login may be logged too)
    first = staff_client.get(url)
    assert "60 entrées" in text(first)
    summaries = _summaries(first)
    assert len(summaries) == 50
    assert summaries[0] == "Entrée auteur 59"  # newest first
    assert "page=2" in text(first) and "action=organisation.update" in text(first)
    second = _summaries(staff_client.get(url + "&page=2"))
    assert second == [f"Entrée auteur {i}" for i in range(9, -1, -1)]


def test_filters(add_entries, staff_client):
    add_entries(3, action="organisation.create", object_id="7", actor_prefix="alpha")
    add_entries(2, action="user.roles", object_type="user", object_id="3", actor_prefix="beta")

    assert len(_summaries(staff_client.get("/journal/"))) == 5
    assert _summaries(staff_client.get("/journal/?actor=beta1@")) == ["Entrée beta 1"]
    assert sorted(_summaries(staff_client.get("/journal/?action=organisation.create"))) == [
        "Entrée alpha 0",
        "Entrée alpha 1",
        "Entrée alpha 2",
    ]
    assert len(_summaries(staff_client.get("/journal/?object_type=user"))) == 2
    assert len(_summaries(staff_client.get("/journal/?object_type=organisation&object_id=7"))) == 3
    assert _summaries(staff_client.get("/journal/?object_id=999")) == []
    assert "Aucune entrée pour ces filtres" in text(staff_client.get("/journal/?object_id=999"))

    # the select lists the actions that exist; the chosen one stays selected
    options = select_options(staff_client.get("/journal/?action=user.roles"), "action")
    assert ("", "Toutes les actions", False) in options
    assert ("user.roles", "user.roles", True) in options
    assert (
        "organisation.create",
        "Création de structure (organisation.create)",
        False,
    ) in options


def test_date_filters_are_paris_days(add_entries, staff_client):
    # 22:30 UTC on 1 March is 23:30 in Paris (1 March); 23:30 UTC is 00:30 on 2 March
    add_entries(1, start=datetime(2026, 3, 1, 22, 30, tzinfo=UTC), actor_prefix="mars")
    add_entries(1, start=datetime(2026, 3, 1, 23, 30, tzinfo=UTC), actor_prefix="minuit")
    # summer time: 21:59 UTC on 30 June is 23:59 in Paris
    add_entries(1, start=datetime(2026, 6, 30, 21, 59, tzinfo=UTC), actor_prefix="juin")

    def shown(query):
        return sorted(_summaries(staff_client.get(f"/journal/?{query}")))

    assert shown("date_to=2026-03-01") == ["Entrée mars 0"]
    assert shown("date_from=2026-03-02&date_to=2026-03-02") == ["Entrée minuit 0"]
    assert shown("date_from=02/03/2026") == ["Entrée juin 0", "Entrée minuit 0"]
    assert shown("date_from=2026-06-30&date_to=2026-06-30") == ["Entrée juin 0"]
    assert "00:30" in text(staff_client.get("/journal/?date_from=2026-03-02&date_to=2026-03-02"))


def test_bad_dates_get_a_french_message_next_to_the_field(add_entries, staff_client):
    add_entries(2)
    response = staff_client.get("/journal/?date_from=31/02/2026")
    assert response.status_code == 200
    assert field_errors(response, "date_from") == ["Date invalide : utilisez le format JJ/MM/AAAA."]
    assert len(_summaries(response)) == 2  # the bad filter is left out, not the page
    response = staff_client.get("/journal/?date_from=2026-03-05&date_to=2026-03-01")
    assert field_errors(response, "date_to") == ["La date de fin précède la date de début."]


def test_the_number_of_queries_does_not_grow_with_the_entries(
    add_entries, staff_client, query_counter
):
    url = "/journal/?action=organisation.update"
    add_entries(5, actor_prefix="petit")
    staff_client.get(url)  # warm-up (first request of the client)
    with query_counter() as small:
        assert len(_summaries(staff_client.get(url))) == 5

    add_entries(55, actor_prefix="grand", start=datetime(2026, 4, 1, tzinfo=UTC))
    with query_counter() as large:
        response = staff_client.get(url)
        assert len(_summaries(response)) == 50
        assert "grand54@example.org" in text(response)  # 50 different actors shown
    assert len(large) == len(small), (small, large)
    assert len(large) <= 10
