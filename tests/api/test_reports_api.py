"""Annual reports in the JSON API: the members' own reports (list, read, draft, submit), the
staff's review (accept, return with a comment), the same rights and French messages as
the pages, and the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.reports.conftest import _fast_password_hashes  # noqa: F401


@pytest.fixture
def api(report_world, reports_token):
    return {
        name: reports_token(getattr(report_world, name))
        for name in ("alice", "bruno", "staff", "reviewer")
    }


COMPLETE = {
    "activity": "Deux ateliers ouverts.",
    "financial": [
        {"index": 0, "actual": "15800.00"},
        {"index": 1, "actual": "3000"},
        {"index": 2, "actual": "10 000,00"},
    ],
    "jobs_created": 2,
    "jobs_maintained": 3,
    "people_supported": 40,
    "indicators": {"Tonnes collectées": "12,5"},
}


def test_members_list_their_own_reports_and_staff_all(client, report_world, api):
    response = client.get("/api/v1/reports", headers=api["alice"])
    assert response.status_code == 200
    assert [r["id"] for r in response.json["items"]] == [report_world.report_a]
    item = response.json["items"][0]
    assert item["status"] == "due" and item["due_on"] == "2017-06-30"
    assert item["organisation"]["name"] == "Recyclerie du Port"
    assert "financial" not in item  # detail only
    assert [r["id"] for r in client.get("/api/v1/reports", headers=api["bruno"]).json["items"]] == [
        report_world.report_b
    ]
    assert client.get("/api/v1/reports", headers=api["reviewer"]).json["items"] == []
    staff = client.get("/api/v1/reports", headers=api["staff"]).json
    assert staff["total"] == 2
    filtered = client.get(
        f"/api/v1/reports?call_id={report_world.call}&year=2016&status=due&late=true",
        headers=api["staff"],
    ).json
    assert filtered["total"] == 2  # due 30/06/2017: late today
    assert all(r["late"] for r in filtered["items"])
    assert client.get("/api/v1/reports?status=zzz", headers=api["staff"]).status_code == 422
    assert client.get("/api/v1/reports").status_code == 401


def test_detail_gives_the_financial_report(client, report_world, api):
    response = client.get(f"/api/v1/reports/{report_world.report_a}", headers=api["alice"])
    assert response.status_code == 200
    data = response.json
    assert [(x["index"], x["account"], x["planned"], x["actual"]) for x in data["financial"]] == [
        (0, "64", "15000.00", None),
        (1, "70", "5000.00", None),
        (2, "74", "10000.00", None),
    ]
    assert data["totals"]["charges_planned"] == "15000.00"
    assert data["url"] == f"/rapports/{report_world.report_a}"


@pytest.mark.parametrize("who", ["bruno", "reviewer"])
def test_outsiders_get_404(client, report_world, api, who):
    rid = report_world.report_a
    for report_id in (rid, 999_999):
        assert client.get(f"/api/v1/reports/{report_id}", headers=api[who]).status_code == 404
        assert (
            client.patch(
                f"/api/v1/reports/{report_id}", json={"activity": "x"}, headers=api[who]
            ).status_code
            == 404
        )
        for action in ("submit", "accept", "return"):
            response = client.post(
                f"/api/v1/reports/{report_id}/{action}", json={"comment": "x"}, headers=api[who]
            )
            assert response.status_code == 404
    assert client.get(f"/api/v1/reports/{rid}", headers=api["alice"]).json["activity"] == ""


def test_the_whole_flow(client, report_world, api):
    rid = report_world.report_a
    url = f"/api/v1/reports/{rid}"

    # a bad value: nothing saved, the message per field
    response = client.patch(
        url,
        json={"activity": "Brouillon", "financial": [{"index": 0, "actual": 15800.5}]},
        headers=api["alice"],
    )
    assert response.status_code == 422
    assert "actual_0" in response.json["error"]["fields"]
    response = client.patch(url, json={"financial": [{"index": 7}]}, headers=api["alice"])
    assert response.status_code == 422
    assert "financial[0].index" in response.json["error"]["fields"]
    response = client.patch(url, json={"colour": "bleu"}, headers=api["alice"])
    assert response.json["error"]["fields"] == {"colour": ["Champ inconnu."]}
    assert client.get(url, headers=api["alice"]).json["activity"] == ""

    # staff may not write the member's report
    assert client.patch(url, json={"activity": "x"}, headers=api["staff"]).status_code == 403

    response = client.patch(url, json=COMPLETE, headers=api["alice"])
    assert response.status_code == 200
    data = response.json
    assert data["status"] == "due" and data["financial"][1]["gap"] is True
    assert data["indicators"] == {"Tonnes collectées": "12,5"}

    # the gap needs its explanation
    response = client.post(f"{url}/submit", headers=api["alice"])
    assert response.status_code == 422
    assert "Écart de plus de 10 %" in response.json["error"]["fields"]["explanation_1"][0]

    # a partial PATCH changes only what it names
    response = client.patch(
        url,
        json={"financial": [{"index": 1, "explanation": "Boutique fermée trois mois."}]},
        headers=api["alice"],
    )
    assert response.json["financial"][0]["actual"] == "15800.00"
    assert response.json["jobs_created"] == 2

    # only staff accept or return; a member can't accept their own report
    assert client.post(f"{url}/submit", headers=api["alice"]).json["status"] == "submitted"
    assert client.post(f"{url}/accept", headers=api["alice"]).status_code == 403
    assert client.patch(url, json={"activity": "x"}, headers=api["alice"]).status_code == 409

    response = client.post(f"{url}/return", json={"comment": ""}, headers=api["staff"])
    assert response.status_code == 422 and "comment" in response.json["error"]["fields"]
    response = client.post(
        f"{url}/return", json={"comment": "Joignez le bilan."}, headers=api["staff"]
    )
    assert response.status_code == 200
    assert response.json["status"] == "returned"
    assert response.json["review_comment"] == "Joignez le bilan."
    assert client.post(f"{url}/accept", headers=api["staff"]).status_code == 409

    assert client.post(f"{url}/submit", headers=api["alice"]).json["status"] == "submitted"
    response = client.post(f"{url}/accept", headers=api["staff"])
    assert response.status_code == 200 and response.json["status"] == "accepted"
    assert client.post(f"{url}/submit", headers=api["alice"]).status_code == 409


def test_the_openapi_document_describes_the_reports(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    validate(document)
    paths = document["paths"]
    assert set(paths["/reports/{report_id}"]) == {"get", "patch"}
    for action in ("submit", "accept", "return"):
        assert "post" in paths[f"/reports/{{report_id}}/{action}"]
    assert "AnnualReport" in document["components"]["schemas"]
