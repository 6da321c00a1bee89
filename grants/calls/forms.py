"""The staff form of a call.

The form only *parses* what was typed (amounts the French way, Paris local date-times,
whole numbers), each with a French message next to its field; every other check is
:func:`grants.calls.operations.validation_errors`, shared with the JSON API.

Lists (budget years, required documents, criteria) are rows of fields without
JavaScript: the page shows a few empty rows, and an « Ajouter des lignes » button sends
the form back with more (nothing is saved then; what was typed is kept). Empty rows are
ignored. The degressive profile is a column of the years' rows: all empty = derived
from the envelopes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.widgets import CheckboxInput, DateTimeLocalInput, ListWidget, TextInput

from grants.calls import rules
from grants.calls.models import FILE_TYPES, Call, CallKind
from grants.organisations.models import LEGAL_FORM_LABELS

INVALID_CHOICE = "Choisissez une valeur dans la liste."
MAX_YEAR_ROWS = 10
MAX_ROWS = 30
#: rows added by an « Ajouter des lignes » button
ADD_ROWS = 3


class _MarkRequired:
    """Marks a field required (label star); :mod:`operations` checks it, for the API too."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        return None


REQUIRED = [_MarkRequired()]


class _ParsedField(Field):
    """A text input parsed by a rule of :mod:`rules`; the rule's ValueError is the message."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, render_kw=None, **kwargs):
        super().__init__(label, validators, render_kw=render_kw, **kwargs)

    def parse(self, text: str):
        raise NotImplementedError

    def format(self, value) -> str:
        return str(value)

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            self.data = self.parse(valuelist[0])

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else self.format(self.data)

    @property
    def is_blank(self) -> bool:
        if self.raw_data is not None:
            return not (self.raw_data and self.raw_data[0].strip())
        return self.data is None


def format_amount(value: Decimal) -> str:
    """``Decimal("60000")`` → ``"60 000,00"`` (plain spaces: easy to retype)."""
    return f"{value:,.2f}".replace(",", " ").replace(".", ",")


class MoneyField(_ParsedField):
    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)

    def parse(self, text):
        return rules.parse_money(text)

    def format(self, value):
        return format_amount(value)


class PercentField(_ParsedField):
    """Typed as a percentage, held as a share (``50`` → ``Decimal("0.5")``)."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)

    def parse(self, text):
        return rules.parse_percentage(text)

    def format(self, value):
        return rules.share_to_percentage(value)


ADVANCE_RANGE = "La part doit être comprise entre 0 et 100 %."


class AdvanceField(PercentField):
    """A percentage between 0 and 100 included (the advance may be nil)."""

    def parse(self, text):
        cleaned = "".join((text or "").split()).removesuffix("%").replace(",", ".")
        try:
            number = Decimal(cleaned) if cleaned else None
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            if number == 0:
                return Decimal("0.0000")
            if not Decimal(0) <= number <= Decimal(100):
                raise ValueError(ADVANCE_RANGE)
        return rules.parse_percentage(text)


#: the months of the report's due date, in French
MONTHS = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
]


class WeightField(_ParsedField):
    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)

    def parse(self, text):
        return rules.parse_weight(text)

    def format(self, value):
        return format(Decimal(value), "f").replace(".", ",")


