"""Shared helpers of the application tests: logged-in applicants, files, query counting."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa


@pytest.fixture(autouse=True)
def _empty_mail_sink(app):
    shutil.rmtree(Path(app.config["MAIL_SINK_PATH"]), ignore_errors=True)
    yield


@pytest.fixture
def applicant(app, create_user, create_organisation, login):
    """``applicant(email, **org_fields)`` → (client logged in, user id, organisation id)."""

    def _make(email="a@example.org", org=True, roles=(), **org_fields):
        user_id = create_user(email=email, roles=roles)
        org_id = create_organisation(member_ids=[user_id], **org_fields) if org else None
        client = app.test_client()
        login(client, email)
        return client, user_id, org_id

    return _make


@pytest.fixture
def staff_client(app, create_user, login):
    create_user(email="agent@example.org", roles=("staff",))
    client = app.test_client()
    login(client, "agent@example.org")
    return client


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...`` → ``counter["n"]`` SQL statements."""
    from grants.extensions import db

    @contextmanager
    def _count():
        counter = {"n": 0, "statements": []}

        def _listener(conn, cursor, statement, parameters, context, executemany):
            counter["n"] += 1
            counter["statements"].append(statement)

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", _listener)
        try:
            yield counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", _listener)

    return _count


@pytest.fixture
def load(app):
    """``load(Model, id)`` → a detached copy of the row with its columns loaded (or None)."""

    def _load(model, object_id):
        from grants.extensions import db

        with app.app_context():
            row = db.session.get(model, object_id)
            if row is not None:
                db.session.expunge(row)
            db.session.remove()
        return row

    return _load


def csrf(client, url: str) -> str:
    from tests.fixtures.core import csrf_token_from

    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return csrf_token_from(response.get_data(as_text=True))
