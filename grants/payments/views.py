"""Conventions and payments: the staff's award page and its actions, the beneficiary's
« Mes aides », and the permission-checked downloads.

Staff: ``/gestion/aides`` (list), ``/gestion/aides/<id>`` (parties, tranches, convention,
payments, recoveries, invoices) and one small page per action (signature, payment
request, payment, cancellation, tranche change, recovery, invoice review).
Members of the beneficiary organisation: ``/mes-aides`` and ``/mes-aides/<id>/factures``.
Downloads (``/aides/<id>/…``): staff and the organisation's members; anyone else gets a
404, as if the award did not exist.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from grants.core.files import UploadRejected, format_size, inspect_upload, send_stored_file
from grants.core.permissions import staff_required
from grants.core.storage import StoredFileNotFound
from grants.extensions import db
from grants.funding.models import AwardStatus
from grants.payments import forms, operations, queries, rules
from grants.payments.models import PaymentStatus, RecoveryStatus

bp = Blueprint("payments", __name__)

INVOICE_TYPES = {"pdf", "jpeg", "png"}


@bp.context_processor
def _helpers():
    return {"describe_conditions": rules.describe_conditions, "percent": rules.percent}


# --- Helpers ------------------------------------------------------------------------------


def _load_award(award_id: int, *, member_only: bool = False):
    award = queries.get_award(award_id)
    if award is None or not queries.can_view(award, current_user):
        abort(404)
    if member_only and not queries.is_member(award, current_user):
        abort(404)
    return award


def _staff_award(award_id: int):
    award = queries.get_award(award_id)
    if award is None:
        abort(404)
    return award


def _or_404(obj):
    if obj is None:
        abort(404)
    return obj


def _show_errors(form, exc: operations.PaymentError) -> None:
    shown = False
    for name, messages in exc.fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, *messages]
            shown = True
    if not shown or exc.message not in {m for msgs in exc.fields.values() for m in msgs}:
        flash(exc.message, "error")


def _upload(form_file, accepted: set[str]):
    """The checked upload, or the French reason it is refused (as a field error)."""
    try:
        return inspect_upload(
            form_file.stream, form_file.filename, accepted, current_app.config["UPLOAD_MAX_BYTES"]
        )
    except UploadRejected as exc:
        raise operations.PaymentError(fields={"file": [exc.message]}) from exc


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc):
    limit = format_size(current_app.config["UPLOAD_MAX_BYTES"])
    flash(
        f"Le fichier envoyé est trop volumineux : la taille maximale est de {limit}. "
        "Rien n'a été enregistré.",
        "error",
    )
    return redirect(request.referrer or url_for(".mine")), 303


# --- Staff: list and award page --------------------------------------------------------------


@bp.get("/gestion/aides")
@staff_required
def staff_index():
    call_id = request.args.get("appel", type=int)
    status = request.args.get("statut") or None
    if status not in {s.value for s in AwardStatus}:
        status = None
    page = queries.staff_page(request.args.get("page", 1, type=int), call_id, status)
    return render_template(
        "payments/staff_index.html",
        page=page,
        files=queries.award_files(page.items, operations.paris_today()),
        calls=queries.calls_with_awards(),
        call_id=call_id,
        status=status,
        statuses=list(AwardStatus),
    )


@bp.get("/gestion/aides/<int:award_id>")
@staff_required
def award(award_id: int):
    award = _staff_award(award_id)
    return render_template(
        "payments/award.html",
        file=queries.award_file(award, operations.paris_today()),
        confirm=forms.ConfirmForm(formdata=None),
        PaymentStatus=PaymentStatus,
        RecoveryStatus=RecoveryStatus,
        AwardStatus=AwardStatus,
    )


@bp.post("/gestion/aides/<int:award_id>/convention")
@staff_required
def generate(award_id: int):
    award = _staff_award(award_id)
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    try:
        convention = operations.generate_convention(award, current_user)
    except operations.PaymentError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(
            f"La convention {convention.reference} est générée et envoyée aux membres de la "
            "structure.",
            "success",
        )
    return redirect(url_for(".award", award_id=award_id))


def _action_page(template: str, status: int = 200, **context):
    return render_template(f"payments/{template}", **context), status


@bp.route("/gestion/aides/<int:award_id>/convention/signature", methods=["GET", "POST"])
@staff_required
def sign(award_id: int):
    award = _staff_award(award_id)
    convention = queries.convention_of(award.id)
    form = forms.SignatureForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                upload = _upload(form.file.data, {"pdf"})
                operations.record_signature(award, current_user, form.signed_on.data, upload)
            except operations.PaymentError as exc:
                db.session.rollback()
                _show_errors(form, exc)
            else:
                db.session.commit()
                flash(
                    "La signature est enregistrée : l'aide passe en « Convention signée » et "
                    "les comptes rendus annuels sont ouverts.",
                    "success",
                )
                return redirect(url_for(".award", award_id=award_id))
        award = _staff_award(award_id)
        return _action_page("sign.html", 422, award=award, convention=convention, form=form)
    return _action_page("sign.html", award=award, convention=convention, form=form)


@bp.route("/gestion/tranches/<int:tranche_id>/versement", methods=["GET", "POST"])
@staff_required
def request_payment(tranche_id: int):
    tranche = _or_404(queries.get_tranche(tranche_id))
    allowed = operations.allowance_of(tranche)
    form = forms.PaymentRequestForm()
    if request.method == "GET":
        form.amount.data = allowed.payable or None
    elif form.validate_on_submit():
        try:
            operations.request_payment(tranche, current_user, form.amount.data, form.note.data)
        except operations.PaymentError as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(
                f"Le versement est demandé sur la tranche {tranche.year} : il attend sa "
                "validation.",
                "success",
            )
            return redirect(url_for(".award", award_id=tranche.award_id))
    if request.method == "POST":
        tranche = _or_404(queries.get_tranche(tranche_id))
        allowed = operations.allowance_of(tranche)
    return _action_page(
        "request_payment.html",
        422 if request.method == "POST" else 200,
        tranche=tranche,
        award=tranche.award,
        allowed=allowed,
        form=form,
    )


@bp.post("/gestion/versements/<int:payment_id>/validation")
@staff_required
def validate_payment(payment_id: int):
    payment = _or_404(queries.get_payment(payment_id))
    if not forms.ConfirmForm().validate_on_submit():
        abort(400)
    award_id = payment.tranche.award_id
    try:
        operations.transition_payment(payment, current_user, PaymentStatus.validated)
    except operations.PaymentError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash("Le versement est validé : il peut être mis en paiement.", "success")
    return redirect(url_for(".award", award_id=award_id))


@bp.route("/gestion/versements/<int:payment_id>/paiement", methods=["GET", "POST"])
@staff_required
def pay(payment_id: int):
    payment = _or_404(queries.get_payment(payment_id))
    form = forms.PayForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                operations.transition_payment(
                    payment,
                    current_user,
                    PaymentStatus.paid,
                    paid_on=form.paid_on.data,
                    order_ref=form.order_ref.data,
                )
            except operations.PaymentError as exc:
                db.session.rollback()
                _show_errors(form, exc)
            else:
                db.session.commit()
                flash("Le paiement est enregistré ; la structure en est informée.", "success")
                return redirect(url_for(".award", award_id=payment.tranche.award_id))
        payment = _or_404(queries.get_payment(payment_id))
    return _action_page(
        "pay.html",
        422 if request.method == "POST" else 200,
        payment=payment,
        award=payment.tranche.award,
        form=form,
    )


@bp.route("/gestion/versements/<int:payment_id>/annulation", methods=["GET", "POST"])
@staff_required
def cancel_payment(payment_id: int):
    payment = _or_404(queries.get_payment(payment_id))
    form = forms.ReasonForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                operations.transition_payment(
                    payment, current_user, PaymentStatus.cancelled, reason=form.reason.data
                )
            except operations.PaymentError as exc:
                db.session.rollback()
                _show_errors(form, exc)
            else:
                db.session.commit()
                flash("Le versement est annulé.", "success")
                return redirect(url_for(".award", award_id=payment.tranche.award_id))
        payment = _or_404(queries.get_payment(payment_id))
    return _action_page(
        "cancel_payment.html",
        422 if request.method == "POST" else 200,
        payment=payment,
        award=payment.tranche.award,
        form=form,
    )


@bp.route("/gestion/tranches/<int:tranche_id>/modification", methods=["GET", "POST"])
@staff_required
def change_tranche(tranche_id: int):
    tranche = _or_404(queries.get_tranche(tranche_id))
    form = forms.TrancheChangeForm()
    if request.method == "GET":
        form.amount.data = tranche.amount
    elif form.validate_on_submit():
        try:
            operations.change_tranche(tranche, current_user, form.amount.data, form.reason.data)
        except operations.PaymentError as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash(f"La tranche {tranche.year} est modifiée.", "success")
            return redirect(url_for(".award", award_id=tranche.award_id))
    if request.method == "POST":
        tranche = _or_404(queries.get_tranche(tranche_id))
    return _action_page(
        "change_tranche.html",
        422 if request.method == "POST" else 200,
        tranche=tranche,
        award=tranche.award,
        form=form,
        cancelling=False,
    )


@bp.route("/gestion/tranches/<int:tranche_id>/annulation", methods=["GET", "POST"])
@staff_required
def cancel_tranche(tranche_id: int):
    tranche = _or_404(queries.get_tranche(tranche_id))
    form = forms.ReasonForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                operations.cancel_tranche(tranche, current_user, form.reason.data)
            except operations.PaymentError as exc:
                db.session.rollback()
                _show_errors(form, exc)
            else:
                db.session.commit()
                flash(f"Le reste de la tranche {tranche.year} est annulé.", "success")
                return redirect(url_for(".award", award_id=tranche.award_id))
        tranche = _or_404(queries.get_tranche(tranche_id))
    return _action_page(
        "change_tranche.html",
        422 if request.method == "POST" else 200,
        tranche=tranche,
        award=tranche.award,
        form=form,
        cancelling=True,
    )


@bp.route("/gestion/aides/<int:award_id>/reversements/nouveau", methods=["GET", "POST"])
@staff_required
def new_recovery(award_id: int):
    award = _staff_award(award_id)
    form = forms.RecoveryForm()
    if request.method == "GET":
        form.requested_on.data = operations.paris_today()
    elif form.validate_on_submit():
        try:
            operations.create_recovery(
                award,
                current_user,
                form.amount.data,
                form.reason.data,
                form.order_ref.data,
                form.requested_on.data,
            )
        except operations.PaymentError as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash("Le reversement est demandé.", "success")
            return redirect(url_for(".award", award_id=award_id))
    if request.method == "POST":
        award = _staff_award(award_id)
    file = queries.award_file(award, operations.paris_today())
    return _action_page(
        "recovery.html", 422 if request.method == "POST" else 200, award=award, file=file, form=form
    )


@bp.route("/gestion/reversements/<int:recovery_id>/reception", methods=["GET", "POST"])
@staff_required
def receive_recovery(recovery_id: int):
    recovery = _or_404(queries.get_recovery(recovery_id))
    form = forms.RecoveryReceivedForm()
    if request.method == "GET":
        form.order_ref.data = recovery.order_ref
    elif form.validate_on_submit():
        try:
            operations.receive_recovery(
                recovery, current_user, form.received_on.data, form.order_ref.data
            )
        except operations.PaymentError as exc:
            db.session.rollback()
            _show_errors(form, exc)
        else:
            db.session.commit()
            flash("Le reversement est enregistré comme reçu.", "success")
            return redirect(url_for(".award", award_id=recovery.award_id))
    if request.method == "POST":
        recovery = _or_404(queries.get_recovery(recovery_id))
    return _action_page(
        "recovery_received.html",
        422 if request.method == "POST" else 200,
        recovery=recovery,
        award=recovery.award,
        form=form,
    )


@bp.route("/gestion/reversements/<int:recovery_id>/annulation", methods=["GET", "POST"])
@staff_required
def cancel_recovery(recovery_id: int):
    recovery = _or_404(queries.get_recovery(recovery_id))
    form = forms.ReasonForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                operations.cancel_recovery(recovery, current_user, form.reason.data)
            except operations.PaymentError as exc:
                db.session.rollback()
                _show_errors(form, exc)
            else:
                db.session.commit()
                flash("La demande de reversement est annulée.", "success")
                return redirect(url_for(".award", award_id=recovery.award_id))
        recovery = _or_404(queries.get_recovery(recovery_id))
    return _action_page(
        "cancel_recovery.html",
        422 if request.method == "POST" else 200,
        recovery=recovery,
        award=recovery.award,
        form=form,
    )


@bp.route("/gestion/factures/<int:invoice_id>/examen", methods=["GET", "POST"])
@staff_required
def review_invoice(invoice_id: int):
    invoice = _or_404(queries.get_invoice(invoice_id))
    form = forms.InvoiceReviewForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                operations.review_invoice(
                    invoice, current_user, form.decision.data == "accept", form.comment.data
                )
            except operations.PaymentError as exc:
                db.session.rollback()
                _show_errors(form, exc)
            else:
                db.session.commit()
                flash(
                    "La facture est acceptée."
                    if form.decision.data == "accept"
                    else "La facture est refusée.",
                    "success",
                )
                return redirect(url_for(".award", award_id=invoice.award_id))
        invoice = _or_404(queries.get_invoice(invoice_id))
    return _action_page(
        "review_invoice.html",
        422 if request.method == "POST" else 200,
        invoice=invoice,
        award=invoice.award,
        form=form,
    )


# --- Downloads (staff and members) -------------------------------------------------------------


def _send(key: str | None, name: str, content_type: str):
    if not key:
        abort(404)
    try:
        return send_stored_file(key, name, content_type)
    except StoredFileNotFound:
        abort(404)


@bp.get("/aides/<int:award_id>/convention.pdf")
@login_required
def download_convention(award_id: int):
    award = _load_award(award_id)
    convention = queries.convention_of(award.id)
    if convention is None:
        abort(404)
    return _send(convention.pdf_key, f"{convention.reference}.pdf", "application/pdf")


@bp.get("/aides/<int:award_id>/convention-signee.pdf")
@login_required
def download_signed(award_id: int):
    award = _load_award(award_id)
    convention = queries.convention_of(award.id)
    if convention is None or not convention.is_signed:
        abort(404)
    return _send(
        convention.signed_copy_key,
        convention.signed_copy_name or f"{convention.reference}-signee.pdf",
        "application/pdf",
    )


@bp.get("/aides/<int:award_id>/factures/<int:invoice_id>")
@login_required
def download_invoice(award_id: int, invoice_id: int):
    award = _load_award(award_id)
    invoice = queries.get_invoice(invoice_id)
    if invoice is None or invoice.award_id != award.id:
        abort(404)
    from grants.core.files import CONTENT_TYPES

    extension = invoice.file_name.rsplit(".", 1)[-1].lower()
    kind = "jpeg" if extension in ("jpg", "jpeg") else extension
    return _send(
        invoice.file_key, invoice.file_name, CONTENT_TYPES.get(kind, "application/octet-stream")
    )


# --- Members: « Mes aides » -----------------------------------------------------------------


@bp.get("/mes-aides")
@login_required
def mine():
    awards = queries.member_awards(current_user)
    return render_template(
        "payments/mine.html",
        files=queries.award_files(awards, operations.paris_today()),
        PaymentStatus=PaymentStatus,
    )


@bp.route("/mes-aides/<int:award_id>/factures", methods=["GET", "POST"])
@login_required
def invoices(award_id: int):
    award = _load_award(award_id, member_only=True)
    form = forms.InvoiceForm()
    form.set_tranches(award.tranches)
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                upload = _upload(form.file.data, INVOICE_TYPES)
                operations.add_invoice(
                    award,
                    current_user,
                    upload,
                    supplier=form.supplier.data,
                    label=form.label.data,
                    invoice_date=form.invoice_date.data,
                    amount=form.amount.data,
                    tranche_id=form.tranche_value(),
                )
            except operations.PaymentError as exc:
                db.session.rollback()
                if exc.status == 403:
                    abort(403)
                _show_errors(form, exc)
            else:
                db.session.commit()
                flash("La facture est déposée : le service l'examinera.", "success")
                return redirect(url_for(".invoices", award_id=award_id))
        status = 422
        award = _load_award(award_id, member_only=True)
    return render_template(
        "payments/invoices.html",
        file=queries.award_file(award, operations.paris_today()),
        form=form,
        max_size=format_size(current_app.config["UPLOAD_MAX_BYTES"]),
    ), status
