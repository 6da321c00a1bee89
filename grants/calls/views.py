"""Calls: public pages (no login) and staff management.

Public: ``/appels`` (open and upcoming calls, then the previous ones) and
``/appels/<id>``. A draft is a 404 for everyone but staff, who see the public page as a
preview. Staff: ``/gestion/appels`` (list with counts), the create/edit form and the
lifecycle actions (publish, close, decided, archive), each behind the staff role.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BuildError

from grants.applications.models import APPLICATION_STATUS_LABELS, ApplicationStatus
from grants.calls import operations, queries, rules
from grants.calls.forms import CallForm, ConfirmForm, form_data
from grants.calls.models import CALL_TRANSITIONS, FILE_TYPES, Call, CallStatus
from grants.core.db import utcnow
from grants.core.enums import Role
from grants.core.permissions import has_role, staff_required
from grants.extensions import db
from grants.organisations.models import LEGAL_FORM_LABELS

bp = Blueprint("calls", __name__)

#: the « Ajouter des lignes » buttons: ``action`` value → list
ADD_ACTIONS = {"add_years": "years", "add_documents": "documents", "add_criteria": "criteria"}
#: lifecycle actions: URL segment → (target status, button label, flash)
TRANSITIONS = {
    "publier": (CallStatus.published, "Publier l'appel", "L'appel est publié."),
    "clore": (CallStatus.closed, "Clore l'appel", "L'appel est clos."),
    "decider": (CallStatus.decided, "Marquer comme décidé", "L'appel est marqué comme décidé."),
    "archiver": (CallStatus.archived, "Archiver l'appel", "L'appel est archivé."),
}
PAD_NEW = {"years": 3, "documents": 3, "criteria": 5}


def _is_staff() -> bool:
    return has_role(current_user, Role.staff, Role.admin)


def phase(call: Call, now=None) -> tuple[str, str]:
    """``(code, French label)`` of where a call stands for applicants."""
    now = now or utcnow()
    if call.status == CallStatus.draft:
        return "draft", "brouillon"
    if call.status == CallStatus.published and now < call.opens_at:
        return "upcoming", "à venir"
    if call.is_open_at(now):
        return "open", "ouvert"
    return "closed", "clos"


def apply_url(call: Call) -> str:
    """Where « Déposer un dossier » leads (the applications blueprint owns that page)."""
    try:
        return url_for("applications.start", call_id=call.id)
    except BuildError:
        return f"/appels/{call.id}/candidater"


@bp.app_template_global()
def call_phase(call: Call) -> tuple[str, str]:
    return phase(call)


@bp.context_processor
def _helpers():
    return {
        "legal_form_labels": {f.value: label for f, label in LEGAL_FORM_LABELS.items()},
        "file_types": FILE_TYPES,
        "share_to_percentage": rules.share_to_percentage,
    }


# --- public pages -----------------------------------------------------------------------------


@bp.get("/appels")
def public_index():
    current, previous = queries.public_calls()
    return render_template("calls/public_index.html", current=current, previous=previous)


@bp.get("/appels/<int:call_id>")
def public_show(call_id: int):
    call = queries.get_call(call_id)
    if call is None or (not call.is_public and not _is_staff()):
        abort(404)
    return render_template(
        "calls/public_show.html", call=call, phase=phase(call), apply_url=apply_url(call)
    )


# --- staff ------------------------------------------------------------------------------------


@bp.get("/gestion/appels")
@staff_required
def staff_index():
    calls = queries.staff_calls()
    counts = queries.application_counts([c.id for c in calls])
    return render_template(
        "calls/staff_index.html",
        calls=calls,
        counts=counts,
        statuses=list(ApplicationStatus),
        status_labels=APPLICATION_STATUS_LABELS,
    )


def _render_form(form: CallForm, call: Call | None, *, preview: bool = False, status: int = 200):
    context = {"form": form, "call": call, "preview": preview, "add_actions": ADD_ACTIONS}
    if call is not None:
        context.update(
            frozen=call.status in operations.FROZEN_STATES,
            submitted=queries.has_submitted_applications(call.id),
            has_reviews=queries.call_has_reviews(call),
            publish_problems=(
                operations.publish_problems(call) if call.status == CallStatus.draft else []
            ),
            actions=[
                (segment, label)
                for segment, (target, label, _) in TRANSITIONS.items()
                if target in CALL_TRANSITIONS[call.status]
            ],
        )
    return render_template("calls/form.html", **context), status


def _checked(form: CallForm, call: Call | None) -> bool:
    """Parse (the form) and check (the operations' rules); every message next to its field."""
    form.validate()
    try:
        _clean, errors = operations.validation_errors(form.values(call), call)
    except operations.CallError as exc:
        form.list_errors.setdefault("form", []).append(exc.message)
        return False
    form.show_errors(errors)
    return not form.has_errors


def _handle_post(form: CallForm, call: Call | None):
    """The buttons that don't save: add rows, preview. None when the form is to be saved."""
    action = request.form.get("action", "save")
    if action in ADD_ACTIONS:
        form.add_rows(ADD_ACTIONS[action])
        return _render_form(form, call)
    if action == "preview":
        return _render_form(form, call, preview=True)
    return None


def _commit(form: CallForm) -> bool:
    """Commit; a concurrent use of the same prefix becomes a message next to the field."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        form.reference_prefix.errors = [*form.reference_prefix.errors, operations.PREFIX_TAKEN]
        return False
    return True


@bp.route("/gestion/appels/nouveau", methods=["GET", "POST"])
@staff_required
def create():
    form = CallForm(data=form_data(operations.default_values()))
    if request.method == "GET":
        form.pad(PAD_NEW)
        return _render_form(form, None)
    if (response := _handle_post(form, None)) is not None:
        return response
    if _checked(form, None):
        try:
            call = operations.create_call(current_user, form.values())
        except operations.CallError as exc:
            db.session.rollback()
            form.show_errors(exc.fields or {"form": [exc.message]})
        else:
            if _commit(form):
                flash(f"L'appel « {call.title} » a été créé (brouillon).", "success")
                return redirect(url_for(".edit", call_id=call.id))
    return _render_form(form, None, status=422)


def _load_for_staff(call_id: int) -> Call:
    call = queries.get_call(call_id)
    if call is None:
        abort(404)
    return call


@bp.route("/gestion/appels/<int:call_id>/modifier", methods=["GET", "POST"])
@staff_required
def edit(call_id: int):
    call = _load_for_staff(call_id)
    form = CallForm(data=form_data(operations.call_values(call)))
    if request.method == "GET":
        form.pad()
        return _render_form(form, call)
    if (response := _handle_post(form, call)) is not None:
        return response
    if _checked(form, call):
        try:
            changes = operations.update_call(call, current_user, form.values(call))
        except operations.CallError as exc:
            db.session.rollback()
            form.show_errors(exc.fields or {"form": [exc.message]})
        else:
            if _commit(form):
                if "closes_at" in changes and changes["closes_at"][1] > changes["closes_at"][0]:
                    flash(
                        "La clôture est reportée ; les porteurs ayant un brouillon sur cet "
                        "appel sont prévenus par e-mail.",
                        "success",
                    )
                elif changes:
                    flash("Les modifications ont été enregistrées.", "success")
                else:
                    flash("Aucune modification : l'appel était déjà à jour.", "info")
                return redirect(url_for(".edit", call_id=call.id))
    return _render_form(form, call, status=422)


@bp.post("/gestion/appels/<int:call_id>/<any(publier, clore, decider, archiver):action>")
@staff_required
def transition(call_id: int, action: str):
    call = _load_for_staff(call_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    target, _label, message = TRANSITIONS[action]
    try:
        operations.transition(call, current_user, target)
    except operations.CallError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        for problem in exc.fields.get("publish", []):
            flash(problem, "error")
        return redirect(url_for(".edit", call_id=call_id))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".edit", call_id=call_id))
