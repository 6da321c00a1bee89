"""The worker side of exports: ``grants.exports.run_export(job_id)``.

The task streams the rows from the database in chunks (:func:`grants.exports.queries.iter_rows`)
into a temporary file (CSV, or an openpyxl write-only workbook), stores the file with
:mod:`grants.core.storage`, and marks the job done. It never holds all the rows: memory
stays constant whatever the size (``bench/exports.py`` measures 100,000 rows).

* **Progress**: ``total`` is counted first; ``progress`` is written every
  :data:`grants.exports.writers.EVERY` rows, each time in its own short transaction on a
  separate connection (the reading cursor stays open meanwhile).
* **Idempotent** (Celery delivers at least once): a job already done or failed is left
  alone. Each run *claims* the job with a conditional UPDATE that stamps ``started_at``;
  every later write (progress, outcome) is conditioned on that stamp. So a redelivered
  running job restarts cleanly from zero, and an older run that is still going finds it
  was superseded at its next progress write and stops (its file is deleted). A job ends
  with exactly one stored file.
* **Failures** end in ``failed`` with a French message in ``job.error`` (for the SCDL file,
  the list of what does not validate against the schema).

``sweep_exports`` re-enqueues jobs still queued after a few minutes (a broker that was
down when the job was created).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from celery import shared_task
from flask import current_app

from grants.calls.models import Call
from grants.core.db import utcnow
from grants.exports import queries, rules, scdl, writers
from grants.exports.models import ExportFormat, ExportJob, ExportKind, ExportStatus
from grants.extensions import db

log = logging.getLogger(__name__)

STORAGE_PREFIX = "exports"
#: a job still queued after this long lost its task
LOST_JOB = timedelta(minutes=5)


class Superseded(Exception):
    """Another delivery of the same job took it over."""


class ExportFailed(Exception):
    """An export that cannot be produced; ``message`` is French, shown to staff."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _claim(job_id: int) -> datetime | None:
    """Start (or restart) the job; the stamp of this run, or None if it is over."""
    stamp = utcnow()
    result = db.session.execute(
        sa.update(ExportJob)
        .where(
            ExportJob.id == job_id,
            ExportJob.status.in_([ExportStatus.queued, ExportStatus.running]),
        )
        .values(
            status=ExportStatus.running,
            started_at=stamp,
            progress=0,
            total=0,
            error=None,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return stamp if result.rowcount == 1 else None


def _ours(job_id: int, stamp: datetime):
    return sa.and_(
        ExportJob.id == job_id,
        ExportJob.started_at == stamp,
        ExportJob.status == ExportStatus.running,
    )


def _write(job_id: int, stamp: datetime, **values) -> None:
    """Update the job in a transaction of its own; Superseded if another run owns it."""
    with db.engine.begin() as conn:
        result = conn.execute(sa.update(ExportJob).where(_ours(job_id, stamp)).values(**values))
    if result.rowcount != 1:
        raise Superseded()


@shared_task(name="grants.exports.run_export")
def run_export(job_id: int) -> str:
    """Produce the file of export job ``job_id``; what happened: ``done``, ``failed``,
    ``missing``, ``superseded``, or the status of a job that was already over."""
    return run(job_id)


def run(job_id: int, *, every: int = writers.EVERY) -> str:
    job = db.session.get(ExportJob, job_id)
    if job is None:
        db.session.rollback()
        return "missing"
    if job.status in (ExportStatus.done, ExportStatus.failed):
        status = job.status.value
        db.session.rollback()
        return status
    stamp = _claim(job_id)
    if stamp is None:
        return "over"
    job = db.session.get(ExportJob, job_id)
    kind, format_, params = job.kind, job.format, dict(job.params or {})
    db.session.rollback()

    storage = None
    key = None
    try:
        with tempfile.TemporaryDirectory(prefix="grants-export-") as folder:
            path = Path(folder) / "export"
            if kind == ExportKind.scdl:
                rows, filename = _produce_scdl(job_id, stamp, params, path)
                content_type = writers.CSV_CONTENT_TYPE
            else:
                rows, filename = _produce_table(job_id, stamp, kind, format_, params, path, every)
                content_type = (
                    writers.XLSX_CONTENT_TYPE
                    if format_ == ExportFormat.xlsx
                    else writers.CSV_CONTENT_TYPE
                )
            db.session.rollback()  # the reading transaction ends before the upload
            from grants.core.storage import get_storage, new_key

            storage = get_storage()
            key = new_key(STORAGE_PREFIX)
            with path.open("rb") as fh:
                storage.put(key, fh)
        _write(
            job_id,
            stamp,
            status=ExportStatus.done,
            file_key=key,
            filename=filename,
            progress=rows,
            total=rows,
            finished_at=utcnow(),
        )
        log.info("export %s done (%s, %s rows, %s)", job_id, kind, rows, content_type)
        return "done"
    except Superseded:
        db.session.rollback()
        if storage is not None and key is not None:
            storage.delete(key)
        log.info("export %s: superseded by a newer run of the same job", job_id)
        return "superseded"
    except Exception as exc:
        db.session.rollback()
        if storage is not None and key is not None:
            storage.delete(key)
        if isinstance(exc, ExportFailed):
            message = exc.message
        else:
            log.exception("export %s failed", job_id)
            message = (
                f"L'export n'a pas pu être produit (erreur interne : {type(exc).__name__}). "
                f"Relancez-le ; si l'erreur persiste, signalez l'export n° {job_id} à "
                "l'administrateur."
            )
        try:
            _write(job_id, stamp, status=ExportStatus.failed, error=message, finished_at=utcnow())
        except Superseded:
            return "superseded"
        return "failed"


def _progress(job_id: int, stamp: datetime):
    def progress(count: int) -> None:
        _write(job_id, stamp, progress=count)

    return progress


def _produce_table(job_id, stamp, kind, format_, params, path: Path, every: int):
    spec = queries.SPECS[kind]
    filters = queries.Filters.from_params(params)
    total = queries.count_rows(spec.statement(filters))
    prefix = None
    if filters.call_id is not None:
        prefix = db.session.scalar(
            sa.select(Call.reference_prefix).where(Call.id == filters.call_id)
        )
    db.session.rollback()
    _write(job_id, stamp, total=total)
    rows = queries.iter_rows(spec, filters)
    progress = _progress(job_id, stamp)
    if format_ == ExportFormat.xlsx:
        count = writers.write_xlsx(
            path, spec.columns, rows, title=spec.label, progress=progress, every=every
        )
    else:
        count = writers.write_csv(path, spec.columns, rows, progress=progress, every=every)
    filename = rules.export_filename(
        spec.slug, format_.value, call_prefix=prefix, year=filters.year, job_id=job_id
    )
    return count, filename


def _produce_scdl(job_id, stamp, params, path: Path):
    year = int(params["year"])
    include_all = bool(params.get("all"))
    config = current_app.config
    settings = scdl.settings_from_config(config, year)
    counts = queries.scdl_counts(year, settings.funder_siret, scdl.minimum_for(include_all))
    db.session.rollback()
    _write(job_id, stamp, total=counts.included)
    result = scdl.build_scdl(
        path, year, config, include_all=include_all, progress=_progress(job_id, stamp)
    )
    if not result.valid:
        raise ExportFailed(scdl.problem_text(result) + "\n" + result.summary())
    filename = rules.export_filename(
        "subventions-scdl", "csv", year=year, suffix="toutes" if include_all else ""
    )
    return result.rows, filename


@shared_task(name="grants.exports.sweep")
def sweep_exports() -> int:
    """Enqueue ``run_export`` again for jobs still queued after :data:`LOST_JOB`."""
    ids = db.session.scalars(
        sa.select(ExportJob.id)
        .where(ExportJob.status == ExportStatus.queued, ExportJob.created_at < utcnow() - LOST_JOB)
        .order_by(ExportJob.id)
        .limit(100)
    ).all()
    db.session.rollback()
    for job_id in ids:
        run_export.delay(job_id)
    return len(ids)
