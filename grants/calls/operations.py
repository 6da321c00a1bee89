"""State changes on calls: create, edit, publish, close, decide, archive.

Each function checks, changes, records an audit entry and queues mails; none commits
and none reads the request (DESIGN §7). The staff form and the JSON API hand over the
same *typed* values (``Decimal``, aware UTC datetimes, ints, lists of dicts) and get the
same refusals: :class:`CallError` with French messages by field.

Values (``dict``): ``kind``, ``title``, ``reference_prefix``, ``summary``, ``description``,
``rules``, ``opens_at``, ``closes_at``, ``years`` (``[{"year", "envelope"}]``), ``profile``
(``[Decimal]`` or None for the derived profile), ``eligible_legal_forms``, ``sectors``,
``ceiling``, ``max_expense_share``, ``reviews_required``, ``documents``
(``[{"id"?, "label", "mandatory", "accepted_types"}]``) and ``criteria``
(``[{"id"?, "label", "description", "weight", "scale_max"}]``). Rows with an ``id`` update
that row of the call (attachments and scores keep pointing at it); rows without one are new.

Locks, once files were submitted on a call (status other than draft and withdrawn): the
opening time, the kind, the reference prefix and the set of budget years can't change,
and the closing time can only move later (an extension: logged, and the members of every
organisation with a draft on the call are told by e-mail). The kind can't change once any
file exists. The grid can't change once a review exists (:func:`queries.call_has_reviews`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import current_app

from grants.accounts.models import User
from grants.audit.operations import diff, record
from grants.calls import queries, rules
from grants.calls.models import (
    CALL_STATUS_LABELS,
    DEFAULT_SECTORS,
    FILE_TYPES,
    Call,
    CallKind,
    CallStatus,
    CallYear,
    Criterion,
    RequiredDocument,
)
from grants.core.db import utcnow
from grants.core.models import default_funder
from grants.extensions import db
from grants.notifications.operations import notify
from grants.organisations.models import LegalForm
from grants.organisations.rules import ESS_LEGAL_FORMS

#: plain columns set from the values as they are
SCALAR_FIELDS = [
    "kind",
    "title",
    "reference_prefix",
    "summary",
    "description",
    "rules",
    "opens_at",
    "closes_at",
    "profile",
    "eligible_legal_forms",
    "sectors",
    "ceiling",
    "max_expense_share",
    "reviews_required",
    "share_review_comments",
    "payment_years",
    "advance_share",
    "release_on_report",
    "report_due_month",
]
LIST_FIELDS = ["years", "documents", "criteria"]
FIELDS = SCALAR_FIELDS + LIST_FIELDS

MAX_TEXT = 50_000
MAX_REVIEWS = 20
MAX_PAYMENT_YEARS = 10
SECTOR_MAX = 120

PREFIX_TAKEN = "Ce préfixe est déjà utilisé par un autre appel."
FROZEN_STATES = {CallStatus.decided, CallStatus.archived}


class CallError(ValueError):
    """A refused change. ``fields`` maps a field name to French messages (may be empty)."""

    def __init__(self, message: str = "", fields: dict[str, list[str]] | None = None):
        self.fields = fields or {}
        self.message = message or next(
            (msgs[0] for msgs in self.fields.values() if msgs), "Modification refusée."
        )
        super().__init__(self.message)


class InvalidTransition(CallError):
    """The call's status doesn't allow that change (CALL_TRANSITIONS)."""


# --- values ---------------------------------------------------------------------------------


def default_values() -> dict:
    """The values of a new call's form."""
    return {
        "kind": CallKind.project_call,
        "title": "",
        "reference_prefix": "",
        "summary": "",
        "description": "",
        "rules": "",
        "opens_at": None,
        "closes_at": None,
        "years": [],
        "profile": None,
        "eligible_legal_forms": sorted(ESS_LEGAL_FORMS) + [LegalForm.esus_company.value],
        "sectors": list(DEFAULT_SECTORS),
        "ceiling": None,
        "max_expense_share": None,
        "reviews_required": 2,
        "share_review_comments": False,
        "payment_years": None,
        "advance_share": Decimal("1"),
        "release_on_report": True,
        "report_due_month": 6,
        "documents": [],
        "criteria": [],
    }


