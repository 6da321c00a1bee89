"""The frozen copy of a submitted file and its PDF receipt (accusé de réception).

At each submission the applications operation stores ``application.snapshot =
build_snapshot(application)`` (and clears ``receipt_key``) in the same transaction; the
worker then builds the receipt from the snapshot alone (:func:`build_receipt_pdf`), so the
receipt shows what was submitted even if the organisation or the call changed since.

Snapshot structure (``version`` 1; amounts are decimal strings ``"12000.00"``, dates ISO):

.. code-block:: python

    {
        "version": 1,
        "reference": "AAP-2016-0007",
        "submitted_at": "2026-11-21T13:05:00.123456+00:00",  # application.submitted_at, UTC
        "call": {"id": 3, "title": "...", "kind": "project_call", "reference_prefix": "AAP-2016"},
        "funder": {"name": "Bordeaux Métropole", "siret": "24330031600011", "service": "..."},
        "organisation": {"id", "name", "siret", "rna", "legal_form", "address",
                         "postal_code", "city", "commune_insee", "in_qpv", "esus_approved",
                         "has_economic_activity", "employees", "fte", "volunteers"},
        "answers": {"title", "summary", "objectives", "target_public", "territory" (INSEE
                    codes), "in_qpv", "sector", "innovation", "partners", "approvals",
                    "jobs_created", "jobs_maintained", "start_date", "end_date",
                    "signatory_name", "signatory_role", "certified"},
        "budget": [{"year": 2016, "account": "74", "label": "...", "amount": "12000.00",
                    "is_request": True}, ...],
        "expenses": [{"label", "amount", "eligible"}, ...],            # investment aid
        "funding_sources": [{"name", "funder_type", "amount", "status"}, ...],
        "de_minimis": [{"granted_on": "2025-03-01", "funder", "amount", "regime"}, ...],
        "requested": {"2016": "12000.00", "2017": "11000.00"},          # per year
        "requested_total": "23000.00",
        "attachments": [{"id", "filename", "content_type", "size", "sha256",
                         "required_document_id", "required_document" (label or None),
                         "uploaded_at"}, ...],
    }

``requested`` is the sum of the budget's line-74 lines marked ``is_request`` per year; for an
investment aid without such lines it is the sum of the funding plan's ``authority`` lines,
under the call's first budget year (or the year of submission).
"""

from __future__ import annotations

import enum
import io
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from xml.sax.saxutils import escape

import sqlalchemy as sa

from grants.core.formatting import format_datetime_fr, to_paris
from grants.core.money import format_money, quantize

SNAPSHOT_VERSION = 1

ANSWER_FIELDS = (
    "title",
    "summary",
    "objectives",
    "target_public",
    "territory",
    "in_qpv",
    "sector",
    "innovation",
    "partners",
    "approvals",
    "jobs_created",
    "jobs_maintained",
    "start_date",
    "end_date",
    "signatory_name",
    "signatory_role",
    "certified",
)
ORGANISATION_FIELDS = (
    "id",
    "name",
    "siret",
    "rna",
    "legal_form",
    "address",
    "postal_code",
    "city",
    "commune_insee",
    "in_qpv",
    "esus_approved",
    "has_economic_activity",
    "employees",
    "fte",
    "volunteers",
)


def _json_value(value):
    """A JSON-safe copy: enums by value, Decimals as strings, dates ISO."""
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return str(value)


def _amount(value: Decimal) -> str:
    return str(quantize(Decimal(value)))


