"""Sessions, login, headers (DESIGN §9).

* The Flask-Login id is ``"<user id>:<session token>"``: rotating the token (logout,
  password change) invalidates every session and remember-me cookie of that user on
  the server side.
* Idle and absolute timeouts are checked on every request.
* Security headers and the Content-Security-Policy come from flask-talisman; the pages
  carry no inline script or style, so ``default-src 'self'`` holds.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user

from grants.extensions import db, login_manager, talisman

CSP = {
    "default-src": "'self'",
    "img-src": "'self' data:",
    "style-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _load_user_by_id(value: str):
    from grants.accounts.models import User

    try:
        user_id, token = value.split(":", 1)
        user_id_int = int(user_id)
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, user_id_int)
    if user is None or user.session_token != token or not user.is_active:
        return None
    return user


def _api_request() -> bool:
    return request.blueprint == "api"


@login_manager.user_loader
def load_user(value: str):
    # The JSON API authenticates by token only: cookies are ignored there, so that a
    # CSRF-exempt endpoint can't be driven by a victim's browser session.
    if _api_request():
        return None
    return _load_user_by_id(value)


@login_manager.request_loader
def load_user_from_request(req):
    if not _api_request():
        return None
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    from grants.accounts.operations import user_for_api_token

    return user_for_api_token(header[len("Bearer ") :].strip())


def safe_next(target: str | None, default: str | None = None) -> str:
    """``target`` when it is a path on this site, else ``default`` or the home page
    (no open redirect)."""
    from urllib.parse import urlsplit

    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and all(ord(c) >= 32 for c in target):
            return target
    return default or url_for("core.home")


def start_session(user, remember: bool) -> None:
    """A fresh session at login: nothing of the anonymous one survives."""
    from flask_login import login_user

    session.clear()
    login_user(user, remember=remember)
    now = int(time.time())
    session["login_at"] = now
    session["seen_at"] = now
    session.permanent = False


def _check_timeouts():
    if _api_request() or not current_user.is_authenticated:
        return None
    from flask import current_app

    now = int(time.time())
    login_at = session.get("login_at")
    seen_at = session.get("seen_at")
    if login_at is None:  # restored from the remember-me cookie
        session["login_at"] = login_at = now
        seen_at = now
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    absolute = current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    if now - (seen_at or now) > idle or now - login_at > absolute:
        remembered = request.cookies.get(current_app.config["REMEMBER_COOKIE_NAME"])
        if not remembered:
            logout_user()
            session.clear()
            flash("Votre session a expiré. Merci de vous reconnecter.", "info")
            return redirect(url_for("accounts.login", next=request.full_path))
        session["login_at"] = now
    session["seen_at"] = now
    return None


def _no_store(response):
    if current_user and current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.config["REMEMBER_COOKIE_DURATION"] = timedelta(days=app.config["REMEMBER_DAYS"])
    https = app.config["HTTPS"]
    talisman.init_app(
        app,
        content_security_policy=CSP,
        force_https=https,
        strict_transport_security=https,
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        x_content_type_options=True,
    )
    app.before_request(_check_timeouts)
    app.after_request(_no_store)

    @app.teardown_appcontext
    def _rollback_leftovers(exc):
        # Anything not committed by the view is discarded (one commit per request).
        if exc is not None:
            db.session.rollback()
