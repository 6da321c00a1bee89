"""Organisations (structures porteuses), their members and the invitations to join."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import User
from grants.core.db import UTCDateTime, enum_type, utcnow
from grants.core.models import Commune
from grants.extensions import db


class LegalForm(enum.StrEnum):
    association = "association"
    scop = "scop"
    scic = "scic"
    cooperative = "cooperative"
    mutual = "mutual"
    foundation = "foundation"
    esus_company = "esus_company"
    other = "other"

    @property
    def label(self) -> str:
        return LEGAL_FORM_LABELS[self]


LEGAL_FORM_LABELS = {
    LegalForm.association: "Association",
    LegalForm.scop: "SCOP (société coopérative et participative)",
    LegalForm.scic: "SCIC (société coopérative d'intérêt collectif)",
    LegalForm.cooperative: "Autre coopérative",
    LegalForm.mutual: "Mutuelle",
    LegalForm.foundation: "Fondation",
    LegalForm.esus_company: "Société commerciale agréée ESUS",
    LegalForm.other: "Autre",
}


class Organisation(db.Model):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    legal_form: Mapped[LegalForm] = mapped_column(enum_type(LegalForm, "legal_form"))
    #: 14 digits, Luhn-valid (python-stdnum)
    siret: Mapped[str] = mapped_column(sa.String(14), unique=True)
    #: ``W`` + 9 digits, for associations
    rna: Mapped[str | None] = mapped_column(sa.String(10))
    address: Mapped[str] = mapped_column(sa.String(300), default="")
    postal_code: Mapped[str] = mapped_column(sa.String(5), default="")
    city: Mapped[str] = mapped_column(sa.String(120), default="")
    #: null means outside the metropolis
    commune_insee: Mapped[str | None] = mapped_column(sa.ForeignKey("commune.insee"))
    #: located in a priority neighbourhood (quartier prioritaire de la ville)
    in_qpv: Mapped[bool] = mapped_column(default=False)
    esus_approved: Mapped[bool] = mapped_column(default=False)
    #: subject to the de minimis state-aid rules
    has_economic_activity: Mapped[bool] = mapped_column(default=False)
    employees: Mapped[int] = mapped_column(default=0)
    #: full-time equivalents
    fte: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2), default=Decimal("0"))
    volunteers: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    commune: Mapped[Commune | None] = relationship()
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("length(siret) = 14", name="siret_length"),
        sa.CheckConstraint(
            "rna IS NULL OR (length(rna) = 10 AND substr(rna, 1, 1) = 'W')", name="rna_format"
        ),
        sa.CheckConstraint(
            "legal_form != 'association' OR rna IS NOT NULL", name="association_has_rna"
        ),
        sa.CheckConstraint(
            "employees >= 0 AND volunteers >= 0 AND fte >= 0", name="headcounts_positive"
        ),
    )

    @property
    def siren(self) -> str:
        return self.siret[:9]

    @property
    def in_metropolis(self) -> bool:
        return self.commune_insee is not None

    def is_member(self, user) -> bool:
        if not (user and user.is_authenticated):
            return False
        return any(m.user_id == user.id for m in self.memberships)

    def can_view(self, user) -> bool:
        return self.is_member(user) or bool(user and user.is_authenticated and user.is_staff)

    def can_edit(self, user) -> bool:
        return self.is_member(user)

    def can_invite(self, user) -> bool:
        return self.is_member(user)


class Membership(db.Model):
    __tablename__ = "membership"

    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship()


class Invitation(db.Model):
    """An e-mailed invitation to join an organisation; its token is stored hashed."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(sa.String(254))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    invited_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    def is_pending(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at
