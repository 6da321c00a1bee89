"""Staff: the list of a call's files (filters, counts, bounded queries), the file view,
complements, instruction, eligibility override; the applicant's withdrawal."""

from __future__ import annotations

import html
from datetime import timedelta

import sqlalchemy as sa

from grants.applications.models import Application, ApplicationTransition, ComplementRequest
from grants.audit.models import AuditEntry
from grants.core.db import utcnow
from tests.applications.conftest import csrf
from tests.fixtures.accounts import mail_text
from tests.fixtures.notifications import attachment_names


def _page(response) -> str:
    return (
        html.unescape(response.get_data(as_text=True)).replace("\u202f", " ").replace("\xa0", " ")
    )


def _bulk_applications(app, call_id, org_ids, count):
    """``count`` files on the call, inserted at once (statuses, sectors and communes mixed)."""
    from grants.extensions import db

    now = utcnow()
    rows = []
    with app.app_context():
        from grants.calls.models import Call

        prefix = db.session.get(Call, call_id).reference_prefix
        for n in range(count):
            submitted = n % 3 != 0
            rows.append(
                {
                    "call_id": call_id,
                    "organisation_id": org_ids[n % len(org_ids)],
                    "status": "submitted" if submitted else "draft",
                    "title": f"Projet {n}",
                    "sector": ["Économie circulaire", "Économie de proximité"][n % 2],
                    "territory": ["33281"] if n % 5 == 0 else [],
                    "sequence": n + 1 if submitted else None,
                    "reference": f"{prefix}-{n + 1:04d}" if submitted else None,
                    "submitted_at": now if submitted else None,
                    "in_qpv": False,
                    "certified": False,
                    "approvals": "",
                    "summary": "",
                    "objectives": "",
                    "target_public": "",
                    "innovation": "",
                    "partners": "",
                    "signatory_name": "",
                    "signatory_role": "",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        db.session.execute(sa.insert(Application), rows)
        db.session.commit()
        db.session.remove()


def test_staff_list_filters_and_counts(
    app, staff_client, create_call, create_organisation, create_application
):
    call_id = create_call(reference_prefix="AAP-2016")
    bordeaux = create_organisation(name="Bordeaux Recyclage", commune_insee="33063")
    merignac = create_organisation(name="Mérignac Services", commune_insee="33281")
    create_application(
        call_id, bordeaux, status="submitted", title="Atelier vélo", sector="Économie circulaire"
    )
    create_application(
        call_id, merignac, status="under_review", title="Épicerie", sector="Économie de proximité"
    )
    create_application(call_id, bordeaux, title="Brouillon en cours", territory=["33281"])
    create_application(
        call_id, merignac, status="submitted", title="Refusé au guichet",
        eligibility_override=False, eligibility_override_reason="Hors champ",
    )  # fmt: skip
    other_call = create_call()
    create_application(other_call, bordeaux, status="submitted", title="Autre appel")

    url = f"/gestion/appels/{call_id}/dossiers"
    page = _page(staff_client.get(url))
    assert "4 dossiers." in page
    assert "Autre appel" not in page
    assert "Déposé</a> : <strong>2</strong>" in page
    assert "En instruction</a> : <strong>1</strong>" in page
    assert "Brouillon</a> : <strong>1</strong>" in page

    def titles(**args):
        response = staff_client.get(url, query_string=args)
        assert response.status_code == 200
        text = _page(response)
        return {
            t
            for t in ("Atelier vélo", "Épicerie", "Brouillon en cours", "Refusé au guichet")
            if t in text
        }

    assert titles(statut="submitted") == {"Atelier vélo", "Refusé au guichet"}
    assert titles(secteur="Économie de proximité") == {"Épicerie"}
    # commune: the organisation's seat or one of the project's communes
    assert titles(commune="33281") == {"Épicerie", "Refusé au guichet", "Brouillon en cours"}
    assert titles(recevabilite="ineligible") == {"Refusé au guichet"}
    assert titles(recevabilite="eligible") == {"Atelier vélo", "Épicerie"}
    assert titles(recevabilite="unchecked") == {"Brouillon en cours"}
    # counts follow the other filters
    page = _page(staff_client.get(url, query_string={"commune": "33281"}))
    assert (
        "Déposé</a> : <strong>1</strong>" in page and "Brouillon</a> : <strong>1</strong>" in page
    )
    assert staff_client.get("/gestion/appels/999999/dossiers").status_code == 404


def test_staff_list_runs_the_same_number_of_queries_with_10_and_1000_files(
    app, staff_client, create_call, create_organisation, count_queries
):
    small = create_call()
    large = create_call()
    orgs = [create_organisation(name=f"Structure {n}") for n in range(4)]
    _bulk_applications(app, small, orgs, 10)
    _bulk_applications(app, large, orgs, 1000)
    counts = {}
    for call_id, size in ((small, 10), (large, 1000)):
        staff_client.get(f"/gestion/appels/{call_id}/dossiers")  # warm caches
        with count_queries() as counter:
            response = staff_client.get(f"/gestion/appels/{call_id}/dossiers?commune=33063")
        assert response.status_code == 200
        counts[size] = counter["n"]
        with count_queries() as counter:
            response = staff_client.get(f"/gestion/appels/{call_id}/dossiers?page=2")
        assert response.status_code == 200
        counts[(size, 2)] = counter["n"]
    assert counts[10] == counts[1000], counts
    assert counts[(10, 2)] == counts[(1000, 2)], counts
    assert counts[1000] <= 12


def test_staff_file_view_shows_every_section(
    app, staff_client, applicant, create_call, create_application
):
    call_id = create_call()
    _client, _user, org_id = applicant(name="La Recyclerie", has_economic_activity=True)
    app_id = create_application(call_id, org_id, status="submitted", complete=True, certified=False)
    page = _page(staff_client.get(f"/gestion/dossiers/{app_id}"))
    for text in (
        "La Recyclerie",
        "Recyclerie solidaire",
        "Budget du projet",
        "64 – Charges de personnel",
        "Aides de minimis",
        "Statuts de la structure",
        "Historique",
        "Attestation : cochez la case",  # live eligibility result
        "Demander des compléments",
        "Mettre en instruction",
    ):
        assert text in page, text


def test_mark_under_review(app, staff_client, applicant, create_call, create_application, load):
    call_id = create_call()
    _client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, status="submitted")
    token = csrf(staff_client, f"/gestion/dossiers/{app_id}")
    response = staff_client.post(
        f"/gestion/dossiers/{app_id}/instruction", data={"csrf_token": token}
    )
    assert response.status_code == 302
    assert load(Application, app_id).status.value == "under_review"
    # not twice
    staff_client.post(f"/gestion/dossiers/{app_id}/instruction", data={"csrf_token": token})
    with app.app_context():
        from grants.extensions import db

        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApplicationTransition)) == 1


