"""Grammar decoding for a speech-to-intent model (``python -m hark_train grammar``).

Attaches a context's phoneme graph (``grammar_graph``) and a phoneme recogniser
(``phoneme_model``) to an exported intent model. The runtime then takes the intent and every slot
value from the best path through the graph, and a judge decides whether it is a command: a
logistic score of five measurements (``judge_features``):

- how well the path fits: its per-frame log-probability gap to the best unconstrained path;
- the logit of the intent graph's ``_out_of_grammar_`` posterior;
- the log posterior the intent graph gives the path's intent (do the two models agree?);
- how clear the meaning is: the log of the decode's *margin* (below) plus ``MARGIN_FLOOR``;
- how long the command is: the log of the recogniser's frame count (a short clip fits a short
  phrasing by chance more easily).

The judge is fitted on the validation commands (trained voice families, clips never trained on;
a command is positive when the path names its intent and every slot right) against the
validation chatter, the wrongly decoded validation commands and real non-command speech the
intent network did not train on. A decode is also refused when it is likely the wrong command
(``Gate``): a second logistic score, of the gap, the log margin (``Decoder.margin``: per frame,
how much better the path is than the best path with another intent or without one of its slot
values) and the log frame count, fitted to tell the validation commands decoded right from those
decoded wrong (clean and once more each in a training noise), must reach its threshold: the
lowest at which at most ``MAX_WRONG`` of those decodes reaching it are wrong, and never above the
value that keeps ``MARGIN_KEEP`` of the clean ones decoded right. (Judges fitted before the gate
read the margin alone: ``min_margin``.) The judge's threshold keeps at
least the share ``keep`` of the validation commands decoded right, and is lowered further while
it accepts at most ``REAL_FALSE_ACCEPTANCE`` of that real non-command speech. The grammar is
attached only when it then understands more of the validation commands than the intent network's
own decoding (a small context the network learns well keeps the network; ``force`` overrides).
Everything is measured with the exported ONNX graphs (onnxruntime) on the intent card's held-out
Pico commands and chatter, clean and in noise, and on the real non-command speech, and written
to the metadata (``evaluation.grammar``) and the card. A few decodes are written as golden cases
(``<name>.grammar-golden.json``) that the Rust decoder, margin and judge must reproduce.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import intent as intent_mod
from .card import HAND_NOTES
from .features import FrontEndParams
from .grammar import load_context
from .grammar_graph import Decoder, PhonemePrior, compile_context, lexicon
from .phoneme_model import OnnxRecogniser, copy_recogniser
from .streams import FastLogMel
from .synth import cache_path

log = logging.getLogger(__name__)

#: Share of the validation commands decoded right that the judge keeps (chosen with the
#: held-out figures of 0.80-0.95 in view; see the intent card).
KEEP = 0.85
#: Scale of the division of the recogniser's posteriors by their prior before the search
#: (``grammar_graph.PhonemePrior``; 0: none). Chosen on the validation commands decoded right
#: (scales 0-1.3 measured; see the intent card).
PRIOR_SCALE = 0.8
#: Share of the clean validation commands decoded right that the gate keeps at least (its
#: highest threshold; chosen, for the margin alone, with the held-out figures of 0.90-0.98 in
#: view; see the intent card).
MARGIN_KEEP = 0.95
#: Share of wrong decodes the gate tolerates among the validation commands (clean and in
#: training noise) that pass it: its threshold is the lowest that meets this, and no higher than
#: the ``MARGIN_KEEP`` one (a context whose validation commands are rarely decoded wrong needs no
#: gate to refuse its right decodes).
MAX_WRONG = 0.02
#: Share of the judge's real non-command speech its threshold may accept, when that lowers it
#: below the ``keep`` threshold (chosen with the held-out figures of 0.005-0.02 in view).
REAL_FALSE_ACCEPTANCE = 0.005
#: Fewer real non-command clips than this cannot measure that share: the ``keep`` threshold
#: stands.
MIN_REAL_CLIPS = 200
#: Inverse strength of the judge's L2 penalty on standardised measurements.
JUDGE_C = 1.0
GOLDEN_CASES = 6
#: The out-of-grammar posterior is clamped to [EPS, 1 - EPS], the intent posterior to at least
#: EPS, before their logarithms.
EPS = 1e-6
#: Added to the margin (per frame, in [0, 1]) before its logarithm: margins below it count alike.
MARGIN_FLOOR = 0.01
FEATURES = ("gap", "out_of_grammar_logit", "intent_log_posterior", "margin_log", "log_frames")
#: Index of the margin's weight in ``Judge.weights``.
_MARGIN = FEATURES.index("margin_log")
#: The measurements the gate weighs (``Gate``): how well the path fits, how clear its meaning is
#: and how long it is.
GATE_FEATURES = ("gap", "margin_log", "log_frames")
_GATE = [FEATURES.index(f) for f in GATE_FEATURES]


def judge_features(
    gap: float, p_oog: float, p_intent: float, margin: float | None, frames: int
) -> np.ndarray:
    """The judge's measurements of one decode (``src/models/metadata.rs`` computes the same); a
    decode without a margin counts as margin 0."""
    q = min(max(p_oog, EPS), 1.0 - EPS)
    return np.array(
        [
            gap,
            np.log(q) - np.log1p(-q),
            np.log(max(p_intent, EPS)),
            np.log(max(margin or 0.0, 0.0) + MARGIN_FLOOR),
            np.log(max(frames, 1)),
        ],
        np.float64,
    )


def row_features(r: dict) -> np.ndarray:
    """``judge_features`` of a decode row (its margin measured)."""
    return judge_features(r["gap"], r["p_oog"], r["p_intent"], r["margin"], r["frames"])


@dataclass
class Gate:
    """Refuses a decode that is likely the wrong command: passes when ``bias + weights ·
    features[GATE_FEATURES] >= threshold`` (a logit of being right, from the decode's gap,
    margin and length; the margin must have been measured)."""

    weights: np.ndarray
    bias: float
    threshold: float

    def value(self, r: dict) -> float:
        if r.get("margin") is None:
            raise ValueError("judge: the decode's margin was not measured")
        return self.bias + float(self.weights @ row_features(r)[_GATE])

    def to_meta(self) -> dict:
        out = {f: round(float(w), 5) for f, w in zip(GATE_FEATURES, self.weights, strict=True)}
        return {**out, "bias": round(self.bias, 5), "threshold": round(self.threshold, 5)}

    @classmethod
    def from_meta(cls, m: dict) -> Gate:
        return cls(np.array([m[f] for f in GATE_FEATURES], np.float64), m["bias"], m["threshold"])


@dataclass
class Judge:
    """``understood`` when ``sigmoid(bias + weights · features) >= threshold`` and the decode
    passes the ``gate`` (or, for judges fitted before the gate, its margin reaches
    ``min_margin``; 0 and no gate: nothing more is needed)."""

    weights: np.ndarray
    bias: float
    threshold: float
    min_margin: float = 0.0
    gate: Gate | None = None

    def score(self, r: dict) -> float:
        if r["intent"] is None:
            return 0.0
        if r.get("margin") is None and self.weighs_margin():
            raise ValueError("judge: the decode's margin was not measured")
        z = self.bias + float(self.weights @ row_features(r))
        return float(1.0 / (1.0 + np.exp(-z)))

    def weighs_margin(self) -> bool:
        """Whether the score reads the decode's margin."""
        return self.weights[_MARGIN] != 0

    def needs_margin(self, r: dict) -> bool:
        """Whether ``score`` or ``accept`` must read the decode's margin."""
        if r["intent"] is None:
            return False
        if self.weighs_margin():
            return True
        gated = self.gate is not None or self.min_margin > 0
        return gated and self.score(r) >= self.threshold

    def passes(self, r: dict) -> bool:
        """Whether the decode passes the gate (or reaches ``min_margin``); needs its margin."""
        if self.gate is not None:
            return self.gate.value(r) >= self.gate.threshold
        if self.min_margin <= 0:
            return True
        if r.get("margin") is None:
            raise ValueError("judge: the decode's margin was not measured")
        return r["margin"] >= self.min_margin

    def accept(self, r: dict) -> bool:
        if r["intent"] is None or self.score(r) < self.threshold:
            return False
        return self.passes(r)

    def to_meta(self) -> dict:
        out = {f: round(float(w), 5) for f, w in zip(FEATURES, self.weights, strict=True)}
        meta = {
            **out,
            "bias": round(self.bias, 5),
            "threshold": round(self.threshold, 5),
            "min_margin": round(self.min_margin, 5),
        }
        if self.gate is not None:
            meta["gate"] = self.gate.to_meta()
        return meta

    @classmethod
    def from_meta(cls, m: dict) -> Judge:
        return cls(
            # Judges written before the margin and length were measured weigh them 0.
            np.array([m.get(f, 0.0) for f in FEATURES], np.float64),
            m["bias"],
            m["threshold"],
            m.get("min_margin", 0.0),
            Gate.from_meta(m["gate"]) if m.get("gate") else None,
        )


