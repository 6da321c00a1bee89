"""``enqueue_after_commit``: a task leaves only when its transaction commits, once."""

from __future__ import annotations

import logging
import uuid

import pytest
import sqlalchemy as sa


class FakeTask:
    """Stands for a Celery task: records what would have been published."""

    name = "tests.fake"

    def __init__(self, fail: bool = False):
        self.sent: list[tuple[tuple, dict]] = []
        self.fail = fail

    def apply_async(self, args=(), kwargs=None, **options):
        if self.fail:
            raise ConnectionRefusedError("broker down")
        self.sent.append((tuple(args), dict(kwargs or {})))


def _mail(message_id: str | None = None):
    from grants.core.models import OutgoingMail

    return OutgoingMail(
        message_id=message_id or f"<{uuid.uuid4().hex}@test.example>",
        recipient="someone@example.org",
        subject="Essai",
        text_body="Essai\n",
    )


def test_sent_after_commit_not_before(db_session):
    from grants.core.tasks import enqueue_after_commit

    task = FakeTask()
    db_session.add(_mail())
    enqueue_after_commit(db_session, task, 7, mode="x")
    db_session.flush()
    assert task.sent == []

    db_session.commit()

    assert task.sent == [((7,), {"mode": "x"})]


def test_dropped_after_rollback(db_session):
    from grants.core.tasks import enqueue_after_commit

    task = FakeTask()
    db_session.add(_mail())
    enqueue_after_commit(db_session, task, 1)
    db_session.rollback()
    db_session.commit()  # the next transaction does not inherit it

    assert task.sent == []


def test_not_sent_twice(db_session):
    from grants.core.tasks import enqueue_after_commit

    task = FakeTask()
    enqueue_after_commit(db_session, task, 1)
    enqueue_after_commit(db_session, task, 2)
    db_session.commit()
    db_session.commit()

    assert task.sent == [((1,), {}), ((2,), {})]


def test_dropped_when_the_commit_itself_fails(db_session):
    from grants.core.tasks import enqueue_after_commit

    db_session.add(_mail("<same@test.example>"))
    db_session.commit()
    task = FakeTask()
    db_session.add(_mail("<same@test.example>"))  # violates the unique Message-ID
    enqueue_after_commit(db_session, task, 1)

    with pytest.raises(sa.exc.IntegrityError):
        db_session.commit()
    db_session.rollback()
    db_session.commit()

    assert task.sent == []


def test_a_broker_failure_does_not_undo_the_commit(app, db_session, caplog):
    from grants.core.models import MailStatus, OutgoingMail
    from grants.core.tasks import enqueue_after_commit

    mail = _mail()
    db_session.add(mail)
    enqueue_after_commit(db_session, FakeTask(fail=True), 1)

    with caplog.at_level(logging.ERROR, logger="grants.core.tasks"):
        db_session.commit()

    db_session.expire_all()
    assert db_session.get(OutgoingMail, mail.id).status == MailStatus.pending  # for the sweeper
    assert "could not enqueue tests.fake" in caplog.text


def test_dropped_with_a_rolled_back_savepoint(db_session):
    from grants.core.tasks import enqueue_after_commit

    kept, dropped = FakeTask(), FakeTask()
    enqueue_after_commit(db_session, kept, "outer")
    savepoint = db_session.begin_nested()
    db_session.add(_mail())
    enqueue_after_commit(db_session, dropped, "inner")
    savepoint.rollback()
    db_session.commit()

    assert kept.sent == [(("outer",), {})]
    assert dropped.sent == []


def test_released_savepoint_waits_for_the_outer_transaction(db_session):
    from grants.core.tasks import enqueue_after_commit

    task = FakeTask()
    with db_session.begin_nested():
        db_session.add(_mail())
        enqueue_after_commit(db_session, task, "inner")
    assert task.sent == []
    db_session.rollback()
    db_session.commit()

    assert task.sent == []


def test_released_savepoint_inside_a_rolled_back_one(db_session):
    from grants.core.tasks import enqueue_after_commit

    task = FakeTask()
    outer = db_session.begin_nested()
    with db_session.begin_nested():
        enqueue_after_commit(db_session, task, "deep")
    outer.rollback()
    db_session.commit()

    assert task.sent == []
