"""Worker task of schedules: compute and store a call's tranches (DESIGN §4, §9).

``compute_schedules(run_id)`` is enqueued after the commit of the :class:`ScheduleRun`
that staff (or a decision change) asked for (:func:`grants.funding.operations.
request_schedule`). Delivery is at least once (``task_acks_late`` and
``task_reject_on_worker_lost`` from the configuration), so the task is idempotent:

* the run is claimed with a conditional UPDATE (queued → running); a redelivered message
  (the worker died) finds it running and resumes it; a finished run is left alone;
* the whole table is computed at once, then stored in chunks of
  :data:`~grants.funding.operations.CHUNK` awards, each chunk one transaction with the
  run's progress (so a large call shows it); every write is absolute — tranches upserted
  per (award, year), totals set, never incremented — so a chunk written twice changes
  nothing, and the notification ledger's unique key makes a second notice a no-op;
* a run superseded by a newer one for the same call stops at its next chunk (the newer
  one reads fresher data);
* when the table does not fit, nothing is stored: the run reports the overflow and the
  alternatives.

A tranche locked by a payment between the read and the write (``ConcurrentChange``)
rolls the chunk back and retries the task, which then reports the conflict.

``sweep_schedule_runs`` (periodic, every few minutes) re-sends the runs whose message was
lost — queued for more than 5 minutes, or running without a restart for more than 30
(the embedded filesystem broker drops the message of a worker killed outright; Redis
would only give it back after its visibility timeout). Sending a run twice is harmless.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

from celery import shared_task

from grants.extensions import db

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


@shared_task(bind=True, name="grants.funding.compute_schedules", max_retries=MAX_ATTEMPTS)
def compute_schedules(self, run_id: int) -> str:
    """Compute and store the schedules of the run's call. Returns what happened:
    ``missing-or-finished``, ``superseded``, ``stored``, ``not-stored`` or ``failed``."""
    from grants.funding import operations
    from grants.funding.models import RunStatus

    try:
        outcome = run_schedule(run_id)
    except operations.ConcurrentChange as exc:
        db.session.rollback()
        if self.request.retries >= MAX_ATTEMPTS:
            operations.fail(run_id, "Des tranches ont changé pendant le calcul ; relancez-le.")
            db.session.commit()
            return RunStatus.failed.value
        raise self.retry(exc=exc, countdown=2) from exc
    except Exception as exc:
        # A database that went away, a deadlock…: retried; for good, the run says so (the
        # sweep would otherwise send it again and again).
        db.session.rollback()
        if self.request.retries >= MAX_ATTEMPTS:
            log.exception("schedule run %s failed for good", run_id)
            operations.fail(run_id, f"Le calcul a échoué ({type(exc).__name__}) ; relancez-le.")
            db.session.commit()
            raise
        raise self.retry(exc=exc, countdown=5 * (self.request.retries + 1)) from exc
    finally:
        db.session.remove()
    return outcome


def run_schedule(run_id: int) -> str:
    """The task's body, in the current app context (also used by tests and the benchmark)."""
    from grants.funding import operations

    run = operations.claim_run(run_id)
    if run is None:
        db.session.rollback()
        return "missing-or-finished"
    newer = operations.newer_run(run)
    if newer is not None:
        operations.mark_superseded(run, newer)
        db.session.commit()
        return "superseded"
    db.session.commit()

    delay = operations.slowdown_for_tests()
    if delay:
        log.info("schedule run %s: test delay of %s s in process %s", run_id, delay, os.getpid())
        time.sleep(delay)

    run = operations.claim_run(run_id)
    if run is None:  # finished meanwhile by another delivery
        db.session.rollback()
        return "missing-or-finished"
    plan = operations.prepare(run)
    run.total = len(plan.awards)
    db.session.commit()  # the synced awards and the total (the progress bar's scale)

    if plan.stores:
        done = 0
        for start in range(0, len(plan.awards), operations.CHUNK):
            chunk = plan.awards[start : start + operations.CHUNK]
            done += len(chunk)
            if not operations.record_progress(plan.run_id, plan.call_id, done):
                db.session.rollback()
                run = db.session.get(operations.ScheduleRun, run_id)
                newer = operations.newer_run(run)
                if newer is not None and run.status == operations.RunStatus.running:
                    operations.mark_superseded(run, newer)
                    db.session.commit()
                    return "superseded"
                db.session.rollback()
                return "missing-or-finished"
            operations.store_chunk(plan, chunk)
            db.session.commit()

    run = db.session.get(operations.ScheduleRun, run_id)
    operations.finish(run, plan)
    db.session.commit()
    if plan.result is None:
        return "failed"
    return "stored" if plan.stores else "not-stored"


#: a queued run older than this lost its message
LOST_QUEUED = timedelta(minutes=5)
#: a running run not (re)started for this long lost its worker (a whole call takes < 1 min)
LOST_RUNNING = timedelta(minutes=30)


@shared_task(name="grants.funding.sweep_schedule_runs")
def sweep_schedule_runs(queued_seconds: float | None = None, running_seconds: float | None = None):
    """Re-send the runs whose message was lost (see the module docstring); how many."""
    from grants.core.db import utcnow
    from grants.core.tasks import enqueue_after_commit
    from grants.funding import operations

    queued_for = LOST_QUEUED if queued_seconds is None else timedelta(seconds=queued_seconds)
    running_for = LOST_RUNNING if running_seconds is None else timedelta(seconds=running_seconds)
    try:
        run_ids = operations.lost_runs(utcnow(), queued_for, running_for)
        for run_id in run_ids:
            log.warning("schedule run %s lost its message: sent again", run_id)
            enqueue_after_commit(db.session, compute_schedules, run_id)
        db.session.commit()
    finally:
        db.session.remove()
    return len(run_ids)
