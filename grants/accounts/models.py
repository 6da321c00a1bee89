"""Users, their roles and their personal API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.core.db import UTCDateTime, enum_type, utcnow
from grants.core.enums import Role
from grants.extensions import db


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: lower-cased; the login
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(200), default="")
    #: argon2id hash (argon2-cffi defaults)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    email_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: changes at logout and password change: every older session cookie stops working
    session_token: Mapped[str] = mapped_column(sa.String(64), default=new_session_token)
    is_disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="email_lowercase"),)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"

    # Flask-Login: the id carries the session token, so rotating it logs out everywhere.
    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return not self.is_disabled

    @property
    def is_confirmed(self) -> bool:
        return self.email_confirmed_at is not None

    @property
    def display_name(self) -> str:
        return self.full_name or self.email

    @property
    def roles(self) -> set[Role]:
        return {row.role for row in self.role_rows}

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    def has_any_role(self, *roles: Role) -> bool:
        mine = self.roles
        # admin can do everything staff can (DESIGN §2)
        if Role.admin in mine:
            mine = mine | {Role.staff}
        return bool(mine.intersection(roles))

    @property
    def is_staff(self) -> bool:
        return self.has_any_role(Role.staff)

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.admin)

    def rotate_session_token(self) -> None:
        self.session_token = new_session_token()


class UserRole(db.Model):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(enum_type(Role, "role"), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="role_rows")


TOKEN_PREFIX = "grt_"  # noqa: S105 (a prefix, not a secret)


def hash_token(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, no salt needed.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(db.Model):
    """A personal access token for the JSON API; only its hash is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    #: the first characters, to recognise a token in the list
    prefix: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @staticmethod
    def generate() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)
