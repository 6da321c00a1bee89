"""Pure rules on organisation data: identifiers, headcounts, ESS legal forms.

No Flask, no database: the form, the JSON API and later the eligibility checks all call
these functions, so that a value is accepted or refused the same way everywhere, with
the same French message.

Decisions:

* The SIRET may be typed with spaces or dots (``732 829 320 00074``); they are removed.
  Validation is python-stdnum's (Luhn on the SIRET and on its SIREN, La Poste exception).
* The RNA number (``W`` + 9 digits) is required for an association and **refused** for
  every other legal form: an RNA on a cooperative or a company is a typing mistake, and
  refusing it says so instead of silently dropping what the user typed.
* ESS forms (loi du 31 juillet 2014, art. 1) are associations, cooperatives (SCOP, SCIC,
  others), mutuals and foundations; a commercial company counts only with the ESUS
  approval (agrément « entreprise solidaire d'utilité sociale »).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.fr import siret as stdnum_siret

#: legal forms of the social and solidarity economy by law (values of ``LegalForm``)
ESS_LEGAL_FORMS = frozenset({"association", "scop", "scic", "cooperative", "mutual", "foundation"})
#: forms that are ESS only with the ESUS approval
ESUS_DEPENDENT_FORMS = frozenset({"esus_company", "other"})

MAX_COUNT = 1_000_000
#: ``Numeric(8, 2)``
MAX_FTE = Decimal("999999.99")

_SEPARATORS = re.compile(r"[\s.\u00a0\u202f-]")
_RNA = re.compile(r"W\d{9}")
_POSTAL_CODE = re.compile(r"\d{5}")
_SPACES = re.compile(r"[\s\u00a0\u202f]")


def clean_siret(value: str | None) -> str:
    """The SIRET without the spaces, dots or dashes people type in it."""
    return _SEPARATORS.sub("", value or "")


def siret_problem(value: str | None) -> str | None:
    """None when ``value`` is a valid SIRET, else a French message for the user."""
    number = clean_siret(value)
    if not number:
        return "Indiquez le numéro SIRET de la structure (14 chiffres)."
    if not number.isdigit() or len(number) != 14:
        return (
            "Le SIRET doit comporter exactement 14 chiffres "
            f"(vous en avez saisi {sum(c.isdigit() for c in number)})."
            if number.isdigit()
            else "Le SIRET ne doit contenir que des chiffres (14 chiffres)."
        )
    try:
        stdnum_siret.validate(number)
    except InvalidChecksum:
        return (
            "Ce numéro SIRET n'est pas valide : sa clé de contrôle est incorrecte. "
            "Vérifiez-le sur l'avis de situation INSEE ou sur annuaire-entreprises.data.gouv.fr."
        )
    except ValidationError:
        return "Ce numéro SIRET n'est pas valide."
    return None


def siren_of(siret: str) -> str:
    """The SIREN (the company) of a SIRET (one of its establishments): its first 9 digits."""
    return clean_siret(siret)[:9]


def format_siret(siret: str) -> str:
    number = clean_siret(siret)
    if len(number) != 14:
        return number
    return f"{number[:3]} {number[3:6]} {number[6:9]} {number[9:]}"


def format_siren(siren: str) -> str:
    return " ".join(siren[i : i + 3] for i in range(0, len(siren), 3))


def clean_rna(value: str | None) -> str:
    return _SEPARATORS.sub("", value or "").upper()


def rna_problem(value: str | None, legal_form: str | None) -> str | None:
    """None when the RNA number suits the legal form, else a French message."""
    rna = clean_rna(value)
    if legal_form == "association":
        if not rna:
            return "Le numéro RNA est obligatoire pour une association (W suivi de 9 chiffres)."
        if not _RNA.fullmatch(rna):
            return "Le numéro RNA commence par W suivi de 9 chiffres (par exemple W332001234)."
        return None
    if rna:
        return "Le numéro RNA ne concerne que les associations : laissez ce champ vide."
    return None


def is_ess_form(legal_form: str | None, esus_approved: bool) -> bool:
    """Does this legal form belong to the ESS (for eligibility)?"""
    if legal_form in ESS_LEGAL_FORMS:
        return True
    return legal_form in ESUS_DEPENDENT_FORMS and bool(esus_approved)


def postal_code_problem(value: str | None) -> str | None:
    code = (value or "").strip()
    if not code:
        return "Indiquez le code postal."
    if not _POSTAL_CODE.fullmatch(code):
        return "Le code postal comporte 5 chiffres (par exemple 33000)."
    return None


def parse_count(value) -> int:
    """A headcount typed by a person (``"12"``); ``ValueError`` with a French message."""
    text = _SPACES.sub("", str(value if value is not None else ""))
    if not text:
        raise ValueError("Indiquez un nombre (0 si aucun).")
    if text.startswith("-") and text[1:].isdigit():
        raise ValueError("Le nombre ne peut pas être négatif.")
    if not text.isdigit():
        raise ValueError("Indiquez un nombre entier, sans décimale.")
    number = int(text)
    if number > MAX_COUNT:
        raise ValueError(f"Le nombre ne peut pas dépasser {MAX_COUNT:,}.".replace(",", " "))
    return number


def parse_fte(value) -> Decimal:
    """Full-time equivalents, e.g. ``"2,5"``: a Decimal ≥ 0 with at most 2 decimals."""
    text = _SPACES.sub("", str(value if value is not None else "")).replace(",", ".")
    if not text:
        raise ValueError("Indiquez le nombre d'équivalents temps plein (0 si aucun).")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError("Indiquez un nombre, par exemple 2,5.") from None
    if not number.is_finite():
        raise ValueError("Indiquez un nombre, par exemple 2,5.")
    if number < 0:
        raise ValueError("Le nombre d'équivalents temps plein ne peut pas être négatif.")
    if number > MAX_FTE:
        raise ValueError("Ce nombre d'équivalents temps plein est trop grand.")
    if number != number.quantize(Decimal("0.01")):
        raise ValueError("Indiquez au plus 2 décimales (par exemple 2,75).")
    return number.quantize(Decimal("0.01"))


def format_fte(value: Decimal | None) -> str:
    """``Decimal("2.50")`` → ``"2,5"`` (as a person would type it back)."""
    if value is None:
        return ""
    text = f"{value.quantize(Decimal('0.01')):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def sort_key_fr(name: str) -> str:
    """Sort French names as a person expects (accents ignored: Bègles before Blanquefort)."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
