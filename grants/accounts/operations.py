"""State changes on accounts (no commit, no request)."""

from __future__ import annotations

import sqlalchemy as sa

from grants.accounts.models import ApiToken, hash_token
from grants.core.db import utcnow
from grants.extensions import db


def user_for_api_token(token: str):
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
