"""Budget lines, the ``funding`` feature's budget side: pure rules (no Flask, no database).

* the arithmetic of a line and year: ``remaining = voted − committed``; section totals are
  the sums of their lines;
* the PLIE formula: a fixed part (5,000 EUR in the seeds) plus a rate (1 EUR) per insertion
  hour realised, rounded to the cent (half up) once per commitment;
* the CSV tables of the seeds (``section,rubrique,ligne,<year>,<year>,…``), parsed and
  checked row by row with French messages that give the line number. Amounts are read as
  decimal strings (``20000``, ``20000.50``, ``20 000,50``), never through ``float``.

Amounts are ``Decimal`` end to end; the report shows them as 2-decimal strings.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0")

#: the budget sections (values of ``BudgetSection``) and their French labels, in report order
SECTIONS = ("fonctionnement", "investissement")
SECTION_LABELS = {"fonctionnement": "Fonctionnement", "investissement": "Investissement"}

#: budget years accepted in files and forms
MIN_YEAR = 2000
MAX_YEAR = 2100
#: the largest amount of a vote or commitment (the columns are Numeric(14, 2))
MAX_AMOUNT = Decimal("999999999999.99")
MAX_HOURS = Decimal("9999999999.99")
RUBRIC_MAX = 200
LABEL_MAX = 300
BENEFICIARY_MAX = 200
NOTE_MAX = 500

#: the PLIE convention of the seeds: 5,000 EUR fixed plus 1 EUR per insertion hour
PLIE_FIXED_DEFAULT = Decimal("5000.00")
PLIE_RATE_DEFAULT = Decimal("1.00")

#: the first three columns of a budget table (the following ones are years)
CSV_HEADER = ("section", "rubrique", "ligne")
#: errors listed before an import gives up reading (the file is refused as a whole anyway)
MAX_CSV_ERRORS = 20

_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_AMOUNT = re.compile(r"\d+(?:[.,]\d{1,2})?")
_HOURS = re.compile(r"\d+(?:[.,]\d{1,2})?")


def cents(amount: Decimal) -> Decimal:
    """Rounded to the cent, half up (the one rounding of the budget side)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_str(amount: Decimal) -> str:
    """``Decimal("445520")`` → ``"445520.00"`` (the report's JSON amounts)."""
    return format(cents(Decimal(amount)), "f")


# --- amounts -----------------------------------------------------------------------------------


def parse_amount(text: str | int | Decimal | None, *, maximum: Decimal = MAX_AMOUNT) -> Decimal:
    """A non-negative amount in euros with at most two decimals, as typed or as in a file:
    ``"20000"``, ``"20000.5"``, ``"20 000,50"``, ``"20000 €"``. Never a float.

    Raises ``ValueError`` with a French message (empty included)."""
    if isinstance(text, bool) or isinstance(text, float):
        raise ValueError("Indiquez le montant en chiffres, sous forme de texte (ex. « 20000 »).")
    if text is None:
        raise ValueError("Indiquez un montant.")
    if isinstance(text, int):
        text = str(text)
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise ValueError("Ce montant n'est pas valide.")
        text = format(text, "f")
    cleaned = _SPACES.sub("", text).removesuffix("€").removesuffix("EUR")
    if not cleaned:
        raise ValueError("Indiquez un montant.")
    if cleaned.startswith("-"):
        raise ValueError("Le montant ne peut pas être négatif.")
    if not _AMOUNT.fullmatch(cleaned):
        raise ValueError(
            f"« {text.strip()} » n'est pas un montant : des chiffres, avec au plus deux "
            "décimales (ex. 20000 ou 20000.50)."
        )
    amount = Decimal(cleaned.replace(",", ".")).quantize(CENT)
    if amount > maximum:
        raise ValueError("Ce montant est trop élevé.")
    return amount


def parse_hours(text: str | int | Decimal | None) -> Decimal | None:
    """Insertion hours realised (``"1 234,5"``); empty → None (not reported yet)."""
    if isinstance(text, bool) or isinstance(text, float):
        raise ValueError("Indiquez le nombre d'heures en chiffres (ex. « 1 250,5 »).")
    if text is None:
        return None
    if isinstance(text, int):
        text = str(text)
    if isinstance(text, Decimal):
        if not text.is_finite():
            raise ValueError("Ce nombre d'heures n'est pas valide.")
        text = format(text, "f")
    cleaned = _SPACES.sub("", text).removesuffix("h")
    if not cleaned:
        return None
    if cleaned.startswith("-"):
        raise ValueError("Le nombre d'heures ne peut pas être négatif.")
    if not _HOURS.fullmatch(cleaned):
        raise ValueError(
            "Nombre d'heures invalide : des chiffres, avec au plus deux décimales "
            "(ex. 1250 ou 1250,5)."
        )
    hours = Decimal(cleaned.replace(",", ".")).quantize(CENT)
    if hours > MAX_HOURS:
        raise ValueError("Ce nombre d'heures est trop élevé.")
    return hours


