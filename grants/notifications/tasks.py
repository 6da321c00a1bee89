"""Reminders, found by Celery beat from dates in the database (``worker/schedule.py``).

Each task holds a lease against overlapping runs (:func:`grants.core.locks.locked_task`)
and is idempotent through the notification ledger: the reminder of one occurrence (a
closing time, a due date) is written — and mailed — once, however often beat fires.
Reminders are not essential: a user who turned reminder e-mails off still finds them in
the inbox.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from celery import shared_task
from sqlalchemy.orm import joinedload

from grants.core.db import utcnow
from grants.core.formatting import PARIS
from grants.core.locks import locked_task
from grants.extensions import db

#: a draft is reminded when its call closes within this delay
DRAFT_REMINDER = timedelta(hours=48)
#: a review is reminded this many days before it is due
REVIEW_REMINDER_DAYS = 3


def today_paris():
    return utcnow().astimezone(PARIS).date()


def _url(endpoint: str, **values) -> str:
    from grants.accounts.tokens import external_url

    return external_url(endpoint, **values)


@shared_task(name="grants.notifications.remind_drafts")
@locked_task("grants.notifications.remind_drafts")
def remind_drafts() -> int:
    """Drafts on published calls that close within 48 hours: tell their organisation."""
    from grants.applications.models import Application, ApplicationStatus
    from grants.calls.models import Call, CallStatus
    from grants.notifications.operations import notify
    from grants.organisations.models import Membership, Organisation

    now = utcnow()
    drafts = db.session.scalars(
        sa.select(Application)
        .join(Call, Application.call_id == Call.id)
        .where(
            Application.status == ApplicationStatus.draft,
            Call.status == CallStatus.published,
            Call.closes_at > now,
            Call.closes_at <= now + DRAFT_REMINDER,
        )
        .options(
            joinedload(Application.call),
            joinedload(Application.organisation)
            .selectinload(Organisation.memberships)
            .joinedload(Membership.user),
        )
        .order_by(Application.id)
    ).all()
    created = 0
    for application in drafts:
        call = application.call
        created += len(
            notify(
                "application.draft_reminder",
                application,
                [m.user for m in application.organisation.memberships],
                subject=f"Rappel : dossier non déposé, l'appel « {call.title} » clôt bientôt",
                template="notifications/draft_reminder",
                context={
                    "application": application,
                    "call": call,
                    "organisation": application.organisation,
                },
                occurrence=call.closes_at.isoformat(),
                essential=False,
                link=_url("applications.show", application_id=application.id),
            )
        )
    db.session.commit()
    return created


def _open_reviews(condition):
    from grants.applications.models import Application, ApplicationStatus
    from grants.reviews.models import Review, ReviewStatus

    closed = (ApplicationStatus.accepted, ApplicationStatus.rejected, ApplicationStatus.withdrawn)
    return db.session.scalars(
        sa.select(Review)
        .join(Application, Review.application_id == Application.id)
        .where(
            condition,
            Review.status != ReviewStatus.submitted,
            Application.status.not_in(closed),
        )
        .options(
            joinedload(Review.reviewer),
            joinedload(Review.application).joinedload(Application.call),
        )
        .order_by(Review.id)
    ).all()


def _remind_review(review, event: str, subject: str, template: str, occurrence: str) -> int:
    from grants.notifications.operations import notify

    application = review.application
    return len(
        notify(
            event,
            review,
            [review.reviewer],
            subject=subject,
            template=template,
            context={"review": review, "application": application, "call": application.call},
            occurrence=occurrence,
            essential=False,
            link=_url("reviews.show", review_id=review.id),
        )
    )


@shared_task(name="grants.notifications.remind_reviews_due")
@locked_task("grants.notifications.remind_reviews_due")
def remind_reviews_due() -> int:
    """Reviews due in 3 days and not submitted: remind the reviewer."""
    from grants.reviews.models import Review

    due_on = today_paris() + timedelta(days=REVIEW_REMINDER_DAYS)
    created = 0
    for review in _open_reviews(Review.due_on == due_on):
        ref = review.application.reference or f"n° {review.application_id}"
        created += _remind_review(
            review,
            "review.due_soon",
            f"Rappel : évaluation du dossier {ref} à rendre dans {REVIEW_REMINDER_DAYS} jours",
            "notifications/review_due",
            review.due_on.isoformat(),
        )
    db.session.commit()
    return created


@shared_task(name="grants.notifications.remind_reviews_overdue")
@locked_task("grants.notifications.remind_reviews_overdue")
def remind_reviews_overdue() -> int:
    """Reviews past their due date and not submitted: remind the reviewer once per date."""
    from grants.reviews.models import Review

    created = 0
    for review in _open_reviews(Review.due_on < today_paris()):
        ref = review.application.reference or f"n° {review.application_id}"
        created += _remind_review(
            review,
            "review.overdue",
            f"Évaluation en retard : dossier {ref}",
            "notifications/review_overdue",
            f"overdue-{review.due_on.isoformat()}",
        )
    db.session.commit()
    return created
