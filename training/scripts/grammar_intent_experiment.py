"""Speech-to-intent by grammar decoding: an experiment, not a shipped model.

A phoneme recogniser (conv → 2-layer biLSTM → CTC over espeak-ng's phonemes) is trained on the
synthetic speech the ``intent`` and ``keyword`` commands have already made (their caches; the
held-out SVOX Pico voices are left out), and the default context is decoded against it with
``hark_train.grammar_graph``. The figures are the same as the intent card's: command acceptance and
intent accuracy on the held-out Pico commands, clean and with real noise, and false acceptance of
held-out chatter. Needs the caches of ``python -m hark_train intent --context
config/contexts/home.yaml ...`` and ``python -m hark_train keyword ...`` (run them first).

    export PYTHONPATH=training
    python training/scripts/grammar_intent_experiment.py bank --out /tmp/ph_bank.pkl
    python training/scripts/grammar_intent_experiment.py train \
        --bank /tmp/ph_bank.pkl --out /tmp/phnet.pt --minutes 50
    python training/scripts/grammar_intent_experiment.py eval --ckpt /tmp/phnet.pt
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from hark_train import intent as intent_mod
from hark_train import realdata as rd
from hark_train.audio import read_audio
from hark_train.augment import gain, load_noises, load_rirs
from hark_train.features import FrontEndParams
from hark_train.grammar import load_context
from hark_train.grammar_graph import Decoder, compile_context, lexicon
from hark_train.phonemes import encode, inventory, phonemize_all
from hark_train.streams import FastLogMel
from hark_train.synth import cache_path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path.home() / ".cache" / "hark"


def intent_setup(data: Path):
    cfg = intent_mod.IntentConfig(
        context=REPO / "config/contexts/home.yaml",
        out=Path("/tmp"),
        work=CACHE / "intent",
        data=data,
        jobs=1,
        progress=False,
    )
    ctx = load_context(cfg.context)
    spec = intent_mod.label_spec(ctx)
    commands = cfg.per_intent * len(ctx.intent_names)  # as intent.run sizes it
    cfg.oog_sentences = min(cfg.oog_sentences, max(200, int(0.4 * commands)))
    cfg.real_speech = min(cfg.real_speech, max(100, int(0.3 * commands)))
    clips = intent_mod.synthesise(cfg, intent_mod.plan_clips(ctx, cfg, spec))
    return cfg, ctx, clips, intent_mod.real_sets(cfg)


def bank(args) -> None:
    cfg, _ctx, clips, real = intent_setup(args.data)
    items = [
        (str(cache_path(cfg.work / "clips", c.item.key)), c.text, c.split == "valid")
        for c in clips
        if c.item.voice.family != "pico"
    ]
    for line in open(CACHE / "keyword/synth/manifest.jsonl", encoding="utf-8"):
        r = json.loads(line)
        if r["family"] != "pico" and r["split"] == "train":
            items.append((r["path"], r["text"], False))
    known = phonemize_all([t for _, t, _ in items], cfg.work / "phonemes.json")
    fe = FastLogMel(FrontEndParams())
    noises = load_noises(real["train_noise"], max_s=120.0)
    rirs = list(load_rirs(CACHE / "rirs").values())
    out = []
    for k, (path, text, valid) in enumerate(items):
        x = read_audio(path)
        rng = np.random.default_rng(k)
        for v in range(1 if valid else 2):
            y = intent_mod.command_copy(
                x, rng, v == 0, noises, rirs, p_noise=0.8, snr_range=(5.0, 25.0)
            )
            out.append((fe(y).astype(np.float16), known[text], "valid" if valid else "train"))
    with open(args.out, "wb") as f:
        pickle.dump(out, f)
    print(f"{len(items)} clips, {len(out)} examples → {args.out}")


class PhonemeNet(nn.Module):
    def __init__(self, n_features: int, n_phones: int, ch=96, hidden=96, stride=3) -> None:
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv1d(n_features, ch, 5, stride=stride, padding=2)
        self.lstm = nn.LSTM(
            ch, hidden, num_layers=2, batch_first=True, bidirectional=True, dropout=0.2
        )
        self.drop = nn.Dropout(0.2)
        self.out = nn.Linear(2 * hidden, n_phones + 1)

    def lens(self, n: torch.Tensor) -> torch.Tensor:
        return (n + 4 - 5) // self.stride + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        y, _ = self.lstm(h)
        return self.out(self.drop(y)).log_softmax(-1)


def train(args) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    with open(args.bank, "rb") as f:
        data = pickle.load(f)
    inv = inventory([ph for _, ph, s in data if s == "train"])
    tr = [(f, encode(ph, inv)) for f, ph, s in data if s == "train"]
    va = [(f, encode(ph, inv)) for f, ph, s in data if s == "valid"]
    stk = np.concatenate([f.astype(np.float32) for f, _ in tr[::20]])
    mean, std = stk.mean(0), np.maximum(stk.std(0), 1e-3)
    model = PhonemeNet(stk.shape[1], len(inv))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)

    def spec_aug(f):
        f = f.copy()
        for _ in range(2):
            w = int(rng.integers(0, 10))
            s = int(rng.integers(0, max(1, len(f) - w)))
            f[s : s + w] = 0
        w = int(rng.integers(0, 7))
        s = int(rng.integers(0, f.shape[1] - w))
        f[:, s : s + w] = 0
        return f

    def loss_of(rows, idx, aug):
        fs = [(rows[i][0].astype(np.float32) - mean) / std for i in idx]
        fs = [spec_aug(f) for f in fs] if aug else fs
        n = torch.tensor([len(f) for f in fs])
        x = nn.utils.rnn.pad_sequence([torch.from_numpy(f) for f in fs], batch_first=True)
        y = torch.cat([torch.tensor(rows[i][1]) for i in idx])
        yl = torch.tensor([len(rows[i][1]) for i in idx])
        lp = model(x).transpose(0, 1)
        tl = model.lens(n).clamp(max=lp.shape[0])
        return nn.functional.ctc_loss(lp, y, tl, yl, zero_infinity=True)

    def validate():
        model.eval()
        order, tot = np.argsort([len(f) for f, _ in va]), 0.0
        with torch.no_grad():
            for i in range(0, len(order), 64):
                idx = order[i : i + 64]
                tot += float(loss_of(va, idx, False)) * len(idx)
        model.train()
        return tot / len(va)

    order = np.argsort([len(f) for f, _ in tr])
    batches = [order[i : i + 32] for i in range(0, len(order), 32)]
    t0, best, epoch = time.perf_counter(), math.inf, 0
    while time.perf_counter() - t0 < args.minutes * 60:
        rng.shuffle(batches)
        for b in batches:
            loss = loss_of(tr, b, True)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            if time.perf_counter() - t0 > args.minutes * 60:
                break
        v = validate()
        print(f"epoch {epoch}: valid CTC loss {v:.3f} ({time.perf_counter() - t0:.0f} s)")
        if v < best:
            best = v
            state = {"state": model.state_dict(), "inv": inv, "mean": mean, "std": std}
            torch.save(state, args.out)
        if epoch >= 6:
            for g in opt.param_groups:
                g["lr"] *= 0.85
        epoch += 1


def evaluate(args) -> None:
    torch.set_num_threads(1)
    ck = torch.load(args.ckpt, weights_only=False)
    inv, mean, std = ck["inv"], ck["mean"], ck["std"]
    model = PhonemeNet(len(mean), len(inv))
    model.load_state_dict(ck["state"])
    model.eval()
    cfg, ctx, clips, real = intent_setup(args.data)
    intent_mod._G["fe"] = FastLogMel(FrontEndParams())
    intent_mod._G["eval_noises"] = load_noises(intent_mod._noise_clips(real["eval"]), max_s=120.0)
    dec = Decoder(compile_context(ctx, lexicon(ctx, inv, cfg.work / "lexicon.json")))

    def run(split, conds):
        res = {k: [] for k in conds}
        for c in clips:
            if c.split != split or c.kind == "wake":
                continue
            path = str(cache_path(cfg.work / "clips", c.item.key))
            feats = intent_mod._eval_worker((path, c.item.key, cfg.seed))
            for k in conds:
                x = torch.from_numpy(((feats[k].astype(np.float32) - mean) / std)[None])
                with torch.no_grad():
                    d = dec.decode(model(x)[0].numpy())
                res[k].append(
                    {
                        "gap": d.gap,
                        "ok_intent": c.phrase is not None and d.intent == c.phrase.intent,
                        "ok": c.phrase is not None
                        and d.intent == c.phrase.intent
                        and {n: v for n, (v, _) in d.slots.items()} == c.phrase.slot_values(),
                        "command": c.kind == "command",
                    }
                )
        return res

    def share(flags) -> float:
        return round(float(np.mean(flags)), 4)

    def report(rows, thr):
        cmd = [r for r in rows if r["command"]]
        chat = [r for r in rows if not r["command"]]
        return {
            "command_acceptance": round(
                float(np.mean([r["ok"] and r["gap"] >= thr for r in cmd])), 4
            ),
            "acceptance_without_rejection": share([r["ok"] for r in cmd]),
            "intent_accuracy": share([r["ok_intent"] for r in cmd]),
            "chatter_false_acceptance": share([r["gap"] >= thr for r in chat]),
            "commands": len(cmd),
            "chatter": len(chat),
        }

    valid = run("valid", [0])[0]
    # Rejection threshold: 10% of the validation chatter accepted.
    thr = float(np.quantile([r["gap"] for r in valid if not r["command"]], 0.9))
    print("threshold (per-frame log-probability gap)", round(thr, 4))
    print("validation (trained voices)", report(valid, thr))
    conds = ["clean"] + [f"snr_{s}db" for s in intent_mod.SNRS]
    held = run("holdout", list(range(len(conds))))
    for k, name in enumerate(conds):
        print("held-out Pico voices,", name, report(held[k], thr))
    # Real speech that is not a command, padded like a captured command (as intent.evaluate).
    noise = intent_mod._noise_clips(real["eval"])
    accepted, total = 0, 0
    for c in [c for c in real["eval"] if c not in noise]:
        try:
            x = rd.load(c)
        except Exception as e:  # noqa: BLE001 - a broken file is skipped, as in intent.evaluate
            print(f"skipped {c.path}: {e}")
            continue
        rng = intent_mod._rng(cfg.seed, "real", str(c.path))
        y = intent_mod.pad_command(x[: 8 * 16000], rng, pre=(0.2, 0.2), post=(0.3, 0.3))
        f = intent_mod._G["fe"](gain(intent_mod._floor_noise(y, rng, 60.0), -12.0))
        with torch.no_grad():
            d = dec.decode(
                model(torch.from_numpy(((f - mean) / std).astype(np.float32)[None]))[0].numpy()
            )
        accepted += d.gap >= thr
        total += 1
    print(
        f"real non-command speech: {accepted} of {total} accepted ({accepted / max(total, 1):.1%})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bank")
    b.add_argument("--data", type=Path, default=REPO.parent / "shared/data")
    b.add_argument("--out", type=Path, required=True)
    t = sub.add_parser("train")
    t.add_argument("--bank", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--minutes", type=float, default=50.0)
    e = sub.add_parser("eval")
    e.add_argument("--data", type=Path, default=REPO.parent / "shared/data")
    e.add_argument("--ckpt", type=Path, required=True)
    args = ap.parse_args()
    {"bank": bank, "train": train, "eval": evaluate}[args.cmd](args)


if __name__ == "__main__":
    main()
