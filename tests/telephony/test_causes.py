"""One hang-up cause vocabulary: FastAGI's numeric HANGUPCAUSE and ARI's cause/cause_txt give the same names."""

from __future__ import annotations

import pytest

from telephony.causes import Q850, cause_name


@pytest.mark.parametrize(
    ("agi", "ari_cause", "ari_text", "name"),
    [
        ("16", 16, "Normal Clearing", "Normal Clearing"),
        ("17", 17, "User busy", "User busy"),
        ("19", 19, "User alerting, no answer", "User alerting, no answer"),
        ("34", 34, "Circuit/channel congestion", "Circuit/channel congestion"),
        ("0", 0, "Unknown", "Unknown"),
    ],
)
def test_agi_and_ari_name_a_cause_alike(agi: str, ari_cause: int, ari_text: str, name: str) -> None:
    assert cause_name(agi) == cause_name(ari_cause, ari_text) == cause_name(ari_cause) == name
    assert cause_name(None, ari_text.upper()) == name  # a text in another case is the same cause


def test_unknown_and_missing_causes() -> None:
    assert cause_name("250") == "cause 250"
    assert cause_name(None, "something Asterisk 23 says") == "something Asterisk 23 says"
    assert cause_name(None) is None and cause_name("") is None and cause_name(None, " ") is None
    assert cause_name(True) is None  # not a number


def test_table_is_asterisks_own() -> None:
    assert len(Q850) == len(set(Q850.values()))  # one text per cause
    assert Q850[16] == "Normal Clearing" and Q850[21] == "Call Rejected" and Q850[127] == "Interworking, unspecified"
