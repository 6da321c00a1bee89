"""Forms of the committee pages: a session, a decision, a bulk decision from the ranking.

The forms parse (dates, amounts in French); the rules of a decision (amount within the
request, reason of a refusal, reviews required, envelope) are the operations' and their
messages are shown next to the fields here.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from grants.applications.forms import DateFrField, MoneyField, choices
from grants.decisions.models import Outcome

OUTCOME_CHOICES = [
    (Outcome.accepted.value, "Retenir le dossier (avec le montant attribué)"),
    (Outcome.rejected.value, "Ne pas retenir le dossier (avec le motif communiqué au porteur)"),
    (Outcome.waitlisted.value, "Mettre en liste d'attente"),
]
BULK_OUTCOME_CHOICES = [
    ("", "— Choisir —"),
    (Outcome.accepted.value, "Retenir (montant demandé attribué)"),
    (Outcome.rejected.value, "Ne pas retenir"),
    (Outcome.waitlisted.value, "Liste d'attente"),
]


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=f"{maximum} caractères au plus.")


def session_choices(sessions) -> list:
    return choices(
        [("", "— Choisir la séance —")] + [(str(s.id), _session_text(s)) for s, _count in sessions]
    )


def _session_text(session) -> str:
    text = f"Séance du {session.held_on.strftime('%d/%m/%Y')}"
    return f"{text} — délibération {session.deliberation_ref}" if session.deliberation_ref else text


def _optional_int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class SessionForm(FlaskForm):
    held_on = DateFrField("Date de la séance")
    members_present = TextAreaField(
        "Membres présents",
        description="Un nom par ligne (avec la qualité si utile : « Mme X, vice-présidente »).",
        validators=[_length(6000)],
    )
    deliberation_ref = StringField(
        "Numéro de délibération",
        description="Par exemple « 2016/0457 » ; peut être complété plus tard.",
        validators=[_length(80)],
    )

    def validate_held_on(self, field):
        if field.data is None and not field.errors:
            raise ValidationError("Indiquez la date de la séance.")

    def validate_members_present(self, field):
        if not self.members():
            raise ValidationError("Indiquez les membres présents, un par ligne.")

    def members(self) -> list[str]:
        lines = (self.members_present.data or "").splitlines()
        return [line.strip() for line in lines if line.strip()]


class DecisionForm(FlaskForm):
    outcome = RadioField("Décision", choices=choices(OUTCOME_CHOICES), validate_choice=False)
    awarded_total = MoneyField(
        "Montant attribué (total sur la durée du projet)",
        description="Au plus le montant demandé ; peut être inférieur.",
    )
    reason = TextAreaField(
        "Motif communiqué au porteur",
        description="Obligatoire pour un refus ; le porteur le lit avec la décision.",
        validators=[_length(4000)],
    )
    session_id = SelectField("Séance du comité", coerce=_optional_int, validate_choice=False)
    override_reason = TextAreaField(
        "Décider sans tous les avis requis : motif",
        description="Seulement si le dossier n'a pas le nombre d'avis requis par l'appel ; "
        "le motif est inscrit au journal d'audit.",
        validators=[_length(2000)],
    )

    def validate_outcome(self, field):
        if field.data not in {o.value for o in Outcome}:
            raise ValidationError("Choisissez une décision.")


class BulkDecisionForm(FlaskForm):
    application_ids = SelectMultipleField("Dossiers", coerce=_optional_int, validate_choice=False)
    outcome = SelectField(
        "Décision pour les dossiers cochés",
        choices=choices(BULK_OUTCOME_CHOICES),
        validate_choice=False,
    )
    session_id = SelectField("Séance du comité", coerce=_optional_int, validate_choice=False)
    reason = TextAreaField(
        "Motif communiqué aux porteurs",
        description="Obligatoire pour un refus.",
        validators=[_length(4000)],
    )
    override_reason = TextAreaField(
        "Décider sans tous les avis requis : motif",
        description="Seulement pour les dossiers qui n'ont pas tous leurs avis.",
        validators=[_length(2000)],
    )

    def validate_application_ids(self, field):
        if not [i for i in field.data or [] if i]:
            raise ValidationError("Cochez au moins un dossier.")

    def validate_outcome(self, field):
        if field.data not in {o.value for o in Outcome}:
            raise ValidationError("Choisissez une décision.")

    def validate_reason(self, field):
        if self.outcome.data == Outcome.rejected.value and not (field.data or "").strip():
            raise ValidationError("Indiquez le motif du refus : il est communiqué aux porteurs.")


class ConfirmForm(FlaskForm):
    """A button-only form: the CSRF token."""
