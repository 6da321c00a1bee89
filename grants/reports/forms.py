"""Forms of the annual reports. The report form is built for the report's lines (one
« actual » and one « explanation » field per budget line) and its indicator rows; the
values are read by :func:`grants.reports.rules.parse_report`, whose French messages are
put next to the fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from grants.applications.rules import format_amount_input
from grants.reports import rules

#: empty indicator rows offered under the filled ones
SPARE_INDICATORS = 3


class ConfirmForm(FlaskForm):
    """A button-only form (accept, remove the document): the CSRF token only."""


class ReturnForm(FlaskForm):
    comment = TextAreaField(
        "Ce que la structure doit corriger",
        description="Envoyé aux membres de la structure avec le compte rendu.",
        validators=[
            Length(max=rules.MAX_COMMENT, message=f"{rules.MAX_COMMENT} caractères au plus.")
        ],
    )


class _ReportForm(FlaskForm):
    activity = TextAreaField(
        "Compte rendu d'activité",
        description="Les actions menées dans l'année, les publics touchés, les résultats, les "
        "difficultés rencontrées et les suites prévues.",
    )
    jobs_created = StringField("Emplois créés dans l'année", render_kw={"inputmode": "numeric"})
    jobs_maintained = StringField("Emplois maintenus", render_kw={"inputmode": "numeric"})
    people_supported = StringField("Personnes accompagnées", render_kw={"inputmode": "numeric"})
    document = FileField(
        "Document joint (facultatif)",
        description="Bilan, comptes annuels, rapport… PDF, ODT, DOCX, XLSX ou ODS. Un nouveau "
        "document remplace le précédent.",
    )

    n_lines = 0
    n_indicators = 0

    def line_fields(self, i: int):
        return self[f"actual_{i}"], self[f"explanation_{i}"]

    def indicator_fields(self):
        return [
            (self[f"indicator_name_{i}"], self[f"indicator_value_{i}"])
            for i in range(self.n_indicators)
        ]

    def raw(self) -> dict:
        """What was typed, for :func:`rules.parse_report`."""
        raw = {
            "activity": self.activity.data,
            "jobs_created": self.jobs_created.data,
            "jobs_maintained": self.jobs_maintained.data,
            "people_supported": self.people_supported.data,
            "indicators": [(n.data, v.data) for n, v in self.indicator_fields()],
        }
        for i in range(self.n_lines):
            actual, explanation = self.line_fields(i)
            raw[f"actual_{i}"] = actual.data
            raw[f"explanation_{i}"] = explanation.data
        return raw

    def show_errors(self, errors: dict[str, list[str]]) -> None:
        for name, messages in errors.items():
            if name in self:
                self[name].errors = [*self[name].errors, *messages]
            elif name == "indicators" and self.n_indicators:
                first = self[f"indicator_name_{self.n_indicators - 1}"]
                first.errors = [*first.errors, *messages]


def report_form_class(lines: list[rules.FinancialLine], n_indicators: int) -> type[_ReportForm]:
    """A form class for these lines and this many indicator rows."""
    attrs: dict = {"n_lines": len(lines), "n_indicators": n_indicators}
    for i, line in enumerate(lines):
        what = f"{line.account} {line.label}".strip()
        attrs[f"actual_{i}"] = StringField(
            f"Montant réalisé, ligne {what}", render_kw={"inputmode": "decimal"}
        )
        attrs[f"explanation_{i}"] = TextAreaField(
            f"Explication de l'écart, ligne {what}", render_kw={"rows": 2}
        )
    for i in range(n_indicators):
        attrs[f"indicator_name_{i}"] = StringField(f"Nom de l'indicateur {i + 1}")
        attrs[f"indicator_value_{i}"] = StringField(f"Valeur de l'indicateur {i + 1}")
    return type("ReportForm", (_ReportForm,), attrs)


def indicator_rows(stored: int, posted: int = 0) -> int:
    return min(max(stored + SPARE_INDICATORS, posted), rules.MAX_INDICATORS + SPARE_INDICATORS)


def posted_indicator_rows(formdata) -> int:
    """How many indicator rows the browser sent (the form keeps them all on an error)."""
    count = 0
    while f"indicator_name_{count}" in formdata and count < rules.MAX_INDICATORS + 10:
        count += 1
    return count


def form_data(values: rules.ReportValues) -> dict:
    """The form's initial data from stored values."""
    data: dict = {
        "activity": values.activity,
        "jobs_created": "" if values.jobs_created is None else str(values.jobs_created),
        "jobs_maintained": "" if values.jobs_maintained is None else str(values.jobs_maintained),
        "people_supported": "" if values.people_supported is None else str(values.people_supported),
    }
    for i, line in enumerate(values.lines):
        data[f"actual_{i}"] = format_amount_input(line.actual)
        data[f"explanation_{i}"] = line.explanation
    for i, (name, value) in enumerate(values.indicators.items()):
        data[f"indicator_name_{i}"] = name
        data[f"indicator_value_{i}"] = value
    return data
