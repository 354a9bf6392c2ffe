"""Texts to synthesise for the keyword model: keyword phrasings, confusable negatives, sentences.

- Keywords: the wake words ``computer`` and ``jarvis`` and the ten Speech Commands words. A clip's
  label is always the single keyword, whatever the phrasing ("hey computer" is labelled
  ``computer``).
- Confusable negatives: a hand-written list per keyword (near rhymes, shared onsets, words that
  contain most of the keyword) plus words chosen *by rule* from the corpora's vocabulary: espeak-ng
  phonemes within a small edit distance of the keyword's, or sharing its onset or rhyme. Exact
  homophones (same phonemes: "know" for "no", "write" for "right") are dropped: a negative that
  sounds exactly like the keyword would teach the model an impossible distinction.
- Sentences: HWU64, SLURP and SST-2 sentences from ``HARK_DATA/text`` that do not contain any
  active keyword as a word (nor an inflection of it, nor for the long wake words any word that
  starts with it, e.g. "computers").

The data folder is the environment variable ``HARK_DATA``, else ``../shared/data`` next to the
repository root (``data_dir()``).
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

WAKE_WORDS = ("computer", "jarvis")
COMMAND_WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
KEYWORDS = WAKE_WORDS + COMMAND_WORDS
NEGATIVE = "_negative_"

REPO_ROOT = Path(__file__).resolve().parents[2]

# Phrasings: "{}" is the keyword. Weights favour the bare word.
WAKE_PHRASINGS = (("{}", 4), ("{}.", 2), ("{}!", 1), ("{}?", 1), ("hey {}", 2), ("okay {}", 1))
COMMAND_PHRASINGS = (("{}", 4), ("{}.", 2), ("{}!", 2))

# Hand-written confusables. Words that equal another keyword are removed when that keyword is
# active (see confusables()); homophones are removed by rule.
HAND_CONFUSABLES: dict[str, tuple[str, ...]] = {
    "computer": (
        "commuter",
        "compute her",
        "computing",
        "compute",
        "computed",
        "computation",
        "compete",
        "competitor",
        "comparative",
        "compare",
        "compatible",
        "commute",
        "commentator",
        "pewter",
        "neuter",
        "tutor",
        "scooter",
        "cuter",
        "composer",
        "consumer",
        "conductor",
        "counter",
        "copter",
        "come to her",
        "compose",
        "computation",
        "recruiter",
    ),
    "jarvis": (
        "harvest",
        "jars",
        "jarring",
        "jarred",
        "nervous",
        "marvelous",
        "marvel",
        "service",
        "travis",
        "davis",
        "carvings",
        "starving",
        "jargon",
        "java",
        "harvey",
        "garlic",
        "jazz",
        "charges",
        "larva",
        "parvis",
    ),
    "yes": (
        "yet",
        "yellow",
        "yesterday",
        "yeast",
        "less",
        "mess",
        "guess",
        "dress",
        "chess",
        "yeah",
    ),
    "no": ("note", "nose", "snow", "though", "nope", "noah", "new", "now", "knot", "nobody"),
    "up": ("cup", "pup", "upper", "upon", "hub", "sup", "app", "cap", "puppy", "hop"),
    "down": ("dawn", "town", "gown", "brown", "clown", "done", "noun", "doubt", "don", "downy"),
    "left": (
        "lifted",
        "lift",
        "loft",
        "theft",
        "laughed",
        "lest",
        "leaf",
        "cleft",
        "lefty",
        "lend",
    ),
    "right": ("light", "bright", "night", "fight", "ride", "white", "rye", "rot", "ripe", "wrote"),
    "on": ("own", "an", "in", "odd", "honor", "john", "gone", "con", "don", "onion"),
    "off": ("often", "of", "cough", "awful", "offer", "scoff", "oft", "toff", "loft", "ought"),
    "stop": ("stock", "step", "stomp", "shop", "top", "stuff", "spot", "stab", "stoop", "stock up"),
    "go": ("goal", "goat", "ghost", "grow", "gold", "toe", "dough", "guy", "good", "gone"),
}

_WORD_RE = re.compile(r"[a-z0-9']+")
_VOWEL = re.compile(r"[aeiouy]")


# --------------------------------------------------------------------------------------------
# Keyword matching


def _tokens(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower().replace("\u2019", "'"))


def _inflections(kw: str) -> set[str]:
    out = {kw, kw + "s", kw + "es", kw + "'s", kw + "ed", kw + "ing", kw + "d"}
    if kw[-1] not in "aeiou":
        out |= {kw + kw[-1] + "ed", kw + kw[-1] + "ing", kw + kw[-1] + "er"}
    return out


def contains_keyword(text: str, keywords: Iterable[str] = KEYWORDS) -> bool:
    """True when ``text`` contains a keyword as a whole word or an inflection of it ("stops",
    "stopped", "jarvis's"); for keywords of 5+ letters also any word starting with it
    ("computers", "computerised")."""
    kws = [k.lower() for k in keywords]
    infl = {k: _inflections(k) for k in kws}
    for tok in _tokens(text):
        for part in {tok, tok.strip("'"), tok.split("'")[0]}:
            if not part:
                continue
            for k in kws:
                if part in infl[k] or (len(k) >= 5 and part.startswith(k)):
                    return True
    return False


def keyword_phrasings(word: str) -> tuple[tuple[str, int], ...]:
    """(text, weight) phrasings of a keyword; every one is labelled with the bare keyword."""
    table = WAKE_PHRASINGS if word in WAKE_WORDS else COMMAND_PHRASINGS
    return tuple((p.format(word), w) for p, w in table)


# --------------------------------------------------------------------------------------------
# Data folder and corpora


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data folder: ``override``, else $HARK_DATA, else <repo>/../shared/data."""
    if override:
        return Path(override)
    env = os.environ.get("HARK_DATA")
    if env:
        return Path(env)
    return (REPO_ROOT / ".." / "shared" / "data").resolve()


