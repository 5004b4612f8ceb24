"""Usernames as people read them: the stored form, and the keys two names share when a person could mistake one
for the other ("admin", "Admin" and a Cyrillic "аdmin").

The key is Unicode's confusable skeleton (UTS #39) of the casefolded name. The look-alike table is the Unicode
confusables data as packaged by ``confusable_homoglyphs``: it links each character to its look-alikes, one class
of look-alikes around each prototype, and every character is replaced by its class's prototype.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import cache

from confusable_homoglyphs import confusables

MAX_KEY_LENGTH = 128  # users.username_key
_MARKS = "\u200e\u200f"  # the table wraps right-to-left glyphs in direction marks; they are not part of a glyph


def normalise_username(username: str) -> str:
    """The form a username is stored and compared in: NFKC-normalised, surrounding blanks removed."""
    return unicodedata.normalize("NFKC", username).strip()


@cache
def _prototypes() -> dict[str, str]:
    """Each character of the confusables table -> the prototype of its look-alike class (built once, ~20 ms).

    The classes are the connected parts of the table's look-alike links; a class's prototype is the member
    linked to the most others (ties: the shortest, then the first in code point order), which is the
    character Unicode maps the class to.
    """
    parent: dict[str, str] = {}

    def root(glyph: str) -> str:
        parent.setdefault(glyph, glyph)
        while parent[glyph] != glyph:
            parent[glyph] = parent[parent[glyph]]
            glyph = parent[glyph]
        return glyph

    links: Counter[str] = Counter()
    for char, alikes in confusables.confusables_data.items():
        char = char.strip(_MARKS)
        for alike in alikes:
            glyph = str(alike["c"]).strip(_MARKS)
            if not char or not glyph:
                continue
            parent[root(char)] = root(glyph)
            links[char] += 1
            links[glyph] += 1
    classes: dict[str, list[str]] = {}
    for glyph in list(parent):
        classes.setdefault(root(glyph), []).append(glyph)
    mapping: dict[str, str] = {}
    for members in classes.values():
        prototype = min(members, key=lambda m: (-links[m], len(m), m))
        mapping.update({m: prototype for m in members if len(m) == 1 and m != prototype})
    return mapping


def skeleton(text: str) -> str:
    """Unicode's confusable skeleton of ``text``: NFD, each character replaced by its prototype, NFD again."""
    table = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(table.get(ch, ch) for ch in decomposed))


def username_key(username: str) -> str:
    """The stored comparison key of ``username`` (users.username_key): the skeleton of the casefolded name.

    Names that differ only in letter case or by look-alike letters share it, so login finds a user by any
    form of the name, and the unique index refuses a second such user.
    """
    return skeleton(normalise_username(username).casefold())


def lookalike_keys(username: str) -> frozenset[str]:
    """Every key under which ``username`` could be mistaken for another name: ``username_key``, and the skeleton
    of the name in capitals (a Cyrillic "Н" looks like a Latin "H", although a small "н" is no "h")."""
    name = normalise_username(username)
    return frozenset({username_key(name), skeleton(name.upper())})


def looks_alike(first: str, second: str) -> bool:
    """True when a person could take one username for the other."""
    return not lookalike_keys(first).isdisjoint(lookalike_keys(second))


def provisional_key_prefix(username: str) -> str:
    """The part of a provisional key before the user's id: ``<NFKC casefold>#``."""
    return f"{unicodedata.normalize('NFKC', username).casefold()}#"
