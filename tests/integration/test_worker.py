"""A real ``celery -A worker worker`` process executes what the web app enqueues.

On the embedded run the worker shares the filesystem broker and the SQLite file of the
test app and writes to its mail sink; on the services run (TEST_DATABASE_URL,
TEST_REDIS_URL, TEST_SMTP) it uses PostgreSQL and Redis and sends over SMTP to a real
server. ``/healthz`` reports which backends were used, so the run proves which services
were exercised.
"""

from __future__ import annotations

import os
import re
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tests.fixtures.services import wait_until

pytestmark = pytest.mark.integration

SEND_RECEIVED = re.compile(r"Task grants\.mail\.send\[[0-9a-f-]+\] received")
SEND_DONE = re.compile(r"Task grants\.mail\.send\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: '(\w+)'")


def _address(name: str) -> str:
    """A recipient unique to the test: the sinks are shared by the whole module."""
    return f"{name}-{uuid.uuid4().hex[:8]}@example.org"


def _mail_rows(app, recipient: str):
    from grants.core.models import OutgoingMail
    from grants.extensions import db

    with app.app_context():
        rows = db.session.scalars(
            sa.select(OutgoingMail).where(OutgoingMail.recipient == recipient)
        ).all()
        db.session.remove()
        return rows


def _wait_sent(app, recipient: str, worker, timeout: float = 20.0):
    def _sent():
        rows = _mail_rows(app, recipient)
        return rows if rows and all(r.status == "sent" for r in rows) else None

    rows = wait_until(_sent, timeout)
    if not rows:
        pytest.fail(
            f"the mail to {recipient} is not marked sent after {timeout} s "
            f"({_mail_rows(app, recipient)!r}); worker log:\n{worker.log_tail()}"
        )
    return rows


def _queue_confirmation(recipient: str):
    """``queue_mail`` as an operation calls it (a real e-mail template)."""
    from grants.core.mail import queue_mail

    user = SimpleNamespace(display_name="Alice Martin", email=recipient)
    return queue_mail(
        recipient,
        "Confirmez votre adresse e-mail",
        "accounts/confirm",
        user=user,
        link="http://127.0.0.1:5000/confirmer/essai",
        hours=48,
    )


def test_registration_mail_is_sent_by_the_worker(app, client, get_csrf, celery_worker):
    email = _address("nouvelle")
    token = get_csrf(client, "/inscription")
    response = client.post(
        "/inscription",
        data={
            "full_name": "Nouvelle Porteuse",
            "email": email,
            "password": "un mot de passe assez long",
            "password_confirm": "un mot de passe assez long",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]

    message = celery_worker.wait_for_mail(email)
    assert str(message["Subject"]) == "Confirmez votre adresse e-mail"
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "/confirmer/" in body
    [row] = _wait_sent(app, email, celery_worker)
    assert row.attempts == 1
    assert row.sent_at is not None


def test_task_enqueued_in_a_request_is_run_by_the_worker(app, celery_worker):
    from grants.extensions import db

    email = _address("alice")
    with app.test_request_context("/", method="POST"):
        _queue_confirmation(email)
        db.session.commit()
        db.session.remove()

    message = celery_worker.wait_for_mail(email)
    assert "Alice Martin" in message.get_body(preferencelist=("plain",)).get_content()
    _wait_sent(app, email, celery_worker)


def test_task_enqueued_in_a_rolled_back_transaction_is_never_run(app, celery_worker):
    from grants.extensions import db

    offset = celery_worker.log_size()
    rolled_back = _address("annule")
    with app.test_request_context("/", method="POST"):
        _queue_confirmation(rolled_back)
        db.session.rollback()
        db.session.remove()
    # A committed mail afterwards: once the worker has sent it, it has received
    # everything that was published before it.
    marker = _address("temoin")
    with app.test_request_context("/", method="POST"):
        _queue_confirmation(marker)
        db.session.commit()
        db.session.remove()

    celery_worker.wait_for_mail(marker)
    _wait_sent(app, marker, celery_worker)
    log = celery_worker.log_since(offset)
    assert len(SEND_RECEIVED.findall(log)) == 1, log
    assert SEND_DONE.findall(log) == ["sent"], log
    assert not [m for m in celery_worker.mails() if rolled_back in str(m["To"])]
    assert _mail_rows(app, rolled_back) == []


def test_a_task_delivered_twice_sends_one_mail(app, celery_worker):
    """At-least-once delivery: a redelivered send_mail must not send the mail again."""
    from grants.core.mail_tasks import send_mail
    from grants.extensions import db

    offset = celery_worker.log_size()
    email = _address("double")
    with app.app_context():
        from grants.core.models import OutgoingMail

        mail = OutgoingMail(
            message_id=f"<{uuid.uuid4().hex}@test.example>",
            recipient=email,
            subject="Deux fois",
            text_body="Un seul envoi attendu.\n",
        )
        db.session.add(mail)
        db.session.commit()  # committed without a task: the test sends it twice below
        mail_id = mail.id
        db.session.remove()

    send_mail.delay(mail_id)
    send_mail.delay(mail_id)

    done = wait_until(lambda: len(SEND_DONE.findall(celery_worker.log_since(offset))) >= 2, 20)
    log = celery_worker.log_since(offset)
    assert done, f"the two deliveries did not both run; worker log:\n{log}"
    assert sorted(SEND_DONE.findall(log)) == ["sent", "skipped"], log
    assert len([m for m in celery_worker.mails() if email in str(m["To"])]) == 1
    [row] = _wait_sent(app, email, celery_worker)
    assert row.attempts == 1


def test_healthz_sees_the_worker_and_the_services_in_use(client, celery_worker):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok", body
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["worker"]["ok"] is True
    assert celery_worker.node in body["worker"]["workers"]
    expected_db = "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"
    expected_broker = "redis" if os.environ.get("TEST_REDIS_URL") else "filesystem"
    assert body["database"]["dialect"] == expected_db
    assert body["broker"]["transport"] == expected_broker


def test_worker_mail_goes_through_the_configured_backend(celery_worker):
    """The services run (TEST_SMTP) sends over SMTP; the embedded run writes files."""
    expected = "smtp" if os.environ.get("TEST_SMTP") else "file"
    assert celery_worker.mail_backend == expected
    assert "Traceback" not in celery_worker.log(), celery_worker.log_tail()