def fit_logistic(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float = JUDGE_C
) -> tuple[np.ndarray, float]:
    """Weighted L2-penalised logistic regression by Newton's method, on standardised columns;
    returns the weights and bias for the raw columns."""
    mu, sd = x.mean(0), x.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    z = np.hstack([(x - mu) / sd, np.ones((len(x), 1))])
    beta = np.zeros(z.shape[1])
    pen = np.full(z.shape[1], 1.0 / c)
    pen[-1] = 0.0  # the bias is not penalised
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -30, 30)))
        grad = z.T @ (w * (p - y)) + pen * beta
        hess = (z * (w * p * (1 - p))[:, None]).T @ z + np.diag(pen + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    weights = beta[:-1] / sd
    return weights, float(beta[-1] - weights @ mu)


def fit_judge(
    valid_rows: list[dict],
    valid_clips,
    real_rows: list[dict],
    keep: float,
    margin_of,
    margin_keep: float = MARGIN_KEEP,
    real_fa: float = REAL_FALSE_ACCEPTANCE,
    noisy: tuple[list[dict], list] = ([], []),
    max_wrong: float = MAX_WRONG,
) -> Judge:
    """The judge from the validation decodes (positive: a command decoded right) and real
    non-command speech (negative; together weighted as much as the validation decodes).
    ``margin_of(row)`` measures a decode's margin (``Runner.margin``); ``noisy`` holds the
    decodes and clips of the validation commands in training noise, which only the gate
    reads."""
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"grammar: keep must be in (0, 1], not {keep}")
    pos = [_right(r, c) for r, c in zip(valid_rows, valid_clips, strict=True)]
    if not any(pos):
        raise ValueError("grammar: no validation command was decoded right; nothing to fit")
    valid = [(r, p) for r, p in zip(valid_rows, pos, strict=True) if r["intent"] is not None]
    real = [r for r in real_rows if r["intent"] is not None]
    rows = [r for r, _ in valid] + real
    for r in rows:
        margin_of(r)
    y = np.array([float(p) for _, p in valid] + [0.0] * len(real))
    w = np.array([1.0] * len(valid) + [len(valid) / max(len(real), 1)] * len(real))
    x = np.stack([row_features(r) for r in rows])
    if y.min() == y.max():  # no negative reached the end of the graph: the path's fit decides
        weights, bias = np.array([1.0] + [0.0] * (len(FEATURES) - 1)), 0.0
    else:
        weights, bias = fit_logistic(x, y, w)
    judge = Judge(weights, bias, 0.0)
    right = [r for r, p in valid if p]
    decodes = [
        (r, _right(r, c))
        for r, c in list(zip(valid_rows, valid_clips, strict=True)) + list(zip(*noisy, strict=True))
        if c.kind == "command" and r["intent"] is not None
    ]
    for r, _ in decodes:  # the gate reads each decode's margin (measured once, kept in the row)
        margin_of(r)
    judge.gate = fit_gate(decodes, right, margin_keep, max_wrong)
    # The highest threshold that keeps `keep` of all the right decodes (past the gate).
    passed = sorted((judge.score(r) for r in right if judge.passes(r)), reverse=True)
    need = int(np.ceil(keep * len(right) - 1e-9))
    threshold = passed[min(need, len(passed)) - 1]
    if len(real_rows) >= MIN_REAL_CLIPS:
        # Lower while at most `real_fa` of the real non-command clips pass (in the order of
        # their scores, past the gate).
        allowed = int(np.floor(real_fa * len(real_rows) + 1e-9))
        through = 0
        lowest = 0.0
        for r in sorted(real, key=judge.score, reverse=True):
            if judge.passes(r):
                through += 1
                if through > allowed:
                    lowest = judge.score(r) + 1e-5
                    break
        threshold = min(threshold, lowest)
    judge.threshold = float(min(1.0, max(1e-6, threshold)))
    # As the metadata stores it, so that the figures are those of the judge the runtime reads.
    return Judge.from_meta(judge.to_meta())


