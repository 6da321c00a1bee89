"""Ranking, committee sessions and decisions (staff); the decision block of the applicant's
file and the laureates of a decided call (template helpers).

Staff only: ``/gestion/appels/<id>/classement`` (+ ``.xlsx``), ``…/seances``, the bulk
decisions from the ranking, ``/gestion/dossiers/<id>/decision`` and marking the call
decided once every file is.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from grants.applications.models import Application, ApplicationStatus
from grants.calls.models import Call, CallStatus
from grants.core.permissions import staff_required
from grants.decisions import exports, forms, operations, queries, rules
from grants.decisions.models import Outcome
from grants.extensions import db

bp = Blueprint("decisions", __name__)

S = ApplicationStatus


# --- Template helpers (the applicant's file page, the call's public page) ----------------


def applicant_decision(application: Application) -> dict | None:
    """What the members of the organisation read of the decision: outcome, amount, reason,
    date; the reviewers' comments anonymised only if the call shares them. Never the
    reviewers' names or scores."""
    decision = queries.get_decision(application.id)
    if decision is None:
        return None
    call = application.call
    return {
        "outcome": decision.outcome,
        "awarded_total": decision.awarded_total,
        "reason": decision.reason,
        "decided_at": decision.decided_at,
        "shared_reviews": queries.shared_reviews(application) if call.share_review_comments else [],
    }


@bp.app_context_processor
def _decision_helpers():
    return {
        "decision_for_applicant": applicant_decision,
        "decision_laureates": queries.laureates,
    }


# --- Helpers ------------------------------------------------------------------------------


def _load_call(call_id: int) -> Call:
    call = queries.get_call(call_id)
    if call is None:
        abort(404)
    return call


def _show_errors(form, exc: operations.DecisionError) -> None:
    shown = False
    for name, messages in exc.fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, *messages]
            shown = True
    if not shown:
        flash(exc.message, "error")


# --- Ranking ------------------------------------------------------------------------------


def _sort_arg() -> str:
    sort = request.args.get("tri", rules.DEFAULT_SORT)
    return sort if sort in rules.SORT_KEYS else rules.DEFAULT_SORT


def _render_ranking(call: Call, bulk_form=None, status: int = 200):
    sort = _sort_arg()
    ranking = queries.ranking(call, sort)
    sessions = queries.sessions_of(call.id)
    if bulk_form is None:
        bulk_form = forms.BulkDecisionForm(formdata=None)
    bulk_form.session_id.choices = forms.session_choices(sessions)
    checked = {i for i in (bulk_form.application_ids.data or []) if i}
    return render_template(
        "decisions/ranking.html",
        call=call,
        ranking=ranking,
        sessions=sessions,
        bulk_form=bulk_form,
        checked=checked,
        confirm_form=forms.ConfirmForm(formdata=None),
        sort_keys=rules.SORT_KEYS,
        display=rules.display,
        threshold=rules.DISAGREEMENT_THRESHOLD,
        can_mark_decided=call.status == CallStatus.closed and ranking.undecided == 0,
    ), status


@bp.get("/gestion/appels/<int:call_id>/classement")
@staff_required
def ranking(call_id: int):
    return _render_ranking(_load_call(call_id))


@bp.get("/gestion/appels/<int:call_id>/classement.xlsx")
@staff_required
def ranking_xlsx(call_id: int):
    call = _load_call(call_id)
    ranking = queries.ranking(call, _sort_arg())
    response = make_response(exports.ranking_xlsx(ranking))
    response.headers["Content-Type"] = exports.XLSX_TYPE
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{exports.ranking_filename(call)}"'
    )
    return response


