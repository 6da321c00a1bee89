"""The French texts of the demo calls (Markdown, rendered and sanitised on display).

Drawn from the seeds: the 2016–2018 action plan (« appel à projets » of section 1.2,
« accompagner les structures dans leurs investissements » of section 1.3) and the
2022–2026 plan (its four priority sectors).
"""

from __future__ import annotations

AAP_2016_SUMMARY = (
    "Soutenir sur trois ans, de façon dégressive, 5 à 6 projets d'innovation sociale "
    "créateurs d'emplois portés par des structures de l'économie sociale et solidaire "
    "de la métropole."
)

AAP_2016_DESCRIPTION = """\
En 2015, Bordeaux Métropole a consacré **69 400 €** au soutien de projets dans le champ de \
l'économie sociale et solidaire et de l'insertion par l'activité économique. À partir de \
2016, ce soutien prend la forme d'un **appel à projets**, afin de mieux cibler \
l'intervention métropolitaine.

## Objectifs

- promouvoir la **création, la reprise et le développement** de structures relevant de \
l'ESS ou intégrant des pratiques inspirées de l'ESS ;
- favoriser l'émergence de projets d'**innovation socio-économique** dans des filières à \
potentiel d'emploi ;
- soutenir l'**insertion** des publics en difficulté (demandeurs d'emploi de longue durée, \
jeunes, femmes, habitants des quartiers prioritaires de la politique de la ville).

## Projets attendus

Tout domaine d'activité de l'économie sociale et solidaire, dès lors que le projet apporte \
une **réponse innovante à des besoins sociaux peu ou mal satisfaits** sur le territoire, en \
lien avec les compétences de Bordeaux Métropole, et qu'il est **créateur d'emplois**.

## Une aide sur trois ans, dégressive

L'appel retiendra **5 à 6 projets**. L'aide est accordée pour **trois ans** et elle est \
**dégressive** : elle permet l'amorçage de l'action puis sa pérennisation, avec un \
désengagement progressif de la Métropole.

| Année | 2016 | 2017 | 2018 |
|---|---|---|---|
| Enveloppe de l'appel à projets | 60 000 € | 55 000 € | 50 000 € |

Si l'enveloppe complémentaire proposée au budget 2016 ne pouvait être dégagée, l'appel à \
projets serait ramené à une enveloppe totale de **30 500 €** ; il pourrait alors être \
complété par une aide en investissement.
"""

AAP_2016_RULES = """\
## Article 1 – Objet

Le présent règlement fixe les conditions de l'appel à projets 2016 de Bordeaux Métropole \
en faveur de l'économie sociale et solidaire (plan d'actions 2016-2018, action 1.2).

## Article 2 – Structures éligibles

Peuvent candidater les associations, coopératives (SCOP, SCIC et autres coopératives), \
mutuelles, fondations et sociétés commerciales agréées ESUS dont le siège ou le projet \
est situé dans l'une des **28 communes** de la métropole. La structure dispose d'un \
numéro SIRET valide ; les associations indiquent leur numéro RNA.

## Article 3 – Projets éligibles

Le projet répond à un besoin social peu ou mal satisfait sur le territoire, relève des \
compétences de la Métropole et crée des emplois. Il se déroule sur trois années \
(2016, 2017 et 2018).

## Article 4 – Montant de l'aide

- L'aide est versée sur trois ans et elle est **dégressive** : le montant demandé pour \
chaque année est inférieur à celui de l'année précédente.
- Le montant total demandé ne peut dépasser **40 000 €** par projet.
- Le budget prévisionnel du projet est présenté pour chaque année selon le plan comptable \
associatif (Cerfa 12156) et doit être **équilibré**.
- Les structures ayant une activité économique déclarent les aides *de minimis* reçues \
au cours des trois dernières années.

## Article 5 – Dossier de candidature

Le dossier est déposé en ligne avant la date limite, accompagné des pièces demandées : \
statuts, derniers comptes approuvés, relevé d'identité bancaire et budget prévisionnel de \
la structure. Un accusé de réception est délivré au dépôt.

## Article 6 – Sélection

Les dossiers recevables sont évalués par deux évaluateurs selon la grille suivante :

| Critère | Poids |
|---|---|
| Innovation sociale | 30 |
| Création d'emplois | 25 |
| Ancrage territorial | 20 |
| Viabilité économique | 15 |
| Coopération | 10 |

Chaque critère est noté de 0 à 5. Le comité de sélection propose les lauréats au conseil \
de Métropole, qui attribue les subventions par délibération.

## Article 7 – Engagements du lauréat

Le lauréat signe une convention pluriannuelle, mentionne le soutien de Bordeaux Métropole \
et remet chaque année un compte rendu financier (Cerfa 15059) de l'action.
"""

AIS_2016_SUMMARY = (
    "Participer, aux côtés des autres financeurs, aux investissements immobiliers ou "
    "matériels des structures de l'insertion par l'activité économique et de l'ESS qui "
    "créent des emplois."
)

