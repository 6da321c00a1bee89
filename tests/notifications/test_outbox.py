"""The staff outbox: every e-mail with its state, filters, counts, resend of failures."""

from __future__ import annotations

import html
import uuid

import pytest
import sqlalchemy as sa


def _page(response) -> str:
    return (
        html.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")
    )


@pytest.fixture
def staff_client(app, create_user, login):
    create_user(email="agent@example.org", roles=("staff",))
    client = app.test_client()
    login(client, "agent@example.org")
    return client


@pytest.fixture
def add_mail(app):
    """``add_mail(recipient, subject, status="pending", attempts=0, error=None)`` → id."""

    def _add(recipient, subject, status="pending", attempts=0, error=None):
        from grants.core.db import utcnow
        from grants.core.models import MailStatus, OutgoingMail
        from grants.extensions import db

        status = MailStatus(status)
        with app.app_context():
            mail = OutgoingMail(
                message_id=f"<{uuid.uuid4().hex}@test.example>",
                recipient=recipient,
                subject=subject,
                text_body="Bonjour,\n",
                status=status,
                attempts=attempts,
                last_error=error,
                sent_at=utcnow() if status == MailStatus.sent else None,
                claimed_at=utcnow() if status == MailStatus.sending else None,
            )
            db.session.add(mail)
            db.session.commit()
            mail_id = mail.id
            db.session.remove()
        return mail_id

    return _add


def _mail(app, mail_id):
    from grants.core.models import OutgoingMail
    from grants.extensions import db

    with app.app_context():
        mail = db.session.get(OutgoingMail, mail_id)
        db.session.expunge(mail)
        db.session.remove()
    return mail


@pytest.mark.parametrize("roles", [(), ("reviewer",)])
def test_the_outbox_is_for_staff_only(app, create_user, login, add_mail, roles):
    failed = add_mail("x@example.org", "Secret", status="failed", attempts=5)
    create_user(email="porteur@example.org", roles=roles)
    client = app.test_client()
    assert client.get("/gestion/envois").status_code == 302  # anonymous: to the login
    login(client, "porteur@example.org")
    assert client.get("/gestion/envois").status_code == 403
    token = client.get("/notifications").get_data(as_text=True)
    from tests.fixtures.core import csrf_token_from

    response = client.post(
        f"/gestion/envois/{failed}/renvoyer", data={"csrf_token": csrf_token_from(token)}
    )
    assert response.status_code == 403
    assert _mail(app, failed).status == "failed"


def test_staff_see_counts_and_filter(staff_client, add_mail):
    add_mail("alice@example.org", "Accusé de réception du dossier AAP-1", status="sent", attempts=1)
    add_mail("bob@example.org", "Accusé de réception du dossier AAP-2", status="sent", attempts=1)
    add_mail("carol@example.org", "Compléments demandés", status="pending")
    add_mail(
        "dan@example.org",
        "Rappel : dossier non déposé",
        status="failed",
        attempts=5,
        error="ConnectionRefusedError: [Errno 111] Connection refused",
    )

    page = _page(staff_client.get("/gestion/envois"))
    assert "4 e-mails." in page
    for label, count in (("Envoyé", 2), ("En attente", 1), ("Échec", 1), ("En cours d'envoi", 0)):
        assert f"{label}</a> :\n    <strong>{count}</strong>" in page
    assert "ConnectionRefusedError" in page

    failed = _page(staff_client.get("/gestion/envois?status=failed"))
    assert "1 e-mail correspondant aux filtres." in failed
    assert "dan@example.org" in failed and "alice@example.org" not in failed

    by_recipient = _page(staff_client.get("/gestion/envois?recipient=BOB"))
    assert "bob@example.org" in by_recipient and "alice@example.org" not in by_recipient

    by_subject = _page(staff_client.get("/gestion/envois?subject=accusé"))
    assert "2 e-mails correspondant aux filtres." in by_subject

    # LIKE wildcards are taken literally
    assert "Aucun e-mail pour ces filtres." in _page(
        staff_client.get("/gestion/envois?subject=%25")
    )


def test_the_outbox_queries_do_not_grow_with_the_rows(staff_client, add_mail, count_queries):
    def _count():
        with count_queries() as counter:
            assert staff_client.get("/gestion/envois").status_code == 200
        return counter["n"]

    add_mail("a@example.org", "Un", status="failed", attempts=5)
    few = _count()
    for n in range(60):
        add_mail(f"r{n}@example.org", f"Objet {n}", status=("sent", "failed", "pending")[n % 3])
    assert _count() == few
    assert "Page 1 sur 2" in _page(staff_client.get("/gestion/envois"))


def test_resend_a_failed_mail(app, staff_client, add_mail, get_csrf, deliver_queued, sent_mails):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    mail_id = add_mail("dan@example.org", "Rappel", status="failed", attempts=5, error="Boom")
    token = get_csrf(staff_client, "/gestion/envois")

    response = staff_client.post(
        f"/gestion/envois/{mail_id}/renvoyer",
        data={"csrf_token": token, "next": "/gestion/envois?status=failed"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/gestion/envois?status=failed"
    page = _page(staff_client.get("/gestion/envois"))
    assert "L'e-mail à dan@example.org est remis dans la file d'envoi." in page
    mail = _mail(app, mail_id)
    assert (mail.status, mail.attempts) == ("pending", 0)
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "mail.resend"))
        assert entry.object_type == "outgoing_mail" and entry.object_id == str(mail_id)
        assert "dan@example.org" in entry.summary
        db.session.remove()

    assert deliver_queued() == 1  # what the worker does with the task enqueued at commit
    assert _mail(app, mail_id).status == "sent"
    assert [str(m["To"]) for m in sent_mails()][-1:] == ["dan@example.org"]


def test_only_a_failed_mail_can_be_resent(app, staff_client, add_mail, get_csrf):
    sent = add_mail("alice@example.org", "Déjà parti", status="sent", attempts=1)
    token = get_csrf(staff_client, "/gestion/envois")
    response = staff_client.post(f"/gestion/envois/{sent}/renvoyer", data={"csrf_token": token})
    assert response.status_code == 302
    page = _page(staff_client.get("/gestion/envois"))
    assert "Seul un envoi en échec peut être renvoyé" in page
    assert _mail(app, sent).status == "sent"
    assert (
        staff_client.post("/gestion/envois/999999/renvoyer", data={"csrf_token": token}).status_code
        == 404
    )
    # without the CSRF token
    failed = add_mail("dan@example.org", "Rappel", status="failed", attempts=5)
    assert staff_client.post(f"/gestion/envois/{failed}/renvoyer").status_code == 400
    assert _mail(app, failed).status == "failed"


def test_resend_every_failed_mail(app, staff_client, add_mail, get_csrf):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    ids = [add_mail(f"f{n}@example.org", "Rappel", status="failed", attempts=5) for n in range(3)]
    sent = add_mail("ok@example.org", "Parti", status="sent", attempts=1)
    token = get_csrf(staff_client, "/gestion/envois")

    response = staff_client.post("/gestion/envois/renvoyer-les-echecs", data={"csrf_token": token})
    assert "3 e-mails en échec remis dans la file d'envoi." in _page(
        staff_client.get(response.headers["Location"])
    )
    assert [_mail(app, i).status for i in ids] == ["pending"] * 3
    assert _mail(app, sent).status == "sent"
    with app.app_context():
        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "mail.resend_failed")
        )
        assert "3 e-mails" in entry.summary
        db.session.remove()
