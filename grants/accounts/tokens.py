"""Signed, expiring tokens for the links sent by e-mail, and the absolute URLs around them.

Each purpose has its own salt, so a token made for one purpose is refused by the others.
A token also carries a *fingerprint* of the state it is allowed to change (the password
hash, the e-mail address): once that state has changed, the token no longer matches, which
makes every link single-use without storing anything.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from grants.accounts.models import User
from grants.extensions import db

CONFIRM_SALT = "grants.accounts.confirm-email"
RESET_SALT = "grants.accounts.reset-password"  # noqa: S105 (a salt name, not a secret)
EMAIL_CHANGE_SALT = "grants.accounts.change-email"


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt)


def _fingerprint(value: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:20]


def _password_fingerprint(user: User) -> str:
    return _fingerprint(f"{user.password_hash}|{user.password_changed_at.isoformat()}")


def _load(salt: str, token: str, max_age: int) -> dict | None:
    try:
        data = _serializer(salt).loads(token, max_age=max_age)
    except BadSignature:  # also SignatureExpired
        return None
    return data if isinstance(data, dict) else None


def _user(data: dict | None) -> User | None:
    if not data or not isinstance(data.get("uid"), int):
        return None
    return db.session.get(User, data["uid"])


# E-mail confirmation ------------------------------------------------------------------


def make_confirm_token(user: User) -> str:
    return _serializer(CONFIRM_SALT).dumps({"uid": user.id, "em": _fingerprint(user.email)})


def load_confirm_token(token: str) -> User | None:
    """The user whose current address the token confirms, else None (bad, expired, stale)."""
    data = _load(CONFIRM_SALT, token, current_app.config["CONFIRM_MAX_AGE"])
    user = _user(data)
    if user is None or not hmac.compare_digest(str(data.get("em")), _fingerprint(user.email)):
        return None
    return user


# Password reset -----------------------------------------------------------------------


def make_reset_token(user: User) -> str:
    return _serializer(RESET_SALT).dumps({"uid": user.id, "pw": _password_fingerprint(user)})


def load_reset_token(token: str) -> User | None:
    """The user, while the password is unchanged and the link is young enough; else None."""
    data = _load(RESET_SALT, token, current_app.config["RESET_MAX_AGE"])
    user = _user(data)
    if user is None or not user.is_active:
        return None
    if not hmac.compare_digest(str(data.get("pw")), _password_fingerprint(user)):
        return None
    return user


# E-mail change ------------------------------------------------------------------------


def make_email_change_token(user: User, new_email: str) -> str:
    return _serializer(EMAIL_CHANGE_SALT).dumps(
        {"uid": user.id, "old": _fingerprint(user.email), "new": new_email}
    )


def load_email_change_token(token: str) -> tuple[User, str] | None:
    """``(user, new address)`` while the account still has the address it had; else None."""
    data = _load(EMAIL_CHANGE_SALT, token, current_app.config["CONFIRM_MAX_AGE"])
    user = _user(data)
    if user is None or not user.is_active or not isinstance(data.get("new"), str):
        return None
    if not hmac.compare_digest(str(data.get("old")), _fingerprint(user.email)):
        return None
    return user, data["new"]


# Absolute links -----------------------------------------------------------------------


def external_url(endpoint: str, **values) -> str:
    """An absolute URL on ``PUBLIC_BASE_URL``.

    Links in e-mails are never built from the request's ``Host`` header: a forged header
    would otherwise send a victim a genuine reset token on an attacker's host.
    """
    base = urlsplit(current_app.config["PUBLIC_BASE_URL"].rstrip("/"))
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
