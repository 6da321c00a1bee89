"""The staff dashboards: the figures match the data (envelopes, budget line, payments by
month, jobs by sector and commune, the awards' next steps), the charts are well-formed SVG
with a title, only staff see them, and each page runs the same number of SQL statements
with 5 or 200 awards."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from grants.core.money import format_money

NS = "{http://www.w3.org/2000/svg}"
STAFF = "agent.tdb@bordeaux-metropole.fr"


def money(amount: str) -> str:
    return format_money(Decimal(amount))


@pytest.fixture
def world(
    app,
    create_user,
    create_call,
    create_organisation,
    create_funding_line,
    make_award,
    sign_convention,
    pay_tranche,
    create_report,
    in_app,
):
    """A decided call (60,000 / 55,000 / 50,000) on a budget line voted 445,520 in 2016:

    * A (Bordeaux, circular economy, 3 jobs): signed, 2016 tranche 12,000 of which 6,000
      paid on 15/09/2016 — a tranche to pay;
    * B (Mérignac, proximity, 5 jobs): scheduled, convention to sign;
    * C (Bordeaux, circular economy, 4 jobs): signed, 2016 tranche 9,000 paid on
      02/11/2016, 2017 tranche waiting for the 2016 report, which is late.
    """
    from grants.calls.models import Call
    from grants.core.db import utcnow
    from grants.extensions import db

    ns = SimpleNamespace()
    ns.staff = create_user(email=STAFF, roles=["staff"])
    ns.member = create_user(email="porteur@example.org")
    ns.line = create_funding_line(label="Appels à projets ESS", votes={2016: "445520"})
    now = utcnow()
    ns.call = create_call(
        status="decided",
        title="Appel ESS 2016",
        opens_at=now - timedelta(days=400),
        closes_at=now - timedelta(days=300),
    )

    def _link():
        db.session.get(Call, ns.call).funding_line_id = ns.line
        db.session.commit()

    in_app(_link)
    bordeaux = create_organisation(member_ids=[ns.member], name="Recyclerie", commune_insee="33063")
    merignac = create_organisation(name="Épicerie", commune_insee="33281")
    ns.a, _ = make_award(
        ns.call, bordeaux, {2016: "12000", 2017: "8000"}, "in_payment",
        title="Atelier A", sector="Économie circulaire", jobs_created=3, jobs_maintained=1,
    )  # fmt: skip
    ns.b, _ = make_award(
        ns.call, merignac, {2016: "9000"}, "scheduled",
        title="Projet B", sector="Économie de proximité", jobs_created=5, jobs_maintained=0,
    )  # fmt: skip
    ns.c, _ = make_award(
        ns.call, bordeaux, {2016: "9000", 2017: "5000"}, "in_payment",
        title="Projet C", sector="Économie circulaire", jobs_created=4, jobs_maintained=2,
    )  # fmt: skip
    sign_convention(ns.a)
    sign_convention(ns.c)
    pay_tranche(ns.a, 2016, "6000", paid_on=date(2016, 9, 15))
    pay_tranche(ns.c, 2016, "9000", paid_on=date(2016, 11, 2))
    ns.late_report = create_report(ns.c, 2016, due_on=date(2017, 6, 30))
    return ns


@contextmanager
def count_statements(app):
    from grants.extensions import db

    statements: list[str] = []

    def _count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", _count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _count)


def svgs(html: str) -> dict[str, ET.Element]:
    """The page's inline charts, parsed as XML, by their title."""
    charts = {}
    for chunk in re.findall(r"<svg xmlns=.*?</svg>", html, re.S):
        root = ET.fromstring(chunk)
        title = root.find(f"{NS}title")
        assert title is not None and title.text
        assert root.find(f"{NS}desc") is not None
        charts[title.text] = root
    return charts


def bar_titles(root: ET.Element) -> list[str]:
    return [r.find(f"{NS}title").text for r in root.iter(f"{NS}rect")]


def row_of(html: str, label: str) -> str:
    return html.split(label, 1)[1].split("</tr>", 1)[0]


def test_the_dashboard_shows_the_figures_of_the_data(world, as_user):
    html = as_user(STAFF).get("/gestion/tableau-de-bord?annee=2016").get_data(as_text=True)

    # the call: envelope 60,000; committed 12,000 + 9,000 + 9,000; paid 6,000 + 9,000
    row = row_of(html, ">Appel ESS 2016</a></th>")
    for amount in ("60000", "30000", "15000"):
        assert money(amount) in row
    charts = svgs(html)
    calls = charts["Appels : enveloppe, engagé et versé en 2016"]
    assert f"Appel ESS 2016, Engagé : {money('30000')}" in bar_titles(calls)
    assert f"Appel ESS 2016 — reste {money('30000')}" in [t.text for t in calls.iter(f"{NS}text")]

    # the budget line (from the budget report): voted 445,520, committed 30,000, paid 15,000
    row = row_of(html, ">Appels à projets ESS</a></th>")
    for amount in ("445520", "30000", "15000", "415520"):
        assert money(amount) in row
    lines = charts["Lignes budgétaires : voté, engagé et versé en 2016"]
    assert f"Appels à projets ESS, Voté : {money('445520')}" in bar_titles(lines)

    # payments by month: September and November 2016, October empty
    payments = charts["Versements par mois"]
    assert bar_titles(payments) == [
        f"septembre 2016 : {money('6000')}",
        f"novembre 2016 : {money('9000')}",
    ]
    assert money("15000") in row_of(html, '<th scope="row">2016</th>')

    # jobs: circular economy 3 + 4, proximity 5; Bordeaux 7, Mérignac 5
    sectors = charts["Emplois créés par secteur"]
    assert bar_titles(sectors) == ["Économie circulaire : 7", "Économie de proximité : 5"]
    communes = charts["Emplois créés par commune"]
    assert bar_titles(communes) == ["Bordeaux : 7", "Mérignac : 5"]
    assert re.search(r"Économie circulaire</th><td class=\"num\">2</td>", html)

    # next steps: A to pay, B to sign, C's report late (C's 2017 tranche waits for it)
    assert "Tranche à verser" in row_of(html, "Atelier A")
    assert "Convention à signer" in row_of(html, "Projet B")
    row = row_of(html, "Projet C")
    assert "Compte rendu en retard" in row and "Tranche à verser" not in row
    assert "1 compte rendu en retard" in html