def fit_gate(
    decodes: list[tuple[dict, bool]], right: list[dict], keep: float, max_wrong: float
) -> Gate | None:
    """The gate from the validation commands' ``(decode, right)`` pairs (margins measured):
    a logistic score of ``GATE_FEATURES`` telling right decodes from wrong ones, passing at the
    ``lowest_gate`` of their scores, no higher than the score that keeps the share ``keep`` of the
    clean decodes ``right``. ``None`` when no gate is needed (no wrong decode, or none refused)."""
    y = np.array([float(ok) for _, ok in decodes])
    if not len(y) or y.min() == y.max():
        return None
    x = np.stack([row_features(r)[_GATE] for r, _ in decodes])
    weights, bias = fit_logistic(x, y, np.ones(len(y)))
    gate = Gate(weights, bias, 0.0)
    cap = float(np.quantile([gate.value(r) for r in right], 1.0 - keep))
    least = lowest_gate([(gate.value(r), ok) for r, ok in decodes], cap, max_wrong)
    if not np.isfinite(least):
        return None
    gate.threshold = least
    # As the metadata stores it, so that the fit's choices are those the runtime reads.
    return Gate.from_meta(gate.to_meta())


def lowest_gate(decodes: list[tuple[float, bool]], cap: float, max_wrong: float) -> float:
    """The lowest gate (``-inf``: none, or one of the decodes' values below ``cap``; at most
    ``cap``) at which at most ``max_wrong`` of the ``(value, right)`` decodes that reach it are
    wrong."""
    for gate in sorted({-np.inf} | {v for v, _ in decodes if v < cap}):
        kept = [ok for v, ok in decodes if v >= gate]
        if kept and 1.0 - float(np.mean(kept)) <= max_wrong + 1e-12:
            return gate
    return cap


