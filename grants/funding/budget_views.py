"""Budget lines, the ``funding`` feature's budget side: the staff pages (staff and admins).

``/gestion/budget?annee=YYYY`` the report (voted / committed / paid / remaining per line,
grouped by section with totals); a line's page (its years, the calls whose awards consume
it, its commitments); forms to create and edit lines with their votes, and commitments
outside the calls (network-head conventions, PLIE).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms import SelectChoice

from grants.calls.models import Call
from grants.core.db import utcnow
from grants.core.models import default_funder
from grants.core.permissions import staff_required
from grants.extensions import db
from grants.funding import budget, budget_operations, budget_queries
from grants.funding.budget_forms import (
    CommitmentForm,
    ConfirmForm,
    LineForm,
    LinkCallForm,
    format_hours,
)
from grants.funding.models import CommitmentKind

bp = Blueprint("budget", __name__, url_prefix="/gestion/budget")

#: URL segment of a new commitment → kind
KIND_SEGMENTS = {"convention": CommitmentKind.fixed, "plie": CommitmentKind.plie}


@bp.context_processor
def _helpers():
    return {
        "budget_bar": budget.bar,
        "budget_percent": budget.percent,
        "section_labels": budget.SECTION_LABELS,
        "kind_labels": budget_operations.KIND_LABELS,
        "commitment_amount": budget_operations.commitment_amount,
        "format_hours": format_hours,
    }


def _funder_id() -> int:
    return default_funder().id


def _year_arg(funder_id: int) -> int:
    text = request.args.get("annee", "")
    try:
        return budget.parse_year(text)
    except ValueError:
        return budget_queries.default_year(funder_id, utcnow().year)


def _line_or_404(line_id: int):
    line = budget_queries.get_line(line_id, _funder_id())
    if line is None:
        abort(404)
    return line


def _commit_or_taken(form) -> bool:
    """Commit; a concurrent creation of the same line becomes a message next to the field."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        form.label.errors = [*form.label.errors, budget_operations.LINE_TAKEN]
        return False
    return True


@bp.get("")
@staff_required
def report():
    funder_id = _funder_id()
    year = _year_arg(funder_id)
    years = budget_queries.years(funder_id)
    return render_template(
        "funding/budget_report.html",
        report=budget_queries.report(funder_id, year),
        year=year,
        years=sorted(set(years) | {year}, reverse=True),
    )


@bp.route("/lignes/nouvelle", methods=["GET", "POST"])
@staff_required
def line_create():
    if request.method == "GET":
        form = LineForm.for_line(None)
        return render_template("funding/budget_line_form.html", form=form, line=None)
    form = LineForm()
    if request.form.get("action") == "add_years":
        form.add_rows()
        return render_template("funding/budget_line_form.html", form=form, line=None)
    clean = form.parsed()
    if clean is not None:
        try:
            line = budget_operations.create_line(current_user, clean)
        except budget_operations.BudgetError as exc:
            db.session.rollback()
            form.show_errors(exc.fields)
        else:
            if _commit_or_taken(form):
                flash(f"La ligne « {line.label} » a été créée.", "success")
                return redirect(url_for(".line_show", line_id=line.id))
    form.pad()
    return render_template("funding/budget_line_form.html", form=form, line=None), 422


@bp.get("/lignes/<int:line_id>")
@staff_required
def line_show(line_id: int):
    line = _line_or_404(line_id)
    calls = budget_queries.funder_calls(line.funder_id)
    linked = [c for c in calls if c.funding_line_id == line.id]
    other_lines = budget_queries.line_labels(c.funding_line_id for c in calls)
    link_form = LinkCallForm()
    link_form.call_id.choices = [
        SelectChoice(
            str(c.id),
            f"{c.title} ({c.reference_prefix})"
            + (
                f" — actuellement sur « {other_lines.get(c.funding_line_id, '?')} »"
                if c.funding_line_id
                else ""
            ),
        )
        for c in calls
        if c.funding_line_id != line.id
    ]
    commitments = budget_queries.commitments(line.id)
    return render_template(
        "funding/budget_line.html",
        line=line,
        years=budget_queries.line_years(line),
        linked=linked,
        link_form=link_form,
        commitments=commitments,
        organisations=budget_queries.organisation_names(c.organisation_id for c in commitments),
        confirm=ConfirmForm(),
    )


@bp.route("/lignes/<int:line_id>/modifier", methods=["GET", "POST"])
@staff_required
def line_edit(line_id: int):
    line = _line_or_404(line_id)
    if request.method == "GET":
        form = LineForm.for_line(line)
        return render_template("funding/budget_line_form.html", form=form, line=line)
    form = LineForm()
    if request.form.get("action") == "add_years":
        form.add_rows()
        return render_template("funding/budget_line_form.html", form=form, line=line)
    clean = form.parsed()
    if clean is not None:
        try:
            changes = budget_operations.update_line(line, current_user, clean, replace_votes=True)
        except budget_operations.BudgetError as exc:
            db.session.rollback()
            form.show_errors(exc.fields)
        else:
            if _commit_or_taken(form):
                if changes:
                    flash("Les modifications de la ligne ont été enregistrées.", "success")
                else:
                    flash("Aucune modification : la ligne était déjà à jour.", "info")
                return redirect(url_for(".line_show", line_id=line.id))
    form.pad()
    return render_template("funding/budget_line_form.html", form=form, line=line), 422


