"""Forms of the exports page: a spreadsheet export, the SCDL open-data file.

They only collect the input; :func:`grants.exports.operations.check_request` checks it and
its French messages are shown next to the fields.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField

from grants.applications.forms import choices
from grants.exports.models import ExportFormat, ExportKind
from grants.exports.queries import FORMAT_LABELS, KIND_LABELS

TABLE_KINDS = [k for k in ExportKind if k != ExportKind.scdl]
KIND_HELP = {
    ExportKind.applications: "une ligne par dossier",
    ExportKind.scores: "une ligne par note d'un critère, évaluations rendues seulement",
    ExportKind.decisions: "une ligne par décision du comité",
    ExportKind.schedules: "une ligne par tranche annuelle d'une aide",
    ExportKind.payments: "une ligne par paiement",
}


class ExportForm(FlaskForm):
    kind = SelectField(
        "Contenu",
        choices=choices([(k.value, f"{KIND_LABELS[k]} ({KIND_HELP[k]})") for k in TABLE_KINDS]),
        validate_choice=False,
    )
    format = SelectField(
        "Format",
        choices=choices([(f.value, FORMAT_LABELS[f]) for f in ExportFormat]),
        validate_choice=False,
        description="CSV : UTF-8 avec BOM, séparateur point-virgule, montants avec un point "
        "décimal (1234.50) et dates AAAA-MM-JJ. XLSX : montants en nombres au format euro.",
    )
    call_id = SelectField("Appel", validate_choice=False)
    year = StringField(
        "Année",
        description="Facultatif. Dossiers, notes et décisions : appels dont les années "
        "budgétaires comprennent cette année. Échéanciers et paiements : année de la tranche.",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )

    def set_calls(self, calls: list[tuple[int, str]]) -> None:
        self.call_id.choices = choices(
            [("", "Tous les appels")] + [(str(call_id), title) for call_id, title in calls]
        )


class ScdlForm(FlaskForm):
    year = StringField(
        "Année des décisions d'attribution",
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4},
    )
    include_all = BooleanField(
        "Toutes les aides, pas seulement celles de plus de 23 000 € (obligation légale)"
    )
