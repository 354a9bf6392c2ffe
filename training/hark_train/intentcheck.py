"""End-to-end check of a speech-to-intent model through the Rust runtime.

``python -m hark_train intent-check --context FILE --model-dir DIR [--limit N] [--hark PATH]``
writes held-out commands (the voices the model never trained on, from the training cache) as
16-bit WAV files, each with 0.5 s of quiet room noise before and after, runs
``hark listen --mode command --json --model-dir DIR`` on them, and scores the ``intent`` events
the way the training evaluation does (understood, intent and every slot right). It also reports
how often the runtime's answer equals the Python reference's (the reference front-end, the ONNX
graph in onnxruntime, the decoding rule) on the samples the runtime kept (it trims a file to
its speech, as it does a live command; the event's start and end say where), and on the whole
file, so that a gap between the model card and what users get shows up as numbers. A model with
grammar decoding is checked against the Python grammar decoder.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, read_audio, write_wav
from .features import FrontEndParams, log_mel, model_features
from .grammar import OUT_OF_GRAMMAR, load_context
from .intent import IntentConfig, decode, floor_noise, label_spec, plan_clips, score
from .synth import cache_path


class _Grammar:
    """The reference of grammar decoding: the phoneme graph in onnxruntime, the Python decoder
    and judge (or the two thresholds of a model built before the judge)."""

    def __init__(self, model_dir: Path, grammar: dict) -> None:
        import onnxruntime as ort

        from .grammar_graph import Decoder, PhonemeGraph, PhonemePrior
        from .grammar_intent import Judge

        stem = grammar["phonemes"]
        self.meta = json.loads((model_dir / f"{stem}.json").read_text())
        self.sess = ort.InferenceSession(str(model_dir / f"{stem}.onnx"))
        prior = PhonemePrior.from_meta(grammar["prior"]) if "prior" in grammar else None
        self.decoder = Decoder(PhonemeGraph.from_meta(grammar["graph"]), prior)
        self.judge = Judge.from_meta(grammar["judge"]) if "judge" in grammar else None
        self.thresholds = (grammar.get("gap_threshold"), grammar.get("out_of_grammar_threshold"))

    def answer(self, wav: np.ndarray, posteriors: np.ndarray, labels: list[str], oog: str) -> dict:
        params = FrontEndParams.from_dict(self.meta["frontend"])
        feats = model_features(log_mel(wav, params), params).astype(np.float32)
        logp = self.sess.run(None, {"x": feats[None]})[0][0]
        d = self.decoder.decode(logp)
        p_oog = float(posteriors[labels.index(oog)])
        if d.intent is None:
            understood = False
        elif self.judge is not None:
            p_intent = float(posteriors[labels.index(d.intent)])
            r = {
                "intent": d.intent,
                "gap": d.gap,
                "p_oog": p_oog,
                "p_intent": p_intent,
                "frames": d.frames,
                "margin": None,
            }
            # The margin only where the judge reads it, as the runtime does.
            r["margin"] = self.decoder.margin(logp, d) if self.judge.needs_margin(r) else None
            understood = self.judge.accept(r)
        else:
            understood = d.gap >= self.thresholds[0] and p_oog <= self.thresholds[1]
        return {
            "intent": d.intent or OUT_OF_GRAMMAR,
            "understood": understood,
            "slots": {n: v for n, (v, _) in d.slots.items()},
        }


def _reference(sess, wav: np.ndarray, meta: dict, spec: dict, grammar=None) -> dict:
    """The Python reference's answer: reference front-end, onnxruntime, the decoding rule (or
    grammar decoding, when the model has it)."""
    params = FrontEndParams.from_dict(meta["frontend"])
    feats = model_features(log_mel(wav, params), params).astype(np.float32)
    post = sess.run(None, {sess.get_inputs()[0].name: feats[None]})
    if grammar is not None:
        return grammar.answer(wav, post[0][0], meta["labels"], meta["intent"]["out_of_grammar"])
    return decode(list(post), spec, meta["intent"]["threshold"])[0]


def run_check(
    context: Path, model_dir: Path, work: Path, hark: Path, limit: int, name: str = "intent"
) -> dict:
    ctx = load_context(context)
    spec = label_spec(ctx)
    meta = json.loads((model_dir / f"{name}.json").read_text())
    cfg = IntentConfig(context=context, out=model_dir, work=work, progress=False)
    held = [c for c in plan_clips(ctx, cfg, spec) if c.split == "holdout" and c.phrase is not None]
    held = [c for c in held if cache_path(work / "clips", c.item.key).exists()]
    pick = np.random.default_rng(0).permutation(len(held))[:limit]
    clips = [held[int(i)] for i in sorted(pick)]
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        files, audio = [], []
        for k, c in enumerate(clips):
            x = read_audio(cache_path(work / "clips", c.item.key))
            pad = np.zeros(int(0.5 * SAMPLE_RATE), np.float32)
            y = floor_noise(np.concatenate([pad, x, pad]), rng, 55.0)
            y = (y / max(1e-6, float(np.abs(y).max())) * 0.3).astype(np.float32)
            p = Path(tmp) / f"{k:04d}.wav"
            write_wav(p, y, SAMPLE_RATE, subtype="PCM_16")
            files.append(p)
            audio.append(y)
        cmd = [str(hark), "listen", "--mode", "command", "--json", "--jobs", "2"]
        cmd += ["--model-dir", str(model_dir), *map(str, files)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise SystemExit(f"hark listen failed: {res.stderr.strip()}")
        by_file: dict[str, dict] = {}
        for line in res.stdout.splitlines():
            e = json.loads(line)
            if e.get("type") == "intent":
                by_file[e["file"]] = e
    rust = []
    for p in files:
        e = by_file.get(str(p))
        rust.append(
            {
                "intent": e["intent"] if e else None,
                "understood": bool(e and e["understood"]),
                "slots": dict(e["slots"]) if e else {},
            }
        )
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_dir / f"{name}.onnx"))
    g = meta["intent"].get("grammar")
    grammar = _Grammar(model_dir, g) if g else None
    ref = [_reference(sess, y, meta, spec, grammar) for y in audio]
    # The reference on the very samples the runtime kept (its event's start and end).
    seg = []
    for p, y in zip(files, audio, strict=True):
        e = by_file.get(str(p))
        a, b = (int(e["start"] * SAMPLE_RATE), int(e["end"] * SAMPLE_RATE)) if e else (0, len(y))
        seg.append(_reference(sess, y[a:b], meta, spec, grammar))
    keys = ("intent", "understood", "slots")
    same = [all(a[k] == b[k] for k in keys) for a, b in zip(rust, seg, strict=True)]
    same_file = [all(a[k] == b[k] for k in keys) for a, b in zip(rust, ref, strict=True)]
    return {
        "clips": len(clips),
        "voices": sorted({c.item.voice.id for c in clips}),
        "runtime": score(rust, clips, spec),
        "python_reference_whole_file": score(ref, clips, spec),
        "python_reference_same_segment": score(seg, clips, spec),
        "same_answer_same_segment": round(float(np.mean(same)), 4) if same else None,
        "same_answer_whole_file": round(float(np.mean(same_file)), 4) if same else None,
    }


def main_args(args) -> int:
    out = run_check(
        Path(args.context),
        Path(args.model_dir),
        Path(args.work).expanduser().resolve(),
        Path(args.hark),
        args.limit,
        args.name,
    )
    print(json.dumps(out, indent=1))
    return 0
