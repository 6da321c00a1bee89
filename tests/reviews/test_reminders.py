"""The data side of the reminders: reviews due in 3 days and overdue ones."""

from __future__ import annotations

from datetime import timedelta

from grants.reviews.queries import today_paris


def test_due_and_overdue_queries(app, world, create_review, create_link):
    today = today_paris()
    soon = create_review(world.file_a, world.alice, due_on=today + timedelta(days=3))
    create_review(world.file_a, world.bruno, due_on=today + timedelta(days=4))
    late = create_review(world.file_b, world.bruno, due_on=today - timedelta(days=1))
    create_review(world.file_b, world.alice, status="submitted", due_on=today - timedelta(days=5))
    create_review(world.file_b, world.chloe, due_on=today - timedelta(days=5))
    create_link(world.chloe, organisation_id=world.org_b)  # conflicted: never reminded
    from grants.extensions import db
    from grants.reviews import queries

    with app.app_context():
        due = queries.reviews_due_between(today + timedelta(days=3), today + timedelta(days=3))
        assert [r.id for r in due] == [soon]
        assert due[0].reviewer.email == "alice@evaluateurs.example"
        assert [r.id for r in queries.overdue_reviews(today)] == [late]
        db.session.remove()
