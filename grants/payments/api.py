"""Awards, conventions, tranches, payments and recoveries in the JSON API (on
grants.api.views.bp).

Staff see every award and act on them; the members of the beneficiary organisation read
their own (convention, schedule, payments received and to come, reports due). An award
someone may not see answers 404; an action they may not do on an award they see, 403.
Amounts are decimal strings (a JSON number is read exactly, never as a float).
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from flask import current_app, jsonify, request
from flask_login import current_user

from grants.api.openapi import json_body, json_response, operation, ref, schema
from grants.api.views import api_error, bp
from grants.applications.rules import parse_amount
from grants.core.files import UploadRejected, inspect_upload, send_stored_file
from grants.core.storage import StoredFileNotFound
from grants.extensions import db
from grants.funding.models import AwardStatus, TrancheStatus
from grants.payments import operations, queries
from grants.payments.models import PaymentStatus, RecoveryStatus, ReportStatus

TAGS = ["Conventions et versements"]
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "10000.00"}
AWARD_ID = {
    "name": "award_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
    "description": "Identifiant de l'aide.",
}
TRANCHE_ID = {**AWARD_ID, "name": "tranche_id", "description": "Identifiant de la tranche."}
PAYMENT_ID = {**AWARD_ID, "name": "payment_id", "description": "Identifiant du versement."}
INVALID = json_response(
    "Saisie invalide : `error.fields` donne les messages (en français) par champ.", ref("Error")
)
CONFLICT = json_response("L'état de l'aide ne permet pas cette action.", ref("Error"))

CONVENTION = schema(
    "Convention",
    {
        "type": "object",
        "nullable": True,
        "properties": {
            "reference": {"type": "string", "example": "CONV-AAP-2016-0003"},
            "generated_at": {"type": "string", "format": "date-time", "nullable": True},
            "signed_on": {"type": "string", "format": "date", "nullable": True},
            "signed_copy_name": {"type": "string", "nullable": True},
            "download": {"type": "string", "description": "Chemin du PDF dans l'API."},
        },
    },
)
TRANCHE = schema(
    "Tranche",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "year": {"type": "integer"},
            "amount": MONEY,
            "requested_amount": MONEY,
            "paid_amount": MONEY,
            "to_come": {**MONEY, "description": "Montant − versé."},
            "status": {"type": "string", "enum": [s.value for s in TrancheStatus]},
            "status_label": {"type": "string"},
            "payable_now": {
                **MONEY,
                "description": "Ce qui peut être demandé aujourd'hui (conditions de paiement).",
            },
            "remaining": {**MONEY, "description": "Montant − demandé."},
            "conditions": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Pourquoi pas davantage aujourd'hui.",
            },
            "change_reason": {"type": "string", "nullable": True},
        },
    },
)
PAYMENT = schema(
    "Payment",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "tranche_id": {"type": "integer"},
            "year": {"type": "integer"},
            "amount": MONEY,
            "status": {"type": "string", "enum": [s.value for s in PaymentStatus]},
            "status_label": {"type": "string"},
            "requested_at": {"type": "string", "format": "date-time"},
            "validated_at": {"type": "string", "format": "date-time", "nullable": True},
            "paid_on": {"type": "string", "format": "date", "nullable": True},
            "order_ref": {"type": "string", "nullable": True},
            "cancelled_reason": {"type": "string", "nullable": True},
            "note": {"type": "string", "description": "Agents seulement."},
        },
    },
)
RECOVERY = schema(
    "Recovery",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "amount": MONEY,
            "reason": {"type": "string"},
            "status": {"type": "string", "enum": [s.value for s in RecoveryStatus]},
            "order_ref": {"type": "string", "nullable": True},
            "requested_on": {"type": "string", "format": "date"},
            "received_on": {"type": "string", "format": "date", "nullable": True},
        },
    },
)
AWARD = schema(
    "Award",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "application_id": {"type": "integer"},
            "reference": {"type": "string", "nullable": True},
            "title": {"type": "string"},
            "organisation": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "siret": {"type": "string"},
                },
            },
            "call": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "title": {"type": "string"},
                    "kind": {"type": "string"},
                },
            },
            "status": {"type": "string", "enum": [s.value for s in AwardStatus]},
            "status_label": {"type": "string"},
            "total": MONEY,
            "allocated_total": MONEY,
            "requested_total": MONEY,
            "paid_total": MONEY,
            "to_come": MONEY,
            "convention": CONVENTION,
            "tranches": {"type": "array", "items": TRANCHE},
            "payments": {"type": "array", "items": PAYMENT},
            "recoveries": {"type": "array", "items": RECOVERY},
            "reports": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "year": {"type": "integer"},
                        "due_on": {"type": "string", "format": "date"},
                        "status": {"type": "string", "enum": [s.value for s in ReportStatus]},
                        "late": {"type": "boolean"},
                    },
                },
            },
            "accepted_invoices": MONEY,
            "justified": {
                **MONEY,
                "description": "Aide à l'investissement : ce que justifient les factures "
                "acceptées.",
            },
        },
    },
)
AWARD_LIST = schema(
    "AwardList",
    {"type": "object", "properties": {"items": {"type": "array", "items": AWARD}}},
)
PAYMENT_INPUT = schema(
    "PaymentRequestInput",
    {
        "type": "object",
        "properties": {
            "amount": {
                **MONEY,
                "description": "Absent : ce que les conditions permettent aujourd'hui.",
            },
            "note": {"type": "string", "maxLength": 4000},
        },
    },
)
PAY_INPUT = schema(
    "PaymentPaidInput",
    {
        "type": "object",
        "required": ["paid_on", "order_ref"],
        "properties": {
            "paid_on": {"type": "string", "format": "date"},
            "order_ref": {"type": "string", "maxLength": 60},
        },
    },
)
REASON_INPUT = schema(
    "ReasonInput",
    {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
)
TRANCHE_INPUT = schema(
    "TrancheChangeInput",
    {
        "type": "object",
        "required": ["amount", "reason"],
        "properties": {"amount": MONEY, "reason": {"type": "string"}},
    },
)
RECOVERY_INPUT = schema(
    "RecoveryInput",
    {
        "type": "object",
        "required": ["amount", "reason"],
        "properties": {
            "amount": MONEY,
            "reason": {"type": "string"},
            "order_ref": {"type": "string", "maxLength": 60},
            "requested_on": {"type": "string", "format": "date"},
        },
    },
)


# --- JSON ---------------------------------------------------------------------------------


def _money(value) -> str:
    return f"{Decimal(value or 0).quantize(Decimal('0.01')):f}"


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def tranche_json(line: queries.TrancheLine) -> dict:
    t = line.tranche
    return {
        "id": t.id,
        "year": t.year,
        "amount": _money(t.amount),
        "requested_amount": _money(t.requested_amount),
        "paid_amount": _money(t.paid_amount),
        "to_come": _money(line.to_come),
        "status": t.status.value,
        "status_label": t.status.label,
        "payable_now": _money(line.allowance.payable),
        "remaining": _money(line.allowance.remaining),
        "conditions": list(line.allowance.reasons),
        "change_reason": t.change_reason,
    }


def payment_json(payment, staff: bool) -> dict:
    body = {
        "id": payment.id,
        "tranche_id": payment.tranche_id,
        "year": payment.tranche.year,
        "amount": _money(payment.amount),
        "status": payment.status.value,
        "status_label": payment.status.label,
        "requested_at": _iso(payment.requested_at),
        "validated_at": _iso(payment.validated_at),
        "paid_on": _iso(payment.paid_on),
        "order_ref": payment.order_ref,
        "cancelled_reason": payment.cancelled_reason,
    }
    if staff:
        body["note"] = payment.note
    return body


def recovery_json(recovery) -> dict:
    return {
        "id": recovery.id,
        "amount": _money(recovery.amount),
        "reason": recovery.reason,
        "status": recovery.status.value,
        "order_ref": recovery.order_ref,
        "requested_on": _iso(recovery.requested_on),
        "received_on": _iso(recovery.received_on),
    }


def convention_json(award, convention) -> dict | None:
    if convention is None:
        return None
    return {
        "reference": convention.reference,
        "generated_at": _iso(convention.generated_at),
        "signed_on": _iso(convention.signed_on),
        "signed_copy_name": convention.signed_copy_name,
        "download": f"/api/v1/awards/{award.id}/convention",
    }


def award_json(file: queries.AwardFile, staff: bool) -> dict:
    award = file.award
    application = award.application
    return {
        "id": award.id,
        "application_id": application.id,
        "reference": application.reference,
        "title": application.title,
        "organisation": {
            "id": application.organisation.id,
            "name": application.organisation.name,
            "siret": application.organisation.siret,
        },
        "call": {"id": award.call.id, "title": award.call.title, "kind": award.call.kind.value},
        "status": award.status.value,
        "status_label": award.status.label,
        "total": _money(award.total),
        "allocated_total": _money(award.allocated_total),
        "requested_total": _money(file.requested_total),
        "paid_total": _money(file.paid_total),
        "to_come": _money(file.to_come),
        "convention": convention_json(award, file.convention),
        "tranches": [tranche_json(line) for line in file.lines],
        "payments": [payment_json(p, staff) for p in file.payments],
        "recoveries": [recovery_json(r) for r in file.recoveries],
        "reports": [
            {
                "id": r.id,
                "year": r.year,
                "due_on": _iso(r.due_on),
                "status": r.status.value,
                "late": file.is_late(r),
            }
            for r in file.reports
        ],
        "accepted_invoices": _money(file.accepted_invoices),
        "justified": _money(file.justified),
    }


# --- Helpers ------------------------------------------------------------------------------


def _not_found():
    return api_error(404, "Ressource introuvable", "Aucune aide de ce numéro ne vous est visible.")


def _forbidden():
    return api_error(403, "Action interdite", "Réservé aux agents du service.")


def _error(exc: operations.PaymentError):
    if exc.status == 403:
        return api_error(403, "Action interdite", exc.message)
    if exc.fields:
        return api_error(exc.status, "Saisie invalide", exc.message, exc.fields)
    return api_error(exc.status, "Action impossible", exc.message)


def _payload() -> dict | None:
    try:
        data = json.loads(request.get_data(as_text=True) or "{}", parse_float=Decimal)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _bad_body():
    return api_error(400, "Requête invalide", "Envoyez un objet JSON.")


def _amount(payload: dict, name: str, errors: dict, required: bool = True) -> Decimal | None:
    value = payload.get(name)
    if value is None:
        if required:
            errors[name] = ["Indiquez un montant en euros."]
        return None
    if isinstance(value, bool):
        errors[name] = ["Indiquez un montant en euros."]
        return None
    try:
        return parse_amount(value)
    except (ValueError, TypeError) as exc:
        errors[name] = [str(exc)]
        return None


def _date(payload: dict, name: str, errors: dict) -> date | None:
    value = payload.get(name)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        errors[name] = ["Une date au format AAAA-MM-JJ est attendue."]
        return None


def _text(payload: dict, name: str, errors: dict) -> str:
    value = payload.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = ["Un texte est attendu."]
        return ""
    return value


def _visible_award(award_id: int):
    award = queries.get_award(award_id)
    if award is None or not queries.can_view(award, current_user):
        return None
    return award


def _file(award) -> dict:
    return award_json(queries.award_file(award, operations.paris_today()), current_user.is_staff)


# --- Awards -------------------------------------------------------------------------------


@bp.get("/awards")
@operation(
    "/awards",
    "get",
    {
        "summary": "Les aides : toutes (agents), celles de vos structures (membres)",
        "tags": TAGS,
        "parameters": [
            {
                "name": "call_id",
                "in": "query",
                "required": False,
                "schema": {"type": "integer"},
                "description": "Seulement les aides de cet appel.",
            }
        ],
        "responses": {
            "200": json_response("Les aides, avec échéancier et versements.", AWARD_LIST)
        },
    },
)
def awards_list():
    awards = queries.visible_awards(current_user, request.args.get("call_id", type=int))
    files = queries.award_files(awards, operations.paris_today())
    return jsonify({"items": [award_json(f, current_user.is_staff) for f in files]})


@bp.get("/awards/<int:award_id>")
@operation(
    "/awards/{award_id}",
    "get",
    {
        "summary": "Une aide : convention, échéancier, versements, reversements, comptes rendus",
        "tags": TAGS,
        "parameters": [AWARD_ID],
        "responses": {"200": json_response("L'aide.", AWARD)},
    },
)
def awards_get(award_id: int):
    award = _visible_award(award_id)
    if award is None:
        return _not_found()
    return jsonify(_file(award))


@bp.get("/awards/<int:award_id>/tranches")
@operation(
    "/awards/{award_id}/tranches",
    "get",
    {
        "summary": "Les tranches d'une aide, avec ce qui est payable aujourd'hui",
        "tags": TAGS,
        "parameters": [AWARD_ID],
        "responses": {
            "200": json_response(
                "Les tranches.",
                {"type": "object", "properties": {"items": {"type": "array", "items": TRANCHE}}},
            )
        },
    },
)
def awards_tranches(award_id: int):
    award = _visible_award(award_id)
    if award is None:
        return _not_found()
    file = queries.award_file(award, operations.paris_today())
    return jsonify({"items": [tranche_json(line) for line in file.lines]})


# --- Convention ---------------------------------------------------------------------------


@bp.get("/awards/<int:award_id>/convention")
@operation(
    "/awards/{award_id}/convention",
    "get",
    {
        "summary": "Télécharger la convention (PDF)",
        "tags": TAGS,
        "parameters": [AWARD_ID],
        "responses": {
            "200": {
                "description": "Le PDF de la convention (en pièce jointe).",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    },
)
def awards_convention_get(award_id: int):
    award = _visible_award(award_id)
    if award is None:
        return _not_found()
    convention = queries.convention_of(award.id)
    if convention is None or not convention.pdf_key:
        return api_error(404, "Ressource introuvable", "La convention n'est pas encore générée.")
    try:
        return send_stored_file(
            convention.pdf_key, f"{convention.reference}.pdf", "application/pdf"
        )
    except StoredFileNotFound:
        return api_error(404, "Ressource introuvable", "Le fichier de la convention manque.")


@bp.post("/awards/<int:award_id>/convention")
@operation(
    "/awards/{award_id}/convention",
    "post",
    {
        "summary": "Générer (ou régénérer avant signature) la convention",
        "description": "La convention est envoyée aux membres de la structure, PDF joint.",
        "tags": TAGS,
        "parameters": [AWARD_ID],
        "responses": {"201": json_response("La convention.", CONVENTION), "409": CONFLICT},
    },
)
def awards_convention_generate(award_id: int):
    award = _visible_award(award_id)
    if award is None:
        return _not_found()
    if not current_user.is_staff:
        return _forbidden()
    try:
        convention = operations.generate_convention(award, current_user)
    except operations.PaymentError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    response = jsonify(convention_json(award, convention))
    response.status_code = 201
    return response


@bp.post("/awards/<int:award_id>/convention/signature")
@operation(
    "/awards/{award_id}/convention/signature",
    "post",
    {
        "summary": "Enregistrer la signature : date et copie signée (PDF)",
        "description": "L'aide passe en « Convention signée » ; les comptes rendus annuels "
        "sont créés (à remettre à la fin du mois fixé par l'appel, l'année suivante).",
        "tags": TAGS,
        "parameters": [AWARD_ID],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["signed_on", "file"],
                        "properties": {
                            "signed_on": {"type": "string", "format": "date"},
                            "file": {"type": "string", "format": "binary"},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": json_response("L'aide.", AWARD),
            "409": CONFLICT,
            "413": json_response("Fichier trop volumineux.", ref("Error")),
            "422": INVALID,
        },
    },
)
def awards_convention_sign(award_id: int):
    award = _visible_award(award_id)
    if award is None:
        return _not_found()
    if not current_user.is_staff:
        return _forbidden()
    errors: dict[str, list[str]] = {}
    signed_on = _date(request.form, "signed_on", errors)
    if signed_on is None and "signed_on" not in errors:
        errors["signed_on"] = ["Indiquez la date de signature."]
    upload = request.files.get("file")
    info = None
    if upload is None or not upload.filename:
        errors["file"] = ["Choisissez un fichier à envoyer."]
    else:
        try:
            info = inspect_upload(
                upload.stream, upload.filename, {"pdf"}, current_app.config["UPLOAD_MAX_BYTES"]
            )
        except UploadRejected as exc:
            errors["file"] = [exc.message]
    if errors:
        return api_error(422, "Saisie invalide", next(iter(errors.values()))[0], errors)
    try:
        operations.record_signature(award, current_user, signed_on, info)
    except operations.PaymentError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(_file(queries.get_award(award_id)))


# --- Payments -----------------------------------------------------------------------------


def _staff_object(getter, object_id: int):
    obj = getter(object_id)
    if obj is None:
        return None, _not_found()
    award = obj.award if hasattr(obj, "award") else obj.tranche.award
    if not queries.can_view(award, current_user):
        return None, _not_found()
    if not current_user.is_staff:
        return None, _forbidden()
    return obj, None


@bp.post("/tranches/<int:tranche_id>/payments")
@operation(
    "/tranches/{tranche_id}/payments",
    "post",
    {
        "summary": "Demander un versement sur une tranche (partiel possible)",
        "description": "Sans montant : ce que les conditions de paiement permettent aujourd'hui. "
        "Refusé (409) s'il dépasserait ce qui reste sur la tranche.",
        "tags": TAGS,
        "parameters": [TRANCHE_ID],
        "requestBody": json_body(PAYMENT_INPUT),
        "responses": {
            "201": json_response("Le versement.", PAYMENT),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def tranches_payment_create(tranche_id: int):
    tranche, error = _staff_object(queries.get_tranche, tranche_id)
    if error:
        return error
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict = {}
    amount = _amount(payload, "amount", errors, required=False)
    note = _text(payload, "note", errors)
    if errors:
        return api_error(422, "Saisie invalide", next(iter(errors.values()))[0], errors)
    try:
        payment = operations.request_payment(tranche, current_user, amount, note)
    except operations.PaymentError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    response = jsonify(payment_json(payment, True))
    response.status_code = 201
    return response


@bp.post("/tranches/<int:tranche_id>/change")
@operation(
    "/tranches/{tranche_id}/change",
    "post",
    {
        "summary": "Modifier le montant d'une tranche (réduction, ou hausse dans le total)",
        "description": "Jamais sous le montant déjà demandé ; le total réparti de l'aide suit. "
        "Un montant égal au déjà demandé annule le reste de la tranche.",
        "tags": TAGS,
        "parameters": [TRANCHE_ID],
        "requestBody": json_body(TRANCHE_INPUT),
        "responses": {
            "200": json_response("La tranche.", TRANCHE),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def tranches_change(tranche_id: int):
    tranche, error = _staff_object(queries.get_tranche, tranche_id)
    if error:
        return error
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict = {}
    amount = _amount(payload, "amount", errors)
    reason = _text(payload, "reason", errors)
    if errors:
        return api_error(422, "Saisie invalide", next(iter(errors.values()))[0], errors)
    try:
        operations.change_tranche(tranche, current_user, amount, reason)
    except operations.PaymentError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    file = queries.award_file(queries.get_award(tranche.award_id), operations.paris_today())
    return jsonify(tranche_json(next(line for line in file.lines if line.tranche.id == tranche_id)))


def _payment_step(payment_id: int, target: PaymentStatus, **values):
    payment, error = _staff_object(queries.get_payment, payment_id)
    if error:
        return error
    try:
        operations.transition_payment(payment, current_user, target, **values)
    except operations.PaymentError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    return jsonify(payment_json(queries.get_payment(payment_id), True))


@bp.post("/payments/<int:payment_id>/validate")
@operation(
    "/payments/{payment_id}/validate",
    "post",
    {
        "summary": "Valider un versement demandé",
        "tags": TAGS,
        "parameters": [PAYMENT_ID],
        "responses": {"200": json_response("Le versement.", PAYMENT), "409": CONFLICT},
    },
)
def payments_validate(payment_id: int):
    return _payment_step(payment_id, PaymentStatus.validated)


@bp.post("/payments/<int:payment_id>/pay")
@operation(
    "/payments/{payment_id}/pay",
    "post",
    {
        "summary": "Enregistrer le paiement d'un versement validé (date, mandat)",
        "description": "Les membres de la structure sont notifiés.",
        "tags": TAGS,
        "parameters": [PAYMENT_ID],
        "requestBody": json_body(PAY_INPUT),
        "responses": {
            "200": json_response("Le versement.", PAYMENT),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def payments_pay(payment_id: int):
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict = {}
    paid_on = _date(payload, "paid_on", errors)
    order_ref = _text(payload, "order_ref", errors)
    if errors:
        return api_error(422, "Saisie invalide", next(iter(errors.values()))[0], errors)
    return _payment_step(payment_id, PaymentStatus.paid, paid_on=paid_on, order_ref=order_ref)


@bp.post("/payments/<int:payment_id>/cancel")
@operation(
    "/payments/{payment_id}/cancel",
    "post",
    {
        "summary": "Annuler un versement non payé (avec motif)",
        "tags": TAGS,
        "parameters": [PAYMENT_ID],
        "requestBody": json_body(REASON_INPUT),
        "responses": {
            "200": json_response("Le versement.", PAYMENT),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def payments_cancel(payment_id: int):
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict = {}
    reason = _text(payload, "reason", errors)
    if errors:
        return api_error(422, "Saisie invalide", next(iter(errors.values()))[0], errors)
    return _payment_step(payment_id, PaymentStatus.cancelled, reason=reason)


# --- Recoveries ---------------------------------------------------------------------------


@bp.post("/awards/<int:award_id>/recoveries")
@operation(
    "/awards/{award_id}/recoveries",
    "post",
    {
        "summary": "Demander un reversement (au plus ce qui a été versé)",
        "tags": TAGS,
        "parameters": [AWARD_ID],
        "requestBody": json_body(RECOVERY_INPUT),
        "responses": {
            "201": json_response("Le reversement.", RECOVERY),
            "409": CONFLICT,
            "422": INVALID,
        },
    },
)
def awards_recovery_create(award_id: int):
    award = _visible_award(award_id)
    if award is None:
        return _not_found()
    if not current_user.is_staff:
        return _forbidden()
    payload = _payload()
    if payload is None:
        return _bad_body()
    errors: dict = {}
    amount = _amount(payload, "amount", errors)
    reason = _text(payload, "reason", errors)
    order_ref = _text(payload, "order_ref", errors)
    requested_on = _date(payload, "requested_on", errors)
    if errors:
        return api_error(422, "Saisie invalide", next(iter(errors.values()))[0], errors)
    try:
        recovery = operations.create_recovery(
            award, current_user, amount, reason, order_ref, requested_on
        )
    except operations.PaymentError as exc:
        db.session.rollback()
        return _error(exc)
    db.session.commit()
    response = jsonify(recovery_json(recovery))
    response.status_code = 201
    return response
