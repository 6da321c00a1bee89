"""Forms of the application steps; the JSON API validates through the same classes.

A step saves every field that is valid even when others are not (DESIGN §8: nothing
already typed is lost): validation here is per field, and :func:`valid_values` picks the
fields without errors. Whether a file is *complete* is not a form question: the
eligibility rules (:mod:`rules`) say what is missing before submission.
"""

from __future__ import annotations

from datetime import date, datetime

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Field,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Length, ValidationError
from wtforms.widgets import CheckboxInput, DateInput, ListWidget, TextInput

from grants.applications import rules
from grants.applications.models import (
    FUNDER_TYPE_LABELS,
    DeMinimisRegime,
    FunderType,
    FundingStatus,
)
from grants.organisations.rules import parse_count

INVALID_CHOICE = "Choisissez une valeur dans la liste."
REGIME_LABELS = {
    DeMinimisRegime.general.value: "De minimis général (plafond 300 000 € sur 3 ans)",
    DeMinimisRegime.sgei.value: "De minimis SIEG (services d'intérêt économique général, "
    "plafond 750 000 €)",
}
FUNDING_STATUS_LABELS = {
    FundingStatus.requested.value: "Sollicité",
    FundingStatus.obtained.value: "Obtenu",
}


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=f"{maximum} caractères au plus.")


# --- Fields -------------------------------------------------------------------------------


class _ParsedField(Field):
    """A text input parsed by a function raising ``ValueError`` with a French message;
    empty input gives None (nothing is required at field level)."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, parser=str, formatter=str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.parser = parser
        self.formatter = formatter

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            text = (valuelist[0] or "").strip()
            if text:
                self.data = self.parser(text)  # ValueError → shown next to the field

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else self.formatter(self.data)


class MoneyField(_ParsedField):
    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(
            label,
            validators,
            parser=rules.parse_amount,
            formatter=rules.format_amount_input,
            **kwargs,
        )


class CountField(_ParsedField):
    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "numeric"})
        super().__init__(label, validators, parser=parse_count, **kwargs)


def parse_date_fr(text: str) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise ValueError("Indiquez une date valide, par exemple 15/09/2016.")


class DateFrField(_ParsedField):
    widget = DateInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(
            label, validators, parser=parse_date_fr, formatter=date.isoformat, **kwargs
        )


class FrSelectField(SelectField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("invalid_choice_message", INVALID_CHOICE)
        kwargs.setdefault("validate_choice", True)
        super().__init__(*args, **kwargs)


class CommunesField(SelectMultipleField):
    """The communes of the project, as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        known = {choice.value for choice in self.choices or []}
        if any(value not in known for value in self.data or []):
            raise ValidationError("Choisissez des communes de la liste.")


def valid_values(form, names) -> dict:
    """``{name: data}`` of the fields of ``names`` that have no error."""
    return {name: form[name].data for name in names if name in form and not form[name].errors}


# --- Starting and the steps ---------------------------------------------------------------


class StartForm(FlaskForm):
    organisation_id = RadioField(
        "Structure qui dépose le dossier",
        coerce=int,
        validate_choice=False,
    )

    def validate_organisation_id(self, field):
        if field.data not in {choice.value for choice in self.organisation_id.choices}:
            raise ValidationError("Choisissez l'une de vos structures.")


class StructureForm(FlaskForm):
    approvals = TextAreaField(
        "Agréments, habilitations et relations avec l'administration",
        description=(
            "Agréments administratifs (ESUS, jeunesse et éducation populaire, IAE…), "
            "reconnaissance d'utilité publique, conventions en cours avec des collectivités."
        ),
        validators=[_length(5000)],
    )


PROJECT_FIELDS = [
    "title",
    "summary",
    "objectives",
    "target_public",
    "territory",
    "in_qpv",
    "sector",
    "innovation",
    "partners",
    "jobs_created",
    "jobs_maintained",
    "start_date",
    "end_date",
]