def parse_year(text: str | int | None) -> int:
    """A budget year (``"2016"``); ValueError in French otherwise."""
    if isinstance(text, bool):
        raise ValueError("Indiquez une année sur quatre chiffres (ex. 2016).")
    if isinstance(text, int):
        year = text
    else:
        cleaned = (text or "").strip()
        if not re.fullmatch(r"\d{4}", cleaned):
            raise ValueError("Indiquez une année sur quatre chiffres (ex. 2016).")
        year = int(cleaned)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"L'année doit être comprise entre {MIN_YEAR} et {MAX_YEAR}.")
    return year


def parse_section(text: str | None) -> str:
    cleaned = (text or "").strip().lower()
    if cleaned not in SECTIONS:
        shown = (text or "").strip()
        raise ValueError(
            f"Section « {shown} » inconnue : fonctionnement ou investissement."
            if shown
            else "Indiquez la section : fonctionnement ou investissement."
        )
    return cleaned


def clean_text(text: str | None, what: str, maximum: int, *, required: bool = True) -> str:
    """Trimmed, inner runs of spaces collapsed; ValueError (French) when empty or too long."""
    cleaned = " ".join((text or "").split())
    if required and not cleaned:
        raise ValueError(f"Indiquez {what}.")
    if len(cleaned) > maximum:
        raise ValueError(f"{maximum} caractères au plus.")
    return cleaned


# --- the arithmetic ----------------------------------------------------------------------------


def plie_amount(fixed: Decimal, rate: Decimal | None, hours: Decimal | None) -> Decimal:
    """A PLIE commitment: fixed part + rate × hours realised, rounded to the cent (half up).

    No hours reported yet counts as zero hours (the fixed part is committed anyway)."""
    return cents(fixed + (rate or ZERO) * (hours or ZERO))


def commitment_amount(
    kind: str, fixed: Decimal, rate: Decimal | None = None, hours: Decimal | None = None
) -> Decimal:
    """What a commitment consumes of its line for its year (``kind``: fixed | plie)."""
    if str(kind) == "plie":
        return plie_amount(fixed, rate, hours)
    return cents(fixed)


@dataclass(frozen=True)
class Figures:
    """Voted, committed and paid on a line (or a section) for one year."""

    voted: Decimal = ZERO
    committed: Decimal = ZERO
    paid: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        """What can still be committed; negative when the line is over-committed."""
        return self.voted - self.committed

    @property
    def over_committed(self) -> bool:
        return self.committed > self.voted

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.voted + other.voted, self.committed + other.committed, self.paid + other.paid
        )

    def as_json(self) -> dict[str, str]:
        return {
            "voted": money_str(self.voted),
            "committed": money_str(self.committed),
            "paid": money_str(self.paid),
            "remaining": money_str(self.remaining),
        }


def total(figures: Iterable[Figures]) -> Figures:
    """The sum of lines (a section's totals)."""
    result = Figures()
    for item in figures:
        result = result + item
    return result


def bar(figures: Figures, width: int = 160) -> dict:
    """Widths (in SVG units) of a bar « committed and paid against voted ».

    The full width is the voted amount, or the committed one when the line is
    over-committed (then ``voted`` marks where the vote ends)."""
    scale = max(figures.voted, figures.committed, figures.paid)
    if scale <= 0:
        return {"voted": 0, "committed": 0, "paid": 0, "over": False}

    def _w(value: Decimal) -> int:
        return int((Decimal(width) * value / scale).to_integral_value(rounding=ROUND_HALF_UP))

    return {
        "voted": _w(figures.voted),
        "committed": _w(figures.committed),
        "paid": _w(figures.paid),
        "over": figures.over_committed,
    }


def percent(part: Decimal, whole: Decimal) -> int | None:
    """``part`` as a whole percentage of ``whole`` (None when nothing is voted)."""
    if whole <= 0:
        return None
    return int((part * 100 / whole).to_integral_value(rounding=ROUND_HALF_UP))


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """What the queries read for one line and year (``voted`` None: no vote that year)."""

    id: int
    section: str
    rubric: str
    label: str
    voted: Decimal | None
    #: Σ of the year's tranches (not cancelled) of the awards of the calls linked to the line
    tranches: Decimal = ZERO
    #: Σ paid on those tranches
    paid: Decimal = ZERO
    #: Σ of the commitments (conventions, PLIE) of the line for the year
    commitments: Decimal = ZERO


@dataclass(frozen=True)
class LineReport:
    id: int
    section: str
    rubric: str
    label: str
    figures: Figures
    voted_set: bool = True

    def as_json(self) -> dict[str, str]:
        return {"rubric": self.rubric, "line": self.label, **self.figures.as_json()}


