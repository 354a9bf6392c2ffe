"""Command line of the training tools.

- ``python -m hark_train fixtures [--out DIR] [--force-audio]``: the front-end golden fixtures.
- ``python -m hark_train voices [--json]``: the TTS voice catalogue (family, voice, available).
- ``python -m hark_train text-intent --context FILE --out DIR`` / ``text-sentiment --out DIR``:
  the text models (hark_train.textintent / textsentiment).
- ``python -m hark_train intent --context FILE --out DIR [--data DATA]``: a speech-to-intent model
  for any context (hark_train.intent); ``intent-check --context FILE --model-dir DIR``: the same
  model scored through ``hark listen`` (hark_train.intentcheck); ``sentiment --data DATA --out
  DIR``: the sentiment of the voice (hark_train.voicesentiment).
- ``python -m hark_train keyword --data DATA --out models/ [--work DIR] [--seed S] [--minutes M]``:
  the keyword model, from synthesis to model card (hark_train.keyword); ``keyword-verify
  --model-dir models/ --data DATA``: phoneme verification of its wake words
  (hark_train.wake_verify).
- ``python -m hark_train phonemes --data DATA --out models/``: the phoneme recogniser behind
  grammar decoding and wake-word verification (hark_train.phoneme_model); ``phonemes-real
  --model-dir models/ [--name phonemes] --data DATA``: its phoneme error rate on the real
  recordings at hand (hark_train.phoneme_real).
- ``python -m hark_train synth --out DIR [--words ...] [--negatives N] [--per-voice K]
  [--holdout-family FAMILY] [--seed S] [--jobs 2]``: synthetic keyword clips + DIR/manifest.jsonl.

Without installing the package, run it from the repository root as
``PYTHONPATH=training python -m hark_train ...`` (or from training/ as ``python -m hark_train``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path


def _cmd_fixtures(args) -> int:
    from .fixtures import DEFAULT_OUT, generate

    out = args.out if args.out is not None else DEFAULT_OUT
    written = generate(out, force_audio=args.force_audio)
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files to {out} ({total / 1024:.0f} KiB)")
    return 0


def _cmd_voices(args) -> int:
    from .voices import catalogue, summary

    cat = catalogue(args.families or None)
    if args.json:
        for v in cat:
            print(
                json.dumps(
                    {
                        "family": v.family,
                        "voice": v.name,
                        "engine": v.engine,
                        "available": v.available,
                        "note": v.note,
                    }
                )
            )
        return 0
    print(f"{'family':<9} {'voice':<28} {'available':<9} note")
    for v in cat:
        if args.available and not v.available:
            continue
        print(f"{v.family:<9} {v.name:<28} {'yes' if v.available else 'no':<9} {v.note}")
    print()
    for fam, (a, n) in summary(cat).items():
        print(f"{fam}: {a}/{n} voices available")
    return 0


def _cmd_synth(args) -> int:
    from .dataset import SUMMARY, build_plan, run_plan, select_voices, summarise
    from .synth import MAX_JOBS
    from .texts import KEYWORDS, data_dir
    from .voices import FAMILIES, catalogue, summary

    log = logging.getLogger("hark_train.synth")
    for f in args.holdout_family:
        if f not in FAMILIES:
            print(f"unknown family {f!r} (known: {', '.join(FAMILIES)})", file=sys.stderr)
            return 2
    if args.jobs > MAX_JOBS:
        log.warning("--jobs %d lowered to %d", args.jobs, MAX_JOBS)
    cat = catalogue(args.families or None)
    for fam, (a, n) in summary(cat).items():
        if a == 0:
            log.warning("family %s: no voice installed (%s); skipped", fam, cat_note(cat, fam))
        elif a < n:
            log.info("family %s: %d of %d voices installed", fam, a, n)
    voices = select_voices(cat, args.max_voices_per_family, args.seed)
    for f in args.holdout_family:
        if not any(v.family == f for v in voices):
            log.warning("holdout family %s has no available voice", f)
    words = args.words or list(KEYWORDS)
    data = data_dir(args.data)
    t0 = time.perf_counter()
    plan = build_plan(
        voices,
        words,
        negatives=args.negatives,
        per_voice=args.per_voice,
        per_family=args.per_family,
        seed=args.seed,
        holdout_families=args.holdout_family,
        data=data,
        sentence_frac=args.sentence_frac,
        max_words=args.max_words,
    )
    t_plan = time.perf_counter() - t0
    print(
        f"plan: {len(plan)} clips, {len(voices)} voices, words {' '.join(words)} ({t_plan:.1f} s)"
    )
    t1 = time.perf_counter()
    rows, failures, stats = run_plan(
        plan, args.out, cache_dir=args.cache, jobs=args.jobs, progress=not args.no_progress
    )
    wall = time.perf_counter() - t1
    summ = summarise(rows, failures, stats)
    report = {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "clips": len(rows),
        "failed": len(failures),
        "cached": stats.cached,
        "wall_s": round(wall, 2),
        "families": summ,
    }
    (Path(args.out) / SUMMARY).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{'family':<9} {'voices':>6} {'clips':>6} {'failed':>6} {'clips/s':>8}  duration s")
    for fam, s in summ.items():
        rate = f"{s['clips_per_s']:.1f}" if s["clips_per_s"] else "-"
        dur = (
            f"{s['duration_min']:.2f}..{s['duration_max']:.2f} (mean {s['duration_mean']:.2f})"
            if s["clips"]
            else "-"
        )
        print(f"{fam:<9} {s['voices']:>6} {s['clips']:>6} {s['failed']:>6} {rate:>8}  {dur}")
    print(
        f"{len(rows)} clips in {Path(args.out) / 'manifest.jsonl'} ({stats.cached} from cache, "
        f"{len(failures)} rejected, {wall:.1f} s)"
    )
    return 0 if rows or not plan else 1


def cat_note(cat, fam) -> str:
    notes = {v.note for v in cat if v.family == fam and v.note}
    return "; ".join(sorted(notes)) or "not installed"


def _cmd_text(args) -> int:
    from .texts import data_dir
    from .wordvectors import WordVectorError, load

    if args.command == "text-sentiment":
        # Checked before the word vectors are read: settings that would do nothing are refused.
        if args.teacher_variants == 0 and (args.teacher_cache or args.teacher_on_rows):
            print(
                "error: --teacher-cache and --teacher-on-rows need --teacher-variants N > 0",
                file=sys.stderr,
            )
            return 2
    vectors = None
    if args.word_vectors is not None:
        # Read (once) before the data are read and the networks trained.
        try:
            vectors = load(args.word_vectors)
        except WordVectorError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    command = "python -m hark_train " + " ".join(sys.argv[1:] if sys.argv[1:] else [args.command])
    common = {
        "seed": args.seed,
        "epochs": args.epochs,
        "command": command,
        "word_vectors": vectors,
        "extra_words": args.extra_words,
    }
    if args.command == "text-sentiment":
        from .textsentiment import run

        res = run(
            data_dir(args.data),
            args.out,
            members=args.members,
            teacher_variants=args.teacher_variants,
            teacher_epochs=args.teacher_epochs,
            teacher_cache=args.teacher_cache,
            teacher_on_rows=args.teacher_on_rows,
            max_seconds=args.max_seconds,
            **common,
        )
    else:
        from .textintent import run

        res = run(args.context, data_dir(args.data), args.out, **common)
    print(json.dumps(res, indent=2))
    return 0


def _require_data(args) -> bool:
    """Fills ``args.data`` from $HARK_DATA when not given; says so and returns False when
    neither is set."""
    if args.data is None and os.environ.get("HARK_DATA"):
        args.data = Path(os.environ["HARK_DATA"])
    if args.data is None:
        print(f"{args.command}: --data (or $HARK_DATA) is required", file=sys.stderr)
        return False
    return True


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
    return value


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def _non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value >= 0.0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, not {text}")
    return value


def _positive_float(text: str) -> float:
    value = _non_negative_float(text)
    if value == 0.0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _word_vector_args(parser: argparse.ArgumentParser, extra_words: int) -> None:
    parser.add_argument(
        "--word-vectors",
        type=Path,
        default=None,
        help="pretrained word vectors (folder from training/scripts/fetch_word_vectors.sh, a "
        "GloVe text file or a wink-embeddings JSON file); without, embeddings are learnt only",
    )
    parser.add_argument(
        "--extra-words",
        type=int,
        default=extra_words,
        help=f"most frequent words of the vectors added to the vocabulary (default {extra_words})",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hark_train")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)

    fx = sub.add_parser("fixtures", help="regenerate the front-end golden fixtures")
    fx.add_argument(
        "--out",
        type=Path,
        default=None,
        help="fixture folder (default: <repo>/tests/fixtures/frontend)",
    )
    fx.add_argument(
        "--force-audio",
        action="store_true",
        help="remake the WAVs too (needs espeak-ng; changes every fixture)",
    )

    vc = sub.add_parser("voices", help="list the offline TTS voices and whether they are installed")
    vc.add_argument("--json", action="store_true", help="one JSON object per voice")
    vc.add_argument("--available", action="store_true", help="only installed voices")
    vc.add_argument("--families", nargs="+", default=None, help="only these families")

    sy = sub.add_parser("synth", help="synthesise keyword and negative clips + manifest.jsonl")
    sy.add_argument("--out", type=Path, required=True, help="output folder")
    sy.add_argument(
        "--words", nargs="+", default=None, help="keywords (default: computer jarvis + commands)"
    )
    sy.add_argument("--negatives", type=int, default=0, help="negative clips in all (default 0)")
    sy.add_argument("--per-voice", type=int, default=1, help="clips per keyword per voice")
    sy.add_argument(
        "--per-family",
        type=int,
        default=0,
        help="at least this many clips per keyword per family (more per voice in small families)",
    )
    sy.add_argument(
        "--holdout-family",
        action="append",
        default=[],
        metavar="FAMILY",
        help="clips of this family get split 'holdout' (repeatable)",
    )
    sy.add_argument("--families", nargs="+", default=None, help="only these voice families")
    sy.add_argument(
        "--max-voices-per-family", type=int, default=None, help="seeded subset of each family"
    )
    sy.add_argument("--seed", type=int, default=0)
    sy.add_argument("--jobs", type=int, default=2, help="worker processes (at most 2)")
    sy.add_argument("--data", type=Path, default=None, help="data folder (default: $HARK_DATA)")
    sy.add_argument(
        "--cache", type=Path, default=None, help="clip cache folder (default: OUT/clips)"
    )
    sy.add_argument(
        "--sentence-frac", type=float, default=0.5, help="share of negatives that are sentences"
    )
    sy.add_argument("--max-words", type=int, default=12, help="longest negative sentence")
    sy.add_argument("--no-progress", action="store_true", help="no progress bar")

    tm = sub.add_parser(
        "tiny-models", help="train and export the tiny test models in tests/fixtures/models"
    )
    tm.add_argument("--out", type=Path, default=None, help="default: <repo>/tests/fixtures/models")
    tm.add_argument("--steps", type=int, default=30, help="Adam steps per model")

    ti = sub.add_parser("text-intent", help="train and export the text intent model of a context")
    ti.add_argument("--context", type=Path, required=True, help="context YAML (grammar)")
    ti.add_argument("--data", type=Path, default=None, help="data folder (default: $HARK_DATA)")
    ti.add_argument("--out", type=Path, required=True, help="output folder (e.g. models/)")
    ti.add_argument("--seed", type=int, default=0)
    ti.add_argument("--epochs", type=int, default=12)
    _word_vector_args(ti, extra_words=20000)
    ts = sub.add_parser("text-sentiment", help="train and export the text sentiment model")
    ts.add_argument("--data", type=Path, default=None, help="data folder (default: $HARK_DATA)")
    ts.add_argument("--out", type=Path, required=True, help="output folder (e.g. models/)")
    ts.add_argument("--seed", type=int, default=0)
    ts.add_argument("--epochs", type=int, default=8)
    ts.add_argument(
        "--max-seconds",
        type=_positive_int,
        default=1500,
        help="each network's training stops after the epoch that passes this (default 1500)",
    )
    _word_vector_args(ts, extra_words=40000)
    ts.add_argument(
        "--members",
        type=_positive_int,
        default=1,
        help="networks trained from successive seeds whose mean output is shipped (default 1)",
    )
    ts.add_argument(
        "--teacher-variants",
        type=_non_negative_int,
        default=0,
        help="variants of the training phrases labelled by a fine-tuned sentence encoder "
        "(distillation; needs training/requirements-teacher.txt; default 0: none)",
    )
    ts.add_argument(
        "--teacher-epochs", type=_positive_int, default=2, help="the teacher's fine-tuning epochs"
    )
    ts.add_argument(
        "--teacher-on-rows",
        action="store_true",
        help="the real negative and positive rows learn the mean of their label and the "
        "teacher's probabilities too (default: their label alone)",
    )
    ts.add_argument(
        "--teacher-cache",
        type=Path,
        default=None,
        help="a folder that keeps the fine-tuned teacher's weights, so that a rebuild with the "
        "same data and settings skips the fine-tune (default: none, always fine-tune)",
    )

    it = sub.add_parser("intent", help="train and export a speech-to-intent model for a context")
    it.add_argument("--context", type=Path, required=True, help="context YAML (grammar)")
    it.add_argument("--out", type=Path, required=True, help="output folder (e.g. models/)")
    it.add_argument("--data", type=Path, default=None, help="data folder (default: $HARK_DATA)")
    it.add_argument("--work", type=Path, default=Path("~/.cache/hark/intent"), help="cache")
    it.add_argument("--name", default="intent", help="model file stem (default: intent)")
    it.add_argument("--seed", type=int, default=0)
    it.add_argument("--per-intent", type=int, default=300, help="phrasings per intent")
    it.add_argument("--epochs", type=int, default=400, help="most validation rounds")
    it.add_argument("--init", default=None, help="continue training from this intent .onnx")
    it.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate")
    it.add_argument(
        "--min-rounds", type=int, default=15, help="rounds before early stopping may act"
    )
    it.add_argument("--minutes", type=float, default=90.0, help="training time budget")
    it.add_argument("--jobs", type=int, default=2, help="worker processes (at most 2)")
    it.add_argument(
        "--phonemes",
        default=None,
        help="folder with phonemes.onnx/.json: also decode the context as a phoneme graph",
    )
    it.add_argument("--no-progress", action="store_true", help="no progress bars")
    it.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)

    gr = sub.add_parser("grammar", help="add grammar decoding to a trained speech-to-intent model")
    gr.add_argument("--context", type=Path, required=True, help="the model's context YAML")
    gr.add_argument("--model-dir", type=Path, required=True, help="folder with intent.onnx/.json")
    gr.add_argument("--phonemes", type=Path, required=True, help="folder with phonemes.onnx")
    gr.add_argument("--data", type=Path, default=None, help="data folder (default: $HARK_DATA)")
    gr.add_argument("--work", default="~/.cache/hark/intent", help="the intent training cache")
    gr.add_argument("--name", default="intent", help="model file stem (default: intent)")
    gr.add_argument("--seed", type=int, default=0, help="the intent model's seed")
    gr.add_argument("--per-intent", type=int, default=300, help="as the intent model was trained")
    gr.add_argument(
        "--keep",
        type=float,
        default=0.85,
        help="least share of the validation commands decoded right that the judge accepts (more "
        "while it accepts at most 0.5%% of the real non-command speech it was fitted on)",
    )
    gr.add_argument(
        "--prior-scale",
        type=_non_negative_float,
        default=0.8,
        help="divide the recogniser's posteriors by their prior to this power before decoding "
        "(0: not at all; default 0.8)",
    )
    gr.add_argument(
        "--force",
        action="store_true",
        help="attach the grammar even if the network alone understands more validation commands",
    )
    gr.add_argument("--jobs", type=int, default=2, help="worker processes (at most 2)")
    gr.add_argument("--no-progress", action="store_true", help="no progress bars")

    kv = sub.add_parser(
        "keyword-verify", help="add phoneme verification of the wake words to a keyword model"
    )
    kv.add_argument("--model-dir", type=Path, required=True, help="folder with keyword.onnx/.json")
    kv.add_argument(
        "--phonemes", type=Path, default=None, help="folder with phonemes.onnx (default: model dir)"
    )
    kv.add_argument(
        "--recogniser", default="phonemes", help="the recogniser's file stem (default: phonemes)"
    )
    kv.add_argument("--data", type=Path, default=None, help="data folder (default: $HARK_DATA)")
    kv.add_argument("--work", type=Path, default=None, help="the keyword synthesis cache")
    kv.add_argument(
        "--candidate-threshold",
        type=float,
        default=None,
        help="the network's threshold for a candidate (default 0.3)",
    )
    kv.add_argument("--no-progress", action="store_true", help="no progress bars")

    ic = sub.add_parser(
        "intent-check", help="score a speech-to-intent model through `hark listen` (Rust)"
    )
    ic.add_argument("--context", type=Path, required=True, help="the model's context YAML")
    ic.add_argument("--model-dir", type=Path, required=True, help="folder with intent.onnx/.json")
    ic.add_argument("--work", default="~/.cache/hark/intent", help="the training cache")
    ic.add_argument("--hark", type=Path, default=Path("target/release/hark"), help="hark binary")
    ic.add_argument("--limit", type=int, default=200, help="held-out commands to check")
    ic.add_argument("--name", default="intent", help="model file stem")

    se = sub.add_parser("sentiment", help="train and export the sentiment-of-the-voice model")
    se.add_argument("--data", type=Path, default=None, help="data folder (default: $HARK_DATA)")
    se.add_argument("--out", type=Path, required=True, help="output folder (e.g. models/)")
    se.add_argument("--work", type=Path, default=Path("~/.cache/hark/sentiment"), help="cache")
    se.add_argument("--name", default="sentiment", help="model file stem (default: sentiment)")
    se.add_argument("--seed", type=int, default=0)
    se.add_argument("--epochs", type=int, default=60, help="most validation rounds")
    se.add_argument("--minutes", type=float, default=15.0, help="training time budget")
    se.add_argument(
        "--members",
        type=_positive_int,
        default=1,
        help="models trained from successive seeds and averaged",
    )
    se.add_argument("--jobs", type=int, default=2, help="worker processes (at most 2)")
    se.add_argument("--no-progress", action="store_true", help="no progress bars")
    se.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)

    ph = sub.add_parser(
        "phonemes", help="train and export the phoneme recogniser used by grammar decoding"
    )
    ph.add_argument("--data", type=Path, default=None, help="data folder (default: $HARK_DATA)")
    ph.add_argument("--out", type=Path, required=True, help="output folder (e.g. models/)")
    ph.add_argument("--work", default="~/.cache/hark/phonemes", help="cache (examples)")
    ph.add_argument("--name", default="phonemes", help="model file stem (default: phonemes)")
    ph.add_argument("--seed", type=int, default=0)
    ph.add_argument("--minutes", type=float, default=50.0, help="training time budget")
    ph.add_argument("--jobs", type=int, default=2, help="worker processes for synthesis")
    ph.add_argument("--checkpoint", default=None, help="skip training: export this checkpoint")
    ph.add_argument(
        "--voice-spread",
        action="store_true",
        help="the augmented copies get the wide voice perturbation (augment.VOICE_SPREAD)",
    )
    ph.add_argument(
        "--kokoro-clips",
        type=int,
        default=800,
        help="extra training clips by the Kokoro voices (0: none; skipped when not installed)",
    )
    ph.add_argument(
        "--noisy-copies",
        type=_non_negative_int,
        default=0,
        help="extra copies of each training clip with noise at 0-15 dB SNR (default 0)",
    )
    ph.add_argument(
        "--init",
        type=Path,
        default=None,
        help="go on training from this exported recogniser (X.onnx beside X.json)",
    )
    ph.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="learning rate (default 2e-3; 5e-4 with --init)",
    )
    ph.add_argument("--no-progress", action="store_true", help="no progress bars")
    ph.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)

    pr = sub.add_parser(
        "phonemes-real", help="phoneme error rate of a recogniser on the real recordings at hand"
    )
    pr.add_argument("--model-dir", type=Path, required=True, help="folder with the recogniser")
    pr.add_argument("--name", default="phonemes", help="the recogniser's file stem")
    pr.add_argument("--data", type=Path, default=None, help="data folder (default: $HARK_DATA)")
    pr.add_argument(
        "--work", default="~/.cache/hark/phonemes", help="cache (espeak-ng transcriptions)"
    )

    vc2 = sub.add_parser("vad-compare", help="energy VAD vs Silero VAD for ending commands")
    vc2.add_argument("--clips", required=True, help="folder of command WAVs or a list file")
    vc2.add_argument("--data", type=Path, default=None, help="data folder (noises)")
    vc2.add_argument("--work", default="~/.cache/hark/intent", help="cache (real data split)")
    vc2.add_argument("--limit", type=int, default=200, help="most clips")
    vc2.add_argument("--seed", type=int, default=0)
    vc2.add_argument("--out", default=None, help="write the report (JSON) here")

    vm = sub.add_parser("vad-model", help="write the shipped VAD model (Silero) and its card")
    vm.add_argument("--out", type=Path, required=True, help="output folder (models/)")
    vm.add_argument("--report", default=None, help="a vad-compare report (JSON) for the card")

    kw = sub.add_parser("keyword", help="build the keyword model (synthesis to model card)")
    kw.add_argument("--data", type=Path, required=True, help="data folder (../shared/data)")
    kw.add_argument("--out", type=Path, required=True, help="output folder (models/)")
    kw.add_argument("--work", type=Path, default=Path("~/.cache/hark/keyword"), help="cache")
    kw.add_argument("--seed", type=int, default=0)
    kw.add_argument("--minutes", type=float, default=45.0, help="training time budget")
    kw.add_argument("--steps", type=int, default=None, help="training steps (overrides minutes)")
    kw.add_argument("--jobs", type=int, default=2, help="worker processes (at most 2)")
    kw.add_argument("--checkpoint", default=None, help="skip training: evaluate/export this")
    kw.add_argument("--init", default=None, help="continue training from this checkpoint")
    kw.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    kw.add_argument("--eval-hours", type=float, default=2.0, help="least real negative hours")
    kw.add_argument(
        "--pcen", action="store_true", help="per-channel energy normalisation of the input"
    )
    kw.add_argument(
        "--real-positives",
        nargs="+",
        default=[],
        metavar="CONTRIBUTOR",
        help="train on these Precise contributors' real 'computer' clips (they then leave the "
        "evaluation; the other contributors are the real speakers it is judged on)",
    )
    kw.add_argument(
        "--voice-spread",
        action="store_true",
        help="wide speed / vocal-tract / random-equaliser augmentation (see models/keyword.md)",
    )
    kw.add_argument(
        "--kokoro",
        action="store_true",
        help="also train on the Kokoro voices (a seventh family; see models/keyword.md)",
    )
    kw.add_argument(
        "--run-name", default="", help="names this run's checkpoint (for runs side by side)"
    )
    kw.add_argument("--no-progress", action="store_true", help="no progress bars")
    kw.add_argument("--eval-limit", type=int, default=None, help=argparse.SUPPRESS)

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.command == "fixtures":
        return _cmd_fixtures(args)
    if args.command == "voices":
        return _cmd_voices(args)
    if args.command == "synth":
        return _cmd_synth(args)
    if args.command == "tiny-models":
        from .tiny import DEFAULT_OUT, generate

        written = generate(args.out or DEFAULT_OUT, steps=args.steps)
        print(f"wrote {len(written)} files to {args.out or DEFAULT_OUT}")
        return 0
    if args.command == "keyword":
        from .keyword import main_args

        return main_args(args)
    if args.command == "keyword-verify":
        from .wake_verify import main_args as verify_main

        if not _require_data(args):
            return 2
        return verify_main(args)
    if args.command == "intent-check":
        from .intentcheck import main_args as check_main

        return check_main(args)
    if args.command == "intent":
        from .intent import main_args as intent_main

        if args.data is None and os.environ.get("HARK_DATA"):
            args.data = Path(os.environ["HARK_DATA"])
        return intent_main(args)
    if args.command == "grammar":
        from .grammar_intent import main_args as grammar_main

        if args.data is None and os.environ.get("HARK_DATA"):
            args.data = Path(os.environ["HARK_DATA"])
        return grammar_main(args)
    if args.command == "vad-model":
        from .vadcompare import vad_model_args

        return vad_model_args(args)
    if args.command == "vad-compare":
        from .vadcompare import main_args as vad_main

        return vad_main(args)
    if args.command == "sentiment":
        from .voicesentiment import main_args as sentiment_main

        if not _require_data(args):
            return 2
        return sentiment_main(args)
    if args.command == "phonemes":
        from .phoneme_model import main_args as phonemes_main

        if not _require_data(args):
            return 2
        return phonemes_main(args)
    if args.command == "phonemes-real":
        from .phoneme_real import run as phonemes_real

        if not _require_data(args):
            return 2
        result = phonemes_real(
            args.model_dir,
            args.name,
            Path(args.data),
            Path(args.work).expanduser(),
            "python -m hark_train " + " ".join(argv if argv is not None else sys.argv[1:]),
        )
        print(json.dumps(result, indent=2))
        return 0
    if args.command in ("text-intent", "text-sentiment"):
        return _cmd_text(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
