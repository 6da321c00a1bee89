"""Read helpers of the annual reports: loading with what the pages need, who may see and
change a report, the lists (beneficiary, staff, API) with their filters.

Access rule, the same on the pages and in the API: a report is visible to the members of
the organisation whose award it is, and to staff; anybody else gets a 404 (its existence
is not confirmed) — reviewers included. Members change it while it is due or returned;
staff accept it or send it back once it is handed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from grants.accounts.models import User, UserRole
from grants.applications.models import Application, BudgetLine
from grants.audit.queries import register_action_labels, register_labels, register_object_page
from grants.calls.models import Call
from grants.core.db import utcnow
from grants.core.enums import Role
from grants.core.formatting import PARIS
from grants.extensions import db
from grants.funding.models import Award
from grants.organisations.models import Membership, Organisation
from grants.payments.models import AnnualReport, ReportStatus
from grants.reports import rules

PER_PAGE = 50
#: the states in which a report is still owed (late once its due date has passed)
OWED = (ReportStatus.due, ReportStatus.returned)


def today_paris() -> date:
    return utcnow().astimezone(PARIS).date()


def _options():
    return (
        joinedload(AnnualReport.award).joinedload(Award.call),
        joinedload(AnnualReport.award)
        .joinedload(Award.application)
        .joinedload(Application.organisation)
        .selectinload(Organisation.memberships),
    )


def get_report(report_id: int) -> AnnualReport | None:
    """The report with its award, call, application and organisation's members."""
    return db.session.scalar(
        sa.select(AnnualReport).where(AnnualReport.id == report_id).options(*_options())
    )


# --- rights ---------------------------------------------------------------------------------


def is_member(report: AnnualReport, user) -> bool:
    return report.award.application.organisation.is_member(user)


def can_view(report: AnnualReport, user) -> bool:
    if not (user and user.is_authenticated):
        return False
    return user.is_staff or is_member(report, user)


def can_edit(report: AnnualReport, user) -> bool:
    return rules.is_editable(report.status) and is_member(report, user)


def can_review(report: AnnualReport, user) -> bool:
    return bool(user and user.is_authenticated and user.is_staff) and (
        report.status == ReportStatus.submitted
    )


def visible_report(report_id: int, user) -> AnnualReport | None:
    """The report if ``user`` may see it, else None (answer 404)."""
    report = get_report(report_id)
    if report is None or not can_view(report, user):
        return None
    return report


def is_late(report: AnnualReport, today: date | None = None) -> bool:
    return rules.is_late(report.status, report.due_on, today or today_paris())


def late_condition(today: date | None = None):
    """SQL: the report is late (owed and past its due date)."""
    return sa.and_(AnnualReport.status.in_(OWED), AnnualReport.due_on < (today or today_paris()))


# --- content --------------------------------------------------------------------------------


def budget_lines(application_id: int, year: int) -> list[BudgetLine]:
    return list(
        db.session.scalars(
            sa.select(BudgetLine)
            .where(BudgetLine.application_id == application_id, BudgetLine.year == year)
            .order_by(BudgetLine.account, BudgetLine.position, BudgetLine.id)
        )
    )


def lines_of(report: AnnualReport) -> list[rules.FinancialLine]:
    """The report's financial lines: stored once saved, else the planned budget (one
    query then)."""
    if report.financial:
        return rules.report_lines(report.financial, [])
    return rules.planned_lines(budget_lines(report.award.application_id, report.year))


def values_of(report: AnnualReport) -> rules.ReportValues:
    return rules.ReportValues(
        activity=report.activity or "",
        lines=tuple(lines_of(report)),
        jobs_created=report.jobs_created,
        jobs_maintained=report.jobs_maintained,
        people_supported=report.people_supported,
        indicators=dict(report.indicators or {}),
    )


def staff_users() -> list[User]:
    """Active staff members and admins (the recipients of « report submitted »)."""
    return list(
        db.session.scalars(
            sa.select(User)
            .where(
                User.is_disabled.is_(False),
                User.id.in_(
                    sa.select(UserRole.user_id).where(UserRole.role.in_([Role.staff, Role.admin]))
                ),
            )
            .order_by(User.id)
        )
    )


# --- lists ----------------------------------------------------------------------------------


def _member_org_ids(user: User):
    return sa.select(Membership.organisation_id).where(Membership.user_id == user.id)


def _list_query():
    return (
        sa.select(AnnualReport)
        .join(Award, Award.id == AnnualReport.award_id)
        .join(Application, Application.id == Award.application_id)
        .options(
            joinedload(AnnualReport.award).joinedload(Award.call),
            joinedload(AnnualReport.award)
            .joinedload(Award.application)
            .joinedload(Application.organisation),
        )
    )


