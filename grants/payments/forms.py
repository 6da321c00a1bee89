"""Forms of the convention, payment, tranche, recovery and invoice pages.

The forms parse (French dates and amounts) and say what is missing; the money rules
(what can be paid, bounds of a tranche or a recovery) are the operations' and their
messages are shown next to the fields by the views.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, StringField, TextAreaField
from wtforms.validators import Length, ValidationError

from grants.applications.forms import DateFrField, FrSelectField, MoneyField, choices


def _length(maximum: int) -> Length:
    return Length(max=maximum, message=f"{maximum} caractères au plus.")


def _required(message: str):
    def check(form, field):
        if field.errors:
            return
        if field.data is None or (isinstance(field.data, str) and not field.data.strip()):
            raise ValidationError(message)

    return check


def _file_required(form, field):
    data = field.data
    if data is None or not getattr(data, "filename", ""):
        raise ValidationError("Choisissez un fichier à envoyer.")


class ConfirmForm(FlaskForm):
    """A button-only form (generate, validate): the CSRF token only."""


class SignatureForm(FlaskForm):
    signed_on = DateFrField(
        "Date de signature", validators=[_required("Indiquez la date de signature.")]
    )
    file = FileField(
        "Copie signée (PDF)",
        description="La convention signée par les deux parties, numérisée en PDF.",
        validators=[_file_required],
    )


class PaymentRequestForm(FlaskForm):
    amount = MoneyField(
        "Montant du versement (€)",
        description="Par défaut, ce que les conditions de paiement permettent aujourd'hui ; "
        "un versement partiel est possible.",
        validators=[_required("Indiquez le montant du versement.")],
    )
    note = TextAreaField("Note (facultative)", validators=[_length(4000)])


class PayForm(FlaskForm):
    paid_on = DateFrField(
        "Date du paiement", validators=[_required("Indiquez la date du paiement.")]
    )
    order_ref = StringField(
        "Référence du mandat de paiement",
        validators=[_required("Indiquez la référence du mandat de paiement."), _length(60)],
    )


class ReasonForm(FlaskForm):
    reason = TextAreaField("Motif", validators=[_required("Indiquez le motif."), _length(4000)])


class TrancheChangeForm(FlaskForm):
    amount = MoneyField(
        "Nouveau montant de la tranche (€)",
        validators=[_required("Indiquez le nouveau montant de la tranche.")],
    )
    reason = TextAreaField(
        "Motif", validators=[_required("Indiquez le motif de la modification."), _length(4000)]
    )


class RecoveryForm(FlaskForm):
    amount = MoneyField(
        "Montant à reverser (€)", validators=[_required("Indiquez le montant à reverser.")]
    )
    reason = TextAreaField(
        "Motif", validators=[_required("Indiquez le motif du reversement."), _length(4000)]
    )
    order_ref = StringField("Référence du titre de recette (facultative)", validators=[_length(60)])
    requested_on = DateFrField(
        "Date de la demande", validators=[_required("Indiquez la date de la demande.")]
    )


class RecoveryReceivedForm(FlaskForm):
    received_on = DateFrField(
        "Date de réception", validators=[_required("Indiquez la date de réception.")]
    )
    order_ref = StringField("Référence du titre de recette", validators=[_length(60)])


class InvoiceForm(FlaskForm):
    supplier = StringField(
        "Fournisseur", validators=[_required("Indiquez le fournisseur."), _length(200)]
    )
    label = StringField(
        "Objet de la facture",
        validators=[_required("Indiquez l'objet de la facture."), _length(300)],
    )
    invoice_date = DateFrField(
        "Date de la facture", validators=[_required("Indiquez la date de la facture.")]
    )
    amount = MoneyField(
        "Montant éligible (€)",
        description="Hors TVA si vous la récupérez.",
        validators=[_required("Indiquez le montant éligible de la facture.")],
    )
    tranche_id = FrSelectField("Tranche concernée", coerce=str, validate_choice=False)
    file = FileField("Facture (PDF, JPEG ou PNG)", validators=[_file_required])

    def set_tranches(self, tranches) -> None:
        self.tranche_id.choices = choices(
            [("", "— Sans précision —")] + [(str(t.id), f"Tranche {t.year}") for t in tranches]
        )

    def tranche_value(self) -> int | None:
        value = self.tranche_id.data
        return int(value) if value and str(value).isdigit() else None


class InvoiceReviewForm(FlaskForm):
    decision = RadioField(
        "Décision",
        choices=choices([("accept", "Accepter la facture"), ("reject", "Refuser la facture")]),
        validate_choice=False,
    )
    comment = TextAreaField("Commentaire (obligatoire en cas de refus)", validators=[_length(4000)])

    def validate_decision(self, field):
        if field.data not in ("accept", "reject"):
            raise ValidationError("Choisissez d'accepter ou de refuser la facture.")

    def validate_comment(self, field):
        if self.decision.data == "reject" and not (field.data or "").strip():
            raise ValidationError("Indiquez pourquoi la facture est refusée.")
