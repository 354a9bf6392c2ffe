"""Home Assistant's English sentence templates (PyPI ``home-assistant-intents``, expanded with
``hassil``; both pinned in training/requirements-text.txt and read offline).

- ``templates(intent)``: the raw templates, the source the default context's phrasings follow.
- ``ha_phrasings(...)``: seeded expansions of the templates of the context's intents, with the
  ``area`` / ``name`` lists filled from the context's own values: phrasings written by other
  people, never trained on, used to judge a text-intent model (``evaluate_onnx``).

``python -m hark_train.hass templates HassTurnOn`` prints templates;
``python -m hark_train.hass eval models/text-intent.json --context config/contexts/home.yaml``
scores the exported ONNX model on them and adds the figures to its metadata.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np

from .grammar import OUT_OF_GRAMMAR, Context, load_context
from .tokenizer import Tokenizer, tokenize


def _en() -> dict:
    import home_assistant_intents as hai

    return json.loads((Path(os.path.dirname(hai.__file__)) / "data" / "en.json").read_text())


def templates(intent: str) -> list[str]:
    data = _en()["intents"].get(intent, {"data": []})["data"]
    return [s for block in data for s in block["sentences"]]


def context_words(ctx: Context) -> set[str]:
    """Every token a context can produce (expression words, slot phrases, macro words)."""
    words: set[str] = set()
    for exprs in ctx.intents.values():
        for e in exprs:
            words |= set(tokenize(e.source))
    for t in ctx.slot_types.values():
        for phrase, _ in t.phrases:
            words |= set(tokenize(phrase))
    for m in ctx.macros.values():
        for a in m.alts:
            words |= {w.text.lower() for w in a.items if hasattr(w, "text")}
    return words


def template_split(index: int) -> str:
    """Templates are split per intent by position: every third one (index % 3 == 2) is held out
    for evaluation, the others may be used for training."""
    return "eval" if index % 3 == 2 else "train"


def ha_phrasings(
    ctx: Context,
    per_intent: int = 150,
    seed: int = 0,
    pool: int = 5000,
    split: str | None = None,
    in_vocabulary: bool = False,
) -> list[tuple[str, str]]:
    """(intent, sentence) from Home Assistant's templates for the context's intents; up to
    ``pool`` expansions per intent, of which ``per_intent`` are drawn with ``seed``. ``split``
    (``train`` / ``eval``) keeps only that part of the templates (``template_split``);
    ``in_vocabulary`` only sentences whose every token is a word of the context."""
    from hassil.intents import Intents, TextSlotList
    from hassil.sample import sample_intents

    d = _en()
    keep = {}
    for name, body in d["intents"].items():
        if name not in ctx.intents:
            continue
        body = json.loads(json.dumps(body))
        k = 0
        for block in body["data"]:
            sents = []
            for sent in block["sentences"]:
                if split is None or template_split(k) == split:
                    sents.append(sent)
                k += 1
            block["sentences"] = sents
        body["data"] = [b for b in body["data"] if b["sentences"]]
        if body["data"]:
            keep[name] = body
    d["intents"] = keep
    intents = Intents.from_dict(d)
    lists = {}
    for slot in ("area", "name"):
        if slot in ctx.slot_names():
            lists[slot] = TextSlotList.from_strings(ctx.slot_values(slot))
    lists.setdefault("floor", TextSlotList.from_strings(["upstairs", "downstairs"]))
    lists.setdefault("area", TextSlotList.from_strings(["kitchen"]))
    lists.setdefault("name", TextSlotList.from_strings(["light"]))
    words = context_words(ctx) if in_vocabulary else None
    by: dict[str, list[str]] = {}
    for name, text in sample_intents(
        intents, slot_lists=lists, max_sentences_per_intent=pool, language="en"
    ):
        if words is not None and not set(tokenize(text)) <= words:
            continue
        by.setdefault(name, []).append(text)
    rng = random.Random(seed)
    out = []
    for name in ctx.intents:
        got = sorted(set(by.get(name, [])))
        rng.shuffle(got)
        out += [(name, t) for t in got[:per_intent]]
    return out


def evaluate_onnx(meta_path: Path, ctx: Context, per_intent: int = 150, seed: int = 0) -> dict:
    """Intent accuracy of the exported model (onnxruntime) on HA template phrasings: all of them,
    and the subset whose every word is a word of the context ("in-vocabulary")."""
    import onnxruntime as ort

    meta = json.loads(Path(meta_path).read_text())
    tok = Tokenizer.from_meta(meta["tokenizer"])
    labels = meta["labels"]
    thr = meta["intent"]["threshold"]
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(
        str(Path(meta_path).with_suffix(".onnx")), opts, providers=["CPUExecutionProvider"]
    )
    words = context_words(ctx)
    rows = ha_phrasings(ctx, per_intent, seed, split="eval")
    res: dict[str, dict] = {}
    for subset in ("all", "in_vocabulary"):
        per: dict[str, list[int]] = {}
        for intent, text in rows:
            toks = tokenize(text)
            if subset == "in_vocabulary" and not set(toks) <= words:
                continue
            ids = np.asarray([tok.ids(toks)], dtype=np.int64)
            p = sess.run(None, {"tokens": ids})[0][0]
            k = int(p.argmax())
            ok = labels[k] == intent
            und = ok and labels[k] != OUT_OF_GRAMMAR and float(p[k]) >= thr
            c = per.setdefault(intent, [0, 0, 0])
            c[0] += 1
            c[1] += ok
            c[2] += und
        n = sum(v[0] for v in per.values())
        res[subset] = {
            "n": n,
            "intent_accuracy": round(sum(v[1] for v in per.values()) / max(n, 1), 4),
            "understood_and_correct": round(sum(v[2] for v in per.values()) / max(n, 1), 4),
            "per_intent": {
                k: {"n": v[0], "intent_accuracy": round(v[1] / v[0], 4)} for k, v in per.items()
            },
        }
    res["rule"] = (
        f"held-out Home Assistant en.json templates (every third per intent) expanded by hassil "
        f"({per_intent} per intent, seed "
        f"{seed}; area/name lists = the context's values); argmax == template intent; "
        "in_vocabulary: every token is a word of the context"
    )
    return res


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m hark_train.hass")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("templates")
    t.add_argument("intents", nargs="+")
    e = sub.add_parser("eval")
    e.add_argument("meta", type=Path)
    e.add_argument("--context", type=Path, required=True)
    e.add_argument("--per-intent", type=int, default=150)
    e.add_argument("--write", action="store_true", help="add the figures to the metadata")
    args = ap.parse_args(argv)
    if args.cmd == "templates":
        for i in args.intents:
            print(f"{i}:")
            for s in templates(i):
                print(f"    {s}")
        return 0
    res = evaluate_onnx(args.meta, load_context(args.context), args.per_intent)
    print(
        json.dumps(
            {
                k: v if k == "rule" else {a: b for a, b in v.items() if a != "per_intent"}
                for k, v in res.items()
            },
            indent=2,
        )
    )
    if args.write:
        meta = json.loads(args.meta.read_text())
        meta["evaluation"]["ha_templates"] = res
        args.meta.write_text(json.dumps(meta, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
