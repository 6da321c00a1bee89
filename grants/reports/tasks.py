"""Reminders of the annual reports, found by Celery beat from the due dates.

* « report due in 30 days »: reports still owed (due, or returned for corrections) whose
  due date is today + 30 days (Europe/Paris); occurrence = the due date;
* « report overdue »: reports still owed whose due date has passed; occurrence =
  ``overdue-<due date>``, so one reminder per due date, however often beat fires.

Both go to the members of the organisation, in the inbox and by e-mail unless they turned
reminders off (``essential=False``). Each task holds a lease against overlapping runs
(:func:`grants.core.locks.locked_task`) and writes through the notification ledger, whose
unique key makes a second run a no-op.

Their beat entries are in ``worker/schedule.py`` (hourly, so that a beat or worker down at
one hour only delays the reminder).
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from celery import shared_task
from sqlalchemy.orm import joinedload

from grants.core.locks import locked_task
from grants.extensions import db

#: the first reminder, this many days before the due date
DUE_SOON_DAYS = 30


def _owed_reports(condition):
    from grants.applications.models import Application
    from grants.funding.models import Award
    from grants.organisations.models import Membership, Organisation
    from grants.payments.models import AnnualReport
    from grants.reports.queries import OWED

    return db.session.scalars(
        sa.select(AnnualReport)
        .where(condition, AnnualReport.status.in_(OWED))
        .options(
            joinedload(AnnualReport.award).joinedload(Award.call),
            joinedload(AnnualReport.award)
            .joinedload(Award.application)
            .joinedload(Application.organisation)
            .selectinload(Organisation.memberships)
            .joinedload(Membership.user),
        )
        .order_by(AnnualReport.id)
    ).all()


def _remind(report, event: str, subject: str, template: str, occurrence: str) -> int:
    from grants.accounts.tokens import external_url
    from grants.notifications.operations import notify

    application = report.award.application
    organisation = application.organisation
    return len(
        notify(
            event,
            report,
            [m.user for m in organisation.memberships],
            subject=subject,
            template=template,
            context={
                "report": report,
                "application": application,
                "organisation": organisation,
                "call": report.award.call,
            },
            occurrence=occurrence,
            essential=False,
            link=external_url("reports.show", report_id=report.id),
        )
    )


def _reference(report) -> str:
    application = report.award.application
    return application.reference or f"n° {application.id}"


@shared_task(name="grants.reports.remind_reports_due")
@locked_task("grants.reports.remind_reports_due")
def remind_reports_due() -> int:
    """Reports due in 30 days and still owed: remind the organisation's members."""
    from grants.payments.models import AnnualReport
    from grants.reports.queries import today_paris

    due_on = today_paris() + timedelta(days=DUE_SOON_DAYS)
    created = 0
    for report in _owed_reports(AnnualReport.due_on == due_on):
        created += _remind(
            report,
            "report.due_soon",
            f"Rappel : compte rendu {report.year} du dossier {_reference(report)} à remettre "
            f"dans {DUE_SOON_DAYS} jours",
            "reports/due_soon",
            report.due_on.isoformat(),
        )
    db.session.commit()
    return created


@shared_task(name="grants.reports.remind_reports_overdue")
@locked_task("grants.reports.remind_reports_overdue")
def remind_reports_overdue() -> int:
    """Reports past their due date and still owed: remind the members once per date."""
    from grants.payments.models import AnnualReport
    from grants.reports.queries import today_paris

    created = 0
    for report in _owed_reports(AnnualReport.due_on < today_paris()):
        created += _remind(
            report,
            "report.overdue",
            f"Compte rendu {report.year} en retard : dossier {_reference(report)}",
            "reports/overdue",
            f"overdue-{report.due_on.isoformat()}",
        )
    db.session.commit()
    return created
