"""``grants demo``: the demo calls and files in every state, the reviews and decisions of
the 2016 call, the budget lines — loaded idempotently."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from markupsafe import escape

DEMO_EMAILS = [
    "admin@demo.grants.local",
    "agent@demo.grants.local",
    "evaluatrice@jury.demo.grants.local",
    "porteur@demo.grants.local",
    "cooperative@demo.grants.local",
    "m.durand@jury.demo.grants.local",
    "s.nguyen@jury.demo.grants.local",
    "l.bertrand@jury.demo.grants.local",
    "a.morel@jury.demo.grants.local",
]


def run_demo(app) -> str:
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def demo_password(app, key: str) -> str:
    path = Path(app.config["INSTANCE_PATH"]) / "demo_accounts.json"
    return json.loads(path.read_text())[key]


def table_counts(app) -> dict[str, int]:
    from grants.extensions import db

    with app.app_context():
        return {
            table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


@pytest.fixture
def demo(app):
    return run_demo(app)


def _calls(db):
    from grants.calls.models import Call

    return {c.reference_prefix: c for c in db.session.scalars(sa.select(Call))}


def _files(db):
    from grants.applications.models import Application

    return list(db.session.scalars(sa.select(Application).order_by(Application.id)))


def test_the_three_calls_with_their_envelopes(app, demo):
    from grants.calls.models import CallKind, CallStatus
    from grants.calls.rules import effective_profile
    from grants.extensions import db

    with app.app_context():
        calls = _calls(db)
        assert set(calls) == {"AAP-2016", "AIS-2016", "AAP-2023"}

        aap16, ais, aap23 = calls["AAP-2016"], calls["AIS-2016"], calls["AAP-2023"]
        assert aap16.title == "Appel à projets ESS 2016"
        assert [(y.year, y.envelope) for y in aap16.years] == [
            (2016, Decimal("60000")),
            (2017, Decimal("55000")),
            (2018, Decimal("50000")),
        ]
        assert aap16.profile is None  # derived from the envelopes
        derived = effective_profile(None, [y.envelope for y in aap16.years])
        assert derived[0] > derived[1] > derived[2] and sum(derived) == 1
        assert aap16.status == CallStatus.decided and not aap16.is_open
        assert aap16.published_at.year == 2016 and aap16.closes_at.year == 2016
        assert aap16.ceiling == Decimal("40000")
        assert [(c.label, c.weight, c.scale_max) for c in aap16.criteria] == [
            ("Innovation sociale", 30, 5),
            ("Création d'emplois", 25, 5),
            ("Ancrage territorial", 20, 5),
            ("Viabilité économique", 15, 5),
            ("Coopération", 10, 5),
        ]
        labels = [d.label for d in aap16.documents if d.mandatory]
        assert "Statuts de la structure" in labels and "Relevé d'identité bancaire" in labels
        assert "30 500" in aap16.description and "5 à 6 projets" in aap16.description

        assert ais.kind == CallKind.investment_aid and ais.title == "Aide à l'investissement 2016"
        assert [(y.year, y.envelope) for y in ais.years] == [(2016, Decimal("159000"))]
        assert ais.max_expense_share == Decimal("0.3") and ais.ceiling == Decimal("100000")
        assert ais.is_open and ais.opens_at.year in (2015, 2016)

        assert [(y.year, y.envelope) for y in aap23.years] == [
            (2023, Decimal("145000")),
            (2024, Decimal("145000")),
            (2025, Decimal("145000")),
        ]
        assert [Decimal(w) for w in aap23.profile] == [
            Decimal("0.5"),
            Decimal("0.3"),
            Decimal("0.2"),
        ]
        assert aap23.sectors == [
            "Logistique décarbonée",
            "Économie circulaire",
            "Écoconstruction et habitat",
            "Économie de proximité",
        ]
        assert aap23.is_open


def test_files_in_every_state_with_references(app, demo):
    from grants.applications.models import ApplicationStatus
    from grants.extensions import db

    with app.app_context():
        files = _files(db)
        states = {a.status for a in files}
        assert states == set(ApplicationStatus)
        # each state's file belongs to its own organisation
        first_of_state = {}
        for a in files:
            first_of_state.setdefault(a.status, a.organisation_id)
        assert len(set(first_of_state.values())) == len(ApplicationStatus)

        for a in files:
            if a.status == ApplicationStatus.draft:
                assert a.reference is None and a.submitted_at is None
                continue
            prefix = a.call.reference_prefix
            assert re.fullmatch(rf"{prefix}-\d{{4}}", a.reference), a.reference
            assert a.snapshot and a.snapshot["reference"] == a.reference
            assert a.transitions[0].to_status == ApplicationStatus.submitted
        by_call: dict[int, list] = {}
        for a in files:
            if a.reference:
                by_call.setdefault(a.call_id, []).append(a)
        for call_files in by_call.values():  # numbered in the order of submission
            ordered = sorted(call_files, key=lambda a: a.submitted_at)
            assert [a.sequence for a in ordered] == list(range(1, len(ordered) + 1))
        refs_2016 = sorted(a.reference for a in files if a.call.reference_prefix == "AAP-2016")
        # seven files, as the seeds expect 5 to 6 laureates a year
        assert refs_2016 == [f"AAP-2016-{n:04d}" for n in range(1, 8)]
        for a in files:
            if a.call.reference_prefix == "AAP-2016":
                # submitted in 2016 inside the window, decided after
                assert a.call.opens_at <= a.submitted_at < a.call.closes_at
                assert a.decided_at is not None and a.decided_at.year == 2016
                assert a.transitions[0].created_at == a.submitted_at


def test_submitted_files_pass_the_checks_they_were_submitted_under(app, demo):
    from grants.applications import queries, rules
    from grants.applications.models import ApplicationStatus, FunderType
    from grants.core.formatting import PARIS
    from grants.extensions import db
    from grants.organisations.rules import siret_problem

    with app.app_context():
        files = _files(db)
        for a in files:
            assert siret_problem(a.organisation.siret) is None, a.organisation.name
            if a.organisation.legal_form.value == "association":
                assert re.fullmatch(r"W\d{9}", a.organisation.rna)
            if a.status == ApplicationStatus.draft:
                continue
            day = a.submitted_at.astimezone(PARIS).date()
            assert queries.eligibility(a, day) == [], a.reference
            mandatory = {d.id for d in a.call.documents if d.mandatory}
            attached = {att.required_document_id for att in a.attachments}
            assert mandatory <= attached
            assert all(att.content_type == "application/pdf" for att in a.attachments)
            for line_year, lines in rules.group_by_year(a.budget_lines).items():
                assert rules.budget_totals(lines).is_balanced, (a.reference, line_year)

        [investment] = [
            a
            for a in files
            if a.call.reference_prefix == "AIS-2016" and a.status == ApplicationStatus.submitted
        ]
        plan = rules.funding_plan(
            investment.expenses,
            investment.funding_sources,
            investment.call.max_expense_share,
            investment.call.ceiling,
        )
        assert plan.total_cost > plan.eligible_expenses > 0
        assert plan.gap == 0 and plan.total_sources == plan.total_cost
        assert plan.authority_amount <= investment.call.ceiling
        types = {s.funder_type for s in investment.funding_sources}
        assert {
            FunderType.authority,
            FunderType.region,
            FunderType.department,
            FunderType.solidarity_finance,
            FunderType.own_funds,
        } <= types
        assert (
            rules.funding_plan_problems(
                investment.expenses,
                investment.funding_sources,
                investment.call.max_expense_share,
                investment.call.ceiling,
            )
            == []
        )


def test_draft_incomplete_and_messages(app, demo):
    from grants.applications import queries
    from grants.applications.models import ApplicationStatus
    from grants.extensions import db

    with app.app_context():
        files = _files(db)
        [draft] = [a for a in files if a.status == ApplicationStatus.draft]
        assert draft.call.reference_prefix == "AAP-2023"
        assert {m.user.email for m in draft.organisation.memberships} == {
            "porteur@demo.grants.local"
        }
        assert queries.eligibility(draft)  # still something to finish

        [incomplete] = [a for a in files if a.status == ApplicationStatus.incomplete]
        [request] = incomplete.complement_requests
        assert request.message and request.answered_at is None
        assert request.due_on > queries.today_paris()

        [withdrawn] = [a for a in files if a.status == ApplicationStatus.withdrawn]
        assert withdrawn.withdrawn_at is not None and withdrawn.transitions[-1].reason

        by_member: dict[str, set] = {}
        for a in files:
            for m in a.organisation.memberships:
                by_member.setdefault(m.user.email, set()).add(a.status)
        assert len(by_member["porteur@demo.grants.local"]) >= 3
        assert len(by_member["cooperative@demo.grants.local"]) >= 3


def _count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_mails_one_per_event_and_recipient_without_flooding(app, demo):
    """Every e-mail of the demo is the e-mail of a notification, one per event and recipient.

    What the scenario sends, and why it is more than one per file: an assignment notice per
    review given — the 2016 call's 7 files × 2 reviews, plus the assignment withdrawn after
    the conflict (notified before the reviewer declared it), plus today's 3 —; the
    committee's decision to the member of each 2016 file's organisation (7); the complement
    request of the incomplete file (1). Then the 2016 laureates' follow-up, one e-mail per
    event to the organisation's member: their schedule ready (6), their convention to sign
    (6, the PDF attached), each payment made (7: six 2016 tranches paid in full or in part,
    two 2017 tranches — one 2016 payment is still waiting for validation), each 2016 report
    accepted (4) or returned (1); the reports handed in notify staff in the app only. That
    is 50, sent by the worker; the acknowledgements of the submissions come with their
    receipts, also made by the worker (next test)."""
    from collections import Counter

    from grants.core.models import OutgoingMail
    from grants.decisions.models import Decision
    from grants.extensions import db
    from grants.notifications.models import Notification
    from grants.reviews.models import ConflictDeclaration, Review

    with app.app_context():
        events = Counter(db.session.scalars(sa.select(Notification.event)))
        assert events["review.assigned"] == _count(db, Review) + _count(db, ConflictDeclaration)
        assert events["application.decision"] == _count(db, Decision) == 7
        assert events["application.complements_requested"] == 1
        mails = _count(db, OutgoingMail)
        assert events["award.schedule_ready"] == events["award.convention_ready"] == 6
        assert events["payment.made"] == 7
        assert mails == _count(db, Notification, Notification.mail_id.is_not(None))
        assert mails <= 50


def test_the_worker_makes_every_receipt(app, demo):
    """What ``python3 dev.py start`` does right after ``grants demo``, run in-process: the
    receipts, each with its acknowledgement (PDF attached) to the organisation's member —
    62 e-mails in all with those of the previous test, for 13 files and 9 accounts."""
    from grants.applications.tasks import make_receipt
    from grants.core.models import OutgoingMail
    from grants.core.storage import get_storage
    from grants.extensions import db
    from grants.notifications.models import Notification

    with app.app_context():
        submitted = [a for a in _files(db) if a.submitted_at is not None]
        jobs = [(a.id, a.reference, a.submitted_at.isoformat()) for a in submitted]
    assert len(jobs) >= 6
    with app.app_context():
        assert [make_receipt(*job) for job in jobs] == ["made"] * len(jobs)
        db.session.remove()
        for a in _files(db):
            if a.submitted_at is not None:
                assert get_storage().read(a.receipt_key).startswith(b"%PDF")
        acknowledged = _count(db, Notification, Notification.event == "application.submitted")
        assert acknowledged == len(jobs)
        assert _count(db, OutgoingMail) <= 62


def test_a_second_run_changes_nothing(app):
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    first_output = run_demo(app)
    before = table_counts(app)
    with app.app_context():
        audit_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
        files_before = [(a.id, a.status, a.reference, a.updated_at) for a in _files(db)]

    second_output = run_demo(app)
    assert table_counts(app) == before
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == audit_before
        assert [(a.id, a.status, a.reference, a.updated_at) for a in _files(db)] == files_before
    assert second_output == first_output
    for email in DEMO_EMAILS:
        assert email in second_output
    assert "Comptes de démonstration" in second_output


def log_in_as(app, client, email: str) -> None:
    """Open a session for ``email`` without the login form (argon2 is slow; the form itself
    is tested with the demo accounts below)."""
    import time

    from grants.accounts.operations import find_user_by_email

    with app.app_context():
        user = find_user_by_email(email)
        user_id = user.get_id()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
        session["login_at"] = session["seen_at"] = int(time.time())


def test_demo_accounts_log_in_through_the_form(app, demo, login):
    client = app.test_client()
    login(client, "porteur@demo.grants.local", demo_password(app, "applicant"))
    assert client.get("/dossiers").status_code == 200


def test_pages_render_for_the_demo_accounts(app, demo):
    from grants.applications.models import ApplicationStatus
    from grants.extensions import db

    with app.app_context():
        files = [
            (a.id, a.status, a.title, a.reference, a.call_id, a.call.reference_prefix)
            for a in _files(db)
        ]
        members = {a.id: {m.user.email for m in a.organisation.memberships} for a in _files(db)}
        calls = {prefix: call.id for prefix, call in _calls(db).items()}

    porteur = app.test_client()
    log_in_as(app, porteur, "porteur@demo.grants.local")
    page = porteur.get("/dossiers").get_data(as_text=True)
    for file_id, _status, title, _ref, _call, _prefix in files:
        mine = "porteur@demo.grants.local" in members[file_id]
        assert (str(escape(title)) in page) == mine, title
        if mine:
            assert porteur.get(f"/dossiers/{file_id}").status_code == 200
        else:
            assert porteur.get(f"/dossiers/{file_id}").status_code in (403, 404)
    [draft_id] = [f[0] for f in files if f[1] == ApplicationStatus.draft]
    assert porteur.get(f"/dossiers/{draft_id}/etapes/budget").status_code == 200

    staff = app.test_client()
    log_in_as(app, staff, "agent@demo.grants.local")
    for prefix, call_id in calls.items():
        page = staff.get(f"/gestion/appels/{call_id}/dossiers").get_data(as_text=True)
        for _id, _status, _title, reference, file_call, _p in files:
            if file_call == call_id and reference:
                assert reference in page, (prefix, reference)
    incomplete = next(f for f in files if f[1] == ApplicationStatus.incomplete)
    assert staff.get(f"/gestion/dossiers/{incomplete[0]}").status_code == 200

    public = app.test_client()
    listing = public.get("/appels").get_data(as_text=True)
    assert str(escape("Aide à l'investissement 2016")) in listing
    assert "Appel à projets ESS 2023 — secteurs prioritaires" in listing
    page = public.get(f"/appels/{calls['AAP-2016']}").get_data(as_text=True)
    assert "60 000" in page and "55 000" in page and "50 000" in page


def test_the_open_calls_accept_a_new_file_until_their_closing(app, demo):
    """The 2023 call stays open for 45 days: a demo applicant can start a file today."""
    from grants.core.db import utcnow
    from grants.extensions import db

    with app.app_context():
        call = _calls(db)["AAP-2023"]
        now = utcnow()
        assert call.opens_at <= now - timedelta(days=6)
        assert call.closes_at >= now + timedelta(days=44)


# --- reviews, decisions, budget lines ---------------------------------------------------------


def _plain(page: str) -> str:
    """Amounts are grouped with narrow no-break spaces: compare with plain ones."""
    return page.replace("\u202f", " ").replace("\xa0", " ")


def _user(email: str):
    from grants.accounts.operations import find_user_by_email

    return find_user_by_email(email)


def test_reviewers_with_their_role_links_and_pools(app, demo):
    from grants.core.enums import Role
    from grants.extensions import db
    from grants.reviews import queries
    from grants.reviews.models import LinkKind, ReviewerLink

    output = demo
    reviewers = [e for e in DEMO_EMAILS if e.startswith("evaluatrice") or "@jury." in e]
    with app.app_context():
        for email in reviewers:
            user = _user(email)
            assert user.has_role(Role.reviewer) and not user.is_staff, email
            assert re.search(rf"Évaluateur\s+{re.escape(email)}\s+mot de passe : demo-", output)
        assert {u.email for u in queries.reviewer_users()} == set(reviewers)
        for prefix, call in _calls(db).items():
            assert len(queries.pool_ids(call.id)) >= 3, prefix
        links = {
            (link.reviewer.email, link.kind): link
            for link in db.session.scalars(sa.select(ReviewerLink))
        }
        board = links[("m.durand@jury.demo.grants.local", LinkKind.board_member)]
        assert board.organisation.name == "Les Jardins de la Jalle"
        employee = links[("s.nguyen@jury.demo.grants.local", LinkKind.employee)]
        assert employee.organisation_id is None
        assert employee.organisation_name == "Région Nouvelle-Aquitaine"


def test_conflicts_declared_and_likely(app, demo):
    from grants.extensions import db
    from grants.reviews import queries
    from grants.reviews.models import ConflictDeclaration, Review

    with app.app_context():
        files = {(a.call.reference_prefix, a.organisation.name): a for a in _files(db)}
        # Declared: the board member can't be given the organisation's file …
        durand = _user("m.durand@jury.demo.grants.local")
        legumerie = files[("AAP-2016", "Les Jardins de la Jalle")]
        assert "Les Jardins de la Jalle" in queries.declared_conflict_reason(durand, legumerie)
        assert queries.is_conflicted(durand.id, legumerie)
        # … and a conflict declared on an assignment: unassigned, reassigned to another.
        [declaration] = db.session.scalars(sa.select(ConflictDeclaration)).all()
        regie = declaration.application_id
        bertrand = _user("l.bertrand@jury.demo.grants.local")
        assert declaration.reviewer_id == bertrand.id and declaration.reason
        reviewers = set(
            db.session.scalars(sa.select(Review.reviewer_id).where(Review.application_id == regie))
        )
        assert bertrand.id not in reviewers and len(reviewers) == 2
        # Likely: a declared link to a co-funder of the investment files, with its reason.
        nguyen = _user("s.nguyen@jury.demo.grants.local")
        investment = [a for (prefix, _n), a in files.items() if prefix == "AIS-2016"]
        warnings = queries.likely_conflict_map([a.id for a in investment], [nguyen])
        assert len(warnings) == len(investment) == 2
        for found in warnings.values():
            assert any(
                w.code == "cofunder_link" and "Région Nouvelle-Aquitaine" in w.message
                for w in found
            )
        assert queries.declared_conflict_reason(nguyen, investment[0]) is None
        investment_id = investment[0].id
    staff = app.test_client()
    log_in_as(app, staff, "agent@demo.grants.local")
    page = staff.get(f"/gestion/dossiers/{investment_id}/evaluations").get_data(as_text=True)
    assert "Sophie Nguyen — conflit possible" in page
    assert "cofinanceur inscrit au plan de financement" in page


def test_the_2016_call_is_reviewed_and_decided(app, demo):
    from grants.applications.models import ApplicationStatus
    from grants.calls.models import CallStatus
    from grants.decisions import queries
    from grants.decisions.models import Decision, Outcome
    from grants.extensions import db
    from grants.reviews.models import Review, ReviewStatus

    with app.app_context():
        call = _calls(db)["AAP-2016"]
        assert call.status == CallStatus.decided
        files = [a for a in _files(db) if a.call_id == call.id]
        decisions = {
            d.application_id: d
            for d in db.session.scalars(
                sa.select(Decision).where(Decision.application_id.in_([a.id for a in files]))
            )
        }
        accepted = [a for a in files if a.status == ApplicationStatus.accepted]
        rejected = [a for a in files if a.status == ApplicationStatus.rejected]
        assert 5 <= len(accepted) <= 6 and len(rejected) == 1
        assert len(files) == len(accepted) + len(rejected)
        [session] = {decisions[a.id].session for a in files}
        assert session.held_on.year == 2016 and session.deliberation_ref == "DEL-2016-0421"
        assert len(session.members_present) >= 3
        requested = {a.id: queries.requested_total(a) for a in files}
        for a in accepted:
            decision = decisions[a.id]
            assert decision.outcome == Outcome.accepted and decision.session_id == session.id
            assert Decimal("0") < decision.awarded_total <= requested[a.id]
            assert decision.decided_at.year == a.decided_at.year == 2016
            assert a.transitions[-1].to_status == ApplicationStatus.accepted
            assert a.transitions[-1].created_at.year == 2016
        [no] = rejected
        assert decisions[no.id].outcome == Outcome.rejected and decisions[no.id].reason
        awarded = sum(decisions[a.id].awarded_total for a in accepted)
        assert call.awarded_total == awarded <= Decimal("165000")
        assert call.awarded_total <= sum(y.envelope for y in call.years)
        assert any(decisions[a.id].awarded_total < requested[a.id] for a in accepted)

        criteria = {c.id for c in call.criteria}
        for a in files:
            reviews = db.session.scalars(sa.select(Review).where(Review.application_id == a.id))
            reviews = list(reviews)
            assert len(reviews) == call.reviews_required, a.reference
            for review in reviews:
                assert review.status == ReviewStatus.submitted and review.opinion is not None
                assert review.submitted_at.year == 2016 and review.summary
                assert {s.criterion_id for s in review.scores} == criteria
                assert all(s.comment and 0 <= s.score <= 5 for s in review.scores)


def test_the_applicant_and_the_public_see_the_decisions(app, demo):
    from grants.extensions import db

    with app.app_context():
        call_id = _calls(db)["AAP-2016"].id
        legumerie = next(a.id for a in _files(db) if a.title == "Légumerie solidaire de la Jalle")
    public = _plain(app.test_client().get(f"/appels/{call_id}").get_data(as_text=True))
    assert "Les Jardins de la Jalle" in public and "36 000" in public
    assert "Épicerie solidaire du Grand Parc" not in public  # not a laureate

    porteur = app.test_client()
    log_in_as(app, porteur, "porteur@demo.grants.local")
    page = _plain(porteur.get(f"/dossiers/{legumerie}").get_data(as_text=True))
    assert "36 000" in page
    for name in ("Rachida", "Nguyen", "Durand"):  # the reviewers stay anonymous
        assert name not in page


def test_the_demo_reviewer_finds_their_queue(app, demo, login):
    client = app.test_client()
    login(client, "evaluatrice@jury.demo.grants.local", demo_password(app, "reviewer"))
    page = client.get("/evaluations").get_data(as_text=True)
    assert "AAP-2023-0003" in page and "AIS-2016-0001" in page  # today's work
    assert "En cours" in page and "À faire" in page
    for reference in ("AAP-2016-0001", "AAP-2016-0006", "AAP-2016-0007"):  # 2016, submitted
        assert reference in page
    assert "Rendu" in page
    todo = client.get("/evaluations?etat=a-faire").get_data(as_text=True)
    assert "AAP-2023-0003" in todo and "AAP-2016-0001" not in todo


def test_the_draft_review_keeps_its_scores(app, demo):
    from grants.extensions import db
    from grants.reviews.models import Review, ReviewStatus

    with app.app_context():
        rachida = _user("evaluatrice@jury.demo.grants.local")
        [draft] = db.session.scalars(
            sa.select(Review).where(
                Review.reviewer_id == rachida.id, Review.status == ReviewStatus.in_progress
            )
        ).all()
        assert draft.application.call.reference_prefix == "AAP-2023"
        assert 0 < len(draft.scores) < len(draft.application.call.criteria)
        assert draft.opinion is None and draft.due_on > draft.assigned_at.date()
        review_id = draft.id
    client = app.test_client()
    log_in_as(app, client, "evaluatrice@jury.demo.grants.local")
    page = client.get(f"/evaluations/{review_id}").get_data(as_text=True)
    assert "Une filière locale du réemploi numérique" in page


def test_the_ranking_renders_for_staff(app, demo):
    from grants.extensions import db

    with app.app_context():
        call_id = _calls(db)["AAP-2016"].id
    staff = app.test_client()
    log_in_as(app, staff, "agent@demo.grants.local")
    response = staff.get(f"/gestion/appels/{call_id}/classement")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    positions = [page.index(f"AAP-2016-{n:04d}") for n in (1, 3, 2, 5, 4, 6, 7)]
    assert positions == sorted(positions)  # ranked by score, as the reasons say
    assert "DEL-2016-0421" in page
    xlsx = staff.get(f"/gestion/appels/{call_id}/classement.xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"

    reviewer = app.test_client()
    log_in_as(app, reviewer, "evaluatrice@jury.demo.grants.local")
    assert reviewer.get(f"/gestion/appels/{call_id}/classement").status_code == 403


def test_the_budget_lines_and_commitments(app, demo):
    from grants.extensions import db
    from grants.funding.models import Commitment, CommitmentKind, FundingLine

    result = app.test_cli_runner().invoke(
        args=["budget", "report", "--year", "2016", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    voted = {s["section"]: s["voted"] for s in report["sections"]}
    assert voted == {"fonctionnement": "445520.00", "investissement": "200000.00"}
    committed = {s["section"]: Decimal(s["committed"]) for s in report["sections"]}
    # CRESS 20 000 + ADIE 45 000 + Aquitaine Active 33 250 + PLIE 5 000 + 12 500 h × 1 €
    assert committed["fonctionnement"] >= Decimal("115750")

    with app.app_context():
        calls = _calls(db)
        line = db.session.get(FundingLine, calls["AAP-2016"].funding_line_id)
        assert (line.rubric, line.label) == ("appel à projets", "Appels à projets")
        line = db.session.get(FundingLine, calls["AIS-2016"].funding_line_id)
        assert line.label == "Aides immobilières"
        commitments = {
            c.line.label: c for c in db.session.scalars(sa.select(Commitment)) if c.year == 2016
        }
        plie = commitments["PLIE de Bordeaux"]
        assert plie.kind == CommitmentKind.plie and plie.amount == Decimal("17500")
        assert commitments["CRESS"].amount == Decimal("20000")
        assert commitments["ADIE"].amount == Decimal("45000")


def test_the_2016_laureates_are_scheduled_signed_paid_and_report(app, demo):
    """The follow-up of the 2016 call: degressive schedules within the envelopes (computed
    in-process), conventions signed in 2016, payments on mandates, reports accepted,
    returned and late, and the SCDL export of 2016 valid with the subsidies over 23 000 €."""
    import io

    from grants.exports.rules import validate_csv
    from grants.exports.scdl import load_schema
    from grants.extensions import db
    from grants.funding.models import Award
    from grants.payments.models import Convention, Payment, PaymentStatus, ReportStatus
    from grants.reports.queries import is_late

    with app.app_context():
        call = _calls(db)["AAP-2016"]
        envelopes = {y.year: y.envelope for y in call.years}
        awards = list(db.session.scalars(sa.select(Award).where(Award.call_id == call.id)))
        assert len(awards) == 6 and sum(a.total for a in awards) == Decimal("157000")
        per_year = dict.fromkeys(envelopes, Decimal("0"))
        for award in awards:
            amounts = [t.amount for t in sorted(award.tranches, key=lambda t: t.year)]
            assert sum(amounts) == award.total == award.allocated_total
            assert all(a > b for a, b in zip(amounts, amounts[1:], strict=False)), amounts
            for tranche in award.tranches:
                per_year[tranche.year] += tranche.amount
        assert all(per_year[year] <= envelopes[year] for year in envelopes), per_year

        conventions = list(db.session.scalars(sa.select(Convention)))
        assert len(conventions) == 6
        for convention in conventions:
            assert convention.signed_on.year == 2016 and convention.signed_copy_key

        payments = list(db.session.scalars(sa.select(Payment)))
        paid = [p for p in payments if p.status == PaymentStatus.paid]
        assert any(p.order_ref.startswith("MAND-2016-") and p.paid_on.year == 2016 for p in paid)
        assert any(p.paid_on.year == 2017 for p in paid)
        assert any(p.tranche.paid_amount < p.tranche.amount for p in paid if p.tranche.year == 2016)
        assert [p.status for p in payments].count(PaymentStatus.requested) == 1

        reports = [r for a in awards for r in _reports(db, a.id) if r.year == 2016]
        statuses = [r.status for r in reports]
        assert statuses.count(ReportStatus.accepted) == 4
        [returned] = [r for r in reports if r.status == ReportStatus.returned]
        assert returned.review_comment
        [late] = [r for r in reports if r.status == ReportStatus.due]
        assert is_late(late)

    result = app.test_cli_runner().invoke(args=["export", "scdl", "--year", "2016"])
    assert result.exit_code == 0, result.output
    rows = result.stdout.strip().splitlines()
    assert len(rows) >= 2 and "AAP-2016-0001" in result.stdout
    report = validate_csv(io.StringIO(result.stdout), load_schema())
    assert report.valid, report.lines()
    assert report.rows == 4  # 36 000, 33 000, 28 000 and 25 000 € (not 20 000 nor 15 000)


def _reports(db, award_id: int) -> list:
    from grants.payments.models import AnnualReport

    return list(
        db.session.scalars(sa.select(AnnualReport).where(AnnualReport.award_id == award_id))
    )