@bp.post("/gestion/appels/<int:call_id>/classement/decisions")
@staff_required
def bulk_decide(call_id: int):
    call = _load_call(call_id)
    form = forms.BulkDecisionForm()
    form.session_id.choices = forms.session_choices(queries.sessions_of(call.id))
    if not form.validate_on_submit():
        return _render_ranking(call, form, 422)
    ids = [i for i in form.application_ids.data if i]
    applications = {
        a.id: a
        for a in db.session.scalars(
            sa.select(Application).where(Application.id.in_(ids), Application.call_id == call.id)
        )
    }
    results = operations.bulk_decide(
        [applications[i] for i in ids if i in applications],
        current_user,
        Outcome(form.outcome.data),
        form.session_id.data,
        form.reason.data or "",
        form.override_reason.data or "",
    )
    db.session.commit()
    for result in results:
        flash(result.message, "success" if result.ok else "error")
    if missing := len(set(ids) - set(applications)):
        flash(f"{missing} dossier(s) coché(s) n'appartiennent pas à cet appel.", "error")
    return redirect(url_for(".ranking", call_id=call.id, tri=_sort_arg()))


@bp.post("/gestion/appels/<int:call_id>/marquer-decide")
@staff_required
def mark_decided(call_id: int):
    call = _load_call(call_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    try:
        operations.mark_call_decided(call, current_user)
    except operations.DecisionError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash("L'appel est marqué comme décidé : les lauréats sont publiés sur sa page.", "success")
    return redirect(url_for(".ranking", call_id=call_id))


# --- Sessions -----------------------------------------------------------------------------


@bp.route("/gestion/appels/<int:call_id>/seances", methods=["GET", "POST"])
@staff_required
def sessions(call_id: int):
    call = _load_call(call_id)
    form = forms.SessionForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                operations.create_session(
                    call,
                    current_user,
                    form.held_on.data,
                    form.members(),
                    form.deliberation_ref.data or "",
                )
            except operations.DecisionError as exc:
                db.session.rollback()
                _show_errors(form, exc)
            else:
                db.session.commit()
                flash("La séance du comité est enregistrée.", "success")
                return redirect(url_for(".sessions", call_id=call.id))
        status = 422
    return render_template(
        "decisions/sessions.html", call=call, form=form, sessions=queries.sessions_of(call.id)
    ), status


# --- One file -----------------------------------------------------------------------------


def _load_application(application_id: int) -> Application:
    application = queries.get_application(application_id)
    if application is None:
        abort(404)
    return application


def _render_decision(application: Application, form=None, status: int = 200):
    sessions = queries.sessions_of(application.call_id)
    decision = queries.get_decision(application.id)
    if form is None:
        form = forms.DecisionForm(formdata=None)
        if decision is not None:
            form.outcome.data = decision.outcome.value
            form.awarded_total.data = decision.awarded_total
            form.reason.data = decision.reason
            form.session_id.data = decision.session_id
        elif sessions:
            form.session_id.data = sessions[0][0].id
    form.session_id.choices = forms.session_choices(sessions)
    call = application.call
    return render_template(
        "decisions/decide.html",
        application=application,
        call=call,
        organisation=application.organisation,
        decision=decision,
        scores=queries.file_scores(application),
        requested=queries.requested_by_year(call).get(application.id, {}),
        requested_total=queries.requested_total(application),
        sessions=sessions,
        form=form,
        display=rules.display,
        decidable=application.status in (S.submitted, S.under_review, S.accepted)
        and application.eligibility_override is not False,
    ), status


@bp.route("/gestion/dossiers/<int:application_id>/decision", methods=["GET", "POST"])
@staff_required
def decide(application_id: int):
    application = _load_application(application_id)
    if request.method == "GET":
        return _render_decision(application)
    form = forms.DecisionForm()
    form.session_id.choices = forms.session_choices(queries.sessions_of(application.call_id))
    if form.validate_on_submit():
        data = operations.DecisionInput(
            outcome=Outcome(form.outcome.data),
            awarded_total=form.awarded_total.data,
            reason=form.reason.data or "",
            session_id=form.session_id.data,
            override_reason=form.override_reason.data or "",
        )
        try:
            _decision, message = operations.decide(application, current_user, data)
        except operations.DecisionError as exc:
            db.session.rollback()
            _show_errors(form, exc)
            application = _load_application(application_id)
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for(".decide", application_id=application.id))
    return _render_decision(application, form, 422)
