"""The in-app inbox, preferences and the staff outbox."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from grants.core.mail_tasks import MAX_ATTEMPTS
from grants.core.models import MailStatus, OutgoingMail
from grants.core.permissions import staff_required
from grants.core.security import safe_next
from grants.extensions import db
from grants.notifications import operations, queries
from grants.notifications import tasks as _tasks  # noqa: F401 (registers the beat tasks)
from grants.notifications.forms import OutboxFilterForm, PreferencesForm
from grants.notifications.operations import NotificationError

bp = Blueprint("notifications", __name__)


@bp.app_context_processor
def _unread():
    """``unread_notifications()`` for the header: one COUNT per page, only when shown."""

    def unread_notifications() -> int:
        if not has_request_context() or not current_user.is_authenticated:
            return 0
        if "unread_notifications" not in g:
            g.unread_notifications = queries.unread_count(current_user.id)
        return g.unread_notifications

    return {"unread_notifications": unread_notifications}


def _page_arg() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _own_or_404(notification_id: int):
    notification = queries.own_notification(notification_id, current_user.id)
    if notification is None:
        abort(404)  # someone else's notification does not exist for this user
    return notification


def local_path(link: str | None) -> str:
    """A notification's link as a path on this site (links are absolute for e-mails)."""
    if not link:
        return url_for("notifications.inbox")
    parts = urlsplit(link)
    path = parts.path or "/"
    return safe_next(path + (f"?{parts.query}" if parts.query else ""), url_for("core.home"))


@bp.get("/notifications")
@login_required
def inbox():
    unread_only = request.args.get("non-lues") == "1"
    pagination = queries.inbox_page(current_user.id, _page_arg(), unread_only=unread_only)
    return render_template(
        "notifications/inbox.html",
        pagination=pagination,
        unread_only=unread_only,
        local_path=local_path,
    )


@bp.get("/notifications/<int:notification_id>/ouvrir")
@login_required
def open_link(notification_id: int):
    """Follow a notification's link; it is read from then on."""
    notification = _own_or_404(notification_id)
    if operations.mark_read(notification, current_user):
        db.session.commit()
    return redirect(local_path(notification.link))


@bp.post("/notifications/<int:notification_id>/lue")
@login_required
def mark_read(notification_id: int):
    notification = _own_or_404(notification_id)
    if operations.mark_read(notification, current_user):
        db.session.commit()
        flash("Notification marquée comme lue.", "success")
    return redirect(safe_next(request.form.get("next"), url_for("notifications.inbox")))


@bp.post("/notifications/tout-lu")
@login_required
def mark_all_read():
    count = operations.mark_all_read(current_user)
    db.session.commit()
    if count == 1:
        flash("1 notification marquée comme lue.", "success")
    elif count:
        flash(f"{count} notifications marquées comme lues.", "success")
    else:
        flash("Aucune notification non lue.", "success")
    return redirect(url_for("notifications.inbox"))


@bp.route("/notifications/preferences", methods=["GET", "POST"])
@login_required
def preferences():
    pref = operations.preferences_of(current_user)
    form = PreferencesForm(data={"email_reminders": pref.email_reminders})
    if request.method == "POST":
        form = PreferencesForm()
        if form.validate():
            changed = operations.set_preferences(
                current_user, email_reminders=bool(form.email_reminders.data)
            )
            db.session.commit()
            flash(
                "Vos préférences sont enregistrées." if changed else "Aucun changement.",
                "success",
            )
            return redirect(url_for("notifications.preferences"))
    return render_template(
        "notifications/preferences.html",
        form=form,
        essential_kinds=operations.ESSENTIAL_KINDS,
        reminder_kinds=operations.REMINDER_KINDS,
    ), (422 if form.errors else 200)


# --- staff outbox -------------------------------------------------------------------------


@bp.get("/gestion/envois")
@staff_required
def outbox():
    form = OutboxFilterForm(formdata=request.args)
    form.validate()
    filters = form.filters()
    pagination = queries.outbox_page(filters, _page_arg())
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "notifications/outbox.html",
        form=form,
        filters=filters,
        pagination=pagination,
        counts=queries.outbox_counts(),
        labels=queries.MAIL_STATUS_LABELS,
        page_args=args,
        MailStatus=MailStatus,
        max_attempts=MAX_ATTEMPTS,
    )


def _back_to_outbox() -> str:
    return safe_next(request.form.get("next"), url_for("notifications.outbox"))


@bp.post("/gestion/envois/<int:mail_id>/renvoyer")
@staff_required
def resend(mail_id: int):
    mail = db.get_or_404(OutgoingMail, mail_id)
    try:
        operations.resend(mail, current_user)
    except NotificationError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(_back_to_outbox())
    db.session.commit()
    flash(f"L'e-mail à {mail.recipient} est remis dans la file d'envoi.", "success")
    return redirect(_back_to_outbox())


@bp.post("/gestion/envois/renvoyer-les-echecs")
@staff_required
def resend_failed():
    count = operations.resend_all_failed(current_user)
    db.session.commit()
    if count:
        flash(
            f"{count} e-mail{'s' if count > 1 else ''} en échec remis dans la file d'envoi.",
            "success",
        )
    else:
        flash("Aucun e-mail en échec.", "success")
    return redirect(url_for("notifications.outbox"))
