"""The review state machine: every pair of states, through the one transition function."""

from __future__ import annotations

import itertools

import pytest

from grants.reviews import operations
from grants.reviews.models import REVIEW_TRANSITIONS, ReviewStatus

R = ReviewStatus
ALLOWED = {
    (R.assigned, R.in_progress),
    (R.assigned, R.submitted),
    (R.in_progress, R.submitted),
    (R.submitted, R.in_progress),
}


def test_the_table_is_the_documented_one():
    assert {(a, b) for a, targets in REVIEW_TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.fixture
def one_file(create_reviewer, create_organisation, create_call, create_application):
    """(application id, reviewer id): the smallest setting of a review."""
    reviewer = create_reviewer()
    call = create_call()
    return create_application(call, create_organisation(), status="under_review"), reviewer


@pytest.mark.parametrize("current,target", list(itertools.product(R, R)))
def test_transition(app, one_file, create_review, current, target):
    from grants.audit.models import AuditEntry
    from grants.core.db import utcnow
    from grants.extensions import db
    from grants.reviews.models import Review

    review_id = create_review(*one_file, status=current.value, scores="all", opinion="favourable")
    with app.app_context():
        review = db.session.get(Review, review_id)
        values = {}
        if target == R.submitted:
            values["submitted_at"] = utcnow()
        elif current == R.submitted:
            values["submitted_at"] = None
        if (current, target) in ALLOWED:
            operations.transition(review, None, target, reason="motif", **values)
            db.session.commit()
            db.session.expire_all()
            assert db.session.get(Review, review_id).status == target
            entry = db.session.scalars(db.select(AuditEntry)).one()
            assert entry.changes["status"] == [current.value, target.value]
            assert entry.object_id == str(review_id)
        else:
            with pytest.raises(operations.InvalidTransition) as error:
                operations.transition(review, None, target, **values)
            assert "ne peut pas passer" in error.value.message
            assert error.value.status == 409
            db.session.rollback()
            assert db.session.get(Review, review_id).status == current
        db.session.remove()


def test_a_stale_state_loses_the_race(app, one_file, create_review):
    """Two requests read the same state: the second conditional UPDATE changes nothing."""
    from grants.core.db import utcnow
    from grants.extensions import db
    from grants.reviews.models import Review

    review_id = create_review(*one_file, status="in_progress", scores="all")
    with app.app_context():
        review = db.session.get(Review, review_id)
        review.opinion = "favourable"
        db.session.flush()
        db.session.execute(
            db.update(Review)
            .where(Review.id == review_id)
            .values(status=R.submitted, submitted_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        assert review.status == R.in_progress  # what this request read
        with pytest.raises(operations.InvalidTransition) as error:
            operations.transition(review, None, R.submitted, submitted_at=utcnow())
        assert "modifiée entre-temps" in error.value.message
        db.session.rollback()
        db.session.remove()
