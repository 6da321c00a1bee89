"""Login, logout, remember-me, sessions, CSRF and the login rate limit."""

from __future__ import annotations

import sqlalchemy as sa

from tests.fixtures.accounts import DEFAULT_PASSWORD

SESSION_COOKIE = "grants_session"
REMEMBER_COOKIE = "grants_remember"


def post_login(client, get_csrf, email, password=DEFAULT_PASSWORD, url="/connexion", **extra):
    token = get_csrf(client, url)
    data = {"csrf_token": token, "email": email, "password": password, **extra}
    return client.post(url, data=data), token


def copy_cookie(source, target, name):
    cookie = source.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    target.set_cookie(name, cookie.value)


def test_same_answer_for_unknown_email_and_wrong_password(client, create_user, get_csrf):
    create_user(email="someone@example.org")
    wrong, token1 = post_login(client, get_csrf, "someone@example.org", "not the right password")
    unknown, token2 = post_login(client, get_csrf, "nobody@example.org", "not the right password")
    assert wrong.status_code == unknown.status_code == 200
    wrong_page = wrong.get_data(as_text=True).replace(token1, "T")
    unknown_page = unknown.get_data(as_text=True).replace(token2, "T")
    assert "Adresse e-mail ou mot de passe incorrect." in wrong_page
    assert wrong_page.replace("someone@", "X@") == unknown_page.replace("nobody@", "X@")
    assert client.get("/compte").status_code == 302


def test_unknown_email_spends_the_argon2_time(app, monkeypatch):
    """No shortcut for an unknown address: a verification runs against a dummy hash."""
    from grants.accounts import operations, rules

    calls = []
    real = rules.verify_password
    monkeypatch.setattr(rules, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    with app.app_context():
        assert operations.check_credentials("ghost@example.org", "whatever password") is None
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


def test_login_success_records_and_redirects(app, client, create_user, get_csrf):
    from grants.accounts.models import User
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    user_id = create_user(email="ok@example.org")
    response, _ = post_login(client, get_csrf, "OK@example.org ")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Bienvenue" in client.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, user_id).last_login_at is not None
        actions = db.session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.actor_id == user_id)
        ).all()
        db.session.remove()
    assert "user.login" in actions


def test_next_is_followed_only_on_this_site(client, create_user, get_csrf):
    create_user(email="next@example.org")
    response = client.get("/compte")
    assert response.status_code == 302 and "/connexion?next=" in response.headers["Location"]
    cases = {
        "/connexion?next=/compte": "/compte",
        "/connexion?next=//evil.example/x": "/",
        "/connexion?next=https://evil.example/": "/",
        "/connexion?next=/\\evil.example": "/",
    }
    for url, expected in cases.items():
        with client.session_transaction() as sess:
            sess.clear()
        response, _ = post_login(client, get_csrf, "next@example.org", url=url)
        assert response.status_code == 302
        assert response.headers["Location"] == expected, url


def test_a_new_session_at_login(client, create_user, get_csrf):
    create_user(email="fixation@example.org")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    post_login(client, get_csrf, "fixation@example.org")
    with client.session_transaction() as sess:
        assert "planted" not in sess


def test_disabled_account_is_refused(app, client, create_user, get_csrf):
    from grants.accounts.models import User
    from grants.extensions import db

    user_id = create_user(email="off@example.org")
    with app.app_context():
        db.session.get(User, user_id).is_disabled = True
        db.session.commit()
        db.session.remove()
    response, _ = post_login(client, get_csrf, "off@example.org")
    assert response.status_code == 200
    assert "désactivé" in response.get_data(as_text=True)
    assert client.get("/compte").status_code == 302


