"""Demo accounts and organisations (structures porteuses).

The passwords are generated once per instance (``instance/demo_accounts.json``, mode
0600) rather than written in the repository, so a deployment that loads the demo by
mistake does not open with known passwords.

Organisations are found again by name (their demo identity); their SIRETs are valid
(the SIREN and the SIRET both pass the Luhn check, as ``python-stdnum`` requires).
"""

from __future__ import annotations

import json
import os
import secrets
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from grants.core.enums import Role

DEMO_USERS = [
    # key, e-mail, full name, roles
    ("admin", "admin@demo.grants.local", "Alice Administratrice", [Role.admin, Role.staff]),
    ("staff", "agent@demo.grants.local", "Sébastien Agent ESS", [Role.staff]),
    ("reviewer", "evaluatrice@jury.demo.grants.local", "Rachida Évaluatrice", [Role.reviewer]),
    ("applicant", "porteur@demo.grants.local", "Paul Porteur", []),
    ("applicant2", "cooperative@demo.grants.local", "Camille Coopératrice", []),
    # The members of the selection committee's panel of reviewers (see grants.demo.reviews).
    # Their addresses are on their own domain: the likely-conflict rule warns when a
    # reviewer shares an e-mail domain with a member of the file's organisation, and the
    # demo applicants are on demo.grants.local.
    ("durand", "m.durand@jury.demo.grants.local", "Michel Durand", [Role.reviewer]),
    ("nguyen", "s.nguyen@jury.demo.grants.local", "Sophie Nguyen", [Role.reviewer]),
    ("bertrand", "l.bertrand@jury.demo.grants.local", "Luc Bertrand", [Role.reviewer]),
    ("morel", "a.morel@jury.demo.grants.local", "Anne Morel", [Role.reviewer]),
]

#: the accounts printed by ``grants demo``, with their label
ACCOUNT_LABELS = {
    "admin": "Administrateur",
    "staff": "Agent du service ESS",
    "reviewer": "Évaluateur",
    "applicant": "Porteur de projet",
    "applicant2": "Porteur de projet",
    "durand": "Évaluateur",
    "nguyen": "Évaluateur",
    "bertrand": "Évaluateur",
    "morel": "Évaluateur",
}

#: ``key`` names the organisation in the demo files; ``siren8`` and ``nic4`` make its SIRET
DEMO_ORGANISATIONS = [
    {
        "key": "recyclerie",
        "members": ["applicant"],
        "name": "Recyclerie des Hauts de Garonne",
        "legal_form": "association",
        "siren8": "81234567",
        "nic4": "0001",
        "rna": "W332012345",
        "address": "12 avenue Jean Zay",
        "postal_code": "33150",
        "city": "Cenon",
        "commune_insee": "33119",
        "in_qpv": True,
        "esus_approved": True,
        "has_economic_activity": True,
        "employees": 9,
        "fte": Decimal("7.5"),
        "volunteers": 25,
    },
    {
        "key": "batir",
        "members": ["applicant2"],
        "name": "SCIC Bâtir Ensemble",
        "legal_form": "scic",
        "siren8": "82345678",
        "nic4": "0002",
        "rna": None,
        "address": "5 quai de Brazza",
        "postal_code": "33100",
        "city": "Bordeaux",
        "commune_insee": "33063",
        "in_qpv": False,
        "esus_approved": True,
        "has_economic_activity": True,
        "employees": 14,
        "fte": Decimal("12.8"),
        "volunteers": 3,
    },
    {
        "key": "jardins",
        "members": ["applicant"],
        "name": "Les Jardins de la Jalle",
        "legal_form": "association",
        "siren8": "79412358",
        "nic4": "0001",
        "rna": "W332008761",
        "address": "Chemin du Moulin de Bonneau",
        "postal_code": "33320",
        "city": "Eysines",
        "commune_insee": "33162",
        "in_qpv": False,
        "esus_approved": True,
        "has_economic_activity": True,
        "employees": 22,
        "fte": Decimal("16.4"),
        "volunteers": 18,
    },
    {
        "key": "epicerie",
        "members": ["applicant2"],
        "name": "Épicerie solidaire du Grand Parc",
        "legal_form": "association",
        "siren8": "80537216",
        "nic4": "0001",
        "rna": "W332011452",
        "address": "34 rue Robert Schuman",
        "postal_code": "33300",
        "city": "Bordeaux",
        "commune_insee": "33063",
        "in_qpv": True,
        "esus_approved": False,
        "has_economic_activity": False,
        "employees": 3,
        "fte": Decimal("2.6"),
        "volunteers": 41,
    },
    {
        "key": "textile",
        "members": ["applicant"],
        "name": "Atelier Tri Textile Rive Droite",
        "legal_form": "association",
        "siren8": "83190274",
        "nic4": "0003",
        "rna": "W332018833",
        "address": "8 rue Jean Lurçat",
        "postal_code": "33310",
        "city": "Lormont",
        "commune_insee": "33249",
        "in_qpv": True,
        "esus_approved": True,
        "has_economic_activity": True,
        "employees": 31,
        "fte": Decimal("24.3"),
        "volunteers": 6,
    },
    {
        "key": "velocargo",
        "members": ["applicant2"],
        "name": "Vélo-Cargo Solidaire",
        "legal_form": "scop",
        "siren8": "88407615",
        "nic4": "0001",
        "rna": None,
        "address": "41 rue Marcel Sembat",
        "postal_code": "33130",
        "city": "Bègles",
        "commune_insee": "33039",
        "in_qpv": False,
        "esus_approved": True,
        "has_economic_activity": True,
        "employees": 11,
        "fte": Decimal("10.2"),
        "volunteers": 0,
    },
    {
        "key": "regie",
        "members": ["applicant"],
        "name": "Régie de quartier des Coteaux",
        "legal_form": "association",
        "siren8": "42861937",
        "nic4": "0002",
        "rna": "W332003117",
        "address": "2 place du Marché",
        "postal_code": "33270",
        "city": "Floirac",
        "commune_insee": "33167",
        "in_qpv": True,
        "esus_approved": True,
        "has_economic_activity": False,
        "employees": 27,
        "fte": Decimal("19.5"),
        "volunteers": 12,
    },
    {
        "key": "numerique",
        "members": ["applicant2"],
        "name": "Les Ateliers du Réemploi Numérique",
        "legal_form": "association",
        "siren8": "90263148",
        "nic4": "0001",
        "rna": "W332024579",
        "address": "17 avenue de l'Yser",
        "postal_code": "33700",
        "city": "Mérignac",
        "commune_insee": "33281",
        "in_qpv": False,
        "esus_approved": True,
        "has_economic_activity": True,
        "employees": 7,
        "fte": Decimal("6.0"),
        "volunteers": 15,
    },
]


