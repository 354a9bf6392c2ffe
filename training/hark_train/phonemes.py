"""Phoneme transcriptions of training texts, for the speech models' auxiliary CTC loss.

An utterance-level label (one intent per clip) is a weak signal for a recurrent network to start
from: it has to discover on its own which few frames tell "turn on" from "turn off". Asking the
same encoder to also emit the phonemes of what was said (CTC) gives it a target at every frame,
so it learns the sounds first and the intent heads find them. The transcriptions come from
espeak-ng (``-x``: Kirshenbaum ASCII phonemes), the engine that also speaks part of the training
data; stress marks and espeak's variant digits are dropped, so ``t_'3:_n`` becomes ``t 3: n``.
Only training uses them: the exported model has no phoneme output.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

#: The CTC blank is index 0; phoneme ``i`` of the inventory is ``i + 1``.
BLANK = 0

#: Stress, pause and intonation marks, not sounds.
_MARKS = re.compile(r"[',%=!;?]|^:+")
#: espeak's variant marks after a phoneme (``O2``, ``t#``, ``I#``). A symbol that is all digits is
#: a phoneme of its own (``3`` the r-coloured schwa of "computer", ``0`` the vowel of "lot"), kept.
_VARIANT = re.compile(r"(?<=[^0-9#])[0-9#]+$")
#: Version of the parse, stored in transcription caches: a cache made by another is read again.
PARSER_VERSION = 2
_VERSION_KEY = "\u0000parser"


class PhonemizerError(RuntimeError):
    """espeak-ng is missing or failed on a text."""


def _clean(symbol: str) -> str:
    return _VARIANT.sub("", _MARKS.sub("", symbol))


def parse(espeak_x: str) -> list[str]:
    """Phonemes of one line of ``espeak-ng -x --sep=_`` output (words split on spaces)."""
    out = []
    for word in espeak_x.split():
        for sym in word.split("_"):
            s = _clean(sym)
            if s:
                out.append(s)
    return out


def phonemize(text: str, voice: str = "en-us") -> list[str]:
    """The phonemes espeak-ng reads ``text`` with."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise PhonemizerError("espeak-ng is not installed (Debian package espeak-ng)")
    res = subprocess.run(
        [exe, "-q", "-x", "--sep=_", "-v", voice, text],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise PhonemizerError(f"espeak-ng failed on {text!r}: {res.stderr.strip()}")
    return parse(" ".join(res.stdout.split("\n")))


def phonemize_all(texts: list[str], cache: Path | None = None) -> dict[str, list[str]]:
    """Phonemes of every distinct text, read from and added to a JSON ``cache``."""
    known: dict[str, list[str]] = {}
    if cache is not None and cache.exists():
        known = json.loads(cache.read_text(encoding="utf-8"))
        if known.pop(_VERSION_KEY, None) != PARSER_VERSION:
            known = {}
    missing = sorted({t for t in texts if t not in known})
    for t in missing:
        known[t] = phonemize(t)
    if cache is not None and missing:
        tmp = cache.with_name(cache.name + ".tmp")
        tmp.write_text(json.dumps({_VERSION_KEY: PARSER_VERSION, **known}), encoding="utf-8")
        tmp.replace(cache)
    return known


def inventory(transcripts: list[list[str]]) -> list[str]:
    """Sorted phoneme inventory of ``transcripts``."""
    return sorted({p for t in transcripts for p in t})


def encode(phones: list[str], inv: list[str]) -> list[int]:
    """Targets for CTC: inventory index + 1 (0 is the blank); unknown phonemes are dropped."""
    index = {p: i + 1 for i, p in enumerate(inv)}
    return [index[p] for p in phones if p in index]
