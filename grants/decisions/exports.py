"""The ranking of a call as an XLSX workbook (openpyxl, write-only: rows are streamed).

French headers; amounts and scores are numbers (never text) with a euro or decimal format,
so the committee can sort and sum them in a spreadsheet.
"""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from grants.calls.models import Call
from grants.decisions import rules
from grants.decisions.queries import Ranking

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EURO_FORMAT = '#,##0.00\\ "€"'
SCORE_FORMAT = "0.00"


def ranking_filename(call: Call) -> str:
    slug = re.sub(r"[^A-Za-z0-9-]+", "-", call.reference_prefix).strip("-") or str(call.id)
    return f"classement-{slug}.xlsx"


def ranking_xlsx(ranking: Ranking) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Classement")
    bold = Font(bold=True)

    def cell(value, number_format: str | None = None, font=None):
        c = WriteOnlyCell(sheet, value=value)
        if number_format and value is not None:
            c.number_format = number_format
        if font is not None:
            c.font = font
        return c

    headers = [
        "Rang",
        "Référence",
        "Structure",
        "Projet",
        "Statut",
        "Note (sur 100)",
        "Écart type",
        "Avis rendus",
        "Avis requis",
        "Désaccord entre évaluateurs",
        "Note normalisée",
    ]
    for year in ranking.years:
        headers += [
            f"Demandé {year}",
            f"Cumul {year}",
            f"Enveloppe {year}",
            f"Enveloppe {year} dépassée",
        ]
    headers += [
        "Demandé (total)",
        "Cumul (total)",
        "Enveloppe totale",
        "Décision",
        "Montant attribué",
        "Séance",
    ]
    sheet.append([cell(h, font=bold) for h in headers])
    for row in ranking.rows:
        values = [
            cell(row.rank),
            cell(row.reference or ""),
            cell(row.organisation),
            cell(row.title),
            cell(row.status.label),
            cell(rules.display(row.score), SCORE_FORMAT),
            cell(rules.display(row.std_dev), SCORE_FORMAT),
            cell(row.review_count),
            cell(row.reviews_required),
            cell("Oui" if row.disagreement else "Non"),
            cell(rules.display(row.normalised), SCORE_FORMAT),
        ]
        running = row.running
        for year_sum in running.years if running else []:
            values += [
                cell(row.requested.get(year_sum.year, rules.ZERO), EURO_FORMAT),
                cell(year_sum.cumulative, EURO_FORMAT),
                cell(year_sum.envelope, EURO_FORMAT),
                cell("Oui" if year_sum.over else "Non"),
            ]
        decision = row.decision
        values += [
            cell(row.requested_total, EURO_FORMAT),
            cell(running.cumulative_total if running else None, EURO_FORMAT),
            cell(ranking.envelope_total, EURO_FORMAT),
            cell(decision.outcome.label if decision else ""),
            cell(decision.awarded_total if decision else None, EURO_FORMAT),
            cell(decision.session_label if decision else ""),
        ]
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