AIS_2016_DESCRIPTION = """\
Enracinées sur le territoire avec une plus-value sociale, tout en respectant \
l'environnement, les activités de l'économie sociale et solidaire sont un enjeu majeur du \
développement économique de la métropole. Bordeaux Métropole participe donc directement \
aux **tours de table financiers**, aux côtés des autres partenaires publics, des \
investissements **immobiliers et matériels** des structures qui œuvrent dans le champ de \
l'**insertion par l'activité économique** et qui mènent des actions inclusives en direction \
des publics fragilisés (chômeurs, femmes, jeunes) ou issus des quartiers prioritaires de \
la politique de la ville.

C'est une autre manière d'aider des projets **matures**, dans leur phase de développement, \
à créer des emplois.

## Exemples de projets soutenus en 2015

- **Le Relais** : 100 000 € pour une chaîne de tri sur son nouveau site de Bordeaux Nord \
(30 emplois existants, 24 emplois créés) ;
- **Bordeaux Inter Challenge** : 60 000 € pour l'aménagement de ses nouveaux locaux à \
Bordeaux (8 emplois créés).

## Enveloppe

**159 000 €** pour 2016 (programmation pluriannuelle des investissements 2015-2020). Les \
dossiers sont reçus au fil de l'eau et instruits dans l'ordre de leur dépôt, dans la limite \
de l'enveloppe.
"""

AIS_2016_RULES = """\
## Article 1 – Objet

Aide à l'investissement immobilier ou matériel des structures de l'économie sociale et \
solidaire (plan d'actions 2016-2018, action 1.3). Cette intervention est mise en œuvre \
dans le respect de la loi NOTRe et en coordination avec la Région.

## Article 2 – Structures éligibles

Structures de l'ESS (associations, coopératives, mutuelles, fondations, sociétés agréées \
ESUS) dont le siège ou le projet est situé dans l'une des 28 communes de la métropole, en \
priorité celles de l'insertion par l'activité économique.

## Article 3 – Dépenses éligibles

Acquisition de matériel et d'équipements, travaux d'aménagement de locaux, véhicules \
nécessaires à l'activité. Les frais de fonctionnement, de déménagement et les dépenses \
engagées avant le dépôt du dossier ne sont pas éligibles.

## Article 4 – Montant de l'aide

- L'aide de la Métropole représente au plus **30 % des dépenses éligibles** ;
- elle est plafonnée à **100 000 €** par projet ;
- le plan de financement présente **tous les cofinanceurs** (Région, Département, \
communes, fonds européens, France Active, prêts bancaires, fonds propres…) et doit être \
**équilibré** avec le coût total du programme.

## Article 5 – Aides d'État

L'aide est accordée au titre du règlement *de minimis* : la structure déclare les aides de \
minimis reçues au cours des trois dernières années (300 000 € au plus sur trois ans \
glissants).

## Article 6 – Dossier

Le dossier comprend les statuts, les derniers comptes approuvés, un relevé d'identité \
bancaire, les devis des investissements et, le cas échéant, les lettres d'engagement des \
cofinanceurs.
"""

AAP_2023_SUMMARY = (
    "Accompagner le développement et le changement d'échelle des projets de l'ESS dans "
    "les quatre filières prioritaires du plan 2022-2026 : logistique décarbonée, économie "
    "circulaire, écoconstruction et habitat, économie de proximité."
)

AAP_2023_DESCRIPTION = """\
Le plan d'actions 2022-2026 de Bordeaux Métropole en faveur de l'économie sociale et \
solidaire **focalise les soutiens directs aux projets sur quatre secteurs économiques**, \
identifiés lors de la consultation des acteurs et en cohérence avec le schéma de \
développement économique métropolitain :

1. **la logistique zéro carbone** (cyclologistique, points logistiques de proximité) ;
2. **l'économie circulaire** (réemploi, réparation, biodéchets, consigne, matériels \
numériques reconditionnés…) ;
3. **l'écoconstruction et l'habitat** (réemploi des matériaux du BTP, coopérations entre \
acteurs de l'habitat) ;
4. **l'économie de proximité** (ponts entre artisans, commerçants et acteurs de l'ESS, \
entrepreneuriat coopératif, services aux commerçants dans leurs transitions).

## Projets attendus

Des projets **matures** qui souhaitent recruter, consolider leur modèle économique ou \
changer d'échelle, portés par une structure seule ou, de préférence, par un **collectif \
d'acteurs**.

## Enveloppe

La ligne « Soutiens directs aux projets » du plan d'actions est dotée de **145 000 € par \
an**. L'aide est accordée sur trois ans et elle est dégressive (profil 50 % / 30 % / 20 % \
du montant accordé).
"""

AAP_2023_RULES = """\
## Article 1 – Objet

Appel à projets 2023 du plan d'actions ESS 2022-2026 (action 2.1 : appui financier au \
changement d'échelle et au développement dans les filières prioritaires).

## Article 2 – Structures éligibles

Associations, coopératives, mutuelles, fondations et sociétés commerciales agréées ESUS \
dont le siège ou le projet est situé dans l'une des 28 communes de la métropole.

## Article 3 – Secteurs

Le projet relève de l'un des quatre secteurs prioritaires : logistique décarbonée, \
économie circulaire, écoconstruction et habitat, économie de proximité.

## Article 4 – Montant de l'aide

- Aide sur trois années budgétaires (2023, 2024, 2025), **dégressive** ;
- **60 000 €** au plus par projet sur les trois ans ;
- budget prévisionnel par année équilibré (plan comptable associatif, Cerfa 12156) ;
- déclaration des aides *de minimis* pour les structures ayant une activité économique.

## Article 5 – Sélection

Grille d'évaluation : innovation sociale (30), création d'emplois (25), ancrage \
territorial (20), viabilité économique (15), coopération (10), chaque critère noté de 0 \
à 5. Les projets portés en collectif sont appréciés au titre de la coopération.
"""
