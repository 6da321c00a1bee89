"""Organisations: create, edit, members and invitations."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("organisations", __name__, url_prefix="/structures")


@bp.get("/")
def index():
    raise NotImplementedError
