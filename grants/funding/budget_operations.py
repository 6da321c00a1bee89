"""Budget lines, the ``funding`` feature's budget side: state changes.

Import of the seeds' tables (upsert: a second import of the same file changes nothing),
lines and their yearly votes, the call ↔ line link, commitments outside the calls
(network-head conventions with a fixed yearly amount, PLIE with a fixed part plus a rate
per insertion hour). Every change is recorded in the audit log; nothing here commits.

The checks (:func:`clean_line`, :func:`clean_commitment`) are shared by the staff pages
and the JSON API, so that the same input gets the same French message on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from grants.audit.operations import record
from grants.calls.models import Call
from grants.core.models import Funder, default_funder
from grants.extensions import db
from grants.funding import budget
from grants.funding.models import (
    BudgetSection,
    Commitment,
    CommitmentKind,
    FundingLine,
    FundingLineYear,
)
from grants.organisations.models import Organisation

#: the seeds' budget tables, shipped as package data (``grants/data/``)
SEED_FILES = (
    "budget-2016-2018-fonctionnement.csv",
    "budget-2016-2018-investissement.csv",
    "budget-2022-2026.csv",
)

LINE_TAKEN = "Cette ligne existe déjà dans cette section et cette rubrique."
KIND_LABELS = {
    CommitmentKind.fixed: "Convention (montant annuel fixe)",
    CommitmentKind.plie: "PLIE (part fixe + taux horaire × heures réalisées)",
}


class BudgetError(Exception):
    """A refused change: a French message, and per-field messages when it comes from input."""

    def __init__(self, message: str, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


# --- import ------------------------------------------------------------------------------------


@dataclass
class ImportResult:
    lines_created: int = 0
    votes_created: int = 0
    votes_updated: int = 0
    votes_unchanged: int = 0
    #: year → section → voted in the file
    totals: dict[int, dict[str, Decimal]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.lines_created or self.votes_created or self.votes_updated)

    def __add__(self, other: ImportResult) -> ImportResult:
        totals = {year: dict(sums) for year, sums in self.totals.items()}
        for year, sums in other.totals.items():
            mine = totals.setdefault(year, {s: Decimal("0") for s in budget.SECTIONS})
            for section, amount in sums.items():
                mine[section] = mine.get(section, Decimal("0")) + amount
        return ImportResult(
            self.lines_created + other.lines_created,
            self.votes_created + other.votes_created,
            self.votes_updated + other.votes_updated,
            self.votes_unchanged + other.votes_unchanged,
            totals,
        )

    def summary(self) -> str:
        return (
            f"{self.lines_created} ligne(s) créée(s), {self.votes_created} vote(s) ajouté(s), "
            f"{self.votes_updated} vote(s) modifié(s), {self.votes_unchanged} inchangé(s)"
        )


def _vote_key(year: int) -> str:
    return f"voted_{year}"


def import_table(
    table: budget.BudgetTable, actor=None, funder: Funder | None = None, source: str = ""
) -> ImportResult:
    """Upsert the table's lines on (funder, section, rubric, label) and votes on (line, year).

    A line created, or a vote added or changed, is audited (``budget_line.import``); an
    identical second import writes nothing."""
    funder = funder or default_funder()
    existing = {
        (line.section.value, line.rubric, line.label): line
        for line in db.session.scalars(
            sa.select(FundingLine)
            .where(FundingLine.funder_id == funder.id)
            .options(selectinload(FundingLine.years))
        )
    }
    result = ImportResult(totals={year: table.totals(year) for year in table.years})
    origin = f" (fichier {source})" if source else ""
    for row in table.rows:
        line = existing.get(row.key)
        if line is None:
            line = FundingLine(
                funder_id=funder.id,
                section=BudgetSection(row.section),
                rubric=row.rubric,
                label=row.label,
                years=[FundingLineYear(year=y, voted=v) for y, v in sorted(row.votes.items())],
            )
            db.session.add(line)
            existing[row.key] = line
            result.lines_created += 1
            result.votes_created += len(row.votes)
            changes = {"section": [None, row.section], "rubric": [None, row.rubric]}
            changes["label"] = [None, row.label]
            changes.update({_vote_key(y): [None, v] for y, v in sorted(row.votes.items())})
            record(
                actor,
                "budget_line.import",
                line,
                summary=f"Ligne budgétaire « {row.label} » importée{origin}.",
                changes=changes,
            )
            continue
        by_year = {vote.year: vote for vote in line.years}
        changes = {}
        for year, voted in sorted(row.votes.items()):
            vote = by_year.get(year)
            if vote is None:
                line.years.append(FundingLineYear(year=year, voted=voted))
                result.votes_created += 1
                changes[_vote_key(year)] = [None, voted]
            elif vote.voted != voted:
                changes[_vote_key(year)] = [vote.voted, voted]
                vote.voted = voted
                result.votes_updated += 1
            else:
                result.votes_unchanged += 1
        if changes:
            record(
                actor,
                "budget_line.import",
                line,
                summary=f"Votes de la ligne « {line.label} » mis à jour par import{origin}.",
                changes=changes,
            )
    db.session.flush()
    return result


def import_csv(
    data: bytes | str, actor=None, funder: Funder | None = None, source: str = ""
) -> ImportResult:
    """Parse (raises :class:`budget.BudgetCsvError`) then :func:`import_table`."""
    text = budget.decode_csv(data) if isinstance(data, bytes) else data.lstrip("\ufeff")
    return import_table(budget.parse_budget_csv(text), actor, funder, source)


def load_seed_budget(actor=None, funder: Funder | None = None) -> ImportResult:
    """Import the seeds' three budget tables (package data); idempotent. For ``grants demo``."""
    folder = resources.files("grants") / "data"
    result = ImportResult()
    for name in SEED_FILES:
        result = result + import_csv((folder / name).read_bytes(), actor, funder, source=name)
    return result


