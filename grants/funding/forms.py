"""Forms of the schedule pages: ask for a computation, apply an alternative, the de minimis
override, and the what-if simulation (one field per year and per award, built for the
call). The simulation's values are parsed here (amounts the French way) and the
computation's own refusals are put next to the fields they concern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField, TextAreaField
from wtforms.validators import Length

from grants.calls.rules import (
    effective_profile,
    parse_int,
    parse_money,
    parse_weight,
    profile_problems,
)
from grants.funding.queries import SimulationAward
from grants.funding.rules import ScheduleAward


class ConfirmForm(FlaskForm):
    """A button (CSRF only): ask for a computation."""


class AlternativeForm(FlaskForm):
    alternative = HiddenField()


class DeMinimisForm(FlaskForm):
    reason = TextAreaField(
        "Motif de la levée du blocage",
        description="Par exemple : aide déclarée par erreur, aide hors champ de minimis "
        "(SIEG mandaté), vérification faite auprès de la structure…",
        validators=[Length(max=2000, message="2 000 caractères au plus.")],
    )


def field_key(reference: str) -> str:
    """A form field name for an award (its reference, made safe)."""
    return "amount__" + re.sub(r"[^A-Za-z0-9]", "_", reference)


@dataclass
class SimulationInput:
    envelopes: dict[int, Decimal]
    unit: Decimal
    profile: list[Decimal] | None
    payment_years: int | None
    awards: list[ScheduleAward]
    #: awards left out (amount emptied or 0)
    left_out: list[str]


def simulation_form(call, awards: list[SimulationAward], formdata=None):
    """The simulation form of ``call``, pre-filled with its envelopes, profile, unit and the
    current awards' amounts (``formdata=None`` on GET)."""
    investment = call.kind.value == "investment_aid"
    years = [y.year for y in call.years]

    class SimulationForm(FlaskForm):
        unit = StringField(
            "Unité d'arrondi (€)",
            description="Chaque tranche est un multiple de cette unité (1 € ou 0,01 €).",
        )

    defaults: dict = {"unit": _text(call.rounding_unit)}
    for call_year in call.years:
        name = f"envelope_{call_year.year}"
        setattr(SimulationForm, name, StringField(f"Enveloppe {call_year.year} (€)"))
        defaults[name] = _text(call_year.envelope)
    if investment:
        SimulationForm.payment_years = StringField(
            "Nombre de tranches annuelles",
            description="Une tranche par année de travaux, à partir de la première année.",
        )
        defaults["payment_years"] = str(call.payment_years or 1)
    else:
        # The call's profile (configured, or derived from its stored envelopes): a
        # simulated envelope keeps it unless the weights are changed or emptied.
        profile = effective_profile(call.profile, [y.envelope for y in call.years]) or []
        for n, year in enumerate(years):
            name = f"weight_{year}"
            setattr(SimulationForm, name, StringField(f"Poids {year}"))
            defaults[name] = str(profile[n]).replace(".", ",") if n < len(profile) else ""
    for award in awards:
        name = field_key(award.reference)
        setattr(
            SimulationForm,
            name,
            StringField(f"{award.reference} — {award.organisation} (rang {award.rank})"),
        )
        defaults[name] = _text(award.amount)
    form = SimulationForm(formdata=formdata, data=defaults)
    form.years = years
    form.investment = investment
    form.award_fields = [(award, form[field_key(award.reference)]) for award in awards]
    form.profile_errors = []
    form.global_errors = []
    return form


def _text(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def parse_simulation_form(form, awards: list[SimulationAward]) -> SimulationInput | None:
    """The typed values, or None with the errors next to the fields."""
    ok = True

    def money(field, *, required: bool, positive: bool = False):
        nonlocal ok
        try:
            value = parse_money(field.data)
        except ValueError as exc:
            field.errors = [*field.errors, str(exc)]
            ok = False
            return None
        if value is None and required:
            field.errors = [*field.errors, "Indiquez un montant."]
            ok = False
        elif value is not None and positive and value <= 0:
            field.errors = [*field.errors, "Le montant doit être supérieur à 0."]
            ok = False
        return value

    envelopes = {}
    for year in form.years:
        value = money(form[f"envelope_{year}"], required=True)
        if value is not None:
            envelopes[year] = value
    unit = money(form.unit, required=True, positive=True)

    profile = None
    payment_years = None
    if form.investment:
        try:
            payment_years = parse_int(form.payment_years.data, minimum=1, maximum=len(form.years))
        except ValueError as exc:
            form.payment_years.errors = [*form.payment_years.errors, str(exc)]
            ok = False
        if payment_years is None and not form.payment_years.errors:
            form.payment_years.errors = [*form.payment_years.errors, "Indiquez un nombre."]
            ok = False
    else:
        raw = [form[f"weight_{year}"].data for year in form.years]
        if any((w or "").strip() for w in raw):
            weights = []
            for year, text in zip(form.years, raw, strict=True):
                field = form[f"weight_{year}"]
                try:
                    weight = parse_weight(text)
                except ValueError as exc:
                    field.errors = [*field.errors, str(exc)]
                    ok = False
                    continue
                if weight is None:
                    field.errors = [*field.errors, "Indiquez le poids de cette année."]
                    ok = False
                weights.append(weight)
            if ok:
                problems = profile_problems(weights, len(form.years))
                if problems:
                    form.profile_errors = problems
                    ok = False
                else:
                    profile = weights

    chosen: list[ScheduleAward] = []
    left_out: list[str] = []
    for award, field in form.award_fields:
        value = money(field, required=False)
        if value is None or value == 0:
            left_out.append(award.reference)
        elif value is not None:
            chosen.append(ScheduleAward(award.reference, value, award.rank))
    if not ok:
        return None
    return SimulationInput(envelopes, unit, profile, payment_years, chosen, left_out)


def show_problems(form, problems: list[str]) -> None:
    """The computation's refusals (invalid settings): next to the profile when they are
    about it, else at the top of the form."""
    for problem in problems:
        if "profil" in problem.lower() or "poids" in problem.lower():
            form.profile_errors.append(problem)
        elif "tranches annuelles" in problem and form.investment:
            form.payment_years.errors = [*form.payment_years.errors, problem]
        else:
            form.global_errors.append(problem)
