"""Password rules (pure functions), property-tested."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from grants.accounts.rules import (
    COMMON_PASSWORDS,
    MAX_LENGTH,
    MIN_LENGTH,
    hash_password,
    password_problems,
    verify_password,
)


@given(st.text(max_size=MIN_LENGTH - 1))
def test_shorter_than_12_is_refused(password):
    problems = password_problems(password)
    assert any("au moins 12 caractères" in p for p in problems)


@given(st.text(min_size=MAX_LENGTH + 1, max_size=MAX_LENGTH + 50))
def test_longer_than_128_is_refused(password):
    assert any("dépasser 128" in p for p in password_problems(password))


@given(
    st.text(min_size=MIN_LENGTH, max_size=MAX_LENGTH).filter(
        lambda p: len(set(p)) >= 3 and p.lower() not in COMMON_PASSWORDS
    )
)
def test_long_enough_varied_uncommon_is_accepted(password):
    assert password_problems(password) == []


def test_64_characters_and_more_are_allowed():
    assert password_problems("a long passphrase " * 7) == []  # 126 characters


def test_common_and_monotonous_passwords_are_refused():
    for password in ("motdepasse123", "Password1234", "aaaaaaaaaaaaaaaa", "abababababab"):
        assert any("trop courant" in p for p in password_problems(password)), password


def test_password_close_to_the_email_is_refused():
    assert password_problems("dominique2024", "dominique@example.org")
    assert password_problems("dominique2024", "camille@example.org") == []


@settings(max_examples=5, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_hash_round_trip(password):
    hashed = hash_password(password)
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, password)
    assert not verify_password(hashed, password + "x")
    assert not verify_password("not a hash", password)