def call_values(call: Call) -> dict:
    """The typed values of an existing call (form data, PATCH base, audit snapshot)."""
    return {
        "kind": call.kind,
        "title": call.title,
        "reference_prefix": call.reference_prefix,
        "summary": call.summary or "",
        "description": call.description or "",
        "rules": call.rules or "",
        "opens_at": call.opens_at,
        "closes_at": call.closes_at,
        "years": [{"year": y.year, "envelope": y.envelope} for y in call.years],
        "profile": [Decimal(str(w)) for w in call.profile] if call.profile else None,
        "eligible_legal_forms": list(call.eligible_legal_forms or []),
        "sectors": list(call.sectors or []),
        "ceiling": call.ceiling,
        "max_expense_share": call.max_expense_share,
        "reviews_required": call.reviews_required,
        "share_review_comments": bool(call.share_review_comments),
        "payment_years": call.payment_years,
        "advance_share": (
            Decimal("1") if call.advance_share is None else Decimal(call.advance_share)
        ),
        "release_on_report": (
            True if call.release_on_report is None else bool(call.release_on_report)
        ),
        "report_due_month": 6 if call.report_due_month is None else call.report_due_month,
        "documents": [
            {
                "id": d.id,
                "label": d.label,
                "mandatory": d.mandatory,
                "accepted_types": list(d.accepted_types or []),
            }
            for d in call.documents
        ],
        "criteria": [
            {
                "id": c.id,
                "label": c.label,
                "description": c.description or "",
                "weight": c.weight,
                "scale_max": c.scale_max,
            }
            for c in call.criteria
        ],
    }


def _plain_snapshot(values: dict) -> dict:
    """Values as JSON-friendly data for the audit log."""

    def plain(value):
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, CallKind | CallStatus):
            return value.value
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if k != "id"}
        return value

    return {name: plain(values.get(name)) for name in FIELDS}


def _grid_key(criteria: list[dict]) -> list[tuple]:
    return [
        (
            (c.get("label") or "").strip(),
            (c.get("description") or "").strip(),
            c.get("weight"),
            c.get("scale_max"),
        )
        for c in criteria
    ]


def _add(errors: dict[str, list[str]], field: str, *messages: str) -> None:
    if messages:
        errors.setdefault(field, []).extend(messages)


def _text(values: dict, name: str) -> str:
    value = values.get(name)
    return value.strip() if isinstance(value, str) else ""


