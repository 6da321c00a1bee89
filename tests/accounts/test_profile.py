"""The profile: password change, e-mail change, personal API tokens."""

from __future__ import annotations

import sqlalchemy as sa

from tests.fixtures.accounts import DEFAULT_PASSWORD, mail_text

NEW_PASSWORD = "le nouveau mot de passe du compte"


def post_form(client, get_csrf, url, page=None, **data):
    """POST ``data`` with the CSRF token of ``page`` (default: the same URL)."""
    token = get_csrf(client, page or url)
    return client.post(url, data={"csrf_token": token, **data})


def audit_actions(app, user_id):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.object_id == str(user_id))
        ).all()
        db.session.remove()
    return actions


def test_profile_needs_login(client):
    response = client.get("/compte")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def test_profile_shows_the_account(client, create_user, login):
    create_user(email="me@example.org", full_name="Dominique Petit", roles=["reviewer"])
    login(client, "me@example.org")
    page = client.get("/compte").get_data(as_text=True)
    for text in ("Dominique Petit", "me@example.org", "Évaluateur", "Porteur de projet"):
        assert text in page
    for link in ("/compte/mot-de-passe", "/compte/email", "/compte/jetons"):
        assert f'href="{link}"' in page


# Password change ----------------------------------------------------------------------


