"""The open-data export of awarded subsidies: the SCDL "subventions" format, version 2.1.1.

The schema is the official Table Schema (``grants/data/scdl-subventions-2.1.1.schema.json``,
a copy of ``standards/`` shipped as package data); the file produced is checked against it
— types, patterns, enums, lengths, bounds *and* its custom checks (valid SIRETs, one of
``idBeneficiaire`` / ``rnaBeneficiaire``) — by :func:`grants.exports.rules.validate_csv`
before anyone gets it. ``grants export scdl --year YYYY`` and the staff page (a worker job)
refuse to hand out a file that does not validate, and list the problems.

Choices (the schema leaves them to the publisher):

* **One row per subsidy** (an award): ``montant`` is its total, ``idSubvention`` the file's
  reference (unique per row), ``pluriannualite``/``anneesPluriannualite`` give the years
  of its tranches (``2016 - 2017 - 2018``), ``conditionsVersement`` is ``échelonné`` when
  it is paid over several years, else ``unique``. The schema suggests one row per budget
  year for a multi-year subsidy; we keep one row so that the amounts add up (``montant``
  is the *total*) and the legal act — one convention — is one line.
* **The year** is the year of the decision: the committee session's date (else the
  recorded decision's date, in Paris). ``exerciceBudgetaire`` and ``dateDecision`` follow.
* **Which subsidies**: those attributed by the configured funder (``FUNDER_SIRET``) with a
  **signed convention** — ``dateConvention`` is required by the schema, so an award whose
  convention is not signed yet is left out (and counted: the CLI and the page say how
  many). By default only subsidies **over 23,000 EUR**, the legal obligation (décret
  n° 2017-779); ``--all`` (page: « toutes les aides ») publishes every one.
* ``nomAttribuant``/``idAttribuant``: ``FUNDER_NAME``/``FUNDER_SIRET``;
  ``nomServiceInstructeur``: ``FUNDER_SERVICE`` when configured, else the funder's service
  (``Funder.service``); ``idServiceInstructeur`` (required): ``FUNDER_SERVICE_SIRET`` when
  configured, else the funder's SIRET.
* ``pourcentageSubvention`` is ``1.00``: the schema defines it as the beneficiary's share
  of the subsidy between several beneficiaries (0.01–1), and each award has one.
* ``notificationUE`` is ``oui`` when the beneficiary has an economic activity (the
  de minimis rules apply to it), else ``non``.
* ``nature`` is ``aide en numéraire``; ``statutLabel`` ``attribuée``; ``cléVersement`` the
  convention's reference (it links the subsidy to its payments); ``cofinancement`` and
  ``attribuantsCofinanceurs`` come from the funding plan (investment aid) or the budget's
  other line-74 subsidies; ``dateMiseAJour`` is the end of the period covered (the 31st of
  December of the year, or today for the current year).

The file: UTF-8 without BOM (it is read by programs; the schema's validators accept it
either way), comma-separated, CRLF line ends, amounts with a dot, dates ISO 8601.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from functools import cache
from importlib.resources import files

import sqlalchemy as sa

from grants.calls.models import CallKind
from grants.core.db import utcnow
from grants.core.models import Funder
from grants.exports import queries
from grants.exports.rules import (
    LEGAL_THRESHOLD,
    PARIS,
    Report,
    ScdlSettings,
    ScdlSubsidy,
    scdl_row,
    validate_csv,
)
from grants.extensions import db

SCHEMA_FILE = "scdl-subventions-2.1.1.schema.json"
VERSION = "2.1.1"
CHUNK = 500


@cache
def load_schema() -> dict:
    """The official schema, from the package's data."""
    return json.loads((files("grants") / "data" / SCHEMA_FILE).read_text(encoding="utf-8"))


def field_names(schema: dict | None = None) -> list[str]:
    return [f["name"] for f in (schema or load_schema())["fields"]]


def paris_today() -> date:
    return utcnow().astimezone(PARIS).date()


def settings_from_config(config, year: int, today: date | None = None) -> ScdlSettings:
    today = today or paris_today()
    return ScdlSettings(
        funder_name=config["FUNDER_NAME"],
        funder_siret=config["FUNDER_SIRET"],
        service_name=config.get("FUNDER_SERVICE") or "",
        service_siret=config.get("FUNDER_SERVICE_SIRET") or config["FUNDER_SIRET"],
        extract_end=min(today, date(year, 12, 31)),
    )


def minimum_for(include_all: bool) -> Decimal | None:
    return None if include_all else LEGAL_THRESHOLD


