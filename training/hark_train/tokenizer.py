"""The text models' tokenizer: normalisation, token pattern, vocabulary (docs/models.md).

The rules are deliberately small so that the Rust runtime reproduces them exactly:

1. lowercase the text (Python ``str.lower``; Rust ``str::to_lowercase``);
2. replace each key of ``REPLACE`` by its value (typographic apostrophes and the backtick become
   ``'``);
3. strip accents: Unicode NFKD, then drop every combining mark (general category ``M``: ``Mn``,
   ``Mc``, ``Me``; Rust: ``unicode_normalization::char::is_combining_mark``), so ``é`` → ``e``
   and the ligature ``ﬁ`` → ``fi``;
4. the tokens are the successive non-overlapping matches of ``PATTERN``
   (``[a-z0-9]+(?:'[a-z]+)?``, the same in Python ``re`` and the Rust ``regex`` crate): words and
   numbers, with one apostrophe suffix kept ("don't", "kitchen's"); everything else (punctuation,
   symbols, letters outside a-z after step 3) separates tokens and is dropped;
5. ids: index in ``vocab``; a token not in the vocabulary gets the id of ``unknown`` (1); id 0 is
   ``pad``. At most ``max_tokens`` tokens are kept (the first ones).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PATTERN = r"[a-z0-9]+(?:'[a-z]+)?"
PAD = "<pad>"
UNK = "<unk>"
#: Applied after lowercasing, before NFKD (order of the keys).
REPLACE = {"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"}
MAX_TOKENS = 64

_RE = re.compile(PATTERN)


def normalise(text: str, lowercase: bool = True, strip_accents: bool = True) -> str:
    """Steps 1-3: lowercase, apostrophes, NFKD without combining marks."""
    if lowercase:
        text = text.lower()
    for a, b in REPLACE.items():
        text = text.replace(a, b)
    if strip_accents:
        text = "".join(
            c
            for c in unicodedata.normalize("NFKD", text)
            if not unicodedata.category(c).startswith("M")
        )
    return text


def tokenize(text: str) -> list[str]:
    """The tokens of ``text`` (steps 1-4)."""
    return _RE.findall(normalise(text))


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Tokens with their character spans in the *normalised* text. For ASCII input (grammar
    expansions) the normalised text has the same length as the input, so the spans also index
    the original text."""
    return [(m.group(0), m.start(), m.end()) for m in _RE.finditer(normalise(text))]


@dataclass
class Tokenizer:
    """A vocabulary plus the fixed rules above."""

    vocab: list[str]
    max_tokens: int = MAX_TOKENS
    tags: list[str] | None = None
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.vocab[:2] != [PAD, UNK]:
            raise ValueError(f"vocab must start with {PAD!r}, {UNK!r}")
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError("vocab has duplicates")
        self._index = {t: i for i, t in enumerate(self.vocab)}

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        min_count: int = 2,
        always: Iterable[str] = (),
        max_size: int | None = None,
        max_tokens: int = MAX_TOKENS,
    ) -> Tokenizer:
        """Vocabulary of the tokens seen at least ``min_count`` times in ``texts`` (most frequent
        first, ties alphabetical), plus every token of ``always`` (e.g. the grammar's words)."""
        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(tokenize(t))
        forced = []
        seen = {PAD, UNK}
        for text in always:
            for tok in tokenize(text):
                if tok not in seen:
                    seen.add(tok)
                    forced.append(tok)
        ranked = sorted(
            (w for w, n in counts.items() if n >= min_count and w not in seen),
            key=lambda w: (-counts[w], w),
        )
        if max_size is not None:
            ranked = ranked[: max(0, max_size - 2 - len(forced))]
        return cls([PAD, UNK] + sorted(forced) + ranked, max_tokens=max_tokens)

    @property
    def unk_id(self) -> int:
        return 1

    @property
    def pad_id(self) -> int:
        return 0

    def ids(self, tokens: list[str]) -> list[int]:
        return [self._index.get(t, 1) for t in tokens[: self.max_tokens]]

    def encode(self, text: str) -> list[int]:
        return self.ids(tokenize(text))

    def to_meta(self) -> dict[str, Any]:
        """The ``tokenizer`` object of the metadata (docs/models.md)."""
        meta: dict[str, Any] = {
            "lowercase": True,
            "replace": dict(REPLACE),
            "strip_accents": True,
            "pattern": PATTERN,
            "vocab": list(self.vocab),
            "pad": PAD,
            "unknown": UNK,
            "max_tokens": self.max_tokens,
        }
        if self.tags is not None:
            meta["tags"] = list(self.tags)
        return meta

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Tokenizer:
        if meta.get("pattern") != PATTERN:
            raise ValueError(f"unsupported tokenizer pattern {meta.get('pattern')!r}")
        return cls(
            list(meta["vocab"]),
            max_tokens=int(meta.get("max_tokens", MAX_TOKENS)),
            tags=meta.get("tags"),
        )


# Golden fixtures for the Rust side ----------------------------------------------------------

GOLDEN_VOCAB = [
    PAD,
    UNK,
    "turn",
    "on",
    "the",
    "kitchen",
    "light",
    "don't",
    "cafe",
    "50",
    "to",
    "set",
    "it's",
    "naive",
    "fi",
]
GOLDEN_SENTENCES = [
    "Turn on the kitchen light",
    "TURN ON THE KITCHEN LIGHT!!!",
    "",
    "   ",
    "Don't turn on the light.",
    "Don’t turn on the light",
    "It's   the CAFÉ, naïve!",
    "Set the light to 50%",
    "set the light to 50.5 %",
    "kitchen's light",
    "rock'n'roll",
    "'quoted' words",
    "ﬁ ligature and Ångström",
    "zebra unknown words 123abc",
    "emoji 🎉 and tabs\tand\nnewlines",
    "o'clock o' 'em",
    "über straße 東京 кухня",
    "l'été",
]


def golden_fixture() -> dict[str, Any]:
    """The tokenizer golden fixture (tests/fixtures/text/tokenizer_golden.json)."""
    tok = Tokenizer(list(GOLDEN_VOCAB))
    cases = []
    for s in GOLDEN_SENTENCES:
        toks = tokenize(s)
        cases.append({"text": s, "normalised": normalise(s), "tokens": toks, "ids": tok.ids(toks)})
    long = " ".join(["light"] * 70)
    toks = tokenize(long)
    cases.append(
        {
            "text": long,
            "normalised": normalise(long),
            "tokens": toks,
            "ids": tok.ids(toks),
            "note": "truncated to max_tokens ids",
        }
    )
    return {
        "description": "hark text tokenizer goldens: normalise(text) -> tokens -> ids with the "
        "tokenizer object below (docs/models.md); produced by training/hark_train/tokenizer.py",
        "tokenizer": tok.to_meta(),
        "cases": cases,
    }


GOLDEN_PATH = (
    Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "text" / "tokenizer_golden.json"
)


def write_golden(path: Path = GOLDEN_PATH) -> Path:
    """Writes the golden fixture (``python -m hark_train.tokenizer [PATH]``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(golden_fixture(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return path


if __name__ == "__main__":
    import sys

    print(write_golden(Path(sys.argv[1]) if len(sys.argv) > 1 else GOLDEN_PATH))
