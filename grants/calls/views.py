"""Calls: public pages and staff management."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("calls", __name__)


@bp.get("/appels")
def public_index():
    raise NotImplementedError


@bp.get("/gestion/appels")
def staff_index():
    raise NotImplementedError
