"""The SMTP mail backend, against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import uuid
from email.utils import parseaddr

import pytest


@pytest.fixture
def smtp_app(app, smtp_sink, monkeypatch):
    smtp_sink.clear()
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", smtp_sink.host)
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    return app


def _pending_mail(db_session, html: str | None = None) -> int:
    from grants.core.models import OutgoingMail

    mail = OutgoingMail(
        message_id=f"<{uuid.uuid4().hex}@test.example>",
        recipient="chloe@example.org",
        subject="Votre dossier a été reçu",
        text_body="Bonjour Chloé,\nvotre dossier est bien arrivé.\n",
        html_body=html,
    )
    db_session.add(mail)
    db_session.commit()
    return mail.id


def test_send_mail_delivers_over_smtp_once(smtp_app, smtp_sink, db_session):
    from grants.core.mail_tasks import send_mail
    from grants.core.models import MailStatus, OutgoingMail

    mail_id = _pending_mail(db_session, html="<p>Bonjour Chloé,</p>")

    assert send_mail.run(mail_id) == "sent"
    assert send_mail.run(mail_id) == "skipped"  # a redelivery sends nothing more

    [message] = smtp_sink.messages()
    row = db_session.get(OutgoingMail, mail_id)
    db_session.refresh(row)
    assert row.status == MailStatus.sent
    assert message["Message-ID"] == row.message_id
    assert str(message["Subject"]) == "Votre dossier a été reçu"
    assert str(message["To"]) == "chloe@example.org"
    assert "Bonjour Chloé" in message.get_body(preferencelist=("plain",)).get_content()
    assert "<p>Bonjour Chloé,</p>" in message.get_body(preferencelist=("html",)).get_content()
    sender = parseaddr(smtp_app.config["MAIL_DEFAULT_SENDER"])[1]
    assert smtp_sink.envelopes == [(sender, ["chloe@example.org"])]


def test_an_unreachable_smtp_server_leaves_the_mail_pending(app, db_session, monkeypatch):
    from grants.core.mail_tasks import send_mail
    from grants.core.models import MailStatus, OutgoingMail
    from tests.fixtures.services import free_port

    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nobody listens there
    mail_id = _pending_mail(db_session)

    with pytest.raises(ConnectionRefusedError):
        send_mail.run(mail_id)  # called directly, Celery's retry re-raises the cause

    row = db_session.get(OutgoingMail, mail_id)
    db_session.refresh(row)
    assert row.status == MailStatus.pending
    assert row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error