def demo_siret(siren8: str, nic4: str) -> str:
    """A SIRET whose SIREN (8 digits + Luhn key) and whole number both pass the Luhn check."""
    from stdnum import luhn

    siren = siren8 + luhn.calc_check_digit(siren8)
    base = siren + nic4
    return base + luhn.calc_check_digit(base)


def _passwords() -> dict[str, str]:
    path = Path(current_app.config["INSTANCE_PATH"]) / "demo_accounts.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for key, *_ in DEMO_USERS:
        if key not in stored:
            stored[key] = "demo-" + secrets.token_urlsafe(12)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh, indent=2)
    return stored


def load_users() -> tuple[dict, dict]:
    """Create the missing accounts; ``(users by key, {key: (email, password, roles)})``."""
    from grants.accounts.operations import create_user, find_user_by_email

    passwords = _passwords()
    users: dict = {}
    accounts = {}
    for key, email, name, roles in DEMO_USERS:
        user = find_user_by_email(email)
        if user is None:
            user = create_user(email, passwords[key], full_name=name, roles=roles, confirmed=True)
        users[key] = user
        accounts[key] = (email, passwords[key], sorted({Role.applicant, *roles}))
    return users, accounts


def load_organisations(users: dict) -> dict:
    """Create the missing organisations; ``{key: Organisation}``.

    An organisation loaded by an earlier version of the demo (same name, a SIRET whose
    SIREN failed the check) gets its valid SIRET, recorded like any change.
    """
    from grants.audit.operations import record
    from grants.extensions import db
    from grants.organisations.models import LegalForm, Membership, Organisation
    from grants.organisations.rules import siret_problem

    organisations = {}
    for spec in DEMO_ORGANISATIONS:
        spec = dict(spec)
        key = spec.pop("key")
        members = spec.pop("members")
        siret = demo_siret(spec.pop("siren8"), spec.pop("nic4"))
        org = db.session.scalar(
            sa.select(Organisation)
            .where(sa.or_(Organisation.siret == siret, Organisation.name == spec["name"]))
            .order_by(Organisation.id)
            .limit(1)
        )
        if org is not None:
            if org.siret != siret and siret_problem(org.siret) is not None:
                record(
                    users[members[0]],
                    "organisation.update",
                    org,
                    summary=f"SIRET de démonstration corrigé pour {org.name}",
                    changes={"siret": [org.siret, siret]},
                )
                org.siret = siret
            organisations[key] = org
            continue
        org = Organisation(siret=siret, **{**spec, "legal_form": LegalForm(spec["legal_form"])})
        org.memberships = [Membership(user=users[m]) for m in members]
        db.session.add(org)
        db.session.flush()
        record(users[members[0]], "organisation.create", org, summary=f"Création de {org.name}")
        organisations[key] = org
    return organisations
