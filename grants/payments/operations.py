"""Conventions, payments, tranche changes, recoveries and invoices: check, change, record,
notify (never commit, never touch the request).

**Money guards (DESIGN §9).** ``Tranche.requested_amount``, ``Tranche.paid_amount`` and
``Award.allocated_total`` are moved only by conditional UPDATEs whose WHERE keeps them
within their bounds; the database evaluates the condition on the row it locks, so of two
requests at the same moment that don't both fit, the second changes nothing (rowcount 0
→ refused with a French message). CHECK constraints (paid ≤ requested ≤ amount,
allocated ≤ total) back them up. Every operation on a tranche's payments first locks the
tranche's row (the counter UPDATE, or a touch), then the payment's, always in that order,
then derives the tranche's status from fresh reads: concurrent steps on one tranche are
serialised and can't deadlock. Recoveries and investment-aid requests (whose ceiling
spans the award's tranches) lock the award's row first.

Every payment step goes through :func:`transition_payment` (``PAYMENT_TRANSITIONS``); the
payment's status is itself changed by a conditional UPDATE on its current status, so a
payment can't be paid twice by two clicks. Everything is audited.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from grants.accounts.models import User
from grants.audit.operations import record
from grants.calls.models import CallKind
from grants.core.db import utcnow
from grants.core.files import UploadInfo
from grants.core.formatting import format_date_fr, to_paris
from grants.core.money import format_money
from grants.core.storage import get_storage, new_key
from grants.extensions import db
from grants.funding.models import AWARD_TRANSITIONS, Award, AwardStatus, Tranche, TrancheStatus
from grants.notifications.operations import notify
from grants.payments import queries, rules
from grants.payments.convention_pdf import build_convention_pdf, convention_data
from grants.payments.models import (
    PAYMENT_TRANSITIONS,
    AnnualReport,
    Convention,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Recovery,
    RecoveryStatus,
    ReportStatus,
)

MAX_TEXT = 4000
MAX_REF = 60


class PaymentError(ValueError):
    """A refused step, in French (``fields``: per input; ``status``: HTTP-like)."""

    def __init__(
        self, message: str = "", fields: dict[str, list[str]] | None = None, status: int = 422
    ):
        self.fields = fields or {}
        self.status = status
        self.message = message or next(
            (msgs[0] for msgs in self.fields.values() if msgs), "Action refusée."
        )
        super().__init__(self.message)


def paris_today() -> date:
    return to_paris(utcnow()).date()


def _require_staff(actor: User | None) -> None:
    if not (actor and actor.is_authenticated and actor.is_staff):
        raise PaymentError("Réservé aux agents du service.", status=403)


def _ref(award: Award) -> str:
    return award.application.reference or f"aide n° {award.id}"


def _text(value: str | None, name: str, required: str | None = None) -> str:
    text = (value or "").strip()
    if required and not text:
        raise PaymentError(fields={name: [required]})
    if len(text) > MAX_TEXT:
        raise PaymentError(fields={name: [f"{MAX_TEXT} caractères au plus."]})
    return text


def _update(stmt) -> int:
    return db.session.execute(stmt.execution_options(synchronize_session=False)).rowcount


def _round(expr):
    # SQLite computes NUMERIC as floating point: round to the cent, as PostgreSQL is exact.
    return sa.func.round(expr, 2)


# --- Award status ------------------------------------------------------------------------


def _award_to(award: Award, actor: User | None, source: AwardStatus, target: AwardStatus) -> bool:
    """``source → target`` (AWARD_TRANSITIONS) by a conditional UPDATE; False if the award
    was no longer in ``source``."""
    assert target in AWARD_TRANSITIONS[source], (source, target)
    done = _update(
        sa.update(Award)
        .where(Award.id == award.id, Award.status == source)
        .values(status=target, updated_at=utcnow())
    )
    if done:
        db.session.refresh(award, ["status", "updated_at"])
        record(
            actor,
            "award.status",
            award,
            summary=f"Aide {_ref(award)} : « {source.label} » → « {target.label} »",
            changes={"status": [source, target]},
        )
    return bool(done)


def _lock_award(award: Award) -> None:
    """Take the award's row lock for the rest of the transaction."""
    _update(sa.update(Award).where(Award.id == award.id).values(updated_at=utcnow()))


