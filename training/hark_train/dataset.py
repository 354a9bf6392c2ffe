"""A synthetic keyword dataset: the plan (which text, voice and settings for every clip), its
synthesis, and ``manifest.jsonl``.

Manifest: one JSON object per line per clip that was made, in plan order:

``path``      the WAV (16 kHz mono float32), relative to the manifest's folder when inside it
``text``      what was said;  ``label``: the keyword (single word) or ``_negative_``
``kind``      ``keyword``, ``confusable`` or ``sentence``
``source``    the keyword (keyword clips, confusables) or the corpus (sentences)
``family``, ``voice``, ``engine``, ``settings``  the synthesiser and its drawn settings
``duration``  seconds;  ``split``: ``train``, or ``holdout`` for the held-out families
``key``       the content-addressed cache key

The plan depends only on its arguments, the seed and the voices installed: the same command gives
the same manifest (and, Piper's resumed chunks aside, the same audio).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .synth import (
    Item,
    RunStats,
    cache_key,
    cache_path,
    draw_settings,
    stable_int,
    synthesize,
    voice_key,
)
from .texts import (
    NEGATIVE,
    confusables,
    keyword_phrasings,
    negative_sentences,
)
from .voices import Voice

log = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
FAILURES = "failures.jsonl"
SUMMARY = "summary.json"


@dataclass
class ClipSpec:
    text: str
    label: str
    kind: str
    voice: Voice
    settings: dict
    split: str = "train"
    source: str = ""
    key: str = field(default="", init=False)

    def __post_init__(self):
        self.key = cache_key(self.voice.engine, voice_key(self.voice), self.text, self.settings)


def _rng(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stable_int(*parts)])


def select_voices(voices: Iterable[Voice], max_per_family: int | None, seed: int) -> list[Voice]:
    """Available voices; with ``max_per_family``, a seeded subset of each family."""
    by_family: dict[str, list[Voice]] = {}
    for v in voices:
        if v.available:
            by_family.setdefault(v.family, []).append(v)
    out = []
    for vs in by_family.values():
        if max_per_family and len(vs) > max_per_family:
            keep = set(sorted(vs, key=lambda v: stable_int(seed, "pick", v.id))[:max_per_family])
            vs = [v for v in vs if v in keep]
        out.extend(vs)
    return out


def _interleave(lists: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    out = []
    for i in range(max((len(x) for x in lists), default=0)):
        for x in lists:
            if i < len(x):
                out.append(x[i])
    return out


def build_plan(
    voices: list[Voice],
    words: Iterable[str],
    negatives: int = 0,
    per_voice: int = 1,
    per_family: int = 0,
    seed: int = 0,
    holdout_families: Iterable[str] = (),
    data: str | os.PathLike | None = None,
    sentence_frac: float = 0.5,
    max_words: int = 12,
) -> list[ClipSpec]:
    """Every clip to make. Keywords: each word x each voice x K clips, K = ``per_voice``, raised
    for small families so that each family gets at least ``per_family`` clips per word.
    Negatives: ``negatives`` clips, a ``1 - sentence_frac`` share of confusable words (all
    keywords' lists interleaved) and the rest corpus sentences, each spoken by a voice drawn
    family-first (so every family is equally likely)."""
    words = tuple(words)
    holdout = set(holdout_families)
    voices = [v for v in voices if v.available]
    if not voices:
        raise ValueError("no TTS voice is available (run training/scripts/install_tts.sh)")
    fam_voices: dict[str, list[Voice]] = {}
    for v in voices:
        fam_voices.setdefault(v.family, []).append(v)
    families = sorted(fam_voices)

    def split(v: Voice) -> str:
        return "holdout" if v.family in holdout else "train"

    plan: list[ClipSpec] = []
    for w in words:
        phr = keyword_phrasings(w)
        texts = [p for p, _ in phr]
        weights = np.array([wt for _, wt in phr], dtype=float)
        weights /= weights.sum()
        for v in voices:
            n_fam = len(fam_voices[v.family])
            k = max(per_voice, math.ceil(per_family / n_fam) if per_family else 0)
            for i in range(k):
                rng = _rng(seed, "kw", w, v.id, i)
                text = texts[int(rng.choice(len(texts), p=weights))]
                plan.append(ClipSpec(text, w, "keyword", v, draw_settings(v, rng), split(v), w))

    if negatives > 0:
        n_sent = int(round(negatives * sentence_frac))
        n_conf = negatives - n_sent
        neg_texts: list[tuple[str, str, str]] = []  # (text, kind, source)
        if n_conf:
            conf = confusables(words, data)
            pool = _interleave([[(t, k) for t in conf[k]] for k in words])
            if not pool:
                log.warning("no confusable texts for %s", words)
            for i in range(n_conf if pool else 0):
                t, k = pool[i % len(pool)]
                neg_texts.append((t, "confusable", k))
        if n_sent:
            sents = negative_sentences(data, words, max_words=max_words) if data else []
            if not sents:
                log.warning("no corpus sentences found (data folder: %s)", data)
            else:
                rng = _rng(seed, "sentences", len(sents))
                idx = rng.permutation(len(sents))[: min(n_sent, len(sents))]
                if n_sent > len(sents):
                    log.warning("only %d sentences for %d asked", len(sents), n_sent)
                for j in idx:
                    corpus, s = sents[int(j)]
                    neg_texts.append((s, "sentence", corpus))
        for i, (t, kind, src) in enumerate(neg_texts):
            rng = _rng(seed, "neg", i, t)
            fam = families[int(rng.integers(len(families)))]
            v = fam_voices[fam][int(rng.integers(len(fam_voices[fam])))]
            plan.append(ClipSpec(t, NEGATIVE, kind, v, draw_settings(v, rng), split(v), src))

    # Identical draws (same voice, text and settings) are one clip.
    seen: set[str] = set()
    out = []
    for c in plan:
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)
    if len(out) < len(plan):
        log.info("plan: %d duplicate draws merged", len(plan) - len(out))
    return out


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


def manifest_row(spec: ClipSpec, duration: float, path: str) -> dict:
    return {
        "path": path,
        "text": spec.text,
        "label": spec.label,
        "kind": spec.kind,
        "source": spec.source,
        "family": spec.voice.family,
        "voice": spec.voice.name,
        "engine": spec.voice.engine,
        "settings": spec.settings,
        "duration": round(float(duration), 4),
        "split": spec.split,
        "key": spec.key,
    }


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    path = Path(path)
    # A name of this process's own, so that two runs sharing a cache never collide.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_manifest(path: str | os.PathLike, resolve: bool = False) -> list[dict]:
    """Rows of a manifest.jsonl; with ``resolve`` each ``path`` is made absolute."""
    path = Path(path)
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line:
                r = json.loads(line)
                if resolve and not os.path.isabs(r["path"]):
                    r["path"] = str((path.parent / r["path"]).resolve())
                rows.append(r)
    return rows


def run_plan(
    plan: list[ClipSpec],
    out_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    jobs: int = 1,
    progress: bool = False,
) -> tuple[list[dict], list[dict], RunStats]:
    """Synthesise the plan and write OUT/manifest.jsonl (made clips, plan order) and
    OUT/failures.jsonl (rejected ones, with reasons). Returns (rows, failures, stats)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir is not None else out_dir / "clips"
    items = [Item(c.voice, c.text, c.settings, c.key) for c in plan]
    results, stats = synthesize(items, cache, jobs=jobs, progress=progress)
    rows, failures = [], []
    for c in plan:
        r = results.get(c.key)
        if r is not None and r.ok:
            rows.append(manifest_row(c, r.duration, _rel(cache_path(cache, c.key), out_dir)))
        else:
            f = manifest_row(c, 0.0, "")
            f["reason"] = r.reason if r is not None else "not run"
            failures.append(f)
    write_jsonl(out_dir / MANIFEST, rows)
    write_jsonl(out_dir / FAILURES, failures)
    return rows, failures, stats


def summarise(rows: list[dict], failures: list[dict], stats: RunStats) -> dict:
    fams = sorted({r["family"] for r in rows} | {f["family"] for f in failures})
    out = {}
    for fam in fams:
        fr = [r for r in rows if r["family"] == fam]
        d = np.array([r["duration"] for r in fr]) if fr else np.zeros(0)
        out[fam] = {
            "voices": len({r["voice"] for r in fr}),
            "clips": len(fr),
            "failed": sum(1 for f in failures if f["family"] == fam),
            "made_now": stats.made.get(fam, 0),
            "clips_per_s": round(stats.rate(fam), 2) if stats.made.get(fam) else None,
            "duration_mean": round(float(d.mean()), 3) if len(d) else None,
            "duration_min": round(float(d.min()), 3) if len(d) else None,
            "duration_max": round(float(d.max()), 3) if len(d) else None,
        }
    return out