def _clean(s: str) -> str:
    s = s.replace("\u2019", "'").replace("`", "'")
    s = re.sub(r"\s+([,.!?;:'])", r"\1", s)  # SST-2 is tokenised: "wit , only" -> "wit, only"
    s = s.replace(" n't", "n't").replace("-lrb-", "(").replace("-rrb-", ")")
    s = re.sub(r"[<>\[\]{}|\\\"*_#@~^]", " ", s)
    return re.sub(r"\s+", " ", s).strip()


def read_hwu64(root: Path) -> list[str]:
    """HWU64 fold-1 train and test sentences (``answer_from_anno`` of the ;-separated CSVs)."""
    out = []
    for f in sorted(root.rglob("*.csv")):
        with open(f, encoding="utf-8", errors="replace", newline="") as fh:
            for row in csv.DictReader(fh, delimiter=";"):
                s = row.get("answer_from_anno") or row.get("answer_normalised") or ""
                if s:
                    out.append(s)
    return out


def read_slurp(root: Path) -> list[str]:
    out = []
    for f in sorted(root.rglob("*.jsonl")):
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    s = json.loads(line).get("sentence", "")
                    if s:
                        out.append(s)
    return out


def read_sst2(root: Path) -> list[str]:
    out = []
    for f in sorted(root.glob("*.tsv")):
        with open(f, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                s = row.get("sentence", "")
                if s:
                    out.append(s)
    return out


CORPORA = {"hwu64": read_hwu64, "slurp": read_slurp, "sst2": read_sst2}


@functools.lru_cache(maxsize=4)
def corpus_sentences(data: str) -> tuple[tuple[str, str], ...]:
    """(corpus, sentence) for every corpus under DATA/text, cleaned, deduplicated, in file order.
    Missing corpora are skipped with a logged note."""
    text = Path(data) / "text"
    out, seen = [], set()
    for name, reader in CORPORA.items():
        root = text / name
        if not root.is_dir():
            log.info("texts: corpus %s not found at %s; skipped", name, root)
            continue
        n = 0
        for s in reader(root):
            s = _clean(s)
            key = s.lower()
            if s and key not in seen:
                seen.add(key)
                out.append((name, s))
                n += 1
        log.debug("texts: %s: %d sentences", name, n)
    return tuple(out)


def negative_sentences(
    data: str | os.PathLike,
    keywords: Iterable[str] = KEYWORDS,
    min_words: int = 2,
    max_words: int = 12,
) -> list[tuple[str, str]]:
    """Corpus sentences of ``min_words``..``max_words`` words free of every keyword."""
    kws = tuple(keywords)
    out = []
    for corpus, s in corpus_sentences(str(data)):
        n = len(_tokens(s))
        if min_words <= n <= max_words and not contains_keyword(s, kws):
            out.append((corpus, s))
    return out


# --------------------------------------------------------------------------------------------
# Confusables by rule (espeak-ng phonemes)

_IPA_STRIP = str.maketrans("", "", "ˈˌ'ː̩ ")


def _ipa_cache_path(voice: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hark" / f"espeak-ipa-{voice}.json"


def phonemize(words: list[str], voice: str = "en-us", cache: bool = True) -> list[str]:
    """espeak-ng IPA for each word (stress and length marks removed); [] without espeak-ng.
    One espeak-ng process for all words not yet in the on-disk cache
    (~/.cache/hark/espeak-ipa-VOICE.json); each word is given as its own sentence."""
    if not words or shutil.which("espeak-ng") is None:
        return []
    known: dict[str, str] = {}
    path = _ipa_cache_path(voice)
    if cache and path.is_file():
        try:
            known = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            known = {}
    todo = sorted({w for w in words if w not in known})
    if todo:
        got = _phonemize_espeak(todo, voice)
        if not got:
            return []
        known.update(zip(todo, got, strict=True))
        if cache:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_text(json.dumps(known, sort_keys=True), encoding="utf-8")
                os.replace(tmp, path)
            except OSError as e:
                log.debug("texts: phoneme cache not written: %s", e)
    return [known[w] for w in words]


def _phonemize_espeak(words: list[str], voice: str) -> list[str]:
    text = "".join(f"{w}.\n" for w in words)
    try:
        out = subprocess.run(
            ["espeak-ng", "-q", "--ipa", "-v", voice],
            input=text,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        log.info("texts: espeak-ng phonemisation failed: %s", e)
        return []
    lines = [ln.strip().translate(_IPA_STRIP) for ln in out.splitlines() if ln.strip()]
    if len(lines) != len(words):
        log.info(
            "texts: espeak-ng gave %d lines for %d words; rule skipped", len(lines), len(words)
        )
        return []
    return lines


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance of two sequences (strings, phoneme id lists)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def vocabulary(data: str | os.PathLike, min_count: int = 3) -> list[str]:
    """Corpus words (letters only, 2+ letters) seen at least ``min_count`` times, sorted."""
    c: Counter[str] = Counter()
    for _, s in corpus_sentences(str(data)):
        c.update(t for t in _tokens(s) if t.isalpha() and len(t) >= 2 and _VOWEL.search(t))
    return sorted(w for w, n in c.items() if n >= min_count)


@functools.lru_cache(maxsize=8)
def _rule_confusables(keywords: tuple[str, ...], vocab: tuple[str, ...], per_keyword: int):
    ph = phonemize(list(keywords) + list(vocab))
    if not ph:
        return {k: () for k in keywords}, {k: "" for k in keywords}, {}
    kph = dict(zip(keywords, ph[: len(keywords)], strict=True))
    vph = dict(zip(vocab, ph[len(keywords) :], strict=True))
    out = {}
    for k in keywords:
        p = kph[k]
        scored = []
        limit = max(1, round(0.35 * len(p)))
        for w, q in vph.items():
            if not q or abs(len(q) - len(p)) > max(limit, 2) or q in kph.values():
                continue
            if contains_keyword(w, keywords):
                continue
            d = edit_distance(p, q)
            near = d <= limit
            onset = len(p) >= 2 and q[:2] == p[:2] and abs(len(q) - len(p)) <= 2
            rhyme = len(p) >= 2 and q[-2:] == p[-2:] and abs(len(q) - len(p)) <= 2
            if near or onset or rhyme:
                scored.append((d, w))
        scored.sort()
        out[k] = tuple(w for _, w in scored[:per_keyword])
    return out, kph, vph


def confusables(
    keywords: Iterable[str] = KEYWORDS,
    data: str | os.PathLike | None = None,
    per_keyword_rule: int = 30,
    min_count: int = 3,
) -> dict[str, list[str]]:
    """keyword -> confusable negative texts (hand-written first, then rule-chosen from the corpora
    vocabulary when ``data`` is given and espeak-ng is installed). No text contains an active
    keyword; exact homophones of a keyword are dropped."""
    kws = tuple(keywords)
    vocab = tuple(vocabulary(data, min_count)) if data is not None else ()
    rule, kph, _ = _rule_confusables(kws, vocab, per_keyword_rule)
    hand_all = sorted({w for k in kws for w in HAND_CONFUSABLES.get(k, ())})
    hand_ph = dict(zip(hand_all, phonemize(hand_all), strict=False)) if kph else {}
    out = {}
    for k in kws:
        seen: set[str] = set()
        lst = []
        for w in list(HAND_CONFUSABLES.get(k, ())) + list(rule.get(k, ())):
            if w in seen or contains_keyword(w, kws):
                continue
            if kph and hand_ph.get(w) and hand_ph[w] in kph.values():
                log.debug("texts: %r dropped: homophone of a keyword", w)
                continue
            seen.add(w)
            lst.append(w)
        out[k] = lst
    return out