def _settle(award: Award, actor: User | None) -> None:
    """An award in payment whose every tranche is paid or cancelled is closed (soldée)."""
    db.session.refresh(award, ["status"])
    if award.status == AwardStatus.in_payment and rules.award_settled(
        queries.fresh_state(award).tranches
    ):
        _award_to(award, actor, AwardStatus.in_payment, AwardStatus.closed)


def _sync_tranche(tranche: Tranche) -> None:
    """The tranche's status from its figures and its waiting payments (read fresh, after
    the tranche's row is locked by this transaction)."""
    amount, paid = db.session.execute(
        sa.select(Tranche.amount, Tranche.paid_amount).where(Tranche.id == tranche.id)
    ).one()
    requested, validated = queries.pending_counts(tranche.id)
    status = TrancheStatus(
        rules.tranche_status(Decimal(amount), Decimal(paid), requested, validated)
    )
    _update(sa.update(Tranche).where(Tranche.id == tranche.id).values(status=status))
    db.session.refresh(tranche)


# --- Conventions ---------------------------------------------------------------------------


def convention_reference(award: Award) -> str:
    return f"CONV-{award.application.reference or award.id}"


def generate_convention(award: Award, actor: User) -> Convention:
    """Make (or remake, until it is signed) the convention's PDF, store it and send it to
    the organisation's members."""
    _require_staff(actor)
    convention = queries.convention_of(award.id)
    if convention is not None and convention.is_signed:
        raise PaymentError(
            "La convention est signée : elle ne peut plus être régénérée.", status=409
        )
    if award.status != AwardStatus.scheduled:
        raise PaymentError(
            "La convention se prépare quand l'échéancier de l'aide est calculé (statut "
            f"actuel : « {award.status.label} »).",
            status=409,
        )
    scheduled = sum((Decimal(t.amount) for t in award.tranches), Decimal("0"))
    if scheduled != Decimal(award.total):
        raise PaymentError(
            f"L'échéancier ({format_money(scheduled)}) ne correspond pas au montant de "
            f"l'aide ({format_money(award.total)}) : recalculez-le avant de générer la "
            "convention.",
            status=409,
        )
    now = utcnow()
    reference = convention_reference(award)
    conditions = queries.conditions_of(award.call, queries.expense_share_of(award))
    pdf = build_convention_pdf(convention_data(award, reference, to_paris(now).date(), conditions))
    key = new_key("conventions")
    get_storage().put(key, pdf)
    created = convention is None
    if created:
        convention = Convention(award_id=award.id, reference=reference)
        db.session.add(convention)
    before = convention.pdf_key
    convention.pdf_key = key
    convention.generated_at = now
    db.session.flush()
    record(
        actor,
        "convention.generated",
        convention,
        summary=f"Convention {reference} {'générée' if created else 'régénérée'} "
        f"({format_money(award.total)})",
        changes={"pdf_key": [before, key]},
    )
    _notify_convention(award, convention)
    return convention


def _notify_convention(award: Award, convention: Convention) -> None:
    from grants.accounts.tokens import external_url

    notify(
        "award.convention_ready",
        convention,
        queries.members_of(award),
        subject=f"Convention {convention.reference} à signer",
        template="payments/convention_ready",
        context={
            "award": award,
            "convention": convention,
            "application": award.application,
            "organisation": award.application.organisation,
            "call": award.call,
            "tranches": [t for t in award.tranches if t.amount > 0],
        },
        occurrence=convention.generated_at.isoformat()[:60],
        essential=True,
        link=external_url("payments.mine"),
        attachment=(convention.pdf_key, f"{convention.reference}.pdf"),
    )


