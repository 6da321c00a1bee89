"""Reviews: reviewer pool, assignments, conflicts, the reviewer's queue and scoring."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reviews", __name__)


@bp.get("/evaluations")
def queue():
    raise NotImplementedError
