"""Forms of notifications: preferences, and the outbox filters (GET, no CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from grants.notifications.queries import MAIL_STATUS_LABELS, OutboxFilters


class PreferencesForm(FlaskForm):
    email_reminders = BooleanField(
        "Recevoir aussi les rappels par e-mail",
        description=(
            "Décochez pour ne plus recevoir les rappels par e-mail : ils restent affichés "
            "dans vos notifications."
        ),
    )


class OutboxFilterForm(FlaskForm):
    """Filters in the query string: nothing is changed, so no CSRF token."""

    class Meta:
        csrf = False

    status = SelectField(
        "État",
        choices=[SelectChoice("", "Tous les états")]
        + [SelectChoice(status.value, label) for status, label in MAIL_STATUS_LABELS.items()],
        validate_choice=False,
    )
    recipient = StringField(
        "Destinataire (contient)",
        validators=[Optional(), Length(max=254, message="254 caractères au plus.")],
    )
    subject = StringField(
        "Objet (contient)",
        validators=[Optional(), Length(max=300, message="300 caractères au plus.")],
    )

    def filters(self) -> OutboxFilters:
        def ok(field) -> str:
            return (field.data or "").strip() if not field.errors else ""

        return OutboxFilters(
            status=ok(self.status), recipient=ok(self.recipient), subject=ok(self.subject)
        )
