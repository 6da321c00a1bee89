"""Accounts: registration, login, password reset, profile, admin of users and roles."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("accounts", __name__)


@bp.route("/connexion", methods=["GET", "POST"])
def login():
    raise NotImplementedError


@bp.route("/inscription", methods=["GET", "POST"])
def register():
    raise NotImplementedError


@bp.post("/deconnexion")
def logout():
    raise NotImplementedError


@bp.route("/compte", methods=["GET", "POST"])
def profile():
    raise NotImplementedError


@bp.get("/admin/utilisateurs")
def admin_users():
    raise NotImplementedError