def validation_errors(values: dict, call: Call | None = None) -> tuple[dict, dict]:
    """``(clean values, errors by field)``; fields that are None are reported as missing.

    The same checks for the form and the API. ``call`` is the call being edited.
    """
    errors: dict[str, list[str]] = {}
    clean: dict = {}

    kind = values.get("kind")
    try:
        clean["kind"] = CallKind(kind) if kind else None
    except ValueError:
        clean["kind"] = None
    if clean["kind"] is None:
        _add(errors, "kind", "Choisissez le type d'appel.")

    clean["title"] = _text(values, "title")
    if not clean["title"]:
        _add(errors, "title", "Indiquez le titre de l'appel.")
    elif len(clean["title"]) > 200:
        _add(errors, "title", "Le titre fait au plus 200 caractères.")

    clean["reference_prefix"] = rules.clean_prefix(values.get("reference_prefix"))
    if problem := rules.prefix_problem(clean["reference_prefix"]):
        _add(errors, "reference_prefix", problem)
    elif queries.prefix_taken(clean["reference_prefix"], call.id if call else None):
        _add(errors, "reference_prefix", PREFIX_TAKEN)

    clean["summary"] = _text(values, "summary")
    if len(clean["summary"]) > 500:
        _add(errors, "summary", "Le résumé fait au plus 500 caractères.")
    for name in ("description", "rules"):
        value = values.get(name)
        clean[name] = value.strip() if isinstance(value, str) else ""
        if len(clean[name]) > MAX_TEXT:
            _add(errors, name, f"Ce texte fait au plus {MAX_TEXT} caractères.")

    clean["opens_at"] = values.get("opens_at")
    clean["closes_at"] = values.get("closes_at")
    if clean["opens_at"] is None:
        _add(errors, "opens_at", "Indiquez la date et l'heure d'ouverture.")
    if clean["closes_at"] is None:
        _add(errors, "closes_at", "Indiquez la date et l'heure de clôture.")
    _add(errors, "closes_at", *rules.window_problems(clean["opens_at"], clean["closes_at"]))

    years = [
        {"year": row.get("year"), "envelope": row.get("envelope")}
        for row in values.get("years") or []
    ]
    profile = list(values.get("profile") or []) or None
    # Years typed out of order are sorted; a weight typed on a year's row follows it.
    order = sorted(
        range(len(years)), key=lambda i: (years[i]["year"] is None, years[i]["year"] or 0)
    )
    if profile is not None and len(profile) == len(years):
        profile = [profile[i] for i in order]
    years = [years[i] for i in order]
    clean["years"] = years
    _add(errors, "years", *rules.years_problems([(r["year"], r["envelope"]) for r in years]))

    clean["profile"] = profile
    if clean["profile"] is not None:
        _add(errors, "profile", *rules.profile_problems(clean["profile"], len(years)))

    forms = list(dict.fromkeys(values.get("eligible_legal_forms") or []))
    known_forms = {f.value for f in LegalForm}
    if unknown := [f for f in forms if f not in known_forms]:
        _add(errors, "eligible_legal_forms", f"Forme juridique inconnue : {', '.join(unknown)}.")
    elif not forms:
        _add(errors, "eligible_legal_forms", "Cochez au moins une forme juridique éligible.")
    clean["eligible_legal_forms"] = [f.value for f in LegalForm if f.value in forms]

    sectors = [" ".join(str(s).split()) for s in values.get("sectors") or []]
    clean["sectors"] = list(dict.fromkeys(s for s in sectors if s))
    if any(len(s) > SECTOR_MAX for s in clean["sectors"]):
        _add(errors, "sectors", f"Chaque secteur fait au plus {SECTOR_MAX} caractères.")

    clean["ceiling"] = values.get("ceiling")
    if clean["ceiling"] is not None and clean["ceiling"] <= 0:
        _add(errors, "ceiling", "Le plafond doit être strictement positif (ou laissé vide).")

    share = values.get("max_expense_share")
    clean["max_expense_share"] = share
    if clean["kind"] == CallKind.investment_aid:
        if share is None:
            _add(
                errors,
                "max_expense_share",
                "Indiquez la part maximale des dépenses éligibles (en %).",
            )
        elif not Decimal(0) < share <= Decimal(1):
            _add(errors, "max_expense_share", "La part doit être comprise entre 0 et 100 %.")
    elif share is not None:
        _add(
            errors,
            "max_expense_share",
            "Réservé aux aides à l'investissement : laissez ce champ vide pour un appel à projets.",
        )

    reviews = values.get("reviews_required")
    clean["reviews_required"] = reviews
    if reviews is None:
        _add(errors, "reviews_required", "Indiquez le nombre d'évaluations requises.")
    elif not isinstance(reviews, int) or isinstance(reviews, bool) or not 1 <= reviews <= 20:
        _add(errors, "reviews_required", f"Indiquez un nombre entre 1 et {MAX_REVIEWS}.")

    _check_payment_settings(values, clean, errors)

    documents = [
        {
            "id": row.get("id"),
            "label": " ".join(str(row.get("label") or "").split()),
            "mandatory": bool(row.get("mandatory")),
            "accepted_types": [t for t in FILE_TYPES if t in (row.get("accepted_types") or [])]
            + [t for t in (row.get("accepted_types") or []) if t not in FILE_TYPES],
        }
        for row in values.get("documents") or []
    ]
    clean["documents"] = documents
    _add(errors, "documents", *rules.documents_problems(documents, FILE_TYPES))

    criteria = [
        {
            "id": row.get("id"),
            "label": " ".join(str(row.get("label") or "").split()),
            "description": str(row.get("description") or "").strip(),
            "weight": row.get("weight"),
            "scale_max": row.get("scale_max"),
        }
        for row in values.get("criteria") or []
    ]
    clean["criteria"] = criteria
    _add(errors, "criteria", *rules.grid_problems(criteria))

    if call is not None:
        _check_rows_belong(call, clean, errors)
        _check_locks(call, clean, errors)
    return clean, errors


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_payment_settings(values: dict, clean: dict, errors: dict) -> None:
    """Payment conditions and the sharing of the reviewers' comments."""
    clean["share_review_comments"] = bool(values.get("share_review_comments"))
    clean["release_on_report"] = bool(values.get("release_on_report"))

    years = values.get("payment_years")
    clean["payment_years"] = years
    if years is not None:
        if not _is_int(years) or not 1 <= years <= MAX_PAYMENT_YEARS:
            _add(
                errors,
                "payment_years",
                f"Indiquez un nombre de tranches entre 1 et {MAX_PAYMENT_YEARS}.",
            )
        elif clean["kind"] is not None and clean["kind"] != CallKind.investment_aid:
            _add(
                errors,
                "payment_years",
                "Réservé aux aides à l'investissement : laissez ce champ vide pour un "
                "appel à projets.",
            )

    advance = values.get("advance_share")
    clean["advance_share"] = advance
    if advance is None:
        _add(
            errors,
            "advance_share",
            "Indiquez la part de la première tranche versée à la signature (en %).",
        )
    elif not isinstance(advance, Decimal) or not Decimal(0) <= advance <= Decimal(1):
        _add(errors, "advance_share", "La part doit être comprise entre 0 et 100 %.")
    else:
        clean["advance_share"] = advance.quantize(Decimal("0.0001"))

    month = values.get("report_due_month")
    clean["report_due_month"] = month
    if month is None:
        _add(errors, "report_due_month", "Choisissez le mois d'échéance du compte rendu.")
    elif not _is_int(month) or not 1 <= month <= 12:
        _add(errors, "report_due_month", "Choisissez un mois entre janvier et décembre.")


