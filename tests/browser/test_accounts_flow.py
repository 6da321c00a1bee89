"""Registration → e-mail confirmation → login, in headless Chromium against a live server.

The pages must not trip the Content-Security-Policy, and keyboard focus must be visible.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

import pytest

from tests.fixtures.services import console_errors, csp_violations

pytestmark = pytest.mark.browser

PASSWORD = "une phrase de passe solide"
LINK = re.compile(r"https?://\S+/confirmer/\S+")


def _register(page, base: str, email: str) -> None:
    page.goto(f"{base}/inscription")
    for name in ("full_name", "email", "password", "password_confirm"):
        field_id = page.locator(f"[name={name}]").get_attribute("id")
        assert page.locator(f"label[for='{field_id}']").count() == 1, f"{name} has no label"
    page.fill("[name=full_name]", "Camille Durand")
    page.fill("[name=email]", email)
    page.fill("[name=password]", PASSWORD)
    page.fill("[name=password_confirm]", PASSWORD)
    page.get_by_role("button", name="Créer mon compte").click()
    page.wait_for_load_state()
    assert "/inscription/" in page.url or "boîte mail" in page.content().lower(), page.url


def _confirmation_path(sent_mails, deliver_queued, email: str) -> str:
    deliver_queued()  # what the worker does; tests/integration runs the real one
    mails = [m for m in sent_mails() if email in str(m["To"])]
    assert len(mails) == 1, [str(m["Subject"]) for m in sent_mails()]
    body = mails[0].get_body(preferencelist=("plain",)).get_content()
    match = LINK.search(body)
    assert match, body
    # The link is built on PUBLIC_BASE_URL; open the same path on the live server.
    parts = urlsplit(match.group(0))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _login(page, base: str, email: str) -> None:
    page.goto(f"{base}/connexion")
    page.fill("[name=email]", email)
    page.fill("[name=password]", PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state()


def test_register_confirm_and_log_in(
    live_server, browser_page, browser_console, sent_mails, deliver_queued
):
    from playwright.sync_api import expect

    page = browser_page
    email = f"camille-{uuid.uuid4().hex[:6]}@example.org"

    _register(page, live_server, email)

    # Not confirmed yet: the login is refused.
    _login(page, live_server, email)
    expect(page.locator("header")).not_to_contain_text(email)
    expect(page.locator("main")).to_contain_text("pas encore confirmée")

    page.goto(live_server + _confirmation_path(sent_mails, deliver_queued, email))
    expect(page.locator("main")).to_contain_text("adresse e-mail est confirmée")

    _login(page, live_server, email)
    expect(page.locator("header")).to_contain_text(email)
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()

    assert csp_violations(browser_console) == []
    assert console_errors(browser_console) == []


def test_the_browser_enforces_the_csp_and_the_listener_sees_it(
    live_server, browser_page, browser_console
):
    """An inline script is refused: the CSP header is effective, and the check above
    (no console message about it) would see a violation."""
    page = browser_page
    page.goto(f"{live_server}/")
    page.evaluate(
        """() => {
            const s = document.createElement('script');
            s.textContent = 'window.__inline_ran = true';
            document.body.appendChild(s);
        }"""
    )
    page.wait_for_timeout(200)

    assert page.evaluate("() => window.__inline_ran === true") is False
    assert csp_violations(browser_console), browser_console


@pytest.mark.parametrize("path", ["/", "/connexion", "/inscription", "/page-inconnue"])
def test_public_pages_raise_no_csp_violation(live_server, browser_page, browser_console, path):
    page = browser_page
    page.goto(f"{live_server}{path}")
    page.wait_for_load_state("load")

    # The stylesheet and script are same-origin files, and they did load.
    assert page.evaluate("() => document.styleSheets.length") >= 1
    assert csp_violations(browser_console) == []


def test_keyboard_focus_is_visible(live_server, browser_page):
    page = browser_page
    page.goto(f"{live_server}/")

    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {tag: el.tagName, text: el.textContent.trim(),
                    outline: style.outlineStyle, width: parseFloat(style.outlineWidth),
                    visible: el.getBoundingClientRect().width > 0};
        }"""
    )
    assert focused["tag"] == "A", focused
    assert focused["text"] == "Aller au contenu"  # the skip link comes first
    assert focused["visible"], focused
    assert focused["outline"] != "none" and focused["width"] >= 2, focused

    page.keyboard.press("Enter")  # the skip link moves focus to the main content
    assert page.evaluate("() => document.activeElement.id") == "contenu"


def test_secure_cookies_work_on_http_loopback(
    app, live_server, browser_page, sent_mails, deliver_queued, monkeypatch
):
    """Chromium treats http://127.0.0.1 as a secure context and keeps Secure cookies there:
    the embedded default can run with SESSION_COOKIE_SECURE on."""
    from playwright.sync_api import expect

    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)
    monkeypatch.setitem(app.config, "REMEMBER_COOKIE_SECURE", True)
    page = browser_page
    email = f"secure-{uuid.uuid4().hex[:6]}@example.org"

    _register(page, live_server, email)  # its CSRF token lives in the (Secure) session
    page.goto(live_server + _confirmation_path(sent_mails, deliver_queued, email))
    _login(page, live_server, email)

    expect(page.locator("header")).to_contain_text(email)
    [session_cookie] = [
        c for c in page.context.cookies() if c["name"] == app.config["SESSION_COOKIE_NAME"]
    ]
    assert session_cookie["secure"] is True
    assert session_cookie["httpOnly"] is True
