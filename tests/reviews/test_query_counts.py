"""The reviewer's queue runs the same number of SQL statements with 10 and 1,000 reviews."""

from __future__ import annotations

from datetime import timedelta

import pytest


def _add_reviews(app, call_id, org_id, reviewer_id, count, start):
    from grants.applications.models import Application, ApplicationStatus
    from grants.core.db import utcnow
    from grants.extensions import db
    from grants.reviews.models import Review, ReviewStatus

    with app.app_context():
        now = utcnow()
        applications = [
            Application(
                call_id=call_id,
                organisation_id=org_id,
                status=ApplicationStatus.under_review,
                title=f"Projet {n}",
                sequence=n,
                reference=f"AAP-Q-{n:05d}",
                submitted_at=now,
            )
            for n in range(start, start + count)
        ]
        db.session.add_all(applications)
        db.session.flush()
        db.session.add_all(
            Review(
                application_id=a.id,
                reviewer_id=reviewer_id,
                status=ReviewStatus.assigned,
                due_on=(now + timedelta(days=n % 20 - 10)).date(),
            )
            for n, a in enumerate(applications)
        )
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("url", ["/evaluations", "/evaluations?etat=a-faire"])
def test_queue_query_count_does_not_grow(
    app,
    url,
    client_for,
    create_reviewer,
    create_call,
    create_organisation,
    create_link,
    count_queries,
):
    reviewer = create_reviewer(email="alice@evaluateurs.example")
    call = create_call(reference_prefix="AAP-Q")
    org = create_organisation()
    create_link(reviewer, name="Une autre structure")
    _add_reviews(app, call, org, reviewer, 10, 1)
    client = client_for("alice@evaluateurs.example")
    client.get(url)  # warm up
    with count_queries() as few:
        response = client.get(url)
    assert response.status_code == 200
    assert response.get_data(as_text=True).count("AAP-Q-") == 10

    _add_reviews(app, call, org, reviewer, 990, 11)
    with count_queries() as many:
        response = client.get(url)
    assert response.status_code == 200
    assert "1000 évaluations" in response.get_data(as_text=True)
    assert len(many) == len(few), (few, many)
    assert len(few) <= 6, few


def test_api_list_query_count_does_not_grow(
    app, client, create_reviewer, create_call, create_organisation, count_queries
):
    from grants.accounts.models import User
    from grants.accounts.operations import create_api_token
    from grants.extensions import db

    reviewer = create_reviewer()
    with app.app_context():
        _, token = create_api_token(db.session.get(User, reviewer), "tests")
        db.session.commit()
        db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}
    call = create_call(reference_prefix="AAP-Q")
    org = create_organisation()
    _add_reviews(app, call, org, reviewer, 5, 1)
    client.get("/api/v1/reviews", headers=headers)
    with count_queries() as few:
        assert client.get("/api/v1/reviews?per_page=100", headers=headers).status_code == 200
    _add_reviews(app, call, org, reviewer, 200, 6)
    with count_queries() as many:
        response = client.get("/api/v1/reviews?per_page=100", headers=headers)
    assert response.json["total"] == 205 and len(response.json["items"]) == 100
    assert len(many) == len(few), (few, many)
