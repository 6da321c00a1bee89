"""Pure rules of the exports: cell values, the SCDL "subventions" row, the schema validator.

No Flask, no database: plain values in, plain values out.

**Spreadsheet cells** (:func:`csv_cell`, :func:`xlsx_cell`). In CSV, amounts are plain
decimal strings with a dot and two decimals (``1234.50``, no thousands separator, no
currency sign: any tool reads them); dates are ISO 8601 (``2016-07-01``), date-times ISO
8601 in Europe/Paris with the offset (``2016-05-02T14:05:00+02:00``). In XLSX, amounts are
numbers with a euro format, dates real date cells. Texts written by people (project
titles, names) are neutralised against formula injection: a text starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return gets a leading apostrophe in CSV (OWASP),
and is always written as a string cell (never a formula) in XLSX.

**SCDL** (:func:`scdl_row`): one row of the open-data "subventions" file, version 2.1.1,
from a :class:`ScdlSubsidy` (see :mod:`grants.exports.scdl` for the choices made).

**Validator** (:func:`validate_csv`, :func:`validate_table`): checks a CSV against a
Frictionless Table Schema *as read from the schema file* — header, required fields,
types (string, integer, number, date, boolean, year, datetime), ``pattern`` (anchored, as
the Table Schema specification says), ``enum``, ``minLength``/``maxLength``,
``minimum``/``maximum``, ``unique`` — and the schema's ``custom_checks``
(``french-siret-value`` with python-stdnum, ``one-of-required``). An unknown type or
custom check is reported, never skipped silently. Messages are French; row numbers are
those of the file (the header is line 1).
"""

from __future__ import annotations

import csv
import enum
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from stdnum.fr import siret as stdnum_siret

PARIS = ZoneInfo("Europe/Paris")
CENT = Decimal("0.01")
#: the euro format of amount cells in XLSX (French display: ``1 234,50 €``)
EURO_FORMAT = '#,##0.00\\ "€"'
DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
DECIMAL_FORMAT = "0.00"
#: characters that make a spreadsheet read a cell as a formula
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: control characters an XLSX file cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE)
_ILLEGAL_XML = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


class ColumnType(enum.StrEnum):
    text = "text"
    money = "money"
    integer = "integer"
    #: a decimal that is not money (scores): two decimals
    decimal = "decimal"
    date = "date"
    datetime = "datetime"


@dataclass(frozen=True)
class Column:
    header: str
    type: ColumnType = ColumnType.text


# --- Cells ------------------------------------------------------------------------------


def money_text(value: Decimal | int | str) -> str:
    """``Decimal("1234.5")`` → ``1234.50``: a dot, two decimals, no grouping, no sign of
    currency. Raises ValueError on something that is not a number."""
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return format(amount, "f")


def paris_naive(value: datetime) -> datetime:
    """An aware datetime as the wall-clock time of Paris, without offset (XLSX cells)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: the database gives aware UTC datetimes")
    return value.astimezone(PARIS).replace(tzinfo=None)


def neutralise_formula(text: str) -> str:
    """A leading apostrophe on a text a spreadsheet would read as a formula (CSV)."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def clean_text(value: Any) -> str:
    text = value.label if hasattr(value, "label") else value
    return _ILLEGAL_XML.sub("", str(text))


def csv_cell(value: Any, type_: ColumnType) -> str:
    """The text of a CSV cell (see the module docstring)."""
    if value is None or value == "":
        return ""
    if type_ == ColumnType.money:
        return money_text(value)
    if type_ == ColumnType.decimal:
        return money_text(value)
    if type_ == ColumnType.integer:
        return str(int(value))
    if type_ == ColumnType.date:
        if isinstance(value, datetime):
            value = value.astimezone(PARIS).date()
        return value.isoformat()
    if type_ == ColumnType.datetime:
        return value.astimezone(PARIS).isoformat(timespec="seconds")
    return neutralise_formula(clean_text(value))


