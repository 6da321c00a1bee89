"""``grants users create|token``."""

from __future__ import annotations

from flask.cli import AppGroup

users = AppGroup("users", help="Gestion des comptes depuis le shell.")
