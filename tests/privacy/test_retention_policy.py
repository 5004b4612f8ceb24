"""The retention policy, pure: the shipped default, a site's file with its mistakes named, each kind's cut-off,
when the daily run is due on the city's clock, and what an anonymised segment keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from privacy.retention import (
    DEFAULT_POLICY_FILE,
    RetentionAction,
    RetentionKind,
    RetentionPolicyError,
    anonymise_words,
    load_policy,
    parse_policy,
    run_due,
)

NOW = datetime(2027, 3, 1, 22, 0, tzinfo=UTC)  # 03:00 on 2 March in Almaty (UTC+5)
ALMATY = ZoneInfo("Asia/Almaty")
GOOD = """
recordings: {action: delete, days: 30}
transcripts: {action: delete, days: 60}
caller_numbers: {action: keep}
"""


def test_the_shipped_policy_loads_with_its_documented_values() -> None:
    policy = load_policy()
    assert policy.source == str(DEFAULT_POLICY_FILE)
    assert (policy.recordings.action, policy.recordings.days) == (RetentionAction.DELETE, 180)
    assert (policy.transcripts.action, policy.transcripts.days) == (RetentionAction.ANONYMISE, 365)
    assert (policy.caller_numbers.action, policy.caller_numbers.days) == (RetentionAction.ANONYMISE, 1095)


def test_cutoffs_count_days_back_from_now_and_keep_means_none() -> None:
    policy = parse_policy(GOOD, source="site.yaml")
    cut = policy.cutoffs(NOW)
    assert cut[RetentionKind.RECORDINGS] == NOW - timedelta(days=30)
    assert cut[RetentionKind.TRANSCRIPTS] == NOW - timedelta(days=60)
    assert cut[RetentionKind.CALLER_NUMBERS] is None
    stored = policy.as_json(NOW)
    assert stored["recordings"] == {"action": "delete", "days": 30, "cutoff": "2027-01-30T22:00:00+00:00"}
    assert stored["caller_numbers"]["cutoff"] is None and stored["source"] == "site.yaml"


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_policy(GOOD).cutoffs(datetime(2027, 1, 1))


def test_the_american_spelling_is_accepted() -> None:
    policy = parse_policy(GOOD.replace("transcripts: {action: delete", "transcripts: {action: anonymize"))
    assert policy.transcripts.action is RetentionAction.ANONYMISE


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (GOOD.replace("action: delete, days: 30", "action: erase, days: 30"), "`recordings.action` is 'erase'"),
        (GOOD.replace("action: delete, days: 30", "action: anonymise, days: 30"), "cannot be 'anonymise'"),
        (GOOD.replace("days: 30", "days: 0"), "between 1 and"),
        (GOOD.replace("days: 30", "days: '30'"), "whole number of days, not '30'"),
        (GOOD.replace("days: 30", "days: 2.5"), "whole number of days, not 2.5"),
        (GOOD.replace("{action: delete, days: 30}", "{action: delete}"), "`recordings.days` is missing"),
        (GOOD.replace("{action: delete, days: 30}", "{action: delete, days: 30, after: call}"), "unknown keys"),
        (GOOD.replace("{action: delete, days: 30}", "thirty"), "must be a mapping"),
        (GOOD + "photos: {action: delete, days: 3}\n", "unknown kinds ['photos']"),
        (GOOD.replace("caller_numbers: {action: keep}", ""), "no rule for caller_numbers"),
        ("recordings: [unclosed\n", "not valid YAML at line"),
        ("- a list\n", "must be a mapping of recordings"),
    ],
    ids=[
        "unknown-action",
        "action-not-for-kind",
        "zero-days",
        "days-text",
        "days-fraction",
        "days-missing",
        "unknown-key",
        "kind-not-mapping",
        "unknown-kind",
        "missing-kind",
        "bad-yaml",
        "not-a-mapping",
    ],
)
def test_a_bad_policy_is_refused_with_a_sentence(text: str, says: str) -> None:
    with pytest.raises(RetentionPolicyError) as caught:
        parse_policy(text, source="site.yaml")
    assert says in str(caught.value) and str(caught.value).startswith("site.yaml: ")


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(RetentionPolicyError, match="cannot read the retention policy .*nope.yaml"):
        load_policy(tmp_path / "nope.yaml")


def test_a_site_file_overrides_the_default(tmp_path: Path) -> None:
    site = tmp_path / "retention.yaml"
    site.write_text(GOOD, encoding="utf-8")
    assert load_policy(site).recordings.days == 30


def test_the_daily_run_is_due_from_its_hour_on_the_city_clock_once_a_day() -> None:
    two_am = NOW - timedelta(hours=1)  # 02:00 in Almaty
    assert not run_due(two_am, hour=3, tz=ALMATY, last_run_at=None)
    assert run_due(NOW, hour=3, tz=ALMATY, last_run_at=None)
    # a run earlier this local day (after midnight in Almaty, still 1 March in UTC) counts as today's
    assert not run_due(NOW + timedelta(hours=5), hour=3, tz=ALMATY, last_run_at=NOW - timedelta(minutes=1))
    # yesterday's run does not
    assert run_due(NOW, hour=3, tz=ALMATY, last_run_at=NOW - timedelta(days=1))
    with pytest.raises(ValueError, match="0..23"):
        run_due(NOW, hour=24, tz=ALMATY, last_run_at=None)


def words(text: str, start: float = 10.0) -> list[dict[str, object]]:
    return [
        {"word": t, "start": start + i * 0.5, "end": start + i * 0.5 + 0.4, "conf": 0.9}
        for i, t in enumerate(text.split())
    ]


def test_an_anonymised_segment_keeps_only_the_placeholders_with_their_times() -> None:
    said = "мой номер восемь семьсот один двести тридцать четыре пятьдесят шесть семьдесят восемь живу на абая"
    result = anonymise_words(words(said))
    assert result.text == "<phone>"
    assert result.words == [{"word": "<phone>", "start": 11.0, "end": 15.9, "conf": 0.9}]
    iin_and_phone = (
        "иин девяносто ноль восемь двенадцать триста пятьдесят сто двадцать восемь "
        "номер восемь семьсот один двести тридцать четыре пятьдесят шесть семьдесят восемь"
    )
    assert anonymise_words(words(iin_and_phone)).text == "<iin> <phone>"


def test_a_segment_without_personal_data_keeps_nothing_said() -> None:
    result = anonymise_words(words("менің пәтерімде жылу жоқ абай көшесі он бес"))
    assert result.text == "" and result.words == []
    assert anonymise_words([]).text == ""