def _right(r: dict, c) -> bool:
    return (
        c.kind == "command"
        and r["intent"] == c.phrase.intent
        and r["slots"] == c.phrase.slot_values()
    )


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

    def run(self, feats: np.ndarray, spec: dict | None = None, judge: Judge | None = None) -> dict:
        """The grammar's answer; with the context's label ``spec``, also the intent network's
        own answer (``network``: its decoding rule, as without a grammar). With a ``judge``, the
        margin is measured where the judge needs it; without one, the row keeps the
        log-probabilities until ``margin`` or ``settle`` is called."""
        x = ((feats.astype(np.float32) - self.mean) / self.std)[None]
        post = self.intent.run(None, {"x": x})
        p_oog = float(post[0][0][self.oog])
        logp = self.log_probs(feats)
        d = self.decoder.decode(logp)
        labels = self.meta["labels"]
        out = {
            "decoded": d,
            "intent": d.intent,
            "slots": {n: v for n, (v, _) in d.slots.items()},
            "gap": d.gap if d.intent is not None else -np.inf,
            "p_oog": p_oog,
            "p_intent": float(post[0][0][labels.index(d.intent)]) if d.intent else 0.0,
            "frames": d.frames,
            "margin": None,
            "logp": logp,
        }
        if spec is not None:
            out["network"] = intent_mod.decode(list(post), spec, self.meta["intent"]["threshold"])[
                0
            ]
        if judge is not None:
            self.settle(out, judge)
        return out

    def margin(self, r: dict) -> float | None:
        """The decode's margin (``Decoder.margin``), measured once."""
        if r["margin"] is None and r["intent"] is not None:
            r["margin"] = self.decoder.margin(r["logp"], r["decoded"])
        return r["margin"]

    def settle(self, r: dict, judge: Judge) -> None:
        """Measures the margin if ``judge`` needs it, and lets the log-probabilities go."""
        if judge.needs_margin(r):
            self.margin(r)
        r.pop("logp", None)


