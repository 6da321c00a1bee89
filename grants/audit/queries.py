"""Read side of the audit log: filtered, paginated, the actor eager-loaded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from grants.accounts.models import User
from grants.audit.models import AuditEntry
from grants.core.formatting import PARIS
from grants.extensions import db

PER_PAGE = 50

#: French labels of changed fields, ``{object_type: {field: label}}``; features add theirs
FIELD_LABELS: dict[str, dict[str, str]] = {}
OBJECT_TYPE_LABELS: dict[str, str] = {
    "user": "Utilisateur",
    "api_token": "Jeton d'API",
    "organisation": "Structure",
}


#: ``{object_type: (endpoint, argument name)}``: the page of an object, linked from the log
OBJECT_PAGES: dict[str, tuple[str, str]] = {}


def register_labels(object_type: str, label: str, fields: dict[str, str]) -> None:
    OBJECT_TYPE_LABELS[object_type] = label
    FIELD_LABELS.setdefault(object_type, {}).update(fields)


#: French names of the actions, ``{action: label}``; features add theirs
ACTION_LABELS: dict[str, str] = {}


def register_action_labels(labels: dict[str, str]) -> None:
    ACTION_LABELS.update(labels)


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def register_object_page(object_type: str, endpoint: str, argument: str) -> None:
    """Link the entries about ``object_type`` to ``url_for(endpoint, argument=<int id>)``."""
    OBJECT_PAGES[object_type] = (endpoint, argument)


def field_label(object_type: str, field: str) -> str:
    return FIELD_LABELS.get(object_type, {}).get(field, field)


@dataclass
class AuditFilters:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    date_from: date | None = None
    date_to: date | None = None


def paris_day_start_utc(day: date) -> datetime:
    """Midnight of ``day`` in Europe/Paris, as an aware UTC datetime."""
    return datetime.combine(day, time.min, tzinfo=PARIS).astimezone(UTC)


def entries_query(filters: AuditFilters):
    """Newest first; the actor (and their roles) loaded with the page, not per row."""
    query = sa.select(AuditEntry).options(joinedload(AuditEntry.actor))
    if filters.actor:
        like = (
            "%"
            + filters.actor.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            + "%"
        )
        query = query.where(
            AuditEntry.actor_id.in_(
                sa.select(User.id).where(
                    sa.or_(
                        User.email.like(like, escape="\\"),
                        sa.func.lower(User.full_name).like(like, escape="\\"),
                    )
                )
            )
        )
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.object_type:
        query = query.where(AuditEntry.object_type == filters.object_type)
    if filters.object_id:
        query = query.where(AuditEntry.object_id == filters.object_id)
    if filters.date_from:
        query = query.where(AuditEntry.created_at >= paris_day_start_utc(filters.date_from))
    if filters.date_to:
        # inclusive: up to the next midnight in Paris
        end = paris_day_start_utc(filters.date_to + timedelta(days=1))
        query = query.where(AuditEntry.created_at < end)
    return query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())


def page(filters: AuditFilters, page_number: int, per_page: int = PER_PAGE):
    return db.paginate(
        entries_query(filters), page=page_number, per_page=per_page, error_out=False, count=True
    )


def distinct_actions() -> list[str]:
    return list(
        db.session.scalars(sa.select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    )


def distinct_object_types() -> list[str]:
    return list(
        db.session.scalars(
            sa.select(AuditEntry.object_type).distinct().order_by(AuditEntry.object_type)
        )
    )