# --- lines -------------------------------------------------------------------------------------


def clean_line(raw: dict, *, partial: bool = False) -> tuple[dict, dict[str, list[str]]]:
    """Check a line's input: ``section``, ``rubric``, ``label``, ``votes`` ({year: amount}).

    Values may be raw text (API) or already parsed (form). A vote of None or "" means
    « no vote for that year ». With ``partial``, absent keys are left out."""
    clean: dict = {}
    errors: dict[str, list[str]] = {}
    checks = {
        "section": budget.parse_section,
        "rubric": lambda v: budget.clean_text(v, "la rubrique", budget.RUBRIC_MAX),
        "label": lambda v: budget.clean_text(v, "le libellé de la ligne", budget.LABEL_MAX),
    }
    for name, check in checks.items():
        if partial and name not in raw:
            continue
        value = raw.get(name)
        if value is not None and not isinstance(value, str):
            errors[name] = ["Texte attendu."]
            continue
        try:
            clean[name] = check(value)
        except ValueError as exc:
            errors[name] = [str(exc)]
    if not partial or "votes" in raw:
        votes = raw.get("votes") or {}
        if not isinstance(votes, dict):
            errors["votes"] = ["Un objet { année : montant } est attendu."]
        else:
            clean_votes: dict[int, Decimal | None] = {}
            for key, amount in votes.items():
                try:
                    year = budget.parse_year(key if isinstance(key, int) else str(key))
                except ValueError as exc:
                    errors.setdefault("votes", []).append(f"« {key} » : {exc}")
                    continue
                if year in clean_votes:
                    errors.setdefault("votes", []).append(f"L'année {year} figure deux fois.")
                    continue
                if amount is None or (isinstance(amount, str) and not amount.strip()):
                    clean_votes[year] = None
                    continue
                try:
                    clean_votes[year] = budget.parse_amount(amount)
                except ValueError as exc:
                    errors.setdefault("votes", []).append(f"{year} : {exc}")
            clean["votes"] = clean_votes
    return clean, errors


def _line_taken(funder_id: int, section: str, rubric: str, label: str, line_id=None) -> bool:
    query = sa.select(FundingLine.id).where(
        FundingLine.funder_id == funder_id,
        FundingLine.section == BudgetSection(section),
        FundingLine.rubric == rubric,
        FundingLine.label == label,
    )
    if line_id is not None:
        query = query.where(FundingLine.id != line_id)
    return db.session.scalar(query) is not None


