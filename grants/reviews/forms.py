"""Forms of the reviews pages (staff and reviewers); French messages next to the fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from grants.applications.forms import DateFrField
from grants.calls.models import Criterion
from grants.reviews.models import LINK_KIND_LABELS, LinkKind, Opinion
from grants.reviews.operations import KEEP, MAX_REASON, MAX_TEXT, ReviewInput

INVALID_CHOICE = "Choisissez une valeur dans la liste."


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=f"{maximum} caractères au plus.")


class ConfirmForm(FlaskForm):
    """A button-only form: the CSRF token only."""


def choices(pairs) -> list[SelectChoice]:
    """``SelectChoice`` objects (values as strings) from ``(value, label)`` pairs."""
    return [SelectChoice("" if value is None else str(value), label) for value, label in pairs]


def _choice_ids(field) -> set[int]:
    return {_int_or_none(c.value) for c in field.choices} - {None}


def _int_or_none(value):
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class PoolAddForm(FlaskForm):
    reviewer_id = SelectField(
        "Évaluateur à ajouter", coerce=_int_or_none, validate_choice=False, choices=[]
    )

    def validate_reviewer_id(self, field):
        if field.data is None or field.data not in _choice_ids(field):
            raise ValidationError("Choisissez un évaluateur dans la liste.")


class AutoAssignForm(FlaskForm):
    due_on = DateFrField(
        "Date limite des évaluations",
        description="Facultative. Format jj/mm/aaaa. Rappel envoyé 3 jours avant.",
    )


class AssignForm(FlaskForm):
    reviewer_id = SelectField("Évaluateur", coerce=_int_or_none, validate_choice=False, choices=[])
    due_on = DateFrField("Date limite", description="Facultative. Format jj/mm/aaaa.")

    def validate_reviewer_id(self, field):
        if field.data is None or field.data not in _choice_ids(field):
            raise ValidationError("Choisissez un évaluateur dans la liste.")


class ReopenForm(FlaskForm):
    reason = TextAreaField(
        "Motif de la réouverture",
        description="Transmis à l'évaluateur et consigné dans le journal d'audit.",
        validators=[_length(MAX_REASON)],
    )

    def validate_reason(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Indiquez pourquoi l'évaluation est rouverte.")


class ConflictForm(FlaskForm):
    reason = TextAreaField(
        "Nature du conflit d'intérêts",
        description="Par exemple : « Je suis bénévole de cette association ». Le dossier "
        "vous est retiré et confié à un autre évaluateur.",
        validators=[_length(MAX_REASON)],
    )

    def validate_reason(self, field):
        if not (field.data or "").strip():
            raise ValidationError("Indiquez la nature du conflit d'intérêts.")


KIND_CHOICES = choices(
    [("", "— Choisir —")] + [(k.value, label) for k, label in LINK_KIND_LABELS.items()]
)


class LinkForm(FlaskForm):
    """A link with a registered organisation (``organisation_id``) or a named one."""

    organisation_id = StringField("Structure inscrite")
    organisation_name = StringField(
        "Nom de la structure",
        description="Pour une structure qui n'est pas inscrite (un cofinanceur, un réseau…).",
        validators=[_length(200)],
    )
    kind = SelectField("Nature du lien", choices=KIND_CHOICES, validate_choice=False)
    note = TextAreaField("Précision (facultative)", validators=[_length(500)])

    def validate_kind(self, field):
        if field.data not in {k.value for k in LinkKind}:
            raise ValidationError("Choisissez la nature du lien.")

    @property
    def organisation_id_value(self) -> int | None:
        return _int_or_none(self.organisation_id.data)


SCORE_PLACEHOLDER = "— Choisir une note —"


class ReviewFormBase(FlaskForm):
    opinion = RadioField(
        "Avis global",
        choices=choices((o.value, o.label) for o in Opinion),
        validate_choice=False,
    )
    summary = TextAreaField(
        "Synthèse",
        description="Les points forts et les points faibles du projet, en quelques lignes.",
        validators=[_length(MAX_TEXT)],
    )

    criteria: list[Criterion] = []

    def validate_opinion(self, field):
        if field.data not in (None, "") and field.data not in {o.value for o in Opinion}:
            raise ValidationError(INVALID_CHOICE)

    def score_field(self, criterion: Criterion):
        return self[f"score_{criterion.id}"]

    def comment_field(self, criterion: Criterion):
        return self[f"comment_{criterion.id}"]

    def to_input(self) -> ReviewInput:
        """The valid values (fields with errors are left out: they keep the saved value)."""
        data = ReviewInput()
        for criterion in self.criteria:
            score = self.score_field(criterion)
            if not score.errors:
                data.scores[criterion.id] = _int_or_none(score.data)
            comment = self.comment_field(criterion)
            if not comment.errors:
                data.comments[criterion.id] = comment.data or ""
        if not self.opinion.errors:
            data.opinion = self.opinion.data or None
        else:
            data.opinion = KEEP
        if not self.summary.errors:
            data.summary = self.summary.data or ""
        return data

    def show_errors(self, fields: dict[str, list[str]]) -> None:
        for name, messages in fields.items():
            if name in self._fields:
                self[name].errors = [*self[name].errors, *messages]


def _score_validator(criterion: Criterion):
    def check(form, field):
        value = field.data
        if value in (None, ""):
            return
        number = _int_or_none(value)
        if number is None or not 0 <= number <= criterion.scale_max:
            raise ValidationError(f"La note va de 0 à {criterion.scale_max}.")

    return check


def review_form_class(criteria: list[Criterion]) -> type[ReviewFormBase]:
    """A form with a score (select 0..scale_max) and a comment per criterion of the grid."""

    class ReviewForm(ReviewFormBase):
        pass

    ReviewForm.criteria = list(criteria)
    for criterion in criteria:
        setattr(
            ReviewForm,
            f"score_{criterion.id}",
            SelectField(
                f"Note : {criterion.label}",
                choices=choices(
                    [("", SCORE_PLACEHOLDER)]
                    + [(n, f"{n} / {criterion.scale_max}") for n in range(criterion.scale_max + 1)]
                ),
                validate_choice=False,
                validators=[_score_validator(criterion)],
                description=criterion.description or None,
            ),
        )
        setattr(
            ReviewForm,
            f"comment_{criterion.id}",
            TextAreaField(f"Commentaire : {criterion.label}", validators=[_length(MAX_TEXT)]),
        )
    return ReviewForm


def review_form_data(review, criteria: list[Criterion]) -> dict:
    scores = {s.criterion_id: s for s in review.scores}
    data: dict = {
        "opinion": review.opinion.value if review.opinion else None,
        "summary": review.summary or "",
    }
    for criterion in criteria:
        row = scores.get(criterion.id)
        data[f"score_{criterion.id}"] = str(row.score) if row is not None else ""
        data[f"comment_{criterion.id}"] = row.comment if row is not None else ""
    return data
