"""How a shipped keyword model scores the real "computer" recordings, per contributor, as they are
and changed in ways a voice or a microphone differs.

    PYTHONPATH=training python -m hark_train.realcheck --model-dir models --data ../shared/data \\
        [--synth ~/.cache/hark/keyword/synth/manifest.jsonl]

For each contributor of the Precise "computer" / "hey computer" clips and each variant of the
clips, it prints the median over clips of the peak smoothed "computer" posterior (the detector's
moving average) and the share of clips whose peak exceeds 0.5. Variants: the recordings as they
are; warped by VTLP 0.85 and 0.92 (formants lower) and 1.08; played 0.9 and 1.1 times as fast; and,
given the synthesis manifest, equalised at the octave knots of ``augment.equalise`` to the
long-term spectrum of the synthetic "computer" clips. A voice or microphone the training did not
cover shows as low scores that rise under one of these changes. ``--negatives`` also scores each
clip of the keyword evaluation's real negatives (its first 20 s) and counts, per group, the clips
whose peak exceeds 0.5: where false alarms come from. Each clip is scored alone from a
zero state, with 0.5 s of faint noise before and 1 s after (as the keyword evaluation does).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import realdata as rd
from .audio import SAMPLE_RATE, read_audio
from .augment import EQ_KNOTS_HZ, equalise, speed, vtlp
from .crosscheck import KeywordReference
from .detect import smooth
from .texts import data_dir


def pad(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    floor = 10 ** (-70 / 20)
    return np.concatenate(
        [rng.standard_normal(SAMPLE_RATE // 2) * floor, x, rng.standard_normal(SAMPLE_RATE) * floor]
    ).astype(np.float32)


def octave_spectrum(clips: list[np.ndarray]) -> np.ndarray:
    """Mean power (dB) at ``EQ_KNOTS_HZ`` of the louder 40% of 32-ms frames of each clip,
    each clip normalised to unit mean power, averaged over clips."""
    from scipy.signal import stft

    acc = np.zeros(len(EQ_KNOTS_HZ))
    for x in clips:
        f, _, z = stft(x, SAMPLE_RATE, nperseg=512)
        p = np.abs(z) ** 2
        e = p.sum(axis=0)
        p = p[:, e >= np.percentile(e, 60)]
        lt = p.mean(axis=1) / max(float(p.mean()), 1e-20)
        acc += np.interp(EQ_KNOTS_HZ, f, lt)
    return 10 * np.log10(acc / len(clips) + 1e-20)


def variants(synth: list[np.ndarray] | None, clips: list[np.ndarray]) -> dict:
    out = {
        "as recorded": clips,
        "VTLP 0.85": [vtlp(x, 0.85) for x in clips],
        "VTLP 0.92": [vtlp(x, 0.92) for x in clips],
        "VTLP 1.08": [vtlp(x, 1.08) for x in clips],
        "speed 0.9": [speed(x, 0.9) for x in clips],
        "speed 1.1": [speed(x, 1.1) for x in clips],
    }
    if synth:
        gains = np.clip(octave_spectrum(synth) - octave_spectrum(clips), -15.0, 15.0)
        out["equalised to the synthetic voices"] = [equalise(x, gains) for x in clips]
    return out


def peaks(ref: KeywordReference, clips: list[np.ndarray], label: str) -> np.ndarray:
    k = ref.meta["labels"].index(label)
    w = ref.meta["keyword"]["smoothing_frames"]
    rng = np.random.default_rng(0)
    return np.array([smooth(ref.scores(pad(x, rng))[:, k], w).max() for x in clips])


def synthetic_clips(manifest: Path, n: int = 200) -> list[np.ndarray]:
    """Up to ``n`` synthetic "computer" clips of the training families (seeded choice)."""
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("label") == "computer" and r.get("family") != "pico"]
    idx = np.random.default_rng(0).permutation(len(rows))[:n]
    paths = [Path(rows[i]["path"]) for i in sorted(idx)]
    return [read_audio(p if p.is_absolute() else manifest.parent / p) for p in paths]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m hark_train.realcheck", description=__doc__)
    ap.add_argument("--model-dir", type=Path, default=Path("models"))
    ap.add_argument("--data", default=None, help="data folder (default: $HARK_DATA)")
    ap.add_argument("--synth", type=Path, default=None, help="synthesis manifest.jsonl")
    ap.add_argument("--negatives", action="store_true", help="also score the real negatives")
    args = ap.parse_args(argv)
    ref = KeywordReference(args.model_dir)
    synth = synthetic_clips(args.synth) if args.synth else None
    clips = rd.precise_keyword(args.data, "computer")
    for group, members in sorted(rd.groups(clips).items()):
        audio = [rd.load(c) for c in members]
        for name, xs in variants(synth, audio).items():
            p = peaks(ref, xs, "computer")
            print(
                f"{group} ({len(xs)} clips), {name}: median peak {np.median(p):.3f}, "
                f"over 0.5: {np.mean(p > 0.5):.0%}"
            )
    if args.negatives:
        negative_sources(ref, args.data)
    return 0


def negative_sources(ref: KeywordReference, data) -> None:
    """Clips of the keyword evaluation's real negatives whose peak "computer" score exceeds 0.5,
    counted per group."""
    from .keyword import Config, real_split

    work = Path.home() / ".cache" / "hark" / "keyword"  # the keyword command's default cache
    cfg = Config(data=data_dir(data), out=Path("."), work=work)
    clips = real_split(cfg)["eval"]
    p = peaks(ref, [rd.load(c)[: 20 * SAMPLE_RATE] for c in clips], "computer")
    over = [c for c, v in zip(clips, p, strict=True) if v > 0.5]
    print(f"real negatives: {len(over)} of {len(clips)} clips peak over 0.5")
    for group, members in sorted(rd.groups(over).items(), key=lambda g: -len(g[1])):
        texts = sorted({c.text for c in members if c.text})[:3]
        print(f"  {group}: {len(members)} {texts}")


if __name__ == "__main__":
    raise SystemExit(main())
