"""The call lists answer in the same number of SQL statements whatever the number of calls."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event


@contextmanager
def count_statements(app):
    from grants.extensions import db

    statements: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def _seed(create_call, create_organisation, add_application, n: int) -> None:
    org = create_organisation()
    for i in range(n):
        call_id = create_call(status="decided" if i % 3 == 0 else "published")
        add_application(call_id, org, "draft")
        add_application(call_id, org, "submitted")


@pytest.mark.parametrize("url", ["/gestion/appels", "/appels", "/api/v1/calls"])
def test_lists_run_a_bounded_number_of_queries(
    app, staff_client, create_call, create_organisation, add_application, url
):
    _seed(create_call, create_organisation, add_application, 2)
    staff_client.get(url)  # warm up (login, caches)
    with count_statements(app) as few:
        assert staff_client.get(url).status_code == 200
    _seed(create_call, create_organisation, add_application, 12)
    with count_statements(app) as many:
        assert staff_client.get(url).status_code == 200
    assert len(many) == len(few), (few, many)
