"""Schedules in the JSON API: per call and per award, starting a computation, a run's
progress, and the simulation (the JSON of ``grants schedule simulate``, never writing)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.fixtures.funding import SEED_TRANCHES


@pytest.fixture
def token_for(app):
    def _token(user_id: int) -> dict:
        from grants.accounts.models import User
        from grants.accounts.operations import create_api_token
        from grants.extensions import db

        with app.app_context():
            _, clear = create_api_token(db.session.get(User, user_id), "tests")
            db.session.commit()
            db.session.remove()
        return {"Authorization": f"Bearer {clear}"}

    return _token


@pytest.fixture
def decided(laureates_call, schedule_run, run_schedule_task):
    call = laureates_call()
    call.run_id = schedule_run(call.call_id, call.staff_id)
    run_schedule_task(call.run_id)
    return call


def award_ids(app, call_id) -> dict[int, int]:
    """``{application id: award id}``."""
    from grants.extensions import db
    from grants.funding.models import Award

    with app.app_context():
        rows = db.session.execute(
            sa.select(Award.application_id, Award.id).where(Award.call_id == call_id)
        ).all()
        db.session.remove()
    return dict(rows)


def post(client, url, headers, body):
    return client.post(
        url, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"}
    )


def test_staff_routes_need_a_staff_token(client, decided, token_for):
    member = token_for(decided.files[0].member_id)
    base = f"/api/v1/calls/{decided.call_id}"
    assert client.get(f"{base}/schedules", headers=member).status_code == 403
    assert post(client, f"{base}/schedules", member, {}).status_code == 403
    assert post(client, f"{base}/simulation", member, {}).status_code == 403
    assert client.get(f"/api/v1/schedule-runs/{decided.run_id}", headers=member).status_code == 403
    assert client.get(f"{base}/schedules").status_code == 401


def test_the_schedules_of_a_call(client, decided, token_for):
    response = client.get(
        f"/api/v1/calls/{decided.call_id}/schedules", headers=token_for(decided.staff_id)
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["envelopes"] == {"2016": "60000.00", "2017": "55000.00", "2018": "50000.00"}
    assert data["totals"] == data["envelopes"]
    assert data["latest_run"]["status"] == "done"
    first = data["awards"][0]
    assert first["reference"] == decided.files[0].reference
    assert first["total"] == first["allocated_total"] == "40000.00"
    assert first["status"] == "scheduled"
    assert [(t["year"], t["amount"], t["status"]) for t in first["tranches"]] == [
        (2016, "14545.00", "planned"),
        (2017, "13333.00", "planned"),
        (2018, "12122.00", "planned"),
    ]


def test_members_see_their_own_award_only(app, client, decided, token_for):
    ids = award_ids(app, decided.call_id)
    mine, other = decided.files[0], decided.files[1]
    member = token_for(mine.member_id)

    response = client.get(f"/api/v1/awards/{ids[mine.id]}/schedule", headers=member)
    assert response.status_code == 200
    amounts = [int(float(t["amount"])) for t in response.get_json()["tranches"]]
    assert tuple(amounts) == SEED_TRANCHES[mine.name]

    response = client.get(f"/api/v1/awards/{ids[other.id]}/schedule", headers=member)
    assert response.status_code == 404  # not even its existence
    staff = token_for(decided.staff_id)
    assert client.get(f"/api/v1/awards/{ids[other.id]}/schedule", headers=staff).status_code == 200
    assert client.get("/api/v1/awards/999999/schedule", headers=staff).status_code == 404


def test_staff_start_a_computation_and_follow_it(app, client, decided, token_for):
    staff = token_for(decided.staff_id)
    response = post(client, f"/api/v1/calls/{decided.call_id}/schedules", staff, {})
    assert response.status_code == 202
    run = response.get_json()
    assert run["status"] == "queued" and run["call_id"] == decided.call_id

    response = client.get(f"/api/v1/schedule-runs/{run['id']}", headers=staff)
    assert response.get_json()["status"] == "queued"
    done = client.get(f"/api/v1/schedule-runs/{decided.run_id}", headers=staff).get_json()
    assert done["status"] == "done" and done["progress"] == done["total"] == 6
    assert done["result"]["stored"] is True


def test_a_computation_on_an_open_call_is_refused(client, create_call, quick_user, token_for):
    staff = quick_user("agent@example.org", roles=["staff"])
    call_id = create_call()  # published, open
    response = post(client, f"/api/v1/calls/{call_id}/schedules", token_for(staff), {})
    assert response.status_code == 409
    assert "clos ou décidé" in response.get_json()["error"]["message"]


def counts(app):
    from grants.extensions import db

    with app.app_context():
        values = {
            name: db.session.execute(sa.text(f'SELECT * FROM "{name}"')).all()
            for name in ("award", "tranche", "decision", "call_year", "schedule_run")
        }
        db.session.remove()
    return values


def test_the_simulation_with_the_seeds_fallback(app, client, decided, token_for):
    before = counts(app)
    response = post(
        client,
        f"/api/v1/calls/{decided.call_id}/simulation",
        token_for(decided.staff_id),
        {"envelopes": {"2016": "30500"}},
    )
    assert response.status_code == 200
    data = response.get_json()
    assert data["fits"] is False
    assert data["overflow"] == {"2016": "29500", "2017": "0", "2018": "0"}
    assert set(data["alternatives"]) == {"proportional", "by_rank"}
    assert [s["id"] for s in data["schedules"]] == [f.reference for f in decided.files]
    assert counts(app) == before  # nothing written


def test_the_simulation_is_the_json_of_the_cli(app, client, decided, token_for):
    """The same input through ``grants schedule simulate`` gives the same output."""
    from grants.funding.cli import simulate_text

    body = {
        "awards": [{"id": decided.files[0].reference, "amount": "20000"}],
        "unit": "10",
    }
    data = post(
        client, f"/api/v1/calls/{decided.call_id}/simulation", token_for(decided.staff_id), body
    ).get_json()
    cli_input = {
        "envelopes": {"2016": "60000.00", "2017": "55000.00", "2018": "50000.00"},
        "unit": "10",
        "profile": ["0.363637", "0.333333", "0.303030"],
        "awards": [
            {"id": f.reference, "amount": "20000" if n == 0 else str(f.amount), "rank": n + 1}
            for n, f in enumerate(decided.files)
        ],
    }
    with app.app_context():
        assert data == simulate_text(json.dumps(cli_input))


def test_invalid_simulations_get_french_messages(client, decided, token_for):
    staff = token_for(decided.staff_id)
    url = f"/api/v1/calls/{decided.call_id}/simulation"
    cases = [
        ({"envelopes": {"2016": 30500}}, "écrivez le nombre entre guillemets"),
        ({"awards": [{"id": "AUTRE-0001", "amount": "1000"}]}, "ce n'est pas une aide de l'appel"),
        ({"profile": ["0.5", "0.3", "0.1"]}, "La somme des poids doit valoir exactement 1"),
        ({"colour": "blue"}, "Clé inconnue"),
    ]
    for body, message in cases:
        response = post(client, url, staff, body)
        assert response.status_code == 422, body
        assert message in response.get_json()["error"]["message"], body
    assert post(client, url, staff, []).status_code == 400


def test_the_openapi_document_lists_the_schedule_routes(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    for path in (
        "/calls/{call_id}/schedules",
        "/calls/{call_id}/simulation",
        "/schedule-runs/{id}",
        "/awards/{id}/schedule",
    ):
        assert path in document["paths"], path
    assert "post" in document["paths"]["/calls/{call_id}/schedules"]
