"""Annual reports: the beneficiary's page (``/rapports/<id>``: draft, document, submit) and
the staff's list and review (``/gestion/rapports``: accept, or send back with a comment).

Rights (see :mod:`grants.reports.queries`): a report that isn't the user's organisation's
is a 404 for anybody but staff; staff who aren't members read it but don't edit it.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from grants.core.permissions import staff_required
from grants.extensions import db
from grants.reports import forms, operations, queries, rules
from grants.reports import tasks as _tasks  # noqa: F401 (registers the beat tasks)

bp = Blueprint("reports", __name__)


@bp.app_context_processor
def _helpers():
    return {
        "report_is_late": queries.is_late,
        "report_status_labels": queries.STATUS_FILTERS,
    }


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def load_report(report_id: int):
    """The report if the current user may see it, else 404."""
    report = queries.visible_report(report_id, current_user)
    if report is None:
        abort(404)
    return report


# --- the beneficiary ------------------------------------------------------------------------


@bp.get("/rapports")
@login_required
def mine():
    return render_template(
        "reports/mine.html", reports=queries.reports_of(current_user), today=queries.today_paris()
    )


def _form_for(report, lines, formdata=None):
    stored = len(report.indicators or {})
    posted = forms.posted_indicator_rows(formdata) if formdata is not None else 0
    form_class = forms.report_form_class(lines, forms.indicator_rows(stored, posted))
    if formdata is None:
        return form_class(formdata=None, data=forms.form_data(queries.values_of(report)))
    return form_class()


def _render_show(report, form=None, lines=None, status: int = 200):
    lines = lines if lines is not None else queries.lines_of(report)
    editable = queries.can_edit(report, current_user)
    if editable and form is None:
        form = _form_for(report, lines)
    return render_template(
        "reports/show.html",
        report=report,
        award=report.award,
        application=report.award.application,
        call=report.award.call,
        organisation=report.award.application.organisation,
        lines=lines,
        totals=rules.totals(lines),
        form=form,
        editable=editable,
        confirm_form=forms.ConfirmForm(formdata=None),
        late=queries.is_late(report),
        accepted_types=", ".join(t.upper() for t in sorted(operations.DOCUMENT_TYPES)),
    ), status


@bp.get("/rapports/<int:report_id>")
@login_required
def show(report_id: int):
    return _render_show(load_report(report_id))


def _inspect_document(form) -> tuple[object | None, str | None]:
    from grants.core.files import UploadRejected, inspect_upload

    storage_file = form.document.data
    if not storage_file or not getattr(storage_file, "filename", ""):
        return None, None
    try:
        return (
            inspect_upload(
                storage_file.stream,
                storage_file.filename,
                set(operations.DOCUMENT_TYPES),
                current_app.config["UPLOAD_MAX_BYTES"],
            ),
            None,
        )
    except UploadRejected as exc:
        return None, exc.message


@bp.post("/rapports/<int:report_id>")
@login_required
def save(report_id: int):
    report = load_report(report_id)
    if not queries.is_member(report, current_user):
        abort(403)
    if not rules.is_editable(report.status):
        flash(operations.NOT_EDITABLE.get(report.status, operations.CHANGED), "error")
        return redirect(url_for(".show", report_id=report_id))
    lines = queries.lines_of(report)
    form = _form_for(report, lines, request.form)
    if not form.validate_on_submit() and form.csrf_token.errors:
        abort(400)
    values, errors = rules.parse_report(form.raw(), lines)
    info, upload_error = _inspect_document(form)
    if upload_error:
        errors["document"] = [upload_error]
    if errors:
        form.show_errors(errors)
        flash("Rien n'a été enregistré : corrigez les champs signalés.", "error")
        return _render_show(report, form=form, lines=list(values.lines), status=422)
    submit = request.form.get("action") == "submit"
    operations.save_report(report, current_user, values)
    old_key = operations.attach_document(report, current_user, info) if info else None
    if submit:
        try:
            operations.submit_report(report, current_user)
        except operations.ReportError as exc:
            if exc.status != 422:
                db.session.rollback()
                flash(exc.message, "error")
                return redirect(url_for(".show", report_id=report_id))
            db.session.commit()  # the draft is kept
            operations.delete_stored([old_key])
            form.show_errors(exc.fields)
            flash(
                "Le brouillon est enregistré, mais le compte rendu n'est pas remis : "
                "complétez les champs signalés.",
                "error",
            )
            report = load_report(report_id)
            return _render_show(report, form=form, lines=list(values.lines), status=422)
    db.session.commit()
    operations.delete_stored([old_key])
    if submit:
        flash(
            "Votre compte rendu est remis au service. Vous serez informé de son examen.",
            "success",
        )
    else:
        flash("Le brouillon du compte rendu est enregistré.", "success")
    return redirect(url_for(".show", report_id=report_id))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    from grants.core.files import format_size

    limit = format_size(current_app.config["UPLOAD_MAX_BYTES"])
    message = (
        f"Le document envoyé est trop volumineux : la taille maximale est de {limit}. "
        "Rien n'a été enregistré."
    )
    if request.endpoint == "reports.save" and current_user.is_authenticated:
        report = load_report(request.view_args["report_id"])
        flash(message, "error")
        return _render_show(report, status=413)
    return render_template(
        "errors/error.html", code=413, title="Fichier trop volumineux", text=message
    ), 413


@bp.get("/rapports/<int:report_id>/document")
@login_required
def download(report_id: int):
    from grants.core.files import CONTENT_TYPES, SUFFIXES, send_stored_file
    from grants.core.storage import StoredFileNotFound

    report = load_report(report_id)
    if not report.file_key:
        abort(404)
    suffix = (report.file_name or "").rsplit(".", 1)[-1].lower()
    kind = next((k for k, suffixes in SUFFIXES.items() if suffix in suffixes), None)
    content_type = CONTENT_TYPES.get(kind, "application/octet-stream")
    try:
        return send_stored_file(report.file_key, report.file_name or "document", content_type)
    except StoredFileNotFound:
        abort(404)


@bp.post("/rapports/<int:report_id>/document/supprimer")
@login_required
def remove_document(report_id: int):
    report = load_report(report_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    try:
        key = operations.remove_document(report, current_user)
    except operations.ReportError as exc:
        db.session.rollback()
        if exc.status == 403:
            abort(403)
        flash(exc.message, "error")
        return redirect(url_for(".show", report_id=report_id))
    db.session.commit()
    operations.delete_stored([key])
    if key:
        flash("Le document joint est supprimé.", "success")
    return redirect(url_for(".show", report_id=report_id))


# --- staff ----------------------------------------------------------------------------------


@bp.get("/gestion/rapports")
@staff_required
def staff_list():
    filters = queries.StaffFilters.from_args(request.args)
    return render_template(
        "reports/staff_list.html",
        pagination=queries.staff_reports(filters, _page_arg()),
        filters=filters,
        counts=queries.status_counts(filters),
        calls=queries.call_choices(),
        years=queries.year_choices(),
        today=queries.today_paris(),
    )


def _render_review(report, return_form=None, status: int = 200):
    lines = queries.lines_of(report)
    return render_template(
        "reports/review.html",
        report=report,
        award=report.award,
        application=report.award.application,
        call=report.award.call,
        organisation=report.award.application.organisation,
        lines=lines,
        totals=rules.totals(lines),
        late=queries.is_late(report),
        can_review=queries.can_review(report, current_user),
        accept_form=forms.ConfirmForm(formdata=None),
        return_form=return_form or forms.ReturnForm(formdata=None),
    ), status


@bp.get("/gestion/rapports/<int:report_id>")
@staff_required
def review(report_id: int):
    return _render_review(load_report(report_id))


@bp.post("/gestion/rapports/<int:report_id>/accepter")
@staff_required
def accept(report_id: int):
    report = load_report(report_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    try:
        operations.accept_report(report, current_user)
    except operations.ReportError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".review", report_id=report_id))
    db.session.commit()
    flash(
        "Le compte rendu est accepté ; la structure en est informée. La tranche suivante "
        "peut être versée selon les conditions de l'appel.",
        "success",
    )
    return redirect(url_for(".review", report_id=report_id))


@bp.post("/gestion/rapports/<int:report_id>/renvoyer")
@staff_required
def send_back(report_id: int):
    report = load_report(report_id)
    form = forms.ReturnForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _render_review(report, return_form=form, status=422)
    try:
        operations.return_report(report, current_user, form.comment.data)
    except operations.ReportError as exc:
        db.session.rollback()
        if exc.status == 422:
            form.comment.errors = [*form.comment.errors, *exc.fields.get("comment", [])]
            return _render_review(load_report(report_id), return_form=form, status=422)
        flash(exc.message, "error")
        return redirect(url_for(".review", report_id=report_id))
    db.session.commit()
    flash("Le compte rendu est renvoyé à la structure pour corrections.", "success")
    return redirect(url_for(".review", report_id=report_id))
