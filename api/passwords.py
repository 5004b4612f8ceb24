"""Password rules for passwords people choose: long enough, not a common password, not the username.

The list of common passwords (``common-passwords.txt`` beside this module, one lowercase password a line) is
the list of about 20,000 passwords that Django ships for its CommonPasswordValidator
(django/contrib/auth/common-passwords.txt.gz in Django 5.2, BSD licence), compiled by Royce Williams from
breach corpora. A password typed on a Russian or Kazakh
keyboard layout is also checked as the Latin letters of the same keys ("йцукенгш" is "qwertyui").
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

MIN_LENGTH = 8
COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt")

# Russian (ЙЦУКЕН) keys -> the Latin letters of the same keys; the Kazakh layout shares these letters.
_CYRILLIC_KEYS = str.maketrans("йцукенгшщзхъфывапролджэячсмитьбюё", "qwertyuiop[]asdfghjkl;'zxcvbnm,.`")


@cache
def _common() -> frozenset[str]:
    """The common passwords, lowercase (read once)."""
    return frozenset(line.strip() for line in COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines())


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def password_problem(password: str, *, username: str | None = None) -> str | None:
    """Why ``password`` may not be chosen, as a sentence; None when it may."""
    if len(password) < MIN_LENGTH:
        return f"A password needs at least {MIN_LENGTH} characters."
    folded = _folded(password)
    if username is not None and folded in {_folded(username), _folded(username)[::-1]}:
        return "The password may not be the username; choose something else."
    if folded in _common() or folded.translate(_CYRILLIC_KEYS) in _common():
        return "This password is on the list of the most common passwords; choose one that is harder to guess."
    return None
