"""State changes on accounts: check, change, record (no commit, no request)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app

from grants.accounts import tokens
from grants.accounts.models import ApiToken, User, UserRole, hash_token
from grants.accounts.rules import (
    hash_password,
    needs_rehash,
    password_problems,
    spend_verify_time,
    verify_password,
)
from grants.audit.operations import record
from grants.core.db import utcnow
from grants.core.enums import Role
from grants.core.mail import queue_mail
from grants.extensions import db


class AccountError(ValueError):
    """A refused account change; ``str(exc)`` is a French message for the user.

    ``field`` names the form field the message belongs next to, when there is one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def create_user(
    email: str,
    password: str,
    *,
    full_name: str = "",
    roles: Iterable[Role] = (),
    confirmed: bool = False,
    actor: User | None = None,
) -> User:
    """A new account; every account is an applicant (DESIGN §2)."""
    email = normalise_email(email)
    if find_user_by_email(email) is not None:
        raise AccountError("Un compte existe déjà avec cette adresse e-mail.")
    problems = password_problems(password, email)
    if problems:
        raise AccountError(" ".join(problems))
    user = User(
        email=email,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        email_confirmed_at=utcnow() if confirmed else None,
    )
    user.role_rows = [UserRole(role=r) for r in sorted({Role.applicant, *roles})]
    db.session.add(user)
    db.session.flush()
    record(
        actor or user,
        "user.create",
        user,
        summary=f"Création du compte {email}",
        changes={"roles": [None, sorted(r.value for r in user.roles)]},
    )
    return user


def set_roles(user: User, roles: Iterable[Role], actor: User | None) -> bool:
    """Replace the roles of ``user``; applicant is always kept. True when changed."""
    wanted = {Role.applicant, *roles}
    before = user.roles
    if wanted == before:
        return False
    if actor is not None and actor.id == user.id and Role.admin in before - wanted:
        raise AccountError(
            "Vous ne pouvez pas retirer votre propre rôle d'administrateur.", "roles"
        )
    user.role_rows = [row for row in user.role_rows if row.role in wanted]
    for role in sorted(wanted - before):
        user.role_rows.append(UserRole(role=role))
    # New roles take effect at once; removed ones must not survive in an open session.
    if before - wanted:
        user.rotate_session_token()
    record(
        actor,
        "user.roles",
        user,
        summary=f"Rôles de {user.email} modifiés",
        changes={"roles": [sorted(r.value for r in before), sorted(r.value for r in wanted)]},
    )
    return True


def create_api_token(user: User, name: str, actor: User | None = None) -> tuple[ApiToken, str]:
    """A new personal access token; the clear value is returned once and never stored."""
    clear = ApiToken.generate()
    token = ApiToken(
        user_id=user.id,
        name=name.strip()[:100] or "Jeton",
        token_hash=hash_token(clear),
        prefix=clear[:10],
    )
    db.session.add(token)
    db.session.flush()
    record(actor or user, "api_token.create", token, summary=f"Jeton d'API « {token.name} » créé")
    return token, clear


def revoke_api_token(token: ApiToken, actor: User) -> None:
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    record(actor, "api_token.revoke", token, summary=f"Jeton d'API « {token.name} » révoqué")


def user_for_api_token(token: str) -> User | None:
    """The active user of a non-revoked token, else None; records its last use."""
    if not token:
        return None
    row = db.session.scalar(
        sa.select(ApiToken).where(
            ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None)
        )
    )
    if row is None or not row.user.is_active:
        return None
    row.last_used_at = utcnow()
    return row.user


# Registration and e-mail confirmation --------------------------------------------------


def register(email: str, password: str, full_name: str = "") -> User | None:
    """A new unconfirmed applicant and its confirmation e-mail.

    When the address already has an account nothing is created (None): the address gets an
    e-mail saying so instead, and the caller answers exactly as for a new account, so the
    registration form does not reveal who is registered.
    """
    existing = find_user_by_email(email)
    if existing is not None:
        hash_password(password)  # the same time as a real registration
        queue_mail(
            existing.email,
            "Tentative d'inscription avec votre adresse",
            "accounts/already_registered",
            user=existing,
            login_link=tokens.external_url("accounts.login"),
            reset_link=tokens.external_url("accounts.forgot_password"),
        )
        return None
    user = create_user(email, password, full_name=full_name)
    send_confirmation(user)
    return user


def send_confirmation(user: User) -> None:
    queue_mail(
        user.email,
        "Confirmez votre adresse e-mail",
        "accounts/confirm",
        user=user,
        link=tokens.external_url("accounts.confirm_email", token=tokens.make_confirm_token(user)),
        hours=_hours("CONFIRM_MAX_AGE"),
    )


def resend_confirmation(email: str) -> None:
    """A new confirmation link, only for an existing, active, unconfirmed account."""
    user = find_user_by_email(email)
    if user is not None and user.is_active and not user.is_confirmed:
        send_confirmation(user)


def confirm_email(user: User) -> bool:
    """Mark the address confirmed; False when it already was."""
    if user.is_confirmed:
        return False
    user.email_confirmed_at = utcnow()
    record(user, "user.confirm_email", user, summary=f"Adresse {user.email} confirmée")
    return True


