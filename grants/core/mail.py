"""E-mail: rendered from ``templates/emails/``, recorded, then sent by the worker.

``queue_mail`` writes an :class:`OutgoingMail` row in the caller's transaction and
enqueues the sending task after the commit (never before: a rolled-back transaction sends
nothing). The worker claims each row before sending it, so it is sent once
(:mod:`grants.core.mail_tasks`). Two backends: ``file`` (the embedded default; one ``.eml``
per message under ``instance/mail``, readable in the application at ``/boite-mail-demo``)
and ``smtp`` (``MAIL_*`` settings from the environment).
"""

from __future__ import annotations

import mimetypes
import smtplib
import uuid
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, render_template
from jinja2 import TemplateNotFound

from grants.core.db import utcnow
from grants.core.models import MailStatus, OutgoingMail
from grants.core.tasks import enqueue_after_commit
from grants.extensions import db

#: mails per batch task: one SMTP connection, each row still claimed on its own
BATCH_SIZE = 50
SUBJECT_MAX = 300


def render_mail(template: str, **context) -> tuple[str, str | None]:
    """The text part of ``emails/<template>.txt`` and the optional ``.html`` part."""
    text = render_template(f"emails/{template}.txt", **context)
    try:
        html = render_template(f"emails/{template}.html", **context)
    except TemplateNotFound as exc:
        if exc.name != f"emails/{template}.html":
            raise  # a template included by the HTML part is missing: a real error
        html = None
    return text, html


def new_message_id() -> str:
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rsplit("@", 1)[-1].strip(">") or "grants"
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)


def queue_mail(recipient: str, subject: str, template: str, **context) -> OutgoingMail:
    """Render ``templates/emails/<template>.txt`` (and ``.html``) and queue the message."""
    text, html = render_mail(template, **context)
    mail = OutgoingMail(
        message_id=new_message_id(),
        recipient=recipient,
        subject=subject[:SUBJECT_MAX],
        text_body=text,
        html_body=html,
    )
    db.session.add(mail)
    db.session.flush()
    enqueue_mails([mail.id])
    return mail


def record_mails(
    messages: Sequence[tuple[str, str, str, str | None]],
    attachment: tuple[str, str] | None = None,
) -> list[int]:
    """Insert pending rows for ``(recipient, subject, text, html)`` in one statement,
    without enqueuing them; their ids, in the order given."""
    if not messages:
        return []
    key, name = attachment or (None, None)
    now = utcnow()
    rows = [
        {
            "message_id": new_message_id(),
            "recipient": recipient,
            "subject": subject[:SUBJECT_MAX],
            "text_body": text,
            "html_body": html,
            "attachment_key": key,
            "attachment_name": name,
            "status": MailStatus.pending,
            "attempts": 0,
            "created_at": now,
        }
        for recipient, subject, text, html in messages
    ]
    table = OutgoingMail.__table__
    returned = dict(
        db.session.execute(sa.insert(table).returning(table.c.message_id, table.c.id), rows).all()
    )
    return [returned[row["message_id"]] for row in rows]


def enqueue_mails(mail_ids: Sequence[int]) -> None:
    """Send these rows after the commit: one task for one row, batches for many."""
    from grants.core.mail_tasks import send_mail, send_mail_batch

    ids = list(mail_ids)
    if len(ids) == 1:
        enqueue_after_commit(db.session, send_mail, ids[0])
        return
    for start in range(0, len(ids), BATCH_SIZE):
        enqueue_after_commit(db.session, send_mail_batch, ids[start : start + BATCH_SIZE])


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


#: errors that say the server (not this message) is unreachable: the rest of a batch waits
CONNECTION_ERRORS = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
)
#: errors about one message (its recipient, its content): the others can still go
MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the server can't be reached (smtplib errors are OSErrors)."""
    if isinstance(exc, MESSAGE_ERRORS):
        return False
    return isinstance(exc, CONNECTION_ERRORS) or isinstance(exc, OSError)


class Transport:
    """Delivers messages, through one SMTP connection for a whole batch.

    Use as a context manager; the connection is opened at the first message and closed
    at the end. A reused connection that the server dropped (idle timeout) is reopened
    once.
    """

    def __init__(self):
        self.config = current_app.config
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except OSError:  # smtplib's errors are OSErrors
                self._smtp.close()
            self._smtp = None

    def send(self, msg: EmailMessage) -> None:
        if self.config["MAIL_BACKEND"] == "file":
            self._write_file(msg)
            return
        if self._smtp is not None:
            try:
                self._smtp.send_message(msg)
                return
            except MESSAGE_ERRORS:
                self._reset()
                raise
            except (smtplib.SMTPServerDisconnected, ConnectionError):
                self._drop()  # closed by the server while idle: reconnect once below
        self._smtp = self._connect()
        try:
            self._smtp.send_message(msg)
        except MESSAGE_ERRORS:
            self._reset()
            raise
        except Exception:
            self._drop()
            raise

    def _reset(self) -> None:
        """After a refused message the connection serves the next one."""
        try:
            self._smtp.rset()
        except OSError:
            self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        smtp_cls = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
        smtp = smtp_cls(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=30)
        try:
            if config["MAIL_USE_TLS"]:
                smtp.starttls()
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        except Exception:
            smtp.close()
            raise
        return smtp

    def _write_file(self, msg: EmailMessage) -> None:
        folder = Path(self.config["MAIL_SINK_PATH"])
        folder.mkdir(parents=True, exist_ok=True)
        name = msg["Message-ID"].strip("<>").replace("/", "_")
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(msg.as_bytes(policy=policy.SMTP))
        tmp.replace(folder / f"{name}.eml")


def deliver(msg: EmailMessage) -> None:
    """Deliver one message (its own connection)."""
    with Transport() as transport:
        transport.send(msg)


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
                "attachments": [part.get_filename() or "" for part in msg.iter_attachments()],
            }
        )
    return messages
