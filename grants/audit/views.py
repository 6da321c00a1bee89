"""The audit log, browsed and filtered by staff (and admins)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from grants.audit import queries
from grants.core.permissions import staff_required

bp = Blueprint("audit", __name__, url_prefix="/journal")

DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y"]


class FrenchDateField(DateField):
    """An ``<input type=date>``; also takes ``21/11/2026``. French message when invalid."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip()
        for fmt in DATE_FORMATS:
            try:
                self.data = datetime.strptime(text, fmt).date()
                return
            except ValueError:
                continue
        self.data = None
        raise ValueError("Date invalide : utilisez le format JJ/MM/AAAA.")


class AuditFilterForm(FlaskForm):
    """Filters in the query string (GET): no CSRF token, nothing is changed."""

    class Meta:
        csrf = False

    actor = StringField(
        "Auteur (e-mail ou nom)",
        validators=[Optional(), Length(max=254, message="254 caractères au plus.")],
    )
    action = SelectField("Action", choices=[], validate_choice=False)
    object_type = SelectField("Type d'objet", choices=[], validate_choice=False)
    object_id = StringField(
        "Identifiant de l'objet",
        validators=[Optional(), Length(max=60, message="60 caractères au plus.")],
    )
    date_from = FrenchDateField("Du", validators=[Optional()], render_kw={"type": "date"})
    date_to = FrenchDateField("Au (inclus)", validators=[Optional()], render_kw={"type": "date"})

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("La date de fin précède la date de début.")

    def filters(self) -> queries.AuditFilters:
        """The filters to apply; an invalid one is left out (its error is shown)."""

        def ok(field):
            return field.data if not field.errors else None

        return queries.AuditFilters(
            actor=(ok(self.actor) or "").strip(),
            action=self.action.data or "",
            object_type=self.object_type.data or "",
            object_id=(ok(self.object_id) or "").strip(),
            date_from=ok(self.date_from),
            date_to=ok(self.date_to),
        )


def display_value(value) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return "oui"
    if value is False:
        return "non"
    if isinstance(value, list):
        return ", ".join(display_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k} : {display_value(v)}" for k, v in value.items())
    return str(value)


def object_url(entry) -> str | None:
    """The page of the entry's object, for the types that registered one."""
    page = queries.OBJECT_PAGES.get(entry.object_type)
    if page is None or not entry.object_id.isdigit():
        return None
    endpoint, argument = page
    return url_for(endpoint, **{argument: int(entry.object_id)})


@bp.get("/")
@staff_required
def index():
    form = AuditFilterForm(formdata=request.args)
    form.action.choices = [
        SelectChoice("", "Toutes les actions"),
        *(
            SelectChoice(
                a, f"{queries.ACTION_LABELS[a]} ({a})" if a in queries.ACTION_LABELS else a
            )
            for a in queries.distinct_actions()
        ),
    ]
    form.object_type.choices = [
        SelectChoice("", "Tous les types"),
        *(
            SelectChoice(t, queries.OBJECT_TYPE_LABELS.get(t, t))
            for t in queries.distinct_object_types()
        ),
    ]
    form.validate()
    page_number = max(request.args.get("page", 1, type=int) or 1, 1)
    pagination = queries.page(form.filters(), page_number)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "audit/index.html",
        form=form,
        pagination=pagination,
        page_args=args,
        filtered=bool(args),
        display_value=display_value,
        object_url=object_url,
        field_label=queries.field_label,
        action_label=queries.action_label,
        type_label=lambda t: queries.OBJECT_TYPE_LABELS.get(t, t),
    )