@dataclass(frozen=True)
class SectionReport:
    section: str
    lines: list[LineReport]

    @property
    def label(self) -> str:
        return SECTION_LABELS.get(self.section, self.section)

    @property
    def figures(self) -> Figures:
        return total(line.figures for line in self.lines)

    def rubrics(self) -> list[tuple[str, list[LineReport]]]:
        """The lines grouped by rubric, in report order."""
        groups: dict[str, list[LineReport]] = {}
        for line in self.lines:
            groups.setdefault(line.rubric, []).append(line)
        return list(groups.items())

    def as_json(self) -> dict:
        return {
            "section": self.section,
            **self.figures.as_json(),
            "lines": [line.as_json() for line in self.lines],
        }


@dataclass(frozen=True)
class BudgetReport:
    year: int
    sections: list[SectionReport]

    @property
    def figures(self) -> Figures:
        return total(section.figures for section in self.sections)

    def as_json(self) -> dict:
        return {"year": self.year, "sections": [s.as_json() for s in self.sections]}


def build_report(year: int, lines: Iterable[LineInput]) -> BudgetReport:
    """Voted / committed / paid / remaining per line and section for ``year``.

    A line is shown when it has a vote for the year or something committed or paid on it.
    Sections come in budget order; in a section, rubrics keep the order of their first
    line (the order of the imported table), lines their creation order."""
    shown = [
        line
        for line in sorted(lines, key=lambda x: x.id)
        if line.voted is not None or line.tranches or line.paid or line.commitments
    ]
    rubric_rank: dict[tuple[str, str], int] = {}
    for line in shown:
        rubric_rank.setdefault((line.section, line.rubric), line.id)
    sections = []
    for section in SECTIONS:
        members = sorted(
            (line for line in shown if line.section == section),
            key=lambda x: (rubric_rank[(x.section, x.rubric)], x.id),
        )
        if not members:
            continue
        sections.append(
            SectionReport(
                section,
                [
                    LineReport(
                        id=line.id,
                        section=line.section,
                        rubric=line.rubric,
                        label=line.label,
                        figures=Figures(
                            voted=line.voted or ZERO,
                            committed=line.tranches + line.commitments,
                            paid=line.paid,
                        ),
                        voted_set=line.voted is not None,
                    )
                    for line in members
                ],
            )
        )
    return BudgetReport(year, sections)


# --- the CSV tables ----------------------------------------------------------------------------


class BudgetCsvError(ValueError):
    """A malformed table: ``messages`` are French, each with its line number."""

    def __init__(self, messages: list[str]):
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass
class BudgetRow:
    line_number: int
    section: str
    rubric: str
    label: str
    #: year → voted amount; a year left empty in the file is absent (nothing changes)
    votes: dict[int, Decimal] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.section, self.rubric, self.label)


@dataclass
class BudgetTable:
    years: list[int]
    rows: list[BudgetRow]

    def totals(self, year: int) -> dict[str, Decimal]:
        """Voted per section for ``year`` (what a correct import must show)."""
        sums = {section: ZERO for section in SECTIONS}
        for row in self.rows:
            sums[row.section] += row.votes.get(year, ZERO)
        return sums


