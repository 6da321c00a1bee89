"""``GET /healthz``: database, broker and worker state, as JSON.

These run with no worker at all; ``tests/integration/test_worker.py`` checks the answer
with a real worker running.
"""

from __future__ import annotations

import os


def test_healthz_without_a_worker_is_degraded_but_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.get_json()
    assert body["database"]["ok"] is True
    assert body["database"]["dialect"] == (
        "postgresql" if os.environ.get("TEST_DATABASE_URL") else "sqlite"
    )
    assert body["broker"]["ok"] is True
    assert body["broker"]["transport"] == (
        "redis" if os.environ.get("TEST_REDIS_URL") else "filesystem"
    )
    assert body["worker"] == {"ok": False, "workers": []}
    assert body["status"] == "degraded"


def test_healthz_reports_a_database_failure(app, client, monkeypatch):
    from grants.extensions import db

    def broken(*args, **kwargs):
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(db.session, "execute", broken)
    monkeypatch.setitem(app.config, "HEALTH_PING_TIMEOUT", 0.1)
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == {"ok": False, "error": "RuntimeError"}
    assert body["status"] == "down"


def test_healthz_reports_a_broker_failure(app, client, monkeypatch):
    celery = app.extensions["celery"]

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("broker unreachable")

    monkeypatch.setattr(celery, "connection_for_write", broken)
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.get_json()
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False
    assert body["broker"]["error"] == "ConnectionRefusedError"
    assert body["worker"]["ok"] is False
    assert body["status"] == "down"


def test_healthz_needs_no_login_and_reveals_no_secret(app, client):
    text = client.get("/healthz").get_data(as_text=True)

    assert app.config["SECRET_KEY"] not in text
    assert "://" not in text  # no database or broker URL, hence no credentials
