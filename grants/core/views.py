"""Home page, health check and the demo mailbox of the embedded default."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, jsonify, render_template

from grants.extensions import db

bp = Blueprint("core", __name__)


@bp.get("/")
def home():
    return render_template("core/home.html")


@bp.get("/healthz")
def healthz():
    """State of the database, the broker, and whether a worker answers a ping."""
    result: dict = {}
    try:
        db.session.execute(sa.text("SELECT 1"))
        result["database"] = {"ok": True, "dialect": db.engine.dialect.name}
    except Exception as exc:  # reported, not raised: this is the health page
        db.session.rollback()
        result["database"] = {"ok": False, "error": exc.__class__.__name__}
    celery = current_app.extensions["celery"]
    transport = celery.conf.broker_url.split("://", 1)[0]
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        result["broker"] = {"ok": True, "transport": transport}
    except Exception as exc:
        result["broker"] = {"ok": False, "transport": transport, "error": exc.__class__.__name__}
    workers: list[str] = []
    if result["broker"]["ok"]:
        try:
            replies = celery.control.ping(timeout=current_app.config["HEALTH_PING_TIMEOUT"])
            workers = sorted(name for reply in replies for name in reply)
        except Exception:  # no answer is the answer
            workers = []
    result["worker"] = {"ok": bool(workers), "workers": workers}
    healthy = result["database"]["ok"] and result["broker"]["ok"]
    result["status"] = "ok" if healthy and workers else ("degraded" if healthy else "down")
    return jsonify(result), 200 if healthy else 503


@bp.get("/boite-mail-demo")
def demo_mailbox():
    """The mails of the local sink (embedded default only), for demos."""
    if current_app.config["MAIL_BACKEND"] != "file":
        abort(404)
    from grants.core.mail import read_sink

    return render_template("core/mailbox.html", messages=read_sink())