def test_password_change_needs_the_current_password(app, client, create_user, get_csrf, login):
    create_user(email="pw@example.org")
    login(client, "pw@example.org")
    response = post_form(
        client,
        get_csrf,
        "/compte/mot-de-passe",
        current_password="not my password",
        password=NEW_PASSWORD,
        password_confirm=NEW_PASSWORD,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="current_password-erreurs"' in page and "mot de passe actuel est incorrect" in page


def test_password_change_keeps_this_session_and_ends_the_others(
    app, client, create_user, get_csrf, login, mails_to
):
    user_id = create_user(email="pw2@example.org")
    login(client, "pw2@example.org")
    other = app.test_client()
    login(other, "pw2@example.org")
    assert other.get("/compte").status_code == 200

    response = post_form(
        client,
        get_csrf,
        "/compte/mot-de-passe",
        current_password=DEFAULT_PASSWORD,
        password=NEW_PASSWORD,
        password_confirm=NEW_PASSWORD,
    )
    assert response.status_code == 302 and response.headers["Location"] == "/compte"
    assert "Vos autres sessions ont été fermées" in client.get("/compte").get_data(as_text=True)
    assert client.get("/compte").status_code == 200
    assert other.get("/compte").status_code == 302

    assert "user.password_change" in audit_actions(app, user_id)
    [notice] = mails_to("pw2@example.org")
    assert notice["Subject"] == "Votre mot de passe a été modifié"


def test_password_change_applies_the_rules(client, create_user, get_csrf, login):
    create_user(email="dominique@example.org")
    login(client, "dominique@example.org")
    response = post_form(
        client,
        get_csrf,
        "/compte/mot-de-passe",
        current_password=DEFAULT_PASSWORD,
        password="Dominique123",
        password_confirm="Dominique123",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="password-erreurs"' in page
    assert "reprendre votre adresse e-mail" in page


# E-mail change ------------------------------------------------------------------------


def test_email_changes_only_when_the_link_is_opened(
    app, client, create_user, get_csrf, login, mail_link, mails_to
):
    user_id = create_user(email="old@example.org")
    login(client, "old@example.org")
    response = post_form(
        client,
        get_csrf,
        "/compte/email",
        current_password=DEFAULT_PASSWORD,
        new_email="New@Example.org",
    )
    assert response.status_code == 302
    assert "old@example.org" in client.get("/compte").get_data(as_text=True)  # not yet

    [notice] = mails_to("old@example.org")
    assert "new@example.org" in mail_text(notice)
    assert "/compte/email/confirmer/" not in mail_text(notice)  # the link goes to the new one
    path = mail_link("new@example.org", "/compte/email/confirmer/")

    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == "/compte"
    page = client.get("/compte").get_data(as_text=True)
    assert "new@example.org" in page and "old@example.org" not in page
    assert "user.email_change" in audit_actions(app, user_id)

    # Second use of the link: refused. The new address logs in, the old one does not.
    assert client.get(path).status_code == 400
    fresh = app.test_client()
    token = get_csrf(fresh, "/connexion")
    ok = fresh.post(
        "/connexion",
        data={"csrf_token": token, "email": "new@example.org", "password": DEFAULT_PASSWORD},
    )
    assert ok.status_code == 302


def test_email_change_needs_the_password(client, create_user, get_csrf, login, mails_to):
    create_user(email="keep@example.org")
    login(client, "keep@example.org")
    response = post_form(
        client,
        get_csrf,
        "/compte/email",
        current_password="wrong password here",
        new_email="elsewhere@example.org",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="current_password-erreurs"' in page
    assert mails_to("elsewhere@example.org") == []


def test_email_change_refuses_an_address_in_use(client, create_user, get_csrf, login, mails_to):
    create_user(email="a@example.org")
    create_user(email="b@example.org")
    login(client, "a@example.org")
    response = post_form(
        client,
        get_csrf,
        "/compte/email",
        current_password=DEFAULT_PASSWORD,
        new_email="b@example.org",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="new_email-erreurs"' in page and "ne peut pas être utilisée" in page
    assert mails_to("b@example.org") == []


def test_email_change_link_fails_if_the_address_was_taken_meanwhile(
    app, client, create_user, get_csrf, login, mail_link
):
    create_user(email="slow@example.org")
    login(client, "slow@example.org")
    post_form(
        client,
        get_csrf,
        "/compte/email",
        current_password=DEFAULT_PASSWORD,
        new_email="wanted@example.org",
    )
    path = mail_link("wanted@example.org", "/compte/email/confirmer/")
    create_user(email="wanted@example.org")
    response = client.get(path)
    assert response.status_code == 409
    assert "slow@example.org" in client.get("/compte").get_data(as_text=True)


# Personal API tokens ------------------------------------------------------------------


def test_tokens_create_list_revoke(app, client, create_user, get_csrf, login):
    create_user(email="dev@example.org")
    login(client, "dev@example.org")
    response = post_form(client, get_csrf, "/compte/jetons", name="Script d'export")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "il ne sera plus jamais affiché" in page
    clear = page.split('id="nouveau-jeton">', 1)[1].split("<", 1)[0]
    assert clear.startswith("grt_")

    # Shown once: the list shows the name and prefix only.
    listing = client.get("/compte/jetons").get_data(as_text=True)
    assert "Script d&#39;export" in listing and clear[:10] in listing and clear not in listing

    # The token opens the API until it is revoked.
    api = app.test_client()
    headers = {"Authorization": f"Bearer {clear}"}
    me = api.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.get_json()["email"] == "dev@example.org"

    from grants.accounts.models import ApiToken
    from grants.extensions import db

    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))
        db.session.remove()
    response = post_form(
        client, get_csrf, f"/compte/jetons/{token_id}/revoquer", page="/compte/jetons"
    )
    assert response.status_code == 302
    assert "révoqué" in client.get("/compte/jetons").get_data(as_text=True)
    assert api.get("/api/v1/me", headers=headers).status_code == 401


def test_cannot_revoke_someone_elses_token(app, client, create_user, get_csrf, login):
    from grants.accounts.models import ApiToken, User
    from grants.accounts.operations import create_api_token
    from grants.extensions import db

    owner_id = create_user(email="owner@example.org")
    create_user(email="other@example.org")
    with app.app_context():
        token, _ = create_api_token(db.session.get(User, owner_id), "owner's")
        db.session.commit()
        token_id = token.id
        db.session.remove()

    login(client, "other@example.org")
    assert "owner&#39;s" not in client.get("/compte/jetons").get_data(as_text=True)
    response = post_form(
        client, get_csrf, f"/compte/jetons/{token_id}/revoquer", page="/compte/jetons"
    )
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None
        db.session.remove()


def test_revoke_without_csrf_is_refused(app, client, create_user, login):
    from grants.accounts.models import ApiToken, User
    from grants.accounts.operations import create_api_token
    from grants.extensions import db

    user_id = create_user(email="mine@example.org")
    with app.app_context():
        token, _ = create_api_token(db.session.get(User, user_id), "mine")
        db.session.commit()
        token_id = token.id
        db.session.remove()
    login(client, "mine@example.org")
    response = client.post(f"/compte/jetons/{token_id}/revoquer")
    assert response.status_code == 400
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None
        db.session.remove()


def test_token_name_is_required(client, create_user, get_csrf, login):
    create_user(email="noname@example.org")
    login(client, "noname@example.org")
    response = post_form(client, get_csrf, "/compte/jetons", name="")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'id="name-erreurs"' in page
    assert "nouveau-jeton" not in page