def record_signature(
    award: Award, actor: User, signed_on: date | None, upload: UploadInfo
) -> Convention:
    """The signed copy and its date: the award moves to « Convention signée » and its
    yearly reports are created (due at the end of the call's report month of year + 1)."""
    _require_staff(actor)
    if signed_on is None:
        raise PaymentError(fields={"signed_on": ["Indiquez la date de signature."]})
    if signed_on > paris_today():
        raise PaymentError(
            fields={"signed_on": ["La date de signature ne peut pas être dans le futur."]}
        )
    if upload.extension != "pdf":
        raise PaymentError(fields={"file": ["La copie signée doit être un PDF."]})
    convention = queries.convention_of(award.id)
    if convention is None or convention.pdf_key is None:
        raise PaymentError("Générez d'abord la convention.", status=409)
    if convention.is_signed:
        raise PaymentError("La signature de cette convention est déjà enregistrée.", status=409)
    if convention.generated_at and signed_on < to_paris(convention.generated_at).date():
        raise PaymentError(
            fields={
                "signed_on": [
                    "La convention a été générée le "
                    f"{format_date_fr(convention.generated_at)} : "
                    "elle n'a pas pu être signée avant."
                ]
            }
        )
    if not _award_to(award, actor, AwardStatus.scheduled, AwardStatus.convention_signed):
        raise PaymentError(
            f"Cette aide est « {award.status.label} » : la signature ne peut pas être enregistrée.",
            status=409,
        )
    key = new_key("conventions-signed")
    get_storage().put(key, upload.data)
    convention.signed_on = signed_on
    convention.signed_copy_key = key
    convention.signed_copy_name = upload.clean_name
    convention.signed_copy_sha256 = upload.sha256
    convention.signed_recorded_by_id = actor.id
    db.session.flush()
    years = create_reports(award)
    record(
        actor,
        "convention.signed",
        convention,
        summary=f"Convention {convention.reference} signée le {signed_on.strftime('%d/%m/%Y')}"
        + (f" ; comptes rendus attendus pour {', '.join(map(str, years))}" if years else ""),
        changes={
            "signed_on": [None, signed_on],
            "signed_copy_name": [None, upload.clean_name],
            "signed_copy_sha256": [None, upload.sha256],
        },
    )
    return convention


def create_reports(award: Award) -> list[int]:
    """One annual report per tranche year (status « à remettre »); existing ones kept."""
    month = award.call.report_due_month
    rows = [
        {
            "award_id": award.id,
            "year": t.year,
            "due_on": rules.report_due_on(t.year, month),
            "status": ReportStatus.due.value,
            "activity": "",
            "financial": [],
            "indicators": {},
            "review_comment": "",
        }
        for t in award.tranches
        if t.amount > 0
    ]
    if not rows:
        return []
    table = AnnualReport.__table__
    dialect = db.session.get_bind().dialect.name
    stmt = (
        (postgresql if dialect == "postgresql" else sqlite)
        .insert(table)
        .on_conflict_do_nothing(index_elements=["award_id", "year"])
    )
    db.session.execute(stmt, rows)
    return [row["year"] for row in rows]


# --- Payments ------------------------------------------------------------------------------


def allowance_of(tranche: Tranche, today: date | None = None) -> rules.Allowance:
    """What can be asked for on ``tranche`` now, from fresh figures."""
    award = tranche.award
    state = queries.fresh_state(award)
    current = next(t for t in state.tranches if t.year == tranche.year)
    conditions = queries.conditions_of(award.call, queries.expense_share_of(award))
    return rules.allowance(current, state, conditions, today or paris_today())


def request_payment(
    tranche: Tranche, actor: User, amount: Decimal | None = None, note: str = ""
) -> Payment:
    """Ask for a payment on ``tranche``: by default what the conditions allow now."""
    _require_staff(actor)
    award = tranche.award
    note = _text(note, "note")
    if award.call.kind == CallKind.investment_aid:
        _lock_award(award)  # the invoices' ceiling spans the award's tranches
    allowed = allowance_of(tranche)
    if amount is None:
        amount = allowed.payable
        if amount <= 0:
            raise PaymentError(
                fields={
                    "amount": [
                        "Rien n'est payable aujourd'hui sur cette tranche. "
                        + " ".join(allowed.reasons)
                    ]
                }
            )
    try:
        rules.check_request(Decimal(amount), allowed)
    except rules.RuleError as exc:
        raise PaymentError(fields={"amount": [exc.message]}) from exc
    ceiling = min(Decimal(tranche.amount), allowed.released)
    new_total = _round(Tranche.requested_amount + amount)
    moved = _update(
        sa.update(Tranche)
        .where(
            Tranche.id == tranche.id,
            Tranche.status != TrancheStatus.cancelled,
            new_total <= Tranche.amount,
            new_total <= ceiling,
        )
        .values(requested_amount=new_total, updated_at=utcnow())
    )
    if moved != 1:
        requested, total = db.session.execute(
            sa.select(Tranche.requested_amount, Tranche.amount).where(Tranche.id == tranche.id)
        ).one()
        room = max(min(Decimal(total), ceiling) - Decimal(requested), Decimal("0"))
        raise PaymentError(
            "Demande refusée : elle dépasserait ce qui peut être demandé sur la tranche "
            f"{tranche.year} (déjà demandé : {format_money(requested)} ; reste disponible "
            f"aujourd'hui : {format_money(room)}).",
            {"amount": [f"Au plus {format_money(room)}."]},
            status=409,
        )
    payment = Payment(
        tranche_id=tranche.id,
        amount=amount,
        status=PaymentStatus.requested,
        requested_by_id=actor.id,
        note=note,
    )
    db.session.add(payment)
    db.session.flush()
    _sync_tranche(tranche)
    if award.status == AwardStatus.convention_signed:
        _award_to(award, actor, AwardStatus.convention_signed, AwardStatus.in_payment)
    record(
        actor,
        "payment.requested",
        payment,
        summary=f"Versement de {format_money(amount)} demandé sur la tranche {tranche.year} "
        f"de l'aide {_ref(award)}",
        changes={"amount": [None, amount], "status": [None, PaymentStatus.requested]},
    )
    return payment


