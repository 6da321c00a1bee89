"""Organisations: create, edit, members and invitations.

Access rule, the same on the pages and on the API: someone who may not *see* an
organisation gets a 404 (its existence is not confirmed to them); someone who may see
it but not do the action (staff on another's organisation) gets a 403.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError

from grants.accounts.models import hash_token
from grants.core.permissions import staff_required
from grants.core.security import safe_next
from grants.extensions import db
from grants.organisations import operations, queries, rules
from grants.organisations.forms import (
    ConfirmForm,
    InviteForm,
    OrganisationForm,
    organisation_form_data,
)
from grants.organisations.models import Organisation

# No url_prefix: the invitation links live at /invitations/<token>.
bp = Blueprint("organisations", __name__)


def load_organisation(org_id: int, verb: str = "view") -> Organisation:
    """The organisation, or 404 when the user may not see it, 403 when they may not ``verb``."""
    org = queries.get_organisation(org_id)
    if org is None or not org.can_view(current_user):
        abort(404)
    if verb != "view" and not getattr(org, f"can_{verb}")(current_user):
        abort(403)
    return org


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


@bp.context_processor
def _helpers():
    return {
        "format_siret": rules.format_siret,
        "format_siren": rules.format_siren,
        "format_fte": rules.format_fte,
        "is_ess_form": rules.is_ess_form,
    }


@bp.get("/structures/")
@login_required
def index():
    return render_template(
        "organisations/index.html", organisations=queries.organisations_of(current_user)
    )


@bp.get("/structures/toutes")
@staff_required
def all_organisations():
    search = request.args.get("q", "").strip()[:200]
    pagination = queries.paginate(queries.search_all(search), _page_arg())
    return render_template("organisations/all.html", pagination=pagination, search=search)


def _commit_or_siret_taken(form: OrganisationForm) -> bool:
    """Commit; a concurrent insert of the same SIRET becomes a message next to the field."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if queries.siret_taken(form.siret.data or ""):
            form.siret.errors = [*form.siret.errors, operations.SIRET_TAKEN]
            return False
        raise
    return True


def _show_errors(form: OrganisationForm, exc: operations.OrganisationError) -> None:
    for name, messages in exc.fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, *messages]
    if not exc.fields:
        flash(exc.message, "error")


@bp.route("/structures/nouvelle", methods=["GET", "POST"])
@login_required
def create():
    form = OrganisationForm(commune_choices=queries.commune_choices())
    if form.validate_on_submit():
        try:
            org = operations.create_organisation(current_user, form.values())
        except operations.OrganisationError as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            if _commit_or_siret_taken(form):
                flash(f"La structure « {org.name} » a été créée.", "success")
                default = url_for(".show", org_id=org.id)
                return redirect(safe_next(request.args.get("next"), default))
    return render_template("organisations/form.html", form=form, organisation=None)


@bp.get("/structures/<int:org_id>")
@login_required
def show(org_id: int):
    org = load_organisation(org_id)
    return _render_show(org)


def _render_show(org: Organisation, invite_form: InviteForm | None = None, status: int = 200):
    can_edit = org.can_edit(current_user)
    return (
        render_template(
            "organisations/show.html",
            organisation=org,
            members=sorted(org.memberships, key=lambda m: (m.joined_at, m.user_id)),
            invitations=queries.pending_invitations(org) if can_edit else [],
            invite_form=invite_form or InviteForm(),
            confirm_form=ConfirmForm(),
            can_edit=can_edit,
        ),
        status,
    )


@bp.route("/structures/<int:org_id>/modifier", methods=["GET", "POST"])
@login_required
def edit(org_id: int):
    org = load_organisation(org_id, "edit")
    form = OrganisationForm(
        data=organisation_form_data(org), commune_choices=queries.commune_choices()
    )
    if form.validate_on_submit():
        try:
            changes = operations.update_organisation(org, current_user, form.values())
        except operations.OrganisationError as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            if _commit_or_siret_taken(form):
                if changes:
                    flash("Les modifications ont été enregistrées.", "success")
                else:
                    flash("Aucune modification : la fiche était déjà à jour.", "info")
                return redirect(url_for(".show", org_id=org.id))
    return render_template("organisations/form.html", form=form, organisation=org)


@bp.post("/structures/<int:org_id>/inviter")
@login_required
def invite(org_id: int):
    org = load_organisation(org_id, "invite")
    form = InviteForm()
    if not form.validate_on_submit():
        return _render_show(org, form, 422)
    try:
        operations.invite(org, current_user, form.email.data)
    except operations.OrganisationError as exc:
        db.session.rollback()
        form.email.errors = [*form.email.errors, *exc.fields.get("email", [exc.message])]
        return _render_show(org, form, 422)
    db.session.commit()
    days = current_app.config["INVITATION_DAYS"]
    flash(
        f"Invitation envoyée à {form.email.data.strip().lower()} (lien valable {days} jours).",
        "success",
    )
    return redirect(url_for(".show", org_id=org.id))


@bp.post("/structures/<int:org_id>/invitations/<int:invitation_id>/annuler")
@login_required
def revoke_invitation(org_id: int, invitation_id: int):
    org = load_organisation(org_id, "invite")
    if not ConfirmForm().validate_on_submit():
        abort(400)
    invitation = next((i for i in queries.pending_invitations(org) if i.id == invitation_id), None)
    if invitation is None:
        flash("Cette invitation n'est plus en attente.", "info")
        return redirect(url_for(".show", org_id=org.id))
    operations.revoke_invitation(invitation, current_user)
    db.session.commit()
    flash(f"L'invitation de {invitation.email} a été annulée.", "success")
    return redirect(url_for(".show", org_id=org.id))


@bp.post("/structures/<int:org_id>/membres/<int:user_id>/retirer")
@login_required
def remove_member(org_id: int, user_id: int):
    org = load_organisation(org_id, "edit")
    if not ConfirmForm().validate_on_submit():
        abort(400)
    leaving = user_id == current_user.id
    try:
        operations.remove_member(org, user_id, current_user)
    except operations.OrganisationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".show", org_id=org.id))
    db.session.commit()
    if leaving:
        flash(f"Vous avez quitté la structure « {org.name} ».", "success")
        return redirect(url_for(".index"))
    flash("Le membre a été retiré de la structure.", "success")
    return redirect(url_for(".show", org_id=org.id))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    invitation = queries.invitation_by_token_hash(hash_token(token))
    if invitation is None:
        return render_template("organisations/invitation.html", invitation=None), 404
    if not current_user.is_authenticated:
        if request.method == "POST":
            abort(401)
        return render_template(
            "organisations/invitation.html",
            invitation=invitation,
            problem=operations.invitation_problem(invitation),
            next_url=request.path,
        )
    problem = operations.invitation_problem(invitation, current_user)
    form = ConfirmForm()
    if request.method == "POST" and not problem:
        if not form.validate_on_submit():
            abort(400)
        org = invitation.organisation
        operations.accept_invitation(invitation, current_user)
        db.session.commit()
        flash(f"Vous êtes maintenant membre de la structure « {org.name} ».", "success")
        return redirect(url_for(".show", org_id=org.id))
    return render_template(
        "organisations/invitation.html",
        invitation=invitation,
        problem=problem,
        form=form,
        already_member=invitation.organisation.is_member(current_user),
    ), (409 if problem and request.method == "POST" else 200)
