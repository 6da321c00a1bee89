"""Record audit entries; every feature's operations call :func:`record`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum

from flask import has_request_context, request

from grants.audit.models import AuditEntry
from grants.extensions import db


def _plain(value):
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def snapshot(obj, fields: list[str]) -> dict:
    return {name: _plain(getattr(obj, name)) for name in fields}


def diff(before: dict, after: dict) -> dict:
    """``{field: [before, after]}`` for the fields that changed."""
    keys = list(dict.fromkeys([*before, *after]))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def record(
    actor,
    action: str,
    obj=None,
    *,
    object_type: str | None = None,
    object_id=None,
    summary: str = "",
    changes: dict | None = None,
) -> AuditEntry:
    if obj is not None:
        object_type = object_type or obj.__tablename__
        if object_id is None:
            db.session.flush()
            object_id = obj.id
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        action=action,
        object_type=object_type or "",
        object_id=str(object_id if object_id is not None else ""),
        summary=summary[:500],
        changes={k: [_plain(v[0]), _plain(v[1])] for k, v in (changes or {}).items()},
        ip=request.remote_addr if has_request_context() else None,
    )
    db.session.add(entry)
    return entry