def test_complements_round_trip(
    app, staff_client, applicant, create_call, create_application, load, mails_to, run_receipt
):
    call_id = create_call(reference_prefix="AAP-2016")
    client, _user, org_id = applicant("porteur@example.org")
    app_id = create_application(call_id, org_id, complete=True)
    token = csrf(client, f"/dossiers/{app_id}")
    assert (
        client.post(f"/dossiers/{app_id}/etapes/deposer", data={"csrf_token": token}).status_code
        == 302
    )
    reference = load(Application, app_id).reference

    staff_token = csrf(staff_client, f"/gestion/dossiers/{app_id}")
    due = (utcnow() + timedelta(days=15)).date()
    # a message is required, and the due date can't be in the past
    response = staff_client.post(
        f"/gestion/dossiers/{app_id}/complements",
        data={"csrf_token": staff_token, "message": " ", "due_on": "01/01/2000"},
    )
    assert response.status_code == 422
    page = _page(response)
    assert "Indiquez les compléments attendus." in page
    assert load(Application, app_id).status.value == "submitted"
    response = staff_client.post(
        f"/gestion/dossiers/{app_id}/complements",
        data={
            "csrf_token": staff_token,
            "message": "Joignez le budget 2017 signé.",
            "due_on": due.isoformat(),
        },
    )
    assert response.status_code == 302
    assert load(Application, app_id).status.value == "incomplete"
    mails = mails_to("porteur@example.org")
    complement_mail = mails[-1]
    assert complement_mail["Subject"] == f"Dossier {reference} : compléments demandés"
    assert "Joignez le budget 2017 signé." in mail_text(complement_mail)

    # the applicant sees the message, edits, submits again
    dashboard = _page(client.get("/dossiers"))
    assert "Messages du service" in dashboard and "Joignez le budget 2017 signé." in dashboard
    url = f"/dossiers/{app_id}/etapes/projet"
    page = _page(client.get(url))
    assert "Joignez le budget 2017 signé." in page
    response = client.post(
        url,
        data={
            "csrf_token": csrf(client, url),
            "title": "Recyclerie solidaire (complété)",
            "summary": "Résumé",
            "objectives": "Objectifs",
            "sector": "Économie circulaire",
            "territory": ["33063"],
            "start_date": "2016-01-01",
            "end_date": "2018-12-31",
        },
    )
    assert response.status_code == 302
    assert (
        client.post(f"/dossiers/{app_id}/etapes/deposer", data={"csrf_token": token}).status_code
        == 302
    )
    application = load(Application, app_id)
    assert application.status.value == "submitted"
    assert application.reference == reference  # same reference
    assert application.snapshot["answers"]["title"] == "Recyclerie solidaire (complété)"
    with app.app_context():
        from grants.extensions import db

        (request,) = db.session.scalars(sa.select(ComplementRequest)).all()
        assert request.answered_at is not None
        steps = [
            (t.from_status.value, t.to_status.value)
            for t in db.session.scalars(
                sa.select(ApplicationTransition).order_by(ApplicationTransition.id)
            )
        ]
        assert steps == [
            ("draft", "submitted"),
            ("submitted", "incomplete"),
            ("incomplete", "submitted"),
        ]
        db.session.remove()
    history = _page(staff_client.get(f"/gestion/dossiers/{app_id}"))
    assert "Demande de compléments n° 1" in history and "Répondue le" in history
    assert "Dépôt après compléments" in history
    # the receipt of the new submission comes with its PDF, once the worker made it
    assert run_receipt(app_id) == "made"
    receipt_mail = mails_to("porteur@example.org")[-1]
    assert receipt_mail["Subject"] == f"Accusé de réception du dossier {reference}"
    assert "déposé de nouveau, avec les compléments demandés" in mail_text(receipt_mail)
    assert attachment_names(receipt_mail) == [f"accuse-de-reception-{reference}.pdf"]


