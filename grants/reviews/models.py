"""Reviews: the reviewers' pool of a call, their declared links, assignments and scores."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import User
from grants.applications.models import Application
from grants.calls.models import Call, Criterion
from grants.core.db import UTCDateTime, enum_type, utcnow
from grants.extensions import db
from grants.organisations.models import Organisation


class LinkKind(enum.StrEnum):
    board_member = "board_member"
    employee = "employee"
    volunteer = "volunteer"
    partner = "partner"
    family = "family"
    other = "other"

    @property
    def label(self) -> str:
        return LINK_KIND_LABELS[self]


LINK_KIND_LABELS = {
    LinkKind.board_member: "Membre du conseil d'administration ou du bureau",
    LinkKind.employee: "Salarié ou ancien salarié",
    LinkKind.volunteer: "Bénévole",
    LinkKind.partner: "Partenaire (contrat, financement, projet commun)",
    LinkKind.family: "Lien familial avec un dirigeant",
    LinkKind.other: "Autre lien",
}


class ReviewerLink(db.Model):
    """A link a reviewer declares with an organisation (a registered one, or by name —
    e.g. a co-funder that is not a user of the application)."""

    __tablename__ = "reviewer_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    #: for an organisation that is not registered (a co-funder, a network…)
    organisation_name: Mapped[str] = mapped_column(sa.String(200), default="")
    kind: Mapped[LinkKind] = mapped_column(enum_type(LinkKind, "link_kind"))
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reviewer: Mapped[User] = relationship()
    organisation: Mapped[Organisation | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint(
            "organisation_id IS NOT NULL OR organisation_name != ''", name="names_something"
        ),
    )


class CallReviewer(db.Model):
    """The pool of reviewers of a call (automatic assignment draws from it)."""

    __tablename__ = "call_reviewer"

    call_id: Mapped[int] = mapped_column(
        sa.ForeignKey("call.id", ondelete="CASCADE"), primary_key=True
    )
    reviewer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    call: Mapped[Call] = relationship()
    reviewer: Mapped[User] = relationship()


class ReviewStatus(enum.StrEnum):
    assigned = "assigned"
    in_progress = "in_progress"
    submitted = "submitted"

    @property
    def label(self) -> str:
        return {"assigned": "À faire", "in_progress": "En cours", "submitted": "Rendu"}[self.value]


#: allowed transitions; submitted → in_progress is staff reopening with a reason
REVIEW_TRANSITIONS: dict[ReviewStatus, set[ReviewStatus]] = {
    ReviewStatus.assigned: {ReviewStatus.in_progress, ReviewStatus.submitted},
    ReviewStatus.in_progress: {ReviewStatus.submitted},
    ReviewStatus.submitted: {ReviewStatus.in_progress},
}


class Opinion(enum.StrEnum):
    favourable = "favourable"
    reserved = "reserved"
    unfavourable = "unfavourable"

    @property
    def label(self) -> str:
        return {"favourable": "Favorable", "reserved": "Réservé", "unfavourable": "Défavorable"}[
            self.value
        ]


class Review(db.Model):
    """One reviewer's assignment on one application, and their evaluation."""

    __tablename__ = "review"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    status: Mapped[ReviewStatus] = mapped_column(
        enum_type(ReviewStatus, "review_status"), default=ReviewStatus.assigned, index=True
    )
    due_on: Mapped[date | None]
    assigned_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opinion: Mapped[Opinion | None] = mapped_column(enum_type(Opinion, "opinion"))
    summary: Mapped[str] = mapped_column(sa.Text, default="")
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the last reopening by staff (the reason is in the audit log too)
    reopened_reason: Mapped[str | None] = mapped_column(sa.Text)

    application: Mapped[Application] = relationship()
    reviewer: Mapped[User] = relationship(foreign_keys=[reviewer_id])
    scores: Mapped[list[ReviewScore]] = relationship(
        back_populates="review", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.UniqueConstraint("application_id", "reviewer_id"),
        sa.CheckConstraint(
            "(status = 'submitted') = (submitted_at IS NOT NULL)", name="submitted_at_iff_submitted"
        ),
        sa.CheckConstraint(
            "status != 'submitted' OR opinion IS NOT NULL", name="submitted_has_opinion"
        ),
    )

    def is_reviewer(self, user) -> bool:
        return bool(user and user.is_authenticated and user.id == self.reviewer_id)

    def can_edit(self, user) -> bool:
        return self.is_reviewer(user) and self.status != ReviewStatus.submitted


class ReviewScore(db.Model):
    __tablename__ = "review_score"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(sa.ForeignKey("review.id", ondelete="CASCADE"))
    criterion_id: Mapped[int] = mapped_column(sa.ForeignKey("criterion.id", ondelete="CASCADE"))
    score: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text, default="")

    review: Mapped[Review] = relationship(back_populates="scores")
    criterion: Mapped[Criterion] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("review_id", "criterion_id"),
        sa.CheckConstraint("score >= 0", name="score_positive"),
    )


class ConflictDeclaration(db.Model):
    """A reviewer declared a conflict on a file: they are unassigned and never reassigned."""

    __tablename__ = "conflict_declaration"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("application.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(
        sa.ForeignKey("user.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("application_id", "reviewer_id"),)