@bp.post("/lignes/<int:line_id>/appels")
@staff_required
def link_call(line_id: int):
    line = _line_or_404(line_id)
    form = LinkCallForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        call_id = int(form.call_id.data or "")
    except ValueError:
        flash("Choisissez un appel dans la liste.", "error")
        return redirect(url_for(".line_show", line_id=line.id))
    call = db.session.get(Call, call_id)
    if call is None:
        flash("Cet appel n'existe pas.", "error")
        return redirect(url_for(".line_show", line_id=line.id))
    try:
        changed = budget_operations.link_call(line, call, current_user)
    except budget_operations.BudgetError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".line_show", line_id=line.id))
    db.session.commit()
    if changed:
        flash(
            f"Les aides de l'appel « {call.title} » sont désormais imputées sur cette ligne.",
            "success",
        )
    else:
        flash("Cet appel était déjà rattaché à cette ligne.", "info")
    return redirect(url_for(".line_show", line_id=line.id))


@bp.post("/lignes/<int:line_id>/appels/<int:call_id>/retirer")
@staff_required
def unlink_call(line_id: int, call_id: int):
    line = _line_or_404(line_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    call = db.session.get(Call, call_id)
    if call is None or call.funding_line_id != line.id:
        abort(404)
    budget_operations.unlink_call(call, current_user)
    db.session.commit()
    flash(f"L'appel « {call.title} » n'est plus rattaché à cette ligne.", "success")
    return redirect(url_for(".line_show", line_id=line.id))


def _render_commitment(form, line, commitment, status=200):
    return (
        render_template(
            "funding/budget_commitment_form.html",
            form=form,
            line=line,
            commitment=commitment,
            kind=form.kind,
            preview=form.amount_preview(),
        ),
        status,
    )


@bp.route(
    "/lignes/<int:line_id>/engagements/nouveau/<any(convention, plie):segment>",
    methods=["GET", "POST"],
)
@staff_required
def commitment_create(line_id: int, segment: str):
    line = _line_or_404(line_id)
    kind = KIND_SEGMENTS[segment]
    organisations = budget_queries.organisation_choices()
    if request.method == "GET":
        year = request.args.get("annee", type=int)
        if year is None:
            voted = [v.year for v in line.years]
            year = budget_queries.default_year(line.funder_id, utcnow().year)
            if voted and year not in voted:
                year = max(voted)
        form = CommitmentForm.for_commitment(kind, organisations, year=year, beneficiary=line.label)
        return _render_commitment(form, line, None)
    form = CommitmentForm()
    form.setup(kind, organisations)
    clean = form.parsed()
    if clean is None:
        return _render_commitment(form, line, None, 422)
    commitment = budget_operations.create_commitment(line, current_user, clean)
    db.session.commit()
    flash(
        f"Engagement {commitment.year} « {commitment.beneficiary} » enregistré : "
        f"{budget.format_euros(budget_operations.commitment_amount(commitment))}.",
        "success",
    )
    return redirect(url_for(".line_show", line_id=line.id))


def _commitment_or_404(commitment_id: int):
    commitment = budget_queries.get_commitment(commitment_id, _funder_id())
    if commitment is None:
        abort(404)
    return commitment


@bp.route("/engagements/<int:commitment_id>/modifier", methods=["GET", "POST"])
@staff_required
def commitment_edit(commitment_id: int):
    commitment = _commitment_or_404(commitment_id)
    organisations = budget_queries.organisation_choices()
    if request.method == "GET":
        form = CommitmentForm.for_commitment(commitment.kind, organisations, commitment)
        return _render_commitment(form, commitment.line, commitment)
    form = CommitmentForm()
    form.setup(commitment.kind, organisations)
    clean = form.parsed()
    if clean is None:
        return _render_commitment(form, commitment.line, commitment, 422)
    changes = budget_operations.update_commitment(commitment, current_user, clean)
    db.session.commit()
    if changes:
        flash(
            "Engagement modifié : "
            f"{budget.format_euros(budget_operations.commitment_amount(commitment))}.",
            "success",
        )
    else:
        flash("Aucune modification : l'engagement était déjà à jour.", "info")
    return redirect(url_for(".line_show", line_id=commitment.line_id))


@bp.post("/engagements/<int:commitment_id>/supprimer")
@staff_required
def commitment_delete(commitment_id: int):
    commitment = _commitment_or_404(commitment_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    line_id = commitment.line_id
    budget_operations.delete_commitment(commitment, current_user)
    db.session.commit()
    flash("L'engagement a été supprimé.", "success")
    return redirect(url_for(".line_show", line_id=line_id))
