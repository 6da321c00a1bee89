"""The demo files (dossiers), one in each state, played through the applications operations.

Every file is built the way an applicant builds it: ``start_application``,
``update_fields``, ``save_budget_year`` or ``save_investment_plan``,
``add_de_minimis_aid``, ``add_attachment`` (small real PDFs made with reportlab and passed
through ``inspect_upload``), then ``submit`` — so submitted files get their reference, their
snapshot and their queued receipt (made by the worker, which also sends the
acknowledgement). Staff then act with ``mark_under_review``, ``request_complements`` and
``withdraw``.

Decisions: a file whose scenario ends « Retenu » or « Non retenu » is only put under
review here; :mod:`grants.demo.reviews` has it scored by the reviewers and
:mod:`grants.demo.decisions` has the committee decide it through the decisions operations
(``award`` is the total awarded, ``reason`` the reason the applicant reads).

Dates: the files of the 2016 call are submitted with ``now=`` 2016 dates inside the
call's window (the call is closed afterwards). ``start_application`` only accepts open
calls (by the server's clock), so these drafts are started by :func:`_start` the same way,
recorded alike. The other files are spread over the days before the load (``submit(...,
now=...)`` inside their call's window). The dates shown in the pages (creation, uploads,
declarations, status history, complement request, withdrawal) follow the scenario; the
audit log keeps the real time the demo was loaded.

A file is found again by (call, organisation): a second run changes nothing. A file whose
scenario can no longer be played (its call was loaded by an earlier run and is now
closed, or it is historical) is skipped and reported.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import sqlalchemy as sa
from flask import current_app

from grants.applications.models import ApplicationStatus, FunderType, FundingStatus
from grants.demo.calls import AAP_2016, AAP_2023, AIS_2016, paris

S = ApplicationStatus
D = Decimal


@dataclass
class YearBudget:
    #: total charges (60–68) of the year, split over the accounts by CHARGE_SPLIT
    charges: Decimal
    #: amount asked of the funder (line 74), or None to leave it out (a draft)
    request: Decimal | None
    #: other products: (account, label, amount)
    others: list[tuple[str, str, Decimal]] = field(default_factory=list)
    #: volunteering valued on both sides (86 = 87)
    in_kind: Decimal = D("0")
    #: sales (70); None balances the year
    sales: Decimal | None = None


@dataclass
class DemoFile:
    call: str
    org: str
    status: ApplicationStatus
    fields: dict
    budget: dict[int, YearBudget] = field(default_factory=dict)
    #: investment programme: (label, amount, eligible)
    expenses: list[tuple[str, Decimal, bool]] = field(default_factory=list)
    #: funding plan: (name, type, amount, status); the funder's own line is named after it
    sources: list[tuple[str | None, FunderType, Decimal, FundingStatus]] = field(
        default_factory=list
    )
    #: de minimis aid declared with the file: (granted_on, funder, amount)
    aids: list[tuple[date, str, Decimal]] = field(default_factory=list)
    #: labels of the documents attached; None = every mandatory one and the first optional
    documents: list[str] | None = None
    #: a file of the 2016 call, played with 2016 dates
    historical: bool = False
    #: when each step happened (None: when the demo is loaded)
    created: datetime | None = None
    submitted: datetime | None = None
    reviewed: datetime | None = None
    #: the complement request, the withdrawal or the decision
    concluded: datetime | None = None
    #: decision, withdrawal or complement message
    reason: str = ""
    #: accepted files: the total the committee awards (at most the request)
    award: Decimal | None = None


CHARGE_SPLIT = [
    ("60", "Achats de matières, fournitures et petit équipement", D("0.08")),
    ("61", "Locations, entretien et assurances", D("0.12")),
    ("62", "Honoraires, communication et déplacements", D("0.06")),
    ("63", "Impôts et taxes sur rémunérations", D("0.02")),
]
SALARIES = ("64", "Salaires et charges sociales")

SIGNATORIES = {
    "recyclerie": ("Martine Lacoste", "Présidente"),
    "batir": ("Karim Benali", "Directeur général"),
    "jardins": ("Jean-Pierre Dufau", "Président"),
    "epicerie": ("Fatou Diallo", "Présidente"),
    "textile": ("Nathalie Roux", "Directrice"),
    "velocargo": ("Thomas Garnier", "Gérant"),
    "regie": ("Sylvie Moreau", "Présidente"),
    "numerique": ("Hugo Ferrand", "Président"),
}


def _dates(start: date, end: date) -> dict:
    return {"start_date": start, "end_date": end}


def demo_files(loaded_at: datetime) -> list[DemoFile]:
    """The files (each with its dates; every file has at least ``created``)."""
    from grants.core.formatting import PARIS

    today = loaded_at.astimezone(PARIS).date()
    next_year = today.year + 1
    decided_2016 = paris(date(2016, 6, 24), 11)

    def ago(days: int, hour: int, minute: int = 0) -> datetime:
        """``days`` (≥ 1) before the load, at a Paris time: always in the past."""
        return paris(today - timedelta(days=days), hour, minute)

    reviewed_2016 = paris(date(2016, 4, 5), 9, 30)
    return [
        # --- Appel à projets ESS 2016: historical, closed, decided by the conseil ---------
        DemoFile(
            call=AAP_2016,
            org="jardins",
            status=S.accepted,
            fields={
                "title": "Légumerie solidaire de la Jalle",
                "summary": (
                    "Créer une légumerie qui lave, épluche et conditionne les légumes du "
                    "chantier d'insertion maraîcher pour les restaurants scolaires des "
                    "communes de la Jalle."
                ),
                "objectives": (
                    "Transformer 40 tonnes de légumes par an ; ouvrir 6 postes en insertion "
                    "et 2 postes d'encadrement ; approvisionner 12 restaurants scolaires en "
                    "circuit court d'ici 2018."
                ),
                "target_public": (
                    "Demandeurs d'emploi de longue durée et bénéficiaires du RSA orientés "
                    "par le PLIE et Pôle emploi."
                ),
                "territory": ["33162", "33056", "33449"],
                "in_qpv": False,
                "innovation": (
                    "Premier outil de transformation en insertion sur la rive gauche : il "
                    "relie production maraîchère locale et restauration collective publique."
                ),
                "partners": "Villes d'Eysines, de Blanquefort et de Saint-Médard-en-Jalles ; "
                "PLIE Technowest ; Chambre d'agriculture.",
                "approvals": "Atelier et chantier d'insertion conventionné par l'État (DIRECCTE).",
                "jobs_created": 8,
                "jobs_maintained": 22,
                **_dates(date(2016, 4, 1), date(2018, 12, 31)),
            },
            budget={
                2016: YearBudget(
                    D("185000"),
                    D("14000"),
                    [
                        ("74", "État – aide au poste d'insertion", D("98000")),
                        ("74", "Département de la Gironde – PDI", D("25000")),
                    ],
                    D("12000"),
                ),
                2017: YearBudget(
                    D("192000"),
                    D("12000"),
                    [
                        ("74", "État – aide au poste d'insertion", D("98000")),
                        ("74", "Département de la Gironde – PDI", D("25000")),
                    ],
                    D("12000"),
                ),
                2018: YearBudget(
                    D("198000"),
                    D("10000"),
                    [
                        ("74", "État – aide au poste d'insertion", D("98000")),
                        ("74", "Département de la Gironde – PDI", D("22000")),
                    ],
                    D("12000"),
                ),
            },
            aids=[
                (date(2014, 5, 12), "Département de la Gironde", D("15000")),
                (date(2015, 9, 30), "Région Aquitaine", D("20000")),
            ],
            historical=True,
            created=paris(date(2016, 1, 25), 14),
            submitted=paris(date(2016, 3, 2), 11, 5),
            reviewed=reviewed_2016,
            concluded=decided_2016,
            award=D("36000"),
            reason=(
                "Avis favorable du comité de sélection du 9 juin 2016 (classé 1er) ; "
                "subvention attribuée par délibération du conseil de Métropole du 24 juin 2016 "
                "(DEL-2016-0421)."
            ),
        ),
        DemoFile(
            call=AAP_2016,
            org="recyclerie",
            status=S.accepted,
            fields={
                "title": "Recyclerie mobile des Hauts de Garonne",
                "summary": (
                    "Un camion-atelier qui collecte les objets au pied des immeubles, les "
                    "répare et les revend à petit prix dans les quartiers de la rive droite."
                ),
                "objectives": (
                    "Détourner 120 tonnes d'objets de l'enfouissement par an ; créer 4 emplois "
                    "dont 3 en insertion ; tenir 3 points de collecte hebdomadaires."
                ),
                "target_public": "Habitants des quartiers prioritaires de Cenon, Lormont et "
                "Floirac ; personnes éloignées de l'emploi.",
                "territory": ["33119", "33249", "33167"],
                "in_qpv": True,
                "innovation": "La collecte vient aux habitants : un service de proximité qui "
                "combine réemploi, lien social et emploi local.",
                "partners": "Bailleurs sociaux Domofrance et Aquitanis ; régies de quartier ; "
                "direction de la prévention des déchets de la Métropole.",
                "approvals": "Association agréée entreprise solidaire d'utilité sociale (ESUS).",
                "jobs_created": 4,
                "jobs_maintained": 9,
                **_dates(date(2016, 5, 1), date(2018, 12, 31)),
            },
            budget={
                year: YearBudget(
                    charges,
                    request,
                    [
                        ("74", "État – aide au poste (ACI)", D("52000")),
                        ("74", "Ville de Cenon", D("8000")),
                    ],
                    D("9000"),
                )
                for year, charges, request in (
                    (2016, D("128000"), D("12000")),
                    (2017, D("133000"), D("11000")),
                    (2018, D("137000"), D("10000")),
                )
            },
            historical=True,
            created=paris(date(2016, 2, 1), 10),
            submitted=paris(date(2016, 3, 14), 16, 20),
            reviewed=reviewed_2016,
            concluded=decided_2016,
            award=D("33000"),
            reason=(
                "Avis favorable du comité de sélection du 9 juin 2016 (classé 2e) ; "
                "subvention attribuée par délibération du conseil de Métropole du 24 juin 2016 "
                "(DEL-2016-0421)."
            ),
        ),
        DemoFile(
            call=AAP_2016,
            org="textile",
            status=S.accepted,
            fields={
                "title": "Boutique solidaire et atelier de retouche textile",
                "summary": (
                    "Ouvrir à Lormont une boutique de vêtements de seconde main triés par "
                    "l'atelier, avec un atelier de retouche et de couture ouvert aux habitants."
                ),
                "objectives": (
                    "Revendre 60 tonnes de vêtements par an à petit prix ; créer 5 postes "
                    "dont 4 en insertion ; accueillir 200 habitants par an aux ateliers de "
                    "couture."
                ),
                "target_public": "Femmes éloignées de l'emploi des quartiers de Lormont et de "
                "Cenon ; familles à faibles revenus.",
                "territory": ["33249", "33119"],
                "in_qpv": True,
                "innovation": "Une boutique qui est aussi un lieu de formation aux métiers de "
                "la couture et de la vente, au pied des résidences.",
                "partners": "Ville de Lormont ; bailleur Domofrance ; PLIE des Hauts de "
                "Garonne ; Le Relais Gironde.",
                "approvals": "Atelier et chantier d'insertion conventionné par l'État (DIRECCTE).",
                "jobs_created": 5,
                "jobs_maintained": 20,
                **_dates(date(2016, 6, 1), date(2018, 12, 31)),
            },
            budget={
                year: YearBudget(
                    charges,
                    request,
                    [
                        ("74", "État – aide au poste (ACI)", D("110000")),
                        ("74", "Département de la Gironde – PDI", D("20000")),
                    ],
                    D("4000"),
                )
                for year, charges, request in (
                    (2016, D("210000"), D("12000")),
                    (2017, D("220000"), D("10000")),
                    (2018, D("228000"), D("8000")),
                )
            },
            historical=True,
            created=paris(date(2016, 2, 8), 9, 15),
            submitted=paris(date(2016, 3, 9), 10, 30),
            reviewed=reviewed_2016,
            concluded=decided_2016,
            award=D("28000"),
            reason=(
                "Avis favorable du comité de sélection du 9 juin 2016 (classé 3e) ; "
                "subvention de 28 000 € sur trois ans (30 000 € demandés) attribuée par "
                "délibération du conseil de Métropole du 24 juin 2016 (DEL-2016-0421)."
            ),
        ),
        DemoFile(
            call=AAP_2016,
            org="regie",
            status=S.accepted,
            fields={
                "title": "Petits travaux et médiation dans les résidences des Coteaux",
                "summary": (
                    "Un service de petits travaux (peinture, serrurerie, encombrants) et de "
                    "médiation tenu par des habitants salariés de la régie, pour les "
                    "locataires des résidences sociales de Floirac."
                ),
                "objectives": (
                    "Intervenir dans 1 200 logements ; créer 4 emplois de proximité ; "
                    "réduire d'un tiers les dépôts sauvages dans les résidences."
                ),
                "target_public": "Habitants du quartier prioritaire des Coteaux, en "
                "particulier les jeunes et les demandeurs d'emploi de longue durée.",
                "territory": ["33167"],
                "in_qpv": True,
                "innovation": "Des services rendus aux locataires par leurs voisins salariés, "
                "financés à la fois par les bailleurs et par les habitants.",
                "partners": "Ville de Floirac ; bailleurs Mésolia et Aquitanis ; centre "
                "social et culturel de Dravemont.",
                "approvals": "Régie de quartier labellisée par le Comité national de liaison "
                "des régies de quartier.",
                "jobs_created": 4,
                "jobs_maintained": 20,
                **_dates(date(2016, 7, 1), date(2018, 12, 31)),
            },
            budget={
                year: YearBudget(
                    charges,
                    request,
                    [
                        ("74", "Ville de Floirac", D("15000")),
                        ("74", "État – politique de la ville", D("20000")),
                    ],
                    D("6000"),
                )
                for year, charges, request in (
                    (2016, D("160000"), D("10000")),
                    (2017, D("165000"), D("8000")),
                    (2018, D("170000"), D("6000")),
                )
            },
            historical=True,
            created=paris(date(2016, 2, 10), 14, 30),
            submitted=paris(date(2016, 3, 18), 15, 10),
            reviewed=reviewed_2016,
            concluded=decided_2016,
            award=D("20000"),
            reason=(
                "Avis favorable du comité de sélection du 9 juin 2016 (classé 5e) ; "
                "subvention de 20 000 € sur trois ans (24 000 € demandés : le volet "
                "encombrants relève du marché de collecte) attribuée par délibération du "
                "conseil de Métropole du 24 juin 2016 (DEL-2016-0421)."
            ),
        ),
        DemoFile(
            call=AAP_2016,
            org="batir",
            status=S.accepted,
            fields={
                "title": "Auto-réhabilitation accompagnée des logements",
                "summary": (
                    "Des compagnons de la SCIC accompagnent des ménages modestes qui "
                    "rénovent eux-mêmes leur logement : isolation, peinture, petits travaux, "
                    "avec des matériaux de réemploi."
                ),
                "objectives": (
                    "Accompagner 40 chantiers par an ; créer 3 emplois d'encadrants "
                    "techniques ; réduire de 25 % la facture d'énergie des ménages aidés."
                ),
                "target_public": "Propriétaires occupants et locataires modestes ; "
                "ménages en précarité énergétique.",
                "territory": ["33063", "33039", "33075"],
                "in_qpv": False,
                "innovation": "Le ménage est acteur de son chantier ; la SCIC associe "
                "artisans, bailleurs et habitants à sa gouvernance.",
                "partners": "Compagnons Bâtisseurs Aquitaine ; Agence locale de l'énergie ; "
                "Fondation Abbé Pierre ; CCAS de Bordeaux.",
                "jobs_created": 3,
                "jobs_maintained": 10,
                **_dates(date(2016, 9, 1), date(2018, 12, 31)),
            },
            budget={
                year: YearBudget(
                    charges,
                    request,
                    [
                        ("74", "Région Aquitaine Limousin Poitou-Charentes", D("15000")),
                        ("74", "Fondation Abbé Pierre", D("10000")),
                    ],
                    D("2000"),
                )
                for year, charges, request in (
                    (2016, D("140000"), D("11000")),
                    (2017, D("146000"), D("9000")),
                    (2018, D("150000"), D("7000")),
                )
            },
            aids=[(date(2015, 6, 1), "Région Aquitaine", D("8000"))],
            historical=True,
            created=paris(date(2016, 2, 22), 16),
            submitted=paris(date(2016, 3, 24), 11, 45),
            reviewed=reviewed_2016,
            concluded=decided_2016,
            award=D("25000"),
            reason=(
                "Avis favorable du comité de sélection du 9 juin 2016 (classé 4e) ; "
                "subvention de 25 000 € sur trois ans (27 000 € demandés) attribuée par "
                "délibération du conseil de Métropole du 24 juin 2016 (DEL-2016-0421)."
            ),
        ),
        DemoFile(
            call=AAP_2016,
            org="velocargo",
            status=S.accepted,
            fields={
                "title": "Coursiers à vélo pour les commerces de Bègles",
                "summary": (
                    "Lancer un service de livraison à vélo-cargo pour les commerçants et les "
                    "artisans de Bègles et du sud de Bordeaux, porté par une SCOP de "
                    "coursiers salariés."
                ),
                "objectives": (
                    "Livrer 150 colis par jour à la fin de 2018 ; créer 4 emplois de "
                    "coursiers salariés et associés ; éviter 30 000 km de camionnette par an."
                ),
                "target_public": "Commerçants et artisans ; jeunes sans qualification "
                "recrutés comme coursiers.",
                "territory": ["33039", "33063"],
                "in_qpv": False,
                "innovation": "Cyclologistique coopérative : les coursiers sont associés de "
                "la SCOP et décident de leurs conditions de travail.",
                "partners": "Association des commerçants de Bègles ; Ville de Bègles ; "
                "Union régionale des SCOP.",
                "jobs_created": 4,
                "jobs_maintained": 3,
                **_dates(date(2016, 9, 1), date(2018, 12, 31)),
            },
            budget={
                year: YearBudget(
                    charges,
                    request,
                    [("74", "ADEME – appel à projets mobilité", D("12000"))],
                )
                for year, charges, request in (
                    (2016, D("95000"), D("8000")),
                    (2017, D("105000"), D("6000")),
                    (2018, D("115000"), D("4000")),
                )
            },
            historical=True,
            created=paris(date(2016, 3, 1), 11),
            submitted=paris(date(2016, 3, 29), 17, 5),
            reviewed=reviewed_2016,
            concluded=decided_2016,
            award=D("15000"),
            reason=(
                "Avis favorable du comité de sélection du 9 juin 2016 (classé 6e) ; "
                "subvention de 15 000 € sur trois ans (18 000 € demandés : montant réduit, "
                "avec un point d'étape à un an) attribuée par délibération du conseil de "
                "Métropole du 24 juin 2016 (DEL-2016-0421)."
            ),
        ),
        DemoFile(
            call=AAP_2016,
            org="epicerie",
            status=S.rejected,
            fields={
                "title": "Cuisine partagée et ateliers anti-gaspillage",
                "summary": "Ouvrir une cuisine partagée attenante à l'épicerie solidaire pour "
                "des ateliers de cuisine à partir des invendus.",
                "objectives": "Accueillir 300 familles par an en ateliers ; réduire de moitié "
                "les invendus jetés par l'épicerie.",
                "target_public": "Familles bénéficiaires de l'épicerie solidaire du Grand Parc.",
                "territory": ["33063"],
                "in_qpv": True,
                "innovation": "Lien entre aide alimentaire, éducation à l'alimentation et lutte "
                "contre le gaspillage.",
                "partners": "Centre social du Grand Parc ; Banque alimentaire de Bordeaux et "
                "de la Gironde ; CCAS de Bordeaux.",
                "jobs_created": 1,
                "jobs_maintained": 3,
                **_dates(date(2016, 6, 1), date(2018, 12, 31)),
            },
            budget={
                year: YearBudget(
                    charges,
                    request,
                    [
                        ("74", "CAF de la Gironde", D("12000")),
                        ("74", "Ville de Bordeaux", D("15000")),
                        ("75", "Cotisations des adhérents", D("2500")),
                    ],
                    D("30000"),
                )
                for year, charges, request in (
                    (2016, D("62000"), D("10000")),
                    (2017, D("63500"), D("9000")),
                    (2018, D("65000"), D("8000")),
                )
            },
            historical=True,
            created=paris(date(2016, 2, 15), 18),
            submitted=paris(date(2016, 3, 30), 18, 45),
            reviewed=reviewed_2016,
            concluded=decided_2016,
            reason=(
                "Projet utile mais peu créateur d'emplois au regard des critères de l'appel "
                "(1 emploi) ; la structure est orientée vers le dispositif d'accompagnement "
                "de la CRESS et vers les appels de la CAF."
            ),
        ),
        # --- Aide à l'investissement 2016: rolling window, open ---------------------------
        DemoFile(
            call=AIS_2016,
            org="textile",
            status=S.submitted,
            fields={
                "title": "Chaîne de tri et de valorisation textile à Lormont",
                "summary": (
                    "Équiper le nouveau site de Lormont d'une chaîne de tri des textiles "
                    "collectés sur la rive droite et d'un véhicule électrique de collecte."
                ),
                "objectives": (
                    "Passer de 900 à 2 000 tonnes triées par an ; créer 12 postes en "
                    "insertion ; valoriser 95 % des textiles collectés (réemploi, chiffons, "
                    "effilochage)."
                ),
                "target_public": "Salariés en insertion, dont des femmes et des jeunes des "
                "quartiers prioritaires de Lormont et de Cenon.",
                "territory": ["33249", "33119"],
                "in_qpv": True,
                "innovation": "Tri fin par matière qui ouvre des débouchés de recyclage "
                "(isolants pour l'écoconstruction).",
                "partners": "Éco-organisme Refashion ; entreprises de l'écoconstruction ; "
                "Ville de Lormont.",
                "approvals": "Atelier et chantier d'insertion conventionné ; agrément ESUS.",
                "jobs_created": 12,
                "jobs_maintained": 31,
                **_dates(date(next_year, 1, 1), date(next_year, 12, 31)),
            },
            expenses=[
                (
                    "Chaîne de tri : convoyeurs, tables de tri, presse à balles",
                    D("168000"),
                    True,
                ),
                ("Aménagement du local : électricité, isolation, vestiaires", D("84000"), True),
                ("Véhicule utilitaire électrique de collecte", D("48000"), True),
                ("Déménagement et installation", D("12000"), False),
            ],
            sources=[
                (None, FunderType.authority, D("90000"), FundingStatus.requested),
                (
                    "Région Nouvelle-Aquitaine",
                    FunderType.region,
                    D("75000"),
                    FundingStatus.obtained,
                ),
                (
                    "Département de la Gironde",
                    FunderType.department,
                    D("40000"),
                    FundingStatus.requested,
                ),
                (
                    "France Active Nouvelle-Aquitaine – prêt participatif",
                    FunderType.solidarity_finance,
                    D("50000"),
                    FundingStatus.obtained,
                ),
                ("Fonds propres", FunderType.own_funds, D("57000"), FundingStatus.obtained),
            ],
            aids=[
                (date(2024, 6, 14), "Région Nouvelle-Aquitaine", D("25000")),
                (date(2025, 3, 3), "Département de la Gironde", D("18000")),
            ],
            created=ago(20, 10),
            submitted=ago(9, 15, 40),
        ),
        DemoFile(
            call=AIS_2016,
            org="velocargo",
            status=S.under_review,
            fields={
                "title": "Flotte de vélos-cargos et micro-hub logistique à Bègles",
                "summary": (
                    "Acquérir 12 vélos-cargos à assistance électrique et aménager un "
                    "micro-hub pour livrer les commerces du centre de Bègles et du sud de "
                    "Bordeaux sans camion."
                ),
                "objectives": "Livrer 400 colis par jour à vélo ; créer 6 emplois de "
                "livreurs salariés et associés de la SCOP.",
                "target_public": "Commerçants et artisans ; livreurs salariés.",
                "territory": ["33039", "33063"],
                "in_qpv": False,
                "innovation": "Cyclologistique coopérative : les livreurs sont associés de "
                "la SCOP.",
                "partners": "Association des commerçants de Bègles ; Ville de Bègles.",
                "jobs_created": 6,
                "jobs_maintained": 11,
                **_dates(date(next_year, 2, 1), date(next_year, 12, 31)),
            },
            expenses=[
                ("12 vélos-cargos à assistance électrique", D("96000"), True),
                ("Aménagement du micro-hub : racks, bornes de recharge", D("54000"), True),
                ("Abonnement au logiciel de tournées (3 ans)", D("8000"), False),
            ],
            sources=[
                (None, FunderType.authority, D("45000"), FundingStatus.requested),
                (
                    "Région Nouvelle-Aquitaine",
                    FunderType.region,
                    D("35000"),
                    FundingStatus.requested,
                ),
                ("ADEME – fonds mobilités", FunderType.state, D("30000"), FundingStatus.obtained),
                ("Crédit Coopératif – prêt", FunderType.bank, D("33000"), FundingStatus.obtained),
                ("Fonds propres", FunderType.own_funds, D("15000"), FundingStatus.obtained),
            ],
            aids=[(date(2025, 10, 6), "Région Nouvelle-Aquitaine", D("12000"))],
            created=ago(30, 9),
            submitted=ago(16, 11, 10),
            reviewed=ago(12, 14),
        ),
        # --- Appel à projets ESS 2023 — secteurs prioritaires: open -----------------------
        DemoFile(
            call=AAP_2023,
            org="numerique",
            status=S.under_review,
            fields={
                "title": "Reconditionnement d'ordinateurs pour les familles et les associations",
                "summary": "Collecter les ordinateurs réformés des entreprises et des "
                "collectivités, les reconditionner et les proposer à prix solidaire.",
                "objectives": "Reconditionner 3 000 ordinateurs par an ; former 10 "
                "techniciens en insertion ; équiper 1 500 familles.",
                "target_public": "Familles à faibles revenus, étudiants, petites associations.",
                "territory": ["33281", "33318", "33522"],
                "in_qpv": False,
                "sector": "Économie circulaire",
                "innovation": "Filière locale du réemploi numérique, de la collecte à "
                "l'accompagnement des usages.",
                "partners": "Collectif des acteurs du réemploi de Gironde ; Emmaüs Connect.",
                "jobs_created": 5,
                "jobs_maintained": 7,
                **_dates(date(2023, 9, 1), date(2025, 12, 31)),
            },
            budget={
                year: YearBudget(
                    charges,
                    request,
                    [
                        ("74", "Région Nouvelle-Aquitaine", D("15000")),
                        ("74", "Département de la Gironde – inclusion numérique", D("10000")),
                    ],
                    D("8000"),
                )
                for year, charges, request in (
                    (2023, D("150000"), D("20000")),
                    (2024, D("162000"), D("12000")),
                    (2025, D("170000"), D("8000")),
                )
            },
            aids=[(date(2025, 1, 20), "Département de la Gironde", D("9500"))],
            created=ago(6, 10),
            submitted=ago(2, 17, 25),
            # given to two reviewers by grants.demo.reviews (one of them has started)
            reviewed=ago(1, 9),
        ),
        DemoFile(
            call=AAP_2023,
            org="batir",
            status=S.incomplete,
            fields={
                "title": "Plateforme de réemploi des matériaux du BTP",
                "summary": "Une plateforme coopérative qui récupère les matériaux de "
                "déconstruction des chantiers de la métropole et les revend aux "
                "artisans et aux particuliers.",
                "objectives": "Réemployer 1 500 tonnes de matériaux par an ; créer 9 emplois ; "
                "fédérer 20 entreprises du bâtiment sociétaires.",
                "target_public": "Artisans du bâtiment, bailleurs sociaux, particuliers.",
                "territory": ["33063", "33039", "33075"],
                "in_qpv": False,
                "sector": "Écoconstruction et habitat",
                "innovation": "Gouvernance multi-sociétaires (artisans, bailleurs, salariés) "
                "et lien avec la filière du réemploi textile pour les isolants.",
                "partners": "Fédération du BTP de la Gironde ; bailleurs sociaux ; "
                "Bordeaux Euratlantique.",
                "jobs_created": 9,
                "jobs_maintained": 14,
                **_dates(date(2023, 9, 1), date(2025, 12, 31)),
            },
            budget={
                year: YearBudget(
                    charges,
                    request,
                    [
                        ("74", "Région Nouvelle-Aquitaine", D("30000")),
                        ("74", "ADEME – fonds économie circulaire", D("20000")),
                    ],
                    D("5000"),
                )
                for year, charges, request in (
                    (2023, D("240000"), D("25000")),
                    (2024, D("265000"), D("15000")),
                    (2025, D("280000"), D("10000")),
                )
            },
            aids=[(date(2024, 11, 20), "Région Nouvelle-Aquitaine", D("30000"))],
            reason=(
                "Merci de joindre les comptes 2025 approuvés par l'assemblée générale (ceux "
                "joints sont ceux de 2024) et de préciser, pour chaque année, les emplois "
                "créés en équivalent temps plein."
            ),
            created=ago(6, 9, 30),
            submitted=ago(5, 16),
            reviewed=ago(4, 10),
            concluded=ago(3, 11),
        ),
        DemoFile(
            call=AAP_2023,
            org="regie",
            status=S.withdrawn,
            fields={
                "title": "Conciergerie de quartier et services aux commerçants",
                "summary": "Une conciergerie tenue par la régie de quartier : dépôt de colis, "
                "petites réparations, livraison à vélo pour les commerces de Dravemont.",
                "objectives": "Servir 25 commerces et 400 foyers ; créer 3 emplois de proximité.",
                "target_public": "Habitants et commerçants du quartier de Dravemont.",
                "territory": ["33167"],
                "in_qpv": True,
                "sector": "Économie de proximité",
                "innovation": "Services partagés entre commerçants et habitants, tenus par "
                "des salariés du quartier.",
                "partners": "Ville de Floirac ; union des commerçants ; bailleur Mésolia.",
                "jobs_created": 3,
                "jobs_maintained": 27,
                **_dates(date(2023, 10, 1), date(2025, 12, 31)),
            },
            budget={
                year: YearBudget(
                    charges,
                    request,
                    [
                        ("74", "Ville de Floirac", D("12000")),
                        ("74", "État – politique de la ville", D("18000")),
                    ],
                    D("6000"),
                )
                for year, charges, request in (
                    (2023, D("95000"), D("15000")),
                    (2024, D("99000"), D("9000")),
                    (2025, D("102000"), D("6000")),
                )
            },
            reason=(
                "Le local commercial prévu pour la conciergerie ne sera pas disponible avant "
                "l'an prochain : nous présenterons le projet à un prochain appel."
            ),
            created=ago(6, 14),
            submitted=ago(4, 12, 15),
            concluded=ago(1, 9, 45),
        ),
        DemoFile(
            call=AAP_2023,
            org="recyclerie",
            status=S.draft,
            fields={
                "title": "Atelier de réparation de vélos et de petit électroménager",
                "summary": "Ouvrir à Cenon un atelier où les habitants font réparer, ou "
                "apprennent à réparer, leurs vélos et leurs appareils.",
                "territory": ["33119"],
                "in_qpv": True,
                "sector": "Économie circulaire",
                "jobs_created": 3,
            },
            budget={
                # Started, not finished: no request yet, products still to enter.
                2023: YearBudget(D("70000"), None, [], D("0"), sales=D("18000")),
            },
            aids=[(date(2025, 2, 10), "Ville de Cenon", D("8000"))],
            documents=["Statuts de la structure"],
            created=ago(3, 18, 30),
        ),
    ]


# --- building blocks ------------------------------------------------------------------------


def budget_rows(budget: YearBudget) -> list:
    """The lines of a year (line 74 of the funder aside) as ``RowInput``s."""
    from grants.applications.operations import RowInput

    rows: list[tuple[str, str, Decimal]] = []
    spent = D("0")
    for account, label, share in CHARGE_SPLIT:
        amount = (budget.charges * share).quantize(D("1"), rounding=ROUND_DOWN)
        rows.append((account, label, amount))
        spent += amount
    rows.append((*SALARIES, budget.charges - spent))
    others = sum((amount for _, _, amount in budget.others), D("0"))
    sales = budget.sales
    if sales is None:
        sales = budget.charges - others - (budget.request or D("0"))
        if sales < 0:
            raise ValueError(f"demo budget does not balance: {budget}")
    rows.append(("70", "Ventes de produits et prestations de services", sales))
    rows += budget.others
    if budget.in_kind:
        rows.append(("86", "Mise à disposition gratuite de personnes (bénévolat)", budget.in_kind))
        rows.append(("87", "Bénévolat", budget.in_kind))
    return [
        RowInput(None, {"account": account, "label": label, "amount": amount, "position": n})
        for n, (account, label, amount) in enumerate(rows)
    ]


def demo_pdf(title: str, lines: list[str]) -> bytes:
    """A small one-page PDF (reportlab, deterministic output)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setTitle(title)
    pdf.setAuthor("Données de démonstration")
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(60, 780, title)
    pdf.setFont("Helvetica", 11)
    y = 745
    for line in lines:
        pdf.drawString(60, y, line)
        y -= 18
    pdf.setFont("Helvetica-Oblique", 9)
    pdf.drawString(60, 60, "Document fictif produit par « grants demo » : sans valeur juridique.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _attach(application, actor, document, when: datetime | None):
    from grants.applications.operations import add_attachment
    from grants.core.files import inspect_upload

    org = application.organisation
    data = demo_pdf(
        document.label,
        [
            org.name,
            f"{org.legal_form.label} – SIRET {org.siret}"
            + (f" – RNA {org.rna}" if org.rna else ""),
            f"{org.address}, {org.postal_code} {org.city}",
            f"Pièce du dossier « {application.title} »",
            f"Appel : {application.call.title}",
        ],
    )
    info = inspect_upload(
        io.BytesIO(data),
        f"{document.label}.pdf",
        set(document.accepted_types or []),
        current_app.config["UPLOAD_MAX_BYTES"],
    )
    attachment, _old = add_attachment(application, actor, info, document)
    if when is not None:
        attachment.uploaded_at = when


def _start(call, organisation, actor, when: datetime | None, historical: bool):
    """``start_application`` (dated ``when``); for the historical call, closed by the
    server's clock, the same draft made the same way."""
    from grants.applications.models import Application
    from grants.applications.operations import start_application
    from grants.audit.operations import record
    from grants.extensions import db

    if not historical:
        application = start_application(call, organisation, actor)
        if when is not None:
            application.created_at = application.updated_at = when
        return application
    application = Application(
        call=call,
        organisation=organisation,
        created_by_id=actor.id,
        status=S.draft,
        territory=[organisation.commune_insee] if organisation.commune_insee else [],
        in_qpv=organisation.in_qpv,
        created_at=when,
        updated_at=when,
    )
    db.session.add(application)
    db.session.flush()
    record(
        actor,
        "application.create",
        application,
        summary=f"Dossier de « {organisation.name} » créé sur l'appel « {call.title} »",
    )
    return application


class DemoError(RuntimeError):
    """A demo file that the operations refused: the demo data is wrong."""


def _build(spec: DemoFile, call, organisation, actor):
    """The file as its applicant fills it, submitted unless it stays a draft."""
    from grants.applications import operations as ops
    from grants.calls.models import CallKind

    when = spec.created
    application = _start(call, organisation, actor, when, spec.historical)
    signatory = SIGNATORIES[spec.org]
    fields = dict(spec.fields)
    if spec.status != S.draft:
        fields.update(signatory_name=signatory[0], signatory_role=signatory[1], certified=True)
    ops.update_fields(application, actor, fields)
    for granted_on, funder, amount in spec.aids:
        aid = ops.add_de_minimis_aid(application, actor, granted_on, funder, amount)
        if when is not None:
            aid.declared_at = when
    if call.kind == CallKind.project_call:
        for year, budget in spec.budget.items():
            request = budget.request if budget.request is not None else ops.KEEP
            ops.save_budget_year(application, actor, year, budget_rows(budget), request)
    else:
        expenses = [
            ops.RowInput(None, {"label": label, "amount": amount, "eligible": eligible})
            for label, amount, eligible in spec.expenses
        ]
        sources = [
            ops.RowInput(
                None,
                {
                    "name": name or call.funder.name,
                    "funder_type": funder_type,
                    "amount": amount,
                    "status": status,
                },
            )
            for name, funder_type, amount, status in spec.sources
        ]
        ops.save_investment_plan(application, actor, expenses, sources)
    documents = spec.documents
    if documents is None:
        optional = [d.label for d in call.documents if not d.mandatory][:1]
        documents = [d.label for d in call.documents if d.mandatory] + optional
    uploaded = when + timedelta(hours=2) if when is not None else None
    for document in call.documents:
        if document.label in documents:
            _attach(application, actor, document, uploaded)
    if spec.status == S.draft:
        return application
    try:
        ops.submit(application, actor, now=spec.submitted)
    except ops.ApplicationError as exc:
        details = "; ".join(p.message for p in exc.problems)
        raise DemoError(f"{organisation.name}: {exc.message} {details}") from exc
    return application


def _staff_steps(spec: DemoFile, application, actor, staff) -> None:
    from grants.applications import operations as ops
    from grants.applications.queries import today_paris

    if spec.status in (S.under_review, S.incomplete, S.accepted, S.rejected):
        ops.mark_under_review(application, staff)
    if spec.status == S.incomplete:
        due = today_paris() + timedelta(days=21)
        request = ops.request_complements(application, staff, spec.reason, due)
        if spec.concluded is not None:
            request.requested_at = spec.concluded
    elif spec.status == S.withdrawn:
        ops.withdraw(application, actor, spec.reason)
        if spec.concluded is not None:
            application.withdrawn_at = spec.concluded
    # accepted / rejected: reviewed and decided by grants.demo.reviews and grants.demo.decisions


def _backdate(spec: DemoFile, application) -> None:
    """Show the scenario's dates in the file's history (the audit log keeps the real ones)."""
    from grants.applications.models import ApplicationTransition
    from grants.extensions import db

    dates = {
        S.submitted: spec.submitted,
        S.under_review: spec.reviewed,
        S.incomplete: spec.concluded,
        S.withdrawn: spec.concluded,
        S.accepted: spec.concluded,
        S.rejected: spec.concluded,
    }
    rows = db.session.scalars(
        sa.select(ApplicationTransition).where(
            ApplicationTransition.application_id == application.id
        )
    )
    latest = spec.created
    for row in rows:
        when = dates.get(row.to_status)
        if when is not None:
            row.created_at = when
            latest = max(latest, when) if latest else when
    if latest is not None:
        application.updated_at = latest


def load_files(users: dict, organisations: dict, calls: dict, staff, loaded_at) -> list[str]:
    """Play the missing files; returns notes about the files that could not be played."""
    from grants.applications.models import Application
    from grants.applications.operations import ApplicationError
    from grants.demo.calls import close_historical
    from grants.demo.people import DEMO_ORGANISATIONS
    from grants.extensions import db

    members = {spec["key"]: spec["members"][0] for spec in DEMO_ORGANISATIONS}
    notes: list[str] = []
    played = []
    # Played in the order of their dates, so that the references follow the submissions.
    for spec in sorted(demo_files(loaded_at), key=lambda f: f.submitted or f.created):
        loaded = calls[spec.call]
        call, organisation = loaded.call, organisations[spec.org]
        exists = db.session.scalar(
            sa.select(Application.id).where(
                Application.call_id == call.id, Application.organisation_id == organisation.id
            )
        )
        if exists is not None:
            continue
        if spec.historical and not loaded.created:
            notes.append(
                f"Dossier historique de « {organisation.name} » sur « {call.title} » non "
                "recréé : l'appel existait déjà."
            )
            continue
        if not spec.historical and not call.is_open:
            notes.append(
                f"Dossier de « {organisation.name} » non créé : l'appel « {call.title} » "
                "n'est plus ouvert."
            )
            continue
        actor = users[members[spec.org]]
        try:
            with db.session.begin_nested():
                application = _build(spec, call, organisation, actor)
        except (ApplicationError, DemoError) as exc:
            notes.append(f"Dossier de « {organisation.name} » non créé : {exc}")
            continue
        played.append((spec, application, actor))
    db.session.flush()
    close_historical(calls, staff)
    for spec, application, actor in played:
        _staff_steps(spec, application, actor, staff)
    for spec, application, _actor in played:
        _backdate(spec, application)
    db.session.flush()
    return notes