def xlsx_cell(value: Any, type_: ColumnType) -> tuple[Any, str | None]:
    """``(value, number format)`` of an XLSX cell; texts come back as ``str`` (the writer
    marks them as strings so that ``=…`` is never a formula)."""
    if value is None or value == "":
        return None, None
    if type_ == ColumnType.money:
        return Decimal(str(value)).quantize(CENT), EURO_FORMAT
    if type_ == ColumnType.decimal:
        return Decimal(str(value)).quantize(CENT), DECIMAL_FORMAT
    if type_ == ColumnType.integer:
        return int(value), None
    if type_ == ColumnType.date:
        if isinstance(value, datetime):
            value = value.astimezone(PARIS).date()
        return value, DATE_FORMAT
    if type_ == ColumnType.datetime:
        return paris_naive(value), DATETIME_FORMAT
    return clean_text(value), None


# --- SCDL rows ---------------------------------------------------------------------------

#: above this total, publishing the subsidy is a legal obligation (décret n° 2017-779:
#: "subventions dont le montant dépasse 23 000 euros")
LEGAL_THRESHOLD = Decimal("23000")
NATURE_CASH = "aide en numéraire"
STATUS_AWARDED = "attribuée"
OBJECT_MAX = 256
DESCRIPTION_MAX = 256


@dataclass(frozen=True)
class ScdlSettings:
    """The attributing authority (from the configuration) and the extract's end date."""

    funder_name: str
    funder_siret: str
    service_name: str
    service_siret: str
    #: ``dateMiseAJour``: end of the period the extract covers
    extract_end: date
    tool_name: str = ""


@dataclass(frozen=True)
class ScdlSubsidy:
    """One award, as plain values (built by :mod:`grants.exports.scdl` from the database)."""

    reference: str
    organisation: str
    siret: str | None
    rna: str | None
    title: str
    call_title: str
    amount: Decimal
    decision_date: date
    convention_signed_on: date | None
    #: ``(year, amount)`` of the tranches not cancelled, in year order
    tranches: Sequence[tuple[int, Decimal]] = ()
    requested: Decimal | None = None
    deliberation_ref: str = ""
    convention_reference: str = ""
    submitted_on: date | None = None
    start_date: date | None = None
    end_date: date | None = None
    #: investment aid: paid on justifying invoices
    investment: bool = False
    #: share of the first tranche paid at the signature (0–1)
    advance_share: Decimal = Decimal("1")
    release_on_report: bool = True
    #: the beneficiary has an economic activity: the aid falls under de minimis
    de_minimis: bool = False
    #: names of the other funders of the project
    cofunders: Sequence[str] = ()


