"""Reviews in the JSON API: pool, assignments (409 on a conflict), automatic assignment,
a reviewer's own reviews, scoring, conflicts, links; the same rights as the pages."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from grants.applications.models import Attachment
from grants.reviews.models import Review, ReviewStatus
from tests.fixtures.applications import PDF_BYTES
from tests.reviews.conftest import _fast_password_hashes, in_app, world  # noqa: F401


@pytest.fixture
def token_for(app):
    def _token(user_id: int) -> dict:
        from grants.accounts.models import User
        from grants.accounts.operations import create_api_token
        from grants.extensions import db

        with app.app_context():
            _, clear = create_api_token(db.session.get(User, user_id), "tests")
            db.session.commit()
            db.session.remove()
        return {"Authorization": f"Bearer {clear}"}

    return _token


@pytest.fixture
def api(world, token_for):  # noqa: F811
    return {
        name: token_for(getattr(world, name))
        for name in ("staff", "alice", "bruno", "chloe", "porteur_a")
    }


def _review_rows(in_app):  # noqa: F811
    from grants.extensions import db

    return in_app(
        lambda: db.session.execute(
            sa.select(Review.id, Review.application_id, Review.reviewer_id, Review.status).order_by(
                Review.id
            )
        ).all()
    )


# --- Staff --------------------------------------------------------------------------------


def test_pool_list_add_and_remove(client, world, api):  # noqa: F811
    url = f"/api/v1/calls/{world.call}/reviewers"
    response = client.get(url, headers=api["staff"])
    assert response.status_code == 200
    assert [m["email"] for m in response.json] == [
        "alice@evaluateurs.example",
        "bruno@evaluateurs.example",
        "chloe@evaluateurs.example",
    ]
    assert response.json[0]["assigned"] == 0

    response = client.post(url, json={"reviewer_id": world.dora}, headers=api["staff"])
    assert response.status_code == 201
    assert "dora@autre.example" in [m["email"] for m in response.json]
    assert client.post(url, json={"reviewer_id": world.dora}, headers=api["staff"]).status_code == (
        200
    )
    response = client.post(url, json={"reviewer_id": world.porteur_a}, headers=api["staff"])
    assert response.status_code == 422
    assert response.json["error"]["fields"]["reviewer_id"] == [
        "Cette personne n'a pas le rôle « Évaluateur »."
    ]
    response = client.delete(f"{url}/{world.dora}", headers=api["staff"])
    assert response.status_code == 204
    assert client.delete(f"{url}/{world.dora}", headers=api["staff"]).status_code == 404
    assert client.get("/api/v1/calls/9999/reviewers", headers=api["staff"]).status_code == 404


@pytest.mark.parametrize("who", ["alice", "porteur_a"])
def test_staff_routes_are_forbidden_to_others(client, world, api, create_review, who):  # noqa: F811
    review = create_review(world.file_a, world.bruno, status="submitted", scores="all")
    headers = api[who]
    calls = [
        ("get", f"/api/v1/calls/{world.call}/reviewers", None),
        ("post", f"/api/v1/calls/{world.call}/reviewers", {"reviewer_id": world.alice}),
        ("delete", f"/api/v1/calls/{world.call}/reviewers/{world.alice}", None),
        ("post", f"/api/v1/calls/{world.call}/auto-assign", {}),
        ("get", f"/api/v1/applications/{world.file_a}/assignments", None),
        ("post", f"/api/v1/applications/{world.file_a}/assignments", {"reviewer_id": 1}),
        ("delete", f"/api/v1/applications/{world.file_a}/assignments/{review}", None),
        ("post", f"/api/v1/reviews/{review}/reopen", {"reason": "x"}),
    ]
    for method, url, body in calls:
        response = getattr(client, method)(url, json=body, headers=headers)
        assert response.status_code == 403, (method, url, response.status_code)
        assert response.json["error"]["title"] == "Action interdite"


def test_assign_by_hand_with_warnings_and_conflicts(
    client,
    world,  # noqa: F811
    api,
    create_reviewer,
    create_link,
    in_app,  # noqa: F811
):
    url = f"/api/v1/applications/{world.file_b}/assignments"
    response = client.post(
        url, json={"reviewer_id": world.alice, "due_on": "2099-06-30"}, headers=api["staff"]
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["warnings"] == []
    assert body["review"]["reviewer"]["email"] == "alice@evaluateurs.example"
    assert body["review"]["due_on"] == "2099-06-30"
    assert body["review"]["application"]["status"] == "under_review"

    # Declared conflict: 409 with the reason.
    create_link(world.bruno, organisation_id=world.org_b, kind="employee")
    response = client.post(url, json={"reviewer_id": world.bruno}, headers=api["staff"])
    assert response.status_code == 409
    assert "Affectation refusée" in response.json["error"]["message"]
    assert "La Recyclerie" in response.json["error"]["message"]

    # Likely conflict: accepted, with the warning.
    eve = create_reviewer(email="eve@recyclerie.example")
    response = client.post(url, json={"reviewer_id": eve}, headers=api["staff"])
    assert response.status_code == 201
    assert [w["code"] for w in response.json["warnings"]] == ["same_domain"]

    # Twice the same reviewer; bad input.
    response = client.post(url, json={"reviewer_id": world.alice}, headers=api["staff"])
    assert response.status_code == 409
    response = client.post(
        url, json={"reviewer_id": "x", "due_on": "31/12/2099"}, headers=api["staff"]
    )
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"reviewer_id", "due_on"}

    listing = client.get(url, headers=api["staff"])
    assert [r["reviewer"]["id"] for r in listing.json] == [world.alice, eve]

    review_id = listing.json[0]["id"]
    assert client.delete(f"{url}/{review_id}", headers=api["staff"]).status_code == 204
    assert client.delete(f"{url}/{review_id}", headers=api["staff"]).status_code == 404
    assert [r[2] for r in _review_rows(in_app)] == [eve]


def test_auto_assign(client, world, api, create_conflict, in_app):  # noqa: F811
    create_conflict(world.file_b, world.alice)
    create_conflict(world.file_b, world.bruno)
    response = client.post(
        f"/api/v1/calls/{world.call}/auto-assign",
        json={"due_on": "2099-01-31"},
        headers=api["staff"],
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["assigned"] == 3
    assert [(s["application_id"], s["required"], s["assigned"]) for s in body["shortfalls"]] == [
        (world.file_b, 2, 1)
    ]
    rows = _review_rows(in_app)
    assert len(rows) == 3
    assert {(a, r) for _i, a, r, _s in rows if a == world.file_b} == {(world.file_b, world.chloe)}
    response = client.post(
        f"/api/v1/calls/{world.call}/auto-assign", data="not json", headers=api["staff"]
    )
    assert response.status_code == 400


# --- Reviewer -----------------------------------------------------------------------------


def test_own_reviews_only(client, world, api, create_review, create_link):  # noqa: F811
    mine = create_review(world.file_a, world.alice, due_on=None)
    conflicted = create_review(world.file_b, world.alice)
    others = create_review(world.file_a, world.bruno)
    create_link(world.alice, organisation_id=world.org_b)

    response = client.get("/api/v1/reviews", headers=api["alice"])
    assert response.status_code == 200
    assert [r["id"] for r in response.json["items"]] == [mine]
    assert "reviewer" not in response.json["items"][0]

    for review_id in (conflicted, others, 9999):
        for method, url in [
            ("get", f"/api/v1/reviews/{review_id}"),
            ("patch", f"/api/v1/reviews/{review_id}"),
            ("post", f"/api/v1/reviews/{review_id}/submit"),
            ("post", f"/api/v1/reviews/{review_id}/conflict"),
            ("get", f"/api/v1/reviews/{review_id}/attachments/1"),
        ]:
            response = getattr(client, method)(url, json={"reason": "x"}, headers=api["alice"])
            assert response.status_code == 404, (method, url)
    assert client.get("/api/v1/reviews", headers=api["porteur_a"]).status_code == 403


def test_read_score_and_submit(
    app,
    client,
    world,  # noqa: F811
    api,
    create_review,
    criteria_of,
    in_app,  # noqa: F811
):
    criteria = criteria_of(world.call)
    mine = create_review(world.file_a, world.alice)
    create_review(
        world.file_a, world.bruno, status="submitted", scores="all", summary="Avis de Bruno."
    )
    url = f"/api/v1/reviews/{mine}"

    body = client.get(url, headers=api["alice"]).json
    assert [c["id"] for c in body["grid"]] == criteria
    assert body["grid"][0]["weight"] == 30 and body["grid"][0]["scale_max"] == 5
    assert "other_reviews" not in body  # not before submitting
    assert body["file"]["title"] == "Recyclerie solidaire"
    assert "eligibility_problems" not in body["file"]
    attachment_url = body["file"]["attachments"][0]["url"]
    assert attachment_url.startswith(f"/api/v1/reviews/{mine}/attachments/")
    download = client.get(attachment_url, headers=api["alice"])
    assert download.status_code == 200 and download.data == PDF_BYTES
    from grants.extensions import db

    other_attachment = in_app(
        lambda: db.session.scalar(
            sa.select(Attachment.id).where(Attachment.application_id == world.file_b).limit(1)
        )
    )
    assert client.get(
        f"{url}/attachments/{other_attachment}", headers=api["alice"]
    ).status_code == (404)

    # All or nothing: a bad score saves nothing.
    response = client.patch(
        url,
        json={
            "scores": [
                {"criterion_id": criteria[0], "score": 4},
                {"criterion_id": criteria[1], "score": 9},
            ]
        },
        headers=api["alice"],
    )
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {f"score_{criteria[1]}": ["La note va de 0 à 5."]}
    assert client.get(url, headers=api["alice"]).json["scores"] == []
    response = client.patch(url, json={"grade": 1}, headers=api["alice"])
    assert response.json["error"]["fields"] == {"grade": ["Champ inconnu."]}

    response = client.patch(
        url,
        json={
            "scores": [{"criterion_id": criteria[0], "score": 4, "comment": "Original."}],
            "summary": "Premier jet.",
        },
        headers=api["alice"],
    )
    assert response.status_code == 200
    assert response.json["status"] == "in_progress"
    assert response.json["scores"] == [
        {"criterion_id": criteria[0], "score": 4, "comment": "Original."}
    ]

    response = client.post(f"{url}/submit", headers=api["alice"])
    assert response.status_code == 422
    fields = response.json["error"]["fields"]
    assert fields["opinion"] == ["Donnez votre avis global (favorable, réservé ou défavorable)."]
    assert f"score_{criteria[4]}" in fields and f"score_{criteria[0]}" not in fields

    client.patch(
        url,
        json={"scores": [{"criterion_id": c, "score": 3} for c in criteria], "opinion": "reserved"},
        headers=api["alice"],
    )
    response = client.post(f"{url}/submit", headers=api["alice"])
    assert response.status_code == 200
    assert response.json["status"] == "submitted" and response.json["submitted_at"]
    assert [o["summary"] for o in response.json["other_reviews"]] == ["Avis de Bruno."]
    assert "reviewer" not in response.json["other_reviews"][0]

    response = client.patch(url, json={"summary": "Trop tard."}, headers=api["alice"])
    assert response.status_code == 409
    assert "n'est plus modifiable" in response.json["error"]["message"]

    # Staff reopen with a reason.
    response = client.post(f"{url}/reopen", json={"reason": ""}, headers=api["staff"])
    assert response.status_code == 422
    response = client.post(f"{url}/reopen", json={"reason": "À revoir."}, headers=api["staff"])
    assert response.status_code == 200
    assert response.json["status"] == "in_progress"
    assert response.json["reopened_reason"] == "À revoir."


def test_declare_a_conflict(client, world, api, create_review, in_app):  # noqa: F811
    mine = create_review(world.file_a, world.alice)
    url = f"/api/v1/reviews/{mine}/conflict"
    response = client.post(url, json={"reason": "  "}, headers=api["alice"])
    assert response.status_code == 422
    assert response.json["error"]["fields"]["reason"] == [
        "Indiquez la nature du conflit d'intérêts."
    ]
    response = client.post(
        url, json={"reason": "Mon frère dirige la structure."}, headers=api["alice"]
    )
    assert response.status_code == 200
    assert response.json == {"application_id": world.file_a, "reassigned": True}
    rows = _review_rows(in_app)
    assert [r[2] for r in rows] == [world.bruno]  # the first of the pool, by load then id
    assert rows[0][3] == ReviewStatus.assigned
    assert client.get(f"/api/v1/reviews/{mine}", headers=api["alice"]).status_code == 404


def test_links(client, world, api, create_review, in_app):  # noqa: F811
    open_review = create_review(world.file_a, world.alice)
    response = client.post(
        "/api/v1/me/links",
        json={"organisation_id": world.org_a, "kind": "partner", "note": "Contrat en cours"},
        headers=api["alice"],
    )
    assert response.status_code == 201, response.json
    link = response.json
    assert link["organisation_name"] == "Les Ateliers Solidaires"
    assert link["kind_label"] == "Partenaire (contrat, financement, projet commun)"
    assert open_review not in [r[0] for r in _review_rows(in_app) if r[2] == world.alice]

    response = client.post(
        "/api/v1/me/links", json={"organisation_name": "", "kind": "nope"}, headers=api["alice"]
    )
    assert response.status_code == 422
    assert "kind" in response.json["error"]["fields"]
    response = client.post(
        "/api/v1/me/links", json={"organisation_name": "", "kind": "other"}, headers=api["alice"]
    )
    assert response.json["error"]["fields"] == {
        "organisation_name": ["Choisissez une structure ou indiquez son nom."]
    }
    response = client.post(
        "/api/v1/me/links", json={"organisation_id": 9999, "kind": "other"}, headers=api["alice"]
    )
    assert response.status_code == 422

    listing = client.get("/api/v1/me/links", headers=api["alice"]).json
    assert [item["id"] for item in listing] == [link["id"]]
    assert client.get("/api/v1/me/links", headers=api["bruno"]).json == []
    assert client.delete(f"/api/v1/me/links/{link['id']}", headers=api["bruno"]).status_code == 404
    assert client.delete(f"/api/v1/me/links/{link['id']}", headers=api["alice"]).status_code == 204
    assert client.get("/api/v1/me/links", headers=api["porteur_a"]).status_code == 403


def test_openapi_document_declares_the_review_routes(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json").json
    validate(document)
    for path, method in [
        ("/calls/{call_id}/reviewers", "get"),
        ("/calls/{call_id}/reviewers", "post"),
        ("/calls/{call_id}/reviewers/{reviewer_id}", "delete"),
        ("/calls/{call_id}/auto-assign", "post"),
        ("/applications/{application_id}/assignments", "get"),
        ("/applications/{application_id}/assignments", "post"),
        ("/applications/{application_id}/assignments/{review_id}", "delete"),
        ("/reviews", "get"),
        ("/reviews/{review_id}", "get"),
        ("/reviews/{review_id}", "patch"),
        ("/reviews/{review_id}/submit", "post"),
        ("/reviews/{review_id}/conflict", "post"),
        ("/reviews/{review_id}/reopen", "post"),
        ("/reviews/{review_id}/attachments/{attachment_id}", "get"),
        ("/me/links", "get"),
        ("/me/links", "post"),
        ("/me/links/{link_id}", "delete"),
    ]:
        assert method in document["paths"][path], (path, method)
    assert "Review" in document["components"]["schemas"]


def test_staff_read_any_review_with_its_reviewer(client, world, api, create_review):  # noqa: F811
    review = create_review(world.file_a, world.alice, status="submitted", scores="all")
    body = client.get(f"/api/v1/reviews/{review}", headers=api["staff"]).json
    assert body["reviewer"]["email"] == "alice@evaluateurs.example"
    assert "file" not in body
    assert (
        client.patch(
            f"/api/v1/reviews/{review}", json={"summary": "x"}, headers=api["staff"]
        ).status_code
        == 404
    )
