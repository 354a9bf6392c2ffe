"""A second opinion on every wake word (``python -m hark_train keyword-verify``).

The keyword network alone must choose between missing real voices and firing on everything
that sounds a little like its words: at the threshold that keeps it to one false alarm in two
hours of real non-keyword audio, it missed most real "computer" recordings (see the keyword
card). A wake word is rare, so a second, costlier judge can afford to look at each one:

1. **Candidates.** The keyword network runs as always, but a wake word with verification fires a
   *candidate* at a low ``candidate_threshold`` on its smoothed posterior (the detector's rule:
   moving average, re-arm below the threshold, refractory).
2. **Verification.** ``window_after_s`` later, a phoneme recogniser (``phoneme_model``; the
   shipped model uses ``phonemes-wake.onnx``) reads the log-mel frames from ``window_before_s``
   before the candidate to ``window_after_s`` after it, and the word's phonemes (espeak-ng's
   reading) are aligned to them anywhere in the window (``spot_score``). The wake word fires
   only if the alignment's score reaches ``threshold``.

``spot_score`` is the best CTC path through the word's phonemes (blanks between them, required
between repeated ones) that starts and ends at any frame, each frame scored by its phoneme's
log-probability minus the frame's best log-probability: 0 when the recogniser's own best reading
contains the word, lower the more the frames must be forced to say it. The runtime
(``src/models/verify.rs``) computes the same, and replays ``keyword.verify-golden.json``.

``calibrate`` sets the thresholds and measures the result the way the keyword card measures the
network alone: the verification threshold of each wake word is the lowest with at most
``TARGET_FA_PER_HOUR`` false alarms per hour on the real negatives (streamed as one), and the
miss rate is measured on the real "computer" recordings (never trained on) and on the held-out
synthetic voice family. It writes ``keyword.verify`` into the metadata, the figures into
``evaluation.verify``, a section of the card, the two-stage curve into the DET plot and golden
cases for the runtime.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import realdata as rd
from .audio import SAMPLE_RATE, read_audio
from .card import put_section
from .detect import Detector, label_detections, refractory_frames, smooth
from .phoneme_model import OnnxRecogniser, copy_recogniser
from .phonemes import encode, phonemize
from .streams import stream_log_mel

log = logging.getLogger(__name__)

#: Candidate threshold of the keyword network's smoothed posterior for a verified wake word.
CANDIDATE_THRESHOLD = 0.3
#: The window the recogniser reads, around the candidate's frame.
WINDOW_BEFORE_S = 2.0
WINDOW_AFTER_S = 0.5
TARGET_FA_PER_HOUR = 0.5
#: How far above the highest refused negative a threshold is set.
SCORE_MARGIN = 1e-3
SECTION = "## Second stage: phoneme verification"
GOLDEN_CASES = 4


def spot_score(logp: np.ndarray, ids: list[int]) -> float:
    """Best free-start, free-end CTC alignment of ``ids`` (phoneme labels, blank 0) to the frames
    of ``logp`` ``[frames, labels]``, each frame scored relative to its best label (<= 0);
    ``-inf`` when the window has fewer frames than the word needs."""
    if not ids:
        raise ValueError("spot_score: a word without phonemes")
    lp = np.asarray(logp, np.float64)
    d = lp - lp.max(axis=1, keepdims=True)
    states = []
    for i, p in enumerate(ids):
        states.append(p)
        if i + 1 < len(ids):
            states.append(0)
    lab = np.array(states)
    n = len(lab)
    # A phoneme state may be entered from two states back (skipping the blank) unless it repeats.
    skip = np.zeros(n, bool)
    skip[2:] = (lab[2:] != 0) & (lab[2:] != lab[:-2])
    score = np.full(n, -np.inf)
    best = -np.inf
    for t in range(len(d)):
        prev = score
        cand = prev.copy()
        cand[1:] = np.maximum(cand[1:], prev[:-1])
        cand[2:] = np.where(skip[2:], np.maximum(cand[2:], prev[:-2]), cand[2:])
        cand[0] = max(cand[0], 0.0)  # the word may start at any frame
        score = cand + d[t, lab]
        best = max(best, float(score[-1]))
    return best


def window(n_frames: int, fire: int, before: int, after: int) -> tuple[int, int]:
    """Frames ``[lo, hi)`` the recogniser reads for a candidate at frame ``fire``: ``before``
    frames up to and including it and ``after`` frames after it, clipped to the input."""
    return max(0, fire + 1 - before), min(n_frames, fire + 1 + after)


class Recogniser(OnnxRecogniser):
    """The recogniser, and the phonemes of a word in its inventory."""

    def word(self, text: str) -> tuple[list[int], list[str]]:
        """Label ids and symbols of ``text`` as espeak-ng reads it (symbols the recogniser does
        not know are left out)."""
        phones = [p for p in phonemize(text) if p in self.inventory]
        ids = encode(phones, self.inventory)
        if not ids:
            raise ValueError(f"no phonemes the recogniser knows for {text!r}")
        return ids, phones


@dataclass
class Candidates:
    """Candidates of one wake word in one input: frames and verification scores."""

    frames: np.ndarray
    scores: np.ndarray


def candidates(
    smoothed: np.ndarray,
    log_mel: np.ndarray,
    rec: Recogniser,
    ids: list[int],
    threshold: float,
    refractory: int,
    before: int,
    after: int,
) -> Candidates:
    fires = label_detections(smoothed, threshold, refractory)
    scores = []
    for f in fires:
        lo, hi = window(len(log_mel), int(f), before, after)
        scores.append(spot_score(rec.log_probs(log_mel[lo:hi]), ids))
    return Candidates(np.asarray(fires, int), np.asarray(scores, np.float64))


def threshold_at_fa(neg_scores: np.ndarray, hours: float, target: float) -> float:
    """The lowest verification threshold with at most ``target`` false alarms per hour."""
    allowed = int(np.floor(target * hours + 1e-9))
    ranked = np.sort(np.asarray(neg_scores, np.float64))[::-1]
    if allowed >= len(ranked):
        return -np.inf
    # Above the first score that must be refused by more than the runtime's numeric difference
    # from the reference (tract and onnxruntime differ by ~1e-5 per log-probability).
    return float(min(0.0, ranked[allowed] + SCORE_MARGIN))


def detected(per_clip: list[Candidates], threshold: float) -> np.ndarray:
    return np.array([bool((c.scores >= threshold).any()) for c in per_clip])


def det_points(per_clip: list[Candidates], neg: Candidates, hours: float) -> list[list[float]]:
    """(threshold, false alarms per hour, miss rate) over the verification thresholds."""
    grid = np.unique(
        np.concatenate([neg.scores, [c.scores.max() for c in per_clip if len(c.scores)]])
    )
    grid = np.concatenate([grid[np.isfinite(grid)] + 1e-6, [-np.inf]])
    out = []
    for t in grid:
        fa = float((neg.scores >= t).sum()) / hours
        miss = 1.0 - float(detected(per_clip, t).mean()) if per_clip else float("nan")
        out.append([round(float(t), 4) if np.isfinite(t) else -1e9, round(fa, 3), round(miss, 4)])
    return out


def calibrate(
    model_dir: Path,
    data: Path,
    phonemes_dir: Path | None = None,
    work: Path | None = None,
    candidate_threshold: float = CANDIDATE_THRESHOLD,
    before_s: float = WINDOW_BEFORE_S,
    after_s: float = WINDOW_AFTER_S,
    seed: int = 0,
    progress: bool = False,
    recogniser: str = "phonemes",
) -> dict:
    """Adds phoneme verification of the wake words to the keyword model in ``model_dir`` (the
    recogniser ``<recogniser>.onnx`` from ``phonemes_dir``, copied beside it), measures it and
    returns the metadata."""
    from . import keyword as kw
    from .crosscheck import KeywordReference

    copy_recogniser(phonemes_dir or model_dir, model_dir, recogniser, "keyword-verify")
    ref = KeywordReference(model_dir)
    meta = ref.meta
    spec = meta["keyword"]
    if spec.get("verify"):
        log.info("replacing the model's verification")
    labels = meta["labels"]
    rec = Recogniser(model_dir, recogniser)

    def features(fe: dict) -> dict:
        return {k: v for k, v in fe.items() if k not in ("mean", "std", "pcen")}

    if features(rec.meta["frontend"]) != features(meta["frontend"]):
        raise ValueError("keyword-verify: the recogniser and the keyword model differ in front-end")
    hop_s = ref.params.hop_length / ref.params.sample_rate
    before, after = round(before_s / hop_s), round(after_s / hop_s)
    smoothing = spec["smoothing_frames"]
    refr = refractory_frames(spec["refractory_s"], hop_s)
    words = {w: rec.word(w) for w in spec["wake_words"]}

    cfg = kw.Config(
        data=data,
        out=model_dir,
        work=work or Path("~/.cache/hark/keyword").expanduser(),
        seed=seed,
        progress=progress,
    )
    real = kw.real_split(cfg)
    audio, _ = kw.eval_stream(real["eval"], cfg, cfg.eval_hours)
    hours = len(audio) / SAMPLE_RATE / 3600
    neg_mel = stream_log_mel(audio, ref.params)
    neg_post = ref.scores(audio)
    del audio
    rng = kw._rng(seed, "eval")
    pos_audio = [kw.pad_clip(rd.load(c), rng) for c in real["positives"]]
    pos_groups = [c.group for c in real["positives"]]

    def clip_candidates(audios, word):
        lab = labels.index(word)
        out = []
        for x in audios:
            s = smooth(ref.scores(x)[:, lab], smoothing)
            out.append(
                candidates(
                    s,
                    stream_log_mel(x, ref.params),
                    rec,
                    words[word][0],
                    candidate_threshold,
                    refr,
                    before,
                    after,
                )
            )
        return out

    verify: dict = {
        "recogniser": rec.name,
        "window_before_s": before_s,
        "window_after_s": after_s,
        "words": {},
    }
    ev: dict = {
        "negatives_hours": round(hours, 3),
        "target_fa_per_hour": TARGET_FA_PER_HOUR,
        "candidate_threshold": candidate_threshold,
        "words": {},
    }
    hold = [r for r in kw.synthesise(cfg) if r["split"] == "holdout"]
    for w in spec["wake_words"]:
        lab = labels.index(w)
        neg = candidates(
            smooth(neg_post[:, lab], smoothing),
            neg_mel,
            rec,
            words[w][0],
            candidate_threshold,
            refr,
            before,
            after,
        )
        thr = threshold_at_fa(neg.scores, hours, TARGET_FA_PER_HOUR)
        verify["words"][w] = {
            "phonemes": [int(i) for i in words[w][0]],
            "symbols": words[w][1],
            "candidate_threshold": candidate_threshold,
            "threshold": round(thr, 6) if np.isfinite(thr) else -1e9,
        }
        wev: dict = {
            "threshold": verify["words"][w]["threshold"],
            "candidates_per_hour": round(len(neg.frames) / hours, 2),
            "fa_per_hour": round(float((neg.scores >= thr).sum()) / hours, 3),
            "threshold_at_0.1": round(threshold_at_fa(neg.scores, hours, 0.1), 4),
        }
        if w == "computer" and pos_audio:
            per = clip_candidates(pos_audio, w)
            hit = detected(per, thr)
            t01 = threshold_at_fa(neg.scores, hours, 0.1)
            wev["real"] = {
                "clips": len(per),
                "contributors": sorted(set(pos_groups)),
                "reach_candidate": round(float(np.mean([len(c.frames) > 0 for c in per])), 4),
                "miss_rate": round(1 - float(hit.mean()), 4),
                "miss_rate_at_0.1": round(1 - float(detected(per, t01).mean()), 4),
                "by_contributor": {
                    g: round(1 - float(hit[np.array(pos_groups) == g].mean()), 4)
                    for g in sorted(set(pos_groups))
                },
            }
            ev["det"] = det_points(per, neg, hours)
        # Held-out synthetic voices (the family the keyword model never heard).
        rows = [r for r in hold if r["label"] == w]
        if rows:
            hr = kw._rng(seed, "verify-holdout", w)
            per = clip_candidates([kw.holdout_clip(r["path"], hr) for r in rows], w)
            wev["holdout"] = {
                "clips": len(per),
                "reach_candidate": round(float(np.mean([len(c.frames) > 0 for c in per])), 4),
                "miss_rate": round(1 - float(detected(per, thr).mean()), 4),
            }
        ev["words"][w] = wev
    # Every label through the full detector rule: the verified wake words at their candidate
    # thresholds and the others at their own, as the runtime runs them.
    thr_all = [None if lab == spec["background"] else spec["thresholds"][lab] for lab in labels]
    for w in verify["words"]:
        thr_all[labels.index(w)] = candidate_threshold
    fires = Detector(thr_all, smoothing, refr).run(neg_post)
    kept = 0
    for f in fires:
        name = labels[f.label]
        if name not in verify["words"]:
            continue
        lo, hi = window(len(neg_mel), f.frame, before, after)
        sc = spot_score(rec.log_probs(neg_mel[lo:hi]), verify["words"][name]["phonemes"])
        kept += sc >= verify["words"][name]["threshold"]
    ev["wake_fa_per_hour_full_rule"] = round(kept / hours, 3)
    spec["verify"] = verify
    meta["keyword"] = spec
    meta.setdefault("evaluation", {})["verify"] = ev
    (model_dir / "keyword.json").write_text(json.dumps(meta, indent=2) + "\n")
    _golden(model_dir, rec, ref.params, before, after, verify)
    put_section(model_dir / "keyword.md", SECTION, card_section(ev, verify))
    _plot(model_dir / "keyword-det.png", meta)
    return meta


def _golden(model_dir: Path, rec: Recogniser, params, before: int, after: int, verify: dict):
    """Golden cases from the project's own sample (``tests/fixtures/frontend/speech.wav``,
    "hey computer, turn on the kitchen light"): windows ending at a few points of it, their
    recogniser output (rounded) and each verified word's score."""
    from .fixtures import DEFAULT_OUT

    log_mel = stream_log_mel(read_audio(DEFAULT_OUT / "speech.wav"), params)
    n = len(log_mel)
    ends = sorted({min(n, before + after), n // 2 + after, n})[: GOLDEN_CASES // 2]
    cases = []
    for hi in ends:
        lp = np.round(rec.log_probs(log_mel[max(0, hi - before - after) : hi]), 5)
        lp = lp.astype(np.float32)
        for w, v in verify["words"].items():
            cases.append(
                {
                    "word": w,
                    "logp": {"shape": list(lp.shape), "data": lp.ravel().tolist()},
                    "score": spot_score(lp, v["phonemes"]),
                }
            )
    (model_dir / "keyword.verify-golden.json").write_text(json.dumps({"cases": cases}) + "\n")


def card_section(ev: dict, verify: dict) -> str:
    """The card's section on verification, from ``evaluation.verify`` and ``keyword.verify``."""
    lines = [
        SECTION,
        "",
        f"A wake word fires in two stages (`python -m hark_train keyword-verify`, "
        f"`training/hark_train/wake_verify.py`): the network above proposes a candidate when its "
        f"smoothed posterior crosses **{ev['candidate_threshold']}**; then the phoneme recogniser "
        f"(`{verify['recogniser']}.onnx`, see its card) reads the log-mel frames from "
        f"{verify['window_before_s']} s before the candidate to {verify['window_after_s']} s after "
        f"it, and the word's phonemes are aligned anywhere in that window (CTC, each frame scored "
        f"against the recogniser's best reading: 0 when its best reading contains the word). The "
        f"wake word fires when the alignment scores at least the word's threshold, "
        f"{verify['window_after_s']} s after the candidate. The threshold is the lowest with at "
        f"most {ev['target_fa_per_hour']} false alarms per hour on the same "
        f"{ev['negatives_hours']} h of real negatives as above.",
        "",
        "| wake word | phonemes | threshold | candidates / h | false alarms / h | "
        "real clips missed | at 0.1 FA/h | held-out Pico voices missed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for w, v in verify["words"].items():
        e = ev["words"][w]
        real = e.get("real")
        hold = e.get("holdout")
        lines.append(
            f"| {w} | {' '.join(v['symbols'])} | {v['threshold']:.3f} | "
            f"{e['candidates_per_hour']} | {e['fa_per_hour']} | "
            + (
                f"**{100 * real['miss_rate']:.1f}%** of {real['clips']} | "
                f"{100 * real['miss_rate_at_0.1']:.1f}% | "
                if real
                else "no real clips | - | "
            )
            + (f"{100 * hold['miss_rate']:.1f}% of {hold['clips']} |" if hold else "- |")
        )
    real = ev["words"].get("computer", {}).get("real")
    if real:
        lines += [
            "",
            f'Real "computer" clips reaching a candidate at all: '
            f"{100 * real['reach_candidate']:.1f}%; missed per contributor: "
            + ", ".join(f"{g} {100 * m:.1f}%" for g, m in real["by_contributor"].items())
            + ".",
        ]
    lines += [
        "",
        f"Every label through the full detector rule (verified wake words at the candidate "
        f"threshold, the others at theirs): {ev['wake_fa_per_hour_full_rule']} wake-word false "
        f"alarms per hour on the real negatives. The DET plot shows the two-stage curve beside "
        f"the network alone.",
        "",
    ]
    return "\n".join(lines)


def _plot(path: Path, meta: dict) -> None:
    """The DET plot of the network alone (as ``keyword.plot_det`` draws it) with the two-stage
    curve of "computer" added."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .keyword import plot_det

    ev = meta.get("evaluation", {})
    det = ev.get("verify", {}).get("det")
    if not det:
        return
    plot_det(ev, path, save=False)
    fig = plt.gcf()
    ax = fig.axes[0]
    pts = [(max(fa, 1e-2), 100 * miss) for _, fa, miss in det]
    pts.sort(key=lambda p: (p[0], -p[1]))
    ax.plot(
        [p[0] for p in pts],
        [p[1] for p in pts],
        "-o",
        ms=2,
        label="two stages: network + phoneme verification",
    )
    r = ev["verify"]["words"]["computer"]
    ax.plot([max(r["fa_per_hour"], 1e-2)], [100 * r["real"]["miss_rate"]], "gs")
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main_args(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    meta = calibrate(
        args.model_dir,
        args.data,
        phonemes_dir=args.phonemes,
        work=args.work.expanduser() if args.work else None,
        candidate_threshold=args.candidate_threshold or CANDIDATE_THRESHOLD,
        progress=not args.no_progress,
        recogniser=args.recogniser,
    )
    ev = meta["evaluation"]["verify"]
    for w, e in ev["words"].items():
        print(f"{w}: {json.dumps(e)}")
    print(f"wake false alarms per hour, full rule: {ev['wake_fa_per_hour_full_rule']}")
    return 0
