"""``sentiment``: negative / neutral / positive from how a command was said, and from its words.

``python -m hark_train sentiment --data ../shared/data --out models/`` writes
``models/sentiment.onnx``, ``.json``, ``.golden.json``, ``.md`` and ``.confusion.png``.

Data:

- **Tone**: RAVDESS acted speech (``DATA/ravdess/Actor_NN``), emotions mapped to three classes
  (neutral + calm → neutral; happy + surprised → positive; sad + angry + fearful + disgust →
  negative), split by actor: ``TRAIN_ACTORS`` for training, ``VALID_ACTORS`` for early stopping,
  ``TEST_ACTORS`` for the figures (two women, two men, never trained on). Licence CC BY-NC-SA
  4.0: the model is for non-commercial use.
- **Words**: the templated feedback sentences of ``textsentiment.feedback_sentences`` ("thanks,
  that's perfect", "no, that's wrong", neutral requests) and short, clearly valenced SST-2 phrases,
  spoken by every TTS family but the held-out one (SVOX Pico); the label is the sentence's. Held-out
  feedback phrases (never trained on) spoken by the held-out family measure the words part.

Every clip is padded like a captured command and augmented (speed, VTLP, reverberation, band
limits, real noise at 5-25 dB SNR, gain); the class loss is weighted so that the three classes
count alike. The network is ``nets.UtteranceClassifier`` with one ``sentiment`` head.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from . import textdata as td
from .audio import read_audio
from .augment import gain, load_rirs
from .export import export_utterance, git_commit
from .features import FrontEndParams
from .intent import (
    command_copy,
    draw_voice,
    fit,
    floor_noise,
    load_real_noises,
    map_tasks,
    mix_noise,
    pad_command,
    predict,
    real_sets,
    rng_for,
    speech_level,
    voice_pools,
    worker_state,
)
from .nets import UtteranceClassifier, UtteranceEnsemble, parameter_count
from .streams import FastLogMel
from .synth import Item, cache_path, draw_settings, synthesize
from .textsentiment import feedback_sentences

log = logging.getLogger(__name__)

LABELS = ["negative", "neutral", "positive"]
NEG, NEU, POS = 0, 1, 2
#: RAVDESS emotion code → class.
EMOTIONS = {
    "01": NEU,  # neutral
    "02": NEU,  # calm
    "03": POS,  # happy
    "04": NEG,  # sad
    "05": NEG,  # angry
    "06": NEG,  # fearful
    "07": NEG,  # disgust
    "08": POS,  # surprised
}
TRAIN_ACTORS = tuple(range(1, 13))
VALID_ACTORS = (13, 14)
TEST_ACTORS = (15, 16, 17, 18)
_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.(wav|flac)$")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class SentimentConfig:
    data: Path
    out: Path
    work: Path
    name: str = "sentiment"
    seed: int = 0
    ravdess_variants: int = 3
    words_per_class: int = 400
    word_variants: int = 1
    max_epochs: int = 60
    batches_per_round: int = 60
    #: Models trained alike from seeds ``seed``, ``seed + 1``, ... and averaged into one
    #: (``nets.UtteranceEnsemble``); each is early-stopped on the validation actors by itself.
    members: int = 1
    minutes: float = 15.0
    patience: int = 8
    batch: int = 32
    lr: float = 2e-3
    hidden: int = 64
    conv_channels: int = 64
    stride: int = 4
    jobs: int = 2
    progress: bool = True
    tiny: bool = False
    timings: dict = field(default_factory=dict)


@dataclass
class Utt:
    path: str
    label: int
    split: str  # train | valid | test | holdout
    source: str  # ravdess | words
    group: str  # actor or voice
    text: str = ""


def ravdess(data: Path) -> list[Utt]:
    """Every RAVDESS speech file under DATA/ravdess with its class and split (by actor)."""
    root = Path(data) / "ravdess"
    out = []
    for p in sorted(root.glob("Actor_*/*")):
        m = _NAME.match(p.name)
        if not m or m.group(1) != "03" or m.group(2) != "01":  # audio-only speech
            continue
        actor = int(m.group(7))
        if actor in TRAIN_ACTORS:
            split = "train"
        elif actor in VALID_ACTORS:
            split = "valid"
        elif actor in TEST_ACTORS:
            split = "test"
        else:
            continue
        out.append(Utt(str(p), EMOTIONS[m.group(3)], split, "ravdess", f"actor{actor:02d}"))
    return out


def word_texts(data: Path, per_class: int, seed: int) -> dict[str, list[tuple[str, int]]]:
    """Training sentences (feedback templates + short SST-2 phrases, ``per_class`` per class at
    most) and held-out feedback sentences."""
    fb = feedback_sentences(seed)
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[str]] = {NEG: [], NEU: [], POS: []}
    for t, y in fb["train"]:
        by_class[y].append(t)
    try:
        sst = [(td.detok_sst(s), y) for s, y in td.read_sst2(data, "train")]
        short = [(s, POS if y else NEG) for s, y in sst if 2 <= len(s.split()) <= 7]
        for i in rng.permutation(len(short))[:per_class]:
            s, y = short[int(i)]
            by_class[y].append(s)
    except FileNotFoundError:
        log.warning("sentiment: no SST-2 under %s", data)
    train = []
    for y, texts in by_class.items():
        pick = rng.permutation(len(texts))[:per_class]
        train += [(texts[int(i)], y) for i in pick]
    held = [fb["heldout"][int(i)] for i in rng.permutation(len(fb["heldout"]))[:150]]
    return {"train": train, "heldout": held}


def _worker(args) -> list[np.ndarray]:
    path, key, variants, seed, clean_first = args
    x = read_audio(path)
    fe, noises, rirs = worker_state["fe"], worker_state["noises"], worker_state["rirs"]
    out = []
    for v in range(variants):
        rng = rng_for(seed, "sent", key, v)
        clean = v == 0 and clean_first
        y = command_copy(
            x, rng, clean, noises, rirs, p_noise=0.8, snr_range=(5.0, 25.0), p_vtlp=0.2
        )
        out.append(fe(y).astype(np.float16))
    return out


def eval_worker(args) -> list[np.ndarray]:
    path, key, seed = args
    x = read_audio(path)
    rng = rng_for(seed, "sent-eval", key)
    y = floor_noise(pad_command(x, rng, pre=(0.2, 0.2), post=(0.3, 0.3)), rng, 60.0)
    n = worker_state["eval_noises"][int(rng.integers(len(worker_state["eval_noises"])))]
    noisy = mix_noise(y, speech_level(x), n, 12.0, rng)
    return [
        worker_state["fe"](gain(y, -12.0)).astype(np.float16),
        worker_state["fe"](gain(noisy, -12.0)).astype(np.float16),
    ]


def recall_scores(y_true: list[int], y_pred: list[int]) -> dict:
    m = td.confusion(y_true, y_pred, len(LABELS))
    rec = {
        LABELS[i]: round(float(m[i, i] / m[i].sum()), 4) if m[i].sum() else None
        for i in range(len(LABELS))
    }
    present = [v for v in rec.values() if v is not None]
    return {
        "n": len(y_true),
        "uar": round(float(np.mean(present)), 4) if present else None,
        "accuracy": round(float(np.mean(np.array(y_true) == np.array(y_pred))), 4),
        "recall": rec,
        "confusion": m.tolist(),
    }


def train(cfg: SentimentConfig, feats, labels, valid_feats, valid_labels, mean, std):
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(1)
    model = UtteranceClassifier(
        len(mean),
        {"sentiment": len(LABELS)},
        hidden=cfg.hidden,
        layers=2,
        conv_channels=cfg.conv_channels,
        stride=cfg.stride,
        dropout=0.3,
    )
    counts = np.bincount(labels, minlength=len(LABELS)).astype(np.float64)
    weights = torch.tensor(
        counts.sum() / (len(LABELS) * np.maximum(counts, 1)), dtype=torch.float32
    )

    def loss_of(outs, idx):
        return torch.nn.functional.cross_entropy(
            outs[0], torch.from_numpy(labels[idx]), weight=weights
        )

    def validate(model):
        (post,) = predict(model, valid_feats, mean, std)
        val = recall_scores(list(valid_labels), list(post.argmax(1)))
        return val["uar"] or 0.0, {"valid_uar": val["uar"]}

    return fit(model, feats, mean, std, loss_of, validate, cfg, "sentiment", weight_decay=1e-5)


def run(cfg: SentimentConfig) -> dict:
    if cfg.members < 1:
        raise ValueError(f"members must be at least 1, not {cfg.members}")
    t_start = time.perf_counter()
    cfg.work.mkdir(parents=True, exist_ok=True)
    if cfg.tiny:
        cfg.words_per_class, cfg.ravdess_variants, cfg.word_variants = 6, 1, 1

    def lap(name, t):
        cfg.timings[name] = round(time.perf_counter() - t, 1)
        log.info("sentiment: %s took %.1f s", name, cfg.timings[name])
        return time.perf_counter()

    t = time.perf_counter()
    utts = ravdess(cfg.data)
    if not utts:
        raise FileNotFoundError(f"no RAVDESS speech under {cfg.data}/ravdess")
    if cfg.tiny:
        utts = [u for k, u in enumerate(utts) if k % 40 == 0]
    fams, held = voice_pools(cfg.seed)
    texts = word_texts(cfg.data, cfg.words_per_class, cfg.seed)
    items: list[tuple[Item, Utt]] = []
    cache = cfg.work / "clips"
    for k, (text, y) in enumerate(texts["train"]):
        rng = rng_for(cfg.seed, "words", text, k)
        v = draw_voice(fams, rng)
        it = Item.make(v, text, draw_settings(v, rng))
        split = "valid" if k % 10 == 0 else "train"
        items.append((it, Utt(str(cache_path(cache, it.key)), y, split, "words", v.id, text)))
    for k, (text, y) in enumerate(texts["heldout"][: 12 if cfg.tiny else None]):
        rng = rng_for(cfg.seed, "words-held", text, k)
        v = draw_voice({"held": held}, rng)
        it = Item.make(v, text, draw_settings(v, rng))
        items.append((it, Utt(str(cache_path(cache, it.key)), y, "holdout", "words", v.id, text)))
    results, _ = synthesize(
        list({i.key: i for i, _ in items}.values()), cache, jobs=cfg.jobs, progress=cfg.progress
    )
    words = [u for i, u in items if results.get(i.key) is not None and results[i.key].ok]
    t = lap("synthesis", t)

    real = real_sets_for(cfg)
    params = FrontEndParams()
    worker_state["fe"] = FastLogMel(params)
    load_real_noises(real)
    rir_dir = Path.home() / ".cache" / "hark" / "rirs"
    worker_state["rirs"] = list(load_rirs(rir_dir).values()) if rir_dir.exists() else []

    train_u = [u for u in utts + words if u.split == "train"]
    tasks = [
        (
            u.path,
            f"{u.source}:{u.path}",
            cfg.ravdess_variants if u.source == "ravdess" else cfg.word_variants,
            cfg.seed,
            True,
        )
        for u in train_u
    ]
    feats, labels = [], []
    for u, fs in zip(train_u, map_tasks(_worker, tasks, cfg, "examples"), strict=True):
        feats += fs
        labels += [u.label] * len(fs)
    labels = np.array(labels, np.int64)
    eval_u = [u for u in utts + words if u.split != "train"]
    etasks = [(u.path, f"{u.source}:{u.path}", cfg.seed) for u in eval_u]
    efeats = dict(
        zip([id(u) for u in eval_u], map_tasks(eval_worker, etasks, cfg, "eval"), strict=True)
    )
    t = lap("examples", t)

    stacked = np.concatenate([f.astype(np.float32) for f in feats[:: max(1, len(feats) // 3000)]])
    mean = stacked.mean(axis=0).astype(np.float32)
    std = np.maximum(stacked.std(axis=0), 1e-3).astype(np.float32)
    valid = [u for u in eval_u if u.split == "valid"]
    members, member_histories = [], []
    for k in range(cfg.members):
        member, hist = train(
            replace(cfg, seed=cfg.seed + k),
            feats,
            labels,
            [efeats[id(u)][0] for u in valid],
            [u.label for u in valid],
            mean,
            std,
        )
        members.append(member)
        member_histories.append(hist)
    model = members[0] if len(members) == 1 else UtteranceEnsemble(members)
    history = member_histories[0]
    t = lap("training", t)

    evaluation: dict = {}
    for name, sel in _EVAL_SETS.items():
        us = [u for u in eval_u if sel(u)]
        if not us:
            continue
        for k, cond in enumerate(("clean", "snr_12db")):
            (post,) = predict(model, [efeats[id(u)][k] for u in us], mean, std)
            evaluation.setdefault(name, {})[cond] = recall_scores(
                [u.label for u in us], list(post.argmax(1))
            )
        if name == "ravdess_test_actors":
            per_actor = {}
            (post,) = predict(model, [efeats[id(u)][0] for u in us], mean, std)
            for a in sorted({u.group for u in us}):
                ix = [i for i, u in enumerate(us) if u.group == a]
                per_actor[a] = recall_scores([us[i].label for i in ix], list(post[ix].argmax(1)))[
                    "uar"
                ]
            evaluation[name]["uar_per_actor"] = per_actor
    if len(members) > 1:
        # Each member alone, to show what averaging them gives.
        evaluation["members"] = []
        for k, member in enumerate(members):
            rec = {"seed": cfg.seed + k}
            for name, sel in _EVAL_SETS.items():
                us = [u for u in eval_u if sel(u)]
                if us:
                    (post,) = predict(member, [efeats[id(u)][0] for u in us], mean, std)
                    rec[name] = recall_scores([u.label for u in us], list(post.argmax(1)))["uar"]
            evaluation["members"].append(rec)
    t = lap("evaluation", t)

    params.mean = [round(float(v), 5) for v in mean]
    params.std = [round(float(v), 5) for v in std]
    cfg.timings["total"] = round(time.perf_counter() - t_start, 1)
    training = {
        "data": [
            {
                "name": f"RAVDESS speech, actors {TRAIN_ACTORS[0]}-{TRAIN_ACTORS[-1]} "
                f"(validation {VALID_ACTORS}, test {TEST_ACTORS})",
                "licence": "CC BY-NC-SA 4.0 (non-commercial)",
            },
            {
                "name": "synthetic feedback sentences and short SST-2 phrases: espeak-ng, mbrola, "
                "flite, festival, Piper (joe); SVOX Pico held out",
                "licence": "GPL-3 / various free TTS; output unrestricted (mbrola voices: "
                "non-commercial); SST-2: GLUE terms",
            },
            {
                "name": "noise: Speech Commands background noise, asterisk music on hold, "
                "hedgewars music (training halves)",
                "licence": "CC BY 4.0 / CC BY-SA 3.0 / GPL-2 and free content",
            },
        ],
        "command": f"python -m hark_train sentiment --data DATA --out {cfg.out}"
        + (f" --members {cfg.members}" if cfg.members > 1 else ""),
        "commit": git_commit(REPO),
        "seed": cfg.seed,
        "date": _dt.date.today().isoformat(),
        "summary": {
            "ravdess_clips": {
                s: sum(1 for u in utts if u.split == s) for s in ("train", "valid", "test")
            },
            "word_clips": {
                s: sum(1 for u in words if u.split == s) for s in ("train", "valid", "holdout")
            },
            "examples": len(feats),
            "class_counts": np.bincount(labels, minlength=3).tolist(),
        },
        "history": history,
        "member_histories": member_histories if len(members) > 1 else [],
        "parameters": parameter_count(model),
        "architecture": {
            "members": len(members),
            "conv_channels": cfg.conv_channels,
            "stride": cfg.stride,
            "hidden": cfg.hidden,
            "layers": 2,
            "bidirectional": True,
        },
        "timings_s": dict(cfg.timings),
        "licence": "CC BY-NC-SA 4.0 (trained on RAVDESS): non-commercial use only",
    }
    if cfg.tiny:
        training["note"] = "tiny run: a few clips and one epoch; not a usable model"
    paths = export_utterance(
        model,
        cfg.out,
        cfg.name,
        kind="sentiment",
        frontend=params,
        features="logmel",
        labels=LABELS,
        output_names=["sentiment"],
        extra={},
        training=training,
        evaluation=evaluation,
        n_features=len(mean),
    )
    meta = json.loads(paths["json"].read_text())
    write_card(cfg.out, cfg.name, meta)
    return meta


#: The evaluation sets: name → which utterances belong to it.
_EVAL_SETS = {
    "ravdess_test_actors": lambda u: u.source == "ravdess" and u.split == "test",
    "ravdess_valid_actors": lambda u: u.source == "ravdess" and u.split == "valid",
    "words_heldout_voices": lambda u: u.source == "words" and u.split == "holdout",
}


def real_sets_for(cfg: SentimentConfig) -> dict:
    from .intent import IntentConfig

    return real_sets(IntentConfig(context=Path("."), out=cfg.out, work=cfg.work, data=cfg.data))


def _p(v) -> str:
    return "n/a" if v is None else f"{100 * float(v):.1f}%"


def write_card(out: Path, name: str, meta: dict) -> None:
    ev, tr = meta["evaluation"], meta["training"]
    rt = ev.get("ravdess_test_actors", {})
    if rt.get("clean"):
        td.plot_confusion(
            np.array(rt["clean"]["confusion"]),
            LABELS,
            LABELS,
            f"{name}: RAVDESS held-out actors, clean",
            out / f"{name}.confusion.png",
        )

    def row(title, d):
        if not d:
            return f"| {title} | n/a | | | | |"
        r = d["recall"]
        return (
            f"| {title} | {d['n']} | **{d['uar']:.3f}** | {_p(r['negative'])} | "
            f"{_p(r['neutral'])} | {_p(r['positive'])} |"
        )

    rows = "\n".join(
        row(f"{t} ({c.replace('snr_', '').replace('db', ' dB SNR')})", ev.get(k, {}).get(c))
        for k, t in (
            ("ravdess_test_actors", "RAVDESS actors 15-18 (tone)"),
            ("ravdess_valid_actors", "RAVDESS actors 13-14 (used for early stopping)"),
            ("words_heldout_voices", "held-out feedback sentences, unseen TTS engine (words)"),
        )
        for c in ("clean", "snr_12db")
    )
    hist = "\n".join(
        f"| {h['epoch']} | {h['train_loss']} | {h['valid_uar']} | {h['elapsed_s']} |"
        for h in tr.get("history", [])
    )
    n_members = tr.get("architecture", {}).get("members", 1)
    members = ev.get("members") or []
    if n_members > 1:
        ensemble = (
            f"\n\nThe model is the average of {n_members} such networks (their softmax outputs "
            f"are averaged), trained alike on the same examples from seeds {tr['seed']}-"
            f"{tr['seed'] + n_members - 1} and each early-stopped on the validation actors by "
            "itself. One network's validation score swings from round to round and between seeds "
            "(see the table below); the average is steadier."
        )
        hists = tr.get("member_histories") or []
        member_rows = "\n".join(
            f"| {m['seed']} | {len(hists[k]) if k < len(hists) else 'n/a'} | "
            f"{m.get('ravdess_valid_actors')} | {m.get('ravdess_test_actors')} | "
            f"{m.get('words_heldout_voices')} |"
            for k, m in enumerate(members)
        )

        def clean_uar(key: str):
            return ev.get(key, {}).get("clean", {}).get("uar")

        member_table = (
            "\n\nEach network alone (UAR, clean):\n\n"
            "| seed | rounds | RAVDESS actors 13-14 (validation) | RAVDESS actors 15-18 (test) "
            "| held-out feedback sentences |\n|---|---|---|---|---|\n"
            f"{member_rows}\n"
            f"| **average of all** | | **{clean_uar('ravdess_valid_actors')}** | "
            f"**{clean_uar('ravdess_test_actors')}** | **{clean_uar('words_heldout_voices')}** |"
        )
        history_title = f"Training history of the first network (seed {tr['seed']}):"
    else:
        ensemble, member_table, history_title = "", "", "Training history:"
    data = "\n".join(f"- {d['name']} ({d['licence']})" for d in tr["data"])
    arch = tr.get("architecture", {})
    card = f"""# Model card: hark sentiment of the voice (`{name}.onnx`)

