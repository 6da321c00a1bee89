"""``grants users create|token``."""

from __future__ import annotations

import sqlalchemy as sa

GOOD_PASSWORD = "une phrase de passe pour l'agent"


def user_state(app, email):
    from grants.accounts.models import User
    from grants.extensions import db

    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        state = (
            None
            if user is None
            else (sorted(r.value for r in user.roles), user.is_confirmed, user.full_name)
        )
        db.session.remove()
    return state


def test_create_with_password_on_stdin(app, get_csrf):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Agent@Example.org",
            "--role",
            "staff",
            "--role",
            "admin",
            "--name",
            "Agent Public",
            "--password-stdin",
        ],
        input=GOOD_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "créé" in result.output
    assert user_state(app, "agent@example.org") == (
        ["admin", "applicant", "staff"],
        True,
        "Agent Public",
    )
    # Confirmed and usable at once.
    client = app.test_client()
    token = get_csrf(client, "/connexion")
    response = client.post(
        "/connexion",
        data={"csrf_token": token, "email": "agent@example.org", "password": GOOD_PASSWORD},
    )
    assert response.status_code == 302


def test_create_prompts_twice_with_hidden_input(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "--email", "prompted@example.org", "--role", "reviewer"],
        input=f"{GOOD_PASSWORD}\n{GOOD_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert GOOD_PASSWORD not in result.output  # hidden input is not echoed
    assert "Confirmez le mot de passe" in result.output
    assert user_state(app, "prompted@example.org")[0] == ["applicant", "reviewer"]


def test_create_refuses_a_weak_password(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "--email", "weak@example.org", "--password-stdin"],
        input="court\n",
    )
    assert result.exit_code == 2
    assert "au moins 12 caractères" in result.output
    assert user_state(app, "weak@example.org") is None


def test_create_refuses_a_bad_email(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "--email", "not-an-email", "--password-stdin"],
        input=GOOD_PASSWORD + "\n",
    )
    assert result.exit_code == 2 and "adresse e-mail invalide" in result.output


def test_create_on_existing_user_adds_roles(app, create_user):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    create_user(email="exists@example.org", roles=["reviewer"])
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "--email", "exists@example.org", "--role", "staff"]
    )
    assert result.exit_code == 0, result.output
    assert "existe déjà" in result.output and "rôles ajoutés" in result.output
    assert user_state(app, "exists@example.org")[0] == ["applicant", "reviewer", "staff"]
    with app.app_context():
        assert db.session.scalar(
            sa.select(AuditEntry.action).where(AuditEntry.action == "user.roles")
        )
        db.session.remove()

    result = runner.invoke(
        args=["users", "create", "--email", "exists@example.org", "--role", "staff"]
    )
    assert result.exit_code == 0 and "rien à faire" in result.output


def test_unknown_role_is_a_usage_error(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create", "--email", "x@example.org", "--role", "king", "--password-stdin"],
        input=GOOD_PASSWORD + "\n",
    )
    assert result.exit_code == 2
    assert user_state(app, "x@example.org") is None


def test_token_prints_only_a_working_token(app, create_user):
    create_user(email="api@example.org")
    runner = app.test_cli_runner()  # click 8.2+: result.stdout has stdout only
    result = runner.invoke(args=["users", "token", "api@example.org", "--name", "CI"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("grt_") and "\n" not in token

    response = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.get_json()["email"] == "api@example.org"


def test_token_for_unknown_user_fails(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "token", "nobody@example.org"])
    assert result.exit_code == 1
    assert "aucun compte" in result.output
    assert "grt_" not in result.stdout
