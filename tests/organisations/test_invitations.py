"""Members and invitations: invite by e-mail, accept with the invited address, revoke, leave."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from tests.fixtures.accounts import DEFAULT_PASSWORD
from tests.fixtures.core import csrf_token_from
from tests.organisations.html import field_errors, text

LINK = re.compile(r"https?://\S+/invitations/[A-Za-z0-9_-]+")


@pytest.fixture
def alice(create_user):
    return create_user(email="alice@example.org", full_name="Alice Martin")


@pytest.fixture
def org_id(alice, create_organisation):
    return create_organisation(member_ids=[alice], name="La Recyclerie")


@pytest.fixture
def alice_client(app, login, alice):
    client = app.test_client()
    login(client, "alice@example.org")
    return client


def _invite(client, get_csrf, org_id, email):
    token = get_csrf(client, f"/structures/{org_id}")
    return client.post(f"/structures/{org_id}/inviter", data={"email": email, "csrf_token": token})


def _invitation_path(sent_mails, deliver_queued, email) -> str:
    deliver_queued()
    mails = [m for m in sent_mails() if str(m["To"]).lower() == email]
    assert mails, f"no mail to {email}"
    body = mails[-1].get_body(preferencelist=("plain",)).get_content()
    url = LINK.search(body).group(0)
    return urlsplit(url).path


def _accept(client, get_csrf, path):
    token = get_csrf(client, path)
    return client.post(path, data={"csrf_token": token})


def _invitations(app, org_id):
    from grants.extensions import db
    from grants.organisations.models import Invitation

    with app.app_context():
        rows = [
            {
                "id": i.id,
                "email": i.email,
                "token_hash": i.token_hash,
                "accepted": i.accepted_at is not None,
                "revoked": i.revoked_at is not None,
            }
            for i in db.session.scalars(
                sa.select(Invitation)
                .where(Invitation.organisation_id == org_id)
                .order_by(Invitation.id)
            )
        ]
        db.session.remove()
    return rows


def test_invitation_end_to_end(
    app,
    alice_client,
    org_id,
    get_csrf,
    sent_mails,
    deliver_queued,
    create_user,
    login,
    org_member_ids,
    audit_entries,
):
    response = _invite(alice_client, get_csrf, org_id, " Bob@Example.org ")
    assert response.status_code == 302
    page = text(alice_client.get(f"/structures/{org_id}"))
    assert "Invitation envoyée à bob@example.org" in page
    assert "Invitations en attente" in page and "bob@example.org" in page

    path = _invitation_path(sent_mails, deliver_queued, "bob@example.org")
    mail = [m for m in sent_mails() if str(m["To"]) == "bob@example.org"][-1]
    assert "La Recyclerie" in mail["Subject"]
    assert mail.get_body(preferencelist=("html",)) is not None
    token = path.rsplit("/", 1)[1]
    (row,) = _invitations(app, org_id)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()  # only the hash
    assert token not in row["token_hash"]

    # Bob is not logged in: the page explains, and keeps the link through the login
    bob_client = app.test_client()
    anonymous = text(bob_client.get(path))
    assert "La Recyclerie" in anonymous
    assert "bob@example.org" in anonymous
    login_href = re.search(r'href="(/connexion\?next=[^"]+)"', anonymous).group(1)
    assert bob_client.post(path).status_code in (400, 401)  # no CSRF token, no login

    # Bob opens an account with the invited address, logs in, and is sent back to the link
    bob = create_user(email="bob@example.org")
    token = get_csrf(bob_client, login_href)
    response = bob_client.post(
        login_href,
        data={"email": "bob@example.org", "password": DEFAULT_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == path
    page = text(bob_client.get(path))
    assert "Accepter l'invitation" in page
    response = _accept(bob_client, get_csrf, path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/structures/{org_id}")
    assert org_member_ids(org_id) == {alice_client_id(app), bob}
    assert "La Recyclerie" in text(bob_client.get("/structures/"))
    assert bob_client.get(f"/structures/{org_id}/modifier").status_code == 200

    (join,) = audit_entries("organisation.member_join")
    assert join["actor_id"] == bob and join["object_id"] == str(org_id)
    assert [e["action"] for e in audit_entries("organisation.invite")] == ["organisation.invite"]

    # the link works once
    again = text(bob_client.get(path))
    assert "déjà été utilisée" in again
    assert "Accepter l'invitation" not in again


def alice_client_id(app):
    from grants.accounts.models import User
    from grants.extensions import db

    with app.app_context():
        user_id = db.session.scalar(sa.select(User.id).where(User.email == "alice@example.org"))
        db.session.remove()
    return user_id


def test_the_invited_address_must_be_the_logged_in_one(
    app,
    alice_client,
    org_id,
    get_csrf,
    sent_mails,
    deliver_queued,
    create_user,
    login,
    org_member_ids,
):
    _invite(alice_client, get_csrf, org_id, "bob@example.org")
    path = _invitation_path(sent_mails, deliver_queued, "bob@example.org")
    carol = create_user(email="carol@example.org")
    carol_client = app.test_client()
    login(carol_client, "carol@example.org")
    page = text(carol_client.get(path))
    assert "envoyée à bob@example.org" in page
    assert "connecté avec carol@example.org" in page
    assert "Accepter l'invitation" not in page
    token = csrf_token_from(carol_client.get("/").get_data(as_text=True))
    response = carol_client.post(path, data={"csrf_token": token})
    assert response.status_code == 409
    assert carol not in org_member_ids(org_id)
    assert not _invitations(app, org_id)[0]["accepted"]


def test_an_expired_invitation_is_refused(
    app,
    alice_client,
    org_id,
    get_csrf,
    sent_mails,
    deliver_queued,
    create_user,
    login,
    org_member_ids,
):
    _invite(alice_client, get_csrf, org_id, "bob@example.org")
    path = _invitation_path(sent_mails, deliver_queued, "bob@example.org")
    from grants.core.db import utcnow
    from grants.extensions import db
    from grants.organisations.models import Invitation

    with app.app_context():
        db.session.execute(sa.update(Invitation).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
        db.session.remove()
    bob = create_user(email="bob@example.org")
    bob_client = app.test_client()
    login(bob_client, "bob@example.org")
    page = text(bob_client.get(path))
    assert "a expiré" in page
    assert "Accepter l'invitation" not in page
    token = csrf_token_from(bob_client.get("/").get_data(as_text=True))
    assert bob_client.post(path, data={"csrf_token": token}).status_code == 409
    assert bob not in org_member_ids(org_id)
    # and it is no longer listed as pending
    assert "Aucune invitation en attente" in text(alice_client.get(f"/structures/{org_id}"))


def test_an_unknown_token_is_a_404(client):
    response = client.get("/invitations/not-a-real-token")
    assert response.status_code == 404
    assert "Invitation introuvable" in text(response)


def test_revoke_a_pending_invitation(
    app,
    alice_client,
    org_id,
    get_csrf,
    sent_mails,
    deliver_queued,
    create_user,
    login,
    audit_entries,
):
    _invite(alice_client, get_csrf, org_id, "bob@example.org")
    path = _invitation_path(sent_mails, deliver_queued, "bob@example.org")
    (row,) = _invitations(app, org_id)
    token = get_csrf(alice_client, f"/structures/{org_id}")
    response = alice_client.post(
        f"/structures/{org_id}/invitations/{row['id']}/annuler", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert _invitations(app, org_id)[0]["revoked"]
    assert "Aucune invitation en attente" in text(alice_client.get(f"/structures/{org_id}"))
    (entry,) = audit_entries("organisation.invitation_revoke")
    assert entry["changes"] == {"invitation": ["bob@example.org", None]}

    create_user(email="bob@example.org")
    bob_client = app.test_client()
    login(bob_client, "bob@example.org")
    assert "a été annulée" in text(bob_client.get(path))


def test_inviting_again_replaces_the_pending_invitation(
    app, alice_client, org_id, get_csrf, sent_mails, deliver_queued
):
    _invite(alice_client, get_csrf, org_id, "bob@example.org")
    first = _invitation_path(sent_mails, deliver_queued, "bob@example.org")
    _invite(alice_client, get_csrf, org_id, "BOB@example.org")
    second = _invitation_path(sent_mails, deliver_queued, "bob@example.org")
    assert first != second
    rows = _invitations(app, org_id)
    assert [(r["revoked"], r["accepted"]) for r in rows] == [(True, False), (False, False)]
    assert text(alice_client.get(f"/structures/{org_id}")).count("Annuler l'invitation") == 1
    assert "a été annulée" in text(app.test_client().get(first))


def test_invite_form_errors_are_next_to_the_field(alice_client, org_id, get_csrf, app):
    response = _invite(alice_client, get_csrf, org_id, "pas-une-adresse")
    assert response.status_code == 422
    assert field_errors(response, "email") == ["Cette adresse e-mail n'est pas valide."]
    response = _invite(alice_client, get_csrf, org_id, "alice@example.org")
    assert field_errors(response, "email") == ["Cette personne est déjà membre de la structure."]
    assert _invitations(app, org_id) == []


def test_members_remove_each_other_but_the_last_one_stays(
    app, alice, create_user, create_organisation, login, get_csrf, org_member_ids, audit_entries
):
    bob = create_user(email="bob@example.org")
    org_id = create_organisation(member_ids=[alice, bob])
    alice_client = app.test_client()
    login(alice_client, "alice@example.org")
    token = get_csrf(alice_client, f"/structures/{org_id}")

    response = alice_client.post(
        f"/structures/{org_id}/membres/{bob}/retirer", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert org_member_ids(org_id) == {alice}
    (entry,) = audit_entries("organisation.member_remove")
    assert entry["changes"] == {"members": ["bob@example.org", None]}

    # alice is now the last member: she cannot leave
    response = alice_client.post(
        f"/structures/{org_id}/membres/{alice}/retirer", data={"csrf_token": token}
    )
    assert response.status_code == 302
    page = text(alice_client.get(response.headers["Location"]))
    assert "au moins un membre" in page
    assert org_member_ids(org_id) == {alice}

    # bob, no longer a member, cannot see it any more
    bob_client = app.test_client()
    login(bob_client, "bob@example.org")
    assert bob_client.get(f"/structures/{org_id}").status_code == 404


def test_a_member_can_leave_when_others_remain(
    app, alice, create_user, create_organisation, login, get_csrf, org_member_ids, audit_entries
):
    bob = create_user(email="bob@example.org")
    org_id = create_organisation(member_ids=[alice, bob])
    client = app.test_client()
    login(client, "bob@example.org")
    token = get_csrf(client, f"/structures/{org_id}")
    response = client.post(
        f"/structures/{org_id}/membres/{bob}/retirer", data={"csrf_token": token}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/structures/")
    assert org_member_ids(org_id) == {alice}
    assert audit_entries("organisation.member_leave")[0]["actor_id"] == bob
