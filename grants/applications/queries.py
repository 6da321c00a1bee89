"""Read side of applications: loading with what each page needs, lists, counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from grants.accounts.models import User
from grants.applications import rules
from grants.applications.models import (
    APPLICATION_STATUS_LABELS,
    Application,
    ApplicationStatus,
    ApplicationTransition,
    ComplementRequest,
    DeMinimisAid,
)
from grants.audit.queries import register_labels
from grants.calls.models import Call, CallStatus
from grants.core.db import utcnow
from grants.core.formatting import PARIS
from grants.core.models import Commune
from grants.extensions import db
from grants.organisations.models import LEGAL_FORM_LABELS, Membership, Organisation
from grants.organisations.queries import communes

PER_PAGE = 25


def today_paris() -> date:
    return utcnow().astimezone(PARIS).date()


def _full_options():
    return (
        joinedload(Application.call).joinedload(Call.funder),
        joinedload(Application.call).selectinload(Call.years),
        joinedload(Application.call).selectinload(Call.documents),
        joinedload(Application.organisation).joinedload(Organisation.commune),
        joinedload(Application.organisation).selectinload(Organisation.memberships),
        selectinload(Application.budget_lines),
        selectinload(Application.expenses),
        selectinload(Application.funding_sources),
        selectinload(Application.attachments),
        selectinload(Application.transitions).joinedload(ApplicationTransition.actor),
        selectinload(Application.complement_requests).joinedload(ComplementRequest.requested_by),
    )


def get_application(application_id: int) -> Application | None:
    """One application with everything its pages show."""
    return db.session.scalar(
        sa.select(Application).where(Application.id == application_id).options(*_full_options())
    )


def get_call(call_id: int) -> Call | None:
    return db.session.scalar(
        sa.select(Call)
        .where(Call.id == call_id)
        .options(selectinload(Call.years), selectinload(Call.documents), joinedload(Call.funder))
    )


def de_minimis_aids(organisation_id: int) -> list[DeMinimisAid]:
    return list(
        db.session.scalars(
            sa.select(DeMinimisAid)
            .where(DeMinimisAid.organisation_id == organisation_id)
            .order_by(DeMinimisAid.granted_on.desc(), DeMinimisAid.id.desc())
        )
    )


def commune_codes() -> set[str]:
    return set(db.session.scalars(sa.select(Commune.insee)))


def commune_names() -> dict[str, str]:
    return {c.insee: c.name for c in communes()}


def facts_for(
    application: Application, today: date | None = None, aids: list[DeMinimisAid] | None = None
) -> rules.Facts:
    """The plain values the eligibility rules read, for ``application``."""
    call = application.call
    org = application.organisation
    if aids is None:
        aids = de_minimis_aids(org.id) if org.has_economic_activity else []
    return rules.Facts(
        call_kind=call.kind.value,
        call_years=[y.year for y in call.years],
        eligible_legal_forms=list(call.eligible_legal_forms or []),
        call_sectors=list(call.sectors or []),
        ceiling=call.ceiling,
        max_share=call.max_expense_share,
        required_documents=[(d.id, d.label, d.mandatory) for d in call.documents],
        legal_form=org.legal_form.value,
        legal_form_label=org.legal_form.label,
        legal_form_labels={f.value: label for f, label in LEGAL_FORM_LABELS.items()},
        esus_approved=org.esus_approved,
        siret=org.siret,
        organisation_commune=org.commune_insee,
        has_economic_activity=org.has_economic_activity,
        communes=commune_codes(),
        territory=list(application.territory or []),
        attached_document_ids={
            a.required_document_id for a in application.attachments if a.required_document_id
        },
        budget_lines=list(application.budget_lines),
        expenses=list(application.expenses),
        funding_sources=list(application.funding_sources),
        de_minimis_aids=[(a.granted_on, a.amount, a.regime) for a in aids],
        today=today or today_paris(),
        title=application.title or "",
        summary=application.summary or "",
        objectives=application.objectives or "",
        sector=application.sector,
        start_date=application.start_date,
        end_date=application.end_date,
        certified=application.certified,
        signatory_name=application.signatory_name or "",
        signatory_role=application.signatory_role or "",
        funder=call.funder.name if call.funder else "la Métropole",
    )


def eligibility(application: Application, today: date | None = None) -> list[rules.Problem]:
    return rules.eligibility_problems(facts_for(application, today))


def requested_total(application: Application):
    if application.call.kind.value == "investment_aid":
        return rules.funding_plan(
            application.expenses, application.funding_sources
        ).authority_amount
    return sum(rules.requested_by_year(application.budget_lines).values(), rules.ZERO)


def active_application(call_id: int, organisation_id: int) -> Application | None:
    """The organisation's application on the call that isn't withdrawn, if any."""
    return db.session.scalar(
        sa.select(Application)
        .where(
            Application.call_id == call_id,
            Application.organisation_id == organisation_id,
            Application.status != ApplicationStatus.withdrawn,
        )
        .order_by(Application.id)
        .limit(1)
    )


def _member_org_ids(user: User):
    return sa.select(Membership.organisation_id).where(Membership.user_id == user.id)


def applications_of(user: User) -> list[Application]:
    """The files of the organisations ``user`` belongs to, newest activity first."""
    return list(
        db.session.scalars(
            sa.select(Application)
            .where(Application.organisation_id.in_(_member_org_ids(user)))
            .options(
                joinedload(Application.call),
                joinedload(Application.organisation),
                selectinload(Application.complement_requests),
            )
            .order_by(Application.updated_at.desc(), Application.id.desc())
        )
    )


def staff_messages_for(user: User, limit: int = 20) -> list[ComplementRequest]:
    """The complement requests made on the files of ``user``'s organisations."""
    return list(
        db.session.scalars(
            sa.select(ComplementRequest)
            .join(Application, Application.id == ComplementRequest.application_id)
            .where(Application.organisation_id.in_(_member_org_ids(user)))
            .options(
                joinedload(ComplementRequest.application).joinedload(Application.call),
                joinedload(ComplementRequest.application).joinedload(Application.organisation),
            )
            .order_by(ComplementRequest.requested_at.desc(), ComplementRequest.id.desc())
            .limit(limit)
        )
    )


