"""The report lists answer in the same number of SQL statements whatever their size."""

from __future__ import annotations

import pytest

from tests.dashboards.test_dashboards import count_statements
from tests.fixtures.reports import STAFF_EMAIL


@pytest.mark.parametrize(
    "url",
    [
        "/gestion/rapports",
        "/gestion/rapports?retard=1&annee=2016",
        "/rapports",
        "/api/v1/reports?per_page=100",
    ],
)
def test_lists_run_a_bounded_number_of_statements(
    app, report_world, as_user, seed_awards, reports_token, url
):
    if url.startswith("/api/"):
        headers = reports_token(report_world.staff)
        client = app.test_client()
    else:
        headers = {}
        client = as_user("alice@recyclerie.example" if url == "/rapports" else STAFF_EMAIL)
    seed_awards(report_world.call, report_world.org_a, 4)  # 2 more reports
    client.get(url, headers=headers)  # warm-up
    with count_statements(app) as few:
        assert client.get(url, headers=headers).status_code == 200
    seed_awards(report_world.call, report_world.org_a, 120)  # 60 more reports
    with count_statements(app) as many:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    assert len(many) == len(few), (few, many)
    assert "SEED-" in response.get_data(as_text=True)
