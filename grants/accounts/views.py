"""Accounts: registration, login, password reset, profile, admin of users and roles."""

from __future__ import annotations

import math
import time

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, logout_user

from grants.accounts import forms, operations, queries, tokens
from grants.accounts.models import ApiToken, User
from grants.core.enums import Role
from grants.core.permissions import admin_required
from grants.core.security import safe_next, start_session
from grants.extensions import db, limiter

bp = Blueprint("accounts", __name__)

SENT_MESSAGE = (
    "Un e-mail de confirmation vient de vous être envoyé. Ouvrez le lien qu'il contient pour "
    "activer votre compte."
)
LOGIN_FAILED = "Adresse e-mail ou mot de passe incorrect."
INVALID_LINK = "Ce lien est invalide ou a expiré."


# Rate limits --------------------------------------------------------------------------


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _reset_limit() -> str:
    return current_app.config["RESET_RATE_LIMIT"]


def _register_limit() -> str:
    return current_app.config.get("REGISTER_RATE_LIMIT", "10 per minute;50 per hour")


def _email_key() -> str:
    """The submitted address: a slow attack spread over many IPs still hits one account."""
    return "email:" + operations.normalise_email(request.form.get("email", ""))[:254]


def _limited(limit_value):
    """Two limits on POST: by client IP and by the submitted e-mail."""

    def decorator(view):
        view = limiter.limit(limit_value, methods=["POST"], key_func=_email_key)(view)
        return limiter.limit(limit_value, methods=["POST"], key_func=get_remote_address)(view)

    return decorator


def _retry_seconds(exc) -> int:
    """Seconds until the breached window ends (at most its length)."""
    try:
        window = int(exc.limit.limit.get_expiry())
        current = limiter.current_limit
        if current is not None and current.breached:
            return max(1, min(window, math.ceil(current.reset_at - time.time())))
        return window
    except Exception:  # the message stays useful without a figure
        return 60


# Pages that answer a rate limit by themselves: the form again, with the reason on top.
_LIMITED_PAGES = {
    "accounts.login": ("accounts/login.html", forms.LoginForm, "Trop de tentatives de connexion"),
    "accounts.forgot_password": (
        "accounts/forgot_password.html",
        forms.EmailOnlyForm,
        "Trop de demandes de réinitialisation",
    ),
    "accounts.resend_confirmation": (
        "accounts/resend_confirmation.html",
        forms.EmailOnlyForm,
        "Trop de demandes de lien",
    ),
    "accounts.register": ("accounts/register.html", forms.RegisterForm, "Trop d'inscriptions"),
}


@bp.errorhandler(429)
def too_many_requests(exc):
    seconds = _retry_seconds(exc)
    minutes = max(1, math.ceil(seconds / 60))
    wait = "une minute" if minutes == 1 else f"{minutes} minutes"
    page = _LIMITED_PAGES.get(request.endpoint or "")
    if page is None:
        from grants.core.errors import _render

        return _render(429)
    template, form_class, title = page
    form = form_class(formdata=None)
    if "email" in form:
        form.email.data = request.form.get("email", "")[:254]
    message = (
        f"{title} en peu de temps. Par sécurité, patientez {wait} avant de réessayer. "
        "Si vous avez oublié votre mot de passe, utilisez « Mot de passe oublié »."
    )
    response = make_response(
        render_template(template, form=form, rate_limited=message, retry_minutes=minutes), 429
    )
    response.headers["Retry-After"] = str(seconds)
    return response


# Helpers ------------------------------------------------------------------------------


def _remembered() -> bool:
    return bool(request.cookies.get(current_app.config["REMEMBER_COOKIE_NAME"]))


def _mailbox_hint() -> bool:
    return current_app.config["MAIL_BACKEND"] == "file"


# Registration and confirmation --------------------------------------------------------


@bp.route("/inscription", methods=["GET", "POST"])
@limiter.limit(_register_limit, methods=["POST"], key_func=get_remote_address)
def register():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = forms.RegisterForm()
    if form.validate_on_submit():
        operations.register(form.email.data, form.password.data, full_name=form.full_name.data)
        db.session.commit()
        return redirect(url_for("accounts.check_mailbox"))
    return render_template("accounts/register.html", form=form)


