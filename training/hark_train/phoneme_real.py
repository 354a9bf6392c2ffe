"""Phoneme error rate of an exported recogniser on real recorded voices
(``python -m hark_train phonemes-real --model-dir models --data D [--name phonemes]``).

The recogniser is trained on synthetic speech only. These are the transcribed real recordings at
hand, none of them trained on:

- FSDD: the digits "zero" … "nine" said by 6 people, recorded at 8 kHz (so nothing above 4 kHz);
- RAVDESS: "Kids are talking by the door" and "Dogs are sitting by the door" said by the actors
  in the data folder (18 of its 24), the neutral and calm takes, and the takes in every other
  emotion on a row of their own;
- Precise: the "computer" / "hey computer" wake-word clips of the Precise contributors.

The reference is espeak-ng's transcription of the text (what the recogniser was trained to
write); a phoneme the recogniser has no label for is dropped from the reference and counted.
The clips are read as recorded, except FSDD's, which are cut tight around the word: they get
``PAD_S`` of quiet floor noise (60 dB below the speech) before and after, as a captured command
has a lead-in and a tail. (Padding the other sets, which have their own room noise around the
speech, changes their readings: the recogniser is that sensitive to the edges of a clip.)
Figures per set and per speaker go into the model's metadata (``evaluation.real_voices``) and
its card (section "## Real voices"). Synthetic voices the recogniser never heard read very
differently from these: this is the figure that says how far the synthetic training carries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import intent as intent_mod
from . import realdata as rd
from .card import put_section
from .features import FrontEndParams
from .phoneme_model import OnnxRecogniser, greedy
from .phonemes import encode, phonemize_all
from .streams import FastLogMel
from .texts import edit_distance

SECTION = "## Real voices"
RAVDESS_TEXTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
#: RAVDESS emotion codes of the calm takes (01 neutral, 02 calm).
RAVDESS_CALM = {"01", "02"}
#: Quiet lead-in and tail around each clip (seconds), as a captured command has.
PAD_S = 0.3
_RAVDESS_NAME = re.compile(r"03-01-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


@dataclass(frozen=True)
class Recording:
    path: str
    text: str
    speaker: str
    set_name: str
    #: Cut tight around the speech: read with ``PAD_S`` of quiet before and after.
    tight: bool = False


def ravdess(data: Path) -> list[Recording]:
    """RAVDESS speech takes (modality 03 audio-only, channel 01 speech), by emotion group."""
    out = []
    root = Path(data) / "ravdess"
    for f in sorted(root.glob("Actor_*/*")):
        m = _RAVDESS_NAME.match(f.stem)
        if not m or f.suffix.lower() not in rd.AUDIO_EXT:
            continue
        emotion, statement, actor = m.group(1), m.group(3), m.group(5)
        group = "calm" if emotion in RAVDESS_CALM else "emotional"
        out.append(
            Recording(str(f), RAVDESS_TEXTS[statement], f"actor{int(actor)}", f"ravdess-{group}")
        )
    return out


def recordings(data: Path) -> list[Recording]:
    """Every transcribed real recording in the data folder."""
    out = [Recording(c.path, c.text, c.group, "fsdd", tight=True) for c in rd.fsdd(data)]
    out += ravdess(data)
    out += [
        Recording(c.path, c.text or "computer", c.group, "precise-computer")
        for c in rd.precise_keyword(data)
    ]
    return out


SET_TITLES = {
    "fsdd": f"FSDD digits (8 kHz recordings, {PAD_S} s of quiet added around each)",
    "ravdess-calm": "RAVDESS sentences, neutral and calm",
    "ravdess-emotional": "RAVDESS sentences, other emotions",
    "precise-computer": 'Precise "computer" clips',
}


def padded(x: np.ndarray, seed: int) -> np.ndarray:
    """``x`` with ``PAD_S`` of floor noise 60 dB below its speech before and after."""
    rng = np.random.default_rng([seed, 11])
    y = intent_mod.pad_command(x, rng, pre=(PAD_S, PAD_S), post=(PAD_S, PAD_S))
    return intent_mod.floor_noise(y, rng, 60.0)


def evaluate(model_dir: Path, name: str, data: Path, work: Path | None = None) -> dict:
    """Greedy phoneme error rate per set and per speaker of recogniser ``name``."""
    rec = OnnxRecogniser(model_dir, name)
    inv = rec.inventory
    clips = recordings(data)
    if not clips:
        raise FileNotFoundError(f"phonemes-real: no FSDD, RAVDESS or Precise clips under {data}")
    cache = (work / "transcriptions.json") if work is not None else None
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
    known = phonemize_all(sorted({c.text for c in clips}), cache)
    fe = FastLogMel(FrontEndParams())
    tally: dict[str, dict] = {}
    for k, c in enumerate(clips):
        ref_phones = known[c.text]
        ref = encode(ref_phones, inv)
        try:
            audio = rd.load(c.path)
        except (RuntimeError, ValueError) as e:  # libsndfile's errors, or an empty file
            raise ValueError(f"phonemes-real: cannot read {c.path}: {e}") from e
        logp = rec.log_probs(fe(padded(audio, k) if c.tight else audio))
        errors = edit_distance(greedy(logp), ref)
        for key in (c.set_name, f"{c.set_name}/{c.speaker}"):
            t = tally.setdefault(key, {"clips": 0, "errors": 0, "phonemes": 0, "dropped": 0})
            t["clips"] += 1
            t["errors"] += errors
            t["phonemes"] += len(ref)
            t["dropped"] += len(ref_phones) - len(ref)
    sets: dict[str, dict] = {}
    for key, t in sorted(tally.items()):
        set_name, _, speaker = key.partition("/")
        entry = {
            "clips": t["clips"],
            "phoneme_error_rate": round(t["errors"] / max(t["phonemes"], 1), 4),
            "reference_phonemes": t["phonemes"],
            "dropped_phonemes": t["dropped"],
        }
        if speaker:
            sets[set_name].setdefault("speakers", {})[speaker] = entry["phoneme_error_rate"]
        else:
            sets[set_name] = entry
    return {"recogniser": name, "sets": sets}


def card_section(result: dict, command: str, synthetic_per: float | None = None) -> str:
    """The card section of ``evaluate``'s ``result``, with the command that measured it and the
    held-out synthetic voices' error rate ``synthetic_per`` for comparison."""
    lines = [
        SECTION,
        "",
        "Greedy phoneme error rate on real recordings, none of them trained on (espeak-ng's "
        "transcription of the text as reference). Measured by "
        f"`{command}`.",
        "",
        "| set | clips | phoneme error rate | per speaker (best – worst) |",
        "|---|---|---|---|",
    ]
    for set_name, e in result["sets"].items():
        per = sorted(e.get("speakers", {}).values())
        spread = f"{per[0]:.1%} – {per[-1]:.1%} ({len(per)} speakers)" if per else "–"
        lines.append(
            f"| {SET_TITLES.get(set_name, set_name)} | {e['clips']} | "
            f"{e['phoneme_error_rate']:.1%} | {spread} |"
        )
    dropped = {k: e["dropped_phonemes"] for k, e in result["sets"].items() if e["dropped_phonemes"]}
    if dropped:
        lines += [
            "",
            f"Reference phonemes this recogniser has no label for were dropped: {dropped}.",
        ]
    if synthetic_per is not None:
        lines += [
            "",
            f"For comparison, the held-out synthetic voices (SVOX Pico, clean): "
            f"{synthetic_per:.1%}.",
        ]
    lines.append("")
    return "\n".join(lines)


def run(model_dir: Path, name: str, data: Path, work: Path | None, command: str) -> dict:
    """Measures, then writes ``evaluation.real_voices`` and the card section."""
    result = evaluate(model_dir, name, data, work)
    meta_path = model_dir / f"{name}.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    evaluation = meta.setdefault("evaluation", {})
    evaluation["real_voices"] = {**result["sets"], "command": command}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    synthetic = evaluation.get("holdout_clean", {}).get("phoneme_error_rate")
    put_section(model_dir / f"{name}.md", SECTION, card_section(result, command, synthetic))
    return result
