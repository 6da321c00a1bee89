"""Password rules (DESIGN §9): argon2id, 12 to 128 characters, common passwords refused."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 128

_hasher = PasswordHasher()  # argon2id with argon2-cffi's defaults

# The most common passwords of 12 characters or more (from public breach lists), plus
# obvious French ones; shorter ones are already refused by the length rule.
COMMON_PASSWORDS = frozenset(
    """
    123456789012 1234567890123 12345678901234 123456789abc 1q2w3e4r5t6y
    qwertyuiopas azertyuiopqs azertyuiop123 qwertyuiop123 qwerty123456 azerty123456
    password1234 password12345 passwordpassword motdepasse123 motdepasse1234
    motdepassemotdepasse iloveyou1234 welcome12345 administrator admin1234567
    bienvenue123 bienvenue1234 soleil123456 jetaime123456 changeme1234 letmein12345
    000000000000 111111111111 123123123123 abcdefghijkl abc123456789 aaaaaaaaaaaa
    football1234 superman1234 baseball1234 trustno11234 monkey123456 dragon123456
    princess1234 sunshine1234 starwars1234 p@ssw0rd1234 passw0rd1234 qwertyqwerty
    azertyazerty 1234567890qwerty 1234567890azerty 0123456789ab password123456
    """.split()
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash("no account has this password; it only spends time")


def spend_verify_time(password: str) -> None:
    """Verify against a dummy hash, so that an unknown e-mail costs as much as a known one."""
    verify_password(_dummy_hash(), password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def password_problems(password: str, email: str = "") -> list[str]:
    """French messages for everything wrong with ``password`` (empty when acceptable)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Le mot de passe doit contenir au moins {MIN_LENGTH} caractères.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Le mot de passe ne doit pas dépasser {MAX_LENGTH} caractères.")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) <= 2:
        problems.append("Ce mot de passe est trop courant : choisissez-en un autre.")
    local = email.split("@", 1)[0].lower()
    if local and len(local) >= 4 and local in lowered and len(lowered) - len(local) < 6:
        problems.append("Le mot de passe ne doit pas reprendre votre adresse e-mail.")
    return problems
