"""Word error rate and the low-confidence marks' accuracy against hand-made references (kk, ru and mixed)."""

from __future__ import annotations

import jiwer
import pytest

from asr.quality import LOW_CONFIDENCE, Counts, Fate, HeardWord, aggregate, normalise, score, total


def heard(text: str, low: frozenset[int] | set[int] = frozenset()) -> list[HeardWord]:
    """Words of ``text``; those at the positions in ``low`` below the threshold, the rest sure."""
    return [HeardWord(w, 0.3 if i in low else 0.95) for i, w in enumerate(text.split())]


def test_the_threshold_is_the_desks() -> None:
    assert LOW_CONFIDENCE == 0.6
    assert HeardWord("а", 0.59).marked and not HeardWord("а", 0.6).marked and not HeardWord("а", None).marked


def test_normalisation_keeps_kazakh_letters_and_drops_punctuation() -> None:
    assert normalise("Сәлеметсіз бе, ҚҰРМЕТТІ азамат! Жарық жоқ — «Ғылым» көшесі…") == [
        "сәлеметсіз", "бе", "құрметті", "азамат", "жарық", "жоқ", "ғылым", "көшесі",
    ]  # fmt: skip
    assert normalise("Всё ёлка") == ["все", "елка"]
    assert normalise("бiлмеймiн i") == ["білмеймін", "i"]  # Latin i typed for і, only inside Cyrillic words
    assert normalise("№ 5, 12-й") == ["5", "12й"]


def test_a_correct_kazakh_transcript_scores_zero() -> None:
    out = score(
        heard("сәлеметсіз бе мен қаладан қоңырау шалып тұрмын"), "Сәлеметсіз бе, мен қаладан қоңырау шалып тұрмын."
    )
    assert out.counts == Counts(segments=1, reference_words=7, hypothesis_words=7)
    assert out.counts.wer == 0.0 and out.counts.mark_precision is None and out.counts.mark_recall is None


def test_mixed_kk_ru_substitutions_where_a_kazakh_letter_was_lost() -> None:
    # the machine wrote "жок" for "жоқ" and "улица" for "улице"; it was unsure of "жок" and of "нас" (right)
    out = score(heard("алло у нас жарық жок на улица кенесары", low={2, 4}), "Алло, у нас жарық жоқ на улице Кенесары")
    c = out.counts
    assert (c.reference_words, c.substitutions, c.deletions, c.insertions) == (8, 2, 0, 0)
    assert c.wer == pytest.approx(2 / 8)
    assert (c.marked, c.wrong, c.hits) == (2, 2, 1)
    assert c.mark_precision == pytest.approx(0.5) and c.mark_recall == pytest.approx(0.5)
    assert [f for _, f in out.words].count(Fate.SUBSTITUTED) == 2
    assert out.words[4] == (HeardWord("жок", 0.3), Fate.SUBSTITUTED)


def test_deletions_and_insertions_and_a_removed_word_marked() -> None:
    # reference "су жоқ үш күн болды": the machine missed "үш" (deletion) and added "ғой" (insertion), marked low
    out = score(heard("су жоқ күн болды ғой", low={4}), "су жоқ үш күн болды")
    c = out.counts
    assert (c.substitutions, c.deletions, c.insertions) == (0, 1, 1)
    assert c.wer == pytest.approx(2 / 5)
    assert out.words[4] == (HeardWord("ғой", 0.3), Fate.REMOVED)
    # the missed "үш" has no machine word to mark: it is in WER, not in the marks' recall
    assert (c.marked, c.wrong, c.hits) == (1, 1, 1)
    assert c.mark_precision == 1.0 and c.mark_recall == 1.0


def test_russian_with_an_unmarked_error_and_unknown_confidence() -> None:
    words = [HeardWord("здравствуйте", 0.9), HeardWord("у", None), HeardWord("меня", 0.5), HeardWord("трубу", 0.99),
             HeardWord("прорвала", 0.8)]  # fmt: skip
    c = score(words, "Здравствуйте! У меня трубу прорвало.").counts
    assert (c.substitutions, c.deletions, c.insertions, c.reference_words) == (1, 0, 0, 5)
    assert (c.marked, c.wrong, c.hits) == (1, 1, 0)
    assert c.mark_precision == 0.0 and c.mark_recall == 0.0


def test_empty_sides() -> None:
    only_dots = score(heard("да да", low={0}), "…").counts  # QA says nothing was said
    assert (only_dots.reference_words, only_dots.insertions, only_dots.wrong, only_dots.hits) == (0, 2, 2, 1)
    assert only_dots.wer is None
    nothing_heard = score([], "жарық жоқ").counts
    assert (nothing_heard.deletions, nothing_heard.wer) == (2, 1.0)
    assert score([HeardWord(",", 0.1)], "—").counts == Counts(segments=1)  # punctuation-only words drop out


PAIRS = [
    ("алло у нас жарық жок на улица кенесары", "Алло, у нас жарық жоқ на улице Кенесары"),
    ("су жоқ күн болды ғой", "су жоқ үш күн болды"),
    ("сәлеметсіз бе мен қаладан қоңырау шалып тұрмын", "Сәлеметсіз бе, мен қаладан қоңырау шалып тұрмын."),
    ("здравствуйте у меня трубу прорвала", "Здравствуйте! У меня трубу прорвало."),
    ("лифт не работает третий день", "Лифт не работает уже третий день, бабушка не может выйти."),
    ("подъезд бесінші үйде қоқыс", "Бесінші үйдің подъезінде қоқыс жатыр"),
]


def test_the_totals_agree_with_jiwer_on_the_same_strings() -> None:
    scored = [score(heard(h), r).counts for h, r in PAIRS]
    mine = total(scored)
    refs = [" ".join(normalise(r)) for _, r in PAIRS]
    hyps = [" ".join(normalise(h)) for h, _ in PAIRS]
    theirs = jiwer.process_words(refs, hyps)
    assert (mine.substitutions, mine.deletions, mine.insertions) == (
        theirs.substitutions, theirs.deletions, theirs.insertions,
    )  # fmt: skip
    assert mine.wer == pytest.approx(jiwer.wer(refs, hyps))
    assert mine.reference_words == sum(len(r.split()) for r in refs)
    # one pair at a time, too
    for (h, r), c in zip(PAIRS, scored, strict=True):
        assert c.wer == pytest.approx(jiwer.wer(" ".join(normalise(r)), " ".join(normalise(h))))


def test_groups_sum_counts_not_rates() -> None:
    a = score(heard("жарық жок"), "жарық жоқ").counts  # 1/2
    b = score(heard("лифт не работает третий день"), "лифт не работает третий день").counts  # 0/5
    c = score(heard("су жоқ"), "су жоқ").counts  # 0/2
    groups = aggregate([("kk", a), ("ru", b), ("kk", c)])
    assert list(groups) == ["kk", "ru"]
    assert groups["kk"].segments == 2 and groups["kk"].wer == pytest.approx(1 / 4)  # not the mean of 1/2 and 0
    assert groups["ru"].wer == 0.0
    assert total(groups.values()).wer == pytest.approx(1 / 9)
