"""Enums shared across features."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    applicant = "applicant"
    reviewer = "reviewer"
    staff = "staff"
    admin = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.applicant: "Porteur de projet",
    Role.reviewer: "Évaluateur",
    Role.staff: "Agent du service ESS",
    Role.admin: "Administrateur",
}
