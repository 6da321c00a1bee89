"""State changes on accounts: check, change, record (no commit, no request)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from grants.accounts.models import ApiToken, User, UserRole, hash_token
from grants.accounts.rules import hash_password, password_problems
from grants.audit.operations import record
from grants.core.db import utcnow
from grants.core.enums import Role
from grants.extensions import db


class AccountError(ValueError):
    """A refused account change; ``str(exc)`` is a French message for the user."""


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
        raise AccountError("Vous ne pouvez pas retirer votre propre rôle d'administrateur.")
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
