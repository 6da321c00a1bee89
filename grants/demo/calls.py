"""The three demo calls, created and published through the calls operations.

* « Appel à projets ESS 2016 » (``AAP-2016``): historical. It is created and published with
  2016 dates; its files are submitted with 2016 dates inside its window, then it is closed
  (see :mod:`grants.demo.files`).
* « Aide à l'investissement 2016 » (``AIS-2016``): a rolling window opened on 1 January
  2016 and closing one year after the demo is loaded, so it is open.
* « Appel à projets ESS 2023 — secteurs prioritaires » (``AAP-2023``): opened 7 days before
  the demo is loaded, closing 45 days after.

A call is found again by its reference prefix; an existing call is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from grants.demo import texts

AAP_2016 = "AAP-2016"
AIS_2016 = "AIS-2016"
AAP_2023 = "AAP-2023"

#: the default scoring grid (DESIGN §4), scored from 0 to 5
GRID = [
    (
        "Innovation sociale",
        30,
        "Réponse nouvelle ou mieux adaptée à un besoin social peu ou mal satisfait.",
    ),
    (
        "Création d'emplois",
        25,
        "Emplois créés ou consolidés, en particulier pour les publics éloignés de l'emploi.",
    ),
    (
        "Ancrage territorial",
        20,
        "Implantation dans la métropole, quartiers prioritaires, partenaires locaux.",
    ),
    (
        "Viabilité économique",
        15,
        "Modèle économique, diversité des ressources, capacité à se passer de l'aide.",
    ),
    ("Coopération", 10, "Projet porté en collectif, mutualisations, partenariats ESS."),
]

STATUTES = ("Statuts de la structure", True, ["pdf", "odt", "docx"])
ACCOUNTS = ("Derniers comptes annuels approuvés", True, ["pdf", "xlsx", "ods"])
BANK = ("Relevé d'identité bancaire", True, ["pdf", "png", "jpeg"])
FORECAST = ("Budget prévisionnel de la structure", True, ["pdf", "xlsx", "ods"])
REPORT = ("Rapport d'activité de l'année écoulée", False, ["pdf", "odt", "docx"])
QUOTES = ("Devis des investissements", True, ["pdf"])
COMMITMENTS = ("Lettres d'engagement des cofinanceurs", False, ["pdf"])
PARTNERSHIPS = ("Lettres de partenariat (projet collectif)", False, ["pdf", "odt", "docx"])


def paris(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A Europe/Paris wall-clock time as an aware UTC datetime."""
    from grants.calls.rules import paris_to_utc

    return paris_to_utc(datetime.combine(day, time(hour, minute)))


@dataclass
class DemoCall:
    prefix: str
    #: the values handed to ``create_call``
    values: dict
    #: the ``now`` of the publication
    published: datetime
    #: shown as the creation time (the audit log keeps the real one)
    created: datetime
    #: closed after its files were submitted, with this ``now``
    closed: datetime | None = None


def _documents(*rows) -> list[dict]:
    return [
        {"label": label, "mandatory": mandatory, "accepted_types": list(types)}
        for label, mandatory, types in rows
    ]


def _grid() -> list[dict]:
    return [
        {"label": label, "description": description, "weight": weight, "scale_max": 5}
        for label, weight, description in GRID
    ]


