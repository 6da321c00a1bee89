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