def truncate(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _euros(amount: Decimal) -> str:
    return f"{money_text(amount)} EUR"


def _percent(share: Decimal) -> str:
    value = (Decimal(share) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return f"{value} %"


def payment_description(subsidy: ScdlSubsidy) -> str:
    """``descriptionConditionsVersement`` (256 characters at most): the tranches by year and
    the call's payment conditions."""
    tranches = [(year, amount) for year, amount in subsidy.tranches if amount > 0]
    if len(tranches) > 1:
        parts = [
            f"{len(tranches)} versements annuels ("
            + " ; ".join(f"{year} : {_euros(amount)}" for year, amount in tranches)
            + ")."
        ]
    elif tranches:
        parts = [f"Versement unique en {tranches[0][0]} ({_euros(tranches[0][1])})."]
    else:
        parts = ["Versement selon la convention."]
    if subsidy.investment:
        parts.append("Versé sur présentation des factures justificatives.")
    else:
        if tranches and subsidy.advance_share > 0:
            parts.append(
                f"Avance de {_percent(subsidy.advance_share)} de la première tranche à la "
                "signature de la convention."
            )
        if len(tranches) > 1 and subsidy.release_on_report:
            parts.append("Tranches suivantes après acceptation du compte rendu annuel.")
    return truncate(" ".join(parts), DESCRIPTION_MAX)


def payment_period(subsidy: ScdlSubsidy) -> str:
    """``datesPeriodeVersement``: from the 1st of January of the first tranche's year to the
    31st of December of the last one (``2016-01-01/2018-12-31``); the convention's year
    when there is no tranche."""
    years = [year for year, amount in subsidy.tranches if amount > 0]
    if not years:
        anchor = subsidy.convention_signed_on or subsidy.decision_date
        years = [anchor.year]
    return f"{date(min(years), 1, 1).isoformat()}/{date(max(years), 12, 31).isoformat()}"


def scdl_row(subsidy: ScdlSubsidy, settings: ScdlSettings) -> dict[str, str]:
    """The SCDL fields of one subsidy (fields left out are empty)."""
    years = sorted({year for year, amount in subsidy.tranches if amount > 0})
    several = len(years) > 1
    row = {
        "idSubvention": subsidy.reference,
        "nomAttribuant": settings.funder_name,
        "idAttribuant": settings.funder_siret,
        "nomServiceInstructeur": settings.service_name,
        "idServiceInstructeur": settings.service_siret,
        "nomBeneficiaire": subsidy.organisation,
        "idBeneficiaire": subsidy.siret or "",
        "rnaBeneficiaire": subsidy.rna or "",
        "exerciceBudgetaire": str(subsidy.decision_date.year),
        "pluriannualite": "oui" if several else "non",
        "anneesPluriannualite": " - ".join(str(y) for y in years) if several else "",
        "dateDecision": subsidy.decision_date.isoformat(),
        "dateConvention": (
            subsidy.convention_signed_on.isoformat() if subsidy.convention_signed_on else ""
        ),
        "referenceDecision": subsidy.deliberation_ref,
        "dateCreation": subsidy.submitted_on.isoformat() if subsidy.submitted_on else "",
        "dateDebut": subsidy.start_date.isoformat() if subsidy.start_date else "",
        "dateFin": subsidy.end_date.isoformat() if subsidy.end_date else "",
        "dispositif": subsidy.call_title,
        "statutLabel": STATUS_AWARDED,
        "objet": truncate(subsidy.title, OBJECT_MAX),
        "nature": NATURE_CASH,
        "montantDemande": money_text(subsidy.requested) if subsidy.requested else "",
        "montant": money_text(subsidy.amount),
        "nomOutilInstruction": settings.tool_name,
        "cléVersement": subsidy.convention_reference,
        "conditionsVersement": "échelonné" if several else "unique",
        "descriptionConditionsVersement": payment_description(subsidy),
        "datesPeriodeVersement": payment_period(subsidy),
        "cofinancement": "oui" if subsidy.cofunders else "non",
        "attribuantsCofinanceurs": ", ".join(subsidy.cofunders),
        "notificationUE": "oui" if subsidy.de_minimis else "non",
        # The beneficiary's share of the subsidy (schema: 1.00 for a single beneficiary;
        # each award has exactly one).
        "pourcentageSubvention": "1.00",
        "dateMiseAJour": settings.extract_end.isoformat(),
    }
    return {k: v for k, v in row.items() if v}


# --- The validator -----------------------------------------------------------------------

#: at most this many problems are listed (the count of the others is given)
MAX_PROBLEMS = 200


@dataclass(frozen=True)
class Problem:
    """One problem of a file: its line (1 = header; None: the whole file), its column."""

    row: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"ligne {self.row}")
        if self.field:
            where.append(f"colonne {self.field}")
        return f"{', '.join(where)} : {self.message}" if where else self.message


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    #: problems found beyond MAX_PROBLEMS (not listed)
    more: int = 0
    rows: int = 0

    @property
    def valid(self) -> bool:
        return not self.problems

    def add(self, row: int | None, field_name: str | None, message: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(row, field_name, message))
        else:
            self.more += 1

    def lines(self) -> list[str]:
        lines = [str(p) for p in self.problems]
        if self.more:
            lines.append(f"… et {self.more} autre(s) problème(s).")
        return lines


class SchemaError(ValueError):
    """The schema itself uses something this validator does not know."""


_INTEGER = re.compile(r"[+-]?\d+")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NUMBER_SPECIAL = {"NaN", "INF", "-INF"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR = re.compile(r"[+-]?\d{4}")
_TRUE = ["true", "True", "TRUE", "1"]
_FALSE = ["false", "False", "FALSE", "0"]


def _quote(value: str) -> str:
    return f"« {value if len(value) <= 60 else value[:57] + '…'} »"


def _cast(value: str, spec: dict) -> tuple[Any, str | None]:
    """``(typed value, None)`` or ``(None, French message)`` for a non-empty cell."""
    type_ = spec.get("type", "string")
    fmt = spec.get("format", "default")
    if type_ in ("string", "any"):
        return value, None
    if type_ == "integer":
        if _INTEGER.fullmatch(value):
            return int(value), None
        return None, f"{_quote(value)} n'est pas un nombre entier."
    if type_ == "number":
        if _NUMBER.fullmatch(value) or value in _NUMBER_SPECIAL:
            return Decimal(value.replace("INF", "Infinity")), None
        return None, (
            f"{_quote(value)} n'est pas un nombre (le séparateur décimal est le point, sans "
            "espace ni symbole)."
        )
    if type_ == "date":
        if fmt != "default":
            raise SchemaError(f"format de date non pris en charge : {fmt}")
        if _DATE.fullmatch(value):
            try:
                return date.fromisoformat(value), None
            except ValueError:
                pass
        return None, f"{_quote(value)} n'est pas une date au format AAAA-MM-JJ."
    if type_ == "datetime":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")), None
        except ValueError:
            return None, f"{_quote(value)} n'est pas une date et heure ISO 8601."
    if type_ == "year":
        if _YEAR.fullmatch(value):
            return int(value), None
        return None, f"{_quote(value)} n'est pas une année."
    if type_ == "boolean":
        if value in spec.get("trueValues", _TRUE):
            return True, None
        if value in spec.get("falseValues", _FALSE):
            return False, None
        return None, f"{_quote(value)} n'est pas une valeur booléenne."
    raise SchemaError(f"type de champ non pris en charge : {type_}")


def _check_constraints(value: str, typed: Any, spec: dict) -> list[str]:
    constraints = spec.get("constraints", {})
    messages = []
    if "enum" in constraints:
        allowed = constraints["enum"]
        typed_allowed = [_cast(str(a), spec)[0] for a in allowed]
        if typed not in typed_allowed:
            shown = ", ".join(f"« {a} »" for a in allowed)
            messages.append(f"{_quote(value)} n'est pas une valeur admise ({shown}).")
    if "pattern" in constraints and not re.fullmatch(constraints["pattern"], value):
        messages.append(
            f"{_quote(value)} ne respecte pas le format attendu ({constraints['pattern']})."
        )
    if "minLength" in constraints and len(value) < constraints["minLength"]:
        messages.append(f"{constraints['minLength']} caractères au moins.")
    if "maxLength" in constraints and len(value) > constraints["maxLength"]:
        messages.append(f"{len(value)} caractères, {constraints['maxLength']} au plus sont admis.")
    if "minimum" in constraints and typed is not None:
        if typed < Decimal(str(constraints["minimum"])):
            messages.append(f"{_quote(value)} est inférieur au minimum {constraints['minimum']}.")
    if "maximum" in constraints and typed is not None:
        if typed > Decimal(str(constraints["maximum"])):
            messages.append(f"{_quote(value)} est supérieur au maximum {constraints['maximum']}.")
    return messages


def _siret_check(params: dict) -> Callable[[int, dict[str, str], Report], None]:
    column = params["column"]

    def check(line: int, row: dict[str, str], report: Report) -> None:
        value = row.get(column, "")
        if value and not (len(value) == 14 and value.isdigit() and stdnum_siret.is_valid(value)):
            report.add(line, column, f"{_quote(value)} n'est pas un numéro SIRET valide.")

    return check


def _one_of_required(params: dict) -> Callable[[int, dict[str, str], Report], None]:
    first, second = params["column1"], params["column2"]

    def check(line: int, row: dict[str, str], report: Report) -> None:
        if not row.get(first) and not row.get(second):
            report.add(line, f"{first}/{second}", f"renseignez {first} ou {second}.")

    return check


CUSTOM_CHECKS: dict[str, Callable[[dict], Callable[[int, dict[str, str], Report], None]]] = {
    "french-siret-value": _siret_check,
    "one-of-required": _one_of_required,
}


def validate_table(header: Sequence[str], rows: Iterable[Sequence[str]], schema: dict) -> Report:
    """Check a table (its header and the rows of text cells) against ``schema``."""
    report = Report()
    fields = schema.get("fields", [])
    names = [f["name"] for f in fields]
    missing_values = set(schema.get("missingValues", [""]))
    header = list(header)
    for name in names:
        if name not in header:
            report.add(1, name, "colonne absente de l'en-tête.")
    for label in header:
        if label not in names:
            report.add(1, label, "colonne inconnue du schéma.")
    if not report.problems and header != names:
        report.add(1, None, "les colonnes ne sont pas dans l'ordre du schéma.")
    if report.problems:
        return report

    checks = []
    for custom in schema.get("custom_checks", []):
        factory = CUSTOM_CHECKS.get(custom.get("name"))
        if factory is None:
            raise SchemaError(f"contrôle personnalisé inconnu : {custom.get('name')}")
        checks.append(factory(custom.get("params", {})))
    unique_seen: dict[str, dict[Any, int]] = {
        f["name"]: {} for f in fields if f.get("constraints", {}).get("unique")
    }

    for line, cells in enumerate(rows, start=2):
        report.rows += 1
        cells = list(cells)
        if len(cells) != len(names):
            report.add(
                line, None, f"{len(cells)} cellules au lieu de {len(names)} (une par colonne)."
            )
            continue
        row = {}
        for spec, raw in zip(fields, cells, strict=True):
            name = spec["name"]
            value = "" if raw in missing_values else raw
            row[name] = value
            if value == "":
                if spec.get("constraints", {}).get("required"):
                    report.add(line, name, "valeur obligatoire manquante.")
                continue
            typed, error = _cast(value, spec)
            if error:
                report.add(line, name, error)
                continue
            for message in _check_constraints(value, typed, spec):
                report.add(line, name, message)
            if name in unique_seen:
                first = unique_seen[name].setdefault(typed, line)
                if first != line:
                    report.add(line, name, f"{_quote(value)} figure déjà ligne {first}.")
        for check in checks:
            check(line, row, report)
    return report


def validate_csv(stream: TextIO, schema: dict, delimiter: str = ",") -> Report:
    """Check a CSV text stream (opened with ``newline=""``; a UTF-8 BOM is ignored)."""
    reader: Iterator[list[str]] = csv.reader(stream, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        report = Report()
        report.add(None, None, "le fichier est vide (pas même l'en-tête).")
        return report
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    try:
        return validate_table(header, reader, schema)
    except csv.Error as exc:
        report = Report()
        report.add(reader.line_num, None, f"CSV illisible ({exc}).")
        return report


# --- File names --------------------------------------------------------------------------


def export_filename(
    slug: str,
    extension: str,
    *,
    call_prefix: str | None = None,
    year: int | None = None,
    job_id: int | None = None,
    suffix: str = "",
) -> str:
    """``paiements-AAP-2016-2017-n12.xlsx``: ASCII, no spaces, says what is inside."""
    parts = [slug]
    if call_prefix:
        parts.append(re.sub(r"[^A-Za-z0-9-]+", "-", call_prefix).strip("-"))
    if year is not None:
        parts.append(str(year))
    if suffix:
        parts.append(suffix)
    if job_id is not None:
        parts.append(f"n{job_id}")
    return "-".join(p for p in parts if p) + "." + extension
