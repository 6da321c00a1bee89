"""Read side of calls: public and staff lists, one call with its rows, application counts.

Every list loads its rows in a fixed number of statements (``selectinload`` for the
years; one grouped count for the applications), whatever the number of calls.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from grants.applications.models import Application, ApplicationStatus
from grants.audit.queries import register_labels
from grants.calls.models import Call, CallStatus
from grants.core.db import utcnow
from grants.extensions import db
from grants.organisations.models import Membership, Organisation

#: statuses of an application that count as "a file was submitted" on its call
NOT_SUBMITTED = (ApplicationStatus.draft, ApplicationStatus.withdrawn)


def get_call(call_id: int) -> Call | None:
    """One call with its years, documents and criteria."""
    return db.session.scalar(
        sa.select(Call)
        .where(Call.id == call_id)
        .options(
            selectinload(Call.years),
            selectinload(Call.documents),
            selectinload(Call.criteria),
            joinedload(Call.funder),
        )
    )


def _listing():
    return sa.select(Call).options(selectinload(Call.years))


def public_calls(now: datetime | None = None) -> tuple[list[Call], list[Call]]:
    """``(current, previous)``: published calls open or upcoming, by closing time; then the
    calls whose window is over (closed, decided, archived), newest first."""
    now = now or utcnow()
    current = db.session.scalars(
        _listing()
        .where(Call.status == CallStatus.published, Call.closes_at > now)
        .order_by(Call.opens_at, Call.closes_at, Call.id)
    ).all()
    previous = db.session.scalars(
        _listing()
        .where(
            Call.status != CallStatus.draft,
            sa.or_(Call.status != CallStatus.published, Call.closes_at <= now),
        )
        .order_by(Call.closes_at.desc(), Call.id.desc())
    ).all()
    return list(current), list(previous)


def staff_calls() -> list[Call]:
    """Every call, drafts first, then by opening time (newest first)."""
    return list(
        db.session.scalars(
            _listing().order_by(
                sa.case((Call.status == CallStatus.draft, 0), else_=1),
                Call.opens_at.desc(),
                Call.id.desc(),
            )
        ).all()
    )


def api_calls(include_drafts: bool) -> list[Call]:
    """Calls for the API with every row they show (years, documents, criteria)."""
    query = sa.select(Call).options(
        selectinload(Call.years), selectinload(Call.documents), selectinload(Call.criteria)
    )
    if not include_drafts:
        query = query.where(Call.status != CallStatus.draft)
    return list(db.session.scalars(query.order_by(Call.opens_at.desc(), Call.id.desc())).all())


def application_counts(call_ids: list[int]) -> dict[int, dict[ApplicationStatus, int]]:
    """``{call_id: {status: count}}`` in one grouped query."""
    counts: dict[int, dict[ApplicationStatus, int]] = defaultdict(dict)
    if not call_ids:
        return counts
    rows = db.session.execute(
        sa.select(Application.call_id, Application.status, sa.func.count())
        .where(Application.call_id.in_(call_ids))
        .group_by(Application.call_id, Application.status)
    ).all()
    for call_id, status, count in rows:
        counts[call_id][ApplicationStatus(status)] = count
    return counts


def has_submitted_applications(call_id: int) -> bool:
    """At least one file on the call was submitted (whatever happened to it since)."""
    query = (
        sa.select(Application.id)
        .where(Application.call_id == call_id, Application.status.not_in(NOT_SUBMITTED))
        .limit(1)
    )
    return db.session.scalar(query) is not None


def has_applications(call_id: int) -> bool:
    query = sa.select(Application.id).where(Application.call_id == call_id).limit(1)
    return db.session.scalar(query) is not None


def drafts_with_members(call_id: int) -> list[Application]:
    """The call's drafts, each with its organisation's members (and their users) loaded."""
    return list(
        db.session.scalars(
            sa.select(Application)
            .where(Application.call_id == call_id, Application.status == ApplicationStatus.draft)
            .options(
                joinedload(Application.organisation)
                .selectinload(Organisation.memberships)
                .joinedload(Membership.user)
            )
            .order_by(Application.id)
        )
        .unique()
        .all()
    )


def prefix_taken(prefix: str, exclude_id: int | None = None) -> bool:
    query = sa.select(Call.id).where(sa.func.upper(Call.reference_prefix) == prefix.upper())
    if exclude_id is not None:
        query = query.where(Call.id != exclude_id)
    return db.session.scalar(query.limit(1)) is not None


def call_has_reviews(call: Call) -> bool:
    """Whether a review exists on one of the call's applications (the grid is then frozen)."""
    from grants.reviews.models import Review

    query = (
        sa.select(Review.id)
        .join(Application, Application.id == Review.application_id)
        .where(Application.call_id == call.id)
        .limit(1)
    )
    return db.session.scalar(query) is not None


register_labels(
    "call",
    "Appel",
    {
        "kind": "Type",
        "status": "Statut",
        "title": "Titre",
        "reference_prefix": "Préfixe des références",
        "summary": "Résumé",
        "description": "Description",
        "rules": "Règlement",
        "opens_at": "Ouverture",
        "closes_at": "Clôture",
        "years": "Années et enveloppes",
        "profile": "Profil dégressif",
        "eligible_legal_forms": "Formes juridiques éligibles",
        "sectors": "Secteurs prioritaires",
        "ceiling": "Plafond par dossier",
        "max_expense_share": "Part maximale des dépenses éligibles",
        "reviews_required": "Évaluations requises",
        "documents": "Pièces demandées",
        "criteria": "Grille d'évaluation",
        "published_at": "Publication",
    },
)