VERBS = {
    PaymentStatus.validated: "validé",
    PaymentStatus.paid: "payé",
    PaymentStatus.cancelled: "annulé",
}


def transition_payment(
    payment: Payment,
    actor: User,
    target: PaymentStatus,
    *,
    paid_on: date | None = None,
    order_ref: str | None = None,
    reason: str | None = None,
) -> Payment:
    """THE way a payment changes status (PAYMENT_TRANSITIONS): validate, pay (date and
    payment order), cancel (with a reason). Moves the tranche's counters when it must."""
    _require_staff(actor)
    source = payment.status
    if target not in PAYMENT_TRANSITIONS[source]:
        raise PaymentError(
            f"Un versement « {source.label} » ne peut pas être {VERBS.get(target, target.value)}.",
            status=409,
        )
    tranche = payment.tranche
    award = tranche.award
    amount = Decimal(payment.amount)
    values: dict = {"status": target}
    changes: dict = {"status": [source, target]}
    if target == PaymentStatus.validated:
        values.update(validated_at=utcnow(), validated_by_id=actor.id)
        _update(sa.update(Tranche).where(Tranche.id == tranche.id).values(updated_at=utcnow()))
    elif target == PaymentStatus.paid:
        order_ref = (order_ref or "").strip()
        errors: dict[str, list[str]] = {}
        if paid_on is None:
            errors["paid_on"] = ["Indiquez la date du paiement."]
        elif paid_on > paris_today():
            errors["paid_on"] = ["La date du paiement ne peut pas être dans le futur."]
        if not order_ref:
            errors["order_ref"] = ["Indiquez la référence du mandat de paiement."]
        elif len(order_ref) > MAX_REF:
            errors["order_ref"] = [f"{MAX_REF} caractères au plus."]
        if errors:
            raise PaymentError(fields=errors)
        new_paid = _round(Tranche.paid_amount + amount)
        if not _update(
            sa.update(Tranche)
            .where(Tranche.id == tranche.id, new_paid <= Tranche.requested_amount)
            .values(paid_amount=new_paid, updated_at=utcnow())
        ):
            raise PaymentError(
                "Paiement refusé : il dépasserait ce qui est demandé sur la tranche.", status=409
            )
        values.update(paid_on=paid_on, order_ref=order_ref)
        changes.update(paid_on=[None, paid_on], order_ref=[None, order_ref])
    elif target == PaymentStatus.cancelled:
        reason = _text(reason, "reason", "Indiquez le motif de l'annulation.")
        new_requested = _round(Tranche.requested_amount - amount)
        if not _update(
            sa.update(Tranche)
            .where(Tranche.id == tranche.id, new_requested >= Tranche.paid_amount)
            .values(requested_amount=new_requested, updated_at=utcnow())
        ):
            raise PaymentError("Annulation refusée : la tranche a changé entre-temps.", status=409)
        values.update(cancelled_reason=reason)
        changes.update(cancelled_reason=[None, reason])
    if not _update(
        sa.update(Payment)
        .where(Payment.id == payment.id, Payment.status == source)
        .values(**values)
    ):
        raise PaymentError(
            "Ce versement a été modifié entre-temps : rechargez la page.", status=409
        )
    db.session.refresh(payment)
    _sync_tranche(tranche)
    if target in (PaymentStatus.paid, PaymentStatus.cancelled):
        _settle(award, actor)
    summary = (
        f"Versement de {format_money(amount)} (tranche {tranche.year}, aide {_ref(award)}) "
        f"{VERBS[target]}"
    )
    if target == PaymentStatus.paid:
        summary += f" le {paid_on.strftime('%d/%m/%Y')}, mandat {order_ref}"
    record(actor, f"payment.{target.value}", payment, summary=summary, changes=changes)
    if target == PaymentStatus.paid:
        _notify_paid(award, tranche, payment)
    return payment


