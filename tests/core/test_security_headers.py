"""Security headers, cookies and the no-inline rule that lets the CSP hold (DESIGN §9)."""

from __future__ import annotations

import re

import pytest

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def _directives(csp: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in csp.split(";") if part.strip())
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


def test_pages_carry_the_security_headers(client):
    response = client.get("/")

    assert response.status_code == 200
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in " ".join(csp.values())
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_error_pages_carry_the_security_headers_too(client):
    response = client.get("/cette-page-n-existe-pas")

    assert response.status_code == 404
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("url", ["/", "/connexion", "/inscription", "/page-inconnue"])
def test_public_pages_have_no_inline_script_or_style(client, url):
    html = client.get(url).get_data(as_text=True)

    assert not INLINE_SCRIPT.findall(html)
    assert not INLINE_STYLE.findall(html)
    assert not INLINE_HANDLER.findall(html)


def test_signed_in_pages_have_no_inline_script_or_style(client, create_user, login):
    create_user(email="ines@example.org")
    login(client, "ines@example.org")
    for url in ("/", "/compte"):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        assert not INLINE_SCRIPT.findall(html), url
        assert not INLINE_STYLE.findall(html), url
        assert not INLINE_HANDLER.findall(html), url


def test_signed_in_pages_are_not_cached(client, create_user, login):
    create_user(email="cache@example.org")
    login(client, "cache@example.org")

    response = client.get("/")

    assert response.status_code == 200
    assert "cache@example.org" in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"


def _set_cookie(response, name: str) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert cookies, response.headers.getlist("Set-Cookie")
    return cookies[-1]


def test_session_cookie_is_httponly_samesite_and_secure_when_configured(
    app, client, create_user, login, monkeypatch
):
    # The test app runs over plain http; production keeps the default (Secure on).
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    create_user(email="cookie@example.org")

    response = login(client, "cookie@example.org")

    cookie = _set_cookie(response, app.config["SESSION_COOKIE_NAME"])
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" in flags


def test_secure_cookies_are_the_default_configuration(monkeypatch, tmp_path):
    from grants.config import build_config

    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    monkeypatch.setenv("GRANTS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("SECRET_KEY", "x")
    config = build_config()

    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["REMEMBER_COOKIE_SECURE"] is True
    assert config["MAX_CONTENT_LENGTH"] > 0
