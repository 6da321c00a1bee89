"""Export jobs run by the worker: progress, then a file to download."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from grants.accounts.models import User
from grants.core.db import UTCDateTime, enum_type, utcnow
from grants.extensions import db


class ExportKind(enum.StrEnum):
    applications = "applications"
    scores = "scores"
    decisions = "decisions"
    schedules = "schedules"
    payments = "payments"
    #: the open-data SCDL "subventions" CSV of a year
    scdl = "scdl"


class ExportFormat(enum.StrEnum):
    xlsx = "xlsx"
    csv = "csv"


class ExportStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class ExportJob(db.Model):
    __tablename__ = "export_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ExportKind] = mapped_column(enum_type(ExportKind, "export_kind"))
    format: Mapped[ExportFormat] = mapped_column(enum_type(ExportFormat, "export_format"))
    #: filters, e.g. ``{"call_id": 3}`` or ``{"year": 2016}``
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[ExportStatus] = mapped_column(
        enum_type(ExportStatus, "export_status"), default=ExportStatus.queued, index=True
    )
    progress: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    file_key: Mapped[str | None] = mapped_column(sa.String(200))
    filename: Mapped[str | None] = mapped_column(sa.String(200))
    error: Mapped[str | None] = mapped_column(sa.Text)
    requested_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    requested_by: Mapped[User | None] = relationship()

    __table_args__ = (
        sa.CheckConstraint("(status = 'done') = (file_key IS NOT NULL)", name="file_iff_done"),
    )