def score(rows: list[dict], clips, judge: Judge) -> dict:
    cmd = [(r, c) for r, c in zip(rows, clips, strict=True) if c.kind == "command"]
    chat = [r for r, c in zip(rows, clips, strict=True) if c.kind != "command"]

    def share(flags) -> float:
        flags = list(flags)
        return round(float(np.mean(flags)), 4) if flags else 0.0

    return {
        "command_acceptance": share(_right(r, c) and judge.accept(r) for r, c in cmd),
        "wrong_acceptance": share(judge.accept(r) and not _right(r, c) for r, c in cmd),
        "intent_accuracy": share(r["intent"] == c.phrase.intent for r, c in cmd),
        "acceptance_without_rejection": share(_right(r, c) for r, c in cmd),
        "false_acceptance": share(judge.accept(r) for r in chat),
        "commands": len(cmd),
        "chatter": len(chat),
    }


def attach(
    cfg: intent_mod.IntentConfig,
    clips,
    real: dict,
    phonemes_dir: Path,
    keep: float = KEEP,
    phonemes: str = "phonemes",
    force: bool = False,
    prior_scale: float = PRIOR_SCALE,
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
    intent_mod.worker_state["fe"] = FastLogMel(FrontEndParams())
    intent_mod.load_real_noises(real)

    def features(split):
        chosen = [c for c in clips if c.split == split and c.kind != "wake"]
        tasks = [
            (str(cache_path(cfg.work / "clips", c.item.key)), c.item.key, cfg.seed) for c in chosen
        ]
        return chosen, intent_mod.map_tasks(intent_mod.eval_worker, tasks, cfg, f"grammar {split}")

    valid, vfeats = features("valid")
    if prior_scale:
        # The prior is the recogniser's mean posterior over the validation clips (commands and
        # chatter), stored as the metadata rounds it.
        prior = PhonemePrior.estimate([runner.log_probs(f[0]) for f in vfeats], prior_scale)
        runner.decoder.prior = PhonemePrior.from_meta(prior.to_meta())
    spec = intent_mod.label_spec(ctx)
    vrows = [runner.run(f[0], spec) for f in vfeats]
    # The validation commands once more, each in a training noise at one of the SNRs.
    noisy_clips = [c for c in valid if c.kind == "command"]
    noisy_tasks = [
        (str(cache_path(cfg.work / "clips", c.item.key)), c.item.key, cfg.seed) for c in noisy_clips
    ]
    nfeats = intent_mod.map_tasks(intent_mod.noisy_worker, noisy_tasks, cfg, "grammar noisy")
    nrows = [runner.run(f) for f in nfeats]
    _, unused = intent_mod.split_real_speech(cfg, real.get("train_speech", []))
    rrows = [runner.run(f) for f in intent_mod.real_command_features(cfg, unused)]
    judge = fit_judge(vrows, valid, rrows, keep, runner.margin, noisy=(nrows, noisy_clips))
    for r in vrows + rrows + nrows:
        runner.settle(r, judge)
    evaluation: dict = {
        "keep": keep,
        "margin_keep": MARGIN_KEEP,
        "max_wrong": MAX_WRONG,
        "real_false_acceptance_budget": REAL_FALSE_ACCEPTANCE,
        "prior_scale": prior_scale,
        "judge_fit": {
            "validation_clips": len(valid),
            "real_non_command_clips": len(rrows),
            "real_false_acceptance": round(float(np.mean([judge.accept(r) for r in rrows])), 4)
            if rrows
            else None,
        },
        "validation": score(vrows, valid, judge),
        "validation_noisy": score(nrows, noisy_clips, judge),
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
        rows = [runner.run(f[k], judge=judge) for f in hfeats]
        evaluation[cond] = score(rows, hold, judge)
        if cond != "clean":
            continue
        evaluation["per_intent_clean"] = {
            i: score(
                [r for r, c in zip(rows, hold, strict=True) if c.phrase and c.phrase.intent == i],
                [c for c in hold if c.phrase and c.phrase.intent == i],
                judge,
            )
            for i in ctx.intent_names
        }
        evaluation["examples"] = [
            {
                "text": c.text,
                "voice": c.item.voice.id,
                "intent": r["intent"],
                "slots": r["slots"],
                "understood": judge.accept(r),
                "score": round(judge.score(r), 3),
                "margin": None if r["margin"] is None else round(r["margin"], 3),
            }
            for r, c in list(zip(rows, hold, strict=True))[:: max(1, len(hold) // 12)]
        ]
    evaluation["real_non_command"] = real_speech(cfg, real, runner, judge)
    evaluation["seconds"] = round(time.perf_counter() - t0, 1)
    golden_path = out / f"{cfg.name}.grammar-golden.json"
    meta = json.loads((out / f"{cfg.name}.json").read_text())
    grammar = {
        "phonemes": phonemes,
        "graph": graph.to_meta(),
        "judge": judge.to_meta(),
    }
    if runner.decoder.prior is not None:
        grammar["prior"] = runner.decoder.prior.to_meta()
    if evaluation["used"]:
        golden_path.write_text(json.dumps(golden_cases(runner, judge, valid, vfeats)) + "\n")
        meta["intent"]["grammar"] = grammar
    else:
        golden_path.unlink(missing_ok=True)
        for p in copied:
            p.unlink()
        meta["intent"].pop("grammar", None)
        evaluation["judge"] = grammar["judge"]
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


def real_speech(cfg, real: dict, runner: Runner, judge: Judge) -> dict:
    """Real speech that is not a command, padded like a captured command (as
    ``intent.evaluate`` does it)."""
    noise = intent_mod.noise_and_music(real["eval"])
    speech = [c for c in real["eval"] if c not in noise]
    accepted, total, as_intent = 0, 0, {}
    for feats in intent_mod.real_command_features(cfg, speech):
        r = runner.run(feats, judge=judge)
        total += 1
        if judge.accept(r):
            accepted += 1
            as_intent[r["intent"]] = as_intent.get(r["intent"], 0) + 1
    return {
        "clips": total,
        "false_acceptance": round(accepted / max(total, 1), 4),
        "accepted_as": dict(sorted(as_intent.items())),
    }


def golden_cases(runner: Runner, judge: Judge, clips, feats) -> dict:
    """Log-probabilities of a few validation clips, the intent graph's posteriors the judge
    reads, and the Python decoder's and judge's answers."""
    cases = []
    picks = [c for c in clips if c.kind == "command"][:: max(1, len(clips) // GOLDEN_CASES)]
    picks += [c for c in clips if c.kind != "command"][:1]
    for c in picks[:GOLDEN_CASES]:
        f = feats[clips.index(c)][0]
        lp = runner.log_probs(f)
        r = runner.run(f)
        runner.margin(r)
        d = r["decoded"]
        cases.append(
            {
                "text": c.text,
                "logp": {"shape": list(lp.shape), "data": [float(v) for v in lp.ravel()]},
                "intent": d.intent,
                "slots": {n: list(v) for n, v in d.slots.items()},
                "score": d.score,
                "free": d.free,
                "p_out_of_grammar": r["p_oog"],
                "p_intent": r["p_intent"],
                "margin": r["margin"],
                "judge_score": judge.score(r),
                "understood": judge.accept(r),
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
        args.keep,
        force=args.force,
        prior_scale=args.prior_scale,
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