def decode_csv(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BudgetCsvError(
            [
                "Le fichier n'est pas encodé en UTF-8 (octet illisible en position "
                f"{exc.start}) : enregistrez-le en « CSV UTF-8 »."
            ]
        ) from exc


def _read_header(header: list[str]) -> list[int]:
    cells = [c.strip().lower() for c in header]
    if len(cells) == 1 and ";" in cells[0]:
        raise BudgetCsvError(
            [
                "Ligne 1 : les colonnes doivent être séparées par des virgules, pas des "
                "points-virgules (en-tête attendu : section,rubrique,ligne,2016,2017,…)."
            ]
        )
    if tuple(cells[:3]) != CSV_HEADER:
        raise BudgetCsvError(
            [
                "Ligne 1 : en-tête inattendu « "
                + ",".join(c.strip() for c in header)
                + " » ; attendu : section,rubrique,ligne puis une colonne par année "
                "(ex. section,rubrique,ligne,2016,2017,2018)."
            ]
        )
    if len(cells) < 4:
        raise BudgetCsvError(["Ligne 1 : aucune colonne d'année après section,rubrique,ligne."])
    years: list[int] = []
    errors: list[str] = []
    for position, cell in enumerate(cells[3:], start=4):
        try:
            year = parse_year(cell)
        except ValueError:
            errors.append(
                f"Ligne 1, colonne {position} : « {cell} » n'est pas une année "
                f"(quatre chiffres, entre {MIN_YEAR} et {MAX_YEAR})."
            )
            continue
        if year in years:
            errors.append(f"Ligne 1, colonne {position} : l'année {year} apparaît deux fois.")
        years.append(year)
    if errors:
        raise BudgetCsvError(errors)
    return years


def parse_budget_csv(text: str) -> BudgetTable:
    """Parse a budget table; raises :class:`BudgetCsvError` listing every problem found.

    Empty lines are skipped; an empty amount cell means « no vote for that year in this
    file » (an existing vote is left as it is)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise BudgetCsvError([f"Ligne 1 : CSV illisible ({exc})."]) from exc
    if header is None:
        raise BudgetCsvError(["Le fichier est vide : en-tête section,rubrique,ligne,… attendu."])
    years = _read_header(header)
    width = 3 + len(years)
    rows: list[BudgetRow] = []
    seen: dict[tuple[str, str, str], int] = {}
    errors: list[str] = []
    while len(errors) < MAX_CSV_ERRORS:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"Ligne {reader.line_num} : CSV illisible ({exc}).")
            break
        number = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != width:
            errors.append(
                f"Ligne {number} : {len(cells)} colonnes au lieu de {width} "
                "(section, rubrique, ligne et une par année) ; un libellé contenant une "
                "virgule doit être entre guillemets."
            )
            continue
        problems: list[str] = []
        try:
            section = parse_section(cells[0])
        except ValueError as exc:
            problems.append(str(exc))
            section = ""
        try:
            rubric = clean_text(cells[1], "la rubrique", RUBRIC_MAX)
        except ValueError as exc:
            problems.append(f"rubrique : {exc}")
            rubric = ""
        try:
            label = clean_text(cells[2], "le libellé de la ligne", LABEL_MAX)
        except ValueError as exc:
            problems.append(f"ligne : {exc}")
            label = ""
        votes: dict[int, Decimal] = {}
        for year, cell in zip(years, cells[3:], strict=True):
            if not cell.strip():
                continue
            try:
                votes[year] = parse_amount(cell)
            except ValueError as exc:
                problems.append(f"montant {year} : {exc}")
        if problems:
            errors.extend(f"Ligne {number} : {p}" for p in problems)
            continue
        row = BudgetRow(number, section, rubric, label, votes)
        if row.key in seen:
            errors.append(
                f"Ligne {number} : la ligne « {label} » (rubrique « {rubric} ») figure déjà "
                f"ligne {seen[row.key]}."
            )
            continue
        seen[row.key] = number
        rows.append(row)
    if len(errors) >= MAX_CSV_ERRORS:
        errors.append("… (lecture arrêtée : trop d'erreurs)")
    if errors:
        raise BudgetCsvError(errors)
    if not rows:
        raise BudgetCsvError(["Le fichier ne contient aucune ligne budgétaire après l'en-tête."])
    return BudgetTable(years=years, rows=rows)


# --- the report as text ------------------------------------------------------------------------


def format_euros(value: str | Decimal) -> str:
    """``"445520.00"`` → ``445 520,00 €`` (French grouping, narrow no-break spaces)."""
    from babel.numbers import format_currency

    return format_currency(Decimal(value), "EUR", locale="fr_FR")


def format_table(report: dict) -> str:
    """The report (the JSON form) as an aligned French table for a terminal."""
    year = report["year"]
    if not report["sections"]:
        return f"Budget {year} : aucune ligne budgétaire pour cette année.\n"
    headers = ["Rubrique", "Ligne", "Voté", "Engagé", "Versé", "Reste"]
    keys = ["voted", "committed", "paid", "remaining"]
    table: list[list[str] | None] = []  # None: a separator
    for section in report["sections"]:
        table.append(None)
        table.append([SECTION_LABELS.get(section["section"], section["section"]).upper()])
        table.append(None)
        previous = None
        for line in section["lines"]:
            rubric = line["rubric"] if line["rubric"] != previous else ""
            previous = line["rubric"]
            table.append([rubric, line["line"], *(format_euros(line[k]) for k in keys)])
        table.append(None)
        table.append(
            [
                "Total " + SECTION_LABELS.get(section["section"], section["section"]).lower(),
                "",
                *(format_euros(section[k]) for k in keys),
            ]
        )
    widths = [len(h) for h in headers]
    for row in table:
        if row is not None and len(row) == len(headers):
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    rule = "  ".join("-" * w for w in widths)

    def _line(row: list[str]) -> str:
        left = [c.ljust(w) for c, w in zip(row[:2], widths[:2], strict=True)]
        right = [c.rjust(w) for c, w in zip(row[2:], widths[2:], strict=True)]
        return "  ".join(left + right).rstrip()

    out = [f"Budget {year} (montants en euros)", _line(headers)]
    for row in table:
        if row is None:
            out.append(rule)
        elif len(row) == 1:
            out.append(row[0])
        else:
            out.append(_line(row))
    out.append(rule)
    return "\n".join(out) + "\n"