@bp.get("/inscription/verifiez-vos-e-mails")
def check_mailbox():
    return render_template(
        "accounts/check_mailbox.html",
        message=SENT_MESSAGE,
        mailbox_hint=_mailbox_hint(),
    )


@bp.get("/confirmer/<token>")
def confirm_email(token: str):
    user = tokens.load_confirm_token(token)
    if user is None:
        return render_template(
            "accounts/invalid_link.html", form=forms.EmailOnlyForm(formdata=None), kind="confirm"
        ), 400
    if operations.confirm_email(user):
        db.session.commit()
        flash("Votre adresse e-mail est confirmée. Vous pouvez vous connecter.", "success")
    else:
        flash("Votre adresse e-mail était déjà confirmée.", "info")
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    return redirect(url_for("accounts.login"))


@bp.route("/confirmer/renvoyer", methods=["GET", "POST"])
@_limited(_reset_limit)
def resend_confirmation():
    form = forms.EmailOnlyForm()
    if form.validate_on_submit():
        operations.resend_confirmation(form.email.data)
        db.session.commit()
        flash(
            "Si un compte non confirmé existe pour cette adresse, un nouveau lien de "
            "confirmation vient d'y être envoyé.",
            "info",
        )
        return redirect(url_for("accounts.check_mailbox"))
    return render_template("accounts/resend_confirmation.html", form=form)


# Login and logout ---------------------------------------------------------------------


@bp.route("/connexion", methods=["GET", "POST"])
@_limited(_login_limit)
def login():
    next_url = request.values.get("next")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(next_url))
    form = forms.LoginForm()
    error = None
    unconfirmed = False
    if form.validate_on_submit():
        user = operations.check_credentials(form.email.data, form.password.data)
        if user is None:
            error = LOGIN_FAILED
        elif not user.is_active:
            error = "Ce compte est désactivé. Contactez le service ESS pour le réactiver."
        elif not user.is_confirmed:
            unconfirmed = True
            error = (
                "Votre adresse e-mail n'est pas encore confirmée : ouvrez le lien reçu par "
                "e-mail, ou demandez-en un nouveau."
            )
        else:
            operations.record_login(user, form.password.data)
            db.session.commit()
            start_session(user, remember=form.remember.data)
            flash(f"Bienvenue, {user.display_name}.", "success")
            return redirect(safe_next(next_url))
    return render_template(
        "accounts/login.html",
        form=form,
        error=error,
        unconfirmed=unconfirmed,
        next_url=next_url if next_url and safe_next(next_url) == next_url else None,
        mailbox_hint=_mailbox_hint(),
    )


@bp.post("/deconnexion")
def logout():
    if current_user.is_authenticated:
        operations.logout(current_user._get_current_object())
        db.session.commit()
    session.clear()
    logout_user()  # after clear(): it asks for the remember-me cookie to be deleted
    flash("Vous êtes déconnecté.", "info")
    return redirect(url_for("core.home"))


# Forgotten password -------------------------------------------------------------------


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@_limited(_reset_limit)
def forgot_password():
    form = forms.EmailOnlyForm()
    if form.validate_on_submit():
        operations.request_password_reset(form.email.data)
        db.session.commit()
        return render_template(
            "accounts/forgot_password_sent.html",
            minutes=current_app.config["RESET_MAX_AGE"] // 60,
            mailbox_hint=_mailbox_hint(),
        )
    return render_template("accounts/forgot_password.html", form=form)