def iter_subsidies(
    year: int, funder_siret: str, minimum: Decimal | None, chunk: int = CHUNK
) -> Iterator[ScdlSubsidy]:
    """The subsidies of the export, streamed: the awards ``chunk`` at a time, with two
    statements per chunk for their tranches and co-funders."""
    statement = queries.scdl_statement(year, funder_siret, minimum)
    result = db.session.execute(statement.execution_options(yield_per=chunk))
    try:
        for part in result.partitions():
            rows = list(part)
            tranches = queries.tranches_of([r[0] for r in rows])
            cofunders = queries.cofunders_of([r[2] for r in rows])
            for row in rows:
                yield _subsidy(row, tranches[row[0]], cofunders[row[2]])
    finally:
        result.close()


def _subsidy(row, tranches, cofunders) -> ScdlSubsidy:
    (
        award_id,
        total,
        application_id,
        reference,
        title,
        submitted_at,
        start_date,
        end_date,
        application_decided_at,
        requested,
        organisation,
        siret,
        rna,
        economic,
        call_title,
        call_kind,
        advance_share,
        release_on_report,
        decided_at,
        held_on,
        deliberation_ref,
        convention_reference,
        signed_on,
    ) = row
    if held_on is not None:
        decision_date = held_on
    else:
        decision_date = (decided_at or application_decided_at).astimezone(PARIS).date()
    return ScdlSubsidy(
        reference=reference or f"DOSSIER-{application_id}",
        organisation=organisation,
        siret=siret,
        rna=rna,
        title=title or "",
        call_title=call_title,
        amount=Decimal(str(total)),
        decision_date=decision_date,
        convention_signed_on=signed_on,
        tranches=tranches,
        requested=Decimal(str(requested)) if requested else None,
        deliberation_ref=deliberation_ref or "",
        convention_reference=convention_reference or "",
        submitted_on=submitted_at.astimezone(PARIS).date() if submitted_at else None,
        start_date=start_date,
        end_date=end_date,
        investment=call_kind == CallKind.investment_aid,
        advance_share=Decimal(str(advance_share if advance_share is not None else 1)),
        release_on_report=bool(release_on_report),
        de_minimis=bool(economic),
        cofunders=cofunders,
    )


def write_scdl(
    path: str | os.PathLike[str],
    subsidies: Iterator[ScdlSubsidy],
    settings: ScdlSettings,
    schema: dict | None = None,
    progress: Callable[[int], None] | None = None,
    every: int = 100,
) -> int:
    """Write the SCDL CSV (header in the schema's order); the number of rows."""
    names = field_names(schema)
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(names)
        for subsidy in subsidies:
            row = scdl_row(subsidy, settings)
            writer.writerow([row.get(name, "") for name in names])
            count += 1
            if progress is not None and count % every == 0:
                progress(count)
    if progress is not None:
        progress(count)
    return count


def validate_file(path: str | os.PathLike[str], schema: dict | None = None) -> Report:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return validate_csv(fh, schema or load_schema())


@dataclass(frozen=True)
class ScdlResult:
    year: int
    rows: int
    counts: queries.ScdlCounts
    include_all: bool
    report: Report

    @property
    def valid(self) -> bool:
        return self.report.valid

    def summary(self) -> str:
        """What was exported and what was left out, in French."""
        parts = [f"{self.rows} subvention(s) attribuée(s) en {self.year} exportée(s)"]
        if self.counts.unsigned:
            parts.append(
                f"{self.counts.unsigned} exclue(s) faute de convention signée "
                "(la date de convention est obligatoire)"
            )
        if not self.include_all and self.counts.under_threshold:
            parts.append(
                f"{self.counts.under_threshold} de 23 000 € ou moins non incluse(s) "
                "(option « toutes les aides » pour les publier)"
            )
        return " ; ".join(parts) + "."


def build_scdl(
    path: str | os.PathLike[str],
    year: int,
    config,
    *,
    include_all: bool = False,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> ScdlResult:
    """Write the SCDL file of ``year`` to ``path``, then validate the file itself."""
    settings = settings_from_config(config, year, today)
    if not settings.service_name:
        service = db.session.scalar(
            sa.select(Funder.service).where(Funder.siret == settings.funder_siret)
        )
        settings = replace(settings, service_name=service or "")
    minimum = minimum_for(include_all)
    counts = queries.scdl_counts(year, settings.funder_siret, minimum)
    rows = write_scdl(
        path,
        iter_subsidies(year, settings.funder_siret, minimum),
        settings,
        progress=progress,
    )
    return ScdlResult(year, rows, counts, include_all, validate_file(path))


def problem_text(result: ScdlResult) -> str:
    """The French message of a file that does not validate (one problem per line)."""
    lines = [
        f"Le fichier SCDL {VERSION} de {result.year} ne respecte pas le schéma officiel ; "
        "corrigez les données puis relancez l'export :"
    ]
    lines += [f"- {line}" for line in result.report.lines()]
    return "\n".join(lines)
