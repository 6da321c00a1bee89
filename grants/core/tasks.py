"""Enqueue Celery tasks only once the database transaction that asked for them commits.

A task enqueued inside a transaction that rolls back is never sent: the worker could
otherwise act on rows that do not exist (DESIGN §9). The same holds for a SAVEPOINT
(``begin_nested``): a task asked for inside a savepoint that is rolled back is dropped,
one asked for inside a savepoint that is released waits for the outer commit.
"""

from __future__ import annotations

import logging

from celery import Task
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)
_KEY = "grants_after_commit_tasks"


def enqueue_after_commit(session, task: Task, *args, **kwargs) -> None:
    """Send ``task`` when ``session`` commits; forget it if its transaction rolls back."""
    real = session() if callable(session) and not isinstance(session, Session) else session
    owner = real.get_nested_transaction()  # None outside any savepoint
    real.info.setdefault(_KEY, []).append((owner, task, args, kwargs))


def _within(owner: SessionTransaction | None, transaction: SessionTransaction) -> bool:
    """Whether ``owner`` is ``transaction`` or one of the savepoints opened inside it."""
    while owner is not None:
        if owner is transaction:
            return True
        owner = owner.parent
    return False


def install(session) -> None:
    @event.listens_for(session, "after_commit")
    def _send(sess: Session) -> None:
        if sess.in_nested_transaction():
            return  # a released savepoint: the outer transaction is still open
        entries = sess.info.pop(_KEY, [])
        for _owner, task, args, kwargs in entries:
            try:
                task.apply_async(args=args, kwargs=kwargs)
            except Exception:  # broker down: the rows stay pending for a sweeper
                log.exception("could not enqueue %s", task.name)

    @event.listens_for(session, "after_soft_rollback")
    def _drop(sess: Session, previous_transaction: SessionTransaction) -> None:
        entries = sess.info.get(_KEY)
        if not entries:
            return
        if previous_transaction.nested:
            sess.info[_KEY] = [e for e in entries if not _within(e[0], previous_transaction)]
        elif previous_transaction.parent is None:
            sess.info.pop(_KEY, None)
