"""Staff dashboards: ``/gestion/tableau-de-bord`` (all calls, a budget year) and
``/gestion/appels/<id>/tableau-de-bord`` (one call, all its years). Charts are SVG drawn
by :mod:`grants.dashboards.charts`; every chart has its figures in a table beside it."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, render_template, request

from grants.calls.models import Call
from grants.core.models import default_funder
from grants.core.money import format_money
from grants.core.permissions import staff_required
from grants.dashboards import charts
from grants.dashboards import queries as q
from grants.extensions import db
from grants.funding import budget

bp = Blueprint("dashboards", __name__)

MONEY_SERIES = charts.series(charts.ENVELOPE, charts.COMMITTED, charts.PAID)
LINE_SERIES = charts.series(charts.VOTED, charts.COMMITTED, charts.PAID)


def _remaining_note(figures: budget.Figures) -> str:
    if figures.over_committed:
        return f"dépassement de {format_money(-figures.remaining)}"
    return f"reste {format_money(figures.remaining)}"


def _values(figures: budget.Figures, first: str) -> dict[str, Decimal]:
    return {first: figures.voted, "committed": figures.committed, "paid": figures.paid}


def _jobs_chart(chart_id: str, rows, what: str):
    return charts.hbars(
        chart_id,
        f"Emplois créés par {what}",
        f"Emplois créés prévus par les dossiers retenus, par {what} ; le tableau qui suit "
        "donne aussi les emplois maintenus.",
        [charts.Point(r.label, Decimal(r.created)) for r in rows],
        empty="Aucun dossier retenu.",
    )


def _payments_chart(chart_id: str, months):
    return charts.columns(
        chart_id,
        "Versements par mois",
        "Montant des versements effectués chaque mois (date du mandat) ; le tableau qui suit "
        "donne les totaux par année.",
        [charts.Point(m.short, m.amount, m.long) for m in months],
        empty="Aucun versement effectué.",
    )


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _step_arg() -> str:
    step = request.args.get("etape", "")
    return step if step in q.STEPS else ""


@bp.get("/gestion/tableau-de-bord")
@staff_required
def index():
    funder_id = default_funder().id
    known = q.years(funder_id)
    text = request.args.get("annee", "")
    year = int(text) if text.isdigit() and int(text) in known else None
    if year is None:
        year = q.default_year(known, q.today_paris().year)
    calls = q.call_figures(year=year)
    report = q.line_report(funder_id, year)
    lines = [line for section in report.sections for line in section.lines]
    months = q.payments_by_month()
    sectors = q.jobs_by_sector()
    communes = q.jobs_by_commune()
    step = _step_arg()
    pagination, award_rows = q.awards_page(step=step, page=_page_arg())
    return render_template(
        "dashboards/index.html",
        year=year,
        years=known,
        calls=calls,
        calls_chart=charts.grouped_bars(
            "chart-calls",
            f"Appels : enveloppe, engagé et versé en {year}",
            f"Pour chaque appel, l'enveloppe {year}, le montant engagé (tranches {year} des "
            "aides) et le montant versé ; le reste est écrit après le nom de l'appel.",
            [
                charts.BarGroup(c.title, _values(c.figures, "envelope"), _remaining_note(c.figures))
                for c in calls
            ],
            MONEY_SERIES,
            empty=f"Aucun appel n'a d'enveloppe en {year}.",
        ),
        report=report,
        lines_chart=charts.grouped_bars(
            "chart-lines",
            f"Lignes budgétaires : voté, engagé et versé en {year}",
            f"Pour chaque ligne budgétaire, le montant voté pour {year}, l'engagé (aides des "
            "appels rattachés, conventions et PLIE) et le versé ; le reste est écrit après le "
            "nom de la ligne.",
            [
                charts.BarGroup(
                    line.label, _values(line.figures, "voted"), _remaining_note(line.figures)
                )
                for line in lines
            ],  # fmt: skip
            LINE_SERIES,
            empty=f"Aucune ligne budgétaire pour {year}.",
        ),
        months=months,
        month_years=q.payments_by_year(months),
        payments_chart=_payments_chart("chart-payments", months),
        sectors=sectors,
        sectors_chart=_jobs_chart("chart-sectors", sectors, "secteur"),
        communes=communes,
        communes_chart=_jobs_chart("chart-communes", communes, "commune"),
        counts=q.step_counts(),
        steps=q.STEPS,
        step=step,
        pagination=pagination,
        award_rows=award_rows,
        late_reports=q.late_reports_count(),
    )


@bp.get("/gestion/appels/<int:call_id>/tableau-de-bord")
@staff_required
def call(call_id: int):
    call = db.session.get(Call, call_id)
    if call is None:
        abort(404)
    rows = q.call_figures(call_id=call_id)
    line, line_years = q.call_line(call)
    months = q.payments_by_month(call_id)
    sectors = q.jobs_by_sector(call_id)
    communes = q.jobs_by_commune(call_id)
    step = _step_arg()
    pagination, award_rows = q.awards_page(call_id=call_id, step=step, page=_page_arg())
    return render_template(
        "dashboards/call.html",
        call=call,
        rows=rows,
        years_chart=charts.grouped_bars(
            "chart-years",
            f"« {call.title} » : enveloppe, engagé et versé par année",
            "Pour chaque année de l'appel, l'enveloppe, le montant engagé (tranches des aides) "
            "et le montant versé ; le reste est écrit après l'année.",
            [
                charts.BarGroup(
                    str(r.year), _values(r.figures, "envelope"), _remaining_note(r.figures)
                )
                for r in rows
            ],  # fmt: skip
            MONEY_SERIES,
            empty="Cet appel n'a pas d'enveloppe.",
        ),
        line=line,
        line_years=line_years,
        line_chart=(
            charts.grouped_bars(
                "chart-line",
                f"Ligne budgétaire « {line.label} » : voté, engagé et versé par année",
                "Pour chaque année de la ligne que consomment les aides de l'appel, le voté, "
                "l'engagé (tous appels, conventions et PLIE de la ligne) et le versé.",
                [
                    charts.BarGroup(str(y), _values(f, "voted"), _remaining_note(f))
                    for y, f, _voted in line_years
                ],
                LINE_SERIES,
                empty="Aucune année votée sur cette ligne.",
            )
            if line is not None
            else None
        ),
        months=months,
        month_years=q.payments_by_year(months),
        payments_chart=_payments_chart("chart-payments", months),
        sectors=sectors,
        sectors_chart=_jobs_chart("chart-sectors", sectors, "secteur"),
        communes=communes,
        communes_chart=_jobs_chart("chart-communes", communes, "commune"),
        counts=q.step_counts(call_id),
        steps=q.STEPS,
        step=step,
        pagination=pagination,
        award_rows=award_rows,
        late_reports=q.late_reports_count(call_id),
    )
