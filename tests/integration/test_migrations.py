"""Migrations go up from an empty database, match the models, and go back down.

``grants db upgrade`` / ``grants db downgrade base`` run as a user would run them (a
subprocess on a fresh database), then Alembic's autogenerate comparison must find no
difference between the migrated schema and the models.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.conftest import require_service

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _grants(args: list[str], database_url: str, instance: Path) -> None:
    script = Path(sys.executable).parent / "grants"
    cmd = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from grants.cli import main; main()"]
    )
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "GRANTS_INSTANCE_PATH": str(instance),
            "SECRET_KEY": "migration-test",
        }
    )
    env.pop("CELERY_BROKER_URL", None)
    result = subprocess.run(
        [*cmd, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"grants {' '.join(args)} failed:\n{result.stderr[-4000:]}"


def _tables(engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def _check_round_trip(app, url: str, instance: Path) -> None:
    from grants.extensions import db

    model_tables = {table.name for table in db.metadata.sorted_tables}
    engine = sa.create_engine(url)
    try:
        assert _tables(engine) == set(), "the database is not empty"

        _grants(["db", "upgrade"], url, instance)

        assert _tables(engine) == model_tables | {"alembic_version"}
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == [], "models and migrations differ:\n" + "\n".join(
            map(repr, differences)
        )

        _grants(["db", "downgrade", "base"], url, instance)

        assert _tables(engine) <= {"alembic_version"}
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() is None
    finally:
        engine.dispose()


def test_sqlite_migrations_from_an_empty_database(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    _check_round_trip(app, url, tmp_path)


@pytest.mark.postgres
def test_postgresql_migrations_from_an_empty_database(app, tmp_path):
    server_url = sa.engine.make_url(os.environ["TEST_DATABASE_URL"]).set(
        drivername="postgresql+psycopg"
    )
    name = f"grants_migrations_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5}
    )
    try:
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        except sa.exc.OperationalError:
            require_service(False, f"PostgreSQL at {server_url.render_as_string()}")
        try:
            url = server_url.set(database=name).render_as_string(hide_password=False)
            _check_round_trip(app, url, tmp_path)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
