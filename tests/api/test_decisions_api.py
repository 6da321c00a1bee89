"""Ranking, scores, committee sessions and decisions in the JSON API."""

from __future__ import annotations

import pytest


@pytest.fixture
def api_token(app):
    def _token(user_id: int) -> str:
        from grants.accounts.models import User
        from grants.accounts.operations import create_api_token
        from grants.extensions import db

        with app.app_context():
            _, clear = create_api_token(db.session.get(User, user_id), "tests")
            db.session.commit()
            db.session.remove()
        return clear

    return _token


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def staff(committee, api_token):
    return auth(api_token(committee.staff_id))


# --- ranking and scores -------------------------------------------------------------------


def test_staff_read_the_ranking(client, committee, staff):
    good = committee.file(reviews=((3, 3, 3, 3, 3), (4, 4, 4, 4, 4)), org_name="Recyclerie")
    split = committee.file(request="25000", reviews=((5, 5, 5, 5, 5), (1, 1, 1, 1, 1)))
    response = client.get(f"/api/v1/calls/{committee.call_id}/ranking", headers=staff)
    assert response.status_code == 200
    body = response.json
    assert body["envelope_total"] == "165000.00"
    assert body["awarded_total"] == "0.00"
    assert body["disagreement_threshold"] == "20.00"
    assert [e["year"] for e in body["envelopes"]] == [2016, 2017, 2018]
    first, second = body["items"]
    assert first["application_id"] == good.id and first["rank"] == 1
    assert first["organisation"] == "Recyclerie"
    assert (first["score"], first["std_dev"], first["count"], first["required"]) == (
        "70.00",
        "10.00",
        2,
        2,
    )
    assert first["disagreement"] is False and first["normalised"] is not None
    assert first["requested"][0] == {
        "year": 2016,
        "requested": "10000.00",
        "cumulative": "10000.00",
        "envelope": "60000.00",
        "over": False,
        "runs_out": False,
    }
    assert first["requested_total"] == "30000.00"
    assert first["decision"] is None
    assert second["application_id"] == split.id
    assert second["disagreement"] is True and second["spread"] == "80.00"
    assert second["requested"][0]["cumulative"] == "35000.00"
    assert second["cumulative_total"] == "105000.00"
    by_reference = client.get(
        f"/api/v1/calls/{committee.call_id}/ranking?sort=reference", headers=staff
    ).json
    assert by_reference["sort"] == "reference"


def test_the_ranking_and_scores_are_for_staff(client, committee, api_token, create_user):
    f = committee.file()
    member = auth(api_token(f.member_id))
    reviewer = auth(api_token(committee.reviewer_ids[0]))
    assert client.get(f"/api/v1/calls/{committee.call_id}/ranking").status_code == 401
    assert (
        client.get(f"/api/v1/calls/{committee.call_id}/ranking", headers=member).status_code == 403
    )
    assert client.get(f"/api/v1/applications/{f.id}/scores", headers=member).status_code == 403
    # Someone who can't see the file doesn't learn it exists.
    assert client.get(f"/api/v1/applications/{f.id}/scores", headers=reviewer).status_code == 404


def test_unknown_call_or_file_is_404(client, staff):
    assert client.get("/api/v1/calls/999999/ranking", headers=staff).status_code == 404
    assert client.get("/api/v1/applications/999999/scores", headers=staff).status_code == 404
    assert client.get("/api/v1/applications/999999/decision", headers=staff).status_code == 404


def test_staff_read_a_files_scores(client, committee, staff, add_review, create_user):
    f = committee.file()
    late = create_user(roles=["reviewer"], full_name="Évaluateur en retard")
    add_review(f.id, late, status="in_progress", scores=[1, None, None, None, None])
    body = client.get(f"/api/v1/applications/{f.id}/scores", headers=staff).json
    assert (body["count"], body["required"], body["score"]) == (2, 2, "70.00")
    assert [c["weight"] for c in body["criteria"]] == [30, 25, 20, 15, 10]
    reviews = body["reviews"]
    assert [r["reviewer"]["name"] for r in reviews] == [
        "Irène Évalue",
        "Marc Note",
        "Évaluateur en retard",
    ]
    assert [r["score"] for r in reviews] == ["60.00", "80.00", "20.00"]
    assert reviews[2]["status"] == "in_progress"
    assert [s["score"] for s in reviews[0]["scores"]] == [3, 3, 3, 3, 3]


# --- sessions -----------------------------------------------------------------------------