def test_steps_filter_and_counts(world, as_user):
    client = as_user(STAFF)
    html = client.get("/gestion/tableau-de-bord?etape=a-verser").get_data(as_text=True)
    assert "Atelier A" in html and "Projet B" not in html and "Projet C" not in html
    assert "<strong>Tranche à verser : 1</strong>" in html
    html = client.get("/gestion/tableau-de-bord?etape=retard").get_data(as_text=True)
    assert "Projet C" in html and "Atelier A" not in html


def test_accepting_the_report_releases_the_next_tranche(world, as_user, in_app):
    from grants.core.db import utcnow
    from grants.extensions import db
    from grants.payments.models import AnnualReport, ReportStatus

    def _accept():
        report = db.session.get(AnnualReport, world.late_report)
        report.status = ReportStatus.accepted
        report.submitted_at = report.reviewed_at = utcnow()
        db.session.commit()

    in_app(_accept)
    html = as_user(STAFF).get("/gestion/tableau-de-bord").get_data(as_text=True)
    row = row_of(html, "Projet C")
    assert "Tranche à verser" in row and "en retard" not in row


def test_the_call_dashboard(world, as_user):
    html = (
        as_user(STAFF).get(f"/gestion/appels/{world.call}/tableau-de-bord").get_data(as_text=True)
    )
    charts = svgs(html)
    years = charts["« Appel ESS 2016 » : enveloppe, engagé et versé par année"]
    titles = bar_titles(years)
    assert f"2016, Enveloppe : {money('60000')}" in titles
    assert f"2017, Engagé : {money('13000')}" in titles  # 8,000 + 5,000
    assert f"2018, Enveloppe : {money('50000')}" in titles
    line = charts["Ligne budgétaire « Appels à projets ESS » : voté, engagé et versé par année"]
    assert f"2016, Versé : {money('15000')}" in bar_titles(line)
    assert "Emplois créés par secteur" in charts
    assert "Projet B" in html and "Convention à signer" in html


@pytest.mark.parametrize("email,roles", [("porteur@example.org", ()), ("eval@x.org", ["reviewer"])])
def test_only_staff_see_the_dashboards(world, as_user, create_user, email, roles):
    if roles:
        create_user(email=email, roles=roles)
    client = as_user(email)
    assert client.get("/gestion/tableau-de-bord").status_code == 403
    assert client.get(f"/gestion/appels/{world.call}/tableau-de-bord").status_code == 403
    assert as_user(STAFF).get("/gestion/appels/999999/tableau-de-bord").status_code == 404


def test_an_empty_dashboard(app, create_user, as_user):
    create_user(email=STAFF, roles=["staff"])
    html = as_user(STAFF).get("/gestion/tableau-de-bord").get_data(as_text=True)
    assert "Aucun versement effectué." in html and "Aucun dossier retenu." in html
    assert len(svgs(html)) == 5


@pytest.mark.parametrize("page", ["index", "call"])
def test_pages_run_a_bounded_number_of_statements(
    app, world, as_user, seed_awards, create_organisation, page
):
    client = as_user(STAFF)
    url = (
        "/gestion/tableau-de-bord?annee=2016"
        if page == "index"
        else f"/gestion/appels/{world.call}/tableau-de-bord"
    )
    org = create_organisation(name="Structure semée", commune_insee="33281")
    seed_awards(world.call, org, 2)  # 5 awards in all
    client.get(url)  # warm-up (login, funder)
    with count_statements(app) as few:
        small = client.get(url)
    assert small.status_code == 200
    seed_awards(world.call, org, 195)  # 200 awards
    with count_statements(app) as many:
        large = client.get(url)
    assert large.status_code == 200
    assert len(many) == len(few), (len(few), len(many))
    assert len(few) < 30
    # the figures did grow: 100 more signed awards paid 1,000 each in 2016
    assert money(str(15000 + 1000 * (1 + 98))) in large.get_data(as_text=True)


def test_count_statements_helper_is_not_vacuous(app, world):
    """The listener sees the statements (a guard for the test above)."""
    from grants.extensions import db

    with count_statements(app) as statements, app.app_context():
        db.session.execute(sa.text("SELECT 1"))
        db.session.remove()
    assert statements == ["SELECT 1"]