class IntField(_ParsedField):
    def __init__(self, label=None, validators=None, minimum=None, maximum=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.minimum = minimum
        self.maximum = maximum

    def parse(self, text):
        return rules.parse_int(text, minimum=self.minimum, maximum=self.maximum)


class LocalDateTimeField(_ParsedField):
    """``<input type=datetime-local>`` in Europe/Paris; ``data`` is an aware UTC datetime."""

    widget = DateTimeLocalInput()

    def parse(self, text):
        return rules.parse_local_datetime(text)

    def format(self, value):
        return rules.to_local_input(value)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class _Row(Form):
    """A row of a list; blank when nothing was typed in it."""

    def is_blank(self) -> bool:
        for field in self:
            if isinstance(field, _ParsedField):
                if not field.is_blank:
                    return False
            elif isinstance(field, StringField | TextAreaField):
                if (field.data or "").strip():
                    return False
        return True


class YearRow(_Row):
    year = IntField("Année", minimum=rules.MIN_YEAR, maximum=rules.MAX_YEAR)
    envelope = MoneyField("Enveloppe (€)")
    weight = WeightField("Poids du profil (facultatif)")


class DocumentRow(_Row):
    id = HiddenField()
    label = StringField("Intitulé")
    mandatory = BooleanField("Obligatoire", default=True)
    accepted_types = MultiCheckboxField(
        "Types acceptés",
        choices=[SelectChoice(value, label) for value, label in FILE_TYPES.items()],
        invalid_choice_message=INVALID_CHOICE,
        default=list(FILE_TYPES),
    )

    def is_blank(self) -> bool:
        return not (self.label.data or "").strip()


class CriterionRow(_Row):
    id = HiddenField()
    label = StringField("Critère")
    description = StringField("Description (facultative)")
    weight = IntField("Poids", minimum=1, maximum=rules.MAX_WEIGHT)
    scale_max = IntField("Note maximale", minimum=1, maximum=rules.MAX_SCALE)

    def is_blank(self) -> bool:
        return not (self.label.data or "").strip() and self.weight.is_blank


class CallForm(FlaskForm):
    kind = SelectField(
        "Type d'appel",
        validators=REQUIRED,
        choices=[SelectChoice(k.value, k.label) for k in CallKind],
        invalid_choice_message=INVALID_CHOICE,
    )
    title = StringField("Titre", validators=REQUIRED, render_kw={"maxlength": 200})
    reference_prefix = StringField(
        "Préfixe des références",
        validators=REQUIRED,
        description=(
            "Les dossiers déposés seront numérotés avec ce préfixe, par exemple "
            "AAP-2016 → AAP-2016-0007. Lettres sans accent, chiffres et tirets."
        ),
        render_kw={"maxlength": 20, "autocomplete": "off"},
    )
    summary = TextAreaField(
        "Résumé",
        description="Deux ou trois phrases, affichées dans la liste des appels (500 caractères).",
        render_kw={"rows": 3, "maxlength": 500},
    )
    description = TextAreaField(
        "Description",
        description=(
            "Texte mis en forme avec Markdown : **gras**, *italique*, listes à tirets, "
            "## intertitres, [lien](https://…). Le HTML est filtré à l'affichage."
        ),
        render_kw={"rows": 10},
    )
    rules = TextAreaField(
        "Règlement",
        description="Même mise en forme que la description.",
        render_kw={"rows": 14},
    )
    opens_at = LocalDateTimeField(
        "Ouverture des dépôts",
        validators=REQUIRED,
        description="Date et heure de Paris (jj/mm/aaaa hh:mm).",
    )
    closes_at = LocalDateTimeField(
        "Clôture des dépôts",
        validators=REQUIRED,
        description="Date et heure de Paris. Aucun dépôt n'est accepté après cette heure.",
    )
    years = FieldList(FormField(YearRow), max_entries=MAX_YEAR_ROWS)
    eligible_legal_forms = MultiCheckboxField(
        "Formes juridiques éligibles",
        choices=[SelectChoice(f.value, label) for f, label in LEGAL_FORM_LABELS.items()],
        invalid_choice_message=INVALID_CHOICE,
    )
    sectors = TextAreaField(
        "Secteurs prioritaires",
        description="Un secteur par ligne. Le porteur en choisit un dans cette liste.",
        render_kw={"rows": 5},
    )
    ceiling = MoneyField(
        "Plafond par dossier (€)",
        description="Montant maximal demandé sur toutes les années. Vide : pas de plafond.",
    )
    max_expense_share = PercentField(
        "Part maximale des dépenses éligibles (%)",
        description="Aide à l'investissement uniquement, par exemple 50.",
    )
    reviews_required = IntField(
        "Évaluations requises par dossier", validators=REQUIRED, minimum=1, maximum=20, default=2
    )
    advance_share = AdvanceField(
        "Part de la première tranche versée à la signature (%)",
        validators=REQUIRED,
        description=(
            "Avance sur la tranche de la première année, versée à la signature de la "
            "convention : 100 pour la verser entière, 0 pour ne rien verser d'avance."
        ),
    )
    payment_years = IntField(
        "Nombre de tranches annuelles (aide à l'investissement)",
        minimum=1,
        maximum=10,
        description=(
            "Aide à l'investissement uniquement : une tranche par année de travaux, à partir "
            "de la première année budgétaire (de 1 à 10). Vide : une seule tranche."
        ),
    )
    release_on_report = BooleanField(
        "Versement des tranches suivantes après acceptation du compte rendu de l'année précédente",
        default=True,
        description="Décoché : les tranches suivantes sont versées chaque année sans attendre.",
    )
    report_due_month = SelectField(
        "Mois d'échéance du compte rendu annuel (année suivante)",
        validators=REQUIRED,
        choices=[SelectChoice(str(n), name) for n, name in enumerate(MONTHS, start=1)],
        invalid_choice_message=INVALID_CHOICE,
        default="6",
        description="Le compte rendu de l'année N est attendu à la fin de ce mois de l'année N+1.",
    )
    share_review_comments = BooleanField(
        "Communiquer aux porteurs les commentaires des évaluateurs, anonymisés",
        description="Avec la décision ; les noms des évaluateurs et les notes ne sont pas "
        "communiqués.",
    )
    documents = FieldList(FormField(DocumentRow), max_entries=MAX_ROWS)
    criteria = FieldList(FormField(CriterionRow), max_entries=MAX_ROWS)

    #: list-level messages (``years``, ``profile``, ``documents``, ``criteria``)
    list_errors: dict[str, list[str]]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.list_errors = {}

    # --- rows -----------------------------------------------------------------------------

    def pad(self, minimum: dict[str, int] | None = None, extra: int = 1) -> None:
        """Show empty rows to type into: ``extra`` after the filled ones, and ``minimum``."""
        minimum = minimum or {}
        for name, limit in (
            ("years", MAX_YEAR_ROWS),
            ("documents", MAX_ROWS),
            ("criteria", MAX_ROWS),
        ):
            field = getattr(self, name)
            filled = sum(1 for entry in field.entries if not entry.form.is_blank())
            wanted = min(max(minimum.get(name, 0), filled + extra), limit)
            while len(field.entries) < wanted:
                field.append_entry()

    def add_rows(self, name: str) -> None:
        field = getattr(self, name)
        limit = MAX_YEAR_ROWS if name == "years" else MAX_ROWS
        for _ in range(ADD_ROWS):
            if len(field.entries) >= limit:
                break
            field.append_entry()

    def _rows(self, name: str):
        return [entry.form for entry in getattr(self, name).entries if not entry.form.is_blank()]

    # --- values -----------------------------------------------------------------------------

    def values(self, call: Call | None = None) -> dict:
        """Typed values for :mod:`operations` (None where the input didn't parse)."""
        years = self._rows("years")
        weights = [row.weight.data for row in years]
        profile = None if all(row.weight.is_blank for row in years) else weights
        return {
            "kind": self.kind.data,
            "title": self.title.data or "",
            "reference_prefix": self.reference_prefix.data or "",
            "summary": self.summary.data or "",
            "description": self.description.data or "",
            "rules": self.rules.data or "",
            "opens_at": _same_minute(self.opens_at, call.opens_at if call else None),
            "closes_at": _same_minute(self.closes_at, call.closes_at if call else None),
            "years": [{"year": row.year.data, "envelope": row.envelope.data} for row in years],
            "profile": profile,
            "eligible_legal_forms": list(self.eligible_legal_forms.data or []),
            "sectors": rules.parse_lines(self.sectors.data),
            "ceiling": self.ceiling.data,
            "max_expense_share": self.max_expense_share.data,
            "reviews_required": self.reviews_required.data,
            "share_review_comments": bool(self.share_review_comments.data),
            "payment_years": self.payment_years.data,
            "advance_share": self.advance_share.data,
            "release_on_report": bool(self.release_on_report.data),
            "report_due_month": _month(self.report_due_month.data),
            "documents": [
                {
                    "id": _row_id(row.id.data),
                    "label": row.label.data or "",
                    "mandatory": bool(row.mandatory.data),
                    "accepted_types": list(row.accepted_types.data or []),
                }
                for row in self._rows("documents")
            ],
            "criteria": [
                {
                    "id": _row_id(row.id.data),
                    "label": row.label.data or "",
                    "description": row.description.data or "",
                    "weight": row.weight.data,
                    "scale_max": row.scale_max.data,
                }
                for row in self._rows("criteria")
            ],
        }

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        """Put the messages of :func:`operations.validation_errors` next to their fields.

        A field that already shows a typing error keeps only that one; a list whose rows
        have typing errors shows those first.
        """
        for name, messages in errors.items():
            if name in ("years", "profile", "documents", "criteria", "publish"):
                rows = getattr(self, "years" if name == "profile" else name, None)
                if rows is not None and any(e.form.errors for e in rows.entries):
                    continue
                self.list_errors.setdefault(name, []).extend(messages)
                continue
            field = getattr(self, name, None)
            if field is None:
                self.list_errors.setdefault("form", []).extend(messages)
            elif not field.errors:
                field.errors = [*field.errors, *messages]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.list_errors)


