"""The worker's stored path (issue 5, point 2), the task's body run in-process: awards from
the decisions, tranches upserted per (award, year), idempotency, redelivery, locked
tranches, overflow and the alternatives, decision changes, notifications."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.fixtures.funding import SEED_LAUREATES, SEED_TRANCHES

YEARS = (2016, 2017, 2018)
SEEDS_PROFILE = ["0.363637", "0.333333", "0.303030"]


def expected_seed_tranches():
    return {
        name: tuple((year, amount, "planned") for year, amount in zip(YEARS, row, strict=True))
        for name, row in SEED_TRANCHES.items()
    }


@pytest.fixture
def db_read(app):
    """``db_read(fn)`` → ``fn(db.session)`` in a fresh app context."""

    def _read(fn):
        from grants.extensions import db

        with app.app_context():
            try:
                return fn(db.session)
            finally:
                db.session.remove()

    return _read


def run_of(db_read, run_id):
    from grants.funding.models import ScheduleRun

    def _get(session):
        run = session.get(ScheduleRun, run_id)
        return {
            "status": run.status.value,
            "progress": run.progress,
            "total": run.total,
            "result": run.result,
            "error": run.error,
        }

    return db_read(_get)


def notifications(db_read, event="award.schedule_ready"):
    from grants.accounts.models import User
    from grants.notifications.models import Notification

    def _get(session):
        rows = session.execute(
            sa.select(User.email, Notification.occurrence, Notification.mail_id)
            .join(User, User.id == Notification.recipient_id)
            .where(Notification.event == event)
            .order_by(User.email, Notification.id)
        ).all()
        return [tuple(r) for r in rows]

    return db_read(_get)


def mails_to(db_read, address):
    """The subjects of the schedule mails to ``address`` (not the decision's)."""
    from grants.core.models import OutgoingMail

    return db_read(
        lambda s: s.scalars(
            sa.select(OutgoingMail.subject).where(
                OutgoingMail.recipient == address, OutgoingMail.subject.like("%chéancier%")
            )
        ).all()
    )


def awards(db_read, call_id):
    from grants.applications.models import Application
    from grants.funding.models import Award
    from grants.organisations.models import Organisation

    def _get(session):
        rows = session.execute(
            sa.select(
                Organisation.name,
                Award.total,
                Award.allocated_total,
                Award.status,
                Award.rank,
                Award.schedule_error,
            )
            .join(Application, Application.id == Award.application_id)
            .join(Organisation, Organisation.id == Application.organisation_id)
            .where(Award.call_id == call_id)
            .order_by(Award.rank)
        ).all()
        return {
            name: {
                "total": total,
                "allocated": allocated,
                "status": status.value,
                "rank": rank,
                "error": error,
            }
            for name, total, allocated, status, rank, error in rows
        }

    return db_read(_get)


def set_call(app, call_id, envelopes=None, **values):
    from grants.calls.models import Call, CallYear
    from grants.extensions import db

    with app.app_context():
        call = db.session.get(Call, call_id)
        for name, value in values.items():
            setattr(call, name, value)
        for year, envelope in (envelopes or {}).items():
            row = db.session.scalar(
                sa.select(CallYear).where(CallYear.call_id == call_id, CallYear.year == year)
            )
            row.envelope = Decimal(envelope)
        db.session.commit()
        db.session.remove()


def amend(app, call, file, amount):
    """A new decision on ``file`` (through the real operation, as the committee would)."""
    from grants.accounts.models import User
    from grants.decisions import queries as decision_queries
    from grants.decisions.models import Outcome
    from grants.decisions.operations import DecisionInput, decide
    from grants.extensions import db

    with app.app_context():
        decide(
            decision_queries.get_application(file.id),
            db.session.get(User, call.staff_id),
            DecisionInput(
                outcome=Outcome.accepted,
                awarded_total=Decimal(amount),
                session_id=call.session_id,
            ),
        )
        db.session.commit()
        db.session.remove()


# --- The seeds' call, end to end ---------------------------------------------------------


def test_the_seeds_call_with_six_laureates_end_to_end(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    run_id = schedule_run(call.call_id, call.staff_id)
    # Asked for: the awards exist (one per accepted file, ranked), nothing is scheduled yet.
    before = awards(db_read, call.call_id)
    assert [a["status"] for a in before.values()] == ["proposed"] * 6
    assert stored_tranches(call.call_id) == {}
    assert run_of(db_read, run_id)["status"] == "queued"

    assert run_schedule_task(run_id) == "stored"

    assert stored_tranches(call.call_id) == expected_seed_tranches()
    run = run_of(db_read, run_id)
    assert run["status"] == "done"
    assert run["progress"] == run["total"] == 6
    assert run["result"]["stored"] is True and run["result"]["fits"] is True
    assert run["result"]["totals"] == {"2016": "60000", "2017": "55000", "2018": "50000"}
    assert run["result"]["overflow"] == {"2016": "0", "2017": "0", "2018": "0"}
    assert run["result"]["conflicts"] == [] and run["result"]["errors"] == {}
    assert run["result"]["written"] == 6 and run["result"]["notified"] == 6
    after = awards(db_read, call.call_id)
    assert list(after) == [name for name, _ in SEED_LAUREATES]  # rank order
    for name, amount in SEED_LAUREATES:
        assert after[name]["total"] == after[name]["allocated"] == Decimal(amount)
        assert after[name]["status"] == "scheduled"
        assert after[name]["error"] is None


def test_laureates_are_notified_once_and_the_staff_member_in_app(
    app, db_read, laureates_call, schedule_run, run_schedule_task
):
    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))

    sent = notifications(db_read)
    assert sorted(email for email, _, _ in sent) == sorted(f.member_email for f in call.files)
    assert all(mail_id is not None for _, _, mail_id in sent)  # with its e-mail
    first = call.files[0]
    subjects = mails_to(db_read, first.member_email)
    assert subjects == [f"Dossier {first.reference} : votre échéancier de versement"]

    staff = notifications(db_read, "schedule_run.finished")
    assert [(email, mail) for email, _, mail in staff] == [(call.staff_email, None)]  # in-app
    assert mails_to(db_read, call.staff_email) == []


