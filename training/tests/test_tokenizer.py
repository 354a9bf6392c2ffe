"""Text tokenizer: the rules of docs/models.md and the golden fixture the Rust side replays."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hark_train.tokenizer import (
    GOLDEN_PATH,
    PATTERN,
    Tokenizer,
    golden_fixture,
    normalise,
    tokenize,
)


def test_golden_fixture_is_up_to_date():
    committed = json.loads(Path(GOLDEN_PATH).read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(golden_fixture(), ensure_ascii=False)), (
        "regenerate with: cd training && python -m hark_train.tokenizer"
    )


def test_golden_fixture_replays_from_its_own_spec():
    """Replays the fixture from the metadata object alone, the way the Rust side will."""
    g = json.loads(Path(GOLDEN_PATH).read_text(encoding="utf-8"))
    spec = g["tokenizer"]
    rx = re.compile(spec["pattern"])
    index = {t: i for i, t in enumerate(spec["vocab"])}
    assert spec["vocab"][0] == spec["pad"] and spec["vocab"][1] == spec["unknown"]
    kinds = set()
    for case in g["cases"]:
        toks = rx.findall(case["normalised"])
        assert toks == case["tokens"]
        ids = [index.get(t, 1) for t in toks][: spec["max_tokens"]]
        assert ids == case["ids"]
        kinds |= {"unk" for i in ids if i == 1} | {"empty" for _ in [0] if not toks}
    assert kinds == {"unk", "empty"}


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Turn ON the Kitchen light!", ["turn", "on", "the", "kitchen", "light"]),
        ("", []),
        ("?!. ,", []),
        ("Don’t stop", ["don't", "stop"]),
        ("it's 22.5°C", ["it's", "22", "5", "c"]),
        ("Crème brûlée", ["creme", "brulee"]),
        ("rock'n'roll", ["rock'n", "roll"]),
        ("'quoted'", ["quoted"]),
        ("50%", ["50"]),
        ("ﬁne", ["fine"]),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_normalise_keeps_ascii_length():
    s = "Set the Living Room lights to 50 percent, please."
    assert len(normalise(s)) == len(s)
    assert normalise("ÉCOLE") == "ecole"


def test_vocabulary_build_and_meta_round_trip():
    tok = Tokenizer.build(["a b b c", "b c d"], min_count=2, always=["zeta"])
    assert tok.vocab == ["<pad>", "<unk>", "zeta", "b", "c"]
    assert tok.encode("b zeta q") == [3, 2, 1]
    meta = tok.to_meta()
    assert meta["pattern"] == PATTERN and meta["lowercase"] and meta["strip_accents"]
    assert meta["pad"] == "<pad>" and meta["unknown"] == "<unk>"
    again = Tokenizer.from_meta(meta)
    assert again.encode("b zeta q") == [3, 2, 1]
    with pytest.raises(ValueError):
        Tokenizer(["a", "<pad>"])
