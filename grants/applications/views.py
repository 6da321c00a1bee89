"""Applications: the applicant's journey and the staff views."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("applications", __name__)


@bp.get("/dossiers")
def dashboard():
    raise NotImplementedError
