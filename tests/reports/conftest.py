"""Shared helpers of the report tests: logged-in clients, an empty mail sink, fast hashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

_HASHES: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _empty_mail_sink(app):
    shutil.rmtree(Path(app.config["MAIL_SINK_PATH"]), ignore_errors=True)
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashes(monkeypatch):
    """Hash each test password once per run (the scenarios create many accounts)."""
    from grants.accounts import rules

    real = rules.hash_password

    def cached(password: str) -> str:
        if password not in _HASHES:
            _HASHES[password] = real(password)
        return _HASHES[password]

    monkeypatch.setattr(rules, "hash_password", cached)


@pytest.fixture
def as_user(app, login):
    """``as_user(email)`` → a new test client logged in as ``email``."""

    def _client(email):
        client = app.test_client()
        login(client, email)
        return client

    return _client


@pytest.fixture
def in_app(app):
    """``in_app(fn)`` → ``fn()`` run in an app context (session removed after)."""

    def _run(fn):
        from grants.extensions import db

        with app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()

    return _run
