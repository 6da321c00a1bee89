"""Forms of the organisation pages; the JSON API validates through the same classes."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, ValidationError
from wtforms.widgets import TextInput

from grants.organisations import rules
from grants.organisations.models import LEGAL_FORM_LABELS
from grants.organisations.queries import OUTSIDE_METROPOLIS


class _ParsedField(Field):
    """A text input parsed by a rule of :mod:`rules` (French message on error)."""

    widget = TextInput()
    parser = staticmethod(str)

    def __init__(self, label=None, validators=None, formatter=str, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.formatter = formatter

    def process_formdata(self, valuelist):
        if valuelist:
            self.data = None
            self.data = self.parser(valuelist[0])  # ValueError → shown next to the field

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else self.formatter(self.data)


class CountField(_ParsedField):
    parser = staticmethod(rules.parse_count)


class FteField(_ParsedField):
    parser = staticmethod(rules.parse_fte)


def _required(message: str):
    return DataRequired(message=message)


class _MarkRequired:
    """Marks a field required (label star, ``required`` attribute); a rule checks it."""

    field_flags = {"required": True}

    def __call__(self, form, field):
        return None


INVALID_CHOICE = "Choisissez une valeur dans la liste."


class OrganisationForm(FlaskForm):
    name = StringField(
        "Nom de la structure",
        validators=[
            _required("Indiquez le nom de la structure."),
            Length(max=200, message="200 caractères au plus."),
        ],
    )
    legal_form = SelectField(
        "Forme juridique",
        choices=[
            SelectChoice("", "— Choisissez —"),
            *(SelectChoice(f.value, label) for f, label in LEGAL_FORM_LABELS.items()),
        ],
        validators=[_required("Choisissez la forme juridique.")],
        invalid_choice_message=INVALID_CHOICE,
    )
    siret = StringField(
        "SIRET",
        validators=[_MarkRequired()],
        description=(
            "14 chiffres (espaces acceptés). Le SIREN, qui identifie l'entreprise, "
            "en est déduit : ce sont ses 9 premiers chiffres."
        ),
    )
    rna = StringField(
        "Numéro RNA",
        description="Associations uniquement : W suivi de 9 chiffres (par exemple W332001234).",
    )
    address = StringField(
        "Adresse",
        validators=[
            _required("Indiquez l'adresse du siège."),
            Length(max=300, message="300 caractères au plus."),
        ],
    )
    postal_code = StringField("Code postal", validators=[_MarkRequired()])
    city = StringField(
        "Ville",
        validators=[
            _required("Indiquez la ville."),
            Length(max=120, message="120 caractères au plus."),
        ],
    )
    commune_insee = SelectField(
        "Commune de la métropole",
        description="La commune du siège, ou « Hors métropole ».",
        validators=[_required("Choisissez la commune, ou « Hors métropole ».")],
        invalid_choice_message=INVALID_CHOICE,
    )
    in_qpv = BooleanField("Située dans un quartier prioritaire de la politique de la ville (QPV)")
    esus_approved = BooleanField("Agréée ESUS (entreprise solidaire d'utilité sociale)")
    has_economic_activity = BooleanField(
        "Activité économique (aides de minimis)",
        description=(
            "Cochez si la structure vend des biens ou des services sur un marché : "
            "les aides reçues sont alors plafonnées (règlement de minimis)."
        ),
    )
    employees = CountField("Nombre de salariés", default=0, render_kw={"inputmode": "numeric"})
    fte = FteField(
        "Équivalents temps plein (ETP)",
        description="Par exemple 2,5 (2 décimales au plus).",
        default=rules.parse_fte("0"),
        formatter=rules.format_fte,
        render_kw={"inputmode": "decimal"},
    )
    volunteers = CountField("Nombre de bénévoles", default=0, render_kw={"inputmode": "numeric"})

    def __init__(self, *args, commune_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.commune_insee.choices = [
            SelectChoice("", "— Choisissez —"),
            *(SelectChoice(value, label) for value, label in commune_choices),
        ]

    def validate_siret(self, field):
        if problem := rules.siret_problem(field.data):
            raise ValidationError(problem)

    def validate_rna(self, field):
        if problem := rules.rna_problem(field.data, self.legal_form.data or None):
            raise ValidationError(problem)

    def validate_postal_code(self, field):
        if problem := rules.postal_code_problem(field.data):
            raise ValidationError(problem)

    def values(self) -> dict:
        """Plain values for :mod:`operations` (after a successful ``validate``)."""
        commune = self.commune_insee.data
        return {
            "name": self.name.data.strip(),
            "legal_form": self.legal_form.data,
            "siret": rules.clean_siret(self.siret.data),
            "rna": rules.clean_rna(self.rna.data) or None,
            "address": self.address.data.strip(),
            "postal_code": self.postal_code.data.strip(),
            "city": self.city.data.strip(),
            "commune_insee": None if commune == OUTSIDE_METROPOLIS else commune,
            "in_qpv": self.in_qpv.data,
            "esus_approved": self.esus_approved.data,
            "has_economic_activity": self.has_economic_activity.data,
            "employees": self.employees.data,
            "fte": self.fte.data,
            "volunteers": self.volunteers.data,
        }

    def siren(self) -> str | None:
        """The SIREN of the typed SIRET when it is valid (shown next to the field)."""
        if self.siret.data and rules.siret_problem(self.siret.data) is None:
            return rules.format_siren(rules.siren_of(self.siret.data))
        return None


def organisation_form_data(org) -> dict:
    """The form's initial data for an existing organisation."""
    return {
        "name": org.name,
        "legal_form": org.legal_form.value,
        "siret": org.siret,
        "rna": org.rna or "",
        "address": org.address,
        "postal_code": org.postal_code,
        "city": org.city,
        "commune_insee": org.commune_insee or OUTSIDE_METROPOLIS,
        "in_qpv": org.in_qpv,
        "esus_approved": org.esus_approved,
        "has_economic_activity": org.has_economic_activity,
        "employees": org.employees,
        "fte": org.fte,
        "volunteers": org.volunteers,
    }


class InviteForm(FlaskForm):
    email = EmailField(
        "Adresse e-mail de la personne à inviter",
        validators=[
            _required("Indiquez l'adresse e-mail de la personne à inviter."),
            Email(message="Cette adresse e-mail n'est pas valide.", check_deliverability=False),
            Length(max=254, message="254 caractères au plus."),
        ],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )


class ConfirmForm(FlaskForm):
    """A button-only form (accept, revoke, remove): the CSRF token is its only field."""
