"""Texts: keyword matching, corpora readers, negative sentences and confusables never carry a
keyword."""

import json
import re
import shutil

import pytest

from hark_train import texts as T

HAVE_ESPEAK = shutil.which("espeak-ng") is not None


def _independent_hit(text: str, keywords) -> bool:
    """A second, plain-regex opinion: the keyword as a whole word (any case, possessive)."""
    return any(re.search(rf"(?<![a-z]){re.escape(k)}(?![a-z])", text.lower()) for k in keywords)


@pytest.fixture()
def small_data(tmp_path, monkeypatch):
    """A data folder with the three corpora in their real formats, some sentences carrying
    keywords in tricky ways."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = tmp_path / "text"
    hwu = text / "hwu64" / "x" / "KFold_1" / "trainset"
    hwu.mkdir(parents=True)
    (hwu / "iot_hue.csv").write_text(
        "answerid;scenario;intent;answer_annotation;answer_from_anno;answer_from_user\n"
        '1;iot;hue;"turn [x : on] the lights";"turn on the lights";"Turn on the lights"\n'
        '2;iot;hue;"dim the kitchen";"dim the kitchen lights please";"dim the kitchen"\n'
        '3;iot;hue;"x";"Computer, lights";"Computer, lights"\n',
        encoding="utf-8",
    )
    slurp = text / "slurp" / "dataset" / "slurp"
    slurp.mkdir(parents=True)
    rows = [
        "jarvis's favourite song please",
        "what is the weather like today",
        "stopped the timer already",
        "my computers are slow today",
        "set an alarm for seven",
    ]
    (slurp / "devel.jsonl").write_text(
        "".join(json.dumps({"sentence": s, "intent": "x"}) + "\n" for s in rows), encoding="utf-8"
    )
    sst = text / "sst2"
    sst.mkdir(parents=True)
    (sst / "train.tsv").write_text(
        "sentence\tlabel\n"
        "the jokes fall flat , one after another \t0\n"
        "a warm , funny and clever film \t1\n"
        "yes , it 's as good as they say \t1\n"
        "the commuter train was late again \t0\n",
        encoding="utf-8",
    )
    return tmp_path


def test_contains_keyword():
    kws = T.KEYWORDS
    for s in [
        "Computer!",
        "hey JARVIS",
        "jarvis's idea",
        "my computers",
        "computerised",
        "it stopped",
        "stops",
        "YES.",
        "turn it on",
        "going home",
        "left-handed",
    ]:
        assert T.contains_keyword(s, kws), s
    for s in [
        "commuter",
        "compute her",
        "computing",
        "harvest service",
        "yesterday",
        "nobody",
        "upon",
        "often",
        "stock",
        "goal",
        "",
    ]:
        assert not T.contains_keyword(s, kws), s
    assert T.contains_keyword("turn it on", ["on"])
    assert not T.contains_keyword("turn it on", ["computer", "jarvis"])


def test_keyword_phrasings_keep_the_label():
    assert ("hey computer", 2) in T.keyword_phrasings("computer")
    assert all("yes" in p for p, _ in T.keyword_phrasings("yes"))
    assert not any(p.startswith("hey") for p, _ in T.keyword_phrasings("yes"))


def test_corpus_readers(small_data):
    T.corpus_sentences.cache_clear()
    got = T.corpus_sentences(str(small_data))
    corpora = {c for c, _ in got}
    assert corpora == {"hwu64", "slurp", "sst2"}
    sents = [s for _, s in got]
    assert "turn on the lights" in sents
    assert "the jokes fall flat, one after another" in sents  # detokenised like SST-2
    assert "yes, it's as good as they say" in sents


def test_negative_sentences_never_carry_a_keyword(small_data):
    T.corpus_sentences.cache_clear()
    for kws in (T.KEYWORDS, T.WAKE_WORDS, ("on",)):
        sents = T.negative_sentences(small_data, kws)
        assert sents
        for _, s in sents:
            assert not T.contains_keyword(s, kws), s
            assert not _independent_hit(s, kws), s
    wake_only = [s for _, s in T.negative_sentences(small_data, T.WAKE_WORDS)]
    assert "turn on the lights" in wake_only  # "on" is not filtered when not a keyword
    assert "my computers are slow today" not in wake_only
    assert "the commuter train was late again" in wake_only


def test_confusables_never_carry_a_keyword(small_data):
    T.corpus_sentences.cache_clear()
    conf = T.confusables(T.KEYWORDS, small_data, min_count=1)
    assert set(conf) == set(T.KEYWORDS)
    for k, words in conf.items():
        assert words, k
        assert len(words) == len(set(words))
        for w in words:
            assert not T.contains_keyword(w, T.KEYWORDS), (k, w)
            assert not _independent_hit(w, T.KEYWORDS), (k, w)
    assert "commuter" in conf["computer"] and "harvest" in conf["jarvis"]
    # With only the wake words active, command words may be confusables again.
    wake = T.confusables(T.WAKE_WORDS, None)
    assert "compute her" in wake["computer"]


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
def test_homophones_are_not_negatives(small_data, monkeypatch):
    monkeypatch.setitem(T.HAND_CONFUSABLES, "no", ("know", "note"))
    monkeypatch.setitem(T.HAND_CONFUSABLES, "right", ("write", "light"))
    T._rule_confusables.cache_clear()
    conf = T.confusables(("no", "right"), None)
    assert conf["no"] == ["note"] and conf["right"] == ["light"]
    ipa = T.phonemize(["know", "no"])
    assert ipa[0] == ipa[1]


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HARK_DATA", str(tmp_path / "env"))
    assert T.data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert T.data_dir() == tmp_path / "env"
    monkeypatch.delenv("HARK_DATA")
    assert T.data_dir() == (T.REPO_ROOT / ".." / "shared" / "data").resolve()


REAL = T.data_dir()


@pytest.mark.skipif(not (REAL / "text").is_dir(), reason="HARK_DATA text corpora not present")
def test_real_corpora_filtered():
    sents = T.negative_sentences(REAL, T.KEYWORDS)
    assert len(sents) > 10000
    assert {c for c, _ in sents} == {"hwu64", "slurp", "sst2"}
    for _, s in sents:
        assert not _independent_hit(s, T.KEYWORDS), s