def _check_rows_belong(call: Call, clean: dict, errors: dict) -> None:
    for name, rows in (("documents", call.documents), ("criteria", call.criteria)):
        known = {r.id for r in rows}
        given = [r["id"] for r in clean[name] if r.get("id") is not None]
        if any(i not in known for i in given) or len(given) != len(set(given)):
            _add(errors, name, "Une ligne désigne un élément qui n'appartient pas à cet appel.")


def _check_locks(call: Call, clean: dict, errors: dict) -> None:
    if call.status in FROZEN_STATES:
        label = CALL_STATUS_LABELS[call.status].lower()
        raise CallError(f"Cet appel est {label} : il ne peut plus être modifié.")
    if clean["kind"] and clean["kind"] != call.kind and queries.has_applications(call.id):
        _add(errors, "kind", "Des dossiers existent sur cet appel : son type ne peut plus changer.")
    if queries.has_submitted_applications(call.id):
        locked = "Des dossiers ont déjà été déposés : "
        if clean["opens_at"] is not None and clean["opens_at"] != call.opens_at:
            _add(errors, "opens_at", locked + "l'ouverture ne peut plus changer.")
        if clean["closes_at"] is not None and clean["closes_at"] != call.closes_at:
            if problem := rules.extension_problem(call.closes_at, clean["closes_at"]):
                _add(errors, "closes_at", problem)
        if clean["reference_prefix"] != call.reference_prefix and "reference_prefix" not in errors:
            _add(
                errors,
                "reference_prefix",
                locked + "le préfixe des références ne peut plus changer.",
            )
        if "years" not in errors and [r["year"] for r in clean["years"]] != [
            y.year for y in call.years
        ]:
            _add(errors, "years", locked + "les années budgétaires ne peuvent plus changer.")
    if _grid_key(clean["criteria"]) != _grid_key(call_values(call)["criteria"]):
        if queries.call_has_reviews(call):
            _add(
                errors,
                "criteria",
                "Des évaluations ont commencé : la grille d'évaluation ne peut plus changer.",
            )
    if call.status != CallStatus.draft:
        # A public call must stay publishable.
        if "years" not in errors and "profile" not in errors:
            envelopes = [r["envelope"] for r in clean["years"]]
            _add(errors, "profile", *rules.profile_source_problem(clean["profile"], envelopes))
        if not clean["criteria"] and "criteria" not in errors:
            _add(errors, "criteria", "Un appel publié garde au moins un critère d'évaluation.")