def test_eligibility_override_needs_a_reason_and_is_audited(
    app, staff_client, applicant, create_call, create_application, load
):
    call_id = create_call()
    _client, _user, org_id = applicant()
    app_id = create_application(call_id, org_id, status="submitted")
    token = csrf(staff_client, f"/gestion/dossiers/{app_id}")
    url = f"/gestion/dossiers/{app_id}/recevabilite"
    response = staff_client.post(
        url, data={"csrf_token": token, "decision": "ineligible", "reason": ""}
    )
    assert response.status_code == 422
    assert "Indiquez le motif de la décision." in _page(response)
    assert load(Application, app_id).eligibility_override is None
    response = staff_client.post(
        url, data={"csrf_token": token, "decision": "ineligible", "reason": "Siège hors métropole"}
    )
    assert response.status_code == 302
    application = load(Application, app_id)
    assert application.eligibility_override is False
    assert application.eligibility_override_reason == "Siège hors métropole"
    with app.app_context():
        from grants.extensions import db

        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "application.eligibility_override")
        )
        assert entry.changes["eligibility_override"] == [None, False]
        assert entry.changes["eligibility_override_reason"][1] == "Siège hors métropole"


def test_withdraw(app, applicant, create_call, create_application, load):
    call_id = create_call()
    client, user_id, org_id = applicant()
    app_id = create_application(call_id, org_id, status="under_review")
    url = f"/dossiers/{app_id}/retirer"
    response = client.post(url, data={"csrf_token": csrf(client, url), "reason": ""})
    assert response.status_code == 422
    assert "Indiquez pourquoi vous retirez le dossier." in _page(response)
    response = client.post(
        url, data={"csrf_token": csrf(client, url), "reason": "Projet abandonné"}
    )
    assert response.status_code == 302
    application = load(Application, app_id)
    assert application.status.value == "withdrawn" and application.withdrawn_at is not None
    with app.app_context():
        from grants.extensions import db

        transition = db.session.scalar(sa.select(ApplicationTransition))
        assert (transition.to_status.value, transition.reason, transition.actor_id) == (
            "withdrawn",
            "Projet abandonné",
            user_id,
        )
    # not after a decision, not twice
    assert client.get(url).status_code == 403
    decided = create_application(call_id, org_id, status="accepted")
    assert client.get(f"/dossiers/{decided}/retirer").status_code == 403


def test_resubmission_after_the_complements_due_date_is_refused(
    app, applicant, create_call, create_application, load
):
    """After complements, the call's closing time no longer applies, the due date does."""
    now = utcnow()
    call_id = create_call(opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=30))
    client, _user, org_id = applicant()
    late = create_application(call_id, org_id, status="incomplete", complete=True)
    on_time = create_application(call_id, org_id, status="incomplete", complete=True)
    with app.app_context():
        from grants.extensions import db

        db.session.add_all(
            [
                ComplementRequest(
                    application_id=late, message="RIB", due_on=(now - timedelta(days=2)).date()
                ),
                ComplementRequest(
                    application_id=on_time, message="RIB", due_on=(now + timedelta(days=2)).date()
                ),
            ]
        )
        db.session.commit()
        db.session.remove()
    token = csrf(client, f"/dossiers/{late}")
    response = client.post(f"/dossiers/{late}/etapes/deposer", data={"csrf_token": token})
    assert response.status_code == 409
    assert "Le délai pour apporter les compléments demandés a expiré" in _page(response)
    assert load(Application, late).status.value == "incomplete"
    response = client.post(f"/dossiers/{on_time}/etapes/deposer", data={"csrf_token": token})
    assert response.status_code == 302
    assert load(Application, on_time).status.value == "submitted"
