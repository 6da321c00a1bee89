"""The worker side of :mod:`grants.core.mail`.

Each row is *claimed* with a conditional UPDATE (pending → sending, committed) before it
is sent, so two deliveries of the same task — a retry, a redelivery after a worker died,
the sweeper — cannot both send it; it is marked sent in its own commit right after the
SMTP server accepted it. A failed send goes back to pending with ``attempts + 1`` and is
retried with a short backoff; after ``MAX_ATTEMPTS`` it is ``failed`` (the staff outbox
shows it, with a resend action).

``send_mail_batch`` sends many rows over one SMTP connection, each row claimed on its own:
a batch cut short by a dead worker leaves the rows it had not reached pending and at most
one row claimed. The sweeper (Celery beat) puts stale claims back to pending and
re-enqueues pending rows whose task was lost, so nothing is lost. The one window left is
a crash between the SMTP server's acceptance and the commit of ``sent``: that message may
go out twice, which SMTP cannot prevent.

Delays can be set (configuration, else environment) for tests and small deployments:
``MAIL_STALE_CLAIM_SECONDS`` (600), ``MAIL_LOST_PENDING_SECONDS`` (120) and
``MAIL_RETRY_BASE_SECONDS`` (5: retries after 10, 20, 40, 80, 120 s).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from celery import shared_task
from flask import current_app

from grants.core.db import utcnow
from grants.core.models import MailStatus, OutgoingMail
from grants.extensions import db

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
#: long countdowns are unsafe on Redis (DESIGN §9): retries stay within two minutes
MAX_COUNTDOWN = 120
#: rows re-enqueued by one sweep
SWEEP_LIMIT = 1000


def setting(name: str, default: float) -> float:
    """A delay from the app configuration, else the environment (the worker's), else default."""
    value = current_app.config.get(name)
    if value in (None, ""):
        value = os.environ.get(name)
    return float(value) if value not in (None, "") else float(default)


def stale_claim() -> timedelta:
    """A claim older than this belongs to a dead worker."""
    return timedelta(seconds=setting("MAIL_STALE_CLAIM_SECONDS", 600))


def lost_pending() -> timedelta:
    """A pending row older than this lost its task (e.g. broker down at enqueue time)."""
    return timedelta(seconds=setting("MAIL_LOST_PENDING_SECONDS", 120))


def backoff(attempts: int) -> float:
    return min(MAX_COUNTDOWN, setting("MAIL_RETRY_BASE_SECONDS", 5) * 2**attempts)


@dataclass
class Outcome:
    #: sent, skipped (not claimable: sent, failed or claimed by another), retry or failed
    status: str
    attempts: int = 0
    error: Exception | None = None


#: what the sender needs of a row, returned by the claim itself
_CLAIM_COLUMNS = (
    OutgoingMail.id,
    OutgoingMail.message_id,
    OutgoingMail.recipient,
    OutgoingMail.subject,
    OutgoingMail.text_body,
    OutgoingMail.html_body,
    OutgoingMail.attachment_key,
    OutgoingMail.attachment_name,
    OutgoingMail.attempts,
)


def _claim(conn: sa.Connection, mail_id: int):
    """Claim the row for this worker (committed); (row, claim time), or None when it is
    sent, failed, or claimed by a live worker."""
    now = utcnow()
    if conn.dialect.name == "postgresql":
        # The claim needs no flush to disk of its own: if PostgreSQL crashed before the
        # WAL reached the disk, the row would simply be pending again, and the "sent"
        # commit that follows a delivery is synchronous (it flushes the claim with it).
        conn.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))
    row = conn.execute(
        sa.update(OutgoingMail)
        .where(
            OutgoingMail.id == mail_id,
            sa.or_(
                OutgoingMail.status == MailStatus.pending,
                sa.and_(
                    OutgoingMail.status == MailStatus.sending,
                    OutgoingMail.claimed_at < now - stale_claim(),
                ),
            ),
        )
        .values(status=MailStatus.sending, claimed_at=now)
        .returning(*_CLAIM_COLUMNS)
    ).first()
    conn.commit()
    return None if row is None else (row, now)


def _ours(mail_id: int, claimed_at: datetime):
    return sa.and_(
        OutgoingMail.id == mail_id,
        OutgoingMail.status == MailStatus.sending,
        OutgoingMail.claimed_at == claimed_at,
    )


def _describe(exc: BaseException) -> str:
    return f"{exc.__class__.__name__}: {exc}"[:2000]


def _record_failure(
    conn: sa.Connection, mail_id: int, claimed_at: datetime, attempts: int, exc: Exception
) -> Outcome:
    conn.rollback()
    failed = attempts >= MAX_ATTEMPTS
    conn.execute(
        sa.update(OutgoingMail)
        .where(_ours(mail_id, claimed_at))
        .values(
            attempts=attempts,
            last_error=_describe(exc),
            status=MailStatus.failed if failed else MailStatus.pending,
            claimed_at=None,
        )
    )
    conn.commit()
    if failed:
        log.warning("mail %s failed for good after %s attempts: %s", mail_id, attempts, exc)
    return Outcome("failed" if failed else "retry", attempts, exc)