def visible_applications_query(user: User):
    """What ``user`` may list in the API: every file for staff, else their organisations'."""
    query = sa.select(Application).options(
        joinedload(Application.call), joinedload(Application.organisation)
    )
    if not user.is_staff:
        query = query.where(Application.organisation_id.in_(_member_org_ids(user)))
    return query.order_by(Application.id)


def open_calls() -> list[Call]:
    now = utcnow()
    return list(
        db.session.scalars(
            sa.select(Call)
            .where(Call.status == CallStatus.published, Call.opens_at <= now, Call.closes_at > now)
            .order_by(Call.closes_at)
        )
    )


# --- Staff list ---------------------------------------------------------------------------

ELIGIBILITY_FILTERS = {
    "eligible": "Recevable",
    "ineligible": "Irrecevable (décision du service)",
    "unchecked": "Non déposé (contrôles en cours)",
}


def eligibility_state(application: Application) -> str:
    """``eligible``: passed the checks at submission, or declared so by staff;
    ``ineligible``: declared so by staff; ``unchecked``: not submitted yet."""
    if application.eligibility_override is True:
        return "eligible"
    if application.eligibility_override is False:
        return "ineligible"
    return "eligible" if application.submitted_at is not None else "unchecked"


def _eligibility_condition(value: str):
    override = Application.eligibility_override
    if value == "eligible":
        return sa.or_(
            override.is_(True), sa.and_(override.is_(None), Application.submitted_at.is_not(None))
        )
    if value == "ineligible":
        return override.is_(False)
    if value == "unchecked":
        return sa.and_(override.is_(None), Application.submitted_at.is_(None))
    return sa.true()