def _notify_paid(award: Award, tranche: Tranche, payment: Payment) -> None:
    from grants.accounts.tokens import external_url

    notify(
        "payment.made",
        payment,
        queries.members_of(award),
        subject=f"Versement de {format_money(payment.amount)} — {_ref(award)}",
        template="payments/payment_made",
        context={
            "award": award,
            "tranche": tranche,
            "payment": payment,
            "application": award.application,
            "organisation": award.application.organisation,
            "call": award.call,
        },
        essential=True,
        link=external_url("payments.mine"),
    )


# --- Tranches ------------------------------------------------------------------------------


def change_tranche(
    tranche: Tranche,
    actor: User,
    new_amount: Decimal | None,
    reason: str,
    *,
    action: str = "changed",
) -> Tranche:
    """Set a tranche's amount (a reduction, or a raise within the award's total), with a
    reason: never below what is already requested; the award's allocated total follows."""
    _require_staff(actor)
    reason = _text(reason, "reason", "Indiquez le motif de la modification.")
    if new_amount is None:
        raise PaymentError(fields={"amount": ["Indiquez le nouveau montant de la tranche."]})
    award = tranche.award
    total, allocated = db.session.execute(
        sa.select(Award.total, Award.allocated_total).where(Award.id == award.id)
    ).one()
    old, requested = db.session.execute(
        sa.select(Tranche.amount, Tranche.requested_amount).where(Tranche.id == tranche.id)
    ).one()
    old, requested = Decimal(old), Decimal(requested)
    try:
        change = rules.tranche_change(
            old, requested, Decimal(new_amount), Decimal(total), Decimal(allocated)
        )
    except rules.RuleError as exc:
        raise PaymentError(fields={"amount": [exc.message]}) from exc
    if change.delta == 0:
        raise PaymentError(fields={"amount": ["C'est déjà le montant de la tranche."]})
    # The award first (its row lock), then the tranche: always in this order.
    new_allocated = _round(Award.allocated_total + change.delta)
    if not _update(
        sa.update(Award)
        .where(Award.id == award.id, new_allocated <= Award.total, new_allocated >= 0)
        .values(allocated_total=new_allocated, updated_at=utcnow())
    ):
        fresh = db.session.scalar(sa.select(Award.allocated_total).where(Award.id == award.id))
        raise PaymentError(
            "Modification refusée : les tranches dépasseraient le montant de l'aide "
            f"({format_money(total)} ; déjà réparti : {format_money(fresh)}).",
            {"amount": [f"Au plus {format_money(old + Decimal(total) - Decimal(fresh))}."]},
            status=409,
        )
    if not _update(
        sa.update(Tranche)
        .where(
            Tranche.id == tranche.id,
            Tranche.amount == old,
            Tranche.requested_amount <= change.new_amount,
        )
        .values(amount=change.new_amount, change_reason=reason, updated_at=utcnow())
    ):
        raise PaymentError(
            "La tranche a changé entre-temps (un versement a été demandé ?) : rechargez la page.",
            status=409,
        )
    db.session.refresh(award, ["allocated_total"])
    _sync_tranche(tranche)
    _settle(award, actor)
    verb = {"changed": "modifiée", "cancelled": "annulée"}[action]
    record(
        actor,
        f"tranche.{action}",
        tranche,
        summary=f"Tranche {tranche.year} de l'aide {_ref(award)} {verb} : "
        f"{format_money(old)} → {format_money(change.new_amount)} ({reason})",
        changes={"amount": [old, change.new_amount], "change_reason": [None, reason]},
    )
    return tranche


