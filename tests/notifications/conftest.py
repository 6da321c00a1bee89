"""Each test starts with an empty file sink (mail checks count what was delivered)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _empty_mail_sink(app):
    shutil.rmtree(Path(app.config["MAIL_SINK_PATH"]), ignore_errors=True)
    yield


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...`` → ``counter["n"]`` and the statements."""
    from contextlib import contextmanager

    import sqlalchemy as sa

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
