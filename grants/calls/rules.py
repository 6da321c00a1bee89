"""Pure rules on calls: amounts, windows, budget years, the degressive profile, the grid.

No Flask, no database: the staff form and the JSON API both call these functions, so a
value is accepted or refused the same way everywhere, with the same French message.

Decisions:

* **Profile representation.** A profile is a list of ``Decimal`` weights, one per budget
  year, with at most :data:`PROFILE_PLACES` decimal places. The derived profile
  (``w_k = E_k / ΣE``, DESIGN §4) is an exact fraction that rarely has a finite decimal
  form, so each weight is rounded *down* to 6 places and the remainder (less than
  ``K · 10⁻⁶``) is added to the first weight: the weights then sum to exactly 1 and stay
  strictly decreasing (the first one only grows). When rounding makes two weights equal
  or one of them zero (envelopes closer than a millionth of the total), no profile is
  derived: the call must then configure one, like for envelopes that don't decrease.
* **Money** is typed the French way (``60 000,00``, ``60000``, ``60 000 €``) or with a
  decimal point; at most two decimals; parsed to ``Decimal``, never ``float``.
* **Times** are entered in Europe/Paris local time and stored in UTC. A local time that
  doesn't exist (the spring-forward hour) is refused; an ambiguous one (the autumn
  hour that happens twice) is read as its first occurrence (``fold=0``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

#: decimal places of profile weights
PROFILE_PLACES = 6
PROFILE_UNIT = Decimal(1).scaleb(-PROFILE_PLACES)
#: ``Numeric(14, 2)``
MAX_AMOUNT = Decimal("999999999999.99")
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_YEARS = 10
MAX_SCALE = 100
MAX_WEIGHT = 1000
#: the format of ``<input type=datetime-local>``
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"

_SPACES = re.compile(r"[\s\u00a0\u202f]")
_AMOUNT = re.compile(r"\d+(?:[.,]\d{1,2})?")
_PREFIX = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")


# --- parsing ---------------------------------------------------------------------------


def parse_money(text: str | int | Decimal | None) -> Decimal | None:
    """``"60 000,00"`` → ``Decimal("60000.00")``; empty → None; ValueError in French."""
    if text is None:
        return None
    if isinstance(text, float) or isinstance(text, bool):
        raise ValueError("Indiquez le montant sous forme de texte, par exemple « 60 000,00 ».")
    if isinstance(text, int):
        text = str(text)
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise ValueError("Ce montant n'est pas valide.")
        text = format(text, "f")
    cleaned = _SPACES.sub("", text).removesuffix("€").removesuffix("EUR")
    if not cleaned:
        return None
    if cleaned.startswith("-"):
        raise ValueError("Le montant ne peut pas être négatif.")
    if not _AMOUNT.fullmatch(cleaned):
        raise ValueError(
            "Montant invalide : tapez des chiffres, avec au plus deux décimales "
            "après la virgule (par exemple 60 000 ou 60 000,50)."
        )
    amount = Decimal(cleaned.replace(",", ".")).quantize(Decimal("0.01"))
    if amount > MAX_AMOUNT:
        raise ValueError("Ce montant est trop élevé.")
    return amount


def parse_percentage(text: str | int | Decimal | None) -> Decimal | None:
    """A percentage typed by staff (``"50"``, ``"33,33 %"``) → a share (``Decimal("0.3333")``)."""
    if text is None:
        return None
    if isinstance(text, float) or isinstance(text, bool):
        raise ValueError("Indiquez le pourcentage sous forme de texte, par exemple « 50 ».")
    cleaned = _SPACES.sub("", str(text) if not isinstance(text, Decimal) else format(text, "f"))
    cleaned = cleaned.removesuffix("%")
    if not cleaned:
        return None
    if not _AMOUNT.fullmatch(cleaned):
        raise ValueError(
            "Pourcentage invalide : tapez un nombre entre 0 et 100, "
            "avec au plus deux décimales (par exemple 50 ou 33,33)."
        )
    percent = Decimal(cleaned.replace(",", "."))
    if not Decimal(0) < percent <= Decimal(100):
        raise ValueError("Le pourcentage doit être compris entre 0 (exclu) et 100.")
    return (percent / 100).quantize(Decimal("0.0001"))


def share_to_percentage(share: Decimal | None) -> str:
    """``Decimal("0.3333")`` → ``"33,33"`` (for the form and the pages)."""
    if share is None:
        return ""
    percent = (share * 100).normalize()
    text = format(
        percent.quantize(Decimal(1)) if percent == percent.to_integral() else percent, "f"
    )
    return text.replace(".", ",")


def parse_int(
    text: str | int | None, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """A whole number typed in a form (``"3"``); empty → None; ValueError in French."""
    if text is None:
        return None
    if isinstance(text, bool):
        raise ValueError("Indiquez un nombre entier.")
    if isinstance(text, int):
        value = text
    else:
        cleaned = _SPACES.sub("", str(text))
        if not cleaned:
            return None
        if not re.fullmatch(r"-?\d+", cleaned):
            raise ValueError("Indiquez un nombre entier, sans virgule (par exemple 3).")
        value = int(cleaned)
    if minimum is not None and value < minimum:
        raise ValueError(f"Indiquez un nombre supérieur ou égal à {minimum}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"Indiquez un nombre inférieur ou égal à {maximum}.")
    return value


def parse_weight(text: str | Decimal | None) -> Decimal | None:
    """A profile weight typed as ``0,36`` or ``0.36``; empty → None."""
    if text is None:
        return None
    if isinstance(text, float) or isinstance(text, bool):
        raise ValueError("Indiquez le poids sous forme de texte, par exemple « 0,36 ».")
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise ValueError("Ce poids n'est pas valide.")
        return text
    cleaned = _SPACES.sub("", str(text))
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned.replace(",", "."))
    except InvalidOperation as exc:
        raise ValueError("Poids invalide : tapez un nombre décimal, par exemple 0,36.") from exc
    if not value.is_finite() or not re.fullmatch(r"-?(\d+[.,]?\d*|[.,]\d+)", cleaned):
        raise ValueError("Poids invalide : tapez un nombre décimal, par exemple 0,36.")
    return value


def paris_to_utc(local: datetime) -> datetime:
    """A naive Europe/Paris wall-clock time → an aware UTC datetime (ValueError if it never
    happens: the spring-forward hour)."""
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    aware = local.replace(tzinfo=PARIS, fold=0)
    if aware.astimezone(UTC).astimezone(PARIS).replace(tzinfo=None) != local:
        raise ValueError(
            "Cette heure n'existe pas à Paris (passage à l'heure d'été) : "
            "choisissez une heure en dehors de 2 h – 3 h ce jour-là."
        )
    return aware.astimezone(UTC)


def parse_local_datetime(text: str | None) -> datetime | None:
    """``"2016-03-01T09:00"`` (Europe/Paris, as sent by ``datetime-local``) → aware UTC."""
    if text is None:
        return None
    cleaned = text.strip()
    if not cleaned:
        return None
    for fmt in (LOCAL_FORMAT, "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M"):
        try:
            local = datetime.strptime(cleaned, fmt)  # noqa: DTZ007 (Paris wall clock)
        except ValueError:
            continue
        return paris_to_utc(local)
    raise ValueError(
        "Date et heure invalides : utilisez le format jj/mm/aaaa hh:mm (heure de Paris)."
    )


def to_local_input(value: datetime | None) -> str:
    """An aware UTC datetime → the ``datetime-local`` value in Europe/Paris."""
    if value is None:
        return ""
    return value.astimezone(PARIS).strftime(LOCAL_FORMAT)


def parse_iso_datetime(text: str | None) -> datetime | None:
    """An ISO 8601 date-time of the API; without an offset it is read as Paris time."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError("Indiquez une date et heure ISO 8601, par exemple 2016-03-01T09:00+01:00.")
    cleaned = text.strip()
    if not cleaned:
        return None
    try:
        value = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            "Indiquez une date et heure ISO 8601, par exemple 2016-03-01T09:00+01:00."
        ) from exc
    return paris_to_utc(value)