def cancel_tranche(tranche: Tranche, actor: User, reason: str) -> Tranche:
    """Cancel what is not yet asked of a tranche: its amount becomes what is requested
    (0: the tranche is cancelled)."""
    _require_staff(actor)
    requested = db.session.scalar(
        sa.select(Tranche.requested_amount).where(Tranche.id == tranche.id)
    )
    if Decimal(requested) >= Decimal(tranche.amount):
        raise PaymentError(
            "Toute la tranche est déjà demandée : annulez d'abord les versements non payés.",
            status=409,
        )
    return change_tranche(tranche, actor, Decimal(requested), reason, action="cancelled")


# --- Recoveries ----------------------------------------------------------------------------


def create_recovery(
    award: Award,
    actor: User,
    amount: Decimal | None,
    reason: str,
    order_ref: str = "",
    requested_on: date | None = None,
) -> Recovery:
    """Ask the beneficiary to pay back unspent aid: at most what was paid, minus the
    recoveries already asked."""
    _require_staff(actor)
    reason = _text(reason, "reason", "Indiquez le motif du reversement.")
    order_ref = (order_ref or "").strip()
    if len(order_ref) > MAX_REF:
        raise PaymentError(fields={"order_ref": [f"{MAX_REF} caractères au plus."]})
    if amount is None:
        raise PaymentError(fields={"amount": ["Indiquez le montant à reverser."]})
    requested_on = requested_on or paris_today()
    _lock_award(award)  # two recoveries at once can't both take the same room
    paid = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Tranche.paid_amount), 0)).where(
            Tranche.award_id == award.id
        )
    )
    others = db.session.scalars(
        sa.select(Recovery.amount).where(
            Recovery.award_id == award.id, Recovery.status != RecoveryStatus.cancelled
        )
    ).all()
    try:
        rules.check_recovery(Decimal(amount), Decimal(paid), [Decimal(x) for x in others])
    except rules.RuleError as exc:
        raise PaymentError(fields={"amount": [exc.message]}) from exc
    recovery = Recovery(
        award_id=award.id,
        amount=amount,
        reason=reason,
        order_ref=order_ref or None,
        requested_on=requested_on,
        created_by_id=actor.id,
    )
    db.session.add(recovery)
    db.session.flush()
    record(
        actor,
        "recovery.requested",
        recovery,
        summary=f"Reversement de {format_money(amount)} demandé à {_ref(award)} ({reason})",
        changes={
            "amount": [None, amount],
            "reason": [None, reason],
            "order_ref": [None, order_ref],
        },
    )
    return recovery


def receive_recovery(
    recovery: Recovery, actor: User, received_on: date | None, order_ref: str = ""
) -> Recovery:
    _require_staff(actor)
    if received_on is None:
        raise PaymentError(fields={"received_on": ["Indiquez la date de réception."]})
    if received_on > paris_today():
        raise PaymentError(fields={"received_on": ["La date ne peut pas être dans le futur."]})
    if received_on < recovery.requested_on:
        raise PaymentError(
            fields={"received_on": ["La date de réception précède la demande de reversement."]}
        )
    order_ref = (order_ref or "").strip() or recovery.order_ref or ""
    if len(order_ref) > MAX_REF:
        raise PaymentError(fields={"order_ref": [f"{MAX_REF} caractères au plus."]})
    if not _update(
        sa.update(Recovery)
        .where(Recovery.id == recovery.id, Recovery.status == RecoveryStatus.requested)
        .values(
            status=RecoveryStatus.received, received_on=received_on, order_ref=order_ref or None
        )
    ):
        raise PaymentError("Ce reversement n'est plus en attente.", status=409)
    db.session.refresh(recovery)
    record(
        actor,
        "recovery.received",
        recovery,
        summary=f"Reversement de {format_money(recovery.amount)} reçu le "
        f"{received_on.strftime('%d/%m/%Y')}",
        changes={
            "status": [RecoveryStatus.requested, RecoveryStatus.received],
            "received_on": [None, received_on],
        },
    )
    return recovery


