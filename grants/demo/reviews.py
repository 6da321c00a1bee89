"""The reviewers' side of the demo: declared links, pools, assignments, scores, a conflict.

Everything is played through :mod:`grants.reviews.operations`:

* links (``add_link``): Michel Durand sits on the board of « Les Jardins de la Jalle »
  (a declared conflict: he can't be given that organisation's files); Sophie Nguyen works
  for the Région Nouvelle-Aquitaine, a co-funder named in the funding plans of the
  investment files (a likely conflict, shown to staff as a warning with its reason); Luc
  Bertrand declares a past link with a solidarity-finance network (no effect on the files);
* pools (``add_to_pool``) of the three calls;
* « Appel à projets ESS 2016 »: every file gets the two reviews the call requires
  (``assign``), each scored on every criterion with a comment and submitted
  (``save_review(..., submit=True)``). Luc Bertrand, given the Régie de quartier's file,
  declares a conflict (``declare_conflict``): he is unassigned and the file goes to
  another reviewer of the pool, chosen by the reassignment;
* today: Rachida Évaluatrice has a review in progress (a draft, three criteria scored) on
  a 2023 file and one not started on an investment file; Anne Morel has the second review
  of the 2023 file to do.

Dates: the operations stamp the server's time; the 2016 assignments, due dates,
conflict, submissions and their in-app notifications are then given the scenario's 2016
dates (the 2016 notifications marked read — the reviewers read them then). The audit log
keeps the real time the demo was loaded. The e-mails are left as they are: queued, sent by
the worker like any other.

A second run changes nothing: a link, a pool member or a review that exists is left
alone, and the 2016 files are scored only while they are still under review with no
review at all (files decided by an earlier version of the demo are not reviewed again:
the operations don't review a decided file).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from grants.demo.calls import AAP_2016, AAP_2023, AIS_2016, paris
from grants.reviews.models import LinkKind, Opinion

F, R, U = Opinion.favourable, Opinion.reserved, Opinion.unfavourable

#: the reviewers of the demo (keys of grants.demo.people.DEMO_USERS)
REVIEWERS = ["reviewer", "durand", "nguyen", "bertrand", "morel"]


@dataclass
class DemoLink:
    reviewer: str
    kind: LinkKind
    #: a demo organisation's key, or None for an organisation named freely
    organisation: str | None = None
    name: str = ""
    note: str = ""
    declared: datetime | None = None


LINKS = [
    DemoLink(
        "durand",
        LinkKind.board_member,
        organisation="jardins",
        note="Administrateur de l'association depuis 2012 (trésorier).",
        declared=paris(date(2016, 4, 1), 11),
    ),
    DemoLink(
        "nguyen",
        LinkKind.employee,
        name="Région Nouvelle-Aquitaine",
        note="Chargée de mission économie sociale et solidaire au conseil régional.",
        declared=paris(date(2016, 4, 1), 14, 30),
    ),
    DemoLink(
        "bertrand",
        LinkKind.partner,
        name="France Active Aquitaine",
        note="Chargé de mission bénévole au comité d'engagement (2014-2015).",
        declared=paris(date(2016, 4, 4), 9),
    ),
]

#: the pool of each call (reviewers' keys)
POOLS = {
    AAP_2016: ["reviewer", "durand", "nguyen", "bertrand", "morel"],
    AIS_2016: ["reviewer", "durand", "nguyen"],
    AAP_2023: ["reviewer", "bertrand", "morel"],
}
POOLED_2016 = paris(date(2016, 4, 1), 10)


@dataclass
class DemoReview:
    #: the reviewer's key; None: whoever the reassignment after the conflict chose
    reviewer: str | None
    #: scores and comments in the order of the grid (grants.demo.calls.GRID)
    scores: tuple[int, ...]
    comments: tuple[str, ...]
    opinion: Opinion | None
    summary: str
    submitted: datetime | None = None


@dataclass
class DemoConflict:
    reviewer: str
    reason: str
    declared: datetime


@dataclass
class FileReviews:
    org: str
    reviews: list[DemoReview]
    #: a reviewer assigned first who then declares a conflict
    conflict: DemoConflict | None = None


ASSIGNED_2016 = paris(date(2016, 4, 5), 10)
DUE_2016 = date(2016, 5, 13)


def _on(month: int, day: int, hour: int = 17) -> datetime:
    return paris(date(2016, month, day), hour)


#: the reviews of « Appel à projets ESS 2016 », file by file (the organisation's key)
REVIEWS_2016 = [
    FileReviews(
        "jardins",
        [
            DemoReview(
                "reviewer",
                (5, 4, 5, 4, 4),
                (
                    "Premier outil de transformation de légumes en insertion sur la rive "
                    "gauche : relier le maraîchage d'insertion à la restauration scolaire est "
                    "réellement nouveau.",
                    "8 emplois créés dont 6 en insertion, avec l'encadrement prévu ; les sorties "
                    "vers l'emploi restent à documenter.",
                    "Trois communes partenaires, le PLIE Technowest et la Chambre "
                    "d'agriculture : ancrage solide.",
                    "Charges maîtrisées, mais forte dépendance aux aides au poste de l'État ; "
                    "les ventes aux cantines doivent monter en charge comme prévu.",
                    "Partenariat étroit avec les communes, peu de mutualisation avec d'autres "
                    "structures de l'ESS.",
                ),
                F,
                "Projet mûr, porté par une structure solide, qui répond à un besoin identifié "
                "des restaurants scolaires. Avis favorable.",
                _on(4, 22),
            ),
            DemoReview(
                "nguyen",
                (5, 5, 5, 4, 5),
                (
                    "Projet exemplaire qui relie production locale, insertion et alimentation "
                    "des enfants.",
                    "Création d'emplois importante pour un public très éloigné de l'emploi "
                    "(bénéficiaires du RSA, chômeurs de longue durée).",
                    "12 restaurants scolaires approvisionnés en circuit court : l'effet local "
                    "est évident.",
                    "Budget équilibré ; la montée en charge des ventes est prudente.",
                    "Bonne coopération avec les communes de la Jalle et le PLIE ; une "
                    "convention avec la Chambre d'agriculture est annoncée.",
                ),
                F,
                "Très bon dossier, à soutenir en priorité.",
                _on(4, 28, 11),
            ),
        ],
    ),
    FileReviews(
        "textile",
        [
            DemoReview(
                "durand",
                (4, 4, 4, 3, 3),
                (
                    "Boutique solidaire classique, mais l'atelier de couture ouvert aux "
                    "habitants apporte une vraie plus-value.",
                    "5 postes dont 4 en insertion : conforme aux ambitions de l'appel.",
                    "Implantation en quartier prioritaire à Lormont, en lien avec le bailleur.",
                    "Les ventes prévues la première année paraissent optimistes : prévoir un "
                    "point d'étape.",
                    "Le lien avec Le Relais Gironde pour les textiles non revendus reste à "
                    "formaliser.",
                ),
                F,
                "Projet utile et bien porté ; réserve sur les ventes prévues, à suivre dans "
                "le compte rendu annuel.",
                _on(5, 3),
            ),
            DemoReview(
                "bertrand",
                (4, 5, 4, 4, 3),
                (
                    "Le tri par l'atelier et la revente sur place créent une filière courte de "
                    "réemploi textile.",
                    "Des emplois en insertion pour des femmes des quartiers : point fort du "
                    "dossier.",
                    "Bon ancrage à Lormont et à Cenon ; le PLIE des Hauts de Garonne oriente "
                    "les publics.",
                    "Structure expérimentée, budget cohérent avec son activité actuelle.",
                    "Partenariats annoncés mais peu détaillés.",
                ),
                F,
                "Avis favorable.",
                _on(4, 26, 10),
            ),
        ],
    ),
    FileReviews(
        "recyclerie",
        [
            DemoReview(
                "durand",
                (4, 4, 5, 3, 4),
                (
                    "La collecte au pied des immeubles est une approche originale du réemploi.",
                    "4 emplois dont 3 en insertion : correct au regard du montant demandé.",
                    "Trois points de collecte dans les quartiers prioritaires de la rive "
                    "droite, avec les bailleurs.",
                    "Le coût du camion-atelier et de son entretien pèse sur le budget ; les "
                    "ventes devront suivre.",
                    "Bonne articulation avec les régies de quartier.",
                ),
                F,
                "Projet pertinent ; vigilance sur l'équilibre économique du camion. Avis "
                "favorable.",
                _on(5, 4),
            ),
            DemoReview(
                "morel",
                (5, 4, 5, 4, 4),
                (
                    "Un service de proximité qui combine réemploi, lien social et emploi : "
                    "réponse nouvelle sur le territoire.",
                    "Créations d'emplois réalistes, encadrement prévu.",
                    "Excellente connaissance des quartiers de Cenon, Lormont et Floirac.",
                    "Plan de financement diversifié (État, Ville de Cenon, ventes).",
                    "Partenariat avec les bailleurs sociaux et la direction de la prévention "
                    "des déchets de la Métropole.",
                ),
                F,
                "Très bon dossier. Avis favorable.",
                _on(4, 29, 15),
            ),
        ],
    ),
    FileReviews(
        "regie",
        [
            DemoReview(
                "morel",
                (3, 4, 5, 3, 3),
                (
                    "Des services aux locataires déjà proposés ailleurs, mais la médiation par "
                    "des habitants salariés est intéressante.",
                    "4 emplois de proximité pour des habitants du quartier.",
                    "Ancrage très fort aux Coteaux, reconnu par les bailleurs et la Ville.",
                    "Financement dépendant des bailleurs, dont les conventions ne sont pas "
                    "encore signées.",
                    "Coopération réelle avec le centre social, moins avec les autres acteurs "
                    "de l'ESS.",
                ),
                F,
                "Projet de quartier solide ; le volet encombrants relève plutôt du marché de "
                "collecte. Avis favorable.",
                _on(5, 2, 16),
            ),
            DemoReview(
                None,
                (3, 3, 4, 3, 4),
                (
                    "Projet utile, peu innovant dans sa forme : les régies de quartier "
                    "proposent souvent ces services.",
                    "Les emplois annoncés sont crédibles, mais à temps partiel pour la plupart.",
                    "Bonne implantation dans le quartier prioritaire des Coteaux.",
                    "L'équilibre repose sur des conventions avec les bailleurs encore en "
                    "discussion.",
                    "Partenariat étroit avec les bailleurs et le centre social.",
                ),
                R,
                "Avis réservé : à soutenir si le volet encombrants est retiré et les "
                "conventions avec les bailleurs signées.",
                _on(5, 11, 10),
            ),
        ],
        conflict=DemoConflict(
            "bertrand",
            "J'ai accompagné la régie de quartier dans la préparation de ce projet comme "
            "consultant (mission du dispositif local d'accompagnement, 2015) : je ne peux pas "
            "l'évaluer.",
            paris(date(2016, 4, 7), 9, 40),
        ),
    ),
    FileReviews(
        "batir",
        [
            DemoReview(
                "nguyen",
                (4, 3, 4, 4, 5),
                (
                    "L'auto-réhabilitation accompagnée avec des matériaux de réemploi est une "
                    "approche nouvelle dans la métropole.",
                    "3 emplois d'encadrants techniques ; l'effet sur l'emploi des ménages "
                    "accompagnés est indirect.",
                    "Interventions à Bordeaux, Bègles et Bruges, avec le CCAS et l'Agence "
                    "locale de l'énergie.",
                    "Modèle de SCIC avec des prestations vendues aux bailleurs : prometteur.",
                    "Gouvernance multi-sociétaires exemplaire : artisans, bailleurs et habitants.",
                ),
                F,
                "Avis favorable.",
                _on(5, 6, 12),
            ),
            DemoReview(
                "bertrand",
                (4, 3, 3, 4, 5),
                (
                    "Réponse originale à la précarité énergétique.",
                    "Peu d'emplois créés directement.",
                    "Territoire d'intervention large, encore peu présent dans les quartiers "
                    "prioritaires.",
                    "Structure jeune mais budget réaliste, cofinancé par la Fondation Abbé Pierre.",
                    "La forme SCIC associe réellement les parties prenantes.",
                ),
                F,
                "Avis favorable, avec un suivi des emplois créés.",
                _on(5, 9),
            ),
        ],
    ),
    FileReviews(
        "velocargo",
        [
            DemoReview(
                "reviewer",
                (4, 3, 3, 3, 4),
                (
                    "La cyclologistique coopérative est nouvelle sur le territoire.",
                    "4 emplois de coursiers, avec un statut d'associé.",
                    "Service limité à Bègles et au sud de Bordeaux pour commencer.",
                    "Chiffre d'affaires très dépendant de quelques gros clients : à diversifier.",
                    "Lien avec l'association des commerçants et l'Union régionale des SCOP.",
                ),
                F,
                "Projet prometteur. Avis favorable.",
                _on(5, 10, 11),
            ),
            DemoReview(
                "morel",
                (3, 3, 3, 2, 4),
                (
                    "Plusieurs services de livraison à vélo se lancent : l'originalité tient "
                    "surtout au statut coopératif.",
                    "Emplois créés crédibles mais peu qualifiés.",
                    "Ancrage local encore à construire auprès des commerçants.",
                    "Montée en charge du chiffre d'affaires ambitieuse ; fonds propres faibles.",
                    "Bonne inscription dans le réseau des SCOP.",
                ),
                R,
                "Avis réservé : soutien possible pour un montant réduit, avec un point d'étape "
                "à un an.",
                _on(5, 12, 18),
            ),
        ],
    ),
    FileReviews(
        "epicerie",
        [
            DemoReview(
                "reviewer",
                (3, 1, 4, 2, 3),
                (
                    "Ateliers de cuisine à partir des invendus : démarche intéressante, déjà "
                    "présente dans d'autres épiceries solidaires.",
                    "Un seul emploi créé : très en deçà des attentes de l'appel.",
                    "Forte présence dans le quartier du Grand Parc, avec le centre social.",
                    "Budget dépendant des subventions (CAF, Ville) ; peu de ressources propres.",
                    "Partenariats solides avec la Banque alimentaire et le CCAS.",
                ),
                R,
                "Projet utile socialement mais peu créateur d'emplois : il relève davantage "
                "d'autres dispositifs. Avis réservé.",
                _on(5, 9, 15),
            ),
            DemoReview(
                "durand",
                (2, 1, 4, 2, 3),
                (
                    "Action éducative utile, peu innovante au sens de l'appel.",
                    "Aucun emploi pérenne au-delà d'un poste d'animateur.",
                    "Bon ancrage dans le quartier.",
                    "Modèle économique fragile, sans perspective d'autofinancement.",
                    "Réseau de partenaires sociaux bien mobilisé.",
                ),
                U,
                "Avis défavorable au titre de cet appel ; orienter la structure vers le "
                "dispositif local d'accompagnement et vers la CAF.",
                _on(5, 12, 9),
            ),
        ],
    ),
]

#: today's work: (call, organisation's key, reviewer's key, days until due, draft or None)
CURRENT = [
    (
        AAP_2023,
        "numerique",
        "reviewer",
        14,
        DemoReview(
            "reviewer",
            (4, 4, 3),
            (
                "Une filière locale du réemploi numérique, de la collecte à l'accompagnement "
                "des usages.",
                "10 techniciens formés en insertion et 5 emplois créés : à vérifier dans le "
                "budget 2024-2025.",
                "Trois communes de l'ouest ; les partenariats avec les collectivités restent "
                "à préciser.",
            ),
            None,
            "Brouillon : relire le budget prévisionnel avant de conclure.",
        ),
    ),
    (AAP_2023, "numerique", "morel", 14, None),
    (AIS_2016, "velocargo", "reviewer", 10, None),
]


class DemoReviewError(RuntimeError):
    """The review operations refused a demo step: the demo data is wrong."""


# --- helpers ------------------------------------------------------------------------------


def _application(call, organisation):
    from grants.applications.models import Application
    from grants.extensions import db

    return db.session.scalar(
        sa.select(Application)
        .where(Application.call_id == call.id, Application.organisation_id == organisation.id)
        .order_by(Application.id)
        .limit(1)
    )


def _settle_notifications(
    event: str, object_type: str, object_ids, when: datetime, recipient_id: int | None = None
) -> None:
    """Date the in-app notifications of a 2016 event, read then (the ledger's e-mails stay)."""
    from grants.extensions import db
    from grants.notifications.models import Notification

    ids = [str(i) for i in object_ids]
    if not ids:
        return
    db.session.execute(
        sa.update(Notification)
        .where(
            Notification.event == event,
            Notification.object_type == object_type,
            Notification.object_id.in_(ids),
            *([Notification.recipient_id == recipient_id] if recipient_id is not None else []),
        )
        .values(created_at=when, read_at=when + timedelta(hours=2))
        .execution_options(synchronize_session=False)
    )


def _score(review, reviewer, spec: DemoReview, criteria, submit: bool) -> None:
    from grants.reviews.operations import ReviewInput, save_review

    data = ReviewInput(
        scores={c.id: s for c, s in zip(criteria, spec.scores, strict=False)},
        comments={c.id: text for c, text in zip(criteria, spec.comments, strict=False)},
        opinion=spec.opinion,
        summary=spec.summary,
    )
    problems = save_review(review, reviewer, data, submit=submit)
    if problems:
        raise DemoReviewError(f"Évaluation de démonstration incomplète : {problems}")


# --- links and pools ----------------------------------------------------------------------


def load_links(users: dict, organisations: dict) -> None:
    from grants.reviews import queries, rules
    from grants.reviews.operations import add_link

    for spec in LINKS:
        reviewer = users[spec.reviewer]
        organisation = organisations[spec.organisation] if spec.organisation else None
        exists = any(
            (organisation is not None and link.organisation_id == organisation.id)
            or (
                organisation is None
                and link.organisation_id is None
                and rules.normalise_name(link.organisation_name) == rules.normalise_name(spec.name)
            )
            for link in queries.links_of(reviewer.id)
        )
        if exists:
            continue
        result = add_link(reviewer, spec.kind, organisation, spec.name, spec.note)
        if spec.declared is not None:
            result.link.declared_at = spec.declared


def load_pools(users: dict, calls: dict, staff) -> None:
    from grants.extensions import db
    from grants.reviews.models import CallReviewer
    from grants.reviews.operations import add_to_pool

    for prefix, keys in POOLS.items():
        call = calls[prefix].call
        for key in keys:
            if add_to_pool(call, staff, users[key]) and prefix == AAP_2016:
                db.session.flush()
                db.session.get(CallReviewer, (call.id, users[key].id)).added_at = POOLED_2016


# --- 2016 ---------------------------------------------------------------------------------


def _untouched(application) -> bool:
    """Under review, with no review, conflict or decision yet: the 2016 scenario applies."""
    from grants.applications.models import ApplicationStatus
    from grants.decisions.models import Decision
    from grants.extensions import db
    from grants.reviews.models import ConflictDeclaration, Review

    if application is None or application.status != ApplicationStatus.under_review:
        return False
    for model in (Review, ConflictDeclaration, Decision):
        found = db.session.scalar(
            sa.select(model.id).where(model.application_id == application.id).limit(1)
        )
        if found is not None:
            return False
    return True


def _review_2016(spec: FileReviews, application, users: dict, staff, criteria) -> None:
    from grants.reviews import operations as ops

    assigned_ids = []
    pairs = []  # (review, spec)
    for review_spec in spec.reviews:
        if review_spec.reviewer is None:
            continue
        review, _warnings = ops.assign(application, users[review_spec.reviewer], staff)
        assigned_ids.append(review.id)
        pairs.append((review, review_spec))
    if spec.conflict is not None:
        reviewer = users[spec.conflict.reviewer]
        review, _warnings = ops.assign(application, reviewer, staff)
        assigned_ids.append(review.id)
        result = ops.declare_conflict(review, reviewer, spec.conflict.reason)
        result.declaration.declared_at = spec.conflict.declared
        replacements = list(result.reassigned)
        if not replacements:
            raise DemoReviewError(
                f"Conflit sur « {application.title} » : aucun évaluateur de remplacement."
            )
        open_specs = [s for s in spec.reviews if s.reviewer is None]
        for review, review_spec in zip(replacements, open_specs, strict=False):
            review.assigned_at = spec.conflict.declared + timedelta(minutes=5)
            pairs.append((review, review_spec))
    for review, review_spec in pairs:
        if review.assigned_at.year != 2016:
            review.assigned_at = ASSIGNED_2016
        review.due_on = DUE_2016
        _score(review, review.reviewer, review_spec, criteria, submit=True)
        review.submitted_at = review_spec.submitted
    _settle_notifications("review.assigned", "review", assigned_ids, ASSIGNED_2016)
    for review, _spec in pairs:
        if review.assigned_at != ASSIGNED_2016:  # the reassignment after the conflict
            _settle_notifications(
                "review.assigned", "review", [review.id], review.assigned_at, review.reviewer_id
            )


def load_reviews_2016(users: dict, organisations: dict, calls: dict, staff) -> None:
    from grants.reviews import queries

    call = calls[AAP_2016].call
    criteria = queries.grid(call.id)
    for spec in REVIEWS_2016:
        application = _application(call, organisations[spec.org])
        if _untouched(application):
            _review_2016(spec, application, users, staff, criteria)


# --- today --------------------------------------------------------------------------------


def load_current_reviews(users: dict, organisations: dict, calls: dict, staff) -> None:
    from grants.reviews import operations as ops
    from grants.reviews import queries

    today = queries.today_paris()
    for prefix, org, key, days, draft in CURRENT:
        call = calls[prefix].call
        application = _application(call, organisations[org])
        reviewer = users[key]
        if application is None or application.status not in queries.REVIEWABLE:
            continue
        if reviewer.id in queries.existing_reviewers([application.id]).get(application.id, ()):
            continue
        if queries.declared_conflict_reason(reviewer, application):
            continue
        review, _warnings = ops.assign(application, reviewer, staff, today + timedelta(days=days))
        if draft is not None:
            _score(review, reviewer, draft, queries.grid(call.id), submit=False)


def load_reviews(users: dict, organisations: dict, calls: dict, staff) -> None:
    load_links(users, organisations)
    load_pools(users, calls, staff)
    load_reviews_2016(users, organisations, calls, staff)
    load_current_reviews(users, organisations, calls, staff)