@bp.route("/reinitialiser/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    user = tokens.load_reset_token(token)
    if user is None:
        return render_template(
            "accounts/invalid_link.html", form=forms.EmailOnlyForm(formdata=None), kind="reset"
        ), 400
    form = forms.ResetPasswordForm(owner_email=user.email)
    if form.validate_on_submit():
        try:
            operations.reset_password(user, form.password.data)
        except operations.AccountError as exc:
            form.password.errors.append(str(exc))
        else:
            db.session.commit()
            if current_user.is_authenticated:
                session.clear()
                logout_user()
            flash(
                "Votre mot de passe a été modifié. Connectez-vous avec le nouveau mot de passe.",
                "success",
            )
            return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_password.html", form=form, user=user)


# Profile ------------------------------------------------------------------------------


@bp.get("/compte")
@login_required
def profile():
    return render_template("accounts/profile.html", user=current_user)


@bp.route("/compte/mot-de-passe", methods=["GET", "POST"])
@login_required
def change_password():
    form = forms.ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            operations.change_password(user, form.current_password.data, form.password.data)
        except operations.AccountError as exc:
            getattr(form, exc.field or "current_password").errors.append(str(exc))
        else:
            db.session.commit()
            # The token changed: this browser gets a fresh session, every other one is out.
            start_session(user, remember=_remembered())
            flash(
                "Votre mot de passe a été modifié. Vos autres sessions ont été fermées.",
                "success",
            )
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_password.html", form=form)


@bp.route("/compte/email", methods=["GET", "POST"])
@login_required
def change_email():
    form = forms.ChangeEmailForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            new_email = operations.request_email_change(
                user, form.current_password.data, form.new_email.data
            )
        except operations.AccountError as exc:
            getattr(form, exc.field or "new_email").errors.append(str(exc))
        else:
            db.session.commit()
            flash(
                f"Un lien de confirmation a été envoyé à {new_email}. Votre adresse ne changera "
                "qu'à l'ouverture de ce lien.",
                "info",
            )
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_email.html", form=form)


@bp.get("/compte/email/confirmer/<token>")
def confirm_email_change(token: str):
    loaded = tokens.load_email_change_token(token)
    if loaded is None:
        return render_template("accounts/invalid_link.html", kind="email_change"), 400
    user, new_email = loaded
    try:
        operations.confirm_email_change(user, new_email)
    except operations.AccountError as exc:
        return render_template(
            "accounts/invalid_link.html", kind="email_change", reason=str(exc)
        ), 409
    db.session.commit()
    flash(f"Votre adresse e-mail est maintenant {user.email}.", "success")
    if current_user.is_authenticated:
        return redirect(url_for("accounts.profile"))
    return redirect(url_for("accounts.login"))


# Personal API tokens ------------------------------------------------------------------


@bp.route("/compte/jetons", methods=["GET", "POST"])
@login_required
def api_tokens():
    form = forms.ApiTokenForm()
    user = current_user._get_current_object()
    new_token = None
    status = 200
    if form.validate_on_submit():
        _, new_token = operations.create_api_token(user, form.name.data)
        db.session.commit()
        form = forms.ApiTokenForm(formdata=None)
    elif form.is_submitted():
        status = 400
    return render_template(
        "accounts/api_tokens.html",
        form=form,
        tokens=queries.api_tokens_of(user),
        new_token=new_token,
    ), status


@bp.post("/compte/jetons/<int:token_id>/revoquer")
@login_required
def revoke_api_token(token_id: int):
    token = db.session.get(ApiToken, token_id)
    # Someone else's token does not exist, as far as this user can tell.
    if token is None or token.user_id != current_user.id:
        abort(404)
    operations.revoke_api_token(token, current_user._get_current_object())
    db.session.commit()
    flash(f"Le jeton « {token.name} » est révoqué.", "success")
    return redirect(url_for("accounts.api_tokens"))


# Administration of users --------------------------------------------------------------


@bp.get("/admin/utilisateurs")
@admin_required
def admin_users():
    form = forms.UserFilterForm(request.args)
    form.validate()
    role = Role(form.role.data) if form.role.data in Role.__members__ else None
    page = request.args.get("page", 1, type=int)
    pagination = queries.users_page(form.q.data or "", role, max(1, page))
    return render_template("accounts/admin_users.html", form=form, pagination=pagination)


@bp.route("/admin/utilisateurs/<int:user_id>", methods=["GET", "POST"])
@admin_required
def admin_user(user_id: int):
    user = db.get_or_404(User, user_id)
    form = forms.UserAdminForm()
    if request.method == "GET":
        form.roles.data = [r.value for r in forms.ADMIN_ROLES if r in user.roles]
        form.is_disabled.data = user.is_disabled
    elif form.validate_on_submit():
        actor = current_user._get_current_object()
        try:
            changed = operations.update_account(
                user, [Role(v) for v in form.roles.data], form.is_disabled.data, actor
            )
        except operations.AccountError as exc:
            getattr(form, exc.field or "roles").errors.append(str(exc))
        else:
            db.session.commit()
            flash(
                f"Compte {user.email} mis à jour." if changed else "Aucune modification.",
                "success" if changed else "info",
            )
            return redirect(url_for("accounts.admin_user", user_id=user.id))
    return render_template("accounts/admin_user.html", form=form, user=user)
