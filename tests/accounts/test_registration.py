"""Registration, e-mail confirmation, and what an unconfirmed account can do."""

from __future__ import annotations

import time

import sqlalchemy as sa
from itsdangerous.timed import TimestampSigner

from tests.fixtures.accounts import DEFAULT_PASSWORD, mail_text

NEW_PASSWORD = "une phrase de passe assez longue"


def register(client, get_csrf, email, password=NEW_PASSWORD, confirm=None, name="Camille Martin"):
    token = get_csrf(client, "/inscription")
    return client.post(
        "/inscription",
        data={
            "csrf_token": token,
            "full_name": name,
            "email": email,
            "password": password,
            "password_confirm": password if confirm is None else confirm,
        },
    )


def users_with(app, email):
    from grants.accounts.models import User
    from grants.extensions import db

    with app.app_context():
        rows = db.session.scalars(sa.select(User).where(User.email == email)).all()
        result = [(u.id, u.is_confirmed, sorted(r.value for r in u.roles)) for u in rows]
        db.session.remove()
    return result


def test_register_confirm_then_login(app, client, get_csrf, mail_link, mails_to, login):
    response = register(client, get_csrf, "Camille@Example.org")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Un e-mail de confirmation vient de vous être envoyé" in page
    assert "/boite-mail-demo" in page  # the embedded default has no real mail
    [(user_id, confirmed, roles)] = users_with(app, "camille@example.org")
    assert not confirmed and roles == ["applicant"]

    [mail] = mails_to("camille@example.org")
    assert mail["Subject"] == "Confirmez votre adresse e-mail"
    assert "http://127.0.0.1:5000/confirmer/" in mail_text(mail)  # absolute, on PUBLIC_BASE_URL
    assert mail.get_body(preferencelist=("html",)) is not None

    response = client.get(mail_link("camille@example.org", "/confirmer/"))
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"
    assert "Votre adresse e-mail est confirmée" in client.get("/connexion").get_data(as_text=True)
    assert users_with(app, "camille@example.org")[0][1] is True

    login(client, "camille@example.org", NEW_PASSWORD)
    assert client.get("/compte").status_code == 200


def test_confirmation_is_audited(app, client, get_csrf, mail_link):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    register(client, get_csrf, "audit@example.org")
    client.get(mail_link("audit@example.org", "/confirmer/"))
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEntry.action)).all()
        db.session.remove()
    assert "user.create" in actions and "user.confirm_email" in actions


def test_unconfirmed_account_cannot_log_in(client, create_user, get_csrf, mail_link):
    create_user(email="late@example.org", confirmed=False)
    token = get_csrf(client, "/connexion")
    response = client.post(
        "/connexion",
        data={"csrf_token": token, "email": "late@example.org", "password": DEFAULT_PASSWORD},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "pas encore confirmée" in page
    assert "/confirmer/renvoyer" in page
    assert client.get("/compte").status_code == 302  # not logged in

    # The resend form sends a fresh, working link.
    token = get_csrf(client, "/confirmer/renvoyer")
    response = client.post(
        "/confirmer/renvoyer", data={"csrf_token": token, "email": "late@example.org"}
    )
    assert response.status_code == 302
    assert client.get(mail_link("late@example.org", "/confirmer/")).status_code == 302
    token = get_csrf(client, "/connexion")
    response = client.post(
        "/connexion",
        data={"csrf_token": token, "email": "late@example.org", "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 302


def test_resend_answers_the_same_for_unknown_and_confirmed(client, create_user, get_csrf, mails_to):
    create_user(email="known@example.org", confirmed=True)
    pages = []
    for email in ("known@example.org", "nobody@example.org"):
        token = get_csrf(client, "/confirmer/renvoyer")
        response = client.post(
            "/confirmer/renvoyer", data={"csrf_token": token, "email": email}, follow_redirects=True
        )
        pages.append(response.get_data(as_text=True).replace(token, ""))
    assert "Si un compte non confirmé existe" in pages[0]
    assert pages[0] == pages[1]
    assert mails_to("known@example.org") == [] and mails_to("nobody@example.org") == []


def test_duplicate_registration_answers_the_same(app, client, get_csrf, create_user, mails_to):
    create_user(email="taken@example.org", full_name="Déjà Là")
    first = register(client, get_csrf, "fresh@example.org")
    second = register(client, get_csrf, "taken@example.org")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert client.get(first.headers["Location"]).get_data(as_text=True) == client.get(
        second.headers["Location"]
    ).get_data(as_text=True)

    assert len(users_with(app, "taken@example.org")) == 1
    [warning] = mails_to("taken@example.org")
    assert warning["Subject"] == "Tentative d'inscription avec votre adresse"
    assert "/mot-de-passe-oublie" in mail_text(warning)
    assert "/confirmer/" not in mail_text(warning)


def test_password_rules_are_shown_next_to_the_field(app, client, get_csrf):
    response = register(client, get_csrf, "short@example.org", password="court")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="password-erreurs"' in page
    assert "au moins 12 caractères" in page
    assert 'value="short@example.org"' in page  # valid input kept
    assert 'value="Camille Martin"' in page
    assert users_with(app, "short@example.org") == []

    response = register(client, get_csrf, "x@example.org", confirm="something else entirely")
    assert "ne sont pas identiques" in response.get_data(as_text=True)

    response = register(client, get_csrf, "y@example.org", password="motdepasse1234")
    assert "trop courant" in response.get_data(as_text=True)


def test_invalid_confirmation_link(client):
    response = client.get("/confirmer/not-a-real-token")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Lien invalide ou expiré" in page
    assert 'action="/confirmer/renvoyer"' in page


def test_expired_confirmation_link(app, client, get_csrf, mail_link, monkeypatch):
    old = int(time.time()) - app.config["CONFIRM_MAX_AGE"] - 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: old)
    register(client, get_csrf, "slow@example.org")
    monkeypatch.undo()
    response = client.get(mail_link("slow@example.org", "/confirmer/"))
    assert response.status_code == 400
    assert "Lien invalide ou expiré" in response.get_data(as_text=True)
    assert users_with(app, "slow@example.org")[0][1] is False


def test_a_reset_token_does_not_confirm(app, client, create_user, get_csrf, mail_link):
    """Each link has its own salt: a token made for one purpose is refused by the others."""
    create_user(email="salt@example.org", confirmed=False)
    token = get_csrf(client, "/mot-de-passe-oublie")
    client.post("/mot-de-passe-oublie", data={"csrf_token": token, "email": "salt@example.org"})
    reset_path = mail_link("salt@example.org", "/reinitialiser/")
    response = client.get("/confirmer/" + reset_path.rsplit("/", 1)[1])
    assert response.status_code == 400
    assert users_with(app, "salt@example.org")[0][1] is False


def test_logged_in_user_is_sent_home_from_registration(client, create_user, login):
    create_user(email="in@example.org")
    login(client, "in@example.org")
    response = client.get("/inscription")
    assert response.status_code == 302 and response.headers["Location"] == "/"
