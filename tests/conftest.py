"""Test configuration.

The suite runs on the embedded default (SQLite in a temporary instance folder,
filesystem broker). With ``TEST_DATABASE_URL`` (PostgreSQL) and ``TEST_REDIS_URL`` set —
as ``.ci/run`` does — the same tests run against those services, and the integration
layer starts a real ``celery -A worker worker`` process. With ``CI=true`` a missing
service is a failure, never a skip.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

pytest_plugins = [
    "tests.fixtures.core",
    "tests.fixtures.accounts",
    "tests.fixtures.organisations",
    "tests.fixtures.calls",
    "tests.fixtures.applications",
    "tests.fixtures.reviews",
    "tests.fixtures.decisions",
    "tests.fixtures.notifications",
    "tests.fixtures.funding",
    "tests.fixtures.payments",
    "tests.fixtures.reports",
    "tests.fixtures.services",
]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(available: bool, what: str) -> None:
    """Skip when a service is missing, except in CI where it is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI=true) but is not available")
    pytest.skip(f"{what} not available")


def pytest_runtest_setup(item):
    """``@pytest.mark.postgres``: skipped on the embedded run only.

    Without TEST_DATABASE_URL the services run (``.ci/run``) covers PostgreSQL; with it, an
    unreachable server fails the test in CI (see the tests' own ``require_service``).
    """
    if item.get_closest_marker("postgres") and not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("PostgreSQL is covered by the services run")
