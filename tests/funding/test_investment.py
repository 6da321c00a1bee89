"""Investment aid (issue 5, point 4): the payment rule and the cap as pure rules (property
tests), then the stored path: the award capped by the share of the eligible expenses and
the ceiling, its tranches per year of works, the de minimis block and its override."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from grants.funding.investment import (
    capped_total,
    compute_for_call,
    investment_schedule,
    payment_years_of,
    split_investment,
)
from grants.funding.rules import ScheduleAward, ScheduleInputError, column_totals

D = Decimal
YEARS = [2016, 2017, 2018]
UNITS = st.sampled_from([D("1"), D("0.01"), D("10"), D("100")])


# --- The split of one award ------------------------------------------------------------------


def test_an_even_split_puts_the_remainder_on_the_first_year():
    assert split_investment(D("10001"), YEARS) == {
        2016: D("3335"),
        2017: D("3333"),
        2018: D("3333"),
    }
    assert split_investment(D("100000"), [2016, 2017]) == {2016: D("50000"), 2017: D("50000")}
    assert split_investment(D("60000"), [2016]) == {2016: D("60000")}


def test_a_split_follows_the_works_of_each_year():
    works = {2016: D("150000"), 2017: D("50000"), 2018: D("0")}
    assert split_investment(D("100000"), YEARS, works=works) == {
        2016: D("75000"),
        2017: D("25000"),
        2018: D("0"),
    }


def test_a_split_refuses_an_amount_that_is_not_a_multiple_of_the_unit():
    with pytest.raises(ValueError):
        split_investment(D("100.50"), YEARS, unit=D("1"))


@settings(max_examples=400, deadline=None)
@given(
    units=st.integers(min_value=1, max_value=10**9),
    unit=UNITS,
    count=st.integers(min_value=1, max_value=5),
)
def test_property_an_even_split_is_exact_and_even(units, unit, count):
    years = list(range(2016, 2016 + count))
    amount = unit * units
    split = split_investment(amount, years, unit)
    values = list(split.values())
    assert sum(values) == amount
    assert all(v % unit == 0 and v >= 0 for v in values)
    assert len(set(values[1:])) <= 1  # the later years are equal…
    assert 0 <= values[0] - values[-1] < unit * count  # … the first takes the remainder


@settings(max_examples=400, deadline=None)
@given(
    units=st.integers(min_value=1, max_value=10**9),
    unit=UNITS,
    works=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=5).filter(any),
)
def test_property_a_split_by_works_is_exact_and_within_one_unit(units, unit, works):
    years = list(range(2016, 2016 + len(works)))
    amount = unit * units
    split = split_investment(
        amount, years, unit, works=dict(zip(years, map(D, works), strict=True))
    )
    assert sum(split.values()) == amount
    total = sum(works)
    for year, w in zip(years, works, strict=True):
        ideal = Fraction(units * w, total)
        assert abs(Fraction(split[year] / unit) - ideal) < 1


# --- The table of a call ------------------------------------------------------------------


def test_the_payment_years_start_with_the_first_budget_year():
    assert payment_years_of([2018, 2016, 2017], 2) == [2016, 2017]
    assert payment_years_of(YEARS, None) == [2016]
    with pytest.raises(ScheduleInputError, match="que 3 années"):
        payment_years_of(YEARS, 4)


def test_relais_and_inter_challenge_over_two_years_of_works():
    """The seeds' examples: Le Relais 100,000 EUR, Bordeaux Inter Challenge 60,000 EUR."""
    envelopes = {2016: D("159000"), 2017: D("159000"), 2018: D("159000")}
    awards = [ScheduleAward("relais", D("100000"), 1), ScheduleAward("bic", D("60000"), 2)]
    result = investment_schedule(envelopes, awards, payment_years=2)
    assert result.fits and result.alternatives is None
    assert {r.id: r.tranches for r in result.rows} == {
        "relais": {2016: D("50000"), 2017: D("50000")},
        "bic": {2016: D("30000"), 2017: D("30000")},
    }
    assert result.totals == {2016: D("80000"), 2017: D("80000"), 2018: D("0")}


