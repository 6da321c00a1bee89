"""Read-side helpers for organisations: lists, search, members, invitations."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from grants.accounts.models import User
from grants.audit.queries import (
    register_action_labels,
    register_labels,
    register_object_page,
)
from grants.core.db import utcnow
from grants.core.models import Commune
from grants.extensions import db
from grants.organisations.models import Invitation, Membership, Organisation
from grants.organisations.rules import clean_siret, sort_key_fr

PER_PAGE = 20
#: the value of the commune select that stores NULL
OUTSIDE_METROPOLIS = "hors"
OUTSIDE_METROPOLIS_LABEL = "Hors métropole"


def communes() -> list[Commune]:
    """The 28 communes, in French alphabetical order (Bègles before Blanquefort)."""
    rows = db.session.scalars(sa.select(Commune)).all()
    return sorted(rows, key=lambda c: sort_key_fr(c.name))


def commune_choices() -> list[tuple[str, str]]:
    """Choices of the commune select: the communes, then « Hors métropole » (NULL)."""
    return [(c.insee, c.name) for c in communes()] + [
        (OUTSIDE_METROPOLIS, OUTSIDE_METROPOLIS_LABEL)
    ]


def get_organisation(org_id: int) -> Organisation | None:
    """One organisation with what its page needs (commune, members and their users)."""
    return db.session.scalar(
        sa.select(Organisation)
        .where(Organisation.id == org_id)
        .options(
            joinedload(Organisation.commune),
            selectinload(Organisation.memberships).joinedload(Membership.user),
        )
    )


def siret_taken(siret: str, exclude_id: int | None = None) -> bool:
    query = sa.select(Organisation.id).where(Organisation.siret == clean_siret(siret))
    if exclude_id is not None:
        query = query.where(Organisation.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def _listing():
    return sa.select(Organisation).options(
        joinedload(Organisation.commune), selectinload(Organisation.memberships)
    )


def organisations_of(user: User) -> list[Organisation]:
    """The organisations ``user`` is a member of, by name."""
    return list(
        db.session.scalars(
            _listing()
            .join(Membership, Membership.organisation_id == Organisation.id)
            .where(Membership.user_id == user.id)
            .order_by(Organisation.name, Organisation.id)
        ).unique()
    )


def visible_organisations_query(user: User):
    """What ``user`` may list: every organisation for staff, else their own."""
    query = _listing().order_by(Organisation.name, Organisation.id)
    if not user.is_staff:
        query = query.where(
            Organisation.id.in_(
                sa.select(Membership.organisation_id).where(Membership.user_id == user.id)
            )
        )
    return query


def search_all(text: str = ""):
    """Every organisation, filtered by name, SIRET/SIREN or commune (staff list)."""
    query = (
        _listing()
        .outerjoin(Commune, Commune.insee == Organisation.commune_insee)
        .order_by(Organisation.name, Organisation.id)
    )
    text = (text or "").strip()
    if text:
        like = f"%{_escape_like(text.lower())}%"
        digits = clean_siret(text)
        conditions = [
            sa.func.lower(Organisation.name).like(like, escape="\\"),
            sa.func.lower(Organisation.city).like(like, escape="\\"),
            sa.func.lower(Commune.name).like(like, escape="\\"),
        ]
        if digits.isdigit():
            conditions.append(Organisation.siret.startswith(digits))
        query = query.where(sa.or_(*conditions))
    return query


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def paginate(query, page: int, per_page: int = PER_PAGE):
    return db.paginate(query, page=page, per_page=per_page, error_out=False, max_per_page=100)


def pending_invitations(org: Organisation) -> list[Invitation]:
    return list(
        db.session.scalars(
            sa.select(Invitation)
            .where(
                Invitation.organisation_id == org.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .options(joinedload(Invitation.invited_by))
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def invitation_by_token_hash(token_hash: str) -> Invitation | None:
    return db.session.scalar(
        sa.select(Invitation)
        .where(Invitation.token_hash == token_hash)
        .options(joinedload(Invitation.organisation), joinedload(Invitation.invited_by))
    )


def members(org_id: int) -> list[Membership]:
    return list(
        db.session.scalars(
            sa.select(Membership)
            .where(Membership.organisation_id == org_id)
            .options(joinedload(Membership.user))
            .order_by(Membership.joined_at, Membership.user_id)
        )
    )


register_labels(
    "organisation",
    "Structure",
    {
        "name": "Nom",
        "legal_form": "Forme juridique",
        "siret": "SIRET",
        "rna": "Numéro RNA",
        "address": "Adresse",
        "postal_code": "Code postal",
        "city": "Ville",
        "commune_insee": "Commune (code INSEE)",
        "in_qpv": "Quartier prioritaire (QPV)",
        "esus_approved": "Agrément ESUS",
        "has_economic_activity": "Activité économique",
        "employees": "Salariés",
        "fte": "ETP",
        "volunteers": "Bénévoles",
        "invitation": "Invitation",
        "members": "Membres",
    },
)
register_object_page("organisation", "organisations.show", "org_id")
register_action_labels(
    {
        "organisation.create": "Création de structure",
        "organisation.update": "Modification de structure",
        "organisation.invite": "Invitation envoyée",
        "organisation.invitation_revoke": "Invitation annulée",
        "organisation.member_join": "Arrivée d'un membre (invitation)",
        "organisation.member_remove": "Membre retiré",
        "organisation.member_leave": "Départ d'un membre",
    }
)
