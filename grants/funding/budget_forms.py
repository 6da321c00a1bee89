"""Budget lines, the ``funding`` feature's budget side: the staff forms.

The forms only carry text; amounts, years and hours are parsed by the pure rules of
:mod:`grants.funding.budget` and checked by :mod:`grants.funding.budget_operations` (the
same checks as the API). :meth:`LineForm.parsed` and :meth:`CommitmentForm.parsed` put
each French message next to its field and return None when something is wrong.
"""

from __future__ import annotations

from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (
    FieldList,
    Form,
    FormField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)

from grants.funding import budget
from grants.funding.budget_operations import clean_commitment, clean_line
from grants.funding.models import Commitment, CommitmentKind, FundingLine

#: blank year rows offered below the existing votes
BLANK_VOTE_ROWS = 3
MAX_VOTE_ROWS = 30


def format_amount(value: Decimal | None) -> str:
    """``Decimal("60000")`` → ``"60 000,00"`` (plain spaces: easy to retype)."""
    if value is None:
        return ""
    return f"{value:,.2f}".replace(",", " ").replace(".", ",")


def format_hours(value: Decimal | None) -> str:
    """``Decimal("1250.50")`` → ``"1 250,5"``."""
    if value is None:
        return ""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",")


def _text(field) -> str:
    return (field.data or "").strip() if isinstance(field.data, str) else ""


class VoteRowForm(Form):
    year = StringField("Année", render_kw={"inputmode": "numeric", "autocomplete": "off"})
    voted = StringField(
        "Montant voté (€)", render_kw={"inputmode": "decimal", "autocomplete": "off"}
    )


class LineForm(FlaskForm):
    section = SelectField(
        "Section",
        choices=[SelectChoice(s, budget.SECTION_LABELS[s]) for s in budget.SECTIONS],
        validate_choice=False,
    )
    rubric = StringField(
        "Rubrique",
        description="Par exemple « têtes de réseau » ou « clauses d'insertion (PLIE) ».",
        render_kw={"maxlength": budget.RUBRIC_MAX},
    )
    label = StringField(
        "Ligne",
        description="Le libellé de la ligne, par exemple « PLIE des Graves ».",
        render_kw={"maxlength": budget.LABEL_MAX},
    )
    votes = FieldList(FormField(VoteRowForm), min_entries=0, max_entries=MAX_VOTE_ROWS)

    @classmethod
    def for_line(cls, line: FundingLine | None) -> LineForm:
        if line is None:
            form = cls(data={"section": "fonctionnement"})
        else:
            form = cls(
                data={
                    "section": line.section.value,
                    "rubric": line.rubric,
                    "label": line.label,
                    "votes": [
                        {"year": str(v.year), "voted": format_amount(v.voted)} for v in line.years
                    ],
                }
            )
        form.pad()
        return form

    def pad(self, blank: int = BLANK_VOTE_ROWS) -> None:
        """A few empty year rows after the filled ones."""
        empty = sum(1 for e in self.votes if not _text(e.form.year) and not _text(e.form.voted))
        while empty < blank and len(self.votes) < MAX_VOTE_ROWS:
            self.votes.append_entry()
            empty += 1

    def add_rows(self, count: int = BLANK_VOTE_ROWS) -> None:
        """The « more years » button: empty rows appended, nothing saved."""
        for _ in range(count):
            if len(self.votes) >= MAX_VOTE_ROWS:
                break
            self.votes.append_entry()

    def parsed(self) -> dict | None:
        """The checked values (for :func:`budget_operations.create_line` / ``update_line``),
        or None with the messages next to the fields."""
        ok = self.validate()
        votes: dict[int, Decimal] = {}
        seen: dict[int, int] = {}
        for position, entry in enumerate(self.votes, start=1):
            year_text, amount_text = _text(entry.form.year), _text(entry.form.voted)
            if not year_text and not amount_text:
                continue
            year = None
            try:
                year = budget.parse_year(year_text)
            except ValueError as exc:
                entry.form.year.errors = [str(exc)]
                ok = False
            if year is not None and year in seen:
                entry.form.year.errors = [f"L'année {year} figure déjà ligne {seen[year]}."]
                ok = False
                year = None
            if year is not None:
                seen[year] = position
            if not amount_text:
                entry.form.voted.errors = [
                    "Indiquez le montant voté (0 si rien n'est voté), ou videz l'année."
                ]
                ok = False
                continue
            try:
                amount = budget.parse_amount(amount_text)
            except ValueError as exc:
                entry.form.voted.errors = [str(exc)]
                ok = False
                continue
            if year is not None:
                votes[year] = amount
        clean, errors = clean_line(
            {
                "section": self.section.data or "",
                "rubric": self.rubric.data or "",
                "label": self.label.data or "",
                "votes": votes,
            }
        )
        self.show_errors(errors)
        if errors or not ok:
            return None
        return clean

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            field = getattr(self, name, None)
            if field is not None and name != "votes":
                field.errors = [*field.errors, *messages]