def check_values(values: dict, call: Call | None = None) -> dict:
    """The clean values, or :class:`CallError` with every problem by field."""
    clean, errors = validation_errors(values, call)
    if errors:
        raise CallError(fields=errors)
    return clean


# --- create and update ------------------------------------------------------------------------


def _apply(call: Call, clean: dict) -> None:
    for name in SCALAR_FIELDS:
        value = clean[name]
        if name == "profile" and value is not None:
            value = [format(Decimal(w), "f") for w in value]
        setattr(call, name, value)

    by_year = {y.year: y for y in call.years}
    wanted = {r["year"] for r in clean["years"]}
    for row in list(call.years):
        if row.year not in wanted:
            call.years.remove(row)
    for r in clean["years"]:
        if r["year"] in by_year:
            by_year[r["year"]].envelope = r["envelope"]
        else:
            call.years.append(CallYear(year=r["year"], envelope=r["envelope"]))
    call.years.sort(key=lambda y: y.year)

    _sync_rows(
        call.documents,
        clean["documents"],
        RequiredDocument,
        ("label", "mandatory", "accepted_types"),
    )
    _sync_rows(
        call.criteria,
        clean["criteria"],
        Criterion,
        ("label", "description", "weight", "scale_max"),
    )


def _sync_rows(collection: list, rows: list[dict], model, fields: tuple[str, ...]) -> None:
    """Update the rows named by id, add the new ones, drop the others; keep the given order."""
    existing = {item.id: item for item in collection}
    keep = []
    for position, row in enumerate(rows):
        item = existing.get(row.get("id")) if row.get("id") is not None else None
        if item is None:
            item = model()
        for name in fields:
            setattr(item, name, row[name])
        item.position = position
        keep.append(item)
    collection[:] = keep


def create_call(actor: User, values: dict) -> Call:
    """A new draft call of the configured funder."""
    clean = check_values(values)
    call = Call(funder_id=default_funder().id, status=CallStatus.draft)
    _apply(call, clean)
    db.session.add(call)
    db.session.flush()
    after = _plain_snapshot(call_values(call))
    record(
        actor,
        "call.create",
        call,
        summary=f"Création de l'appel « {call.title} » ({call.reference_prefix})",
        changes={k: [None, v] for k, v in after.items() if v not in (None, "", [], False)},
    )
    return call


def update_call(call: Call, actor: User, values: dict) -> dict:
    """Apply ``values``; returns the ``{field: [before, after]}`` that changed (recorded).

    A later closing time on a published call is an extension: recorded on its own and
    announced to the members of every organisation with a draft on the call.
    """
    clean = check_values(values, call)
    old_closes = call.closes_at
    before = _plain_snapshot(call_values(call))
    _apply(call, clean)
    db.session.flush()
    changes = diff(before, _plain_snapshot(call_values(call)))
    if not changes:
        return changes
    call.updated_at = utcnow()
    record(
        actor,
        "call.update",
        call,
        summary=f"Modification de l'appel « {call.title} »",
        changes=changes,
    )
    if call.status == CallStatus.published and call.closes_at > old_closes:
        _announce_extension(call, actor, old_closes)
    return changes