def parse_lines(text: str | None) -> list[str]:
    """One item per non-empty line, trimmed, duplicates dropped (first kept)."""
    items: list[str] = []
    for line in (text or "").splitlines():
        item = " ".join(line.split())
        if item and item not in items:
            items.append(item)
    return items


# --- the reference prefix ----------------------------------------------------------------


def clean_prefix(value: str | None) -> str:
    return _SPACES.sub("", value or "").upper()


def prefix_problem(value: str | None) -> str | None:
    prefix = clean_prefix(value)
    if not prefix:
        return "Indiquez le préfixe des références des dossiers (par exemple AAP-2016)."
    if len(prefix) > 20:
        return "Le préfixe fait au plus 20 caractères."
    if not _PREFIX.fullmatch(prefix):
        return (
            "Le préfixe ne contient que des lettres sans accent, des chiffres et des tirets "
            "entre eux (par exemple AAP-2016)."
        )
    return None


# --- the window ----------------------------------------------------------------------------


def window_problems(opens: datetime | None, closes: datetime | None) -> list[str]:
    """Why the window ``[opens, closes)`` is not acceptable (missing values aside)."""
    if opens is None or closes is None:
        return []
    if closes <= opens:
        return ["La clôture doit être postérieure à l'ouverture."]
    return []


