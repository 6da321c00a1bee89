"""Notifications delivered by real ``celery -A worker worker`` processes to a real SMTP server.

The workers share the test app's database and broker: SQLite and the filesystem broker on
the embedded run, PostgreSQL and Redis on the services run (TEST_DATABASE_URL,
TEST_REDIS_URL). Mail always goes over SMTP to an aiosmtpd server of the test, which can
be down, come up, or hold messages at the door while a worker is killed.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from tests.fixtures.services import wait_until

pytestmark = pytest.mark.integration

BATCH_DONE = re.compile(
    r"Task grants\.mail\.send_batch\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: '([^']*)'"
)
SEND_DONE = re.compile(r"Task grants\.mail\.send\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: '(\w+)'")
REMIND_DONE = re.compile(
    r"Task grants\.notifications\.remind_drafts\[[0-9a-f-]+\] succeeded in [0-9.e-]+s: (\S+)"
)


def _statuses(app) -> Counter:
    from grants.core.models import OutgoingMail
    from grants.extensions import db

    with app.app_context():
        rows = db.session.execute(
            sa.select(OutgoingMail.status, sa.func.count()).group_by(OutgoingMail.status)
        ).all()
        db.session.remove()
    return Counter({str(status): count for status, count in rows})


def _mail_rows(app):
    from grants.core.models import OutgoingMail
    from grants.extensions import db

    with app.app_context():
        rows = db.session.scalars(sa.select(OutgoingMail).order_by(OutgoingMail.id)).all()
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
    return rows


def _wait_all_sent(app, total: int, workers, timeout: float, sweep=None):
    def _done():
        if sweep:
            sweep()
        return _statuses(app).get("sent", 0) == total

    if not wait_until(_done, timeout, interval=0.5):
        pytest.fail(f"not all sent after {timeout} s: {_statuses(app)}\n{workers.logs()}")


def _recipients(sink) -> Counter:
    return Counter(str(m["To"]) for m in sink.messages())


def test_a_task_delivered_twice_sends_one_mail_per_recipient(
    app, smtp_server, mail_workers, create_call, bulk_users, notify_now
):
    from grants.core.mail_tasks import send_mail, send_mail_batch

    smtp_server.start()
    worker = mail_workers.start(smtp_server)
    users = bulk_users(5)
    offset = worker.log_size()
    notify_now(create_call(), users)  # the commit enqueues one batch
    ids = [m.id for m in _mail_rows(app)]
    send_mail_batch.delay(ids)  # delivered again
    for mail_id in ids:  # and the sweeper's single tasks, for good measure
        send_mail.delay(mail_id)

    _wait_all_sent(app, 5, mail_workers, 30)
    done = wait_until(
        lambda: (
            len(SEND_DONE.findall(worker.log_since(offset))) == 5
            and len(BATCH_DONE.findall(worker.log_since(offset))) >= 1
        ),
        20,
    )
    log = worker.log_since(offset)
    assert done, log
    # the batch (twice) and the single tasks raced on two processes: one send per row
    batch_sent = sum(
        int(part.split("=")[1])
        for summary in BATCH_DONE.findall(log)
        for part in summary.split()
        if part.startswith("sent=")
    )
    assert batch_sent + SEND_DONE.findall(log).count("sent") == 5, log
    recipients = _recipients(smtp_server.sink)
    assert len(recipients) == 5 and set(recipients.values()) == {1}
    assert all(m.attempts == 1 for m in _mail_rows(app))


def test_a_worker_killed_mid_batch_loses_nothing_and_sends_nothing_twice(
    app, smtp_server, mail_workers, create_call, bulk_users, notify_now, monkeypatch
):
    """SIGKILL while 500 e-mails go out; a new worker and the sweeper finish the job.

    The server holds the 151st message at the door: both pool processes are then blocked
    in the middle of a batch (one row claimed each, the rest of their batch unclaimed,
    more batches queued) when the worker is killed. What is held is refused, never
    accepted — the one window nobody can close (the server accepted, the worker died
    before recording it) is kept out of this test on purpose.
    """
    from grants.core.mail_tasks import sweep_mail
    from grants.extensions import db

    total = 500
    smtp_server.start()
    sink = smtp_server.sink
    sink.hold_after = 150
    worker = mail_workers.start(smtp_server)
    notify_now(create_call(), bulk_users(total))

    held = wait_until(lambda: sink.held >= 2, 40, interval=0.05)
    assert held, f"the workers never reached the 151st message\n{mail_workers.logs()}"
    assert len(sink.messages()) == 150
    mail_workers.kill(worker)
    sink.hold_after = None  # what was held is refused (421); the killed worker never knew
    statuses = _statuses(app)
    assert statuses["sent"] == 150 and statuses["sending"] == 2, statuses
    assert statuses["pending"] == total - 152

    # A new worker takes what is still queued; the sweeper (beat) releases the dead
    # worker's claims and re-enqueues what its lost batches held — fast delays here.
    monkeypatch.setitem(app.config, "MAIL_STALE_CLAIM_SECONDS", 1)
    monkeypatch.setitem(app.config, "MAIL_LOST_PENDING_SECONDS", 1)
    mail_workers.start(smtp_server)
    last = {"t": 0.0}

    def _sweep():
        if time.monotonic() - last["t"] >= 2:
            last["t"] = time.monotonic()
            with app.app_context():
                sweep_mail.run()
                db.session.remove()

    _wait_all_sent(app, total, mail_workers, 45, sweep=_sweep)
    recipients = _recipients(sink)
    assert len(recipients) == total
    assert [address for address, n in recipients.items() if n != 1] == []


def test_smtp_down_then_up_the_mails_go_out_after_retries(
    app, smtp_server, mail_workers, create_call, bulk_users, notify_now
):
    """Nobody listens on the port at first: the batch is retried with backoff (0.5 s base
    here: 1, 2, 4… s); once the server is up, every mail goes out, once."""
    worker = mail_workers.start(smtp_server, MAIL_RETRY_BASE_SECONDS="0.5")
    notify_now(create_call(), bulk_users(3))

    def _tried_twice():
        rows = _mail_rows(app)
        return all(r.attempts >= 2 and r.status == "pending" for r in rows)

    assert wait_until(_tried_twice, 20), f"{_mail_rows(app)!r}\n{worker.log_tail()}"
    assert all("Connection refused" in r.last_error for r in _mail_rows(app))
    smtp_server.start()

    _wait_all_sent(app, 3, mail_workers, 30)
    rows = _mail_rows(app)
    assert all(r.attempts >= 3 for r in rows)
    recipients = _recipients(smtp_server.sink)
    assert len(recipients) == 3 and set(recipients.values()) == {1}


def test_beat_firing_twice_at_once_sends_one_reminder(
    app,
    smtp_server,
    mail_workers,
    create_user,
    create_organisation,
    create_call,
    create_application,
):
    """Two runs of the draft reminder on the two pool processes at once: one e-mail each."""
    from grants.core.db import utcnow
    from grants.notifications.models import Notification
    from grants.notifications.tasks import remind_drafts

    smtp_server.start()
    worker = mail_workers.start(smtp_server)
    members = [create_user(email="alice@example.org"), create_user(email="bob@example.org")]
    org_id = create_organisation(member_ids=members)
    from datetime import timedelta

    call_id = create_call(closes_at=utcnow() + timedelta(hours=30))
    create_application(call_id, org_id, title="Atelier vélo")
    offset = worker.log_size()

    remind_drafts.delay()
    remind_drafts.delay()

    assert wait_until(lambda: len(REMIND_DONE.findall(worker.log_since(offset))) == 2, 30), (
        worker.log_since(offset)
    )
    results = sorted(REMIND_DONE.findall(worker.log_since(offset)))
    assert results in (["0", "2"], ["'locked'", "2"]), results
    _wait_all_sent(app, 2, mail_workers, 20)
    assert _recipients(smtp_server.sink) == {"alice@example.org": 1, "bob@example.org": 1}
    from grants.extensions import db

    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 2
        db.session.remove()
