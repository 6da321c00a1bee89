"""The in-app inbox, preferences and the staff outbox."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
def inbox():
    raise NotImplementedError
