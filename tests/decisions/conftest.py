"""Helpers of the decision tests: a logged-in staff member on the ``committee`` fixture."""

from __future__ import annotations

import re
from html import unescape

import pytest


@pytest.fixture
def staff_client(client, committee, login):
    login(client, committee.staff_email)
    return client


def text_of(response) -> str:
    """The visible text of a page (tags dropped, spaces collapsed), for assertions."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\xa0", " "))