def demo_calls(loaded_at: datetime) -> list[DemoCall]:
    """The three calls; the open windows are placed around ``loaded_at`` (UTC)."""
    from grants.calls.models import DEFAULT_SECTORS, CallKind
    from grants.calls.operations import default_values
    from grants.core.formatting import PARIS

    today = loaded_at.astimezone(PARIS).date()

    def values(**overrides) -> dict:
        return {**default_values(), "criteria": _grid(), **overrides}

    return [
        DemoCall(
            prefix=AAP_2016,
            values=values(
                kind=CallKind.project_call,
                title="Appel à projets ESS 2016",
                reference_prefix=AAP_2016,
                summary=texts.AAP_2016_SUMMARY,
                description=texts.AAP_2016_DESCRIPTION,
                rules=texts.AAP_2016_RULES,
                opens_at=paris(date(2016, 1, 18), 9),
                closes_at=paris(date(2016, 3, 31), 12),
                years=[
                    {"year": 2016, "envelope": Decimal("60000")},
                    {"year": 2017, "envelope": Decimal("55000")},
                    {"year": 2018, "envelope": Decimal("50000")},
                ],
                profile=None,  # derived from the envelopes (DESIGN §4)
                sectors=[],  # 2016: every field of the ESS
                ceiling=Decimal("40000"),
                documents=_documents(STATUTES, ACCOUNTS, BANK, FORECAST, REPORT),
            ),
            created=paris(date(2016, 1, 11), 10),
            published=paris(date(2016, 1, 14), 10),
            closed=paris(date(2016, 3, 31), 12),
        ),
        DemoCall(
            prefix=AIS_2016,
            values=values(
                kind=CallKind.investment_aid,
                title="Aide à l'investissement 2016",
                reference_prefix=AIS_2016,
                summary=texts.AIS_2016_SUMMARY,
                description=texts.AIS_2016_DESCRIPTION,
                rules=texts.AIS_2016_RULES,
                opens_at=paris(date(2016, 1, 1), 0),
                closes_at=paris(today + timedelta(days=365), 12),
                years=[{"year": 2016, "envelope": Decimal("159000")}],
                profile=None,
                sectors=[],
                ceiling=Decimal("100000"),
                max_expense_share=Decimal("0.3"),
                documents=_documents(STATUTES, ACCOUNTS, BANK, QUOTES, COMMITMENTS),
            ),
            created=paris(date(2015, 12, 15), 10),
            published=paris(date(2015, 12, 21), 10),
        ),
        DemoCall(
            prefix=AAP_2023,
            values=values(
                kind=CallKind.project_call,
                title="Appel à projets ESS 2023 — secteurs prioritaires",
                reference_prefix=AAP_2023,
                summary=texts.AAP_2023_SUMMARY,
                description=texts.AAP_2023_DESCRIPTION,
                rules=texts.AAP_2023_RULES,
                opens_at=paris(today - timedelta(days=7), 9),
                closes_at=paris(today + timedelta(days=45), 12),
                years=[
                    {"year": 2023, "envelope": Decimal("145000")},
                    {"year": 2024, "envelope": Decimal("145000")},
                    {"year": 2025, "envelope": Decimal("145000")},
                ],
                # Equal envelopes: no profile can be derived, so it is configured.
                profile=[Decimal("0.5"), Decimal("0.3"), Decimal("0.2")],
                sectors=list(DEFAULT_SECTORS),
                ceiling=Decimal("60000"),
                documents=_documents(STATUTES, ACCOUNTS, BANK, FORECAST, PARTNERSHIPS),
            ),
            created=paris(today - timedelta(days=14), 10),
            published=paris(today - timedelta(days=10), 10),
        ),
    ]


@dataclass
class LoadedCall:
    call: object
    #: created by this run (False: found by its prefix, left as it was)
    created: bool
    spec: DemoCall


def load_calls(staff, loaded_at: datetime) -> dict[str, LoadedCall]:
    """Existing calls as they are, the others created and published (the historical call
    is closed later, once its files are in: :func:`close_historical`)."""
    from grants.calls.models import Call, CallStatus
    from grants.calls.operations import create_call, transition
    from grants.extensions import db

    result = {}
    for spec in demo_calls(loaded_at):
        call = db.session.scalar(sa.select(Call).where(Call.reference_prefix == spec.prefix))
        if call is not None:
            result[spec.prefix] = LoadedCall(call, False, spec)
            continue
        call = create_call(staff, spec.values)
        transition(call, staff, CallStatus.published, now=spec.published)
        call.created_at = spec.created
        db.session.flush()
        result[spec.prefix] = LoadedCall(call, True, spec)
    return result


def close_historical(calls: dict[str, LoadedCall], staff) -> None:
    """Close the calls created by this run whose window is in the past."""
    from grants.calls.models import CallStatus
    from grants.calls.operations import transition

    for loaded in calls.values():
        if (
            loaded.created
            and loaded.spec.closed is not None
            and loaded.call.status == CallStatus.published
        ):
            transition(loaded.call, staff, CallStatus.closed, now=loaded.spec.closed)
