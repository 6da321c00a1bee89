"""Staff: the pool of a call, assignments by hand and automatic, conflicts, reopening."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from grants.applications.models import Application, ApplicationStatus
from grants.audit.models import AuditEntry
from grants.core.models import OutgoingMail
from grants.notifications.models import Notification
from grants.reviews.models import CallReviewer, ConflictDeclaration, Review, ReviewStatus
from grants.reviews.queries import today_paris
from tests.reviews.conftest import csrf, text


def _reviews(in_app, application_id=None):
    def run():
        from grants.extensions import db

        query = sa.select(Review.application_id, Review.reviewer_id, Review.status).order_by(
            Review.id
        )
        if application_id is not None:
            query = query.where(Review.application_id == application_id)
        return db.session.execute(query).all()

    return in_app(run)


def _status(in_app, application_id):
    from grants.extensions import db

    return in_app(lambda: db.session.get(Application, application_id).status)


def _actions(in_app, prefix="review."):
    from grants.extensions import db

    return in_app(
        lambda: db.session.execute(
            sa.select(AuditEntry.action, AuditEntry.summary, AuditEntry.changes)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.id)
        ).all()
    )


# --- Pool ---------------------------------------------------------------------------------


def test_pool_page_lists_members_and_adds_and_removes(world, client_for, in_app):
    staff = client_for("agent@example.org")
    url = f"/gestion/appels/{world.call}/evaluateurs"
    page = staff.get(url)
    assert page.status_code == 200
    body = text(page)
    assert "Alice Évaluatrice" in body and "Chloé Évaluatrice" in body
    assert "Dora Hors-Vivier (dora@autre.example)" in body  # offered in the select

    token = csrf(staff, url)
    response = staff.post(url, data={"csrf_token": token, "reviewer_id": str(world.dora)})
    assert response.status_code == 302
    assert "est ajouté(e) au vivier" in text(staff.get(url))

    def pool():
        from grants.extensions import db

        return set(
            db.session.scalars(
                sa.select(CallReviewer.reviewer_id).where(CallReviewer.call_id == world.call)
            )
        )

    assert world.dora in in_app(pool)
    response = staff.post(f"{url}/{world.dora}/retirer", data={"csrf_token": token})
    assert response.status_code == 302
    assert world.dora not in in_app(pool)
    actions = [a for a, _s, _c in _actions(in_app)]
    assert actions == ["review.pool_add", "review.pool_remove"]


def test_pool_refuses_a_user_without_the_reviewer_role(world, client_for, in_app):
    staff = client_for("agent@example.org")
    url = f"/gestion/appels/{world.call}/evaluateurs"
    response = staff.post(
        url, data={"csrf_token": csrf(staff, url), "reviewer_id": str(world.porteur_a)}
    )
    assert response.status_code == 422
    assert "Choisissez un évaluateur dans la liste." in text(response)


# --- Assigning by hand --------------------------------------------------------------------


def test_assigning_moves_the_file_under_review_and_notifies_the_reviewer(
    app, world, client_for, in_app, mails_to
):
    staff = client_for("agent@example.org")
    url = f"/gestion/dossiers/{world.file_b}/evaluations"
    assert _status(in_app, world.file_b) == ApplicationStatus.submitted
    due = today_paris() + timedelta(days=20)
    response = staff.post(
        url,
        data={
            "csrf_token": csrf(staff, url),
            "reviewer_id": str(world.alice),
            "due_on": due.strftime("%d/%m/%Y"),
        },
    )
    assert response.status_code == 302
    page = staff.get(url)
    assert "Le dossier est confié à Alice Évaluatrice." in text(page)
    assert _reviews(in_app, world.file_b) == [(world.file_b, world.alice, ReviewStatus.assigned)]
    assert _status(in_app, world.file_b) == ApplicationStatus.under_review

    def notification():
        from grants.extensions import db

        return db.session.execute(
            sa.select(Notification.event, Notification.recipient_id, Notification.mail_id)
        ).all()

    [(event, recipient, mail_id)] = in_app(notification)
    assert (event, recipient) == ("review.assigned", world.alice)
    assert mail_id is not None
    from grants.extensions import db

    assert in_app(lambda: db.session.get(OutgoingMail, mail_id).recipient) == (
        "alice@evaluateurs.example"
    )
    [mail] = mails_to("alice@evaluateurs.example")
    body = mail.get_body(preferencelist=("plain",)).get_content()
    assert "La Recyclerie" in body and "AAP-2016-" in body
    assert due.strftime("%d/%m/%Y") in body
    review_id = in_app(lambda: db.session.scalar(sa.select(Review.id)))
    assert f"{app.config['PUBLIC_BASE_URL']}/evaluations/{review_id}" in body
    actions = [a for a, _s, _c in _actions(in_app, "")]
    assert "application.under_review" in actions and "review.assign" in actions


def test_assignment_refused_on_a_declared_link_with_the_organisation(
    world, client_for, create_link, in_app
):
    create_link(world.alice, organisation_id=world.org_b, kind="volunteer")
    staff = client_for("agent@example.org")
    url = f"/gestion/dossiers/{world.file_b}/evaluations"
    page = text(staff.get(url))
    assert "conflit déclaré — affectation refusée" in page
    response = staff.post(
        url, data={"csrf_token": csrf(staff, url), "reviewer_id": str(world.alice)}
    )
    assert response.status_code == 422
    assert (
        "Affectation refusée : L'évaluateur a déclaré un lien avec la structure "
        "« La Recyclerie » (bénévole)." in text(response)
    )
    assert _reviews(in_app, world.file_b) == []
    assert _status(in_app, world.file_b) == ApplicationStatus.submitted


def test_assignment_refused_after_a_conflict_declaration(
    world, client_for, create_conflict, in_app
):
    create_conflict(world.file_a, world.bruno, "Ancien salarié")
    staff = client_for("agent@example.org")
    url = f"/gestion/dossiers/{world.file_a}/evaluations"
    response = staff.post(
        url, data={"csrf_token": csrf(staff, url), "reviewer_id": str(world.bruno)}
    )
    assert response.status_code == 422
    assert "L'évaluateur a déclaré un conflit d'intérêts sur ce dossier." in text(response)
    assert "Ancien salarié" in text(response)  # the declarations are listed
    assert _reviews(in_app, world.file_a) == []


def test_likely_conflict_is_a_warning_with_its_reason(world, client_for, create_reviewer, in_app):
    # Same e-mail domain as the organisation's member porteur@recyclerie.example.
    eve = create_reviewer(email="eve@recyclerie.example", full_name="Ève Proche")
    staff = client_for("agent@example.org")
    url = f"/gestion/dossiers/{world.file_b}/evaluations"
    page = text(staff.get(url))
    assert "Ève Proche : conflit possible" in page
    assert "même domaine (recyclerie.example)" in page
    response = staff.post(url, data={"csrf_token": csrf(staff, url), "reviewer_id": str(eve)})
    assert response.status_code == 302
    page = text(staff.get(url))
    assert "Attention, conflit d'intérêts possible : Son adresse e-mail est du même domaine" in page
    assert _reviews(in_app, world.file_b) == [(world.file_b, eve, ReviewStatus.assigned)]


def test_a_draft_or_withdrawn_file_cannot_be_assigned(
    world, client_for, create_application, create_organisation, in_app
):
    draft = create_application(world.call, create_organisation(), status="draft")
    staff = client_for("agent@example.org")
    url = f"/gestion/dossiers/{draft}/evaluations"
    assert "il ne peut pas être confié" in text(staff.get(url))
    token = csrf(staff, url)
    response = staff.post(url, data={"csrf_token": token, "reviewer_id": str(world.alice)})
    assert response.status_code == 422
    assert "Seul un dossier déposé ou en instruction" in text(response)
    assert _reviews(in_app, draft) == []


def test_unassign_an_open_review_but_not_a_submitted_one(world, client_for, create_review, in_app):
    open_review = create_review(world.file_a, world.alice)
    done = create_review(world.file_a, world.bruno, status="submitted", scores="all")
    staff = client_for("agent@example.org")
    url = f"/gestion/dossiers/{world.file_a}/evaluations"
    token = csrf(staff, url)

    response = staff.post(f"/gestion/evaluations/{open_review}/retirer", data={"csrf_token": token})
    assert response.status_code == 302
    assert "L'évaluation est retirée à Alice Évaluatrice." in text(staff.get(url))

    staff.post(f"/gestion/evaluations/{done}/retirer", data={"csrf_token": token})
    assert "Une évaluation rendue ne peut pas être retirée" in text(staff.get(url))
    assert _reviews(in_app, world.file_a) == [(world.file_a, world.bruno, ReviewStatus.submitted)]
    assert [a for a, _s, _c in _actions(in_app)] == ["review.unassign"]


def test_reopen_needs_a_reason_and_is_audited_and_notified(
    world, client_for, create_review, in_app
):
    review_id = create_review(world.file_a, world.alice, status="submitted", scores="all")
    staff = client_for("agent@example.org")
    url = f"/gestion/dossiers/{world.file_a}/evaluations"
    token = csrf(staff, url)
    response = staff.post(
        f"/gestion/evaluations/{review_id}/rouvrir", data={"csrf_token": token, "reason": " "}
    )
    assert response.status_code == 422
    assert "Indiquez pourquoi l'évaluation est rouverte." in text(response)

    response = staff.post(
        f"/gestion/evaluations/{review_id}/rouvrir",
        data={"csrf_token": token, "reason": "Le critère emplois est à revoir."},
    )
    assert response.status_code == 302
    from grants.extensions import db

    review = in_app(lambda: db.session.get(Review, review_id))
    assert review.status == ReviewStatus.in_progress
    assert review.submitted_at is None
    assert review.reopened_reason == "Le critère emplois est à revoir."
    [(action, summary, changes)] = _actions(in_app)
    assert action == "review.reopen"
    assert changes["reason"] == ["", "Le critère emplois est à revoir."]
    assert changes["status"] == ["submitted", "in_progress"]
    events = in_app(
        lambda: db.session.execute(sa.select(Notification.event, Notification.recipient_id)).all()
    )
    assert events == [("review.reopened", world.alice)]


def test_reopen_refused_once_the_file_is_decided(
    world, client_for, create_application, create_organisation, create_review, in_app
):
    decided = create_application(world.call, create_organisation(), status="accepted")
    review_id = create_review(decided, world.alice, status="submitted", scores="all")
    staff = client_for("agent@example.org")
    url = f"/gestion/dossiers/{decided}/evaluations"
    staff.post(
        f"/gestion/evaluations/{review_id}/rouvrir",
        data={"csrf_token": csrf(staff, url), "reason": "À revoir"},
    )
    assert "ses évaluations ne sont plus rouvertes" in text(staff.get(url))
    from grants.extensions import db

    assert in_app(lambda: db.session.get(Review, review_id).status) == ReviewStatus.submitted


# --- Automatic assignment -----------------------------------------------------------------


def test_automatic_assignment_from_the_pool(world, client_for, create_review, in_app):
    create_review(world.file_a, world.alice)  # counts toward file A and Alice's load
    staff = client_for("agent@example.org")
    url = f"/gestion/appels/{world.call}/evaluateurs"
    due = today_paris()
    response = staff.post(
        f"/gestion/appels/{world.call}/affectation-automatique",
        data={"csrf_token": csrf(staff, url), "due_on": (due + timedelta(days=15)).isoformat()},
    )
    assert response.status_code == 302
    assert "3 évaluation(s) confiée(s) automatiquement." in text(staff.get(url))
    rows = _reviews(in_app)
    per_file = {}
    loads = {}
    for app_id, reviewer_id, _state in rows:
        per_file.setdefault(app_id, set()).add(reviewer_id)
        loads[reviewer_id] = loads.get(reviewer_id, 0) + 1
    assert {k: len(v) for k, v in per_file.items()} == {world.file_a: 2, world.file_b: 2}
    assert max(loads.values()) - min(loads.values()) <= 1 and len(loads) == 3
    assert _status(in_app, world.file_b) == ApplicationStatus.under_review
    from grants.extensions import db

    notified = in_app(
        lambda: db.session.scalar(
            sa.select(sa.func.count())
            .select_from(Notification)
            .where(Notification.event == "review.assigned")
        )
    )
    assert notified == 3
    # A second run has nothing to do.
    staff.post(
        f"/gestion/appels/{world.call}/affectation-automatique",
        data={"csrf_token": csrf(staff, url)},
    )
    assert "Aucune évaluation à confier" in text(staff.get(url))
    assert len(_reviews(in_app)) == 4


def test_automatic_assignment_avoids_conflicts_and_reports_shortfalls(
    world, client_for, create_link, create_conflict, in_app
):
    create_link(world.alice, organisation_id=world.org_b)  # declared
    create_conflict(world.file_b, world.bruno)  # declared
    staff = client_for("agent@example.org")
    url = f"/gestion/appels/{world.call}/evaluateurs"
    staff.post(
        f"/gestion/appels/{world.call}/affectation-automatique",
        data={"csrf_token": csrf(staff, url)},
    )
    page = text(staff.get(url))
    assert "1 dossier(s) n'ont pas toutes leurs évaluations" in page
    assert "il manque 1 évaluateur(s) sans conflit d'intérêts" in page
    assert sorted(r for a, r, _s in _reviews(in_app, world.file_b)) == [world.chloe]


def test_automatic_assignment_avoids_likely_conflicts(
    world, client_for, create_reviewer, add_to_pool, in_app
):
    eve = create_reviewer(email="eve@recyclerie.example")
    add_to_pool(world.call, eve)
    staff = client_for("agent@example.org")
    url = f"/gestion/appels/{world.call}/evaluateurs"
    staff.post(
        f"/gestion/appels/{world.call}/affectation-automatique",
        data={"csrf_token": csrf(staff, url)},
    )
    assert eve not in {r for _a, r, _s in _reviews(in_app, world.file_b)}


def test_automatic_assignment_with_an_empty_pool_or_a_past_date(
    world, client_for, create_call, in_app
):
    staff = client_for("agent@example.org")
    empty = create_call(reference_prefix="AAP-VIDE")
    url = f"/gestion/appels/{empty}/evaluateurs"
    staff.post(
        f"/gestion/appels/{empty}/affectation-automatique", data={"csrf_token": csrf(staff, url)}
    )
    assert "Le vivier d'évaluateurs de l'appel est vide" in text(staff.get(url))

    url = f"/gestion/appels/{world.call}/evaluateurs"
    response = staff.post(
        f"/gestion/appels/{world.call}/affectation-automatique",
        data={"csrf_token": csrf(staff, url), "due_on": "01/01/2000"},
    )
    assert response.status_code == 422
    assert "La date limite ne peut pas être passée." in text(response)
    assert _reviews(in_app) == []


def test_staff_file_page_links_to_the_reviews(world, client_for, create_review):
    create_review(world.file_a, world.alice, status="submitted", scores="all")
    staff = client_for("agent@example.org")
    page = text(staff.get(f"/gestion/dossiers/{world.file_a}"))
    assert "1 évaluation rendue sur 1 confiée (2 requises par l'appel)" in page
    assert "Évaluateurs à désigner" in page
    assert "Évaluations et affectations du dossier" in page


def test_conflict_declarations_are_kept(world, create_conflict, in_app):
    create_conflict(world.file_a, world.alice)
    from grants.extensions import db

    assert in_app(lambda: db.session.scalar(sa.select(sa.func.count(ConflictDeclaration.id)))) == 1
