"""Read-side helpers for accounts."""

from __future__ import annotations

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from grants.accounts.models import ApiToken, User, UserRole
from grants.core.enums import Role
from grants.extensions import db

USERS_PER_PAGE = 25


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def users_page(text: str = "", role: Role | None = None, page: int = 1) -> Pagination:
    """Users whose e-mail or name contains ``text``, holding ``role``; roles preloaded."""
    stmt = sa.select(User).order_by(User.email)
    text = text.strip().lower()
    if text:
        pattern = f"%{_like_escape(text)}%"
        stmt = stmt.where(
            sa.or_(
                User.email.like(pattern, escape="\\"),
                sa.func.lower(User.full_name).like(pattern, escape="\\"),
            )
        )
    if role is not None:
        stmt = stmt.where(sa.exists().where(UserRole.user_id == User.id, UserRole.role == role))
    return db.paginate(stmt, page=page, per_page=USERS_PER_PAGE, error_out=False, count=True)


def api_tokens_of(user: User) -> list[ApiToken]:
    """The user's tokens, active ones first, newest first."""
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id)
        )
    )