def test_an_overflowing_investment_table_proposes_both_alternatives():
    awards = [
        ScheduleAward("a", D("100000"), 1),
        ScheduleAward("b", D("60000"), 2),
        ScheduleAward("c", D("40000"), 3),
    ]
    exact = investment_schedule({2016: D("100000"), 2017: D("100000")}, awards, payment_years=2)
    assert exact.fits and exact.totals == {2016: D("100000"), 2017: D("100000")}

    tight = investment_schedule({2016: D("90000"), 2017: D("100000")}, awards, payment_years=2)

    assert not tight.fits and tight.overflow == {2016: D("10000"), 2017: D("0")}
    proportional = {r.id: r.total for r in tight.alternatives["proportional"]}
    assert proportional == {"a": D("90000"), "b": D("54000"), "c": D("36000")}
    by_rank = {r.id: r.tranches for r in tight.alternatives["by_rank"]}
    assert by_rank == {
        "a": {2016: D("50000"), 2017: D("50000")},
        "b": {2016: D("30000"), 2017: D("30000")},
        "c": {2016: D("10000"), 2017: D("10000")},  # what is left of 2016
    }


AWARDS = st.lists(
    st.tuples(st.integers(min_value=1, max_value=200_000), st.integers(min_value=1, max_value=50)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    amounts=AWARDS,
    envelopes=st.lists(st.integers(min_value=0, max_value=3_000_000), min_size=1, max_size=5),
    data=st.data(),
)
def test_property_investment_tables(amounts, envelopes, data):
    years = list(range(2016, 2016 + len(envelopes)))
    payment_years = data.draw(st.integers(min_value=1, max_value=len(years)))
    env = {y: D(e) for y, e in zip(years, envelopes, strict=True)}
    awards = [ScheduleAward(f"A{n:03d}", D(a), r) for n, (a, r) in enumerate(amounts)]
    result = investment_schedule(env, awards, payment_years=payment_years)
    paid = years[:payment_years]
    for row, award in zip(result.rows, sorted(awards, key=lambda a: (a.rank, a.id)), strict=True):
        assert row.id == award.id  # the canonical order
        assert sum(row.tranches.values()) == award.amount  # exact
        assert list(row.tranches) == paid
    totals = column_totals(result.rows, years)
    assert result.totals == totals
    assert result.fits == all(totals[y] <= env[y] for y in years)
    # Shuffling the awards changes nothing.
    shuffled = list(awards)
    random.Random(len(awards)).shuffle(shuffled)
    assert investment_schedule(env, shuffled, payment_years=payment_years) == result
    if result.fits:
        assert result.alternatives is None
        return
    for name, rows in result.alternatives.items():
        sums = column_totals(rows, years)
        assert all(sums[y] <= env[y] for y in years), name  # both alternatives hold
        for row, award in zip(rows, result.rows, strict=True):
            assert 0 <= row.total <= award.total
            assert sum(row.tranches.values()) == row.total
    # By rank: full awards, then at most one partial, then nothing.
    granted = [
        (r.total, a.total) for r, a in zip(result.alternatives["by_rank"], result.rows, strict=True)
    ]
    partial_seen = False
    for got, asked in granted:
        if partial_seen:
            assert got == 0
        elif got < asked:
            partial_seen = True


# --- The cap -----------------------------------------------------------------------------------


def test_the_cap_is_the_share_of_the_eligible_expenses_and_the_ceiling():
    total, warning = capped_total(
        D("60000"), max_share=D("0.5"), eligible_expenses=D("100000"), ceiling=None
    )
    assert total == D("50000") and "50 % des dépenses éligibles" in warning
    total, warning = capped_total(
        D("120000"), max_share=D("0.5"), eligible_expenses=D("300000"), ceiling=D("100000")
    )
    assert total == D("100000") and "plafond" in warning
    assert capped_total(
        D("40000"), max_share=D("0.5"), eligible_expenses=D("100000"), ceiling=D("100000")
    ) == (D("40000"), None)
    # Rounded down to the unit: never above the cap (0.3333 × 100,001 = 33,330.33).
    total, _ = capped_total(
        D("99999"), max_share=D("0.3333"), eligible_expenses=D("100001"), ceiling=None
    )
    assert total == D("33330")


def test_compute_for_call_picks_the_rule_of_the_call():
    envelopes = {2016: D("60000"), 2017: D("55000"), 2018: D("50000")}
    awards = [ScheduleAward("a", D("30000"), 1)]
    degressive = compute_for_call("project_call", envelopes, awards)
    assert list(degressive.rows[0].tranches.values()) == [D("10909"), D("10000"), D("9091")]
    invest = compute_for_call("investment_aid", envelopes, awards, payment_years=3)
    assert list(invest.rows[0].tranches.values()) == [D("10000"), D("10000"), D("10000")]


# --- Stored: an investment aid call -------------------------------------------------------------

INVESTMENT = {
    "kind": "investment_aid",
    "years": {2016: "159000", 2017: "159000", 2018: "159000"},
    "max_expense_share": D("0.5"),
    "ceiling": D("100000"),
    "payment_years": 2,
}
RELAIS = (
    "Le Relais Gironde",
    "100000",
    {"expenses": [("Ligne de tri", "250000", True), ("Terrain", "50000", False)]},
)
BIC = ("Bordeaux Inter Challenge", "60000", {"expenses": [("Aménagement", "100000", True)]})


def _awards(app, call_id):
    from grants.applications.models import Application
    from grants.extensions import db
    from grants.funding.models import Award
    from grants.organisations.models import Organisation

    with app.app_context():
        rows = db.session.execute(
            sa.select(Organisation.name, Award.id, Award.total, Award.status, Award.schedule_error)
            .join(Application, Application.id == Award.application_id)
            .join(Organisation, Organisation.id == Application.organisation_id)
            .where(Award.call_id == call_id)
        ).all()
        db.session.remove()
    return {
        name: (award_id, total, status.value, error)
        for name, award_id, total, status, error in rows
    }


def _result(app, run_id):
    from grants.extensions import db
    from grants.funding.models import ScheduleRun

    with app.app_context():
        result = db.session.get(ScheduleRun, run_id).result
        db.session.remove()
    return result


def test_an_investment_award_is_capped_and_paid_per_year_of_works(
    app, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call([RELAIS, BIC], **INVESTMENT)
    run_id = schedule_run(call.call_id, call.staff_id)

    assert run_schedule_task(run_id) == "stored"

    awards = _awards(app, call.call_id)
    assert awards["Le Relais Gironde"][1] == D("100000")  # 50 % of 250,000, ceiling 100,000
    assert awards["Bordeaux Inter Challenge"][1] == D("50000")  # 50 % of 100,000 < 60,000
    assert stored_tranches(call.call_id) == {
        "Bordeaux Inter Challenge": ((2016, 25000, "planned"), (2017, 25000, "planned")),
        "Le Relais Gironde": ((2016, 50000, "planned"), (2017, 50000, "planned")),
    }
    warnings = _result(app, run_id)["warnings"]
    bic = next(f for f in call.files if f.name == "Bordeaux Inter Challenge")
    assert "plafonnée à 50" in warnings[bic.reference]
    assert "50 % des dépenses éligibles" in warnings[bic.reference]


def test_the_schedules_page_shows_the_funding_plan_of_an_investment_aid(
    app, client, login, laureates_call, schedule_run, run_schedule_task
):
    call = laureates_call([BIC], **INVESTMENT)
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    login(client, call.staff_email)

    page = client.get(f"/gestion/appels/{call.call_id}/echeanciers").get_data(as_text=True)

    assert "Dépenses éligibles : 100\u202f000,00" in page
    # The authority asks 60,000 of a 100,000 programme, all eligible.
    assert "60,00 % des dépenses éligibles" in page
    assert "60,00 % du coût total (100\u202f000,00" in page
    assert "Plafond : 50\u202f000,00" in page
    assert "versée en 2 tranches annuelles" in page


# --- De minimis ---------------------------------------------------------------------------


def _declare_aid(app, org_id, amount, days_ago=365, regime="general"):
    from grants.applications.models import DeMinimisAid, DeMinimisRegime
    from grants.core.db import utcnow
    from grants.extensions import db

    with app.app_context():
        db.session.add(
            DeMinimisAid(
                organisation_id=org_id,
                granted_on=(utcnow() - timedelta(days=days_ago)).date(),
                funder="Région Nouvelle-Aquitaine",
                amount=D(amount),
                regime=DeMinimisRegime(regime),
            )
        )
        db.session.commit()
        db.session.remove()


ECONOMIC_BIC = (
    "Bordeaux Inter Challenge",
    "60000",
    {"economic": True, "expenses": [("Aménagement", "200000", True)]},
)


def test_de_minimis_blocks_an_award_that_would_pass_the_cap(
    app, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call([RELAIS, ECONOMIC_BIC], **INVESTMENT)
    bic = call.files[1]
    _declare_aid(app, bic.org_id, "250000")  # + 60,000 > 300,000 over three years
    _declare_aid(app, bic.org_id, "100000", days_ago=4 * 365)  # outside the window
    run_id = schedule_run(call.call_id, call.staff_id)

    assert run_schedule_task(run_id) == "stored"

    assert list(stored_tranches(call.call_id)) == ["Le Relais Gironde"]
    result = _result(app, run_id)
    assert "De minimis" in result["blocked"][bic.reference]
    assert "250\u202f000,00" in result["blocked"][bic.reference]
    _id, _total, status, error = _awards(app, call.call_id)[bic.name]
    assert status == "proposed" and "plafond de 300\u202f000,00" in error


def test_an_award_under_the_cap_or_without_economic_activity_is_not_blocked(
    app, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call([RELAIS, ECONOMIC_BIC], **INVESTMENT)
    _declare_aid(app, call.files[1].org_id, "200000")  # + 60,000 ≤ 300,000
    _declare_aid(app, call.files[0].org_id, "900000")  # no economic activity: not subject
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    assert len(stored_tranches(call.call_id)) == 2


def test_staff_lift_the_de_minimis_block_with_a_reason(
    app, client, login, get_csrf, laureates_call, schedule_run, run_schedule_task, stored_tranches
):
    call = laureates_call([ECONOMIC_BIC], **INVESTMENT)
    bic = call.files[0]
    _declare_aid(app, bic.org_id, "250000")
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    award_id = _awards(app, call.call_id)[bic.name][0]
    login(client, call.staff_email)
    page_url = f"/gestion/appels/{call.call_id}/echeanciers"
    page = client.get(page_url).get_data(as_text=True)
    assert "Bloquée : plafond dépassé" in page
    token = get_csrf(client, page_url)

    # Without a reason: refused, the message next to the field.
    response = client.post(
        f"/gestion/aides/{award_id}/de-minimis", data={"reason": " ", "csrf_token": token}
    )
    assert response.status_code == 422
    assert "Indiquez pourquoi le plafond de minimis peut être dépassé." in response.get_data(
        as_text=True
    )

    response = client.post(
        f"/gestion/aides/{award_id}/de-minimis",
        data={"reason": "Aide régionale déclarée par erreur (prêt d'honneur)", "csrf_token": token},
    )
    assert response.status_code == 302
    from grants.audit.models import AuditEntry
    from grants.extensions import db

    with app.app_context():
        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "award.de_minimis_override")
        )
        assert entry.changes["de_minimis_override_reason"][1].startswith("Aide régionale")
        db.session.remove()
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    assert stored_tranches(call.call_id) == {
        bic.name: ((2016, 30000, "planned"), (2017, 30000, "planned"))
    }
    page = client.get(page_url).get_data(as_text=True)
    assert "blocage levé" in page and "Aide régionale déclarée par erreur" in page


def test_an_applicant_cannot_lift_the_block(
    app, client, login, get_csrf, laureates_call, schedule_run
):
    call = laureates_call([ECONOMIC_BIC], **INVESTMENT)
    schedule_run(call.call_id, call.staff_id)
    award_id = _awards(app, call.call_id)[call.files[0].name][0]
    login(client, call.files[0].member_email)
    response = client.post(
        f"/gestion/aides/{award_id}/de-minimis",
        data={"reason": "moi-même", "csrf_token": get_csrf(client, "/dossiers")},
    )
    assert response.status_code == 403


def test_the_simulation_of_an_investment_aid_uses_its_payment_rule(
    app, client, login, get_csrf, laureates_call, schedule_run, run_schedule_task
):
    call = laureates_call([RELAIS, BIC], **INVESTMENT)
    run_schedule_task(schedule_run(call.call_id, call.staff_id))
    login(client, call.staff_email)
    url = f"/gestion/appels/{call.call_id}/simulation"
    page = client.get(url).get_data(as_text=True)
    assert "Nombre de tranches annuelles" in page and "Poids" not in page

    data = {
        "csrf_token": get_csrf(client, url),
        "envelope_2016": "159000",
        "envelope_2017": "159000",
        "envelope_2018": "159000",
        "payment_years": "3",
        "unit": "1",
    }
    for file in call.files:
        data["amount__" + file.reference.replace("-", "_")] = (
            "100001" if file is call.files[0] else "50000"
        )
    response = client.post(url, data=data)

    text = response.get_data(as_text=True)
    assert response.status_code == 200, text
    assert "Dans les enveloppes" in text
    assert "33\u202f335,00" in text and "33\u202f333,00" in text  # the remainder on 2016
    data["payment_years"] = "4"
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert "Indiquez un nombre inférieur ou égal à 3." in response.get_data(as_text=True)