def create_line(actor, clean: dict, funder: Funder | None = None) -> FundingLine:
    """A new line with its votes (``clean`` from :func:`clean_line`)."""
    funder = funder or default_funder()
    if _line_taken(funder.id, clean["section"], clean["rubric"], clean["label"]):
        raise BudgetError(LINE_TAKEN, {"label": [LINE_TAKEN]})
    votes = {y: v for y, v in (clean.get("votes") or {}).items() if v is not None}
    line = FundingLine(
        funder_id=funder.id,
        section=BudgetSection(clean["section"]),
        rubric=clean["rubric"],
        label=clean["label"],
        years=[FundingLineYear(year=y, voted=v) for y, v in sorted(votes.items())],
    )
    db.session.add(line)
    changes = {name: [None, clean[name]] for name in ("section", "rubric", "label")}
    changes.update({_vote_key(y): [None, v] for y, v in sorted(votes.items())})
    record(
        actor,
        "budget_line.create",
        line,
        summary=f"Ligne budgétaire « {line.label} » créée.",
        changes=changes,
    )
    return line


def update_line(line: FundingLine, actor, clean: dict, *, replace_votes: bool = False) -> dict:
    """Apply ``clean`` (partial allowed); returns the audited ``{field: [before, after]}``.

    Votes: a year given with an amount is set, with None removed; with ``replace_votes``
    (the page shows every year) a year not given is removed too."""
    changes: dict = {}
    target = {
        "section": clean.get("section", line.section.value),
        "rubric": clean.get("rubric", line.rubric),
        "label": clean.get("label", line.label),
    }
    if (target["section"], target["rubric"], target["label"]) != (
        line.section.value,
        line.rubric,
        line.label,
    ) and _line_taken(line.funder_id, *target.values(), line_id=line.id):
        raise BudgetError(LINE_TAKEN, {"label": [LINE_TAKEN]})
    if target["section"] != line.section.value:
        changes["section"] = [line.section.value, target["section"]]
        line.section = BudgetSection(target["section"])
    for name in ("rubric", "label"):
        if target[name] != getattr(line, name):
            changes[name] = [getattr(line, name), target[name]]
            setattr(line, name, target[name])
    if "votes" in clean:
        wanted = dict(clean["votes"])
        by_year = {vote.year: vote for vote in line.years}
        if replace_votes:
            for year in by_year:
                wanted.setdefault(year, None)
        for year, voted in sorted(wanted.items()):
            vote = by_year.get(year)
            if voted is None:
                if vote is not None:
                    changes[_vote_key(year)] = [vote.voted, None]
                    line.years.remove(vote)
            elif vote is None:
                line.years.append(FundingLineYear(year=year, voted=voted))
                changes[_vote_key(year)] = [None, voted]
            elif vote.voted != voted:
                changes[_vote_key(year)] = [vote.voted, voted]
                vote.voted = voted
    if changes:
        record(
            actor,
            "budget_line.update",
            line,
            summary=f"Ligne budgétaire « {line.label} » modifiée.",
            changes=changes,
        )
        db.session.flush()
    return changes


# --- calls -------------------------------------------------------------------------------------


def link_call(line: FundingLine, call: Call, actor) -> bool:
    """The call's awards now consume ``line``; False when it already did."""
    if call.funder_id != line.funder_id:
        raise BudgetError(
            "Cet appel n'est pas financé par le même attribuant que la ligne.",
            {"call_id": ["Choisissez un appel de l'attribuant de cette ligne."]},
        )
    if call.funding_line_id == line.id:
        return False
    before = call.funding_line_id
    call.funding_line_id = line.id
    record(
        actor,
        "call.funding_line",
        call,
        summary=f"L'appel « {call.title} » consomme la ligne budgétaire « {line.label} ».",
        changes={"funding_line_id": [before, line.id]},
    )
    return True


def unlink_call(call: Call, actor) -> bool:
    if call.funding_line_id is None:
        return False
    before = call.funding_line_id
    call.funding_line_id = None
    record(
        actor,
        "call.funding_line",
        call,
        summary=f"L'appel « {call.title} » n'est plus rattaché à une ligne budgétaire.",
        changes={"funding_line_id": [before, None]},
    )
    return True


