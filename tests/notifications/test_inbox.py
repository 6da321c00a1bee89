"""The in-app inbox and the preferences page, through the client."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from tests.fixtures.core import csrf_token_from


def _page(response) -> str:
    return (
        html.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")
    )


def _badge(page: str) -> str | None:
    """The unread count shown next to the "Notifications" link of the header."""
    match = re.search(r'Notifications <span class="badge">(\d+)<span', page)
    return match.group(1) if match else None


@pytest.fixture
def people(app, create_user, create_call, login):
    alice = create_user(email="alice@example.org", full_name="Alice Martin")
    bob = create_user(email="bob@example.org")
    call_id = create_call(title="Appel ESS 2026")
    alice_client = app.test_client()
    login(alice_client, "alice@example.org")
    bob_client = app.test_client()
    login(bob_client, "bob@example.org")
    return {
        "alice": alice,
        "bob": bob,
        "call": call_id,
        "alice_client": alice_client,
        "bob_client": bob_client,
    }


def _ids(app, user_id):
    from grants.extensions import db
    from grants.notifications.models import Notification

    with app.app_context():
        rows = db.session.execute(
            sa.select(Notification.id, Notification.read_at)
            .where(Notification.recipient_id == user_id)
            .order_by(Notification.id)
        ).all()
        db.session.remove()
    return rows


def test_the_inbox_needs_a_login(client):
    response = client.get("/notifications")
    assert response.status_code == 302
    assert "/connexion" in response.headers["Location"]


def test_the_inbox_lists_ones_own_notifications_newest_first(app, people, notify_now):
    notify_now(people["call"], [people["alice"]], occurrence="premier")
    notify_now(people["call"], [people["alice"], people["bob"]], occurrence="second")
    from grants.extensions import db
    from grants.notifications.models import Notification

    with app.app_context():  # make the order visible: the second one is newer
        first = db.session.scalar(
            sa.select(Notification).where(Notification.occurrence == "premier")
        )
        first.subject = "Le premier avis"
        first.created_at = first.created_at.replace(year=2020)
        db.session.commit()
        db.session.remove()

    page = _page(people["alice_client"].get("/notifications"))
    assert "2 notifications non lues." in page
    assert page.index("Clôture reportée : Appel ESS 2026") < page.index("Le premier avis")
    assert "Bonjour Alice Martin" in page  # the message itself
    assert _badge(page) == "2"

    bob_page = _page(people["bob_client"].get("/notifications"))
    assert "Le premier avis" not in bob_page
    assert _badge(bob_page) == "1"


def test_the_unread_count_is_one_query_whatever_the_number(app, people, notify_now, count_queries):
    def _statements():
        with count_queries() as counter:
            response = people["alice_client"].get("/appels")
            assert response.status_code == 200
        return [s for s in counter["statements"] if "notification" in s]

    notify_now(people["call"], [people["alice"]], occurrence="1")
    few = _statements()
    for n in range(2, 30):
        notify_now(people["call"], [people["alice"]], occurrence=str(n))
    many = _statements()
    assert len(few) == len(many) == 1
    assert "count(" in many[0].lower()
    assert _badge(_page(people["alice_client"].get("/appels"))) == "29"


def test_the_inbox_is_paginated_with_bounded_queries(app, people, notify_now, count_queries):
    def _count(url):
        with count_queries() as counter:
            response = people["alice_client"].get(url)
            assert response.status_code == 200
        return counter["n"]

    notify_now(people["call"], [people["alice"]], occurrence="0")
    few = _count("/notifications")
    for n in range(1, 45):
        notify_now(people["call"], [people["alice"]], occurrence=str(n))
    many = _count("/notifications")
    assert many == few
    page1 = _page(people["alice_client"].get("/notifications"))
    assert "Page 1 sur 3" in page1
    page3 = _page(people["alice_client"].get("/notifications?page=3"))
    assert page3.count('class="panel notification') == 5
    assert _count("/notifications?page=3") == few


def test_mark_one_read(app, people, notify_now, get_csrf):
    notify_now(people["call"], [people["alice"]], occurrence="a")
    notify_now(people["call"], [people["alice"]], occurrence="b")
    (first_id, _), (second_id, _) = _ids(app, people["alice"])
    client = people["alice_client"]
    token = get_csrf(client, "/notifications")

    # without the CSRF token: refused, nothing changes
    assert client.post(f"/notifications/{first_id}/lue").status_code == 400
    assert all(read is None for _, read in _ids(app, people["alice"]))

    response = client.post(f"/notifications/{first_id}/lue", data={"csrf_token": token})
    assert response.status_code == 302
    assert [read is not None for _, read in _ids(app, people["alice"])] == [True, False]
    page = _page(client.get(response.headers["Location"]))
    assert "Notification marquée comme lue." in page
    assert "1 notification non lue." in page
    assert _badge(page) == "1"
    # read ones are listed too, with when they were read
    assert "lue le" in page


def test_mark_all_read(app, people, notify_now, get_csrf):
    for n in range(3):
        notify_now(people["call"], [people["alice"], people["bob"]], occurrence=str(n))
    client = people["alice_client"]
    token = get_csrf(client, "/notifications")

    response = client.post("/notifications/tout-lu", data={"csrf_token": token})
    page = _page(client.get(response.headers["Location"]))
    assert "3 notifications marquées comme lues." in page
    assert "Aucune notification non lue." in page
    assert _badge(page) is None
    assert all(read is not None for _, read in _ids(app, people["alice"]))
    assert all(read is None for _, read in _ids(app, people["bob"]))  # not Bob's


def test_opening_the_link_marks_it_read_and_goes_to_the_page(app, people, notify_now):
    notify_now(people["call"], [people["alice"]])
    [(notification_id, _)] = _ids(app, people["alice"])

    response = people["alice_client"].get(f"/notifications/{notification_id}/ouvrir")
    assert response.status_code == 302
    # a path on this site, whatever PUBLIC_BASE_URL says
    assert response.headers["Location"] == f"/appels/{people['call']}"
    [(_, read_at)] = _ids(app, people["alice"])
    assert read_at is not None


def test_unread_only_filter(app, people, notify_now, get_csrf):
    notify_now(people["call"], [people["alice"]], occurrence="a")
    notify_now(people["call"], [people["alice"]], occurrence="b")
    (first_id, _), _second = _ids(app, people["alice"])
    client = people["alice_client"]
    client.post(
        f"/notifications/{first_id}/lue", data={"csrf_token": get_csrf(client, "/notifications")}
    )
    page = _page(client.get("/notifications?non-lues=1"))
    assert page.count('class="panel notification') == 1
    assert "Afficher toutes les notifications" in page


def test_nobody_reads_or_marks_someone_elses_notification(app, people, notify_now, get_csrf):
    notify_now(people["call"], [people["alice"]])
    [(alice_notification, _)] = _ids(app, people["alice"])
    bob = people["bob_client"]
    token = get_csrf(bob, "/notifications")

    assert (
        bob.post(f"/notifications/{alice_notification}/lue", data={"csrf_token": token}).status_code
        == 404
    )
    assert bob.get(f"/notifications/{alice_notification}/ouvrir").status_code == 404
    assert "Bonjour Alice" not in _page(bob.get("/notifications"))
    [(_, read_at)] = _ids(app, people["alice"])
    assert read_at is None


# --- preferences ------------------------------------------------------------------------------


def test_preferences_say_what_cannot_be_turned_off(people):
    page = _page(people["alice_client"].get("/notifications/preferences"))
    assert "ne peuvent pas être désactivés" in page
    assert "L'accusé de réception d'un dossier déposé" in page
    assert "Les décisions d'attribution ou de refus" in page
    assert re.search(r'<input [^>]*\bchecked id="email_reminders"[^>]*type="checkbox"', page)


def test_turning_reminders_off_keeps_them_in_the_inbox_but_not_in_the_mailbox(
    app, people, notify_now, mails_to
):
    client = people["alice_client"]
    html_page = client.get("/notifications/preferences").get_data(as_text=True)
    token = csrf_token_from(html_page)

    response = client.post("/notifications/preferences", data={"csrf_token": token})
    assert response.status_code == 302
    assert "Vos préférences sont enregistrées." in _page(client.get(response.headers["Location"]))

    notify_now(people["call"], [people["alice"]], occurrence="rappel", essential=False)
    notify_now(people["call"], [people["alice"]], occurrence="recu", essential=True)
    assert len(mails_to("alice@example.org")) == 1  # the essential one only
    page = _page(client.get("/notifications"))
    assert page.count('class="panel notification') == 2
    assert "rappel" in page

    from grants.audit.models import AuditEntry
    from grants.extensions import db

    with app.app_context():
        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "notifications.preferences")
        )
        assert entry.actor_id == people["alice"]
        assert entry.changes == {"email_reminders": [True, False]}
        db.session.remove()

    # and back on
    response = client.post(
        "/notifications/preferences", data={"csrf_token": token, "email_reminders": "y"}
    )
    assert response.status_code == 302
    notify_now(people["call"], [people["alice"]], occurrence="rappel-2", essential=False)
    assert len(mails_to("alice@example.org")) == 2


def test_preferences_need_a_login_and_csrf(client, people):
    assert client.get("/notifications/preferences").status_code == 302
    assert people["alice_client"].post("/notifications/preferences", data={}).status_code == 400
