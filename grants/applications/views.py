"""Applications: the applicant's journey (draft → steps → submission) and the staff views.

Access rule, the same on the pages and on the API: someone who may not *see* a file gets
a 404 (its existence is not confirmed to them); someone who may see it but not do the
action (staff on an applicant's step, a member on a submitted file) gets a 403.

A step saves every valid field even when others have errors (the invalid values are
shown again with their French message, not saved), so a draft is never lost.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from grants.applications import forms, operations, queries, rules
from grants.applications.models import (
    APPLICATION_STATUS_LABELS,
    Application,
    ApplicationStatus,
    Attachment,
)
from grants.calls.models import CallKind
from grants.core.permissions import staff_required
from grants.extensions import db
from grants.organisations.queries import organisations_of

bp = Blueprint("applications", __name__)

S = ApplicationStatus

STEPS = [
    ("structure", "Structure"),
    ("projet", "Projet"),
    ("budget", "Budget"),
    ("minimis", "Aides de minimis"),
    ("pieces", "Pièces jointes"),
    ("attestation", "Attestation"),
    ("deposer", "Vérification et dépôt"),
]
STEP_LABELS = dict(STEPS)
#: empty rows offered under the saved ones in the tables (more with « Ajouter des lignes »)
EXTRA_ROWS = 3
MAX_EXTRA_ROWS = 60


# --- Helpers ------------------------------------------------------------------------------


def load_application(application_id: int, verb: str = "view") -> Application:
    """The file, or 404 when the user may not see it, 403 when they may not ``verb``."""
    application = queries.get_application(application_id)
    if application is None or not application.can_view(current_user):
        abort(404)
    if verb != "view" and not getattr(application, f"can_{verb}")(current_user):
        abort(403)
    return application


def steps_of(application: Application) -> list[str]:
    """The steps of this file (de minimis only for an organisation with an economic activity)."""
    return [
        slug
        for slug, _label in STEPS
        if slug != "minimis" or application.organisation.has_economic_activity
    ]


def progress(application: Application, problems: list[rules.Problem]) -> list[dict]:
    by_step = rules.problems_by_step(problems)
    return [
        {
            "slug": slug,
            "label": STEP_LABELS[slug],
            "url": url_for(".step", application_id=application.id, step=slug),
            "problems": by_step.get(slug, []),
            "complete": slug != "deposer" and not by_step.get(slug),
        }
        for slug in steps_of(application)
    ]


def next_step_text(application: Application) -> str:
    from grants.core.formatting import format_date_fr, format_datetime_fr

    status = application.status
    if status == S.draft:
        if application.call.is_open:
            return (
                "Compléter le dossier et le déposer avant le "
                f"{format_datetime_fr(application.call.closes_at)}"
            )
        return "La date limite de dépôt est passée"
    if status == S.incomplete:
        request_ = operations.open_complement_request(application)
        if request_ is not None:
            return f"Apporter les compléments demandés avant le {format_date_fr(request_.due_on)}"
        return "Apporter les compléments demandés"
    return {
        S.submitted: "Dossier déposé : en attente d'instruction par le service",
        S.under_review: "En cours d'instruction par le service",
        S.accepted: "Dossier retenu",
        S.rejected: "Dossier non retenu",
        S.withdrawn: "Dossier retiré",
    }[status]


@bp.app_context_processor
def _helpers():
    return {
        "application_status_labels": APPLICATION_STATUS_LABELS,
        "account_label": rules.account_label,
        "format_percent": rules.format_percent,
        "next_step_text": next_step_text,
    }


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _render_step(application: Application, step: str, status: int = 200, **context):
    problems = queries.eligibility(application)
    steps = progress(application, problems)
    slugs = [s["slug"] for s in steps]
    index = slugs.index(step)
    return (
        render_template(
            f"applications/step_{step}.html",
            application=application,
            call=application.call,
            organisation=application.organisation,
            steps=steps,
            step=step,
            step_label=STEP_LABELS[step],
            previous_step=slugs[index - 1] if index > 0 else None,
            next_step=slugs[index + 1] if index + 1 < len(slugs) else None,
            problems=problems,
            step_problems=rules.problems_by_step(problems).get(step, []),
            **context,
        ),
        status,
    )


def _after_save(application: Application, step: str, form_has_errors: bool):
    """Where to go once a step is saved: the next step, or this one again."""
    if form_has_errors:
        return None
    flash("Les informations ont été enregistrées.", "success")
    if request.form.get("action") == "next":
        slugs = steps_of(application)
        index = slugs.index(step)
        if index + 1 < len(slugs):
            return redirect(url_for(".step", application_id=application.id, step=slugs[index + 1]))
    return redirect(url_for(".step", application_id=application.id, step=step))


ERRORS_SAVED = (
    "Certaines valeurs n'ont pas été enregistrées : corrigez les champs signalés. "
    "Les autres informations ont bien été enregistrées."
)


# --- Dashboard and start ------------------------------------------------------------------


@bp.get("/dossiers")
@login_required
def dashboard():
    applications = queries.applications_of(current_user)
    return render_template(
        "applications/dashboard.html",
        organisations=organisations_of(current_user),
        applications=applications,
        messages=queries.staff_messages_for(current_user),
        open_calls=queries.open_calls(),
    )


@bp.route("/appels/<int:call_id>/candidater", methods=["GET", "POST"])
@login_required
def start(call_id: int):
    call = queries.get_call(call_id)
    if call is None or not call.is_public:
        abort(404)
    if not call.is_open:
        flash(
            "Cet appel n'est pas ouvert aux candidatures"
            + (
                " pour le moment." if call.is_upcoming else " : la date limite de dépôt est passée."
            ),
            "error",
        )
        return redirect(url_for("calls.public_show", call_id=call.id))
    organisations = organisations_of(current_user)
    if not organisations:
        flash(
            "Pour déposer un dossier, créez d'abord la fiche de votre structure "
            "(ou demandez à l'un de ses membres de vous inviter).",
            "info",
        )
        return redirect(url_for("organisations.create", next=request.path))
    form = forms.StartForm()
    form.organisation_id.choices = forms.choices((org.id, org.name) for org in organisations)
    existing = {org.id: queries.active_application(call.id, org.id) for org in organisations}
    if len(organisations) == 1 and request.method == "GET" and not existing[organisations[0].id]:
        form.organisation_id.data = organisations[0].id
    if form.validate_on_submit():
        org = next(o for o in organisations if o.id == form.organisation_id.data)
        if existing.get(org.id) is not None:
            flash(f"La structure « {org.name} » a déjà un dossier sur cet appel.", "info")
            return redirect(url_for(".show", application_id=existing[org.id].id))
        try:
            application = operations.start_application(call, org, current_user)
        except operations.ApplicationError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for(".start", call_id=call.id))
        db.session.commit()
        flash(
            f"Le dossier de « {org.name} » est créé. Il est enregistré à chaque étape.", "success"
        )
        return redirect(url_for(".step", application_id=application.id, step="structure"))
    return render_template("applications/start.html", call=call, form=form, existing=existing), (
        422 if form.errors else 200
    )


# --- The file -----------------------------------------------------------------------------


@bp.get("/dossiers/<int:application_id>")
@login_required
def show(application_id: int):
    application = load_application(application_id)
    problems = queries.eligibility(application) if application.is_editable else []
    return render_template(
        "applications/show.html",
        application=application,
        call=application.call,
        organisation=application.organisation,
        steps=progress(application, problems) if application.is_editable else [],
        problems=problems,
        can_edit=application.can_edit(current_user),
        can_withdraw=application.can_withdraw(current_user),
        **_summary_context(application),
    )


def _summary_context(application: Application) -> dict:
    """What the read-only summary of a file shows (budget totals, plan, de minimis)."""
    call = application.call
    context: dict = {"commune_names": queries.commune_names()}
    if call.kind == CallKind.project_call:
        grouped = rules.group_by_year(application.budget_lines)
        context["budget_years"] = [
            {
                "year": y.year,
                "lines": grouped.get(y.year, []),
                "totals": rules.budget_totals(grouped.get(y.year, [])),
            }
            for y in call.years
        ]
    else:
        context["plan"] = rules.funding_plan(
            application.expenses,
            application.funding_sources,
            call.max_expense_share,
            call.ceiling,
        )
    context["requested_total"] = queries.requested_total(application)
    org = application.organisation
    if org.has_economic_activity:
        aids = queries.de_minimis_aids(org.id)
        context["aids"] = aids
        context["room"] = rules.de_minimis_room(
            [(a.granted_on, a.amount, a.regime) for a in aids],
            queries.today_paris(),
            context["requested_total"],
        )
        context["window"] = rules.de_minimis_window(queries.today_paris())
    return context


@bp.route("/dossiers/<int:application_id>/etapes/<step>", methods=["GET", "POST"])
@login_required
def step(application_id: int, step: str):
    application = load_application(application_id)
    if step not in steps_of(application):
        abort(404)
    if not application.can_edit(current_user):
        if request.method == "POST":
            abort(403)
        if application.is_member(current_user):
            flash(
                f"Ce dossier est « {application.status.label} » : il n'est plus modifiable.",
                "info",
            )
        return redirect(url_for(".show", application_id=application.id))
    handler = STEP_HANDLERS[step]
    return handler(application)


def _structure_step(application: Application):
    form = forms.StructureForm(data={"approvals": application.approvals})
    if request.method == "POST":
        form.validate()
        operations.update_fields(application, current_user, forms.valid_values(form, ["approvals"]))
        db.session.commit()
        if response := _after_save(application, "structure", bool(form.errors)):
            return response
        flash(ERRORS_SAVED, "error")
    return _render_step(application, "structure", 422 if form.errors else 200, form=form)


def _project_form(application: Application, formdata=None) -> forms.ProjectForm:
    data = {name: getattr(application, name) for name in forms.PROJECT_FIELDS}
    data["sector"] = application.sector or ""
    return forms.ProjectForm(
        formdata=formdata,
        data=data,
        sectors=application.call.sectors or [],
        communes=[(c.insee, c.name) for c in queries.communes()],
    )


def _project_step(application: Application):
    if request.method == "POST":
        form = _project_form(application, request.form)
        form.validate()
        operations.update_fields(application, current_user, form.values())
        db.session.commit()
        if response := _after_save(application, "projet", bool(form.errors)):
            return response
        flash(ERRORS_SAVED, "error")
    else:
        form = _project_form(application)
    return _render_step(application, "projet", 422 if form.errors else 200, form=form)


def _extra_rows() -> int:
    return min(
        max(request.args.get("lignes", EXTRA_ROWS, type=int) or EXTRA_ROWS, 1), MAX_EXTRA_ROWS
    )


def _budget_step(application: Application):
    if application.call.kind == CallKind.investment_aid:
        return _investment_step(application)
    call = application.call
    years = [y.year for y in call.years]
    extra = _extra_rows()
    grouped = rules.group_by_year(application.budget_lines)
    saved = {y: [line for line in grouped.get(y, []) if not line.is_request] for y in years}
    form_class = forms.budget_form_class(years, {y: len(saved[y]) + extra for y in years})
    if request.method == "POST":
        form = form_class()
        form.validate()
        for year in years:
            request_field = form[f"request_{year}"]
            operations.save_budget_year(
                application,
                current_user,
                year,
                forms.row_inputs(form[f"lines_{year}"]),
                operations.KEEP if request_field.errors else request_field.data,
            )
        db.session.commit()
        if not form.errors and request.form.get("action") == "add_rows":
            flash("Les informations ont été enregistrées ; des lignes ont été ajoutées.", "success")
            return redirect(
                url_for(
                    ".step",
                    application_id=application.id,
                    step="budget",
                    lignes=min(extra + EXTRA_ROWS, MAX_EXTRA_ROWS),
                    _anchor="budget",
                )
            )
        if response := _after_save(application, "budget", bool(form.errors)):
            return response
        flash(ERRORS_SAVED, "error")
    else:
        data = {}
        for year in years:
            requested = rules.budget_totals(grouped.get(year, [])).requested
            data[f"request_{year}"] = requested or None
            data[f"lines_{year}"] = [
                {
                    "row_id": str(line.id),
                    "account": line.account,
                    "label": line.label,
                    "amount": line.amount,
                }
                for line in saved[year]
            ]
        form = form_class(formdata=None, data=data)
    grouped = rules.group_by_year(application.budget_lines)
    totals = {y: rules.budget_totals(grouped.get(y, [])) for y in years}
    return _render_step(
        application,
        "budget",
        422 if form.errors else 200,
        form=form,
        years=years,
        totals=totals,
        envelopes={y.year: y.envelope for y in call.years},
        requested_total=sum((t.requested for t in totals.values()), rules.ZERO),
        extra=extra,
    )


def _investment_step(application: Application):
    call = application.call
    extra = _extra_rows()
    form_class = forms.investment_form_class(
        len(application.expenses) + extra, len(application.funding_sources) + extra
    )
    if request.method == "POST":
        form = form_class()
        form.validate()
        operations.save_investment_plan(
            application,
            current_user,
            forms.row_inputs(form.expenses),
            forms.row_inputs(form.sources),
        )
        db.session.commit()
        if not form.errors and request.form.get("action") == "add_rows":
            flash("Les informations ont été enregistrées ; des lignes ont été ajoutées.", "success")
            return redirect(
                url_for(
                    ".step",
                    application_id=application.id,
                    step="budget",
                    lignes=min(extra + EXTRA_ROWS, MAX_EXTRA_ROWS),
                )
            )
        if response := _after_save(application, "budget", bool(form.errors)):
            return response
        flash(ERRORS_SAVED, "error")
    else:
        form = form_class(
            formdata=None,
            data={
                "expenses": [
                    {
                        "row_id": str(e.id),
                        "label": e.label,
                        "amount": e.amount,
                        "eligible": e.eligible,
                    }
                    for e in application.expenses
                ],
                "sources": [
                    {
                        "row_id": str(s.id),
                        "name": s.name,
                        "funder_type": s.funder_type.value,
                        "amount": s.amount,
                        "status": s.status.value,
                    }
                    for s in application.funding_sources
                ],
            },
        )
        # Empty rows are eligible expenses by default.
        for entry in form.expenses.entries[len(application.expenses) :]:
            entry.form.eligible.data = True
    plan = rules.funding_plan(
        application.expenses, application.funding_sources, call.max_expense_share, call.ceiling
    )
    return _render_step(
        application, "budget", 422 if form.errors else 200, form=form, plan=plan, extra=extra
    )


def _minimis_step(application: Application, form: forms.DeMinimisForm | None = None):
    status = 200
    if request.method == "POST" and form is None:
        form = forms.DeMinimisForm()
        if form.validate():
            try:
                operations.add_de_minimis_aid(
                    application,
                    current_user,
                    form.granted_on.data,
                    form.funder.data,
                    form.amount.data,
                    forms.DeMinimisRegime(form.regime.data),
                )
            except operations.ApplicationError as exc:
                db.session.rollback()
                for name, messages in exc.fields.items():
                    form[name].errors = [*form[name].errors, *messages]
                if not exc.fields:
                    flash(exc.message, "error")
            else:
                db.session.commit()
                flash("L'aide a été ajoutée à la déclaration.", "success")
                return redirect(url_for(".step", application_id=application.id, step="minimis"))
        status = 422
    form = form or forms.DeMinimisForm(formdata=None)
    context = _summary_context(application)
    return _render_step(application, "minimis", status, form=form, **context)


@bp.post("/dossiers/<int:application_id>/etapes/minimis/aides/<int:aid_id>/supprimer")
@login_required
def remove_aid(application_id: int, aid_id: int):
    application = load_application(application_id, "edit")
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    if operations.remove_de_minimis_aid(application, current_user, aid_id):
        db.session.commit()
        flash("L'aide a été retirée de la déclaration.", "success")
    else:
        flash("Cette aide n'est plus dans la déclaration.", "info")
    return redirect(url_for(".step", application_id=application.id, step="minimis"))


def _pieces_step(application: Application, upload_errors: dict | None = None, status: int = 200):
    if request.method == "POST" and upload_errors is None:
        abort(405)
    by_document = {}
    others = []
    for attachment in application.attachments:
        if attachment.required_document_id:
            by_document[attachment.required_document_id] = attachment
        else:
            others.append(attachment)
    from grants.core.files import format_size, types_sentence

    return _render_step(
        application,
        "pieces",
        status,
        upload_form=forms.UploadForm(formdata=None),
        confirm_form=forms.ConfirmForm(formdata=None),
        by_document=by_document,
        others=others,
        upload_errors=upload_errors or {},
        max_size=format_size(current_app.config["UPLOAD_MAX_BYTES"]),
        format_size=format_size,
        types_sentence=types_sentence,
    )


def _attestation_step(application: Application):
    form = forms.AttestationForm(
        data={name: getattr(application, name) for name in forms.ATTESTATION_FIELDS}
    )
    if request.method == "POST":
        form.validate()
        operations.update_fields(application, current_user, form.values())
        db.session.commit()
        if response := _after_save(application, "attestation", bool(form.errors)):
            return response
        flash(ERRORS_SAVED, "error")
    return _render_step(application, "attestation", 422 if form.errors else 200, form=form)


def _submit_step(application: Application):
    form = forms.ConfirmForm()
    status = 200
    submit_error = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            operations.submit(application, current_user)
        except operations.ApplicationError as exc:
            db.session.rollback()
            submit_error = exc.message
            status = exc.status
            flash(exc.message, "error")
        else:
            db.session.commit()
            flash(
                f"Votre dossier est déposé sous la référence {application.reference}. "
                "Un accusé de réception vous est envoyé par e-mail.",
                "success",
            )
            return redirect(url_for(".show", application_id=application.id))
        application = load_application(application.id)
    from grants.core.db import utcnow

    return _render_step(
        application,
        "deposer",
        status,
        form=form,
        submit_error=submit_error,
        deadline_problem=operations.submission_deadline_problem(application, utcnow()),
        overridden=application.eligibility_override is True,
    )


STEP_HANDLERS = {
    "structure": _structure_step,
    "projet": _project_step,
    "budget": _budget_step,
    "minimis": _minimis_step,
    "pieces": _pieces_step,
    "attestation": _attestation_step,
    "deposer": _submit_step,
}


# --- Attachments --------------------------------------------------------------------------


def _document_arg(application: Application):
    """The required document named by ``?document=`` (None for « other document »)."""
    value = request.args.get("document", "autre")
    if value == "autre":
        return None
    if not value.isdigit():
        abort(404)
    try:
        return operations.required_document(application, int(value))
    except operations.ApplicationError:
        abort(404)


@bp.post("/dossiers/<int:application_id>/pieces/envoyer")
@login_required
def upload(application_id: int):
    from grants.core.files import UploadRejected, inspect_upload

    application = load_application(application_id, "edit")
    document = _document_arg(application)
    slot = document.id if document else "autre"
    form = forms.UploadForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        return _pieces_step(application, {slot: form.file.errors[0]}, 422)
    storage_file = form.file.data
    try:
        info = inspect_upload(
            storage_file.stream,
            storage_file.filename,
            set(document.accepted_types or []) if document else None,
            current_app.config["UPLOAD_MAX_BYTES"],
        )
    except UploadRejected as exc:
        return _pieces_step(application, {slot: exc.message}, 422)
    attachment, old_keys = operations.add_attachment(application, current_user, info, document)
    db.session.commit()
    operations.delete_stored(old_keys)
    what = f"« {document.label} »" if document else "Le document"
    flash(
        f"{what} : le fichier « {attachment.filename} » a été "
        f"{'remplacé' if old_keys else 'ajouté'}.",
        "success",
    )
    return redirect(url_for(".step", application_id=application.id, step="pieces"))


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    """A request body over MAX_CONTENT_LENGTH: a French message, the draft untouched."""
    from grants.core.files import format_size

    limit = format_size(current_app.config["UPLOAD_MAX_BYTES"])
    message = (
        f"Le fichier envoyé est trop volumineux : la taille maximale est de {limit}. "
        "Réduisez-le (par exemple en l'enregistrant en PDF compressé) et envoyez-le de nouveau. "
        "Le reste du dossier n'a pas été modifié."
    )
    if request.endpoint == "applications.upload" and current_user.is_authenticated:
        application = load_application(request.view_args["application_id"], "edit")
        document = _document_arg(application)
        return _pieces_step(application, {document.id if document else "autre": message}, 413)
    return render_template(
        "errors/error.html", code=413, title="Fichier trop volumineux", text=message
    ), 413


def _attachment_of(application: Application, attachment_id: int) -> Attachment:
    attachment = next((a for a in application.attachments if a.id == attachment_id), None)
    if attachment is None:
        abort(404)
    return attachment


@bp.get("/dossiers/<int:application_id>/pieces/<int:attachment_id>")
@login_required
def download(application_id: int, attachment_id: int):
    from grants.core.files import send_stored_file
    from grants.core.storage import StoredFileNotFound

    application = load_application(application_id)
    attachment = _attachment_of(application, attachment_id)
    try:
        return send_stored_file(
            attachment.storage_key, attachment.filename, attachment.content_type
        )
    except StoredFileNotFound:
        abort(404)


@bp.post("/dossiers/<int:application_id>/pieces/<int:attachment_id>/supprimer")
@login_required
def delete_attachment(application_id: int, attachment_id: int):
    application = load_application(application_id, "edit")
    attachment = _attachment_of(application, attachment_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    filename = attachment.filename
    key = operations.delete_attachment(application, current_user, attachment)
    db.session.commit()
    operations.delete_stored([key])
    flash(f"Le fichier « {filename} » a été supprimé.", "success")
    return redirect(url_for(".step", application_id=application.id, step="pieces"))


@bp.get("/dossiers/<int:application_id>/accuse-de-reception.pdf")
@login_required
def receipt(application_id: int):
    from grants.core.files import send_stored_file
    from grants.core.storage import StoredFileNotFound

    application = load_application(application_id)
    if application.reference is None:
        abort(404)
    if application.receipt_key:
        try:
            return send_stored_file(
                application.receipt_key,
                f"accuse-de-reception-{application.reference}.pdf",
                "application/pdf",
            )
        except StoredFileNotFound:
            pass
    response = make_response(
        render_template("applications/receipt_pending.html", application=application), 202
    )
    response.headers["Refresh"] = "5"
    return response


# --- Withdraw -----------------------------------------------------------------------------


@bp.route("/dossiers/<int:application_id>/retirer", methods=["GET", "POST"])
@login_required
def withdraw(application_id: int):
    application = load_application(application_id, "withdraw")
    form = forms.WithdrawForm()
    if form.validate_on_submit():
        try:
            operations.withdraw(application, current_user, form.reason.data)
        except operations.ApplicationError as exc:
            db.session.rollback()
            flash(exc.message, "error")
            return redirect(url_for(".show", application_id=application.id))
        db.session.commit()
        flash("Le dossier a été retiré.", "success")
        return redirect(url_for(".show", application_id=application.id))
    return render_template("applications/withdraw.html", application=application, form=form), (
        422 if form.errors else 200
    )


# --- Staff --------------------------------------------------------------------------------


@bp.get("/gestion/appels/<int:call_id>/dossiers")
@staff_required
def staff_list(call_id: int):
    call = queries.get_call(call_id)
    if call is None:
        abort(404)
    filters = queries.StaffFilters.from_args(request.args)
    pagination = queries.staff_applications(call.id, filters, _page_arg())
    return render_template(
        "applications/staff_list.html",
        call=call,
        filters=filters,
        pagination=pagination,
        counts=queries.status_counts(call.id, filters),
        communes=queries.communes(),
        eligibility_filters=queries.ELIGIBILITY_FILTERS,
        eligibility_state=queries.eligibility_state,
    )


def _staff_render(application: Application, status: int = 200, **forms_):
    problems = queries.eligibility(application)
    forms_.setdefault("complement_form", forms.ComplementForm(formdata=None))
    forms_.setdefault("override_form", forms.OverrideForm(formdata=None))
    forms_.setdefault("confirm_form", forms.ConfirmForm(formdata=None))
    from grants.core.files import format_size

    return render_template(
        "applications/staff_show.html",
        application=application,
        call=application.call,
        organisation=application.organisation,
        problems=problems,
        eligibility_state=queries.eligibility_state(application),
        eligibility_filters=queries.ELIGIBILITY_FILTERS,
        format_size=format_size,
        **forms_,
        **_summary_context(application),
    ), status


@bp.get("/gestion/dossiers/<int:application_id>")
@staff_required
def staff_show(application_id: int):
    return _staff_render(load_application(application_id))


def _show_field_errors(form, exc: operations.ApplicationError) -> None:
    for name, messages in exc.fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, *messages]
    if not exc.fields:
        flash(exc.message, "error")


@bp.post("/gestion/dossiers/<int:application_id>/complements")
@staff_required
def request_complements(application_id: int):
    application = load_application(application_id)
    form = forms.ComplementForm()
    if form.validate_on_submit():
        try:
            operations.request_complements(
                application, current_user, form.message.data, form.due_on.data
            )
        except operations.ApplicationError as exc:
            db.session.rollback()
            _show_field_errors(form, exc)
            application = load_application(application_id)
        else:
            db.session.commit()
            flash("La demande de compléments a été envoyée aux membres de la structure.", "success")
            return redirect(url_for(".staff_show", application_id=application.id))
    return _staff_render(application, 422, complement_form=form)


@bp.post("/gestion/dossiers/<int:application_id>/instruction")
@staff_required
def mark_under_review(application_id: int):
    application = load_application(application_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    try:
        operations.mark_under_review(application, current_user)
    except operations.ApplicationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash("Le dossier est en instruction.", "success")
    return redirect(url_for(".staff_show", application_id=application_id))


@bp.post("/gestion/dossiers/<int:application_id>/recevabilite")
@staff_required
def override(application_id: int):
    application = load_application(application_id)
    form = forms.OverrideForm()
    if form.validate_on_submit():
        try:
            operations.override_eligibility(
                application,
                current_user,
                forms.OVERRIDE_VALUES[form.decision.data],
                form.reason.data,
            )
        except operations.ApplicationError as exc:
            db.session.rollback()
            _show_field_errors(form, exc)
            application = load_application(application_id)
        else:
            db.session.commit()
            flash("La décision de recevabilité a été enregistrée.", "success")
            return redirect(url_for(".staff_show", application_id=application.id))
    return _staff_render(application, 422, override_form=form)
