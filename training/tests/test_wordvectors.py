"""Word vectors: the three file formats load alike, clitic tokens get their parts' mean, the
vocabulary grows by the most frequent whole-token words, bad files are refused clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hark_train import wordvectors as wv
from hark_train.tokenizer import Tokenizer

WORDS = ["the", ",", "film", "good", "n't", "do", "'s", "great", "rock'n'roll", "Paris", "movie"]


def _vectors() -> wv.WordVectors:
    rng = np.random.default_rng(0)
    return wv.WordVectors(list(WORDS), rng.normal(size=(len(WORDS), 4)).astype(np.float32))


def _write_glove(path, vectors):
    lines = [
        w + " " + " ".join(f"{x:.6f}" for x in v)
        for w, v in zip(vectors.words, vectors.matrix, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_wink(path, vectors):
    raw = {
        "precision": 6,
        "dimensions": vectors.dim,
        "size": len(vectors.words),
        "words": vectors.words,
        "vectors": {
            w: [round(float(x), 6) for x in v] + [float(np.linalg.norm(v)), i]
            for i, (w, v) in enumerate(zip(vectors.words, vectors.matrix, strict=True))
        },
        "unkVector": [0.0] * vectors.dim + [0, -1],
    }
    path.write_text(json.dumps(raw), encoding="utf-8")


def test_formats_load_alike(tmp_path):
    ref = _vectors()
    _write_glove(tmp_path / "glove.txt", ref)
    _write_wink(tmp_path / "wink.json", ref)
    wv.save(ref, tmp_path / "saved")
    for src in (tmp_path / "glove.txt", tmp_path / "wink.json", tmp_path / "saved"):
        got = wv.load(src)
        assert got.words == WORDS
        assert got.dim == 4
        assert got.source == str(src)
        np.testing.assert_allclose(got.matrix, ref.matrix, atol=1e-5)
    # The converter's command line writes the saved form.
    wv.save(wv.load(tmp_path / "wink.json"), tmp_path / "converted")
    assert (tmp_path / "converted" / "words.txt").read_text().split("\n")[:2] == ["the", ","]


def test_clitic_tokens_get_the_mean_of_their_parts():
    v = _vectors()
    np.testing.assert_allclose(v.vector("don't"), (v.get("do") + v.get("n't")) / 2)
    np.testing.assert_allclose(v.vector("film's"), (v.get("film") + v.get("'s")) / 2)
    np.testing.assert_allclose(v.vector("rock'n'roll"), v.get("rock'n'roll"))  # in the table
    np.testing.assert_allclose(v.vector("zebra's"), v.get("'s"))  # one part known
    assert v.vector("zebra") is None
    assert v.vector("zeb'ra") is None


def test_extend_vocabulary_and_table():
    v = _vectors()
    tok = Tokenizer.build(["the good film", "the film"], min_count=1)
    assert tok.vocab == ["<pad>", "<unk>", "film", "the", "good"]
    ext = wv.extend_vocabulary(tok, v, extra_words=3)
    # Most frequent first; "," and "'s" are no tokens of hark's tokenizer ("n't" is); already
    # known words are not repeated.
    assert ext.vocab == tok.vocab + ["n't", "do", "great"]
    assert ext.encode("a great film") == [1, 7, 2]
    assert wv.extend_vocabulary(tok, v, extra_words=0).vocab == tok.vocab
    m, found = wv.table(ext, v)
    assert m.shape == (8, 4) and found == 6
    assert not m[:2].any()  # <pad>, <unk>
    np.testing.assert_allclose(m[ext.vocab.index("great")], v.get("great"))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.txt", None, "no such"),
        ("ragged.txt", "a 1 2 3\nb 1 2\n", "ragged.txt:2"),
        ("words.txt", "a 1 x\n", "not a GloVe line"),
        ("empty.txt", "", "no vectors"),
        ("bad.json", '{"words": ["a"]}', "wink-embeddings"),
        ("folder", "", "vectors.npy"),
    ],
)
def test_bad_files_are_refused(tmp_path, name, content, message):
    path = tmp_path / name
    if name == "folder":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    with pytest.raises(wv.WordVectorError, match=message):
        wv.load(path)


def test_a_table_must_match_its_words():
    with pytest.raises(wv.WordVectorError, match="shape"):
        wv.WordVectors(["a", "b"], np.zeros((3, 2), dtype=np.float32))


def test_text_commands_refuse_bad_vectors_before_training(tmp_path, capsys):
    from hark_train.__main__ import main

    for command in ("text-sentiment", "text-intent"):
        extra = ["--context", str(tmp_path / "ctx.yaml")] if command == "text-intent" else []
        argv = [command, *extra, "--out", str(tmp_path / "out")]
        assert main([*argv, "--data", str(tmp_path), "--word-vectors", str(tmp_path / "no")]) == 2
        assert "no such word-vector file" in capsys.readouterr().err
        assert not (tmp_path / "out").exists()
    for flag in ("--members", "--max-seconds"):
        with pytest.raises(SystemExit):
            main(["text-sentiment", "--out", str(tmp_path / "out"), flag, "0"])
        assert "must be at least 1" in capsys.readouterr().err
    # Teacher settings without a teacher would be silently ignored: refused instead.
    out = ["text-sentiment", "--out", str(tmp_path / "out"), "--data", str(tmp_path)]
    with pytest.raises(SystemExit):
        main([*out, "--teacher-variants", "-1"])
    assert "must be at least 0" in capsys.readouterr().err
    for extra in (["--teacher-on-rows"], ["--teacher-cache", str(tmp_path / "c")]):
        assert main([*out, *extra]) == 2
        assert "need --teacher-variants" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_prepare_takes_vectors_or_their_path(tmp_path):
    tok = Tokenizer.build(["the good film", "the film"], min_count=1)
    folder = wv.save(_vectors(), tmp_path / "saved")
    loaded = wv.load(folder)
    for vectors in (loaded, folder):
        ext, matrix, note = wv.prepare(tok, vectors, extra_words=2)
        assert ext.vocab == tok.vocab + ["n't", "do"]
        assert matrix.shape == (7, 4)
        assert note == {
            "source": str(folder),
            "words": len(WORDS),
            "dimensions": 4,
            "trained_vocab": 5,
            "extra_words": 2,
            "tokens_with_vector": 5,
        }