def test_staff_record_sessions(client, committee, staff, api_token):
    url = f"/api/v1/calls/{committee.call_id}/sessions"
    response = client.post(
        url,
        json={
            "held_on": "2016-09-20",
            "members_present": ["Mme Alice Durand", "M. Karim Benali"],
            "deliberation_ref": "2016/0457",
        },
        headers=staff,
    )
    assert response.status_code == 201
    assert response.json["deliberation_ref"] == "2016/0457"
    assert response.json["members_present"] == ["Mme Alice Durand", "M. Karim Benali"]
    listed = client.get(url, headers=staff).json["items"]
    assert [s["held_on"] for s in listed] == ["2016-09-20", "2016-06-15"]

    response = client.post(url, json={"held_on": "le 20", "members_present": []}, headers=staff)
    assert response.status_code == 422
    assert "held_on" in response.json["error"]["fields"]
    response = client.post(
        url, json={"held_on": "2016-09-21", "members_present": []}, headers=staff
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"]["members_present"] == [
        "Indiquez les membres présents, un par ligne."
    ]
    assert client.post(url, data="pas du json", headers=staff).status_code == 400
    f = committee.file()
    member = auth(api_token(f.member_id))
    response = client.post(
        url, json={"held_on": "2016-09-20", "members_present": ["X"]}, headers=member
    )
    assert response.status_code == 403


# --- decisions ----------------------------------------------------------------------------


def test_staff_decide_and_the_envelope_answers_409(client, committee, staff):
    first = committee.file(request="40000")
    second = committee.file(request="40000")
    response = client.post(
        f"/api/v1/applications/{first.id}/decision",
        json={"outcome": "accepted", "awarded_total": 120000, "session_id": committee.session_id},
        headers=staff,
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["outcome"] == "accepted" and body["awarded_total"] == "120000.00"
    assert body["session"]["id"] == committee.session_id
    assert body["decided_by"]["id"] == committee.staff_id

    response = client.post(
        f"/api/v1/applications/{second.id}/decision",
        json={"outcome": "accepted", "awarded_total": "120000", "session_id": committee.session_id},
        headers=staff,
    )
    assert response.status_code == 409
    assert "dépasserait l'enveloppe totale de l'appel" in response.json["error"]["message"]
    assert "reste disponible : 45" in response.json["error"]["message"]
    ranking = client.get(f"/api/v1/calls/{committee.call_id}/ranking", headers=staff).json
    assert ranking["awarded_total"] == "120000.00"


def test_decision_input_errors_are_per_field(client, committee, staff):
    f = committee.file()
    url = f"/api/v1/applications/{f.id}/decision"
    response = client.post(
        url, json={"outcome": "rejected", "session_id": committee.session_id}, headers=staff
    )
    assert response.status_code == 422
    assert "motif du refus" in response.json["error"]["fields"]["reason"][0]
    response = client.post(
        url,
        json={"outcome": "peut-être", "awarded_total": "beaucoup", "session_id": "un"},
        headers=staff,
    )
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"outcome", "awarded_total", "session_id"}
    response = client.post(
        url,
        json={"outcome": "accepted", "awarded_total": "30000.01", "session_id": 999},
        headers=staff,
    )
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"awarded_total", "session_id"}
    assert client.post(url, data="[]", headers=staff).status_code == 400


def test_wait_list_then_reject_through_the_api(client, committee, staff, api_token):
    f = committee.file()
    url = f"/api/v1/applications/{f.id}/decision"
    member = auth(api_token(f.member_id))
    assert client.get(url, headers=member).status_code == 404  # no decision yet
    response = client.post(
        url, json={"outcome": "waitlisted", "session_id": committee.session_id}, headers=staff
    )
    assert response.status_code == 200
    assert client.get(url, headers=member).json["outcome"] == "waitlisted"
    response = client.post(
        url,
        json={
            "outcome": "rejected",
            "reason": "Enveloppe épuisée.",
            "session_id": committee.session_id,
        },
        headers=staff,
    )
    assert response.status_code == 200
    seen = client.get(url, headers=member).json
    assert (seen["outcome"], seen["reason"], seen["awarded_total"]) == (
        "rejected",
        "Enveloppe épuisée.",
        None,
    )
    assert "session" not in seen and "decided_by" not in seen
    staff_view = client.get(url, headers=staff).json
    assert staff_view["session"]["deliberation_ref"] == "2016/042"


def test_only_staff_decide_and_strangers_get_404(client, committee, api_token, create_user):
    f = committee.file()
    url = f"/api/v1/applications/{f.id}/decision"
    payload = {"outcome": "accepted", "awarded_total": "30000", "session_id": committee.session_id}
    member = auth(api_token(f.member_id))
    stranger = auth(api_token(create_user(email="curieux@example.org")))
    assert client.post(url, json=payload, headers=member).status_code == 403
    assert client.post(url, json=payload, headers=stranger).status_code == 404
    assert client.get(url, headers=stranger).status_code == 404


def test_the_openapi_document_lists_and_validates_the_decision_routes(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    validate(document)
    paths = document["paths"]
    assert "get" in paths["/calls/{call_id}/ranking"]
    assert "get" in paths["/applications/{application_id}/scores"]
    assert "post" in paths["/calls/{call_id}/sessions"]
    assert {"get", "post"} <= set(paths["/applications/{application_id}/decision"])
    assert "409" in paths["/applications/{application_id}/decision"]["post"]["responses"]
