"""The seeds' budget lines, the calls' lines and the 2016 commitments outside the calls.

Through :mod:`grants.funding.budget_operations`:

* ``load_seed_budget``: the three tables of ``grants/data/`` (2016-18 fonctionnement and
  investissement, 2022-26), an upsert — 445 520 € of operating and 200 000 € of investment
  budget voted for 2016;
* ``link_call``: « Appel à projets ESS 2016 » consumes the line « Appels à projets »,
  « Aide à l'investissement 2016 » the line « Aides immobilières », and the 2023 call
  « Soutiens directs aux projets » (its 145 000 € a year are the call's envelopes);
* ``create_commitment`` for 2016: the conventions of three network heads at the amounts
  of their lines (CRESS, ADIE, Aquitaine Active) and the PLIE de Bordeaux (5 000 € fixed
  plus 1 € per insertion hour: 12 500 hours realised).

A second run changes nothing: the import is an upsert, a linked call stays linked and a
commitment is found by (line, year, beneficiary).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from grants.demo.calls import AAP_2016, AAP_2023, AIS_2016

#: the line each call consumes: (section, rubric, label) as in the seeds' tables
CALL_LINES = {
    AAP_2016: ("fonctionnement", "appel à projets", "Appels à projets"),
    AIS_2016: ("investissement", "aides à l'investissement", "Aides immobilières"),
    AAP_2023: ("fonctionnement", "plan d'actions ESS", "Soutiens directs aux projets"),
}


@dataclass
class DemoCommitment:
    line: tuple[str, str, str]
    beneficiary: str
    kind: str
    fixed_amount: Decimal
    note: str
    hourly_rate: Decimal | None = None
    hours: Decimal | None = None
    year: int = 2016


NETWORKS = ("fonctionnement", "têtes de réseau")
COMMITMENTS = [
    DemoCommitment(
        (*NETWORKS, "CRESS"),
        "Chambre régionale de l'économie sociale et solidaire (CRESS) Aquitaine",
        "fixed",
        Decimal("20000"),
        "Convention annuelle 2016 : observatoire de l'ESS, Mois de l'ESS, accompagnement "
        "des porteurs de projet.",
    ),
    DemoCommitment(
        (*NETWORKS, "ADIE"),
        "Association pour le droit à l'initiative économique (ADIE)",
        "fixed",
        Decimal("45000"),
        "Convention annuelle 2016 : microcrédit et accompagnement des créateurs "
        "d'entreprise dans les quartiers prioritaires.",
    ),
    DemoCommitment(
        (*NETWORKS, "Aquitaine Active"),
        "Aquitaine Active",
        "fixed",
        Decimal("33250"),
        "Convention annuelle 2016 : garanties et financements solidaires des structures de l'ESS.",
    ),
    DemoCommitment(
        ("fonctionnement", "clauses d'insertion (PLIE)", "PLIE de Bordeaux"),
        "PLIE de Bordeaux",
        "plie",
        Decimal("5000"),
        "Clauses d'insertion 2016 : part fixe de 5 000 € et 1 € par heure d'insertion réalisée.",
        hourly_rate=Decimal("1"),
        hours=Decimal("12500"),
    ),
]


class DemoBudgetError(RuntimeError):
    """The budget operations refused a demo commitment: the demo data is wrong."""


def _lines(funder_id: int) -> dict[tuple[str, str, str], object]:
    from grants.extensions import db
    from grants.funding.models import FundingLine

    return {
        (line.section.value, line.rubric, line.label): line
        for line in db.session.scalars(
            sa.select(FundingLine).where(FundingLine.funder_id == funder_id)
        )
    }


def load_budget(calls: dict, staff) -> list[str]:
    """Import, link, commit; returns notes about what the seeds' tables lack."""
    from grants.core.models import default_funder
    from grants.extensions import db
    from grants.funding import budget_operations as ops
    from grants.funding.models import Commitment, CommitmentKind

    notes: list[str] = []
    funder = default_funder()
    ops.load_seed_budget(actor=None, funder=funder)
    lines = _lines(funder.id)
    for prefix, key in CALL_LINES.items():
        line = lines.get(key)
        call = calls[prefix].call
        if line is None:
            notes.append(
                f"Ligne budgétaire « {key[2]} » introuvable : « {call.title} » non rattaché."
            )
            continue
        if call.funding_line_id is None:
            ops.link_call(line, call, staff)
    for spec in COMMITMENTS:
        line = lines.get(spec.line)
        if line is None:
            notes.append(
                f"Ligne budgétaire « {spec.line[2]} » introuvable : engagement "
                f"« {spec.beneficiary} » non créé."
            )
            continue
        exists = db.session.scalar(
            sa.select(Commitment.id).where(
                Commitment.line_id == line.id,
                Commitment.year == spec.year,
                Commitment.beneficiary == spec.beneficiary,
            )
        )
        if exists is not None:
            continue
        kind = CommitmentKind(spec.kind)
        clean, errors = ops.clean_commitment(
            {
                "year": spec.year,
                "beneficiary": spec.beneficiary,
                "fixed_amount": spec.fixed_amount,
                "hourly_rate": spec.hourly_rate,
                "hours": spec.hours,
                "note": spec.note,
            },
            kind,
        )
        if errors:
            raise DemoBudgetError(f"Engagement « {spec.beneficiary} » refusé : {errors}")
        ops.create_commitment(line, staff, clean)
    db.session.flush()
    return notes