Negative / neutral / positive from how a command was said (tone) and what was said (words),
straight from the audio. Input: log-mel `[1, T, 40]` of the captured command (the keyword model's
front-end; normalisation in `{name}.json`). Output `sentiment` `[1, 3]`: softmax over
{", ".join(LABELS)}.

**Licence: CC BY-NC-SA 4.0, non-commercial use only** — the model is trained on RAVDESS
(Livingstone & Russo 2018, CC BY-NC-SA 4.0).

Architecture: Conv1d(40→{arch.get("conv_channels")}, kernel 5, stride {arch.get("stride")}) →
ReLU → {arch.get("layers")}-layer bidirectional LSTM({arch.get("hidden")}) → mean and max over
time → Linear(3) → softmax.{ensemble} {tr.get("parameters")} parameters.

Built by `{tr["command"]}` at commit `{tr["commit"]}` (seed {tr["seed"]}, {tr.get("date")}).
Time on this 2-core machine: {tr.get("timings_s")} (seconds per step).

## Training data

{data}

RAVDESS emotions → classes: neutral + calm → neutral; happy + surprised → positive; sad, angry,
fearful, disgust → negative. Split by actor. Clips: {tr["summary"]}. The class loss is weighted
so that the three classes count alike. Augmentation: speed, VTLP, reverberation, band limits, real
noise at 5-25 dB SNR, gain.

