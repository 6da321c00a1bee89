"""Accounts tests read the mail sink: each test starts with an empty one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _empty_mail_sink(app):
    folder = Path(app.config["MAIL_SINK_PATH"])
    shutil.rmtree(folder, ignore_errors=True)
    yield
