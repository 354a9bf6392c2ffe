"""Grammar decoding for a speech-to-intent model (``python -m hark_train grammar``).

Attaches a context's phoneme graph (``grammar_graph``) and a phoneme recogniser
(``phoneme_model``) to an exported intent model. The runtime then takes the intent and every slot
value from the best path through the graph, and accepts it as a command when two judges agree:

- the path fits: its per-frame log-probability gap to the best unconstrained path is at least
  ``gap_threshold``;
- the intent graph does not call it out of grammar: its ``_out_of_grammar_`` posterior is at most
  ``out_of_grammar_threshold``.

Both thresholds are set on the validation commands (trained voice families, clips never trained
on): each judge keeps the share ``keep_gap`` / ``keep_oog`` of them. The grammar is attached only
when it then understands more of the validation commands than the intent network's own decoding
(a small context the network learns well keeps the network; ``force`` overrides). Everything is
measured with the exported ONNX graphs (onnxruntime) on the intent card's held-out Pico commands
and chatter, clean and in noise, and on the real non-command speech, and written to the metadata
(``evaluation.grammar``) and the card. A few decodes are written as golden cases
(``<name>.grammar-golden.json``) that the Rust decoder must reproduce.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import intent as intent_mod
from .augment import load_noises
from .card import HAND_NOTES
from .features import FrontEndParams
from .grammar import load_context
from .grammar_graph import Decoder, compile_context, lexicon
from .phoneme_model import OnnxRecogniser, copy_recogniser
from .streams import FastLogMel
from .synth import cache_path

log = logging.getLogger(__name__)

#: Shares of the validation commands each judge keeps (set before the held-out figures were
#: read for the shipped model; see the intent card).
KEEP_GAP = 0.9
KEEP_OOG = 0.8
GOLDEN_CASES = 6


@dataclass
class Judges:
    gap_threshold: float
    out_of_grammar_threshold: float

    def accept(self, gap: float, p_oog: float) -> bool:
        return gap >= self.gap_threshold and p_oog <= self.out_of_grammar_threshold


class Runner:
    """The exported intent and phoneme graphs (onnxruntime) and the context's decoder."""

    def __init__(self, model_dir: Path, name: str, phonemes: str, decoder: Decoder) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.meta = json.loads((model_dir / f"{name}.json").read_text())
        self.intent = ort.InferenceSession(str(model_dir / f"{name}.onnx"), opts)
        self.recogniser = OnnxRecogniser(model_dir, phonemes)
        self.oog = self.meta["labels"].index(self.meta["intent"]["out_of_grammar"])
        fe = self.meta["frontend"]
        self.mean = np.array(fe["mean"], np.float32)
        self.std = np.array(fe["std"], np.float32)
        self.decoder = decoder

    def log_probs(self, feats: np.ndarray) -> np.ndarray:
        return self.recogniser.log_probs(feats)

    def run(self, feats: np.ndarray, spec: dict | None = None) -> dict:
        """The grammar's answer; with the context's label ``spec``, also the intent network's
        own answer (``network``: its decoding rule, as without a grammar)."""
        x = ((feats.astype(np.float32) - self.mean) / self.std)[None]
        post = self.intent.run(None, {"x": x})
        p_oog = float(post[0][0][self.oog])
        d = self.decoder.decode(self.log_probs(feats))
        out = {
            "intent": d.intent,
            "slots": {n: v for n, (v, _) in d.slots.items()},
            "gap": d.gap if d.intent is not None else -np.inf,
            "p_oog": p_oog,
        }
        if spec is not None:
            out["network"] = intent_mod.decode(list(post), spec, self.meta["intent"]["threshold"])[
                0
            ]
        return out


def set_judges(valid_commands: list[dict], keep_gap: float, keep_oog: float) -> Judges:
    gaps = [r["gap"] for r in valid_commands if np.isfinite(r["gap"])]
    if not gaps:
        raise ValueError("grammar: no validation command reached the end of the graph")
    return Judges(
        gap_threshold=float(min(0.0, np.quantile(gaps, 1.0 - keep_gap))),
        out_of_grammar_threshold=float(
            min(1.0, max(1e-6, np.quantile([r["p_oog"] for r in valid_commands], keep_oog)))
        ),
    )