## Evaluation (speakers never trained on)

Unweighted average recall (UAR, the mean of the per-class recalls) and per-class recall. Noise:
real recordings never trained on at 12 dB SNR.

| set | clips | UAR | negative | neutral | positive |
|---|---|---|---|---|---|
{rows}

Per held-out actor (UAR, clean): {rt.get("uar_per_actor")}. Target: UAR ≥ 0.65 on held-out actors.
Confusion matrix: `{name}.confusion.png`.{member_table}

{history_title}

| epoch | train loss | valid UAR | elapsed s |
|---|---|---|---|
{hist}

## Limitations

- RAVDESS is acted speech of two fixed sentences by 24 North-American actors (18 available);
  spontaneous speech is subtler, and the figures above are on 4 actors only.
- The words part is learnt from synthetic speech of templated feedback and movie-review phrases;
  it is judged on an unseen TTS engine, not on real people.
- Emotion is not sentiment: a fearful or sad request is reported as negative.
"""
    (out / f"{name}.md").write_text(card, encoding="utf-8")


def main_args(args) -> int:
    cfg = SentimentConfig(
        data=Path(args.data),
        out=Path(args.out),
        work=Path(args.work).expanduser().resolve(),
        name=args.name,
        seed=args.seed,
        max_epochs=args.epochs,
        minutes=args.minutes,
        members=args.members,
        jobs=args.jobs,
        progress=not args.no_progress,
        tiny=args.tiny,
    )
    meta = run(cfg)
    ev = meta["evaluation"]
    for k, v in ev.items():
        if not isinstance(v, dict):
            print(k, v)
            continue
        print(
            k,
            {
                c: (d["uar"], d["recall"])
                for c, d in v.items()
                if isinstance(d, dict) and "uar" in d
            },
        )
    print(f"timings (s): {meta['training']['timings_s']}")
    print(f"wrote {cfg.out / cfg.name}.onnx, .json, .md")
    return 0
