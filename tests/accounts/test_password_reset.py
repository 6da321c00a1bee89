"""Forgotten password: same answer for everyone, a link that works once and expires."""

from __future__ import annotations

import time

from itsdangerous.timed import TimestampSigner

from tests.fixtures.accounts import DEFAULT_PASSWORD, mail_text

NEW_PASSWORD = "un tout nouveau mot de passe"


def ask_reset(client, get_csrf, email):
    token = get_csrf(client, "/mot-de-passe-oublie")
    response = client.post("/mot-de-passe-oublie", data={"csrf_token": token, "email": email})
    return response, token


def set_password(client, get_csrf, path, password=NEW_PASSWORD, confirm=None):
    token = get_csrf(client, path)
    return client.post(
        path,
        data={
            "csrf_token": token,
            "password": password,
            "password_confirm": password if confirm is None else confirm,
        },
    )


def can_login(app, get_csrf, email, password) -> bool:
    client = app.test_client()
    token = get_csrf(client, "/connexion")
    response = client.post(
        "/connexion", data={"csrf_token": token, "email": email, "password": password}
    )
    return response.status_code == 302


def test_same_answer_whether_the_account_exists(client, create_user, get_csrf, mails_to):
    create_user(email="real@example.org")
    known, token1 = ask_reset(client, get_csrf, "real@example.org")
    unknown, token2 = ask_reset(client, get_csrf, "ghost@example.org")
    assert known.status_code == unknown.status_code == 200
    known_page = known.get_data(as_text=True).replace(token1, "T")
    assert "Si un compte existe pour cette adresse" in known_page
    assert known_page == unknown.get_data(as_text=True).replace(token2, "T")
    assert len(mails_to("real@example.org")) == 1
    assert mails_to("ghost@example.org") == []


def test_reset_link_works_once(app, client, create_user, get_csrf, mail_link, mails_to):
    create_user(email="once@example.org", confirmed=False)
    ask_reset(client, get_csrf, "once@example.org")
    [mail] = mails_to("once@example.org")
    assert mail["Subject"] == "Réinitialisation de votre mot de passe"
    assert "ne sert qu'une fois" in mail_text(mail)
    path = mail_link("once@example.org", "/reinitialiser/")

    page = client.get(path).get_data(as_text=True)
    assert "once@example.org" in page and 'name="password_confirm"' in page
    response = set_password(client, get_csrf, path)
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"

    # The link proved the address: the account is confirmed, the new password works.
    assert can_login(app, get_csrf, "once@example.org", NEW_PASSWORD)
    assert not can_login(app, get_csrf, "once@example.org", DEFAULT_PASSWORD)

    # Second use: refused, and the password is unchanged.
    response = client.get(path)
    assert response.status_code == 400
    assert "Lien invalide ou expiré" in response.get_data(as_text=True)
    response = client.post(path, data={"password": "x", "password_confirm": "x"})
    assert response.status_code == 400
    assert can_login(app, get_csrf, "once@example.org", NEW_PASSWORD)

    # The owner is told the password changed.
    subjects = [m["Subject"] for m in mails_to("once@example.org")]
    assert "Votre mot de passe a été modifié" in subjects


def test_reset_link_expires(app, client, create_user, get_csrf, mail_link, monkeypatch):
    create_user(email="late@example.org")
    old = int(time.time()) - app.config["RESET_MAX_AGE"] - 5
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: old)
    ask_reset(client, get_csrf, "late@example.org")
    monkeypatch.undo()
    path = mail_link("late@example.org", "/reinitialiser/")
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Lien invalide ou expiré" in page
    assert 'action="/mot-de-passe-oublie"' in page  # a way to ask again


def test_a_link_within_its_lifetime_works(
    app, client, create_user, get_csrf, mail_link, monkeypatch
):
    create_user(email="intime@example.org")
    recent = int(time.time()) - app.config["RESET_MAX_AGE"] + 60
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: recent)
    ask_reset(client, get_csrf, "intime@example.org")
    monkeypatch.undo()
    assert client.get(mail_link("intime@example.org", "/reinitialiser/")).status_code == 200


def test_older_link_dies_when_password_changes(app, client, create_user, get_csrf, mail_link):
    create_user(email="two@example.org")
    ask_reset(client, get_csrf, "two@example.org")
    first = mail_link("two@example.org", "/reinitialiser/")
    ask_reset(client, get_csrf, "two@example.org")
    second = mail_link("two@example.org", "/reinitialiser/")
    assert set_password(client, get_csrf, second).status_code == 302
    assert client.get(first).status_code == 400


def test_reset_checks_password_rules(app, client, create_user, get_csrf, mail_link):
    create_user(email="rules@example.org")
    ask_reset(client, get_csrf, "rules@example.org")
    path = mail_link("rules@example.org", "/reinitialiser/")
    response = set_password(client, get_csrf, path, password="trop court")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="password-erreurs"' in page
    response = set_password(client, get_csrf, path, confirm="une autre phrase de passe")
    assert "ne sont pas identiques" in response.get_data(as_text=True)
    assert client.get(path).status_code == 200  # still usable
    assert can_login(app, get_csrf, "rules@example.org", DEFAULT_PASSWORD)


def test_reset_ends_the_other_sessions(app, client, create_user, get_csrf, login, mail_link):
    create_user(email="hijacked@example.org")
    intruder = app.test_client()
    login(intruder, "hijacked@example.org")
    assert intruder.get("/compte").status_code == 200
    ask_reset(client, get_csrf, "hijacked@example.org")
    set_password(client, get_csrf, mail_link("hijacked@example.org", "/reinitialiser/"))
    assert intruder.get("/compte").status_code == 302


def test_reset_link_points_to_the_configured_site(client, create_user, get_csrf, mails_to):
    """A forged Host header does not end up in the e-mailed link."""
    from tests.fixtures.core import csrf_token_from

    create_user(email="host@example.org")
    forged = {"Host": "evil.example"}
    page = client.get("/mot-de-passe-oublie", headers=forged).get_data(as_text=True)
    response = client.post(
        "/mot-de-passe-oublie",
        data={"csrf_token": csrf_token_from(page), "email": "host@example.org"},
        headers=forged,
    )
    assert response.status_code == 200
    [mail] = mails_to("host@example.org")
    assert "evil.example" not in mail_text(mail)
    assert "http://127.0.0.1:5000/reinitialiser/" in mail_text(mail)


def test_reset_rate_limit(app, client, create_user, get_csrf, rate_limits, mails_to):
    create_user(email="flood@example.org")
    app.config["RESET_RATE_LIMIT"] = "2 per minute"
    try:
        for _ in range(2):
            assert ask_reset(client, get_csrf, "flood@example.org")[0].status_code == 200
        response, _ = ask_reset(client, get_csrf, "flood@example.org")
        page = response.get_data(as_text=True)
        assert response.status_code == 429
        assert "Trop de demandes de réinitialisation" in page and "patientez" in page
        assert len(mails_to("flood@example.org")) == 2
    finally:
        app.config["RESET_RATE_LIMIT"] = "3 per minute;10 per hour"