def score(rows: list[dict], clips, judges: Judges) -> dict:
    cmd = [(r, c) for r, c in zip(rows, clips, strict=True) if c.kind == "command"]
    chat = [r for r, c in zip(rows, clips, strict=True) if c.kind != "command"]

    def right(r, c) -> bool:
        return r["intent"] == c.phrase.intent and r["slots"] == c.phrase.slot_values()

    def share(flags) -> float:
        flags = list(flags)
        return round(float(np.mean(flags)), 4) if flags else 0.0

    return {
        "command_acceptance": share(
            right(r, c) and judges.accept(r["gap"], r["p_oog"]) for r, c in cmd
        ),
        "intent_accuracy": share(r["intent"] == c.phrase.intent for r, c in cmd),
        "acceptance_without_rejection": share(right(r, c) for r, c in cmd),
        "false_acceptance": share(judges.accept(r["gap"], r["p_oog"]) for r in chat),
        "commands": len(cmd),
        "chatter": len(chat),
    }


def attach(
    cfg: intent_mod.IntentConfig,
    clips,
    real: dict,
    phonemes_dir: Path,
    keep_gap: float = KEEP_GAP,
    keep_oog: float = KEEP_OOG,
    phonemes: str = "phonemes",
    force: bool = False,
) -> dict:
    """Adds grammar decoding to the intent model ``cfg.out / cfg.name`` when it accepts more of
    the validation commands than the network alone (or when ``force``d), measures it either way,
    and returns the model's metadata."""
    import time

    t0 = time.perf_counter()
    out = cfg.out
    copied = copy_recogniser(phonemes_dir, out, phonemes, "grammar")
    ctx = load_context(cfg.context)
    pmeta = json.loads((out / f"{phonemes}.json").read_text())
    graph = compile_context(ctx, lexicon(ctx, pmeta["labels"][1:], cfg.work / "lexicon.json"))
    runner = Runner(out, cfg.name, phonemes, Decoder(graph))
    intent_mod._G["fe"] = FastLogMel(FrontEndParams())
    intent_mod._G["eval_noises"] = load_noises(
        intent_mod._noise_clips(real["eval"]), max_s=120.0
    ) or [np.zeros(16000, np.float32)]

    def features(split):
        chosen = [c for c in clips if c.split == split and c.kind != "wake"]
        tasks = [
            (str(cache_path(cfg.work / "clips", c.item.key)), c.item.key, cfg.seed) for c in chosen
        ]
        return chosen, intent_mod._map(intent_mod._eval_worker, tasks, cfg, f"grammar {split}")

    valid, vfeats = features("valid")
    spec = intent_mod.label_spec(ctx)
    vrows = [runner.run(f[0], spec) for f in vfeats]
    judges = set_judges(
        [r for r, c in zip(vrows, valid, strict=True) if c.kind == "command"], keep_gap, keep_oog
    )
    evaluation: dict = {
        "keep_gap": keep_gap,
        "keep_out_of_grammar": keep_oog,
        "validation": score(vrows, valid, judges),
        "network_validation": intent_mod.score([r["network"] for r in vrows], valid, spec),
    }
    # Used only where it understands more validation commands than the network alone.
    evaluation["used"] = bool(
        force
        or evaluation["validation"]["command_acceptance"]
        > (evaluation["network_validation"]["command_acceptance"] or 0.0)
    )
    hold, hfeats = features("holdout")
    conds = ["clean"] + [f"snr_{s}db" for s in intent_mod.SNRS]
    for k, cond in enumerate(conds):
        rows = [runner.run(f[k]) for f in hfeats]
        evaluation[cond] = score(rows, hold, judges)
        if cond != "clean":
            continue
        evaluation["per_intent_clean"] = {
            i: score(
                [r for r, c in zip(rows, hold, strict=True) if c.phrase and c.phrase.intent == i],
                [c for c in hold if c.phrase and c.phrase.intent == i],
                judges,
            )
            for i in ctx.intent_names
        }
        evaluation["examples"] = [
            {
                "text": c.text,
                "voice": c.item.voice.id,
                "intent": r["intent"],
                "slots": r["slots"],
                "understood": judges.accept(r["gap"], r["p_oog"]),
                "gap": round(float(r["gap"]), 3),
            }
            for r, c in list(zip(rows, hold, strict=True))[:: max(1, len(hold) // 12)]
        ]
    evaluation["real_non_command"] = real_speech(cfg, real, runner, judges)
    evaluation["seconds"] = round(time.perf_counter() - t0, 1)
    golden_path = out / f"{cfg.name}.grammar-golden.json"
    meta = json.loads((out / f"{cfg.name}.json").read_text())
    grammar = {
        "phonemes": phonemes,
        "graph": graph.to_meta(),
        "gap_threshold": round(judges.gap_threshold, 5),
        "out_of_grammar_threshold": round(judges.out_of_grammar_threshold, 5),
    }
    if evaluation["used"]:
        golden_path.write_text(json.dumps(golden_cases(runner, valid, vfeats)) + "\n")
        meta["intent"]["grammar"] = grammar
    else:
        golden_path.unlink(missing_ok=True)
        for p in copied:
            p.unlink()
        meta["intent"].pop("grammar", None)
        evaluation["thresholds"] = {k: v for k, v in grammar.items() if k.endswith("threshold")}
        log.warning(
            "grammar: not used: %.1f%% of validation commands understood, the network alone %.1f%%",
            100 * evaluation["validation"]["command_acceptance"],
            100 * evaluation["network_validation"]["command_acceptance"],
        )
    meta["evaluation"]["grammar"] = evaluation
    meta["training"]["grammar_command"] = cfg.command
    (out / f"{cfg.name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    card = out / f"{cfg.name}.md"
    notes = ""
    if card.exists():
        old = card.read_text(encoding="utf-8")
        if HAND_NOTES in old:
            notes = old[old.index(HAND_NOTES) :]
    intent_mod.write_card(out, cfg.name, ctx, meta)
    if notes:
        with open(card, "a", encoding="utf-8") as f:
            f.write("\n" + notes)
    return meta


def real_speech(cfg, real: dict, runner: Runner, judges: Judges) -> dict:
    """Real speech that is not a command, padded like a captured command (as
    ``intent.evaluate`` does it)."""
    noise = intent_mod._noise_clips(real["eval"])
    speech = [c for c in real["eval"] if c not in noise]
    accepted, total, as_intent = 0, 0, {}
    for feats in intent_mod.real_command_features(cfg, speech):
        r = runner.run(feats)
        total += 1
        if judges.accept(r["gap"], r["p_oog"]):
            accepted += 1
            as_intent[r["intent"]] = as_intent.get(r["intent"], 0) + 1
    return {
        "clips": total,
        "false_acceptance": round(accepted / max(total, 1), 4),
        "accepted_as": dict(sorted(as_intent.items())),
    }


def golden_cases(runner: Runner, clips, feats) -> dict:
    """Log-probabilities of a few validation clips and the Python decoder's answer."""
    cases = []
    picks = [c for c in clips if c.kind == "command"][:: max(1, len(clips) // GOLDEN_CASES)]
    picks += [c for c in clips if c.kind != "command"][:1]
    for c in picks[:GOLDEN_CASES]:
        f = feats[clips.index(c)][0]
        lp = runner.log_probs(f)
        d = runner.decoder.decode(lp)
        cases.append(
            {
                "text": c.text,
                "logp": {"shape": list(lp.shape), "data": [float(v) for v in lp.ravel()]},
                "intent": d.intent,
                "slots": {n: list(v) for n, v in d.slots.items()},
                "score": d.score,
                "free": d.free,
            }
        )
    return {"model": f"{runner.meta['name']}.json", "cases": cases}


def main_args(args) -> int:
    cfg = intent_mod.IntentConfig(
        context=Path(args.context),
        out=Path(args.model_dir),
        work=Path(args.work).expanduser().resolve(),
        data=Path(args.data) if args.data else None,
        name=args.name,
        seed=args.seed,
        per_intent=args.per_intent,
        jobs=args.jobs,
        progress=not args.no_progress,
        command="python -m hark_train " + " ".join(sys.argv[1:]),
    )
    _, clips = intent_mod.context_clips(cfg)
    meta = attach(
        cfg,
        clips,
        intent_mod.real_sets(cfg),
        Path(args.phonemes),
        args.keep_gap,
        args.keep_oog,
        force=args.force,
    )
    ev = meta["evaluation"]["grammar"]
    print(
        json.dumps(
            {
                k: ev[k]
                for k in (
                    "used",
                    "validation",
                    "network_validation",
                    "clean",
                    "snr_6db",
                    "real_non_command",
                )
                if k in ev
            },
            indent=1,
        )
    )
    return 0