# --- commitments -------------------------------------------------------------------------------

COMMITMENT_FIELDS = [
    "year",
    "kind",
    "beneficiary",
    "organisation_id",
    "fixed_amount",
    "hourly_rate",
    "hours",
    "note",
]


def clean_commitment(
    raw: dict, kind: CommitmentKind, *, base: dict | None = None
) -> tuple[dict, dict[str, list[str]]]:
    """Check a commitment's input (raw text or parsed values); ``base`` fills absent keys
    (a PATCH). For a convention, the rate and hours are dropped; for a PLIE, the rate is
    required and the hours may stay empty until reported."""
    values = {**(base or {}), **raw}
    clean: dict = {"kind": kind}
    errors: dict[str, list[str]] = {}

    def _check(name, parse):
        try:
            clean[name] = parse(values.get(name))
        except ValueError as exc:
            errors[name] = [str(exc)]

    _check("year", lambda v: budget.parse_year(v if isinstance(v, int) else str(v or "")))
    _check(
        "beneficiary",
        lambda v: budget.clean_text(v, "le bénéficiaire", budget.BENEFICIARY_MAX),
    )
    _check("note", lambda v: budget.clean_text(v, "", budget.NOTE_MAX, required=False))
    _check("fixed_amount", budget.parse_amount)
    organisation_id = values.get("organisation_id")
    if organisation_id in (None, "", 0):
        clean["organisation_id"] = None
    elif isinstance(organisation_id, bool) or not isinstance(organisation_id, int | str):
        errors["organisation_id"] = ["Identifiant de structure attendu."]
    else:
        try:
            org_id = int(organisation_id)
        except ValueError:
            errors["organisation_id"] = ["Identifiant de structure attendu."]
        else:
            if db.session.get(Organisation, org_id) is None:
                errors["organisation_id"] = ["Cette structure n'existe pas."]
            else:
                clean["organisation_id"] = org_id
    if kind == CommitmentKind.plie:
        _check("hourly_rate", budget.parse_amount)
        _check("hours", budget.parse_hours)
    else:
        clean["hourly_rate"] = None
        clean["hours"] = None
    return clean, errors


def _commitment_snapshot(c: Commitment) -> dict:
    return {name: getattr(c, name) for name in COMMITMENT_FIELDS}


def create_commitment(line: FundingLine, actor, clean: dict) -> Commitment:
    commitment = Commitment(line_id=line.id, **clean)
    db.session.add(commitment)
    record(
        actor,
        "commitment.create",
        commitment,
        summary=(
            f"Engagement {clean['year']} « {commitment.beneficiary} » sur la ligne "
            f"« {line.label} » ({budget.format_euros(commitment_amount(commitment))})."
        ),
        changes={k: [None, v] for k, v in _commitment_snapshot(commitment).items()},
    )
    return commitment


def update_commitment(commitment: Commitment, actor, clean: dict) -> dict:
    before = _commitment_snapshot(commitment)
    for name, value in clean.items():
        if name != "kind":
            setattr(commitment, name, value)
    after = _commitment_snapshot(commitment)
    changes = {k: [before[k], after[k]] for k in COMMITMENT_FIELDS if before[k] != after[k]}
    if changes:
        record(
            actor,
            "commitment.update",
            commitment,
            summary=(
                f"Engagement {commitment.year} « {commitment.beneficiary} » modifié "
                f"({budget.format_euros(commitment_amount(commitment))})."
            ),
            changes=changes,
        )
    return changes


def delete_commitment(commitment: Commitment, actor) -> None:
    record(
        actor,
        "commitment.delete",
        commitment,
        summary=f"Engagement {commitment.year} « {commitment.beneficiary} » supprimé.",
        changes={k: [v, None] for k, v in _commitment_snapshot(commitment).items()},
    )
    db.session.delete(commitment)


def commitment_amount(commitment: Commitment) -> Decimal:
    """The amount the report counts (PLIE rounded to the cent)."""
    return budget.commitment_amount(
        commitment.kind.value,
        commitment.fixed_amount,
        commitment.hourly_rate,
        commitment.hours,
    )