def test_logout_kills_the_copied_session_cookie(app, client, create_user, login):
    create_user(email="leave@example.org")
    login(client, "leave@example.org")
    thief = app.test_client()
    copy_cookie(client, thief, SESSION_COOKIE)
    assert thief.get("/compte").status_code == 200  # the copy works while logged in

    response = client.post("/deconnexion", data={"csrf_token": _csrf_of(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Vous êtes déconnecté." in client.get("/").get_data(as_text=True)

    assert client.get("/compte").status_code == 302
    response = thief.get("/compte")
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_remember_me_works_and_dies_at_logout(app, client, create_user, login):
    create_user(email="remember@example.org")
    response = login(client, "remember@example.org", remember=True)
    set_cookie = " ".join(response.headers.getlist("Set-Cookie"))
    assert f"{REMEMBER_COOKIE}=" in set_cookie and "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie

    # The remember-me cookie alone opens a new session (browser restarted).
    restarted = app.test_client()
    copy_cookie(client, restarted, REMEMBER_COOKIE)
    assert restarted.get("/compte").status_code == 200

    stolen = app.test_client()
    copy_cookie(client, stolen, REMEMBER_COOKIE)
    client.post("/deconnexion", data={"csrf_token": _csrf_of(client)})
    assert stolen.get("/compte").status_code == 302
    assert restarted.get("/compte").status_code == 302  # its session died too


def test_without_remember_there_is_no_remember_cookie(client, create_user, login):
    create_user(email="forget@example.org")
    response = login(client, "forget@example.org")
    assert REMEMBER_COOKIE not in " ".join(response.headers.getlist("Set-Cookie"))


def test_logout_needs_post_and_csrf(client, create_user, login):
    create_user(email="csrf@example.org")
    login(client, "csrf@example.org")
    assert client.get("/deconnexion").status_code == 405
    response = client.post("/deconnexion")
    assert response.status_code == 400
    assert "Formulaire expiré" in response.get_data(as_text=True)
    assert client.get("/compte").status_code == 200  # still logged in


def test_login_form_without_csrf_is_refused(app, client, create_user):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    create_user(email="nocsrf@example.org")
    response = client.post(
        "/connexion", data={"email": "nocsrf@example.org", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 400
    assert "Formulaire expiré" in response.get_data(as_text=True)
    assert client.get("/compte").status_code == 302


def test_login_rate_limit_by_ip(app, client, create_user, get_csrf, rate_limits):
    create_user(email="target@example.org")
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        for _ in range(3):
            response, _ = post_login(client, get_csrf, "target@example.org", "wrong password!")
            assert response.status_code == 200
        # Even the right password is refused now: the limit is per attempt, not per failure.
        response, _ = post_login(client, get_csrf, "target@example.org")
        page = response.get_data(as_text=True)
        assert response.status_code == 429
        assert "Trop de tentatives de connexion" in page
        assert "patientez une minute" in page
        assert int(response.headers["Retry-After"]) <= 60
        assert 'name="email"' in page and 'value="target@example.org"' in page
        assert client.get("/compte").status_code == 302
        # GET is not limited: the page still shows.
        assert client.get("/connexion").status_code == 200
        # Another address from the same IP is limited too.
        response, _ = post_login(client, get_csrf, "other@example.org", "wrong password!")
        assert response.status_code == 429
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "5 per minute;30 per hour"


def test_login_rate_limit_by_email_across_ips(app, create_user, get_csrf, rate_limits):
    create_user(email="spread@example.org")
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    try:
        statuses = []
        for i in range(4):
            attacker = app.test_client()
            attacker.environ_base["REMOTE_ADDR"] = f"203.0.113.{i + 1}"
            response, _ = post_login(attacker, get_csrf, "spread@example.org", "wrong password!")
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 429]
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "5 per minute;30 per hour"


def test_rate_limit_is_off_without_the_fixture(client, create_user, get_csrf):
    """The test app runs with limits off; the limit test above switches them on."""
    create_user(email="many@example.org")
    for _ in range(8):
        response, _ = post_login(client, get_csrf, "many@example.org", "wrong password!")
        assert response.status_code == 200


def _csrf_of(client) -> str:
    from tests.fixtures.core import csrf_token_from

    return csrf_token_from(client.get("/compte").get_data(as_text=True))