def reports_of(user: User) -> list[AnnualReport]:
    """The reports of the organisations ``user`` belongs to, the owed ones first by due
    date (one statement)."""
    return list(
        db.session.scalars(
            _list_query()
            .where(Application.organisation_id.in_(_member_org_ids(user)))
            .order_by(
                AnnualReport.status.not_in(OWED),
                AnnualReport.due_on,
                AnnualReport.id,
            )
        )
    )


STATUS_FILTERS = {s.value: s.label for s in ReportStatus}


@dataclass
class StaffFilters:
    call_id: int | None = None
    year: int | None = None
    status: str = ""
    late: bool = False

    @classmethod
    def from_args(cls, args) -> StaffFilters:
        def _int(name: str) -> int | None:
            text = (args.get(name) or "").strip()
            return int(text) if text.isdigit() and len(text) < 10 else None

        status = args.get("statut", "")
        late = args.get("retard", "") in {"1", "oui", "on", "true"}
        return cls(
            call_id=_int("appel"),
            year=_int("annee"),
            status=status if status in STATUS_FILTERS else "",
            late=late,
        )

    def args(self) -> dict:
        values = {
            "appel": self.call_id,
            "annee": self.year,
            "statut": self.status,
            "retard": "1" if self.late else "",
        }
        return {k: v for k, v in values.items() if v}

    def conditions(self, today: date | None = None) -> list:
        conditions = []
        if self.call_id is not None:
            conditions.append(Award.call_id == self.call_id)
        if self.year is not None:
            conditions.append(AnnualReport.year == self.year)
        if self.status:
            conditions.append(AnnualReport.status == ReportStatus(self.status))
        if self.late:
            conditions.append(late_condition(today))
        return conditions


def staff_reports(filters: StaffFilters, page: int, per_page: int = PER_PAGE):
    """One page of every report, filtered; late and owed first, then by due date (a page
    and a count, whatever the size)."""
    today = today_paris()
    query = (
        _list_query()
        .where(*filters.conditions(today))
        .order_by(
            sa.case((late_condition(today), 0), else_=1),
            sa.case((AnnualReport.status == ReportStatus.submitted, 0), else_=1),
            AnnualReport.due_on,
            AnnualReport.id,
        )
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False, max_per_page=200)


def status_counts(filters: StaffFilters) -> dict[ReportStatus, int]:
    """Reports per status under the other filters (one GROUP BY)."""
    others = StaffFilters(call_id=filters.call_id, year=filters.year, late=filters.late)
    rows = db.session.execute(
        sa.select(AnnualReport.status, sa.func.count())
        .join(Award, Award.id == AnnualReport.award_id)
        .where(*others.conditions())
        .group_by(AnnualReport.status)
    ).all()
    counts = dict.fromkeys(ReportStatus, 0)
    for status, count in rows:
        counts[ReportStatus(status)] = count
    return counts


def late_count() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(AnnualReport).where(late_condition())
    )


def call_choices() -> list[tuple[int, str]]:
    """The calls that have reports (the filter's choices)."""
    return [
        (row.id, row.title)
        for row in db.session.execute(
            sa.select(Call.id, Call.title)
            .where(Call.id.in_(sa.select(Award.call_id).join(AnnualReport)))
            .order_by(Call.id.desc())
        )
    ]


def year_choices() -> list[int]:
    return list(
        db.session.scalars(
            sa.select(AnnualReport.year).distinct().order_by(AnnualReport.year.desc())
        )
    )


def api_query(user: User, filters: StaffFilters):
    """The API list: every report for staff (filtered), the user's own otherwise."""
    query = _list_query().order_by(AnnualReport.due_on, AnnualReport.id)
    if not user.is_staff:
        query = query.where(Application.organisation_id.in_(_member_org_ids(user)))
    return query.where(*filters.conditions())


register_labels(
    "annual_report",
    "Compte rendu annuel",
    {
        "status": "Statut",
        "activity": "Compte rendu d'activité",
        "financial": "Compte rendu financier",
        "jobs_created": "Emplois créés",
        "jobs_maintained": "Emplois maintenus",
        "people_supported": "Personnes accompagnées",
        "indicators": "Indicateurs de l'appel",
        "file": "Document joint",
        "review_comment": "Commentaire du service",
    },
)
register_action_labels(
    {
        "report.save": "Compte rendu annuel enregistré",
        "report.document_add": "Document joint au compte rendu",
        "report.document_delete": "Document du compte rendu supprimé",
        "report.submit": "Compte rendu annuel remis",
        "report.accept": "Compte rendu annuel accepté",
        "report.return": "Compte rendu annuel renvoyé pour corrections",
    }
)
register_object_page("annual_report", "reports.review", "report_id")