class LinkCallForm(FlaskForm):
    call_id = SelectField("Appel à rattacher", choices=[], validate_choice=False)


class ConfirmForm(FlaskForm):
    """A button (unlink, delete): only the CSRF token."""


class CommitmentForm(FlaskForm):
    year = StringField("Année", render_kw={"inputmode": "numeric", "autocomplete": "off"})
    beneficiary = StringField(
        "Bénéficiaire",
        description="Le nom du partenaire conventionné (par exemple « CRESS » ou "
        "« PLIE des Graves »).",
        render_kw={"maxlength": budget.BENEFICIARY_MAX},
    )
    organisation_id = SelectField(
        "Structure enregistrée (facultatif)", choices=[], validate_choice=False
    )
    fixed_amount = StringField(
        "Montant annuel (€)", render_kw={"inputmode": "decimal", "autocomplete": "off"}
    )
    hourly_rate = StringField(
        "Montant par heure d'insertion réalisée (€)",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    hours = StringField(
        "Heures d'insertion réalisées",
        description="Saisies par le service ou déclarées par le PLIE ; vide tant qu'elles ne "
        "sont pas connues (la part fixe reste engagée).",
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    note = TextAreaField("Note (facultatif)", render_kw={"maxlength": budget.NOTE_MAX, "rows": 3})

    def setup(self, kind: CommitmentKind, organisations: list[tuple[int, str]]) -> None:
        self.kind = kind
        self.organisation_id.choices = [SelectChoice("", "— Aucune —")] + [
            SelectChoice(str(i), name) for i, name in organisations
        ]
        if kind == CommitmentKind.plie:
            self.fixed_amount.label.text = "Part fixe (€)"
        else:
            del self.hourly_rate
            del self.hours

    @classmethod
    def for_commitment(
        cls,
        kind: CommitmentKind,
        organisations: list[tuple[int, str]],
        commitment: Commitment | None = None,
        *,
        year: int | None = None,
        beneficiary: str = "",
    ) -> CommitmentForm:
        if commitment is None:
            plie = kind == CommitmentKind.plie
            data = {
                "year": str(year or ""),
                "beneficiary": beneficiary,
                "organisation_id": "",
                "fixed_amount": format_amount(budget.PLIE_FIXED_DEFAULT) if plie else "",
                "hourly_rate": format_amount(budget.PLIE_RATE_DEFAULT) if plie else "",
                "hours": "",
                "note": "",
            }
        else:
            data = {
                "year": str(commitment.year),
                "beneficiary": commitment.beneficiary,
                "organisation_id": str(commitment.organisation_id or ""),
                "fixed_amount": format_amount(commitment.fixed_amount),
                "hourly_rate": format_amount(commitment.hourly_rate),
                "hours": format_hours(commitment.hours),
                "note": commitment.note,
            }
        form = cls(data=data)
        form.setup(kind, organisations)
        return form

    def parsed(self) -> dict | None:
        ok = self.validate()
        raw = {
            "year": _text(self.year),
            "beneficiary": self.beneficiary.data or "",
            "organisation_id": self.organisation_id.data or "",
            "fixed_amount": _text(self.fixed_amount),
            "note": self.note.data or "",
        }
        if self.kind == CommitmentKind.plie:
            raw["hourly_rate"] = _text(self.hourly_rate)
            raw["hours"] = _text(self.hours)
        clean, errors = clean_commitment(raw, self.kind)
        for name, messages in errors.items():
            field = getattr(self, name, None)
            if field is not None:
                field.errors = [*field.errors, *messages]
        if errors or not ok:
            return None
        return clean

    def amount_preview(self) -> Decimal | None:
        """The computed amount of what is typed (shown beside the form), None if unreadable."""
        try:
            fixed = budget.parse_amount(_text(self.fixed_amount))
            if self.kind != CommitmentKind.plie:
                return budget.cents(fixed)
            rate = budget.parse_amount(_text(self.hourly_rate))
            hours = budget.parse_hours(_text(self.hours))
        except ValueError:
            return None
        return budget.plie_amount(fixed, rate, hours)
