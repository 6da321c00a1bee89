"""Schedules: the staff pages of a call's schedules and what-if simulation, and a
laureate's schedule.

* ``/gestion/appels/<id>/echeanciers`` (staff): the awards with their tranches per year,
  totals against the envelopes, the last computation (progress refreshed by a
  ``Refresh`` header while it runs — no script), its overflow, alternatives, errors,
  warnings and conflicts; « Calculer les échéanciers »; applying an alternative; lifting
  a de minimis block.
* ``/gestion/appels/<id>/simulation`` (staff): another envelope, profile, unit or award
  amounts, the resulting table beside the stored one; computed in the request, nothing
  is written.
* ``/dossiers/<application id>/echeancier``: the members of the organisation (and staff)
  read the award's tranches.
"""

from __future__ import annotations

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
from flask_login import current_user, login_required

from grants.applications.models import Application
from grants.calls.models import CallKind
from grants.core.permissions import staff_required
from grants.extensions import db
from grants.funding import forms, operations, queries
from grants.funding.investment import compute_for_call
from grants.funding.models import RunStatus
from grants.funding.rules import ScheduleInputError, column_totals

bp = Blueprint("funding", __name__)

#: seconds between two refreshes of the schedules page while a computation runs
REFRESH_SECONDS = 3


def _load_call(call_id: int):
    call = queries.get_call(call_id)
    if call is None:
        abort(404)
    return call


@bp.app_context_processor
def _helpers():
    return {"alternative_labels": operations.ALTERNATIVE_LABELS}


# --- The call's schedules -----------------------------------------------------------------


def _render_schedules(call, deminimis_form=None, deminimis_award_id=None, status: int = 200):
    table = queries.stored_table(call)
    run = queries.latest_run(call.id)
    running = run is not None and run.status in (RunStatus.queued, RunStatus.running)
    response = make_response(
        render_template(
            "funding/schedule_call.html",
            call=call,
            table=table,
            run=run,
            view=queries.run_view(run),
            running=running,
            investment=call.kind == CallKind.investment_aid,
            organisations={row.reference: row.organisation for row in table.rows},
            confirm_form=forms.ConfirmForm(formdata=None),
            alternative_form=forms.AlternativeForm(formdata=None),
            deminimis_form=deminimis_form or forms.DeMinimisForm(formdata=None),
            deminimis_award_id=deminimis_award_id,
            refresh_seconds=REFRESH_SECONDS,
        ),
        status,
    )
    if running:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@bp.get("/gestion/appels/<int:call_id>/echeanciers")
@staff_required
def schedules(call_id: int):
    return _render_schedules(_load_call(call_id))


@bp.post("/gestion/appels/<int:call_id>/echeanciers")
@staff_required
def request_run(call_id: int):
    call = _load_call(call_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    try:
        run = operations.request_schedule(call, current_user)
    except operations.ScheduleError as exc:
        flash(exc.message, "error")
        return redirect(url_for("funding.schedules", call_id=call.id))
    db.session.commit()
    flash(
        f"Calcul des échéanciers lancé (n° {run.id}) : la page se met à jour pendant le calcul.",
        "success",
    )
    return redirect(url_for("funding.schedules", call_id=call.id))


@bp.post("/gestion/appels/<int:call_id>/echeanciers/calculs/<int:run_id>/alternative")
@staff_required
def apply_alternative(call_id: int, run_id: int):
    call = _load_call(call_id)
    run = queries.get_run(run_id)
    if run is None or run.call_id != call.id:
        abort(404)
    form = forms.AlternativeForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        new_run = operations.apply_alternative(call, run, form.alternative.data or "", current_user)
    except operations.ScheduleError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("funding.schedules", call_id=call.id))
    db.session.commit()
    label = operations.ALTERNATIVE_LABELS[form.alternative.data]
    flash(
        f"Alternative « {label} » appliquée aux montants des aides ; nouveau calcul lancé "
        f"(n° {new_run.id}).",
        "success",
    )
    return redirect(url_for("funding.schedules", call_id=call.id))


@bp.post("/gestion/aides/<int:award_id>/de-minimis")
@staff_required
def de_minimis_override(award_id: int):
    award = queries.get_award(award_id)
    if award is None:
        abort(404)
    form = forms.DeMinimisForm()
    if not form.validate_on_submit():
        return _render_schedules(award.call, form, award.id, status=422)
    try:
        operations.override_de_minimis(award, current_user, form.reason.data)
    except operations.ScheduleError as exc:
        for name, messages in exc.fields.items():
            getattr(form, name).errors = [*getattr(form, name).errors, *messages]
        if not exc.fields:
            flash(exc.message, "error")
        return _render_schedules(award.call, form, award.id, status=422)
    db.session.commit()
    flash(
        "Blocage de minimis levé : l'aide sera prise en compte au prochain calcul des échéanciers.",
        "success",
    )
    return redirect(url_for("funding.schedules", call_id=award.call_id))


@bp.post("/gestion/aides/<int:award_id>/de-minimis/retablir")
@staff_required
def de_minimis_restore(award_id: int):
    award = queries.get_award(award_id)
    if award is None:
        abort(404)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    operations.clear_de_minimis_override(award, current_user)
    db.session.commit()
    flash("Blocage de minimis rétabli.", "success")
    return redirect(url_for("funding.schedules", call_id=award.call_id))


# --- What-if simulation (never writes) ------------------------------------------------------


@bp.route("/gestion/appels/<int:call_id>/simulation", methods=["GET", "POST"])
@staff_required
def simulation(call_id: int):
    call = _load_call(call_id)
    awards = queries.simulation_awards(call)

    posted = request.method == "POST"
    form = forms.simulation_form(call, awards, formdata=request.form if posted else None)
    result = None
    left_out: list[str] = []
    envelopes = {y.year: y.envelope for y in call.years}
    status = 200
    if posted:
        if not form.validate():
            if form.csrf_token.errors:
                abort(400)
        parsed = forms.parse_simulation_form(form, awards)
        if parsed is not None:
            envelopes = parsed.envelopes
            left_out = parsed.left_out
            try:
                result = compute_for_call(
                    call.kind.value,
                    parsed.envelopes,
                    parsed.awards,
                    unit=parsed.unit,
                    profile=parsed.profile,
                    payment_years=parsed.payment_years,
                )
            except ScheduleInputError as exc:
                forms.show_problems(form, exc.problems)
        if result is None:
            status = 422
    # Nothing of this request is ever written (the form reads, the computation is pure).
    db.session.rollback()
    table = queries.stored_table(call, with_targets=False)
    organisations = {a.reference: a.organisation for a in awards}
    return render_template(
        "funding/simulation.html",
        call=call,
        form=form,
        result=result,
        comparison=queries.compare(table, result, awards) if result else None,
        table=table,
        envelopes=envelopes,
        left_out=left_out,
        organisations=organisations,
        column_totals=column_totals,
        investment=call.kind == CallKind.investment_aid,
    ), status


# --- A laureate's schedule -------------------------------------------------------------------


@bp.get("/dossiers/<int:application_id>/echeancier")
@login_required
def award_schedule(application_id: int):
    application = db.session.get(Application, application_id)
    if application is None:
        abort(404)
    if not application.can_view(current_user):
        abort(403)
    award = queries.award_of_application(application_id)
    if award is None:
        abort(404)
    return render_template(
        "funding/schedule_award.html",
        application=application,
        award=award,
        call=award.call,
        reference=queries.reference_of(application.reference, application.id),
    )
