"""Shared helpers of the review tests: a call with files, reviewers, logged-in clients."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa


@pytest.fixture(autouse=True)
def _empty_mail_sink(app):
    shutil.rmtree(Path(app.config["MAIL_SINK_PATH"]), ignore_errors=True)
    yield


_HASHES: dict[str, str] = {}


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
def client_for(app, login):
    """``client_for(email)`` → a test client logged in as ``email``."""

    def _client(email):
        client = app.test_client()
        login(client, email)
        return client

    return _client


@pytest.fixture
def count_queries(app):
    """``with count_queries() as statements: ...`` → the SQL statements run."""
    from grants.extensions import db

    @contextmanager
    def _count():
        statements: list[str] = []

        def _listener(conn, cursor, statement, parameters, context, executemany):
            statements.append(statement)

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", _listener)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", _listener)

    return _count


@pytest.fixture
def world(
    app,
    create_user,
    create_reviewer,
    create_organisation,
    create_call,
    create_application,
    add_to_pool,
):
    """A call (2 reviews required) with two files of two organisations — A under review,
    B submitted —, three reviewers in the pool, a fourth outside it, staff, the applicants."""
    staff = create_user(email="agent@example.org", roles=("staff",), full_name="Agent ESS")
    alice = create_reviewer(email="alice@evaluateurs.example", full_name="Alice Évaluatrice")
    bruno = create_reviewer(email="bruno@evaluateurs.example", full_name="Bruno Évaluateur")
    chloe = create_reviewer(email="chloe@evaluateurs.example", full_name="Chloé Évaluatrice")
    dora = create_reviewer(email="dora@autre.example", full_name="Dora Hors-Vivier")
    porteur_a = create_user(email="porteur@ateliers.example", full_name="Porteur A")
    porteur_b = create_user(email="porteur@recyclerie.example", full_name="Porteur B")
    org_a = create_organisation(member_ids=[porteur_a], name="Les Ateliers Solidaires")
    org_b = create_organisation(member_ids=[porteur_b], name="La Recyclerie")
    call = create_call(reference_prefix="AAP-2016", reviews_required=2)
    file_a = create_application(call, org_a, status="under_review", complete=True)
    file_b = create_application(call, org_b, status="submitted", complete=True)
    add_to_pool(call, alice, bruno, chloe)
    return SimpleNamespace(
        staff=staff,
        alice=alice,
        bruno=bruno,
        chloe=chloe,
        dora=dora,
        porteur_a=porteur_a,
        porteur_b=porteur_b,
        org_a=org_a,
        org_b=org_b,
        call=call,
        file_a=file_a,
        file_b=file_b,
    )


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


def csrf(client, url: str) -> str:
    from tests.fixtures.core import csrf_token_from

    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return csrf_token_from(response.get_data(as_text=True))


def text(response) -> str:
    """The page's text, tags stripped and spaces collapsed (for phrase assertions)."""
    import html
    import re

    body = response.get_data(as_text=True)
    body = re.sub(r"<[^>]+>", " ", body)
    return " ".join(html.unescape(body).split())
