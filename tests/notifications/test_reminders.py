"""Reminders found by beat: drafts before the closing time, reviews due and overdue.

Each runs under a lease and writes through the ledger: however often beat fires — twice
in a row, or twice at once — one reminder per occurrence.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.fixtures.accounts import mail_text


def _notifications(app, event=None):
    from grants.extensions import db
    from grants.notifications.models import Notification

    with app.app_context():
        query = sa.select(Notification).order_by(Notification.id)
        if event:
            query = query.where(Notification.event == event)
        rows = db.session.scalars(query).all()
        for row in rows:
            db.session.expunge(row)
        db.session.remove()
    return rows


def _run(app, task):
    from grants.extensions import db

    with app.app_context():
        try:
            return task.run()
        finally:
            db.session.remove()


@pytest.fixture
def draft_closing_soon(app, create_user, create_call, create_organisation, create_application):
    """A draft on a call that closes in 47 hours; its organisation has two members."""
    from grants.core.db import utcnow

    alice = create_user(email="alice@example.org", full_name="Alice Martin")
    bob = create_user(email="bob@example.org")
    org_id = create_organisation(member_ids=[alice, bob], name="Recyclerie du Port")
    call_id = create_call(title="Appel ESS 2026", closes_at=utcnow() + timedelta(hours=47))
    app_id = create_application(call_id, org_id, title="Atelier vélo")
    return {"alice": alice, "bob": bob, "org": org_id, "call": call_id, "application": app_id}


def test_a_draft_is_reminded_48_hours_before_the_closing_time(app, draft_closing_soon, mails_to):
    from grants.notifications.tasks import remind_drafts

    assert _run(app, remind_drafts) == 2

    rows = _notifications(app, "application.draft_reminder")
    assert {r.recipient_id for r in rows} == {
        draft_closing_soon["alice"],
        draft_closing_soon["bob"],
    }
    assert all(not r.essential for r in rows)
    [mail] = mails_to("alice@example.org")
    assert "Appel ESS 2026" in str(mail["Subject"])
    text = mail_text(mail)
    assert "Bonjour Alice Martin" in text
    assert "« Atelier vélo »" in text and "Recyclerie du Port" in text
    assert f"/dossiers/{draft_closing_soon['application']}" in text
    assert "(heure de Paris)" in text


def test_beat_firing_twice_sends_one_reminder(app, draft_closing_soon, mails_to):
    from grants.notifications.tasks import remind_drafts

    assert _run(app, remind_drafts) == 2
    assert _run(app, remind_drafts) == 0  # same minute, same occurrence: nothing new

    assert len(_notifications(app, "application.draft_reminder")) == 2
    assert len(mails_to("alice@example.org")) == 1
    assert len(mails_to("bob@example.org")) == 1


def test_beat_firing_twice_at_once_sends_one_reminder(app, draft_closing_soon, mails_to):
    from grants.notifications.tasks import remind_drafts

    barrier = threading.Barrier(2)
    results: list = []
    errors: list = []

    def _fire():
        try:
            barrier.wait(timeout=10)
            results.append(_run(app, remind_drafts))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=_fire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    # one run did the work; the other found the lease taken, or nothing left to do
    assert sorted(results, key=str) in ([0, 2], [2, "locked"])
    assert Counter(r.recipient_id for r in _notifications(app)) == {
        draft_closing_soon["alice"]: 1,
        draft_closing_soon["bob"]: 1,
    }
    assert len(mails_to("alice@example.org")) == 1
    assert len(mails_to("bob@example.org")) == 1


def test_an_extension_is_a_new_occurrence(app, draft_closing_soon):
    from grants.calls.models import Call
    from grants.extensions import db
    from grants.notifications.tasks import remind_drafts

    assert _run(app, remind_drafts) == 2
    with app.app_context():
        call = db.session.get(Call, draft_closing_soon["call"])
        call.closes_at = call.closes_at + timedelta(minutes=30)
        db.session.commit()
        db.session.remove()
    assert _run(app, remind_drafts) == 2
    assert len({r.occurrence for r in _notifications(app)}) == 2


@pytest.mark.parametrize(
    ("hours", "status", "call_status", "reminded"),
    [
        (47, "draft", "published", True),
        (49, "draft", "published", False),  # not yet
        (-1, "draft", "published", False),  # closed already
        (47, "submitted", "published", False),  # nothing to remind
        (47, "draft", "closed", False),
    ],
)
def test_which_drafts_are_reminded(
    app,
    create_user,
    create_call,
    create_organisation,
    create_application,
    hours,
    status,
    call_status,
    reminded,
):
    from grants.core.db import utcnow
    from grants.notifications.tasks import remind_drafts

    user = create_user()
    org_id = create_organisation(member_ids=[user])
    now = utcnow()
    call_id = create_call(
        closes_at=now + timedelta(hours=hours),
        opens_at=now - timedelta(days=10),
        status=call_status,
    )
    create_application(call_id, org_id, status=status, complete=status != "draft")

    assert _run(app, remind_drafts) == (1 if reminded else 0)


def test_a_reminder_turned_off_stays_in_the_inbox(app, draft_closing_soon, mails_to):
    from grants.extensions import db
    from grants.notifications.models import NotificationPreference
    from grants.notifications.tasks import remind_drafts

    with app.app_context():
        db.session.add(
            NotificationPreference(user_id=draft_closing_soon["alice"], email_reminders=False)
        )
        db.session.commit()
        db.session.remove()

    assert _run(app, remind_drafts) == 2
    assert mails_to("alice@example.org") == []
    assert len(mails_to("bob@example.org")) == 1
    assert len(_notifications(app)) == 2


def test_a_run_is_skipped_while_another_holds_the_lease(app, draft_closing_soon):
    from grants.core.locks import acquire, release
    from grants.extensions import db
    from grants.notifications.tasks import remind_drafts

    with app.app_context():
        owner = acquire("grants.notifications.remind_drafts")
        db.session.remove()
    assert _run(app, remind_drafts) == "locked"
    assert _notifications(app) == []
    with app.app_context():
        release("grants.notifications.remind_drafts", owner)
        db.session.remove()
    assert _run(app, remind_drafts) == 2


# --- reviews ----------------------------------------------------------------------------------


@pytest.fixture
def make_review(app, create_user, create_call, create_organisation, create_application):
    """``make_review(due_in_days, status="assigned")`` → (review id, reviewer id)."""
    counter = {"n": 0}
    org = {}

    def _make(due_in_days: int | None, status: str = "assigned", application_status="submitted"):
        from grants.core.db import utcnow
        from grants.extensions import db
        from grants.notifications.tasks import today_paris
        from grants.reviews.models import Opinion, Review, ReviewStatus

        counter["n"] += 1
        reviewer = create_user(
            email=f"evaluateur{counter['n']}@example.org",
            full_name=f"Évaluateur {counter['n']}",
            roles=("reviewer",),
        )
        if "id" not in org:
            org["id"] = create_organisation(member_ids=[])
        org_id = org["id"]
        call_id = create_call(title=f"Appel {counter['n']}")
        app_id = create_application(
            call_id, org_id, status=application_status, complete=True, title="Recyclerie"
        )
        with app.app_context():
            review = Review(
                application_id=app_id,
                reviewer_id=reviewer,
                status=ReviewStatus(status),
                due_on=None if due_in_days is None else today_paris() + timedelta(due_in_days),
            )
            if status == "submitted":
                review.submitted_at = utcnow()
                review.opinion = Opinion.favourable
            db.session.add(review)
            db.session.commit()
            review_id = review.id
            db.session.remove()
        return review_id, reviewer

    return _make


def test_a_review_due_in_three_days_is_reminded_once(app, make_review, mails_to):
    from grants.notifications.tasks import remind_reviews_due

    review_id, reviewer = make_review(3)
    make_review(4)
    make_review(2)
    make_review(3, status="submitted")
    make_review(3, application_status="withdrawn")
    make_review(None)

    assert _run(app, remind_reviews_due) == 1
    assert _run(app, remind_reviews_due) == 0

    [row] = _notifications(app)
    assert (row.event, row.object_type, row.object_id) == (
        "review.due_soon",
        "review",
        str(review_id),
    )
    assert row.recipient_id == reviewer and not row.essential
    [mail] = mails_to("evaluateur1@example.org")
    assert "à rendre dans 3 jours" in str(mail["Subject"])
    text = mail_text(mail)
    assert "Bonjour Évaluateur 1" in text and f"/evaluations/{review_id}" in text


def test_an_overdue_review_is_reminded_once_per_due_date(app, make_review, mails_to):
    from grants.extensions import db
    from grants.notifications.tasks import remind_reviews_overdue
    from grants.reviews.models import Review

    review_id, _reviewer = make_review(-1, status="in_progress")
    make_review(0)  # due today: not late yet
    make_review(-5, status="submitted")

    assert _run(app, remind_reviews_overdue) == 1
    assert _run(app, remind_reviews_overdue) == 0
    [row] = _notifications(app)
    assert row.event == "review.overdue" and row.occurrence.startswith("overdue-")
    [mail] = mails_to("evaluateur1@example.org")
    assert "en retard" in mail_text(mail)

    # staff give a new due date, which passes too: a new reminder
    with app.app_context():
        review = db.session.get(Review, review_id)
        review.due_on = review.due_on - timedelta(days=1)
        db.session.commit()
        db.session.remove()
    assert _run(app, remind_reviews_overdue) == 1
    assert len(mails_to("evaluateur1@example.org")) == 2