def send_one(conn: sa.Connection, mail_id: int, transport) -> Outcome:
    """Claim, send and record one row, each step committed on its own.

    Runs on one connection for a whole batch (no pool checkout per commit); no
    transaction is open during the SMTP exchange.
    """
    from grants.core.mail import build_message

    claimed = _claim(conn, mail_id)
    if claimed is None:
        return Outcome("skipped")
    row, claimed_at = claimed
    attempts = row.attempts + 1
    try:
        transport.send(build_message(row))
    except Exception as exc:  # SMTP, or the attached file missing from the storage
        return _record_failure(conn, mail_id, claimed_at, attempts, exc)
    result = conn.execute(
        sa.update(OutgoingMail)
        .where(_ours(mail_id, claimed_at))
        .values(status=MailStatus.sent, sent_at=utcnow(), claimed_at=None, attempts=attempts)
    )
    conn.commit()
    if result.rowcount != 1:  # the claim was taken over (stale): it may go out twice
        log.warning("mail %s was sent but its claim had been released", mail_id)
    return Outcome("sent", attempts)


def _defer(conn: sa.Connection, mail_ids: list[int], exc: Exception) -> list[int]:
    """The server is unreachable: count a failed attempt for the rows of the batch not
    tried yet (still pending); those not failed for good wait for the batch's retry."""
    if not mail_ids:
        return []
    attempts = OutgoingMail.attempts + 1
    conn.execute(
        sa.update(OutgoingMail)
        .where(OutgoingMail.id.in_(mail_ids), OutgoingMail.status == MailStatus.pending)
        .values(
            attempts=attempts,
            last_error=_describe(exc),
            status=sa.case(
                (attempts >= MAX_ATTEMPTS, MailStatus.failed.value),
                else_=MailStatus.pending.value,
            ),
        )
    )
    still = conn.scalars(
        sa.select(OutgoingMail.id)
        .where(OutgoingMail.id.in_(mail_ids), OutgoingMail.status == MailStatus.pending)
        .order_by(OutgoingMail.id)
    ).all()
    conn.commit()
    return list(still)


@shared_task(bind=True, name="grants.mail.send", max_retries=MAX_ATTEMPTS)
def send_mail(self, mail_id: int) -> str:
    from grants.core.mail import Transport

    with db.engine.connect() as conn, Transport() as transport:
        outcome = send_one(conn, mail_id, transport)
    if outcome.status == "retry":
        raise self.retry(exc=outcome.error, countdown=backoff(outcome.attempts))
    return outcome.status


@shared_task(bind=True, name="grants.mail.send_batch", max_retries=MAX_ATTEMPTS + 2)
def send_mail_batch(self, mail_ids: list[int]) -> str:
    """Send these rows over one connection; retry those that failed, after a backoff."""
    from grants.core.mail import Transport, is_connection_error

    counts: Counter[str] = Counter()
    retry_ids: list[int] = []
    error: Exception | None = None
    with db.engine.connect() as conn, Transport() as transport:
        for index, mail_id in enumerate(mail_ids):
            outcome = send_one(conn, mail_id, transport)
            counts[outcome.status] += 1
            if outcome.status == "retry":
                retry_ids.append(mail_id)
            if outcome.error is not None and is_connection_error(outcome.error):
                # The server is unreachable: the rest of the batch waits for the retry.
                error = outcome.error
                rest = list(mail_ids[index + 1 :])
                counts["deferred"] += len(rest)
                retry_ids.extend(_defer(conn, rest, outcome.error))
                break
            if outcome.status == "retry":
                error = outcome.error
    summary = " ".join(f"{k}={counts[k]}" for k in sorted(counts))
    if retry_ids:
        log.info("mail batch: %s; retrying %s rows", summary, len(retry_ids))
        raise self.retry(args=(retry_ids,), exc=error, countdown=backoff(self.request.retries + 1))
    return summary


@shared_task(name="grants.mail.sweep")
def sweep_mail() -> int:
    """Release the claims of dead workers and re-enqueue rows whose task was lost."""
    from grants.core.locks import locked

    with locked("grants.mail.sweep", timedelta(minutes=5)) as acquired:
        if not acquired:
            return 0
        now = utcnow()
        db.session.execute(
            sa.update(OutgoingMail)
            .where(
                OutgoingMail.status == MailStatus.sending,
                OutgoingMail.claimed_at < now - stale_claim(),
            )
            .values(status=MailStatus.pending, claimed_at=None)
            .execution_options(synchronize_session=False)
        )
        ids = db.session.scalars(
            sa.select(OutgoingMail.id)
            .where(
                OutgoingMail.status == MailStatus.pending,
                OutgoingMail.created_at < now - lost_pending(),
            )
            .order_by(OutgoingMail.id)
            .limit(SWEEP_LIMIT)
        ).all()
        if ids:
            from grants.core.mail import enqueue_mails

            enqueue_mails(ids)  # sent when this transaction commits
        db.session.commit()
        return len(ids)
