"""The convention (grant agreement) of an award, as a PDF (reportlab).

:func:`convention_data` gathers what the convention says from the award (plain values:
the document is built from them alone, so it can be tested and archived as such);
:func:`build_convention_pdf` lays it out: the parties (the funder and the beneficiary,
represented by the application's signatory), the object, the total in figures, the
schedule by year, the payment conditions of the call, the reporting duties (Cerfa 15059,
with due dates), the de minimis mention when the beneficiary has an economic activity
(Commission Regulation (EU) 2023/2831), and the signature blocks.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from grants.applications.receipt import drawable, pdf_text
from grants.core.formatting import format_date_fr
from grants.core.money import format_money
from grants.payments import rules

DE_MINIMIS_MENTION = (
    "La présente subvention constitue une aide de minimis au sens du règlement (UE) "
    "2023/2831 de la Commission du 13 décembre 2023 relatif à l'application des articles "
    "107 et 108 du traité sur le fonctionnement de l'Union européenne aux aides de minimis. "
    "Le bénéficiaire déclare que le montant total des aides de minimis qu'il a reçues sur "
    "trois années glissantes, y compris la présente aide, n'excède pas 300 000 €. Il "
    "conserve la présente convention pendant dix ans à compter de son octroi."
)


def convention_data(award, reference: str, generated_on: date, conditions) -> dict:
    """Everything the convention says, as plain values."""
    application = award.application
    organisation = application.organisation
    call = award.call
    funder = call.funder
    tranches = [t for t in award.tranches if t.amount > 0]
    years = [t.year for t in tranches]
    return {
        "reference": reference,
        "generated_on": generated_on,
        "funder": {"name": funder.name, "siret": funder.siret, "service": funder.service},
        "beneficiary": {
            "name": organisation.name,
            "legal_form": organisation.legal_form.label,
            "siret": organisation.siret,
            "rna": organisation.rna or "",
            "address": organisation.address,
            "postal_code": organisation.postal_code,
            "city": organisation.city,
            "signatory_name": application.signatory_name,
            "signatory_role": application.signatory_role,
        },
        "project_title": application.title,
        "application_reference": application.reference or "",
        "call": {"title": call.title, "kind": call.kind.value, "kind_label": call.kind.label},
        "total": Decimal(award.total),
        "schedule": [(t.year, Decimal(t.amount)) for t in tranches],
        "conditions": rules.describe_conditions(conditions, years, call.report_due_month),
        "expense_share": conditions.expense_share if conditions.investment else None,
        "reports": [(y, rules.report_due_on(y, call.report_due_month)) for y in years],
        "de_minimis": bool(organisation.has_economic_activity),
    }


def build_convention_pdf(data: dict) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    styles = getSampleStyleSheet()
    body = ParagraphStyle(
        "body", parent=styles["Normal"], fontName="Helvetica", fontSize=10, leading=13, spaceAfter=4
    )
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    heading = ParagraphStyle(
        "heading",
        parent=styles["Heading2"],
        fontName="Helvetica-Bold",
        fontSize=11,
        spaceBefore=10,
        spaceAfter=4,
    )
    title = ParagraphStyle(
        "title",
        parent=styles["Title"],
        fontName="Helvetica-Bold",
        fontSize=16,
        alignment=TA_CENTER,
        spaceAfter=2,
    )
    center = ParagraphStyle("center", parent=body, alignment=TA_CENTER)
    right = ParagraphStyle("right", parent=body, alignment=TA_RIGHT)

    def p(text, style=body):
        return Paragraph(text, style)

    funder = data["funder"]
    who = data["beneficiary"]
    reference = data["reference"]
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

    address = ", ".join(
        part for part in (who["address"], f"{who['postal_code']} {who['city']}".strip()) if part
    )
    representative = who["signatory_name"] or "son représentant légal"
    if who["signatory_name"] and who["signatory_role"]:
        representative += f", {who['signatory_role']}"

    story = [
        p(f"<b>{pdf_text(funder['name'])}</b>"),
        p(pdf_text(funder["service"]), small),
        Spacer(1, 8 * mm),
        p("Convention d'attribution d'une subvention", title),
        p(f"Convention n° <b>{pdf_text(reference)}</b>", center),
        Spacer(1, 6 * mm),
        p("<b>Entre les soussignés</b>"),
        p(
            f"<b>{pdf_text(funder['name'])}</b>, SIRET {pdf_text(funder['siret'])}, "
            f"{pdf_text(funder['service'])}, représenté par son président ou son "
            "représentant dûment habilité, ci-après « l'attribuant »,"
        ),
        p("<b>et</b>"),
        p(
            f"<b>{pdf_text(who['name'])}</b> ({pdf_text(who['legal_form'])}), "
            f"SIRET {pdf_text(who['siret'])}"
            + (f", RNA {pdf_text(who['rna'])}" if who["rna"] else "")
            + (f", dont le siège est situé {pdf_text(address)}" if address else "")
            + f", représenté par {pdf_text(representative)}, ci-après « le bénéficiaire »."
        ),
        p("Il est convenu ce qui suit."),
        p("Article 1 — Objet", heading),
        p(
            "La présente convention fixe les conditions dans lesquelles l'attribuant soutient "
            f"le projet « {pdf_text(data['project_title'] or '—')} » du bénéficiaire, retenu "
            f"au titre de l'appel « {pdf_text(data['call']['title'])} » "
            f"({pdf_text(data['call']['kind_label'])})"
            + (
                f", dossier n° {pdf_text(data['application_reference'])}"
                if data["application_reference"]
                else ""
            )
            + "."
        ),
        p("Article 2 — Montant de la subvention", heading),
        p(
            "L'attribuant accorde au bénéficiaire une subvention d'un montant total de "
            f"<b>{pdf_text(format_money(data['total']))}</b>."
            + (
                " Elle ne peut excéder "
                f"{pdf_text(rules.percent(Decimal(data['expense_share'])))} des dépenses "
                "éligibles effectivement justifiées."
                if data.get("expense_share")
                else ""
            )
        ),
        p("Article 3 — Échéancier", heading),
    ]
    rows = [[p("<b>Année</b>"), p("<b>Montant</b>", right)]]
    rows += [
        [p(str(year)), p(pdf_text(format_money(amount)), right)]
        for year, amount in data["schedule"]
    ]
    scheduled = sum((amount for _year, amount in data["schedule"]), Decimal("0"))
    rows.append([p("<b>Total</b>"), p(f"<b>{pdf_text(format_money(scheduled))}</b>", right)])
    schedule = Table(rows, colWidths=[40 * mm, 50 * mm], hAlign="LEFT", repeatRows=1)
    schedule.setStyle(grid)
    story.append(schedule)

    story.append(p("Article 4 — Modalités de versement", heading))
    for sentence in data["conditions"]:
        story.append(p(f"• {pdf_text(sentence)}"))
    story.append(
        p(
            "Les versements sont effectués par virement sur le compte du bénéficiaire, "
            "dans la limite de chaque tranche ; un versement peut être fractionné."
        )
    )

    story.append(p("Article 5 — Comptes rendus", heading))
    story.append(
        p(
            "Pour chaque année de l'échéancier, le bénéficiaire remet un compte rendu "
            "d'activité et un compte rendu financier conforme au formulaire Cerfa n° 15059 "
            "(réalisé comparé au prévisionnel, poste par poste, tout écart de plus de 10 % "
            "étant expliqué), avec les indicateurs de l'appel (emplois créés et maintenus, "
            "personnes accompagnées). Dates limites :"
        )
    )
    report_rows = [[p("<b>Compte rendu</b>"), p("<b>À remettre au plus tard le</b>")]]
    report_rows += [
        [p(f"Année {year}"), p(pdf_text(format_date_fr(due)))] for year, due in data["reports"]
    ]
    reports = Table(report_rows, colWidths=[40 * mm, 60 * mm], hAlign="LEFT", repeatRows=1)
    reports.setStyle(grid)
    story.append(reports)

    article = 6
    if data["de_minimis"]:
        story.append(p(f"Article {article} — Aides d'État", heading))
        story.append(p(pdf_text(DE_MINIMIS_MENTION)))
        article += 1
    story.append(p(f"Article {article} — Contrôle et reversement", heading))
    story.append(
        p(
            "Le bénéficiaire tient à la disposition de l'attribuant toute pièce justifiant "
            "l'emploi des fonds. En cas d'inexécution, de modification substantielle ou de "
            "retard important dans la réalisation du projet, l'attribuant peut réduire ou "
            "annuler les tranches non versées et exiger le reversement de tout ou partie "
            "des sommes versées."
        )
    )
    story.append(Spacer(1, 8 * mm))
    signatures = Table(
        [
            [p("<b>Pour l'attribuant</b>"), p("<b>Pour le bénéficiaire</b>")],
            [p(pdf_text(funder["name"])), p(pdf_text(who["name"]))],
            [
                p("Le président ou son représentant"),
                p(pdf_text(representative)),
            ],
            [p("Date et signature :"), p("Date et signature :")],
            [Spacer(1, 25 * mm), Spacer(1, 25 * mm)],
        ],
        colWidths=[width / 2, width / 2],
    )
    signatures.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (0, -1), 0.5, colors.HexColor("#808080")),
                ("BOX", (1, 0), (1, -1), 0.5, colors.HexColor("#808080")),
            ]
        )
    )
    story.append(KeepTogether([p("Fait en deux exemplaires originaux."), signatures]))

    footer = drawable(f"{funder['name']} — convention n° {reference}")

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
        title=f"Convention {reference}",
        author=funder["name"],
        subject=data["call"]["title"],
        creator="grants",
        invariant=True,
    )
    doc.build(story, onFirstPage=_decorate, onLaterPages=_decorate)
    return buffer.getvalue()
