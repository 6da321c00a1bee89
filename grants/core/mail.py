"""E-mail: rendered from ``templates/emails/``, recorded, then sent by the worker.

``queue_mail`` writes an :class:`OutgoingMail` row in the caller's transaction and
enqueues the sending task after the commit. The worker sends each row once: it skips
rows already marked sent. Two backends: ``file`` (the embedded default; one ``.eml``
per message under ``instance/mail``, readable in the application) and ``smtp``.
"""

from __future__ import annotations

import smtplib
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path

from flask import current_app, render_template

from grants.core.models import OutgoingMail
from grants.core.tasks import enqueue_after_commit
from grants.extensions import db


def queue_mail(recipient: str, subject: str, template: str, **context) -> OutgoingMail:
    """Render ``templates/emails/<template>.txt`` (and ``.html``) and queue the message."""
    text = render_template(f"emails/{template}.txt", **context)
    try:
        html = render_template(f"emails/{template}.html", **context)
    except Exception as exc:  # the HTML part is optional
        if exc.__class__.__name__ != "TemplateNotFound":
            raise
        html = None
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].strip(">") or "grants"
    mail = OutgoingMail(
        message_id=make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain),
        recipient=recipient,
        subject=subject,
        text_body=text,
        html_body=html,
    )
    db.session.add(mail)
    db.session.flush()
    from grants.core.mail_tasks import send_mail

    enqueue_after_commit(db.session, send_mail, mail.id)
    return mail


def build_message(mail: OutgoingMail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["To"] = mail.recipient
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = mail.message_id
    msg.set_content(mail.text_body)
    if mail.html_body:
        msg.add_alternative(mail.html_body, subtype="html")
    if mail.attachment_key:
        import mimetypes

        from grants.core.storage import get_storage

        name = mail.attachment_name or "piece-jointe"
        maintype, _, subtype = (
            mimetypes.guess_type(name)[0] or "application/octet-stream"
        ).partition("/")
        msg.add_attachment(
            get_storage().read(mail.attachment_key),
            maintype=maintype,
            subtype=subtype,
            filename=name,
        )
    return msg


def deliver(msg: EmailMessage) -> None:
    config = current_app.config
    if config["MAIL_BACKEND"] == "file":
        folder = Path(config["MAIL_SINK_PATH"])
        folder.mkdir(parents=True, exist_ok=True)
        name = msg["Message-ID"].strip("<>").replace("/", "_")
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(msg.as_bytes(policy=policy.SMTP))
        tmp.replace(folder / f"{name}.eml")
        return
    smtp_cls = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_cls(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(msg)


def read_sink(limit: int = 100) -> list[dict]:
    """The messages of the file sink, newest first (for the demo mailbox page)."""
    folder = Path(current_app.config["MAIL_SINK_PATH"])
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)
    messages = []
    parser = BytesParser(policy=policy.default)
    for path in files[:limit]:
        msg = parser.parsebytes(path.read_bytes())
        body = msg.get_body(preferencelist=("plain",))
        messages.append(
            {
                "id": path.stem,
                "to": str(msg["To"]),
                "subject": str(msg["Subject"]),
                "date": str(msg["Date"]),
                "text": body.get_content() if body else "",
            }
        )
    return messages
