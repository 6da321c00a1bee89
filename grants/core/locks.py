"""Leases that keep two runs of a periodic task from overlapping, on any database.

Celery beat may fire a task twice (two beats by mistake, a slow run overtaken by the next
tick, a redelivered message): the task takes a lease row in ``task_lock`` first. Taking it
is one ``INSERT … ON CONFLICT DO NOTHING`` or, when the row exists, a conditional
``UPDATE`` of a lease that has expired (its holder died), each committed at once; the
lease is deleted at the end. The work itself must still be idempotent — the lease only
avoids doing it twice at the same time.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from grants.core.db import utcnow
from grants.extensions import db

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=15)


def _insert(model):
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(model)


def acquire(name: str, lease: timedelta = DEFAULT_LEASE) -> str | None:
    """Take the lease ``name``; the owner token, or None when another run holds it."""
    from grants.notifications.models import TaskLock

    db.session.rollback()  # a fresh transaction: the lease is committed on its own
    owner = uuid.uuid4().hex
    now = utcnow()
    taken = db.session.execute(
        _insert(TaskLock)
        .values(name=name, owner=owner, locked_until=now + lease)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(TaskLock.name)
    ).scalar()
    if taken is None:
        result = db.session.execute(
            sa.update(TaskLock)
            .where(TaskLock.name == name, TaskLock.locked_until < now)
            .values(owner=owner, locked_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        taken = name if result.rowcount == 1 else None
    db.session.commit()
    return owner if taken else None


def release(name: str, owner: str) -> None:
    from grants.notifications.models import TaskLock

    db.session.rollback()
    db.session.execute(
        sa.delete(TaskLock)
        .where(TaskLock.name == name, TaskLock.owner == owner)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


@contextmanager
def locked(name: str, lease: timedelta = DEFAULT_LEASE) -> Iterator[bool]:
    """``with locked(name) as acquired:`` — ``acquired`` False means: skip this run."""
    owner = acquire(name, lease)
    if owner is None:
        log.info("%s is running elsewhere: this run is skipped", name)
        yield False
        return
    try:
        yield True
    finally:
        release(name, owner)


def locked_task(name: str | None = None, lease: timedelta = DEFAULT_LEASE) -> Callable:
    """Decorate a periodic task's function: it runs only when it holds the lease.

    Put it under ``@shared_task``; a skipped run returns ``"locked"``.
    """

    def decorator(func: Callable) -> Callable:
        lock_name = name or f"{func.__module__}.{func.__name__}"

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with locked(lock_name, lease) as acquired:
                if not acquired:
                    return "locked"
                return func(*args, **kwargs)

        return wrapper

    return decorator