@dataclass
class StaffFilters:
    status: str = ""
    sector: str = ""
    commune: str = ""
    eligibility: str = ""

    @classmethod
    def from_args(cls, args) -> StaffFilters:
        status = args.get("statut", "")
        eligibility = args.get("recevabilite", "")
        return cls(
            status=status if status in APPLICATION_STATUS_LABELS else "",
            sector=args.get("secteur", "")[:120],
            commune=args.get("commune", "")[:5],
            eligibility=eligibility if eligibility in ELIGIBILITY_FILTERS else "",
        )

    def args(self) -> dict:
        return {
            k: v
            for k, v in {
                "statut": self.status,
                "secteur": self.sector,
                "commune": self.commune,
                "recevabilite": self.eligibility,
            }.items()
            if v
        }


def _filter_conditions(call_id: int, filters: StaffFilters, with_status: bool = True) -> list:
    conditions = [Application.call_id == call_id]
    if with_status and filters.status:
        conditions.append(Application.status == ApplicationStatus(filters.status))
    if filters.sector:
        conditions.append(Application.sector == filters.sector)
    if filters.commune:
        code = filters.commune
        # The territory is a JSON list of INSEE codes (5 digits, quoted in the JSON text):
        # a LIKE on its text form works the same on SQLite and PostgreSQL.
        territory_text = sa.cast(Application.territory, sa.String)
        conditions.append(
            sa.or_(
                Application.organisation_id.in_(
                    sa.select(Organisation.id).where(Organisation.commune_insee == code)
                ),
                territory_text.like(f'%"{code}"%') if code.isdigit() else sa.false(),
            )
        )
    if filters.eligibility:
        conditions.append(_eligibility_condition(filters.eligibility))
    return conditions


def staff_applications(call_id: int, filters: StaffFilters, page: int, per_page: int = PER_PAGE):
    """One page of a call's files, filtered; a fixed number of queries whatever the size."""
    query = (
        sa.select(Application)
        .where(*_filter_conditions(call_id, filters))
        .options(
            joinedload(Application.organisation).joinedload(Organisation.commune),
        )
        .order_by(Application.reference.is_(None), Application.sequence, Application.id)
    )
    return db.paginate(query, page=page, per_page=per_page, error_out=False, max_per_page=100)


def status_counts(call_id: int, filters: StaffFilters) -> dict[ApplicationStatus, int]:
    """Files per status under the other filters (one GROUP BY)."""
    rows = db.session.execute(
        sa.select(Application.status, sa.func.count())
        .where(*_filter_conditions(call_id, filters, with_status=False))
        .group_by(Application.status)
    ).all()
    counts = {status: 0 for status in ApplicationStatus}
    for status, count in rows:
        counts[ApplicationStatus(status)] = count
    return counts


register_labels(
    "application",
    "Dossier",
    {
        "status": "Statut",
        "reference": "Référence",
        "approvals": "Agréments et relations avec l'administration",
        "title": "Intitulé du projet",
        "summary": "Résumé",
        "objectives": "Objectifs",
        "target_public": "Public visé",
        "territory": "Territoire (communes)",
        "in_qpv": "Quartier prioritaire (QPV)",
        "sector": "Secteur",
        "innovation": "Innovation sociale",
        "partners": "Partenaires",
        "jobs_created": "Emplois créés",
        "jobs_maintained": "Emplois maintenus",
        "start_date": "Date de début",
        "end_date": "Date de fin",
        "signatory_name": "Signataire",
        "signatory_role": "Qualité du signataire",
        "certified": "Attestation sur l'honneur",
        "budget": "Budget",
        "expenses": "Dépenses d'investissement",
        "funding_sources": "Plan de financement",
        "eligibility_override": "Recevabilité (décision du service)",
        "eligibility_override_reason": "Motif",
        "attachment": "Pièce jointe",
        "reason": "Motif",
        "message": "Message",
        "due_on": "Échéance",
    },
)
register_labels(
    "de_minimis_aid",
    "Aide de minimis",
    {"granted_on": "Date d'octroi", "funder": "Financeur", "amount": "Montant", "regime": "Régime"},
)
