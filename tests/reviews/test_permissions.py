"""A reviewer never sees an unassigned or conflicted file, its attachments, or another's
review: 404 when guessing ids. Roles: 403 on the pages of another role."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from grants.applications.models import Attachment
from tests.reviews.conftest import csrf


def _attachment_of(in_app, application_id):
    from grants.extensions import db

    return in_app(
        lambda: db.session.scalar(
            sa.select(Attachment.id).where(Attachment.application_id == application_id).limit(1)
        )
    )


def _reviewer_urls(review_id, attachment_id):
    return [
        ("get", f"/evaluations/{review_id}"),
        ("post", f"/evaluations/{review_id}"),
        ("get", f"/evaluations/{review_id}/pieces/{attachment_id}"),
        ("get", f"/evaluations/{review_id}/conflit"),
        ("post", f"/evaluations/{review_id}/conflit"),
    ]


def _call(client, method, url, token):
    if method == "get":
        return client.get(url)
    return client.post(url, data={"csrf_token": token, "reason": "x", "action": "draft"})


def test_another_reviewers_review_is_not_found(world, client_for, create_review, in_app):
    alices = create_review(world.file_a, world.alice)
    bruno = client_for("bruno@evaluateurs.example")
    token = csrf(bruno, "/evaluations")
    attachment = _attachment_of(in_app, world.file_a)
    for method, url in _reviewer_urls(alices, attachment):
        assert _call(bruno, method, url, token).status_code == 404, url


def test_unknown_ids_are_not_found(world, client_for, create_review, in_app):
    mine = create_review(world.file_a, world.alice)
    alice = client_for("alice@evaluateurs.example")
    token = csrf(alice, "/evaluations")
    for method, url in _reviewer_urls(mine + 1000, 1):
        assert _call(alice, method, url, token).status_code == 404, url
    # An attachment of another file through one's own review.
    other = _attachment_of(in_app, world.file_b)
    assert alice.get(f"/evaluations/{mine}/pieces/{other}").status_code == 404
    assert alice.get(f"/evaluations/{mine}/pieces/999999").status_code == 404


@pytest.mark.parametrize("how", ["link", "declaration"])
def test_a_conflicted_file_is_hidden_even_from_its_assigned_reviewer(
    world, client_for, create_review, create_link, create_conflict, in_app, how
):
    mine = create_review(world.file_a, world.alice)
    if how == "link":
        create_link(world.alice, organisation_id=world.org_a, kind="family")
    else:
        create_conflict(world.file_a, world.alice)
    alice = client_for("alice@evaluateurs.example")
    token = csrf(alice, "/evaluations")
    attachment = _attachment_of(in_app, world.file_a)
    for method, url in _reviewer_urls(mine, attachment):
        assert _call(alice, method, url, token).status_code == 404, url
    assert "Les Ateliers Solidaires" not in alice.get("/evaluations").get_data(as_text=True)


def test_a_reviewer_cannot_use_the_members_routes_of_a_file(
    world, client_for, create_review, in_app
):
    create_review(world.file_a, world.alice)
    alice = client_for("alice@evaluateurs.example")
    attachment = _attachment_of(in_app, world.file_a)
    assert alice.get(f"/dossiers/{world.file_a}").status_code == 404
    assert alice.get(f"/dossiers/{world.file_a}/pieces/{attachment}").status_code == 404
    assert alice.get(f"/gestion/dossiers/{world.file_a}").status_code == 403


STAFF_PAGES = [
    ("get", "/gestion/appels/{call}/evaluateurs"),
    ("post", "/gestion/appels/{call}/evaluateurs"),
    ("post", "/gestion/appels/{call}/evaluateurs/{alice}/retirer"),
    ("post", "/gestion/appels/{call}/affectation-automatique"),
    ("get", "/gestion/dossiers/{file_a}/evaluations"),
    ("post", "/gestion/dossiers/{file_a}/evaluations"),
    ("post", "/gestion/evaluations/{review}/retirer"),
    ("post", "/gestion/evaluations/{review}/rouvrir"),
]


@pytest.mark.parametrize("email", ["alice@evaluateurs.example", "porteur@ateliers.example"])
def test_staff_pages_are_forbidden_to_reviewers_and_applicants(
    world, client_for, create_review, email
):
    review = create_review(world.file_a, world.alice)
    client = client_for(email)
    token = csrf(client, "/")
    values = {"call": world.call, "alice": world.alice, "file_a": world.file_a, "review": review}
    for method, pattern in STAFF_PAGES:
        url = pattern.format(**values)
        response = _call(client, method, url, token)
        assert response.status_code == 403, (url, response.status_code)


def test_reviewer_pages_need_the_reviewer_role(world, client_for, create_review):
    review = create_review(world.file_a, world.alice)
    for email in ("porteur@ateliers.example", "agent@example.org"):
        client = client_for(email)
        assert client.get("/evaluations").status_code == 403
        assert client.get(f"/evaluations/{review}").status_code == 403
        assert client.get("/mes-liens").status_code == 403


def test_anonymous_visitors_are_sent_to_the_login(world, client, create_review):
    review = create_review(world.file_a, world.alice)
    for url in ("/evaluations", f"/evaluations/{review}", "/mes-liens"):
        response = client.get(url)
        assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_forms_without_the_csrf_token_are_refused(world, client_for, create_review):
    review = create_review(world.file_a, world.alice)
    alice = client_for("alice@evaluateurs.example")
    assert alice.post(f"/evaluations/{review}", data={"action": "submit"}).status_code == 400
    assert alice.post(f"/evaluations/{review}/conflit", data={"reason": "x"}).status_code == 400
    assert alice.get(f"/evaluations/{review}").status_code == 200  # still assigned
