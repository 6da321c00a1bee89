"""Enqueue Celery tasks only once the database transaction that asked for them commits.

A task enqueued inside a transaction that rolls back is never sent: the worker could
otherwise act on rows that do not exist (DESIGN §9).
"""

from __future__ import annotations

import logging

from celery import Task
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
_KEY = "grants_after_commit_tasks"


def enqueue_after_commit(session, task: Task, *args, **kwargs) -> None:
    """Send ``task`` when ``session`` commits; forget it if the session rolls back."""
    session.info.setdefault(_KEY, []).append((task, args, kwargs))


def install(session) -> None:
    @event.listens_for(session, "after_commit")
    def _send(sess: Session) -> None:
        tasks = sess.info.pop(_KEY, [])
        for task, args, kwargs in tasks:
            try:
                task.apply_async(args=args, kwargs=kwargs)
            except Exception:  # broker down: the rows stay pending for a sweeper
                log.exception("could not enqueue %s", task.name)

    @event.listens_for(session, "after_soft_rollback")
    def _drop(sess: Session, previous_transaction) -> None:
        if previous_transaction.parent is None and not previous_transaction.nested:
            sess.info.pop(_KEY, None)
