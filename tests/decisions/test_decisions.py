"""Committee sessions and decisions through the pages: accept (below the request), reject
(with the reason), wait-list then accept, the envelope guard, the reviews-required rule and
its audited override, amending an award, marking the call decided."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.decisions.conftest import text_of
from tests.fixtures.accounts import mail_text


def plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def _decision_url(application_id: int) -> str:
    return f"/gestion/dossiers/{application_id}/decision"


@pytest.fixture
def decide(get_csrf):
    """``decide(client, application_id, outcome, **fields)`` → the response of the form."""

    def _decide(client, application_id, outcome, session_id=None, **fields):
        url = _decision_url(application_id)
        data = {"csrf_token": get_csrf(client, url), "outcome": outcome, **fields}
        if session_id is not None:
            data["session_id"] = str(session_id)
        return client.post(url, data=data)

    return _decide


def _state(app, application_id):
    from grants.applications.models import Application
    from grants.decisions.models import Decision
    from grants.extensions import db

    with app.app_context():
        application = db.session.get(Application, application_id)
        decisions = db.session.scalars(
            sa.select(Decision).where(Decision.application_id == application_id)
        ).all()
        state = {
            "status": application.status.value,
            "decided_at": application.decided_at,
            "awarded_call": application.call.awarded_total,
            "decisions": [(d.outcome.value, d.awarded_total, d.reason) for d in decisions],
            "transitions": [
                (t.from_status.value, t.to_status.value) for t in application.transitions
            ],
        }
        db.session.remove()
    return state


def _notifications(app, event="application.decision"):
    from grants.extensions import db
    from grants.notifications.models import Notification

    with app.app_context():
        rows = [
            (n.recipient_id, n.subject)
            for n in db.session.scalars(
                sa.select(Notification).where(Notification.event == event).order_by(Notification.id)
            )
        ]
        db.session.remove()
    return rows


def test_accept_below_the_request(app, staff_client, committee, decide, audit_entries, mails_to):
    f = committee.file(member_email="camille@asso.example")  # asks 3 × 10,000
    response = decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="25 000")
    assert response.status_code == 302, text_of(response)
    state = _state(app, f.id)
    assert state["status"] == "accepted"
    assert state["decided_at"] is not None
    assert state["decisions"] == [("accepted", Decimal("25000.00"), "")]
    assert state["awarded_call"] == Decimal("25000.00")
    assert ("under_review", "accepted") in state["transitions"]
    page = text_of(staff_client.get(response.headers["Location"]))
    assert "Le dossier" in page and "est retenu (25 000,00 €)" in page
    actions = [e["action"] for e in audit_entries()]
    assert "application.accepted" in actions and "decision.accepted" in actions
    entry = audit_entries("decision.accepted")[0]
    assert entry["object_type"] == "application" and entry["object_id"] == str(f.id)
    assert entry["changes"]["awarded_total"] == [None, "25000.00"]
    assert [r for r, _ in _notifications(app)] == [f.member_id]
    mails = mails_to("camille@asso.example")
    assert len(mails) == 1
    body = plain(mail_text(mails[0]))
    assert "votre projet est retenu" in body
    assert "25 000,00 €" in body
    assert f"/dossiers/{f.id}" in body


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("30 000,01", "ne peut pas dépasser le montant demandé (30 000,00 €)"),
        ("0", "doit être supérieur à 0 €"),
        ("", "Indiquez le montant attribué."),
        ("beaucoup", "Indiquez un montant en euros"),
    ],
)
def test_the_award_must_be_positive_and_within_the_request(
    app, staff_client, committee, decide, amount, message
):
    f = committee.file()
    response = decide(staff_client, f.id, "accepted", committee.session_id, awarded_total=amount)
    assert response.status_code == 422
    assert message in text_of(response)
    assert _state(app, f.id)["status"] == "under_review"
    assert _state(app, f.id)["decisions"] == []
    assert _state(app, f.id)["awarded_call"] == 0
    assert f'value="{amount}"' in response.get_data(as_text=True)  # the input is kept


def test_reject_needs_the_reason_the_applicant_reads(
    app, staff_client, committee, decide, mails_to
):
    f = committee.file(member_email="dominique@coop.example")
    response = decide(staff_client, f.id, "rejected", committee.session_id, reason="  ")
    assert response.status_code == 422
    assert "Indiquez le motif du refus" in text_of(response)
    assert _state(app, f.id)["status"] == "under_review"

    reason = "Le projet ne relève pas des secteurs prioritaires de l'appel."
    response = decide(staff_client, f.id, "rejected", committee.session_id, reason=reason)
    assert response.status_code == 302
    state = _state(app, f.id)
    assert state["status"] == "rejected"
    assert state["decisions"] == [("rejected", None, reason)]
    assert state["awarded_call"] == 0
    body = mail_text(mails_to("dominique@coop.example")[0])
    assert "n'est pas retenu" in body and reason in body


def test_wait_list_then_accept_replaces_the_decision(app, staff_client, committee, decide):
    f = committee.file()
    response = decide(
        staff_client, f.id, "waitlisted", committee.session_id, reason="Selon les désistements."
    )
    assert response.status_code == 302
    state = _state(app, f.id)
    assert state["status"] == "under_review"
    assert state["decided_at"] is None
    assert state["decisions"] == [("waitlisted", None, "Selon les désistements.")]
    assert "Liste d'attente" in text_of(
        staff_client.get(f"/gestion/appels/{committee.call_id}/classement")
    )

    response = decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="30000")
    assert response.status_code == 302
    state = _state(app, f.id)
    assert state["status"] == "accepted"
    assert state["decisions"] == [("accepted", Decimal("30000.00"), "")]
    assert state["awarded_call"] == Decimal("30000.00")
    # Both decisions were notified.
    subjects = [s for _, s in _notifications(app)]
    assert len(subjects) == 2
    assert "liste d'attente" in subjects[0] and "retenu" in subjects[1]


def test_a_submitted_file_goes_through_review_to_the_decision(app, staff_client, committee, decide):
    f = committee.file(status="submitted")
    response = decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="1000")
    assert response.status_code == 302
    assert _state(app, f.id)["transitions"][-2:] == [
        ("submitted", "under_review"),
        ("under_review", "accepted"),
    ]


def test_accepting_past_the_call_envelope_is_refused(app, staff_client, committee, decide):
    # Total envelope 165,000; each file asks 40,000 a year (120,000).
    first = committee.file(request="40000")
    second = committee.file(request="40000")
    assert (
        decide(
            staff_client, first.id, "accepted", committee.session_id, awarded_total="120000"
        ).status_code
        == 302
    )
    response = decide(
        staff_client, second.id, "accepted", committee.session_id, awarded_total="120000"
    )
    assert response.status_code == 422
    text = text_of(response)
    assert "dépasserait l'enveloppe totale de l'appel (165 000,00 €)" in text
    assert "reste disponible : 45 000,00 €" in text
    state = _state(app, second.id)
    assert state["status"] == "under_review" and state["decisions"] == []
    assert state["awarded_call"] == Decimal("120000.00")
    # What is left still fits.
    assert (
        decide(
            staff_client, second.id, "accepted", committee.session_id, awarded_total="45000"
        ).status_code
        == 302
    )
    assert _state(app, second.id)["awarded_call"] == Decimal("165000.00")


def test_amending_an_award_moves_the_call_total_both_ways(app, staff_client, committee, decide):
    f = committee.file(request="40000")
    other = committee.file(request="40000")
    decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="100000")
    decide(staff_client, other.id, "accepted", committee.session_id, awarded_total="60000")
    assert _state(app, f.id)["awarded_call"] == Decimal("160000.00")
    # Lowered: the call's total goes down by the difference.
    response = decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="80000")
    assert response.status_code == 302
    assert _state(app, f.id)["decisions"] == [("accepted", Decimal("80000.00"), "")]
    assert _state(app, f.id)["awarded_call"] == Decimal("140000.00")
    # Raised within the envelope: fine; beyond it: refused.
    assert (
        decide(
            staff_client, f.id, "accepted", committee.session_id, awarded_total="105000"
        ).status_code
        == 302
    )
    assert _state(app, f.id)["awarded_call"] == Decimal("165000.00")
    response = decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="106000")
    assert response.status_code == 422
    assert "enveloppe totale" in text_of(response)
    assert _state(app, f.id)["awarded_call"] == Decimal("165000.00")
    # An accepted file can't be turned down afterwards.
    response = decide(staff_client, f.id, "rejected", committee.session_id, reason="Revirement")
    assert response.status_code == 422
    assert "décision est définitive" in text_of(response)
    assert _state(app, f.id)["status"] == "accepted"


def test_a_decision_needs_the_reviews_required_unless_overridden(
    app, staff_client, committee, decide, audit_entries
):
    f = committee.file(reviews=((4, 4, 4, 4, 4),))  # 1 of 2
    page = text_of(staff_client.get(_decision_url(f.id)))
    assert "1/2 avis rendus" in page and "Avis manquants" in page
    response = decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="1000")
    assert response.status_code == 422
    assert "1 avis rendu sur 2 requis" in text_of(response)
    assert _state(app, f.id)["status"] == "under_review"

    reason = "Le second évaluateur s'est déporté ; le comité statue sur un avis."
    response = decide(
        staff_client,
        f.id,
        "accepted",
        committee.session_id,
        awarded_total="1000",
        override_reason=reason,
    )
    assert response.status_code == 302
    assert _state(app, f.id)["status"] == "accepted"
    entries = audit_entries("decision.reviews_override")
    assert len(entries) == 1
    assert entries[0]["changes"]["reviews_override"] == [None, reason]


def test_draft_reviews_do_not_count(app, staff_client, committee, decide, add_review, create_user):
    f = committee.file(reviews=((4, 4, 4, 4, 4),))
    third = create_user(roles=["reviewer"])
    add_review(f.id, third, status="in_progress")
    response = decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="1000")
    assert response.status_code == 422
    assert "1 avis rendu sur 2 requis" in text_of(response)


def test_a_decision_is_taken_in_a_session_of_the_call(
    app, staff_client, committee, decide, create_call, create_committee_session
):
    f = committee.file()
    other_call_session = create_committee_session(create_call(status="closed"))
    for session_id in (None, other_call_session):
        response = decide(staff_client, f.id, "accepted", session_id, awarded_total="1000")
        assert response.status_code == 422
        assert "Choisissez la séance du comité de cet appel" in text_of(response)
    assert _state(app, f.id)["decisions"] == []


def test_ineligible_draft_and_withdrawn_files_get_no_decision(app, staff_client, committee, decide):
    ineligible = committee.file(eligibility_override=False, eligibility_override_reason="Hors ESS")
    draft = committee.file(status="draft")
    for f in (ineligible, draft):
        response = decide(staff_client, f.id, "waitlisted", committee.session_id)
        assert response.status_code == 422
        assert _state(app, f.id)["decisions"] == []
    assert "irrecevable" in text_of(
        decide(staff_client, ineligible.id, "waitlisted", committee.session_id)
    )


def test_only_staff_decide(app, client, committee, login, get_csrf, create_user):
    f = committee.file(member_email="membre@asso.example")
    login(client, "membre@asso.example")
    assert client.get(_decision_url(f.id)).status_code == 403
    token = get_csrf(client, f"/dossiers/{f.id}")
    response = client.post(
        _decision_url(f.id),
        data={"csrf_token": token, "outcome": "accepted", "awarded_total": "30000",
              "session_id": str(committee.session_id)},
    )  # fmt: skip
    assert response.status_code == 403
    assert _state(app, f.id)["status"] == "under_review"


def test_unknown_file_is_404(staff_client):
    assert staff_client.get(_decision_url(999999)).status_code == 404


def test_the_decision_page_shows_the_reviews_to_staff(staff_client, committee):
    f = committee.file()
    text = text_of(staff_client.get(_decision_url(f.id)))
    assert "Irène Évalue" in text and "Marc Note" in text
    assert "note moyenne 70,00/100" in text


# --- Sessions -----------------------------------------------------------------------------


def test_staff_record_a_committee_session(app, staff_client, committee, get_csrf, audit_entries):
    url = f"/gestion/appels/{committee.call_id}/seances"
    token = get_csrf(staff_client, url)
    response = staff_client.post(
        url,
        data={
            "csrf_token": token,
            "held_on": "",
            "members_present": " \n ",
            "deliberation_ref": "",
        },
    )
    assert response.status_code == 422
    text = text_of(response)
    assert "Indiquez la date de la séance." in text
    assert "Indiquez les membres présents, un par ligne." in text
    response = staff_client.post(
        url,
        data={
            "csrf_token": token,
            "held_on": "2016-09-20",
            "members_present": "Mme Alice Durand, vice-présidente\n\nM. Karim Benali\n",
            "deliberation_ref": "2016/0457",
        },
    )
    assert response.status_code == 302
    text = text_of(staff_client.get(url))
    assert "20/09/2016" in text and "2016/0457" in text and "M. Karim Benali" in text
    entry = audit_entries("committee_session.create")[0]
    assert "2016/0457" in entry["summary"]


# --- The call ----------------------------------------------------------------------------


def test_the_call_is_marked_decided_once_every_file_is(
    app, client, staff_client, committee, decide, get_csrf
):
    from grants.calls.models import Call
    from grants.extensions import db

    accepted = committee.file(org_name="La Recyclerie", title="Recyclerie solidaire")
    waiting = committee.file(org_name="Vélo-École", title="Atelier vélo")
    decide(staff_client, accepted.id, "accepted", committee.session_id, awarded_total="28 000")
    decide(staff_client, waiting.id, "waitlisted", committee.session_id)
    ranking_url = f"/gestion/appels/{committee.call_id}/classement"
    page = text_of(staff_client.get(ranking_url))
    assert "Marquer l'appel comme décidé" not in page
    token = get_csrf(staff_client, ranking_url)
    mark = f"/gestion/appels/{committee.call_id}/marquer-decide"
    response = staff_client.post(mark, data={"csrf_token": token}, follow_redirects=True)
    assert "1 dossier attend encore une décision" in text_of(response)
    with app.app_context():
        assert db.session.get(Call, committee.call_id).status.value == "closed"
        db.session.remove()

    decide(staff_client, waiting.id, "rejected", committee.session_id, reason="Enveloppe épuisée.")
    assert "Marquer l'appel comme décidé" in text_of(staff_client.get(ranking_url))
    response = staff_client.post(mark, data={"csrf_token": token}, follow_redirects=True)
    assert "L'appel est marqué comme décidé" in text_of(response)
    with app.app_context():
        assert db.session.get(Call, committee.call_id).status.value == "decided"
        db.session.remove()


def test_saving_the_same_decision_again_changes_and_notifies_nothing(
    app, staff_client, committee, decide, audit_entries
):
    f = committee.file()
    decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="20000")
    response = decide(staff_client, f.id, "accepted", committee.session_id, awarded_total="20 000")
    assert response.status_code == 302
    page = text_of(staff_client.get(response.headers["Location"]))
    assert "Aucune modification" in page
    assert len(_notifications(app)) == 1
    assert len(audit_entries("decision.accepted")) == 1
    assert audit_entries("decision.amended") == []
    assert _state(app, f.id)["awarded_call"] == Decimal("20000.00")
