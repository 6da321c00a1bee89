"""The exports page (staff and admins): ask for an export, follow it, download the file.

``/gestion/exports``: the form of a spreadsheet export (applications, scores, decisions,
schedules, payments; XLSX or CSV; call and year), the SCDL open-data file of a year, and
the latest jobs with their progress (``static/js/exports.js`` polls ``/gestion/exports/etat``
and reloads the page when a job ends; without JavaScript, the « Actualiser » link).
``/gestion/exports/<id>/fichier`` downloads a finished file: any staff member may download
any job's file (exports are shared work), nobody else.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from grants.core.files import send_stored_file
from grants.core.permissions import staff_required
from grants.core.storage import StoredFileNotFound
from grants.exports import forms, operations, queries, writers
from grants.exports.models import ExportFormat, ExportJob, ExportKind, ExportStatus
from grants.extensions import db

bp = Blueprint("exports", __name__, url_prefix="/gestion/exports")

FIELD_NAMES = {"kind": "kind", "format": "format", "call_id": "call_id", "year": "year"}
SCDL_FIELD_NAMES = {"year": "year", "all": "include_all"}
MAX_POLLED = 50


def _render(form=None, scdl_form=None, status: int = 200):
    form = form or forms.ExportForm()
    form.set_calls(queries.calls_for_choice())
    scdl_form = scdl_form or forms.ScdlForm(prefix="scdl")
    jobs = queries.recent_jobs()
    titles = queries.call_titles(
        sorted({job.params["call_id"] for job in jobs if (job.params or {}).get("call_id")})
    )
    return (
        render_template(
            "exports/index.html",
            form=form,
            scdl_form=scdl_form,
            jobs=jobs,
            call_titles=titles,
            kind_labels=queries.KIND_LABELS,
            format_labels=queries.FORMAT_LABELS,
            status_labels=queries.STATUS_LABELS,
            active=[j.id for j in jobs if j.status in (ExportStatus.queued, ExportStatus.running)],
        ),
        status,
    )


def _show_errors(form, exc: operations.ExportError, names: dict[str, str]) -> None:
    for key, messages in exc.fields.items():
        field = getattr(form, names.get(key, ""), None)
        if field is None:
            field = next(iter(f for f in form if f.type != "CSRFTokenField"))
        field.errors = [*field.errors, *messages]


@bp.get("")
@staff_required
def index():
    return _render()


@bp.post("")
@staff_required
def create():
    form = forms.ExportForm()
    if not form.validate_on_submit():  # CSRF only: the operation checks the input
        return _render(form=form, status=400)
    try:
        job = operations.request_export(
            current_user,
            form.kind.data,
            form.format.data,
            {"call_id": form.call_id.data, "year": (form.year.data or "").strip()},
        )
    except operations.ExportError as exc:
        db.session.rollback()
        _show_errors(form, exc, FIELD_NAMES)
        return _render(form=form, status=422)
    db.session.commit()
    flash(
        f"L'export n° {job.id} est demandé : il sera prêt à télécharger dans la liste "
        "ci-dessous dès que le serveur l'aura produit.",
        "success",
    )
    return redirect(url_for(".index"))


@bp.post("/scdl")
@staff_required
def create_scdl():
    scdl_form = forms.ScdlForm(prefix="scdl")
    if not scdl_form.validate_on_submit():
        return _render(scdl_form=scdl_form, status=400)
    try:
        job = operations.request_export(
            current_user,
            ExportKind.scdl,
            ExportFormat.csv,
            {"year": (scdl_form.year.data or "").strip(), "all": scdl_form.include_all.data},
        )
    except operations.ExportError as exc:
        db.session.rollback()
        _show_errors(scdl_form, exc, SCDL_FIELD_NAMES)
        return _render(scdl_form=scdl_form, status=422)
    db.session.commit()
    flash(
        f"Le fichier SCDL n° {job.id} est demandé ; il est vérifié par rapport au schéma "
        "officiel avant d'être proposé au téléchargement.",
        "success",
    )
    return redirect(url_for(".index"))


@bp.get("/etat")
@staff_required
def status():
    """``?ids=1,2``: the status and progress of those jobs (JSON, for exports.js)."""
    ids = []
    for part in request.args.get("ids", "").split(",")[:MAX_POLLED]:
        if part.strip().isdigit():
            ids.append(int(part))
    jobs = queries.jobs_by_ids(ids)
    return jsonify(
        {
            "jobs": [
                {
                    "id": job.id,
                    "status": job.status.value,
                    "status_label": queries.STATUS_LABELS[job.status],
                    "progress": job.progress,
                    "total": job.total,
                }
                for job in jobs
            ]
        }
    )


@bp.get("/<int:job_id>/fichier")
@staff_required
def download(job_id: int):
    job = db.get_or_404(ExportJob, job_id)
    if job.status != ExportStatus.done or not job.file_key:
        abort(404)
    content_type = (
        writers.XLSX_CONTENT_TYPE if job.format == ExportFormat.xlsx else writers.CSV_CONTENT_TYPE
    )
    try:
        return send_stored_file(job.file_key, job.filename or f"export-{job.id}", content_type)
    except StoredFileNotFound:
        abort(404)