def cancel_recovery(recovery: Recovery, actor: User, reason: str) -> Recovery:
    _require_staff(actor)
    reason = _text(reason, "reason", "Indiquez le motif de l'annulation.")
    if not _update(
        sa.update(Recovery)
        .where(Recovery.id == recovery.id, Recovery.status == RecoveryStatus.requested)
        .values(status=RecoveryStatus.cancelled)
    ):
        raise PaymentError("Ce reversement n'est plus en attente.", status=409)
    db.session.refresh(recovery)
    record(
        actor,
        "recovery.cancelled",
        recovery,
        summary=f"Reversement de {format_money(recovery.amount)} annulé ({reason})",
        changes={
            "status": [RecoveryStatus.requested, RecoveryStatus.cancelled],
            "reason": [None, reason],
        },
    )
    return recovery


# --- Invoices (investment aid) -----------------------------------------------------------


def add_invoice(
    award: Award,
    actor: User,
    upload: UploadInfo,
    *,
    supplier: str,
    label: str,
    invoice_date: date | None,
    amount: Decimal | None,
    tranche_id: int | None = None,
) -> Invoice:
    """A justifying invoice uploaded by a member of the beneficiary organisation."""
    if not queries.is_member(award, actor):
        raise PaymentError("Seuls les membres de la structure déposent des factures.", status=403)
    if award.call.kind != CallKind.investment_aid:
        raise PaymentError(
            "Cette aide n'est pas une aide à l'investissement : elle ne se justifie pas par "
            "factures.",
            status=409,
        )
    if award.status in (AwardStatus.proposed, AwardStatus.closed):
        raise PaymentError(
            f"Cette aide est « {award.status.label} » : elle ne reçoit pas de factures.",
            status=409,
        )
    errors: dict[str, list[str]] = {}
    supplier = (supplier or "").strip()
    label = (label or "").strip()
    if not supplier:
        errors["supplier"] = ["Indiquez le fournisseur."]
    elif len(supplier) > 200:
        errors["supplier"] = ["200 caractères au plus."]
    if not label:
        errors["label"] = ["Indiquez l'objet de la facture."]
    elif len(label) > 300:
        errors["label"] = ["300 caractères au plus."]
    if invoice_date is None:
        errors["invoice_date"] = ["Indiquez la date de la facture."]
    elif invoice_date > paris_today():
        errors["invoice_date"] = ["La date de la facture ne peut pas être dans le futur."]
    if amount is None:
        errors["amount"] = ["Indiquez le montant éligible de la facture."]
    elif amount <= 0:
        errors["amount"] = ["Le montant doit être supérieur à 0 €."]
    if tranche_id is not None and tranche_id not in {t.id for t in award.tranches}:
        errors["tranche_id"] = ["Choisissez une tranche de cette aide."]
    if errors:
        raise PaymentError(fields=errors)
    key = new_key("invoices")
    get_storage().put(key, upload.data)
    invoice = Invoice(
        award_id=award.id,
        tranche_id=tranche_id,
        supplier=supplier,
        label=label,
        invoice_date=invoice_date,
        amount=amount,
        file_key=key,
        file_name=upload.clean_name,
        file_sha256=upload.sha256,
        uploaded_by_id=actor.id,
    )
    db.session.add(invoice)
    db.session.flush()
    record(
        actor,
        "invoice.submitted",
        invoice,
        summary=f"Facture « {label} » de {supplier} ({format_money(amount)}) déposée pour "
        f"l'aide {_ref(award)}",
        changes={"amount": [None, amount], "file_name": [None, upload.clean_name]},
    )
    return invoice


def review_invoice(invoice: Invoice, actor: User, accept: bool, comment: str = "") -> Invoice:
    """Staff accept an invoice (it then releases payments) or reject it with a comment."""
    _require_staff(actor)
    comment = _text(
        comment, "comment", None if accept else "Indiquez pourquoi la facture est refusée."
    )
    target = InvoiceStatus.accepted if accept else InvoiceStatus.rejected
    if not _update(
        sa.update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.status == InvoiceStatus.submitted)
        .values(status=target, review_comment=comment)
    ):
        raise PaymentError("Cette facture a déjà été examinée.", status=409)
    db.session.refresh(invoice)
    record(
        actor,
        f"invoice.{target.value}",
        invoice,
        summary=f"Facture « {invoice.label} » ({format_money(invoice.amount)}) "
        f"{'acceptée' if accept else 'refusée'}" + (f" : {comment}" if comment else ""),
        changes={"status": [InvoiceStatus.submitted, target], "review_comment": [None, comment]},
    )
    return invoice
