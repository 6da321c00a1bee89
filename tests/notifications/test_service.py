"""The notification service and the mail ledger, in-process (the worker's code run here).

Real SMTP where it matters: ``smtp_sink`` (aiosmtpd on 127.0.0.1) and a port where nobody
listens for "the server is down".
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.fixtures.accounts import mail_text
from tests.fixtures.services import free_port


def _rows(app, model, *where):
    from grants.extensions import db

    with app.app_context():
        rows = db.session.scalars(sa.select(model).where(*where).order_by(model.id)).all()
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
    return rows


def _mail_rows(app):
    from grants.core.models import OutgoingMail

    return _rows(app, OutgoingMail)


def _notifications(app):
    from grants.notifications.models import Notification

    return _rows(app, Notification)


@pytest.fixture
def published_tasks(monkeypatch):
    """What would have been published to the broker: (task name, args)."""
    from celery import Task

    sent: list[tuple[str, tuple]] = []

    def _apply_async(self, args=None, kwargs=None, **options):
        sent.append((self.name, tuple(args or ())))

    monkeypatch.setattr(Task, "apply_async", _apply_async)
    return sent


@pytest.fixture
def smtp_app(app, smtp_sink, monkeypatch):
    smtp_sink.clear()
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", smtp_sink.host)
    monkeypatch.setitem(app.config, "MAIL_PORT", smtp_sink.port)
    return app


@pytest.fixture
def smtp_down(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())  # nobody listens there


def test_one_row_and_one_mail_per_recipient_and_occurrence(
    app, create_call, create_user, notify_now, published_tasks
):
    call_id = create_call(title="Appel ESS 2026")
    alice = create_user(email="alice@example.org", full_name="Alice Martin")
    bob = create_user(email="bob@example.org")

    first = notify_now(call_id, [alice, bob, alice], occurrence="2026-05-01")
    again = notify_now(call_id, [alice, bob], occurrence="2026-05-01")
    other = notify_now(call_id, [alice], occurrence="2026-05-15")

    assert len(first) == 2 and again == [] and len(other) == 1
    rows = _notifications(app)
    assert [(r.recipient_id, r.occurrence) for r in rows] == [
        (alice, "2026-05-01"),
        (bob, "2026-05-01"),
        (alice, "2026-05-15"),
    ]
    assert rows[0].subject == "Clôture reportée : Appel ESS 2026"
    assert "Bonjour Alice Martin" in rows[0].body
    assert rows[0].link.startswith(app.config["PUBLIC_BASE_URL"])
    mails = _mail_rows(app)
    assert Counter(m.recipient for m in mails) == {"alice@example.org": 2, "bob@example.org": 1}
    assert {r.mail_id for r in rows} == {m.id for m in mails}
    # two recipients at once: one batch task; a single one: one send task
    assert published_tasks == [
        ("grants.mail.send_batch", ([rows[0].mail_id, rows[1].mail_id],)),
        ("grants.mail.send", (rows[2].mail_id,)),
    ]


def test_disabled_users_are_not_notified(app, create_call, create_user, notify_now):
    from grants.accounts.models import User
    from grants.extensions import db

    call_id = create_call()
    gone = create_user(email="parti@example.org")
    with app.app_context():
        db.session.get(User, gone).is_disabled = True
        db.session.commit()
        db.session.remove()

    assert notify_now(call_id, [gone]) == []
    assert _notifications(app) == [] and _mail_rows(app) == []


def test_nothing_is_written_or_sent_when_the_change_rolls_back(
    app, create_call, create_user, published_tasks
):
    from grants.accounts.models import User
    from grants.calls.models import Call
    from grants.extensions import db
    from grants.notifications.operations import notify

    call_id = create_call()
    alice = create_user()
    with app.app_context():
        call = db.session.get(Call, call_id)
        notify(
            "call.closing_extended",
            call,
            [db.session.get(User, alice)],
            subject="Clôture reportée",
            template="calls/closing_extended",
            context={
                "call": call,
                "applications": [],
                "old_closes": call.closes_at,
                "new_closes": call.closes_at,
            },
            occurrence="x",
        )
        db.session.rollback()
        db.session.remove()

    assert _notifications(app) == [] and _mail_rows(app) == []
    assert published_tasks == []


def test_a_reminder_respects_the_preference_an_essential_mail_does_not(
    app, create_call, create_user, notify_now
):
    from grants.extensions import db
    from grants.notifications.models import NotificationPreference

    call_id = create_call()
    quiet = create_user(email="calme@example.org")
    normal = create_user(email="normal@example.org")
    with app.app_context():
        db.session.add(NotificationPreference(user_id=quiet, email_reminders=False))
        db.session.commit()
        db.session.remove()

    notify_now(call_id, [quiet, normal], occurrence="rappel", essential=False)
    notify_now(call_id, [quiet, normal], occurrence="essentiel", essential=True)

    rows = {(r.recipient_id, r.occurrence): r for r in _notifications(app)}
    assert len(rows) == 4  # everything is in the inbox
    assert rows[(quiet, "rappel")].mail_id is None
    assert rows[(quiet, "rappel")].essential is False
    assert rows[(quiet, "essentiel")].mail_id is not None
    assert rows[(normal, "rappel")].mail_id is not None
    assert Counter(m.recipient for m in _mail_rows(app)) == {
        "calme@example.org": 1,
        "normal@example.org": 2,
    }


def test_a_batch_sends_each_row_once_over_smtp(
    smtp_app, smtp_sink, create_call, create_user, notify_now
):
    from grants.core.mail_tasks import send_mail, send_mail_batch

    call_id = create_call()
    users = [create_user(email=f"m{i}@example.org") for i in range(3)]
    notify_now(call_id, users)
    ids = [m.id for m in _mail_rows(smtp_app)]

    with smtp_app.app_context():
        assert send_mail_batch.run(ids) == "sent=3"
        assert send_mail_batch.run(ids) == "skipped=3"  # a redelivered batch
        assert send_mail.run(ids[0]) == "skipped"  # the sweeper's single task

    received = smtp_sink.messages()
    assert sorted(str(m["To"]) for m in received) == [f"m{i}@example.org" for i in range(3)]
    # one connection for the batch: one envelope per message, all accepted
    assert len(smtp_sink.envelopes) == 3
    assert all(m.status == "sent" and m.attempts == 1 for m in _mail_rows(smtp_app))
    assert "Clôture reportée" in str(received[0]["Subject"])
    assert mail_text(received[0]).startswith("Bonjour")


def test_a_refused_recipient_does_not_hold_the_others(
    app, create_call, create_user, notify_now, monkeypatch
):
    """A 550 on one address fails that row only; the batch goes on over the same link."""
    from aiosmtpd.controller import Controller

    from grants.core.mail_tasks import send_mail_batch
    from tests.fixtures.services import SmtpSink

    class Refusing(SmtpSink):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
            if address.startswith("refus"):
                return "550 5.1.1 Mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    sink = Refusing("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port, ready_timeout=10)
    controller.start()
    try:
        monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
        monkeypatch.setitem(app.config, "MAIL_SERVER", sink.host)
        monkeypatch.setitem(app.config, "MAIL_PORT", sink.port)
        call_id = create_call()
        users = [
            create_user(email="a@example.org"),
            create_user(email="refuse@example.org"),
            create_user(email="c@example.org"),
        ]
        notify_now(call_id, users)
        ids = [m.id for m in _mail_rows(app)]
        with app.app_context(), pytest.raises(Exception, match="refuse@example.org"):
            send_mail_batch.run(ids)  # retries the refused row (re-raised when run directly)
    finally:
        controller.stop()

    assert sorted(str(m["To"]) for m in sink.messages()) == ["a@example.org", "c@example.org"]
    status = {m.recipient: (m.status, m.attempts) for m in _mail_rows(app)}
    assert status == {
        "a@example.org": ("sent", 1),
        "refuse@example.org": ("pending", 1),
        "c@example.org": ("sent", 1),
    }


def test_an_unreachable_server_counts_an_attempt_for_the_whole_batch_then_fails_it(
    app, smtp_down, create_call, create_user, notify_now
):
    from grants.core.mail_tasks import MAX_ATTEMPTS, send_mail_batch

    call_id = create_call()
    notify_now(call_id, [create_user(), create_user()])
    ids = [m.id for m in _mail_rows(app)]

    for attempt in range(1, MAX_ATTEMPTS + 1):
        with app.app_context():
            if attempt < MAX_ATTEMPTS:
                with pytest.raises(ConnectionRefusedError):
                    send_mail_batch.run(ids)
            else:
                assert send_mail_batch.run(ids) == "deferred=1 failed=1"
        rows = _mail_rows(app)
        assert [r.attempts for r in rows] == [attempt, attempt]
    assert [r.status for r in rows] == ["failed", "failed"]
    assert all("ConnectionRefusedError" in r.last_error for r in rows)


def test_a_single_mail_fails_after_max_attempts(app, smtp_down, create_call, create_user):
    from grants.core.mail import queue_mail
    from grants.core.mail_tasks import MAX_ATTEMPTS, send_mail
    from grants.extensions import db

    with app.app_context():
        mail_id = queue_mail(
            "x@example.org", "Essai", "accounts/password_changed", user=None, link="http://x"
        ).id
        db.session.commit()
        for _ in range(MAX_ATTEMPTS - 1):
            with pytest.raises(ConnectionRefusedError):
                send_mail.run(mail_id)
        assert send_mail.run(mail_id) == "failed"
        assert send_mail.run(mail_id) == "skipped"  # a failed row is not sent by a redelivery
        db.session.remove()
    [row] = _mail_rows(app)
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)


def test_the_backoff_is_short_and_configurable(app, monkeypatch):
    from grants.core.mail_tasks import backoff

    with app.app_context():
        assert [backoff(n) for n in range(1, 6)] == [10, 20, 40, 80, 120]
        monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 0.5)
        assert backoff(1) == 1


def test_the_sweeper_releases_stale_claims_and_reenqueues_lost_rows(
    app, create_call, create_user, notify_now, published_tasks, monkeypatch
):
    from grants.core.db import utcnow
    from grants.core.mail_tasks import sweep_mail
    from grants.core.models import MailStatus, OutgoingMail
    from grants.extensions import db

    call_id = create_call()
    notify_now(call_id, [create_user() for _ in range(4)])
    ids = [m.id for m in _mail_rows(app)]
    published_tasks.clear()
    old = utcnow() - timedelta(minutes=30)
    with app.app_context():
        # a dead worker's claim, a row whose task was lost, one just queued, one sent
        db.session.execute(
            sa.update(OutgoingMail)
            .where(OutgoingMail.id == ids[0])
            .values(status=MailStatus.sending, claimed_at=old, created_at=old)
        )
        db.session.execute(
            sa.update(OutgoingMail).where(OutgoingMail.id == ids[1]).values(created_at=old)
        )
        db.session.execute(
            sa.update(OutgoingMail)
            .where(OutgoingMail.id == ids[3])
            .values(status=MailStatus.sent, sent_at=old, created_at=old)
        )
        db.session.commit()
        assert sweep_mail.run() == 2
        db.session.remove()
    assert published_tasks == [("grants.mail.send_batch", ([ids[0], ids[1]],))]
    assert [m.status for m in _mail_rows(app)] == ["pending", "pending", "pending", "sent"]

    # the delays come from the configuration (the tests make them short)
    published_tasks.clear()
    monkeypatch.setitem(app.config, "MAIL_LOST_PENDING_SECONDS", 0)
    with app.app_context():
        assert sweep_mail.run() == 3
        db.session.remove()


def test_a_claimed_row_is_not_sent_by_another_delivery(app, create_call, create_user, notify_now):
    from grants.core.db import utcnow
    from grants.core.mail_tasks import send_mail
    from grants.core.models import MailStatus, OutgoingMail
    from grants.extensions import db

    call_id = create_call()
    notify_now(call_id, [create_user()])
    [mail] = _mail_rows(app)
    with app.app_context():
        db.session.execute(
            sa.update(OutgoingMail)
            .where(OutgoingMail.id == mail.id)
            .values(status=MailStatus.sending, claimed_at=utcnow())
        )
        db.session.commit()
        assert send_mail.run(mail.id) == "skipped"  # another worker is sending it
        db.session.remove()


# --- leases -----------------------------------------------------------------------------------


def test_a_lease_is_held_once_and_taken_over_when_expired(app):
    from grants.core.locks import acquire, release
    from grants.extensions import db

    with app.app_context():
        owner = acquire("essai", timedelta(minutes=5))
        assert owner is not None
        assert acquire("essai", timedelta(minutes=5)) is None
        release("essai", owner)
        again = acquire("essai", timedelta(seconds=-1))  # taken, already expired
        assert again is not None
        taker = acquire("essai", timedelta(minutes=5))  # its holder is presumed dead
        assert taker is not None and taker != again
        release("essai", again)  # the old holder can't release the new lease
        assert acquire("essai", timedelta(minutes=5)) is None
        release("essai", taker)
        db.session.remove()


def test_a_locked_task_skips_while_another_run_holds_the_lease(app):
    from grants.core.locks import acquire, locked_task, release
    from grants.extensions import db

    calls = []

    @locked_task("essai.tache")
    def task():
        calls.append(1)
        return "ran"

    with app.app_context():
        owner = acquire("essai.tache")
        assert task() == "locked"
        release("essai.tache", owner)
        assert task() == "ran"
        assert task() == "ran"  # released at the end of each run
        db.session.remove()
    assert calls == [1, 1]