# Login and logout ---------------------------------------------------------------------


def check_credentials(email: str, password: str) -> User | None:
    """The user when the password matches, else None, in the same time either way."""
    user = find_user_by_email(email)
    if user is None:
        spend_verify_time(password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    return user


def record_login(user: User, password: str) -> None:
    user.last_login_at = utcnow()
    if needs_rehash(user.password_hash):
        # Same password, stronger parameters; password_changed_at is left alone.
        user.password_hash = hash_password(password)
    record(user, "user.login", user, summary=f"Connexion de {user.email}")


def logout(user: User) -> None:
    """End every session of ``user``, remember-me cookies included."""
    user.rotate_session_token()
    record(user, "user.logout", user, summary=f"Déconnexion de {user.email}")


# Passwords ----------------------------------------------------------------------------


def _set_password(user: User, password: str) -> None:
    problems = password_problems(password, user.email)
    if problems:
        raise AccountError(" ".join(problems), "password")
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.rotate_session_token()  # every other session and remember-me cookie dies
    queue_mail(
        user.email,
        "Votre mot de passe a été modifié",
        "accounts/password_changed",
        user=user,
        reset_link=tokens.external_url("accounts.forgot_password"),
    )


def request_password_reset(email: str) -> None:
    """A reset link for an existing active account; nothing at all otherwise."""
    user = find_user_by_email(email)
    if user is None or not user.is_active:
        return
    queue_mail(
        user.email,
        "Réinitialisation de votre mot de passe",
        "accounts/reset",
        user=user,
        link=tokens.external_url("accounts.reset_password", token=tokens.make_reset_token(user)),
        minutes=current_app.config["RESET_MAX_AGE"] // 60,
    )


def reset_password(user: User, password: str) -> None:
    """A new password from a reset link; the link proved the address, so it is confirmed."""
    _set_password(user, password)
    if not user.is_confirmed:
        user.email_confirmed_at = utcnow()
    record(user, "user.password_reset", user, summary=f"Mot de passe de {user.email} réinitialisé")


def change_password(user: User, current_password: str, password: str) -> None:
    if not verify_password(user.password_hash, current_password):
        raise AccountError("Le mot de passe actuel est incorrect.", "current_password")
    _set_password(user, password)
    record(user, "user.password_change", user, summary=f"Mot de passe de {user.email} modifié")


# E-mail change ------------------------------------------------------------------------

EMAIL_UNAVAILABLE = "Cette adresse e-mail ne peut pas être utilisée pour votre compte."


def request_email_change(user: User, current_password: str, new_email: str) -> str:
    """Send a link to the new address; nothing changes until it is opened."""
    if not verify_password(user.password_hash, current_password):
        raise AccountError("Le mot de passe actuel est incorrect.", "current_password")
    new_email = normalise_email(new_email)
    if new_email == user.email:
        raise AccountError("C'est déjà l'adresse de votre compte.", "new_email")
    if find_user_by_email(new_email) is not None:
        raise AccountError(EMAIL_UNAVAILABLE, "new_email")
    link = tokens.external_url(
        "accounts.confirm_email_change", token=tokens.make_email_change_token(user, new_email)
    )
    queue_mail(
        new_email,
        "Confirmez votre nouvelle adresse e-mail",
        "accounts/email_change",
        user=user,
        new_email=new_email,
        link=link,
        hours=_hours("CONFIRM_MAX_AGE"),
    )
    queue_mail(
        user.email,
        "Demande de changement d'adresse e-mail",
        "accounts/email_change_notice",
        user=user,
        new_email=new_email,
    )
    record(
        user,
        "user.email_change_request",
        user,
        summary=f"Changement d'adresse demandé pour {user.email}",
        changes={"email": [user.email, new_email]},
    )
    return new_email


def confirm_email_change(user: User, new_email: str) -> None:
    new_email = normalise_email(new_email)
    other = find_user_by_email(new_email)
    if other is not None and other.id != user.id:
        raise AccountError(EMAIL_UNAVAILABLE)
    old = user.email
    user.email = new_email
    user.email_confirmed_at = utcnow()
    record(
        user,
        "user.email_change",
        user,
        summary=f"Adresse e-mail changée : {old} → {new_email}",
        changes={"email": [old, new_email]},
    )


# Administration -----------------------------------------------------------------------


def update_account(user: User, roles: Iterable[Role], disabled: bool, actor: User) -> bool:
    """Roles and enabled state, by an admin. True when something changed."""
    if disabled and actor.id == user.id:
        raise AccountError("Vous ne pouvez pas désactiver votre propre compte.", "is_disabled")
    changed = set_roles(user, roles, actor)
    if disabled != user.is_disabled:
        user.is_disabled = disabled
        if disabled:
            user.rotate_session_token()
        record(
            actor,
            "user.disable" if disabled else "user.enable",
            user,
            summary=f"Compte {user.email} {'désactivé' if disabled else 'réactivé'}",
            changes={"is_disabled": [not disabled, disabled]},
        )
        changed = True
    return changed


def _hours(key: str) -> int:
    return max(1, current_app.config[key] // 3600)
