"""Account forms (French labels and messages)."""

from __future__ import annotations

from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    Length,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from grants.accounts.rules import MAX_LENGTH, MIN_LENGTH, password_problems
from grants.core.enums import ROLE_LABELS, Role

REQUIRED = "Ce champ est obligatoire."
BAD_EMAIL = "Saisissez une adresse e-mail valide, par exemple nom@exemple.fr."
PASSWORD_HELP = (
    f"Au moins {MIN_LENGTH} caractères (jusqu'à {MAX_LENGTH}). Une phrase de plusieurs mots "
    "est facile à retenir et difficile à deviner."
)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _email_field(label: str = "Adresse e-mail", strict: bool = True) -> EmailField:
    """``strict`` checks the address with email_validator (new addresses); the login and
    "forgotten password" forms only look for an ``@``: they must accept every existing
    account, including the ones created from the shell on an internal domain."""
    check = Email(BAD_EMAIL) if strict else Regexp(r"^[^@\s]+@[^@\s]+$", message=BAD_EMAIL)
    return EmailField(
        label,
        filters=[_strip],
        validators=[
            DataRequired(REQUIRED),
            Length(max=254, message="L'adresse est trop longue."),
            check,
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


class NewPasswordMixin:
    """``password`` + ``password_confirm``, checked against the password rules."""

    password = PasswordField(
        "Nouveau mot de passe",
        validators=[DataRequired(REQUIRED)],
        description=PASSWORD_HELP,
        render_kw={"autocomplete": "new-password"},
    )
    password_confirm = PasswordField(
        "Confirmation du mot de passe",
        validators=[
            DataRequired(REQUIRED),
            EqualTo("password", "Les deux mots de passe ne sont pas identiques."),
        ],
        render_kw={"autocomplete": "new-password"},
    )

    def owner_email(self) -> str:
        return current_user.email if current_user.is_authenticated else ""

    def validate_password(self, field) -> None:
        problems = password_problems(field.data or "", self.owner_email())
        if problems:
            raise ValidationError(" ".join(problems))


class RegisterForm(NewPasswordMixin, FlaskForm):
    full_name = StringField(
        "Nom et prénom",
        validators=[DataRequired(REQUIRED), Length(max=200, message="200 caractères au plus.")],
        render_kw={"autocomplete": "name"},
    )
    email = _email_field()
    password = PasswordField(
        "Mot de passe",
        validators=[DataRequired(REQUIRED)],
        description=PASSWORD_HELP,
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Créer mon compte")

    def owner_email(self) -> str:
        return self.email.data or ""


class LoginForm(FlaskForm):
    email = _email_field(strict=False)
    password = PasswordField(
        "Mot de passe",
        validators=[DataRequired(REQUIRED)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Se souvenir de moi")
    submit = SubmitField("Se connecter")


class EmailOnlyForm(FlaskForm):
    """Forgotten password and new confirmation link."""

    email = _email_field(strict=False)
    submit = SubmitField("Envoyer le lien")


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    submit = SubmitField("Enregistrer le nouveau mot de passe")

    def __init__(self, *args, owner_email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self._owner_email = owner_email

    def owner_email(self) -> str:
        return self._owner_email


class ChangePasswordForm(NewPasswordMixin, FlaskForm):
    current_password = PasswordField(
        "Mot de passe actuel",
        validators=[DataRequired(REQUIRED)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Changer le mot de passe")


class ChangeEmailForm(FlaskForm):
    current_password = PasswordField(
        "Mot de passe actuel",
        validators=[DataRequired(REQUIRED)],
        render_kw={"autocomplete": "current-password"},
    )
    new_email = _email_field("Nouvelle adresse e-mail")
    submit = SubmitField("Recevoir le lien de confirmation")


class ApiTokenForm(FlaskForm):
    name = StringField(
        "Nom du jeton",
        validators=[DataRequired(REQUIRED), Length(max=100, message="100 caractères au plus.")],
        description="Pour le reconnaître plus tard, par exemple « script d'export ».",
    )
    submit = SubmitField("Créer un jeton")


ADMIN_ROLES = [Role.reviewer, Role.staff, Role.admin]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserAdminForm(FlaskForm):
    roles = MultiCheckboxField(
        "Rôles",
        choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in ADMIN_ROLES],
        validate_choice=True,
        description="Tout compte reste porteur de projet.",
    )
    is_disabled = BooleanField("Compte désactivé (la personne ne peut plus se connecter)")
    submit = SubmitField("Enregistrer")


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    q = StringField("Adresse e-mail ou nom contient", validators=[Optional(), Length(max=254)])
    role = SelectField(
        "Rôle",
        choices=[SelectChoice("", "Tous les rôles")]
        + [SelectChoice(r.value, ROLE_LABELS[r]) for r in Role],
        validators=[Optional()],
        validate_choice=False,
    )
    submit = SubmitField("Filtrer")