def _month(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return -1  # refused by operations


def _row_id(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return -1  # refused by operations: not a row of this call


def _same_minute(field: LocalDateTimeField, stored: datetime | None) -> datetime | None:
    """The stored time when the input still shows it (the form has minutes, not seconds)."""
    if stored is not None and field.raw_data and field.raw_data[0].strip():
        if field.raw_data[0].strip() == rules.to_local_input(stored):
            return stored
    return field.data


def form_data(values: dict) -> dict:
    """The form's initial data for typed values (:func:`operations.call_values`)."""
    profile = values.get("profile") or []
    years = []
    for n, row in enumerate(values.get("years") or []):
        years.append(
            {
                "year": row["year"],
                "envelope": row["envelope"],
                "weight": profile[n] if n < len(profile) else None,
            }
        )
    kind = values.get("kind")
    return {
        "kind": kind.value if isinstance(kind, CallKind) else kind,
        "title": values.get("title", ""),
        "reference_prefix": values.get("reference_prefix", ""),
        "summary": values.get("summary", ""),
        "description": values.get("description", ""),
        "rules": values.get("rules", ""),
        "opens_at": values.get("opens_at"),
        "closes_at": values.get("closes_at"),
        "years": years,
        "eligible_legal_forms": values.get("eligible_legal_forms", []),
        "sectors": "\n".join(values.get("sectors") or []),
        "ceiling": values.get("ceiling"),
        "max_expense_share": values.get("max_expense_share"),
        "reviews_required": values.get("reviews_required"),
        "share_review_comments": bool(values.get("share_review_comments")),
        "payment_years": values.get("payment_years"),
        "advance_share": values.get("advance_share"),
        "release_on_report": bool(values.get("release_on_report")),
        "report_due_month": (
            None if values.get("report_due_month") is None else str(values["report_due_month"])
        ),
        "documents": [dict(row) for row in values.get("documents") or []],
        "criteria": [dict(row) for row in values.get("criteria") or []],
    }


class ConfirmForm(FlaskForm):
    """A button-only form (publish, close…): the CSRF token is its only field."""