def _announce_extension(call: Call, actor: User, old_closes: datetime) -> None:
    drafts = queries.drafts_with_members(call.id)
    recipients: dict[str, tuple[User, list]] = {}
    for application in drafts:
        for membership in application.organisation.memberships:
            user = membership.user
            if user.is_disabled:
                continue
            recipients.setdefault(user.email, (user, []))[1].append(application)
    link = f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/appels/{call.id}"
    for _email, (user, applications) in sorted(recipients.items()):
        notify(
            "call.closing_extended",
            call,
            [user],
            subject=f"Clôture reportée : {call.title}",
            template="calls/closing_extended",
            context={
                "call": call,
                "applications": applications,
                "old_closes": old_closes,
                "new_closes": call.closes_at,
            },
            occurrence=call.closes_at.isoformat(),
            link=link,
        )
    record(
        actor,
        "call.extend_closing",
        call,
        summary=(
            f"Clôture de l'appel « {call.title} » reportée ; {len(recipients)} "
            f"personne{'s' if len(recipients) > 1 else ''} prévenue"
            f"{'s' if len(recipients) > 1 else ''} ({len(drafts)} brouillon"
            f"{'s' if len(drafts) > 1 else ''})"
        ),
        changes={"closes_at": [old_closes, call.closes_at]},
    )


# --- lifecycle ----------------------------------------------------------------------------------

TRANSITION_ACTIONS = {
    CallStatus.published: ("call.publish", "Publication"),
    CallStatus.closed: ("call.close", "Clôture"),
    CallStatus.decided: ("call.decide", "Décision"),
    CallStatus.archived: ("call.archive", "Archivage"),
}


def publish_problems(call: Call, now: datetime | None = None) -> list[str]:
    """What prevents publishing ``call`` (French, one message per problem)."""
    now = now or utcnow()
    values = call_values(call)
    problems: list[str] = []
    if rules.prefix_problem(call.reference_prefix):
        problems.append(rules.prefix_problem(call.reference_prefix))
    years = [(y["year"], y["envelope"]) for y in values["years"]]
    problems += rules.years_problems(years)
    problems += rules.window_problems(call.opens_at, call.closes_at)
    if call.closes_at <= now:
        problems.append("La date de clôture est déjà passée : reportez-la avant de publier.")
    if not values["criteria"]:
        problems.append("Ajoutez au moins un critère à la grille d'évaluation.")
    problems += rules.grid_problems(values["criteria"])
    if years and not rules.years_problems(years):
        envelopes = [e for _, e in years]
        problems += rules.profile_source_problem(values["profile"], envelopes)
    if not call.eligible_legal_forms:
        problems.append("Cochez au moins une forme juridique éligible.")
    if call.kind == CallKind.investment_aid and call.max_expense_share is None:
        problems.append("Indiquez la part maximale des dépenses éligibles.")
    return problems


def transition(call: Call, actor: User, target: CallStatus, now: datetime | None = None) -> None:
    """Move ``call`` to ``target`` if CALL_TRANSITIONS allows it (and, to publish, if it
    is complete); recorded."""
    target = CallStatus(target)
    if not call.can_transition(target):
        raise InvalidTransition(
            f"Un appel « {CALL_STATUS_LABELS[call.status]} » ne peut pas passer à l'état "
            f"« {CALL_STATUS_LABELS[target]} »."
        )
    now = now or utcnow()
    if target == CallStatus.published:
        if problems := publish_problems(call, now):
            raise CallError("L'appel ne peut pas encore être publié.", {"publish": problems})
        call.published_at = now
    before = call.status
    call.status = target
    call.updated_at = now
    action, label = TRANSITION_ACTIONS[target]
    record(
        actor,
        action,
        call,
        summary=f"{label} de l'appel « {call.title} »",
        changes={"status": [before, target]},
    )


def publish_call(call: Call, actor: User) -> None:
    transition(call, actor, CallStatus.published)


def close_call(call: Call, actor: User) -> None:
    transition(call, actor, CallStatus.closed)


def decide_call(call: Call, actor: User) -> None:
    transition(call, actor, CallStatus.decided)


def archive_call(call: Call, actor: User) -> None:
    transition(call, actor, CallStatus.archived)
