"""Normalisation is shared by training and serving and is token-local."""

from __future__ import annotations

from classifier.language import detect
from classifier.normalize import kk_fold, normalize


def test_case_yo_punctuation_and_kazakh_letters() -> None:
    assert normalize("Алло! Ёлки, ГАЗДЫҢ иісі шығып тұр...") == "алло елки газдың иісі шығып тұр"


def test_latin_lookalikes_folded_inside_cyrillic_words() -> None:
    # "пoжар" with a Latin "o", "кoмек" with Latin o
    assert normalize("пoжар") == "пожар"
    assert normalize("wifi не работает") == "wifi не работает"


def test_hesitations_and_asr_tags_removed() -> None:
    assert normalize("эээ ну ммм <unk> [noise] лифт тұрып қалды") == "ну лифт тұрып қалды"
    assert normalize("ааа лифт") == "лифт"
    assert normalize("а лифт") == "а лифт"


def test_slash_between_digits_kept() -> None:
    assert normalize("дом 12/1, кв. 5") == "дом 12/1 кв 5"


def test_token_local_so_segments_join() -> None:
    a, b = "Алло, эээ у нас", "газом пахнет!"
    assert normalize(a + " " + b) == normalize(a) + " " + normalize(b)


def test_kk_fold() -> None:
    assert kk_fold("қырық") == "кырык"


def test_language_detection() -> None:
    assert detect(normalize("у нас во дворе вода течет уже третий день").split()) == "ru"
    assert detect(normalize("сәлеметсіз бе біздің аулада су ағып жатыр").split()) == "kk"
    assert detect(normalize("алло девушка у нас во дворе вода течёт аулада су ағып жатыр").split()) == "mixed"
    assert detect([]) == "ru"


def test_language_votes_without_a_language_head() -> None:
    from classifier.language import vote

    v = vote(normalize("алло девушка у нас подъезд не убирают қоқыс жатыр").split())
    assert (v.kk, v.ru) == (3, 5) and v.language == "mixed"  # "не" is a word of both languages


def test_language_evidence_counts_content_words_of_both_languages() -> None:
    from classifier.language import Lexicon, build_lexicon, content_counts, with_evidence

    lines = [("свет вырубился опять".split(), "ru"), ("свет жоқ үйде".split(), "kk"), ("лифт стоит".split(), "ru"),
             ("лифт тұрып қалды".split(), "kk")]
    lex = Lexicon.from_lists(build_lexicon(lines))
    assert lex.ru == {"вырубился", "опять", "стоит"} and "свет" not in lex.ru  # a loanword of Kazakh speech
    names = frozenset({"тұран"})
    # Kazakh speech with a loanword and a street name: Kazakh only
    assert content_counts(normalize("тұран даңғылы үйде свет жоқ").split(), lex, names) == (3, 0)
    # Russian speech with courtesy words only: Russian only, whatever the head says
    kk, ru = content_counts(normalize("сәлеметсіз бе у нас лифт стоит опять рахмет").split(), lex, names)
    assert (kk, ru) == (0, 4) and with_evidence("mixed", kk, ru) == "ru"  # "лифт" is both
    # real switching, two words of each: mixed
    kk, ru = content_counts(normalize("үйде свет жоқ вырубился опять").split(), lex, names)
    assert (kk, ru) == (2, 2) and with_evidence("kk", kk, ru) == "mixed"
    # one word of each is too little evidence: the head decides
    assert with_evidence("kk", 1, 1) == "kk" and with_evidence("ru", 1, 1) == "ru"
