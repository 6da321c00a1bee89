"""The admin page of users and roles."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.fixtures.accounts import DEFAULT_PASSWORD


def roles_of(app, user_id):
    from grants.accounts.models import User
    from grants.extensions import db

    with app.app_context():
        user = db.session.get(User, user_id)
        result = sorted(r.value for r in user.roles), user.is_disabled
        db.session.remove()
    return result


def post_account(client, get_csrf, user_id, roles=(), disabled=False):
    url = f"/admin/utilisateurs/{user_id}"
    data = {"csrf_token": get_csrf(client, url), "roles": list(roles)}
    if disabled:
        data["is_disabled"] = "y"
    return client.post(url, data=data)


@pytest.mark.parametrize("roles", [(), ("reviewer",), ("staff",)])
def test_non_admins_get_403(app, client, create_user, get_csrf, login, roles):
    target = create_user(email="target@example.org")
    me = create_user(email="notadmin@example.org", roles=roles)
    login(client, "notadmin@example.org")
    assert client.get("/admin/utilisateurs").status_code == 403
    assert client.get(f"/admin/utilisateurs/{target}").status_code == 403
    token = get_csrf(client, "/compte")  # a valid token: the refusal is about the role
    for user_id in (target, me):
        response = client.post(
            f"/admin/utilisateurs/{user_id}", data={"csrf_token": token, "roles": ["admin"]}
        )
        assert response.status_code == 403
    assert roles_of(app, target) == (["applicant"], False)
    assert "admin" not in roles_of(app, me)[0]


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/utilisateurs")
    assert response.status_code == 302 and response.headers["Location"].startswith("/connexion")


def listed(client, url) -> set[str]:
    """The e-mails in the table of the users page."""
    page = client.get(url).get_data(as_text=True)
    return set(re.findall(r'<a href="/admin/utilisateurs/\d+">([^<]+)</a>', page))


def test_admin_lists_and_filters(client, create_user, login):
    create_user(email="admin@example.org", roles=["admin"])
    create_user(email="alice@asso.example", full_name="Alice Durand", roles=["reviewer"])
    create_user(email="bob@coop.example", full_name="Bob Leroy", roles=["staff"])
    login(client, "admin@example.org")

    everyone = {"admin@example.org", "alice@asso.example", "bob@coop.example"}
    assert listed(client, "/admin/utilisateurs") == everyone
    assert listed(client, "/admin/utilisateurs?q=coop") == {"bob@coop.example"}
    assert listed(client, "/admin/utilisateurs?q=durand") == {"alice@asso.example"}  # by name
    assert listed(client, "/admin/utilisateurs?role=reviewer") == {"alice@asso.example"}
    assert listed(client, "/admin/utilisateurs?role=staff") == {"bob@coop.example"}
    assert listed(client, "/admin/utilisateurs?role=applicant") == everyone
    assert listed(client, "/admin/utilisateurs?q=%25") == set()  # "%" is literal
    assert listed(client, "/admin/utilisateurs?role=nonsense") == everyone


def test_admin_paginates(client, create_user, login):
    from grants.accounts.queries import USERS_PER_PAGE

    create_user(email="admin@example.org", roles=["admin"])
    for i in range(USERS_PER_PAGE + 2):
        create_user(email=f"u{i:03d}@example.org")
    login(client, "admin@example.org")
    first = client.get("/admin/utilisateurs").get_data(as_text=True)
    assert "Page 1 sur 2" in first and "Page suivante" in first
    second = client.get("/admin/utilisateurs?page=2").get_data(as_text=True)
    assert "u026@example.org" in second and "u000@example.org" not in second


def test_admin_grants_staff_and_it_is_audited(app, client, create_user, get_csrf, login):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    admin_id = create_user(email="admin@example.org", roles=["admin"])
    target = create_user(email="agent@example.org")
    login(client, "admin@example.org")
    page = client.get(f"/admin/utilisateurs/{target}").get_data(as_text=True)
    assert 'name="roles"' in page and 'value="staff"' in page

    response = post_account(client, get_csrf, target, roles=["staff"])
    assert response.status_code == 302
    assert roles_of(app, target) == (["applicant", "staff"], False)

    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.roles"))
        assert entry.actor_id == admin_id and entry.object_id == str(target)
        assert entry.changes == {"roles": [["applicant"], ["applicant", "staff"]]}
        db.session.remove()

    # The new agent sees staff pages' links; the admin page stays closed to them.
    agent = app.test_client()
    token = get_csrf(agent, "/connexion")
    agent.post(
        "/connexion",
        data={"csrf_token": token, "email": "agent@example.org", "password": DEFAULT_PASSWORD},
    )
    assert agent.get("/admin/utilisateurs").status_code == 403


def test_removing_a_role_ends_that_users_sessions(app, client, create_user, get_csrf, login):
    create_user(email="admin@example.org", roles=["admin"])
    target = create_user(email="former@example.org", roles=["staff"])
    former = app.test_client()
    login(former, "former@example.org")
    login(client, "admin@example.org")
    post_account(client, get_csrf, target, roles=[])
    assert roles_of(app, target) == (["applicant"], False)
    assert former.get("/compte").status_code == 302


def test_admin_cannot_remove_own_admin_role(app, client, create_user, get_csrf, login):
    admin_id = create_user(email="admin@example.org", roles=["admin"])
    login(client, "admin@example.org")
    response = post_account(client, get_csrf, admin_id, roles=["staff"])
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "propre rôle d&#39;administrateur" in page
    assert roles_of(app, admin_id) == (["admin", "applicant"], False)


def test_admin_disables_and_enables_an_account(app, client, create_user, get_csrf, login):
    create_user(email="admin@example.org", roles=["admin"])
    target = create_user(email="gone@example.org")
    victim = app.test_client()
    login(victim, "gone@example.org")

    login(client, "admin@example.org")
    post_account(client, get_csrf, target, disabled=True)
    assert roles_of(app, target) == (["applicant"], True)
    assert victim.get("/compte").status_code == 302
    token = get_csrf(victim, "/connexion")
    response = victim.post(
        "/connexion",
        data={"csrf_token": token, "email": "gone@example.org", "password": DEFAULT_PASSWORD},
    )
    assert response.status_code == 200 and "désactivé" in response.get_data(as_text=True)

    post_account(client, get_csrf, target, disabled=False)
    assert roles_of(app, target) == (["applicant"], False)


def test_admin_cannot_disable_self(app, client, create_user, get_csrf, login):
    admin_id = create_user(email="admin@example.org", roles=["admin"])
    login(client, "admin@example.org")
    response = post_account(client, get_csrf, admin_id, roles=["admin"], disabled=True)
    assert response.status_code == 200
    assert "désactiver votre propre compte" in response.get_data(as_text=True)
    assert roles_of(app, admin_id) == (["admin", "applicant"], False)


def test_unknown_role_value_is_refused(app, client, create_user, get_csrf, login):
    create_user(email="admin@example.org", roles=["admin"])
    target = create_user(email="t@example.org")
    login(client, "admin@example.org")
    response = post_account(client, get_csrf, target, roles=["superuser"])
    assert response.status_code == 200
    assert roles_of(app, target) == (["applicant"], False)


def test_missing_user_is_404(client, create_user, login):
    create_user(email="admin@example.org", roles=["admin"])
    login(client, "admin@example.org")
    assert client.get("/admin/utilisateurs/999999").status_code == 404
