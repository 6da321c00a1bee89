"""The audit log, browsed and filtered by staff."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/journal")


@bp.get("/")
def index():
    raise NotImplementedError
