"""Pure rules on organisation data (no app, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum import luhn

from grants.organisations import rules

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@st.composite
def valid_sirets(draw) -> str:
    """A SIRET whose SIREN and whole number carry valid Luhn check digits."""
    siren_body = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    siren = siren_body + luhn.calc_check_digit(siren_body)
    assume(siren != "356000000")  # La Poste: another checksum rule
    nic_body = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    body = siren + nic_body
    return body + luhn.calc_check_digit(body)


# --- SIRET -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "siret", ["73282932000074", "24330031600011", "35600000000048", "55210055400013"]
)
def test_real_sirets_are_accepted(siret):
    assert rules.siret_problem(siret) is None


@given(valid_sirets())
def test_every_luhn_valid_siret_is_accepted(siret):
    assert rules.siret_problem(siret) is None
    assert rules.siren_of(siret) == siret[:9]


@given(valid_sirets(), st.lists(st.sampled_from([" ", ".", "\u00a0"]), max_size=4), st.data())
def test_spaces_and_dots_typed_in_a_siret_are_ignored(siret, separators, data):
    typed = siret
    for sep in separators:
        position = data.draw(st.integers(0, len(typed)))
        typed = typed[:position] + sep + typed[position:]
    assert rules.siret_problem(typed) is None
    assert rules.clean_siret(typed) == siret


@given(valid_sirets(), st.integers(0, 13), st.integers(1, 9))
def test_any_single_digit_alteration_is_refused(siret, position, delta):
    altered_digit = str((int(siret[position]) + delta) % 10)
    altered = siret[:position] + altered_digit + siret[position + 1 :]
    assume(not altered.startswith("356000000"))
    problem = rules.siret_problem(altered)
    assert problem is not None
    assert "clé de contrôle" in problem


@given(st.text(alphabet="0123456789", min_size=1, max_size=20).filter(lambda s: len(s) != 14))
def test_a_siret_of_the_wrong_length_is_refused(number):
    problem = rules.siret_problem(number)
    assert problem is not None
    assert "14 chiffres" in problem


@pytest.mark.parametrize("value", ["7328293200007A", "ABCDEFGHIJKLMN", "73282932000O74"])
def test_a_siret_with_letters_is_refused(value):
    assert "que des chiffres" in rules.siret_problem(value)


@pytest.mark.parametrize("value", ["", "   ", None])
def test_a_missing_siret_is_asked_for(value):
    assert "Indiquez le numéro SIRET" in rules.siret_problem(value)


def test_siren_and_formatting():
    assert rules.siren_of("732 829 320 00074") == "732829320"
    assert rules.format_siret("73282932000074") == "732 829 320 00074"
    assert rules.format_siren("732829320") == "732 829 320"


# --- RNA -------------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_an_association_rna_is_w_and_nine_digits(body):
    assert rules.rna_problem("W" + body, "association") is None
    assert rules.rna_problem("w " + body, "association") is None  # typed loosely
    assert rules.clean_rna("w " + body) == "W" + body


@pytest.mark.parametrize(
    "value", ["W33200123", "W3320012345", "X332001234", "W33200123A", "332001234"]
)
def test_a_malformed_rna_is_refused(value):
    assert "W suivi de 9 chiffres" in rules.rna_problem(value, "association")


@pytest.mark.parametrize("value", ["", None, "  "])
def test_an_association_must_give_its_rna(value):
    assert "obligatoire pour une association" in rules.rna_problem(value, "association")


@pytest.mark.parametrize(
    "legal_form", ["scop", "scic", "cooperative", "mutual", "foundation", "esus_company", "other"]
)
def test_other_forms_have_no_rna(legal_form):
    assert rules.rna_problem("", legal_form) is None
    assert rules.rna_problem(None, legal_form) is None
    assert "ne concerne que les associations" in rules.rna_problem("W332001234", legal_form)


# --- ESS legal forms ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("legal_form", "esus", "expected"),
    [
        ("association", False, True),
        ("scop", False, True),
        ("scic", False, True),
        ("cooperative", False, True),
        ("mutual", False, True),
        ("foundation", False, True),
        ("esus_company", True, True),
        ("esus_company", False, False),  # declared ESUS, approval not (yet) obtained
        ("other", True, True),
        ("other", False, False),
        (None, True, False),
    ],
)
def test_ess_legal_forms(legal_form, esus, expected):
    assert rules.is_ess_form(legal_form, esus) is expected


# --- headcounts ---------------------------------------------------------------------------


@given(st.integers(0, rules.MAX_COUNT))
def test_counts_round_trip(n):
    assert rules.parse_count(str(n)) == n
    assert rules.parse_count(f" {n} ") == n


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "0 si aucun"),
        ("-1", "négatif"),
        ("2,5", "entier"),
        ("douze", "entier"),
        (str(rules.MAX_COUNT + 1), "dépasser"),
    ],
)
def test_bad_counts_are_refused_in_french(value, message):
    with pytest.raises(ValueError, match=message):
        rules.parse_count(value)


@given(st.decimals(min_value=0, max_value=rules.MAX_FTE, places=2, allow_nan=False))
def test_fte_typed_with_a_comma_round_trips(value):
    typed = rules.format_fte(value)
    assert "." not in typed
    assert rules.parse_fte(typed) == value
    assert rules.parse_fte(str(value)) == value  # a dot works too (API)


@given(st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False))
def test_fte_with_three_decimals_is_refused(value):
    assume(value != value.quantize(Decimal("0.01")))
    with pytest.raises(ValueError, match="2 décimales"):
        rules.parse_fte(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-0,5", "négatif"),
        ("", "0 si aucun"),
        ("abc", "par exemple"),
        ("NaN", "par exemple"),
        ("1e9", "trop grand"),
        ("Infinity", "par exemple"),
    ],
)
def test_bad_fte_is_refused_in_french(value, message):
    with pytest.raises(ValueError, match=message):
        rules.parse_fte(value)


def test_fte_is_a_decimal_with_two_places():
    assert rules.parse_fte("2,5") == Decimal("2.50")
    assert str(rules.parse_fte("2,5")) == "2.50"
    assert rules.format_fte(Decimal("2.50")) == "2,5"
    assert rules.format_fte(Decimal("3.00")) == "3"


# --- misc -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["33000", "33700"])
def test_postal_code_ok(value):
    assert rules.postal_code_problem(value) is None


@pytest.mark.parametrize("value", ["", "3300", "33 000", "ABCDE"])
def test_postal_code_refused(value):
    assert rules.postal_code_problem(value) is not None


def test_french_sort_ignores_accents():
    names = ["Blanquefort", "Bègles", "Le Bouscat", "Ambès", "Ambarès-et-Lagrave"]
    assert sorted(names, key=rules.sort_key_fr) == [
        "Ambarès-et-Lagrave",
        "Ambès",
        "Bègles",
        "Blanquefort",
        "Le Bouscat",
    ]