class ProjectForm(FlaskForm):
    title = StringField("Intitulé du projet", validators=[_length(200)])
    summary = TextAreaField(
        "Résumé du projet",
        description="En quelques lignes : ce que le projet fait, pour qui, où.",
        validators=[_length(5000)],
    )
    objectives = TextAreaField("Objectifs du projet", validators=[_length(10000)])
    target_public = TextAreaField(
        "Public visé",
        description="Les bénéficiaires : nombre, âge, situation (demandeurs d'emploi, jeunes…).",
        validators=[_length(5000)],
    )
    territory = CommunesField(
        "Communes de la métropole où se déroule le projet",
        description="Cochez une ou plusieurs communes.",
    )
    in_qpv = BooleanField("Le projet se déroule (en partie) dans un quartier prioritaire (QPV)")
    sector = FrSelectField("Secteur prioritaire", choices=[])
    innovation = TextAreaField(
        "Caractère innovant du projet (innovation sociale)", validators=[_length(10000)]
    )
    partners = TextAreaField("Partenaires du projet", validators=[_length(5000)])
    jobs_created = CountField("Emplois créés (nombre)")
    jobs_maintained = CountField("Emplois maintenus (nombre)")
    start_date = DateFrField("Date de début du projet")
    end_date = DateFrField("Date de fin du projet")

    def __init__(self, *args, sectors=(), communes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.sector.choices = choices([("", "— Choisissez —")] + [(s, s) for s in sectors])
        self.territory.choices = choices(communes)

    def validate_end_date(self, field):
        start = self.start_date.data if not self.start_date.errors else None
        if field.data and start and field.data < start:
            raise ValidationError("La date de fin doit suivre la date de début.")

    def values(self) -> dict:
        values = valid_values(self, PROJECT_FIELDS)
        for name in ("title", "summary", "objectives", "target_public", "innovation", "partners"):
            if name in values:
                values[name] = (values[name] or "").strip()
        if "sector" in values:
            values["sector"] = values["sector"] or None
        if "territory" in values:
            values["territory"] = sorted(set(values["territory"] or []))
        return values


ATTESTATION_FIELDS = ["signatory_name", "signatory_role", "certified"]


class AttestationForm(FlaskForm):
    signatory_name = StringField(
        "Nom et prénom du représentant légal (ou de son mandataire)", validators=[_length(200)]
    )
    signatory_role = StringField(
        "Qualité", description="Par exemple : président, directrice.", validators=[_length(120)]
    )
    certified = BooleanField(
        "Je certifie que la structure est à jour de ses obligations sociales et fiscales, "
        "et exactes et sincères les informations du présent dossier, notamment le budget "
        "et la déclaration des aides de minimis."
    )

    def values(self) -> dict:
        values = valid_values(self, ATTESTATION_FIELDS)
        for name in ("signatory_name", "signatory_role"):
            if name in values:
                values[name] = (values[name] or "").strip()
        return values


# --- Budget (call for projects) -----------------------------------------------------------

ACCOUNT_CHOICES = choices(
    [("", "— Compte —")] + [(code, rules.account_label(code)) for code in rules.ACCOUNTS]
)


class _Row(Form):
    row_id = HiddenField()

    #: the inputs that make a row non-empty
    content_fields: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return all(not (self[name].raw_data or [""])[0].strip() for name in self.content_fields)

    def saved_id(self) -> int | None:
        value = (self.row_id.data or "").strip()
        return int(value) if value.isdigit() else None


class BudgetRowForm(_Row):
    account = FrSelectField("Compte", choices=ACCOUNT_CHOICES, default="")
    label = StringField("Libellé", validators=[_length(200)])
    amount = MoneyField("Montant")

    content_fields = ("account", "label", "amount")

    def validate_account(self, field):
        if not field.data and not self.is_empty():
            raise ValidationError("Choisissez le compte de cette ligne.")

    def validate_amount(self, field):
        if field.data is None and not field.errors and not self.is_empty():
            raise ValidationError("Indiquez le montant de cette ligne.")

    def values(self) -> dict:
        return {
            "account": self.account.data,
            "label": (self.label.data or "").strip(),
            "amount": self.amount.data,
        }


def budget_form_class(years: list[int], rows_per_year: dict[int, int]):
    """A form with, for each budget year, the amount requested and a table of lines."""
    attrs = {}
    for year in years:
        attrs[f"request_{year}"] = MoneyField(f"Montant demandé pour {year}")
        attrs[f"lines_{year}"] = FieldList(
            FormField(BudgetRowForm), min_entries=rows_per_year.get(year, 3)
        )
    return type("BudgetForm", (FlaskForm,), attrs)


# --- Investment aid -----------------------------------------------------------------------


class ExpenseRowForm(_Row):
    label = StringField("Dépense", validators=[_length(200)])
    amount = MoneyField("Montant")
    eligible = BooleanField("Éligible", default=True)

    content_fields = ("label", "amount")

    def validate_label(self, field):
        if not (field.data or "").strip() and not self.is_empty():
            raise ValidationError("Indiquez la nature de la dépense.")

    def validate_amount(self, field):
        if field.data is None and not field.errors and not self.is_empty():
            raise ValidationError("Indiquez le montant de la dépense.")

    def values(self) -> dict:
        return {
            "label": self.label.data.strip(),
            "amount": self.amount.data,
            "eligible": bool(self.eligible.data),
        }


FUNDER_TYPE_CHOICES = choices(
    [("", "— Type —")] + [(t.value, FUNDER_TYPE_LABELS[t]) for t in FunderType]
)
FUNDING_STATUS_CHOICES = choices(FUNDING_STATUS_LABELS.items())


class SourceRowForm(_Row):
    name = StringField("Financeur", validators=[_length(200)])
    funder_type = FrSelectField("Type", choices=FUNDER_TYPE_CHOICES, default="")
    amount = MoneyField("Montant")
    status = FrSelectField("État", choices=FUNDING_STATUS_CHOICES, default="requested")

    content_fields = ("name", "funder_type", "amount")

    def validate_name(self, field):
        if not (field.data or "").strip() and not self.is_empty():
            raise ValidationError("Indiquez le nom du financeur.")

    def validate_funder_type(self, field):
        if not field.data and not self.is_empty():
            raise ValidationError("Choisissez le type de financeur.")

    def validate_amount(self, field):
        if field.data is None and not field.errors and not self.is_empty():
            raise ValidationError("Indiquez le montant.")

    def values(self) -> dict:
        return {
            "name": self.name.data.strip(),
            "funder_type": FunderType(self.funder_type.data),
            "amount": self.amount.data,
            "status": FundingStatus(self.status.data or "requested"),
        }


def investment_form_class(expense_rows: int, source_rows: int):
    return type(
        "InvestmentForm",
        (FlaskForm,),
        {
            "expenses": FieldList(FormField(ExpenseRowForm), min_entries=expense_rows),
            "sources": FieldList(FormField(SourceRowForm), min_entries=source_rows),
        },
    )


def row_inputs(field_list) -> list:
    """The posted rows of a FieldList as ``operations.RowInput`` (empty rows left out)."""
    from grants.applications.operations import RowInput

    rows = []
    for entry in field_list.entries:
        row = entry.form
        if row.is_empty():
            continue
        rows.append(RowInput(row.saved_id(), None if row.errors else row.values()))
    return rows


# --- De minimis, attachments, actions -----------------------------------------------------


class DeMinimisForm(FlaskForm):
    granted_on = DateFrField("Date d'octroi")
    funder = StringField("Financeur (organisme qui a accordé l'aide)", validators=[_length(200)])
    amount = MoneyField("Montant de l'aide")
    regime = FrSelectField(
        "Régime", choices=choices(REGIME_LABELS.items()), default=DeMinimisRegime.general.value
    )

    def validate_granted_on(self, field):
        if field.data is None and not field.errors:
            raise ValidationError("Indiquez la date d'octroi de l'aide.")

    def validate_funder(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Indiquez le financeur qui a accordé l'aide.")

    def validate_amount(self, field):
        if field.data is None and not field.errors:
            raise ValidationError("Indiquez le montant de l'aide.")
        if field.data is not None and field.data <= 0:
            raise ValidationError("Le montant de l'aide doit être supérieur à zéro.")


class UploadForm(FlaskForm):
    file = FileField("Fichier")

    def validate_file(self, field):
        data = field.data
        if data is None or not getattr(data, "filename", ""):
            raise ValidationError("Choisissez un fichier à envoyer.")


class ConfirmForm(FlaskForm):
    """A button-only form (submit, delete, mark under review): the CSRF token only."""


class WithdrawForm(FlaskForm):
    reason = TextAreaField("Motif du retrait", validators=[_length(2000)])

    def validate_reason(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Indiquez pourquoi vous retirez le dossier.")


class ComplementForm(FlaskForm):
    message = TextAreaField(
        "Compléments demandés",
        description="Ce message est envoyé aux membres de la structure.",
        validators=[_length(2000)],
    )
    due_on = DateFrField("À fournir au plus tard le")

    def validate_message(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Indiquez les compléments attendus.")

    def validate_due_on(self, field):
        if field.data is None and not field.errors:
            raise ValidationError("Indiquez la date limite des compléments.")


OVERRIDE_CHOICES = [
    ("eligible", "Recevable (malgré les contrôles automatiques)"),
    ("ineligible", "Irrecevable"),
    ("auto", "Revenir aux contrôles automatiques"),
]
OVERRIDE_VALUES = {"eligible": True, "ineligible": False, "auto": None}


class OverrideForm(FlaskForm):
    decision = RadioField("Décision", choices=choices(OVERRIDE_CHOICES), validate_choice=False)
    reason = TextAreaField("Motif", validators=[_length(2000)])

    def validate_decision(self, field):
        if field.data not in OVERRIDE_VALUES:
            raise ValidationError("Choisissez une décision.")

    def validate_reason(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Indiquez le motif de la décision.")
