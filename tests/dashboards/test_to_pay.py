"""« A tranche to pay » on the dashboard is the SQL twin of the payments' own rule
(:func:`grants.payments.rules.allowance`): for random awards — calls for projects with
any advance share, with or without release on reports, investment aid with invoices;
tranches of any year, partly requested or cancelled; conventions signed or not; reports
accepted or not — both say the same."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

AMOUNTS = ["1000", "999.99", "0.03", "12345.67", "500"]
SHARES = ["1", "0.5", "0.3333", "0", "0.25"]
INVOICES = ["0", "500", "1999.99", "40000"]


@st.composite
def scenarios(draw, this_year: int):
    kind = draw(st.sampled_from(["project_call", "investment_aid"]))
    years = sorted(draw(st.sets(st.integers(this_year - 2, this_year + 2), min_size=1, max_size=3)))
    tranches = []
    for year in years:
        amount = Decimal(draw(st.sampled_from(AMOUNTS)))
        requested = draw(
            st.sampled_from(
                [Decimal("0"), amount, (amount / 2).quantize(Decimal("0.01")), Decimal("0.01")]
            )
        )
        requested = min(requested, amount)
        tranches.append((year, amount, requested, draw(st.booleans())))
    return {
        "kind": kind,
        "advance": Decimal(draw(st.sampled_from(SHARES))),
        "release": draw(st.booleans()),
        "tranches": tranches,
        "signed": draw(st.booleans()),
        "accepted": draw(st.sets(st.sampled_from(years))),
        "invoices": Decimal(draw(st.sampled_from(INVOICES))),
    }


def _insert(app, call_id, application_id, scenario) -> int:
    from grants.core.db import utcnow
    from grants.extensions import db
    from grants.funding.models import Award, AwardStatus, Tranche, TrancheStatus
    from grants.payments.models import (
        AnnualReport,
        Convention,
        Invoice,
        InvoiceStatus,
        ReportStatus,
    )

    with app.app_context():
        tranches = [
            Tranche(
                year=year,
                amount=amount,
                requested_amount=requested,
                status=TrancheStatus.cancelled if cancelled else TrancheStatus.planned,
            )
            for year, amount, requested, cancelled in scenario["tranches"]
        ]
        total = sum((t.amount for t in tranches), Decimal("0"))
        award = Award(
            application_id=application_id,
            call_id=call_id,
            total=total,
            allocated_total=total,
            status=AwardStatus.in_payment if scenario["signed"] else AwardStatus.scheduled,
            tranches=tranches,
        )
        db.session.add(award)
        db.session.flush()
        if scenario["signed"]:
            db.session.add(
                Convention(
                    award_id=award.id,
                    reference=f"CONV-P-{award.id}",
                    signed_on=date(2016, 1, 1),
                    signed_copy_key=f"conventions/p/{award.id}",
                    signed_copy_name="c.pdf",
                )
            )
        for year in scenario["accepted"]:
            db.session.add(
                AnnualReport(
                    award_id=award.id,
                    year=year,
                    due_on=date(year + 1, 6, 30),
                    status=ReportStatus.accepted,
                    submitted_at=utcnow(),
                )
            )
        if scenario["invoices"] > 0:
            db.session.add(
                Invoice(
                    award_id=award.id,
                    supplier="Fournisseur",
                    label="Machine",
                    invoice_date=date(2016, 5, 1),
                    amount=scenario["invoices"],
                    file_key=f"invoices/p/{award.id}",
                    file_name="f.pdf",
                    file_sha256="0" * 64,
                    status=InvoiceStatus.accepted,
                )
            )
        db.session.commit()
        award_id = award.id
        db.session.remove()
    return award_id


def _payments_say(app, award_id, today) -> bool:
    from grants.extensions import db
    from grants.funding.models import Award
    from grants.payments import queries as payments
    from grants.payments import rules

    with app.app_context():
        award = db.session.get(Award, award_id)
        state = payments.fresh_state(award)
        conditions = payments.conditions_of(award.call, payments.expense_share_of(award))
        payable = any(
            rules.allowance(t, state, conditions, today).payable > 0 for t in state.tranches
        )
        db.session.remove()
    return payable


def _dashboard_says(app, award_id, today) -> bool:
    from grants.dashboards import queries
    from grants.extensions import db
    from grants.funding.models import Award

    with app.app_context():
        call_id = db.session.get(Award, award_id).call_id
        with app.test_request_context():
            _, rows = queries.awards_page(call_id=call_id, today=today)
        counts = queries.step_counts(call_id, today=today)
        db.session.remove()
    [row] = rows
    assert counts["a-verser"] == int("a-verser" in row.steps)
    return "a-verser" in row.steps


def test_to_pay_matches_the_payment_rules(
    app, create_call, create_organisation, create_application
):
    from grants.reports.queries import today_paris

    today = today_paris()
    org = create_organisation()
    calls: dict = {}

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(scenario=scenarios(today.year))
    def check(scenario):
        key = (scenario["kind"], scenario["advance"], scenario["release"])
        if key not in calls:
            calls[key] = create_call(
                kind=scenario["kind"],
                status="decided",
                advance_share=scenario["advance"],
                release_on_report=scenario["release"],
                reference_prefix=f"P-{len(calls)}",
            )
        call_id = calls[key]
        # one award per call at a time: the previous example's award is removed
        with app.app_context():
            from grants.extensions import db
            from grants.funding.models import Award

            db.session.execute(sa.delete(Award).where(Award.call_id == call_id))
            db.session.commit()
            db.session.remove()
        application_id = create_application(call_id, org, status="accepted", complete=True)
        award_id = _insert(app, call_id, application_id, scenario)
        assert _dashboard_says(app, award_id, today) == _payments_say(app, award_id, today), (
            scenario
        )

    check()
