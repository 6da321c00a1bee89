"""Notifications in the JSON API: one's own only, same rules as the pages."""

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
def two_users(create_user, create_call, api_token):
    alice = create_user(email="alice@example.org", full_name="Alice Martin")
    bob = create_user(email="bob@example.org")
    return {
        "alice": alice,
        "bob": bob,
        "call": create_call(title="Appel ESS 2026"),
        "alice_auth": auth(api_token(alice)),
        "bob_auth": auth(api_token(bob)),
    }


def test_a_token_is_required(client):
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.get("/api/v1/me/notification-preferences").status_code == 401


def test_list_ones_own_notifications(client, two_users, notify_now):
    notify_now(two_users["call"], [two_users["alice"], two_users["bob"]], occurrence="a")
    notify_now(two_users["call"], [two_users["alice"]], occurrence="b", essential=False)

    body = client.get("/api/v1/notifications", headers=two_users["alice_auth"]).get_json()
    assert body["total"] == 2 and body["unread"] == 2 and body["page"] == 1
    first = body["items"][0]
    assert first["event"] == "call.closing_extended"
    assert first["subject"] == "Clôture reportée : Appel ESS 2026"
    assert "Bonjour Alice Martin" in first["body"]
    assert first["read"] is False and first["read_at"] is None
    assert {item["essential"] for item in body["items"]} == {True, False}
    assert first["link"].endswith(f"/appels/{two_users['call']}")

    bob = client.get("/api/v1/notifications", headers=two_users["bob_auth"]).get_json()
    assert bob["total"] == 1


def test_mark_read_own_only(client, two_users, notify_now):
    [notification_id] = notify_now(two_users["call"], [two_users["alice"]])

    response = client.post(
        f"/api/v1/notifications/{notification_id}/read", headers=two_users["bob_auth"]
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["title"] == "Notification introuvable"

    response = client.post(
        f"/api/v1/notifications/{notification_id}/read", headers=two_users["alice_auth"]
    )
    assert response.status_code == 200
    assert response.get_json()["read"] is True
    body = client.get("/api/v1/notifications?unread=true", headers=two_users["alice_auth"])
    assert body.get_json()["total"] == 0
    assert body.get_json()["unread"] == 0


def test_preferences_read_and_change(client, two_users):
    url = "/api/v1/me/notification-preferences"
    body = client.get(url, headers=two_users["alice_auth"]).get_json()
    assert body["email_reminders"] is True
    assert any("accusé de réception" in kind for kind in body["essential"])

    response = client.patch(url, json={"email_reminders": False}, headers=two_users["alice_auth"])
    assert response.status_code == 200
    assert response.get_json()["email_reminders"] is False
    assert client.get(url, headers=two_users["alice_auth"]).get_json()["email_reminders"] is False
    # Bob's are his own
    assert client.get(url, headers=two_users["bob_auth"]).get_json()["email_reminders"] is True


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"email_reminders": "non"}, "email_reminders", "Un booléen est attendu (true ou false)."),
        (
            {"essential": False},
            "essential",
            "Les e-mails essentiels ne peuvent pas être désactivés.",
        ),
        ({"autre": 1}, "autre", "Champ inconnu."),
    ],
)
def test_invalid_preferences_are_refused_in_french(client, two_users, payload, field, message):
    url = "/api/v1/me/notification-preferences"
    response = client.patch(url, json=payload, headers=two_users["alice_auth"])
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {field: [message]}
    assert client.get(url, headers=two_users["alice_auth"]).get_json()["email_reminders"] is True


def test_the_routes_are_in_the_openapi_document(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    assert "get" in document["paths"]["/notifications"]
    assert "post" in document["paths"]["/notifications/{notification_id}/read"]
    assert set(document["paths"]["/me/notification-preferences"]) == {"get", "patch"}
