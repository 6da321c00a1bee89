"""The reviewer: queue, the file beside the scoring form, draft/submit/lock, others' reviews,
conflicts and declared links."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from grants.audit.models import AuditEntry
from grants.notifications.models import Notification
from grants.reviews.models import ConflictDeclaration, Review, ReviewerLink, ReviewStatus
from grants.reviews.queries import today_paris
from tests.fixtures.applications import PDF_BYTES
from tests.reviews.conftest import csrf, text


def _review(in_app, review_id):
    from sqlalchemy.orm import selectinload

    from grants.extensions import db

    def run():
        review = db.session.scalar(
            sa.select(Review).where(Review.id == review_id).options(selectinload(Review.scores))
        )
        if review is not None:
            db.session.expunge(review)
        return review

    return in_app(run)


def _score_form(criteria, scores, comments=None, **extra):
    data = {}
    for cid in criteria:
        data[f"score_{cid}"] = "" if scores.get(cid) is None else str(scores[cid])
        data[f"comment_{cid}"] = (comments or {}).get(cid, "")
    data.update(extra)
    return data


# --- Queue --------------------------------------------------------------------------------


def test_queue_lists_own_reviews_with_due_dates_and_late_flags(
    world, client_for, create_review, create_link
):
    today = today_paris()
    create_review(world.file_a, world.alice, due_on=today - timedelta(days=2))
    create_review(world.file_b, world.alice, due_on=today + timedelta(days=10))
    create_review(world.file_a, world.bruno, due_on=today + timedelta(days=1))
    alice = client_for("alice@evaluateurs.example")

    page = alice.get("/evaluations")
    assert page.status_code == 200
    body = text(page)
    assert "2 évaluations" in body
    assert "Les Ateliers Solidaires" in body and "La Recyclerie" in body
    assert (today - timedelta(days=2)).strftime("%d/%m/%Y") + " En retard" in body
    assert (today + timedelta(days=10)).strftime("%d/%m/%Y") + " En retard" not in body
    assert body.count("En retard") == 1
    assert "À faire" in body
    assert "Appel à projets ESS" in body

    # A declared link to the organisation hides the file.
    create_link(world.alice, organisation_id=world.org_b)
    body = text(alice.get("/evaluations"))
    assert "La Recyclerie" not in body and "1 évaluation" in body


def test_queue_filters(world, client_for, create_review):
    create_review(world.file_a, world.alice, status="submitted", scores="all")
    create_review(world.file_b, world.alice)
    alice = client_for("alice@evaluateurs.example")
    assert "La Recyclerie" not in text(alice.get("/evaluations?etat=rendues"))
    body = text(alice.get("/evaluations?etat=a-faire"))
    assert "La Recyclerie" in body and "Les Ateliers Solidaires" not in body


# --- The file and its attachments ---------------------------------------------------------


def test_the_file_is_shown_read_only_with_downloadable_attachments(
    world, client_for, create_review, in_app
):
    review_id = create_review(world.file_a, world.alice)
    alice = client_for("alice@evaluateurs.example")
    page = alice.get(f"/evaluations/{review_id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    plain = text(page)
    for section in ("Structure", "Projet", "Budget du projet", "Pièces jointes", "Attestation"):
        assert section in plain
    assert "Recyclerie solidaire" in plain  # the project title
    assert "Rendre l'évaluation" in plain and "Enregistrer le brouillon" in plain
    assert "Innovation sociale" in plain and "coefficient 30" in plain

    from grants.applications.models import Attachment
    from grants.extensions import db

    attachment_ids = in_app(
        lambda: db.session.scalars(
            sa.select(Attachment.id).where(Attachment.application_id == world.file_a)
        ).all()
    )
    assert attachment_ids
    for attachment_id in attachment_ids:
        url = f"/evaluations/{review_id}/pieces/{attachment_id}"
        assert url in body
        response = alice.get(url)
        assert response.status_code == 200
        assert response.data == PDF_BYTES
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert f"/dossiers/{world.file_a}/pieces/" not in body  # not the members' route


# --- Scoring ------------------------------------------------------------------------------


def test_save_a_draft_then_submit_and_the_review_is_locked(
    world, client_for, create_review, criteria_of, in_app
):
    review_id = create_review(world.file_a, world.alice)
    criteria = criteria_of(world.call)
    alice = client_for("alice@evaluateurs.example")
    url = f"/evaluations/{review_id}"

    token = csrf(alice, url)
    data = _score_form(
        criteria, {criteria[0]: 4, criteria[1]: 2}, {criteria[0]: "Projet original."}
    )
    response = alice.post(url, data={**data, "csrf_token": token, "action": "draft"})
    assert response.status_code == 302
    page = text(alice.get(url))
    assert "Le brouillon de votre évaluation est enregistré." in page
    assert "Projet original." in page
    review = _review(in_app, review_id)
    assert review.status == ReviewStatus.in_progress
    assert {s.criterion_id: s.score for s in review.scores} == {criteria[0]: 4, criteria[1]: 2}

    # Submitting an incomplete review: French messages next to the fields, draft kept.
    data = _score_form(criteria, {criteria[0]: 4, criteria[1]: 3})
    response = alice.post(url, data={**data, "csrf_token": token, "action": "submit"})
    assert response.status_code == 422
    body = text(response)
    assert "l'évaluation n'est pas rendue" in body
    assert "Notez le critère « Coopération »." in body
    assert "Donnez votre avis global (favorable, réservé ou défavorable)." in body
    html = response.get_data(as_text=True)
    assert f'id="score_{criteria[4]}-erreurs"' in html  # the message is next to its field
    review = _review(in_app, review_id)
    assert review.status == ReviewStatus.in_progress
    assert {s.criterion_id: s.score for s in review.scores}[criteria[1]] == 3  # saved

    # Complete: submitted and locked.
    data = _score_form(criteria, dict.fromkeys(criteria, 5))
    data.update(opinion="favourable", summary="Très solide.")
    response = alice.post(url, data={**data, "csrf_token": token, "action": "submit"})
    assert response.status_code == 302
    page = text(alice.get(url))
    assert "Votre évaluation est rendue. Merci !" in page
    assert "Votre évaluation est verrouillée." in page
    assert "Rendre l'évaluation" not in page
    review = _review(in_app, review_id)
    assert review.status == ReviewStatus.submitted and review.submitted_at is not None
    assert review.opinion.value == "favourable" and review.summary == "Très solide."

    # A submitted review can't be changed any more.
    data = _score_form(criteria, dict.fromkeys(criteria, 0), opinion="unfavourable")
    response = alice.post(url, data={**data, "csrf_token": token, "action": "draft"})
    assert response.status_code == 302
    assert "elle n'est plus modifiable" in text(alice.get(url))
    review = _review(in_app, review_id)
    assert {s.score for s in review.scores} == {5}

    from grants.extensions import db

    actions = in_app(
        lambda: db.session.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.object_type == "review")
            .order_by(AuditEntry.id)
        ).all()
    )
    assert actions == [
        "review.update",
        "review.in_progress",
        "review.update",
        "review.update",
        "review.submitted",
    ]


def test_a_comment_needs_a_score_and_is_kept_on_screen(
    world, client_for, create_review, criteria_of
):
    review_id = create_review(world.file_a, world.alice)
    criteria = criteria_of(world.call)
    alice = client_for("alice@evaluateurs.example")
    url = f"/evaluations/{review_id}"
    data = _score_form(criteria, {}, {criteria[2]: "Ancrage fort dans le quartier."})
    response = alice.post(url, data={**data, "csrf_token": csrf(alice, url), "action": "draft"})
    assert response.status_code == 422
    body = text(response)
    assert "Choisissez une note pour enregistrer ce commentaire." in body
    assert "Ancrage fort dans le quartier." in body


def test_an_out_of_scale_score_is_refused_in_french(world, client_for, create_review, criteria_of):
    review_id = create_review(world.file_a, world.alice)
    criteria = criteria_of(world.call)
    alice = client_for("alice@evaluateurs.example")
    url = f"/evaluations/{review_id}"
    data = _score_form(criteria, {criteria[0]: 9})
    response = alice.post(url, data={**data, "csrf_token": csrf(alice, url), "action": "draft"})
    assert response.status_code == 422
    assert "La note va de 0 à 5." in text(response)


def test_other_reviews_are_visible_only_after_submitting_ones_own(
    world, client_for, create_review, criteria_of
):
    criteria = criteria_of(world.call)
    mine = create_review(world.file_a, world.alice)
    create_review(
        world.file_a,
        world.bruno,
        status="submitted",
        scores="all",
        comments={criteria[0]: "Remarque de Bruno sur l'innovation."},
        summary="Synthèse de Bruno.",
    )
    create_review(world.file_a, world.chloe, scores={criteria[0]: 1}, summary="Brouillon de Chloé.")
    alice = client_for("alice@evaluateurs.example")
    url = f"/evaluations/{mine}"
    before = text(alice.get(url))
    assert "Remarque de Bruno" not in before and "Synthèse de Bruno." not in before
    assert "vous seront visibles une fois la vôtre rendue" in before

    data = _score_form(criteria, dict.fromkeys(criteria, 2), opinion="reserved")
    alice.post(url, data={**data, "csrf_token": csrf(alice, url), "action": "submit"})
    after = text(alice.get(url))
    assert "Les évaluations des autres évaluateurs" in after
    assert "Remarque de Bruno sur l'innovation." in after and "Synthèse de Bruno." in after
    assert "Bruno Évaluateur" not in after  # anonymous
    assert "Brouillon de Chloé." not in after  # drafts are never shown


# --- Conflicts ----------------------------------------------------------------------------


def test_declaring_a_conflict_unassigns_and_reassigns_within_the_pool(
    world, client_for, create_review, in_app, mails_to
):
    mine = create_review(world.file_a, world.alice, due_on=today_paris() + timedelta(days=9))
    create_review(world.file_a, world.bruno)
    alice = client_for("alice@evaluateurs.example")
    url = f"/evaluations/{mine}/conflit"
    assert "Déclarer un conflit d'intérêts" in text(alice.get(url))

    response = alice.post(url, data={"csrf_token": csrf(alice, url), "reason": ""})
    assert response.status_code == 422
    assert "Indiquez la nature du conflit d'intérêts." in text(response)

    response = alice.post(
        url, data={"csrf_token": csrf(alice, url), "reason": "Je suis bénévole de l'association."}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/evaluations")
    assert "confié à un autre évaluateur" in text(alice.get("/evaluations"))
    assert alice.get(f"/evaluations/{mine}").status_code == 404

    from grants.extensions import db

    def state():
        reviews = db.session.execute(
            sa.select(Review.reviewer_id, Review.due_on, Review.assigned_by_id).where(
                Review.application_id == world.file_a
            )
        ).all()
        declarations = db.session.execute(
            sa.select(ConflictDeclaration.reviewer_id, ConflictDeclaration.reason)
        ).all()
        notified = db.session.execute(
            sa.select(Notification.event, Notification.recipient_id)
        ).all()
        actions = db.session.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.action.startswith("review."))
            .order_by(AuditEntry.id)
        ).all()
        return reviews, declarations, notified, actions

    reviews, declarations, notified, actions = in_app(state)
    assert sorted(r[0] for r in reviews) == sorted([world.bruno, world.chloe])
    chloe_review = next(r for r in reviews if r[0] == world.chloe)
    assert chloe_review[1] == today_paris() + timedelta(days=9)  # same due date
    assert declarations == [(world.alice, "Je suis bénévole de l'association.")]
    assert notified == [("review.assigned", world.chloe)]
    assert actions == ["review.conflict", "review.assign"]
    assert len(mails_to("chloe@evaluateurs.example")) == 1


def test_conflict_without_anyone_to_take_over(world, client_for, create_review, in_app):
    mine = create_review(world.file_a, world.alice)
    create_review(world.file_a, world.bruno)
    create_review(world.file_a, world.chloe)  # the whole pool is already on the file
    alice = client_for("alice@evaluateurs.example")
    url = f"/evaluations/{mine}/conflit"
    alice.post(url, data={"csrf_token": csrf(alice, url), "reason": "Ancienne salariée."})
    assert "Le service lui trouvera un autre évaluateur." in text(alice.get("/evaluations"))


def test_no_conflict_declaration_once_submitted(world, client_for, create_review, in_app):
    mine = create_review(world.file_a, world.alice, status="submitted", scores="all")
    alice = client_for("alice@evaluateurs.example")
    url = f"/evaluations/{mine}/conflit"
    alice.post(url, data={"csrf_token": csrf(alice, url), "reason": "Lien découvert."})
    assert "signalez le conflit au service" in text(alice.get(f"/evaluations/{mine}"))
    assert _review(in_app, mine) is not None


# --- Declared links -----------------------------------------------------------------------


def test_declare_a_link_to_a_registered_organisation(world, client_for, create_review, in_app):
    open_review = create_review(world.file_b, world.alice)
    alice = client_for("alice@evaluateurs.example")
    page = text(alice.get("/mes-liens?q=recyclerie"))
    assert "La Recyclerie" in page and "Déclarer ce lien" in page

    response = alice.post(
        "/mes-liens",
        data={
            "csrf_token": csrf(alice, "/mes-liens"),
            "organisation_id": str(world.org_b),
            "kind": "board_member",
            "note": "Trésorière",
        },
    )
    assert response.status_code == 302
    page = text(alice.get("/mes-liens"))
    assert "Votre lien est enregistré. 1 dossier(s) de cette structure vous ont été retirés" in page
    assert "Membre du conseil d'administration ou du bureau" in page and "Trésorière" in page
    from grants.extensions import db

    reviewers = in_app(lambda: db.session.scalars(sa.select(Review.reviewer_id)).all())
    assert world.alice not in reviewers and len(reviewers) == 1  # reassigned in the pool
    assert alice.get(f"/evaluations/{open_review}").status_code == 404

    # The same link twice is refused.
    response = alice.post(
        "/mes-liens",
        data={
            "csrf_token": csrf(alice, "/mes-liens"),
            "organisation_id": str(world.org_b),
            "kind": "volunteer",
        },
    )
    assert response.status_code == 422
    assert "Vous avez déjà déclaré un lien avec cette structure." in text(response)


def test_declare_a_named_link_and_delete_it(world, client_for, in_app):
    alice = client_for("alice@evaluateurs.example")
    response = alice.post(
        "/mes-liens",
        data={"csrf_token": csrf(alice, "/mes-liens"), "organisation_name": "", "kind": ""},
    )
    assert response.status_code == 422
    body = text(response)
    assert "Choisissez la nature du lien." in body

    response = alice.post(
        "/mes-liens",
        data={"csrf_token": csrf(alice, "/mes-liens"), "organisation_name": "", "kind": "other"},
    )
    assert response.status_code == 422
    assert "Choisissez une structure ou indiquez son nom." in text(response)

    response = alice.post(
        "/mes-liens",
        data={
            "csrf_token": csrf(alice, "/mes-liens"),
            "organisation_name": "France Active Nouvelle-Aquitaine",
            "kind": "employee",
        },
    )
    assert response.status_code == 302
    assert "France Active Nouvelle-Aquitaine (non inscrite)" in text(alice.get("/mes-liens"))

    from grants.extensions import db

    link_id = in_app(lambda: db.session.scalar(sa.select(ReviewerLink.id)))
    # Another reviewer can't delete it.
    bruno = client_for("bruno@evaluateurs.example")
    token = csrf(bruno, "/mes-liens")
    response = bruno.post(f"/mes-liens/{link_id}/supprimer", data={"csrf_token": token})
    assert response.status_code == 404
    response = alice.post(
        f"/mes-liens/{link_id}/supprimer", data={"csrf_token": csrf(alice, "/mes-liens")}
    )
    assert response.status_code == 302
    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(ReviewerLink.id)))) == 0


def test_a_named_link_to_a_cofunder_warns_staff(
    world, client_for, create_link, create_application, create_organisation, create_call
):
    investment = create_call(kind="investment_aid", reference_prefix="INV-2016")
    org = create_organisation(name="Le Relais")
    file_id = create_application(investment, org, status="submitted", complete=True)
    create_link(world.alice, name="Region Nouvelle Aquitaine", kind="employee")
    staff = client_for("agent@example.org")
    page = text(staff.get(f"/gestion/dossiers/{file_id}/evaluations"))
    assert "Alice Évaluatrice : conflit possible" in page
    assert "cofinanceur inscrit au plan de financement" in page