def build_snapshot(application) -> dict:
    """The frozen copy of ``application`` at submission (structure in the module doc).

    Call it after ``reference`` and ``submitted_at`` are set, in the submitting
    transaction; set ``application.receipt_key = None`` at the same time so that the
    worker makes the receipt of this submission.
    """
    from grants.applications.models import DeMinimisAid, FunderType
    from grants.extensions import db

    if application.reference is None or application.submitted_at is None:
        raise ValueError("build_snapshot needs the reference and submitted_at set first")
    call = application.call
    organisation = application.organisation
    funder = call.funder

    requested: dict[str, Decimal] = {}
    for line in application.budget_lines:
        if line.is_request:
            key = str(line.year)
            requested[key] = requested.get(key, Decimal("0")) + line.amount
    if not requested and call.kind == "investment_aid":
        asked = [
            s.amount for s in application.funding_sources if s.funder_type == FunderType.authority
        ]
        if asked:
            year = call.years[0].year if call.years else to_paris(application.submitted_at).year
            requested[str(year)] = sum(asked, Decimal("0"))
    requested = dict(sorted(requested.items()))

    aids = db.session.scalars(
        sa.select(DeMinimisAid)
        .where(DeMinimisAid.organisation_id == organisation.id)
        .order_by(DeMinimisAid.granted_on, DeMinimisAid.id)
    ).all()

    return {
        "version": SNAPSHOT_VERSION,
        "reference": application.reference,
        "submitted_at": application.submitted_at.isoformat(),
        "call": {
            "id": call.id,
            "title": call.title,
            "kind": _json_value(call.kind),
            "reference_prefix": call.reference_prefix,
        },
        "funder": {"name": funder.name, "siret": funder.siret, "service": funder.service},
        "organisation": {
            field: _json_value(getattr(organisation, field)) for field in ORGANISATION_FIELDS
        },
        "answers": {field: _json_value(getattr(application, field)) for field in ANSWER_FIELDS},
        "budget": [
            {
                "year": line.year,
                "account": line.account,
                "label": line.label,
                "amount": _amount(line.amount),
                "is_request": line.is_request,
            }
            for line in application.budget_lines
        ],
        "expenses": [
            {"label": e.label, "amount": _amount(e.amount), "eligible": e.eligible}
            for e in application.expenses
        ],
        "funding_sources": [
            {
                "name": s.name,
                "funder_type": _json_value(s.funder_type),
                "amount": _amount(s.amount),
                "status": _json_value(s.status),
            }
            for s in application.funding_sources
        ],
        "de_minimis": [
            {
                "granted_on": aid.granted_on.isoformat(),
                "funder": aid.funder,
                "amount": _amount(aid.amount),
                "regime": _json_value(aid.regime),
            }
            for aid in aids
        ],
        "requested": {year: _amount(amount) for year, amount in requested.items()},
        "requested_total": _amount(sum(requested.values(), Decimal("0"))),
        "attachments": [
            {
                "id": a.id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "sha256": a.sha256,
                "required_document_id": a.required_document_id,
                "required_document": a.required_document.label if a.required_document else None,
                "uploaded_at": _json_value(a.uploaded_at),
            }
            for a in application.attachments
        ],
    }


# --- the PDF -----------------------------------------------------------------------------

#: characters the standard PDF fonts (WinAnsi) lack but that have a plain equivalent
_REPLACEMENTS = {
    "\u202f": "\u00a0",  # narrow no-break space of French number grouping
    "\u2009": " ",
    "\u2007": "\u00a0",
    "\u2011": "-",
    "\u2212": "-",
}


def drawable(value: object) -> str:
    """Text the standard PDF fonts (WinAnsi: é, œ, «, €…) can draw: every other character
    replaced by a plain equivalent (accents stripped as a last resort), never a black box."""
    text = unicodedata.normalize("NFC", "" if value is None else str(value))
    out = []
    for char in text:
        char = _REPLACEMENTS.get(char, char)
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            char = plain or "?"
        out.append(char)
    return "".join(out)


def pdf_text(value: object) -> str:
    """:func:`drawable` text with its markup escaped, for a reportlab Paragraph."""
    return escape(drawable(value))


def _paris(iso: str) -> str:
    return format_datetime_fr(datetime.fromisoformat(iso))


def _size(size: int) -> str:
    from grants.core.files import format_size

    return format_size(size)


