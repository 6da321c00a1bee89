"""State changes on organisations, members and invitations.

Each function checks, changes, records an audit entry and queues mails; none commits
and none reads the request (DESIGN §7). Refusals raise :class:`OrganisationError`
whose messages are French and, where they concern one input, name the field.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app

from grants.accounts.models import User, hash_token
from grants.accounts.operations import normalise_email
from grants.audit.operations import diff, record, snapshot
from grants.core.db import utcnow
from grants.core.mail import queue_mail
from grants.extensions import db
from grants.organisations import queries, rules
from grants.organisations.models import Invitation, LegalForm, Membership, Organisation

#: the fields a member edits (form, API, audit diff), in the order of the form
FIELDS = [
    "name",
    "legal_form",
    "siret",
    "rna",
    "address",
    "postal_code",
    "city",
    "commune_insee",
    "in_qpv",
    "esus_approved",
    "has_economic_activity",
    "employees",
    "fte",
    "volunteers",
]

SIRET_TAKEN = (
    "Une structure avec ce SIRET est déjà enregistrée : "
    "demandez à l'un de ses membres de vous inviter."
)


class OrganisationError(ValueError):
    """A refused change. ``fields`` maps a field name to French messages (may be empty)."""

    def __init__(self, message: str = "", fields: dict[str, list[str]] | None = None):
        self.fields = fields or {}
        self.message = message or next(
            (msgs[0] for msgs in self.fields.values() if msgs), "Modification refusée."
        )
        super().__init__(self.message)


def _checked(values: dict, exclude_id: int | None = None) -> dict:
    """Normalise ``values`` and apply the pure rules again (the API may bypass the form)."""
    clean = {name: values[name] for name in FIELDS if name in values}
    clean["name"] = (clean.get("name") or "").strip()
    clean["siret"] = rules.clean_siret(clean.get("siret"))
    clean["rna"] = rules.clean_rna(clean.get("rna")) or None
    clean["legal_form"] = LegalForm(clean["legal_form"])
    errors: dict[str, list[str]] = {}
    try:
        clean["fte"] = rules.parse_fte(clean.get("fte", "0"))
    except ValueError as exc:
        errors["fte"] = [str(exc)]
    if not clean["name"]:
        errors["name"] = ["Indiquez le nom de la structure."]
    if problem := rules.siret_problem(clean["siret"]):
        errors["siret"] = [problem]
    elif queries.siret_taken(clean["siret"], exclude_id):
        errors["siret"] = [SIRET_TAKEN]
    if problem := rules.rna_problem(clean["rna"], clean["legal_form"].value):
        errors["rna"] = [problem]
    if errors:
        raise OrganisationError(fields=errors)
    return clean


def _mark(org: Organisation) -> str:
    return f"« {org.name} »"


def create_organisation(actor: User, values: dict) -> Organisation:
    """A new organisation; its creator is its first member."""
    clean = _checked(values)
    org = Organisation(**clean)
    org.memberships = [Membership(user_id=actor.id)]
    db.session.add(org)
    db.session.flush()
    after = snapshot(org, FIELDS)
    record(
        actor,
        "organisation.create",
        org,
        summary=f"Création de la structure {_mark(org)} (SIRET {org.siret})",
        changes={k: [None, v] for k, v in after.items() if v not in (None, "", False)},
    )
    return org


def update_organisation(org: Organisation, actor: User, values: dict) -> dict:
    """Apply ``values``; returns the ``{field: [before, after]}`` that changed (recorded)."""
    merged = {**snapshot(org, FIELDS), **values}
    clean = _checked(merged, exclude_id=org.id)
    before = snapshot(org, FIELDS)
    for name, value in clean.items():
        setattr(org, name, value)
    changes = diff(before, snapshot(org, FIELDS))
    if changes:
        org.updated_at = utcnow()
        record(
            actor,
            "organisation.update",
            org,
            summary=f"Modification de la structure {_mark(org)}",
            changes=changes,
        )
    return changes


# --- members and invitations ---------------------------------------------------------


def invitation_link(token: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/invitations/{token}"


def invite(org: Organisation, actor: User, email: str) -> tuple[Invitation, str]:
    """Invite ``email`` to join ``org``; a pending invitation to the same address is replaced.

    Returns the invitation and the clear token (only its hash is stored; it is in the mail).
    """
    email = normalise_email(email)
    if "@" not in email:
        raise OrganisationError(fields={"email": ["Indiquez une adresse e-mail valide."]})
    if any(m.user.email == email for m in org.memberships):
        raise OrganisationError(
            fields={"email": ["Cette personne est déjà membre de la structure."]}
        )
    now = utcnow()
    replaced = [inv for inv in queries.pending_invitations(org) if inv.email == email]
    for old in replaced:
        old.revoked_at = now
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        organisation_id=org.id,
        email=email,
        token_hash=hash_token(token),
        invited_by_id=actor.id,
        created_at=now,
        expires_at=now + timedelta(days=current_app.config["INVITATION_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    queue_mail(
        email,
        f"Invitation à rejoindre {org.name} — Subventions ESS",
        "organisations/invitation",
        organisation=org,
        inviter=actor,
        link=invitation_link(token),
        expires_at=invitation.expires_at,
    )
    record(
        actor,
        "organisation.invite",
        org,
        summary=(
            f"Invitation de {email} à rejoindre {_mark(org)}"
            + (" (remplace l'invitation précédente)" if replaced else "")
        ),
        changes={"invitation": [None, email]},
    )
    return invitation, token


def invitation_problem(invitation: Invitation, user: User | None = None) -> str | None:
    """Why ``invitation`` cannot be accepted (by ``user``), or None."""
    if invitation.revoked_at is not None:
        return "Cette invitation a été annulée par un membre de la structure."
    if invitation.accepted_at is not None:
        return "Cette invitation a déjà été utilisée."
    if utcnow() >= invitation.expires_at:
        return (
            "Cette invitation a expiré. Demandez à un membre de la structure "
            "de vous en envoyer une nouvelle."
        )
    if user is not None:
        if normalise_email(user.email) != normalise_email(invitation.email):
            return (
                f"Cette invitation a été envoyée à {invitation.email}, mais vous êtes "
                f"connecté avec {user.email}. Connectez-vous avec l'adresse invitée "
                "(ou créez un compte avec elle) pour l'accepter."
            )
        if not user.is_confirmed:
            return "Confirmez d'abord votre adresse e-mail (lien reçu à l'inscription)."
    return None


def accept_invitation(invitation: Invitation, user: User) -> Membership | None:
    """``user`` joins the organisation; None when they already were a member."""
    if problem := invitation_problem(invitation, user):
        raise OrganisationError(problem)
    org = invitation.organisation
    invitation.accepted_at = utcnow()
    invitation.accepted_by_id = user.id
    if org.is_member(user):
        return None
    membership = Membership(user_id=user.id)
    org.memberships.append(membership)
    db.session.flush()
    record(
        user,
        "organisation.member_join",
        org,
        summary=f"{user.email} a rejoint la structure {_mark(org)} sur invitation",
        changes={"members": [None, user.email]},
    )
    return membership


def revoke_invitation(invitation: Invitation, actor: User) -> None:
    if invitation.accepted_at is not None:
        raise OrganisationError("Cette invitation a déjà été acceptée.")
    if invitation.revoked_at is not None:
        return
    invitation.revoked_at = utcnow()
    record(
        actor,
        "organisation.invitation_revoke",
        invitation.organisation,
        summary=f"Invitation de {invitation.email} annulée ({_mark(invitation.organisation)})",
        changes={"invitation": [invitation.email, None]},
    )


def remove_member(org: Organisation, user_id: int, actor: User) -> None:
    """Remove a member (or leave, when ``actor`` is that member); never the last one."""
    membership = next((m for m in org.memberships if m.user_id == user_id), None)
    if membership is None:
        raise OrganisationError("Cette personne n'est pas membre de la structure.")
    if len(org.memberships) <= 1:
        raise OrganisationError(
            "La structure doit garder au moins un membre : invitez quelqu'un d'autre "
            "avant de la quitter."
        )
    email = membership.user.email
    leaving = user_id == actor.id
    org.memberships.remove(membership)
    db.session.flush()
    record(
        actor,
        "organisation.member_leave" if leaving else "organisation.member_remove",
        org,
        summary=(
            f"{email} a quitté la structure {_mark(org)}"
            if leaving
            else f"{email} retiré de la structure {_mark(org)}"
        ),
        changes={"members": [email, None]},
    )