def extension_problem(old_closes: datetime, new_closes: datetime | None) -> str | None:
    """Once files are submitted, the closing time may only move later."""
    if new_closes is None:
        return "Indiquez la date et l'heure de clôture."
    if new_closes < old_closes:
        return (
            "Des dossiers ont déjà été déposés : la clôture ne peut plus être avancée, "
            "seulement reportée."
        )
    if new_closes == old_closes:
        return "La nouvelle clôture doit être postérieure à la clôture actuelle."
    return None


# --- budget years and the degressive profile -----------------------------------------------


def years_problems(years: Sequence[tuple[int | None, Decimal | None]]) -> list[str]:
    """Budget years: at least one, consecutive, each with an envelope (≥ 0)."""
    problems: list[str] = []
    if not years:
        return ["Indiquez au moins une année budgétaire avec son enveloppe."]
    if len(years) > MAX_YEARS:
        problems.append(f"Un appel couvre au plus {MAX_YEARS} années budgétaires.")
    seen: list[int] = []
    for n, (year, envelope) in enumerate(years, start=1):
        if year is None:
            problems.append(f"Ligne {n} : indiquez l'année.")
        elif not MIN_YEAR <= year <= MAX_YEAR:
            problems.append(
                f"Ligne {n} : l'année doit être comprise entre {MIN_YEAR} et {MAX_YEAR}."
            )
        elif year in seen:
            problems.append(f"L'année {year} figure deux fois.")
        else:
            seen.append(year)
        if envelope is None:
            problems.append(f"Ligne {n} : indiquez l'enveloppe de l'année.")
        elif envelope < 0:
            problems.append(f"Ligne {n} : l'enveloppe ne peut pas être négative.")
    if not problems and sorted(seen) != list(range(min(seen), min(seen) + len(seen))):
        problems.append("Les années budgétaires doivent se suivre (par exemple 2016, 2017, 2018).")
    return problems


def _strictly_decreasing(values: Sequence[Decimal]) -> bool:
    return all(a > b for a, b in zip(values, values[1:], strict=False))