def test_the_mail_lists_the_tranches(app, db_read, laureates_call, schedule_run, run_schedule_task):
    from grants.core.models import OutgoingMail

    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    first = call.files[0]
    body = db_read(
        lambda s: s.scalar(
            sa.select(OutgoingMail.text_body).where(
                OutgoingMail.recipient == first.member_email,
                OutgoingMail.subject.like("%échéancier%"),
            )
        )
    )
    for amount in ("14\u202f545,00", "13\u202f333,00", "12\u202f122,00", "40\u202f000,00"):
        assert amount in body
    assert f"/dossiers/{first.id}/echeancier" in body


# --- Idempotency -----------------------------------------------------------------------------


def test_the_task_delivered_twice_leaves_one_set_and_one_notification(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    run_id = schedule_run(call.call_id, call.staff_id)
    assert run_schedule_task(run_id) == "stored"
    assert run_schedule_task(run_id) == "missing-or-finished"  # the second delivery

    assert stored_tranches(call.call_id) == expected_seed_tranches()
    tranche_count = db_read(
        lambda s: s.scalar(sa.select(sa.func.count()).select_from(sa.text("tranche")))
    )
    assert tranche_count == 18
    assert len(notifications(db_read)) == 6
    assert len(notifications(db_read, "schedule_run.finished")) == 1


def test_a_second_run_with_the_same_result_notifies_nobody(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    second = schedule_run(call.call_id, call.staff_id)

    assert run_schedule_task(second) == "stored"

    result = run_of(db_read, second)["result"]
    assert result["written"] == 0 and result["unchanged"] == 6 and result["notified"] == 0
    assert stored_tranches(call.call_id) == expected_seed_tranches()
    assert len(notifications(db_read)) == 6
    # The staff member hears of each run they asked for.
    assert len(notifications(db_read, "schedule_run.finished")) == 2


def test_a_run_redelivered_after_a_crash_resumes_and_completes_once(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches, monkeypatch
):
    """The worker dies after storing a first chunk: the message comes back, the run (still
    « running ») is resumed, and the end state is one set of tranches, one notice each."""
    from grants.funding import operations

    call = laureates_call()
    run_id = schedule_run(call.call_id, call.staff_id)
    monkeypatch.setattr(operations, "CHUNK", 2)
    real_store = operations.store_chunk
    calls = {"n": 0}

    def dying_store(plan, chunk):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")  # after the first chunk's commit
        return real_store(plan, chunk)

    monkeypatch.setattr(operations, "store_chunk", dying_store)
    with pytest.raises(SystemExit):
        run_schedule_task(run_id)
    middle = run_of(db_read, run_id)
    assert middle["status"] == "running" and middle["progress"] == 2
    assert len(stored_tranches(call.call_id)) == 2  # the first chunk only
    assert len(notifications(db_read)) == 2

    monkeypatch.setattr(operations, "store_chunk", real_store)
    assert run_schedule_task(run_id) == "stored"  # the redelivery

    assert stored_tranches(call.call_id) == expected_seed_tranches()
    assert len(notifications(db_read)) == 6
    assert sorted(e for e, _, _ in notifications(db_read)) == sorted(
        f.member_email for f in call.files
    )
    assert run_of(db_read, run_id)["status"] == "done"


def test_an_older_run_is_superseded_by_a_newer_one(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    from grants.extensions import db
    from grants.funding.operations import claim_run

    call = laureates_call()
    older = schedule_run(call.call_id, call.staff_id)
    with app.app_context():
        claim_run(older)  # picked up by a worker, then…
        db.session.commit()
        db.session.remove()
    newer = schedule_run(call.call_id, call.staff_id)  # … a newer run is asked for
    assert newer != older

    assert run_schedule_task(older) == "superseded"
    assert stored_tranches(call.call_id) == {}
    assert run_of(db_read, older)["result"]["superseded_by"] == newer
    assert run_schedule_task(newer) == "stored"
    assert stored_tranches(call.call_id) == expected_seed_tranches()


def test_a_waiting_run_is_reused(app, laureates_call, schedule_run):
    call = laureates_call()
    assert schedule_run(call.call_id, call.staff_id) == schedule_run(call.call_id, call.staff_id)


# --- Locked tranches ---------------------------------------------------------------------------


def _pay(app, call_id, organisation, year):
    """Mark a tranche paid the way payments do (requested, then paid, in full)."""
    from grants.applications.models import Application
    from grants.extensions import db
    from grants.funding.models import Award, Tranche, TrancheStatus
    from grants.organisations.models import Organisation

    with app.app_context():
        tranche = db.session.scalar(
            sa.select(Tranche)
            .join(Award, Award.id == Tranche.award_id)
            .join(Application, Application.id == Award.application_id)
            .join(Organisation, Organisation.id == Application.organisation_id)
            .where(Award.call_id == call_id, Organisation.name == organisation)
            .where(Tranche.year == year)
        )
        tranche.requested_amount = tranche.amount
        tranche.paid_amount = tranche.amount
        tranche.status = TrancheStatus.paid
        db.session.commit()
        db.session.remove()


def test_a_paid_tranche_is_never_overwritten_the_conflict_is_reported(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    first = call.files[0]
    _pay(app, call.call_id, first.name, 2016)
    amend(app, call, first, "39000")  # the committee lowers the first award
    run_id = db_read(
        lambda s: s.scalar(sa.text("SELECT max(id) FROM schedule_run"))
    )  # queued by the decision

    assert run_schedule_task(run_id) == "stored"

    stored = stored_tranches(call.call_id)
    assert stored[first.name] == (
        (2016, 14545, "paid"),
        (2017, 13333, "planned"),
        (2018, 12122, "planned"),
    )
    result = run_of(db_read, run_id)["result"]
    assert [(c["reference"], c["year"], c["status"]) for c in result["conflicts"]] == [
        (first.reference, 2016, "paid")
    ]
    assert "n'est pas modifiée" in result["conflicts"][0]["message"]
    state = awards(db_read, call.call_id)[first.name]
    assert state["total"] == state["allocated"] == Decimal("40000")  # untouched, consistent
    assert "Tranche 2016 versée" in state["error"]
    # The other laureates' schedules are stored as computed.
    assert stored[call.files[1].name] == expected_seed_tranches()[call.files[1].name]


def test_a_locked_tranche_with_the_same_amount_is_no_conflict(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    _pay(app, call.call_id, call.files[2].name, 2016)
    second = schedule_run(call.call_id, call.staff_id)

    run_schedule_task(second)

    assert run_of(db_read, second)["result"]["conflicts"] == []
    assert stored_tranches(call.call_id)[call.files[2].name][0] == (2016, 10909, "paid")


def _sign(app, call_id, organisation):
    """The award's convention is signed (its status moves on, as payments do)."""
    from grants.applications.models import Application
    from grants.extensions import db
    from grants.funding.models import Award, AwardStatus
    from grants.organisations.models import Organisation

    with app.app_context():
        award = db.session.scalar(
            sa.select(Award)
            .join(Application, Application.id == Award.application_id)
            .join(Organisation, Organisation.id == Application.organisation_id)
            .where(Award.call_id == call_id, Organisation.name == organisation)
        )
        award.status = AwardStatus.convention_signed
        db.session.commit()
        db.session.remove()


def test_a_signed_award_is_kept_as_is_and_reported_only_when_it_would_change(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    signed = call.files[1]
    _sign(app, call.call_id, signed.name)

    same = schedule_run(call.call_id, call.staff_id)
    assert run_schedule_task(same) == "stored"
    result = run_of(db_read, same)["result"]
    assert result["conflicts"] == [] and result["unchanged"] == 6

    amend(app, call, signed, "34000")  # after the signature: an amendment is needed
    changed = db_read(lambda s: s.scalar(sa.text("SELECT max(id) FROM schedule_run")))
    assert run_schedule_task(changed) == "stored"
    result = run_of(db_read, changed)["result"]
    assert [(c["reference"], c["status"]) for c in result["conflicts"]] == [
        (signed.reference, "convention_signed")
    ]
    assert "avenant" in result["conflicts"][0]["message"]
    assert stored_tranches(call.call_id)[signed.name] == expected_seed_tranches()[signed.name]
    state = awards(db_read, call.call_id)[signed.name]
    assert state["status"] == "convention_signed" and state["total"] == Decimal("35000")


# --- Overflow and the alternatives ---------------------------------------------------------------


def test_an_overflowing_table_stores_nothing_and_reports_the_alternatives(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    set_call(app, call.call_id, {2016: "30500"}, profile=SEEDS_PROFILE)
    run_id = schedule_run(call.call_id, call.staff_id)

    assert run_schedule_task(run_id) == "not-stored"

    assert stored_tranches(call.call_id) == {}
    result = run_of(db_read, run_id)["result"]
    assert result["fits"] is False and result["stored"] is False
    assert result["overflow"] == {"2016": "29500", "2017": "0", "2018": "0"}
    assert set(result["alternatives"]) == {"proportional", "by_rank"}
    for rows in result["alternatives"].values():
        assert sum(Decimal(r["tranches"]["2016"]) for r in rows) <= Decimal("30500")
    assert len(result["schedules"]) == 6  # the table that would have been stored
    assert notifications(db_read) == []
    assert [s for s in awards(db_read, call.call_id).values() if s["status"] != "proposed"] == []
    staff = db_read(
        lambda s: s.scalar(
            sa.text("SELECT subject FROM notification WHERE event = 'schedule_run.finished'")
        )
    )
    assert "dépassement" in staff


def test_an_overflow_after_a_stored_schedule_keeps_the_stored_one(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    set_call(app, call.call_id, {2016: "30500"}, profile=SEEDS_PROFILE)

    assert run_schedule_task(schedule_run(call.call_id, call.staff_id)) == "not-stored"
    assert stored_tranches(call.call_id) == expected_seed_tranches()
    assert len(notifications(db_read)) == 6


def _apply(app, call, run_id, name):
    from grants.accounts.models import User
    from grants.calls.models import Call
    from grants.extensions import db
    from grants.funding.models import ScheduleRun
    from grants.funding.operations import apply_alternative

    with app.app_context():
        new_run = apply_alternative(
            db.session.get(Call, call.call_id),
            db.session.get(ScheduleRun, run_id),
            name,
            db.session.get(User, call.staff_id),
        )
        db.session.commit()
        new_id = new_run.id
        db.session.remove()
    return new_id


def test_applying_the_proportional_alternative_stores_it(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))  # stored first (fits)
    set_call(app, call.call_id, {2016: "30500"}, profile=SEEDS_PROFILE)
    overflow_run = schedule_run(call.call_id, call.staff_id)
    run_schedule_task(overflow_run)
    proposed = {
        row["id"]: tuple(int(Decimal(v)) for v in row["tranches"].values())
        for row in run_of(db_read, overflow_run)["result"]["alternatives"]["proportional"]
    }

    new_run = _apply(app, call, overflow_run, "proportional")
    assert run_schedule_task(new_run) == "stored"

    by_reference = {f.reference: f.name for f in call.files}
    stored = stored_tranches(call.call_id)
    assert {
        by_reference[ref]: tuple(a for _, a, _ in stored[by_reference[ref]]) for ref in proposed
    } == {by_reference[ref]: row for ref, row in proposed.items()}
    state = awards(db_read, call.call_id)
    for ref, row in proposed.items():
        name = by_reference[ref]
        assert state[name]["total"] == state[name]["allocated"] == sum(row)
        assert state[name]["total"] < next(f.amount for f in call.files if f.name == name)
    assert sum(stored[name][0][1] for name in stored) <= 30500
    entries = db_read(
        lambda s: s.execute(
            sa.text("SELECT action, summary FROM audit_entry WHERE action LIKE 'schedule.%'")
        ).all()
    )
    assert ("schedule.alternative_applied",) in [(a,) for a, _ in entries]
    # Every laureate is told of the new (reduced) schedule.
    assert len(notifications(db_read)) == 12


def test_applying_the_by_rank_alternative_takes_the_last_laureates_out(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    set_call(app, call.call_id, {2016: "30500"}, profile=SEEDS_PROFILE)
    overflow_run = schedule_run(call.call_id, call.staff_id)
    run_schedule_task(overflow_run)
    rows = run_of(db_read, overflow_run)["result"]["alternatives"]["by_rank"]
    unfunded = [r["id"] for r in rows if all(Decimal(v) == 0 for v in r["tranches"].values())]
    assert unfunded  # the last ranked get nothing

    new_run = _apply(app, call, overflow_run, "by_rank")
    assert run_schedule_task(new_run) == "stored"

    references = {f.name: f.reference for f in call.files}
    stored = stored_tranches(call.call_id)
    assert sorted(references[name] for name in stored) == sorted(
        r["id"] for r in rows if r["id"] not in unfunded
    )
    # A later computation does not bring them back (until the committee decides again).
    later = schedule_run(call.call_id, call.staff_id)
    run_schedule_task(later)
    assert len(awards(db_read, call.call_id)) == 6 - len(unfunded)
    entries = db_read(
        lambda s: s.scalars(
            sa.select(sa.text("object_id"))
            .select_from(sa.text("audit_entry"))
            .where(sa.text("action = 'award.unfunded'"))
        ).all()
    )
    assert len(entries) == len(unfunded)


def test_an_alternative_of_an_outdated_run_is_refused(
    app, laureates_call, schedule_run, run_schedule_task
):
    from grants.funding.operations import ScheduleError

    call = laureates_call()
    set_call(app, call.call_id, {2016: "30500"}, profile=SEEDS_PROFILE)
    overflow_run = schedule_run(call.call_id, call.staff_id)
    run_schedule_task(overflow_run)
    schedule_run(call.call_id, call.staff_id)  # a newer run
    with pytest.raises(ScheduleError, match="plus le dernier"):
        _apply(app, call, overflow_run, "proportional")


# --- Decisions and per-award errors -------------------------------------------------------------


def test_a_decision_change_recomputes_the_schedules(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    last = call.files[-1]

    amend(app, call, last, "12000")

    runs = db_read(lambda s: s.execute(sa.text("SELECT id, status FROM schedule_run")).all())
    assert len(runs) == 2 and runs[-1][1] == "queued"
    assert run_schedule_task(runs[-1][0]) == "stored"
    state = awards(db_read, call.call_id)[last.name]
    assert state["total"] == state["allocated"] == Decimal("12000")
    assert sum(a for _, a, _ in stored_tranches(call.call_id)[last.name]) == 12000
    told = [occ for email, occ, _ in notifications(db_read) if email == last.member_email]
    assert len(told) == 2 and told[0] != told[1]  # a changed schedule is notified again


def test_a_decision_before_any_schedule_asks_for_nothing(app, db_read, laureates_call):
    laureates_call()
    assert db_read(lambda s: s.scalar(sa.text("SELECT count(*) FROM schedule_run"))) == 0


def test_an_award_that_cannot_be_scheduled_gets_its_error(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call([("Grande structure", "40000"), ("Petite structure", "4")], ceiling=None)
    run_id = schedule_run(call.call_id, call.staff_id)
    assert run_schedule_task(run_id) == "stored"

    result = run_of(db_read, run_id)["result"]
    small = call.files[1]
    assert "trop faible" in result["errors"][small.reference]
    state = awards(db_read, call.call_id)
    assert "trop faible" in state[small.name]["error"]
    assert state[small.name]["status"] == "proposed"
    assert list(stored_tranches(call.call_id)) == ["Grande structure"]


def test_invalid_call_settings_fail_the_run_with_a_message(
    app, db_read, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call()
    set_call(app, call.call_id, {2016: "30500"}, profile=None)  # no derivable profile
    run_id = schedule_run(call.call_id, call.staff_id)

    assert run_schedule_task(run_id) == "failed"

    run = run_of(db_read, run_id)
    assert run["status"] == "failed"
    assert "profil dégressif ne peut pas être dérivé" in run["error"]
    assert stored_tranches(call.call_id) == {}


def test_schedules_need_a_closed_or_decided_call(app, laureates_call, schedule_run):
    from grants.funding.operations import ScheduleError

    call = laureates_call()
    set_call(app, call.call_id, status="archived")
    with pytest.raises(ScheduleError, match="clos ou décidé"):
        schedule_run(call.call_id, call.staff_id)