def build_receipt_pdf(application) -> bytes:
    """The accusé de réception of the last submission of ``application``, as PDF bytes,
    built from ``application.snapshot`` only (reportlab, standard Helvetica: é, «, €)."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from grants.calls.models import CallKind

    snapshot = application.snapshot
    if not snapshot or not snapshot.get("reference"):
        raise ValueError(f"application {application.id} has no submission snapshot")
    reference = snapshot["reference"]
    funder = snapshot.get("funder") or {}
    call = snapshot.get("call") or {}
    organisation = snapshot.get("organisation") or {}
    answers = snapshot.get("answers") or {}
    submitted = _paris(snapshot["submitted_at"])

    styles = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=styles["Normal"], fontName="Helvetica", fontSize=10,
                          leading=13)  # fmt: skip
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    heading = ParagraphStyle("heading", parent=styles["Heading2"], fontName="Helvetica-Bold",
                             fontSize=12, spaceBefore=10, spaceAfter=4)  # fmt: skip
    title = ParagraphStyle("title", parent=styles["Title"], fontName="Helvetica-Bold",
                           fontSize=18, spaceAfter=2)  # fmt: skip
    right = ParagraphStyle("right", parent=body, alignment=TA_RIGHT)
    small_right = ParagraphStyle("small_right", parent=small, alignment=TA_RIGHT)
    mono = ParagraphStyle("mono", parent=body, fontName="Courier", fontSize=7, leading=9)

    def p(text, style=body):
        return Paragraph(text, style)

    width = A4[0] - 40 * mm
    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), "Helvetica", 9),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b0b0")),
            ("TOPPADDING", (0, 0), (-1, -1), 3),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
    )

    story = [
        p(f"<b>{pdf_text(funder.get('name', ''))}</b>"),
        p(pdf_text(funder.get("service", "")), small),
        Spacer(1, 8 * mm),
        p("Accusé de réception", title),
        p(f"Dossier n° <b>{pdf_text(reference)}</b>", body),
        Spacer(1, 4 * mm),
        p(
            f"Votre dossier a bien été déposé le <b>{pdf_text(submitted)}</b> (heure de Paris). "
            "Le présent accusé de réception en atteste."
        ),
        Spacer(1, 4 * mm),
    ]

    try:
        kind_label = CallKind(call.get("kind")).label
    except ValueError:
        kind_label = ""
    siret = organisation.get("siret") or ""
    rows = [
        ("Référence du dossier", reference),
        ("Appel", call.get("title", "")),
        ("Dispositif", kind_label),
        ("Structure", organisation.get("name", "")),
        ("SIRET", siret),
        ("Projet", answers.get("title") or "—"),
        ("Déposé le", f"{submitted} (heure de Paris)"),
    ]
    props = Table(
        [[p(f"<b>{pdf_text(label)}</b>"), p(pdf_text(value))] for label, value in rows],
        colWidths=[45 * mm, width - 45 * mm],
    )
    props.setStyle(grid)
    story.append(props)

    story.append(p("Montants sollicités", heading))
    requested = snapshot.get("requested") or {}
    if requested:
        money_rows = [[p("<b>Année</b>"), p("<b>Montant</b>", right)]]
        money_rows += [
            [p(pdf_text(year)), p(pdf_text(format_money(Decimal(amount))), right)]
            for year, amount in requested.items()
        ]
        money_rows.append(
            [
                p("<b>Total</b>"),
                p(f"<b>{pdf_text(format_money(Decimal(snapshot['requested_total'])))}</b>", right),
            ]
        )
        money = Table(money_rows, colWidths=[45 * mm, 50 * mm], hAlign="LEFT")
        money.setStyle(grid)
        story.append(money)
    else:
        story.append(p("Aucun montant sollicité n'a été indiqué."))

    story.append(p("Pièces jointes", heading))
    attachments = snapshot.get("attachments") or []
    if attachments:
        doc_rows = [[p("<b>Pièce</b>"), p("<b>Taille</b>", right), p("<b>Empreinte SHA-256</b>")]]
        for item in attachments:
            what = pdf_text(item.get("filename", ""))
            if item.get("required_document"):
                what = f"{pdf_text(item['required_document'])}<br/><i>{what}</i>"
            doc_rows.append(
                [
                    p(what, small),
                    p(pdf_text(_size(int(item.get("size") or 0))), small_right),
                    p(pdf_text(item.get("sha256", "")), mono),
                ]
            )
        sha_width = 103 * mm  # 64 Courier characters at 7 pt on one line
        docs = Table(doc_rows, colWidths=[width - sha_width - 20 * mm, 20 * mm, sha_width])
        docs.setStyle(grid)
        story.append(docs)
    else:
        story.append(p("Aucune pièce jointe."))

    story += [
        Spacer(1, 8 * mm),
        p(
            "Cet accusé de réception atteste du dépôt du dossier à la date indiquée. Il ne "
            "préjuge ni de sa recevabilité ni de la décision, qui vous sera notifiée. "
            "L'empreinte SHA-256 de chaque pièce permet de vérifier qu'elle n'a pas été "
            "modifiée depuis le dépôt.",
            small,
        ),
    ]

    footer = drawable(f"{funder.get('name', '')} — accusé de réception du dossier {reference}")

    def _decorate(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(20 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 20 * mm, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"Accusé de réception {reference}",
        author=funder.get("name", ""),
        subject=call.get("title", ""),
        creator="grants",
        invariant=True,  # same snapshot, same bytes: no timestamp or random id inside
    )
    doc.build(story, onFirstPage=_decorate, onLaterPages=_decorate)
    return buffer.getvalue()