def default_profile(envelopes: Sequence[Decimal]) -> list[Decimal] | None:
    """``w_k = E_k / ΣE`` when the envelopes strictly decrease (and are positive), else None.

    Rounded down to :data:`PROFILE_PLACES` places, the remainder on the first weight: the
    result sums to exactly 1 and is strictly decreasing (see the module docstring).
    """
    if not envelopes or any(e <= 0 for e in envelopes) or not _strictly_decreasing(envelopes):
        return None
    # Exact integer arithmetic on cents: floor(10⁶ · E_k / ΣE), no Decimal context rounding.
    cents = [int((Decimal(e) * 100).to_integral_value()) for e in envelopes]
    total = sum(cents)
    scale = 10**PROFILE_PLACES
    weights = [Decimal(c * scale // total).scaleb(-PROFILE_PLACES) for c in cents]
    weights[0] += Decimal(1) - sum(weights, Decimal(0))
    if weights[-1] <= 0 or not _strictly_decreasing(weights):
        return None
    return weights


def profile_problems(weights: Sequence[str | Decimal | None], years: Sequence | int) -> list[str]:
    """A configured profile: one weight per year, each > 0, strictly decreasing, Σ = 1."""
    count = years if isinstance(years, int) else len(years)
    if len(weights) != count or any(w is None for w in weights):
        return [
            f"Indiquez un poids par année budgétaire ({count} attendu{'s' if count > 1 else ''}), "
            "ou aucun pour dériver le profil des enveloppes."
        ]
    values: list[Decimal] = []
    for n, raw in enumerate(weights, start=1):
        try:
            value = raw if isinstance(raw, Decimal) else parse_weight(raw)
        except ValueError as exc:
            return [f"Poids {n} : {exc}"]
        if value is None or not value.is_finite():
            return [f"Poids {n} : indiquez un nombre décimal."]
        values.append(value)
    problems: list[str] = []
    if any(v <= 0 for v in values):
        problems.append("Chaque poids doit être strictement positif.")
    if any(-v.as_tuple().exponent > PROFILE_PLACES for v in values if v.is_finite()):
        problems.append(f"Chaque poids a au plus {PROFILE_PLACES} décimales.")
    if not _strictly_decreasing(values):
        problems.append(
            "Le profil doit être strictement dégressif : chaque année reçoit moins que la "
            "précédente."
        )
    total = sum(values, Decimal(0))
    if total != 1:
        problems.append(
            f"La somme des poids doit valoir exactement 1 (elle vaut {format(total, 'f')})."
        )
    return problems


def effective_profile(
    configured: Sequence[str | Decimal] | None, envelopes: Sequence[Decimal]
) -> list[Decimal] | None:
    """The profile used for schedules: the configured one, else the derived one."""
    if configured:
        return [Decimal(str(w)) for w in configured]
    return default_profile(envelopes)


def profile_source_problem(
    configured: Sequence[str | Decimal | None] | None, envelopes: Sequence[Decimal]
) -> list[str]:
    """Problems of the profile a call would use (configured and valid, or derivable)."""
    if configured:
        return profile_problems(list(configured), len(envelopes))
    if default_profile(envelopes) is None:
        return [
            "Les enveloppes ne sont pas strictement décroissantes (ou sont trop proches) : "
            "le profil dégressif ne peut pas en être dérivé. Indiquez un poids par année."
        ]
    return []


# --- documents and the scoring grid -------------------------------------------------------


def documents_problems(documents: Iterable[dict], file_types: Iterable[str]) -> list[str]:
    """Required documents: a label each, unique; accepted types among ``file_types``."""
    known = set(file_types)
    problems: list[str] = []
    seen: set[str] = set()
    for n, doc in enumerate(documents, start=1):
        label = (doc.get("label") or "").strip()
        if not label:
            problems.append(f"Document {n} : indiquez son intitulé.")
        elif len(label) > 200:
            problems.append(f"Document {n} : l'intitulé fait au plus 200 caractères.")
        elif label.casefold() in seen:
            problems.append(f"Le document « {label} » figure deux fois.")
        else:
            seen.add(label.casefold())
        types = doc.get("accepted_types") or []
        if not types:
            problems.append(f"Document {n} : cochez au moins un type de fichier accepté.")
        elif unknown := [t for t in types if t not in known]:
            problems.append(
                f"Document {n} : type de fichier inconnu ({', '.join(map(str, unknown))})."
            )
    return problems


def grid_problems(criteria: Sequence[dict]) -> list[str]:
    """The scoring grid: labels unique, weights > 0, scales from 1 to 100."""
    problems: list[str] = []
    seen: set[str] = set()
    for n, criterion in enumerate(criteria, start=1):
        label = (criterion.get("label") or "").strip()
        name = f"« {label} »" if label else str(n)
        if not label:
            problems.append(f"Critère {n} : indiquez son intitulé.")
        elif len(label) > 200:
            problems.append(f"Critère {n} : l'intitulé fait au plus 200 caractères.")
        elif label.casefold() in seen:
            problems.append(f"Le critère « {label} » figure deux fois.")
        else:
            seen.add(label.casefold())
        weight = criterion.get("weight")
        if weight is None:
            problems.append(f"Critère {name} : indiquez son poids.")
        elif not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
            problems.append(f"Critère {name} : le poids doit être un entier strictement positif.")
        elif weight > MAX_WEIGHT:
            problems.append(f"Critère {name} : le poids vaut au plus {MAX_WEIGHT}.")
        scale = criterion.get("scale_max")
        if scale is None:
            problems.append(f"Critère {name} : indiquez la note maximale.")
        elif not isinstance(scale, int) or isinstance(scale, bool) or not 1 <= scale <= MAX_SCALE:
            problems.append(
                f"Critère {name} : la note maximale est un entier entre 1 et {MAX_SCALE}."
            )
    return problems
