"""``text-intent``: intent + slots of a typed or transcribed command, for any context file.

Training data:

- the context's own phrasings (``grammar.Context.sample``), labelled with their intent and BIO
  slot tags;
- real phrasings: HWU64 fold-1 *train* and SLURP (devel+test) utterances whose intent maps to one
  of the context's intents through ``REAL_INTENTS`` (only for intents the context defines); their
  annotated slots (``house_place`` → ``area``, ``device_type`` → ``name``, ``color_type`` →
  ``color``) are tagged where the annotated words are one of the context's slot phrases, and left
  out of the tagging loss otherwise;
- ``_out_of_grammar_``: HWU64 train and SLURP utterances of the other intents (``IGNORED`` ones
  excepted: they are too close to a covered command to call them chatter) and SST-2 sentences.

SLURP sentences that are also HWU64 *test* sentences are dropped: HWU64 test is kept for
evaluation. Evaluation: intent accuracy on HWU64 test utterances of the covered intents, rejection
of HWU64 test utterances of the other intents, and slot F1 / command acceptance on held-out context
phrasings (phrasings never drawn for training).

``python -m hark_train text-intent --context config/contexts/home.yaml --data ../shared/data
--out models/``
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from . import textdata as td
from . import wordvectors as wvec
from .export import export_text, git_commit
from .grammar import OUT_OF_GRAMMAR, Context, Phrase, load_context
from .textnets import IGNORE, Example, TextClassifier, embedding_description, predict, train
from .tokenizer import Tokenizer, tokenize

log = logging.getLogger(__name__)

#: HWU64 / SLURP intent → Home Assistant intent (used only when the context defines it).
REAL_INTENTS = {
    "iot_hue_lighton": "HassTurnOn",
    "iot_wemo_on": "HassTurnOn",
    "iot_hue_lightoff": "HassTurnOff",
    "iot_wemo_off": "HassTurnOff",
    "iot_hue_lightchange": "HassLightSet",
}
#: Neither a covered command nor chatter: relative brightness/volume changes have no HA intent
#: with a value, "stop" is ambiguous with HassMediaPause, and the unprefixed SLURP labels are
#: annotation debris.
IGNORED = {
    "iot_hue_lightdim",
    "iot_hue_lightup",
    "audio_volume_up",
    "audio_volume_down",
    "audio_volume_mute",
    "audio_volume_other",
    "general_commandstop",
    "music_settings",
}
#: HWU64 / SLURP entity type → slot name.
REAL_SLOTS = {"house_place": "area", "device_type": "name", "color_type": "color"}
_DETERMINERS = ("the", "my", "all", "all the", "all of the", "a", "our", "this")
THRESHOLD = 0.5


def _is_labelled(intent: str) -> bool:
    return "_" in intent and intent.split("_")[0] in {
        "alarm",
        "audio",
        "calendar",
        "cooking",
        "datetime",
        "email",
        "general",
        "iot",
        "lists",
        "music",
        "news",
        "play",
        "qa",
        "recommendation",
        "social",
        "takeaway",
        "transport",
        "weather",
    }


# Tags ------------------------------------------------------------------------------------------


def tag_names(ctx: Context) -> list[str]:
    tags = ["O"]
    for name in ctx.slot_names():
        tags += [f"B-{name}", f"I-{name}"]
    return tags


def phrase_tags(p: Phrase, tags: list[str]) -> tuple[list[str], list[int]]:
    """Tokens of a context phrasing and their BIO tag ids. Pieces are joined by spaces, so a
    token never straddles a slot boundary: the tokens before a slot are those of the text before
    it."""
    index = {t: i for i, t in enumerate(tags)}
    toks = tokenize(p.text)
    ids = [0] * len(toks)
    for s in p.slots:
        start = len(tokenize(p.text[: s.start]))
        n = len(tokenize(p.text[s.start : s.end]))
        for k in range(n):
            ids[start + k] = index[("B-" if k == 0 else "I-") + s.name]
    return toks, ids


def synonyms_table(ctx: Context) -> dict[str, dict[str, str]]:
    """slot name → {normalised phrase (tokens joined by one space) → canonical value}."""
    out = {}
    for name in ctx.slot_names():
        table = {}
        for phrase, value in ctx.slot_synonyms(name).items():
            key = " ".join(tokenize(phrase))
            if key:
                table.setdefault(key, value)
        for v in ctx.slot_values(name):
            table.setdefault(" ".join(tokenize(v)), v)
        out[name] = table
    return out


def real_tags(
    u: td.Utterance, ctx_slots: set[str], table: dict[str, dict[str, str]], tags: list[str]
) -> tuple[list[str], list[int]]:
    """BIO tags for a real utterance: annotated entities that are context slot phrases are
    tagged; other annotated words, and unannotated words that look like a slot phrase, are left
    out of the loss (IGNORE)."""
    index = {t: i for i, t in enumerate(tags)}
    toks = tokenize(u.text)
    ids = [0] * len(toks)
    covered = [False] * len(toks)
    for typ, words, start, end in u.entities:
        a = len(tokenize(u.text[:start]))
        n = len(tokenize(u.text[start:end]))
        for k in range(a, min(a + n, len(toks))):
            covered[k] = True
        name = REAL_SLOTS.get(typ)
        ent = tokenize(words)
        placed = False
        if name in ctx_slots:
            for d in ("",) + _DETERMINERS:
                dt = tokenize(d)
                if ent[: len(dt)] == dt and " ".join(ent[len(dt) :]) in table[name]:
                    off = a + len(dt)
                    for k in range(off, a + n):
                        ids[k] = index[("B-" if k == off else "I-") + name]
                    for k in range(a, off):
                        ids[k] = 0
                    placed = True
                    break
        if not placed:
            for k in range(a, min(a + n, len(toks))):
                ids[k] = IGNORE
    # Unannotated words that are slot phrases: unknown truth, no loss.
    phrases = {p for t in table.values() for p in t}
    for i in range(len(toks)):
        if covered[i]:
            continue
        for L in (3, 2, 1):
            if i + L <= len(toks) and " ".join(toks[i : i + L]) in phrases:
                for k in range(i, i + L):
                    if not covered[k]:
                        ids[k] = IGNORE
                break
    return toks, ids


def match_tags(
    toks: list[str], slots: list[str], table: dict[str, dict[str, str]], tags: list[str]
) -> tuple[list[str], list[int]]:
    """BIO tags for a sentence without slot annotations (Home Assistant template expansions):
    the longest phrases of the intent's slots found in the tokens are tagged; a token span that
    two slots could claim, or a slot found twice, is left out of the loss (IGNORE)."""
    index = {t: i for i, t in enumerate(tags)}
    found: list[tuple[int, int, str]] = []
    for name in slots:
        phrases = {tuple(k.split()) for k in table.get(name, {})}
        i = 0
        while i < len(toks):
            for L in range(min(5, len(toks) - i), 0, -1):
                if tuple(toks[i : i + L]) in phrases:
                    found.append((i, i + L, name))
                    i += L
                    break
            else:
                i += 1
    ids = [0] * len(toks)
    clash = [any(x < b and a < y and n != name for x, y, n in found) for a, b, name in found]
    count = Counter(n for (_, _, n), c in zip(found, clash, strict=True) if not c)
    for (a, b, name), c in zip(found, clash, strict=True):
        for k in range(a, b):
            if c or count[name] > 1:
                ids[k] = IGNORE
            elif ids[k] != IGNORE:
                ids[k] = index[("B-" if k == a else "I-") + name]
    return toks, ids


def decode_slots(
    tokens: list[str],
    tag_ids: list[int],
    tags: list[str],
    table: dict[str, dict[str, str]],
    allowed: list[str] | None = None,
    probs: np.ndarray | None = None,
) -> dict[str, dict]:
    """The runtime's rule (docs/models.md): argmax tag per token; a span starts at ``B-x`` (or at
    an ``I-x`` that does not continue an ``x`` span) and continues over ``I-x``; its text is its
    tokens joined by one space, looked up in the slot's ``synonyms``; unmatched spans, and slots
    the intent does not use, are dropped; the first matched span of a slot wins."""
    spans: list[tuple[str, int, int]] = []
    cur = None
    for i, t in enumerate(tag_ids):
        tag = tags[t]
        if tag == "O":
            cur = None
            continue
        bio, name = tag.split("-", 1)
        if bio == "I" and cur is not None and cur[0] == name:
            cur[2] = i + 1
        else:
            cur = [name, i, i + 1]
            spans.append(cur)
    out: dict[str, dict] = {}
    for name, a, b in spans:
        if name in out or (allowed is not None and name not in allowed):
            continue
        raw = " ".join(tokens[a:b])
        value = table.get(name, {}).get(raw)
        if value is None:
            continue
        conf = float(probs[a:b].max(axis=-1).mean()) if probs is not None else 1.0
        out[name] = {"value": value, "raw": raw, "confidence": round(conf, 4)}
    return out


# Data ------------------------------------------------------------------------------------------


def build_sets(
    ctx: Context,
    data: Path,
    seed: int,
    per_intent: int,
    heldout_per_intent: int,
    ha_per_intent: int = 400,
):
    labels = ctx.intent_names + [OUT_OF_GRAMMAR]
    lab = {n: i for i, n in enumerate(labels)}
    tags = tag_names(ctx)
    table = synonyms_table(ctx)
    slot_names = set(ctx.slot_names())

    grammar_train: list[tuple[list[str], int, list[int], float, str]] = []
    heldout: list[Phrase] = []
    for intent in ctx.intent_names:
        got = ctx.sample(per_intent, seed=seed, intent=intent, power=0.5)
        seen = {p.text for p in got}
        # An intent with few phrasings gets them all, weighted up (at most 4x).
        w = min(4.0, (per_intent / max(len(got), 1)) ** 0.5)
        for p in got:
            toks, ids = phrase_tags(p, tags)
            grammar_train.append((toks, lab[intent], ids, w, "grammar"))
        extra = [
            p
            for p in ctx.sample(heldout_per_intent * 3, seed=seed + 1000, intent=intent, power=0.5)
            if p.text not in seen
        ]
        heldout += extra[:heldout_per_intent]

    hwu_train = td.read_hwu64(data, "train")
    hwu_test = td.read_hwu64(data, "test")
    test_keys = {" ".join(tokenize(u.text)) for u in hwu_test}
    slurp = [u for u in td.read_slurp(data) if " ".join(tokenize(u.text)) not in test_keys]
    real, oog = [], []
    seen_keys = set()
    for u in hwu_train + slurp:
        key = " ".join(tokenize(u.text))
        if not key or key in seen_keys or not _is_labelled(u.intent) or u.intent in IGNORED:
            continue
        seen_keys.add(key)
        target = REAL_INTENTS.get(u.intent)
        if target is not None and target not in lab:
            continue  # a command this context does not cover: neither in-grammar nor chatter
        if target is not None:
            toks, ids = real_tags(u, slot_names, table, tags)
            real.append((toks, lab[target], ids, 2.0, u.source))
        else:
            toks = tokenize(u.text)
            oog.append((toks, lab[OUT_OF_GRAMMAR], [0] * len(toks), 1.0, u.source))
    rng = np.random.default_rng(seed)
    sst = td.read_sst2(data, "train")
    pick = rng.choice(len(sst), size=min(4000, len(sst)), replace=False)
    for i in pick:
        toks = tokenize(td.detok_sst(sst[i][0]))
        if 0 < len(toks) <= 30:
            oog.append((toks, lab[OUT_OF_GRAMMAR], [0] * len(toks), 1.0, "sst2-train"))

    ha_train: list = []
    ha_eval: list[tuple[str, str]] = []
    try:
        from .hass import ha_phrasings

        for intent, text in ha_phrasings(
            ctx, ha_per_intent, seed, split="train", in_vocabulary=True
        ):
            toks, ids = match_tags(tokenize(text), list(ctx.slots_of(intent)), table, tags)
            ha_train.append((toks, lab[intent], ids, 1.0, "ha-templates"))
        ha_eval = ha_phrasings(ctx, 150, seed, split="eval")
    except ImportError as e:  # hassil / home-assistant-intents not installed
        log.warning("text-intent: Home Assistant templates skipped (%s)", e)

    evalset = []
    for u in hwu_test:
        if not _is_labelled(u.intent) or u.intent in IGNORED:
            continue
        target = REAL_INTENTS.get(u.intent)
        if target is not None and target not in lab:
            continue
        evalset.append((u, target or OUT_OF_GRAMMAR))
    return {
        "labels": labels,
        "tags": tags,
        "table": table,
        "train_rows": grammar_train + real + oog + ha_train,
        "heldout": heldout,
        "hwu64_test": evalset,
        "ha_eval": ha_eval,
        "counts": {
            "grammar": len(grammar_train),
            "real_in_grammar": len(real),
            "out_of_grammar": len(oog),
            "ha_templates": len(ha_train),
        },
    }


def _to_examples(tok: Tokenizer, rows) -> list[Example]:
    out = []
    for toks, y, tags, w, _ in rows:
        if not toks:
            continue
        out.append(Example(tok.ids(toks), y, list(tags[: tok.max_tokens]), w))
    return out


# Evaluation ------------------------------------------------------------------------------------


def _run(model, tok: Tokenizer, texts: list[str]):
    """Per text: (intent probabilities, tag probabilities [T, n_tags], tokens)."""
    out = []
    model.eval()
    with torch.no_grad():
        for t in texts:
            toks = tokenize(t)[: tok.max_tokens]
            if not toks:
                out.append((None, None, toks))
                continue
            ip, tp = model(torch.tensor([tok.ids(toks)], dtype=torch.int64))
            out.append((ip[0].numpy(), tp[0].numpy(), toks))
    return out


def evaluate(model, tok: Tokenizer, sets: dict, ctx: Context, threshold: float) -> dict:
    labels, tags, table = sets["labels"], sets["tags"], sets["table"]
    oog = labels.index(OUT_OF_GRAMMAR)
    allowed = {i: list(ctx.slots_of(i)) for i in ctx.intent_names}
    ev: dict = {"threshold": threshold}

    # HWU64 test.
    rows = sets["hwu64_test"]
    res = _run(model, tok, [u.text for u, _ in rows])
    y_true, y_pred, understood = [], [], []
    by_src: dict[str, list[bool]] = {}
    for (u, target), (ip, _, _) in zip(rows, res, strict=True):
        t = labels.index(target)
        p = oog if ip is None else int(ip.argmax())
        conf = 0.0 if ip is None else float(ip[p])
        y_true.append(t)
        y_pred.append(p)
        understood.append(p != oog and conf >= threshold)
        by_src.setdefault(u.intent, []).append(p == t if t != oog else not understood[-1])
    y_true_a, y_pred_a, und = np.array(y_true), np.array(y_pred), np.array(understood)
    cov = y_true_a != oog
    m = td.confusion(y_true, y_pred, len(labels))
    present = [i for i in range(len(labels)) if m[i].sum() or m[:, i].sum()]
    ev["hwu64_test"] = {
        "covered_n": int(cov.sum()),
        "intent_accuracy": round(float((y_pred_a[cov] == y_true_a[cov]).mean()), 4),
        "understood_and_correct": round(float(((y_pred_a == y_true_a) & und)[cov].mean()), 4),
        "other_n": int((~cov).sum()),
        "oog_rejection": round(float((~und[~cov]).mean()), 4),
        "oog_argmax_rejection": round(float((y_pred_a[~cov] == oog).mean()), 4),
        "per_source_intent": {
            k: {"n": len(v), "correct": round(float(np.mean(v)), 4)}
            for k, v in sorted(by_src.items())
            if k in REAL_INTENTS
        },
        "worst_other_intents": sorted(
            (
                {"intent": k, "n": len(v), "rejected": round(float(np.mean(v)), 4)}
                for k, v in by_src.items()
                if k not in REAL_INTENTS
            ),
            key=lambda d: d["rejected"],
        )[:6],
        "per_class": td.per_class(m, labels),
        "confusion": m.tolist(),
        "confusion_present": present,
        "rule": "covered: argmax == mapped intent; other: rejected iff argmax is "
        "_out_of_grammar_ or its confidence < threshold",
    }

    # Held-out grammar phrasings: intent, slots, command acceptance.
    held = sets["heldout"]
    res = _run(model, tok, [p.text for p in held])
    tp_ = fp_ = fn_ = 0
    ok_intent = ok_cmd = 0
    per_slot: dict[str, list[int]] = {}
    per_intent: dict[str, list[int]] = {}
    for p, (ip, tprob, toks) in zip(held, res, strict=True):
        pi = int(ip.argmax())
        conf = float(ip[pi])
        pred_intent = labels[pi]
        pred = decode_slots(
            toks, list(tprob.argmax(-1)), tags, table, allowed.get(pred_intent, []), tprob
        )
        got = {k: v["value"] for k, v in pred.items()}
        want = p.slot_values()
        for k in set(got) | set(want):
            c = per_slot.setdefault(k, [0, 0, 0])
            if k in got and k in want and got[k] == want[k]:
                tp_ += 1
                c[0] += 1
            else:
                if k in got:
                    fp_ += 1
                    c[1] += 1
                if k in want:
                    fn_ += 1
                    c[2] += 1
        oi = pred_intent == p.intent
        oc = oi and conf >= threshold and got == want
        ok_intent += oi
        ok_cmd += oc
        per_intent.setdefault(p.intent, [0, 0, 0])
        per_intent[p.intent][0] += 1
        per_intent[p.intent][1] += oi
        per_intent[p.intent][2] += oc

    def f1(t, f, n):
        prec = t / (t + f) if t + f else 0.0
        rec = t / (t + n) if t + n else 0.0
        return round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0

    ev["heldout_phrasings"] = {
        "n": len(held),
        "intent_accuracy": round(ok_intent / max(len(held), 1), 4),
        "command_acceptance": round(ok_cmd / max(len(held), 1), 4),
        "slot_f1": f1(tp_, fp_, fn_),
        "slot_precision": round(tp_ / max(tp_ + fp_, 1), 4),
        "slot_recall": round(tp_ / max(tp_ + fn_, 1), 4),
        "per_slot_f1": {k: f1(*v) for k, v in sorted(per_slot.items())},
        "per_intent": {
            k: {
                "n": v[0],
                "intent_accuracy": round(v[1] / v[0], 4),
                "command_acceptance": round(v[2] / v[0], 4),
            }
            for k, v in per_intent.items()
        },
        "rule": "slot right iff decoded canonical value equals the phrasing's; command accepted "
        "iff intent right, confidence >= threshold and every slot right (none extra)",
    }
    # Held-out Home Assistant templates (never trained on), all and in-vocabulary.
    if sets.get("ha_eval"):
        from .hass import context_words

        words = context_words(ctx)
        rows = sets["ha_eval"]
        res = _run(model, tok, [t for _, t in rows])
        out = {}
        for subset in ("all", "in_vocabulary"):
            per: dict[str, list[int]] = {}
            for (intent, _), (ip, _, toks) in zip(rows, res, strict=True):
                if subset == "in_vocabulary" and not set(toks) <= words:
                    continue
                k = labels[int(ip.argmax())] if ip is not None else OUT_OF_GRAMMAR
                c = per.setdefault(intent, [0, 0])
                c[0] += 1
                c[1] += k == intent
            n = sum(v[0] for v in per.values())
            out[subset] = {
                "n": n,
                "intent_accuracy": round(sum(v[1] for v in per.values()) / max(n, 1), 4),
                "per_intent": {
                    k: {"n": v[0], "intent_accuracy": round(v[1] / v[0], 4)} for k, v in per.items()
                },
            }
        out["rule"] = (
            "Home Assistant en.json templates held out of training (every third template per "
            "intent), expanded by hassil with the context's area/name values, 150 per intent; "
            "argmax == template intent; in_vocabulary: every token is a context word"
        )
        ev["ha_templates_heldout"] = out
    return ev


# Run -------------------------------------------------------------------------------------------


def run(
    context: Path,
    data: Path,
    out: Path,
    *,
    seed: int = 0,
    epochs: int = 12,
    per_intent: int = 1500,
    heldout_per_intent: int = 100,
    emb: int = 64,
    hidden: int = 64,
    max_seconds: float = 900,
    command: str = "",
    name: str = "text-intent",
    word_vectors: wvec.WordVectors | Path | None = None,
    extra_words: int = 20000,
) -> dict:
    """Trains, evaluates and exports the text model of ``context`` into ``out``. With
    ``word_vectors`` (``wordvectors.load``) the vocabulary gains the ``extra_words`` most frequent
    words of the vectors, read through their frozen vectors next to the learnt embedding."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    ctx = load_context(context)
    sets = build_sets(ctx, Path(data), seed, per_intent, heldout_per_intent)
    rows = sets["train_rows"]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    n_val = max(200, len(rows) // 10)
    val_rows = [rows[i] for i in order[:n_val]]
    train_rows = [rows[i] for i in order[n_val:]]
    grammar_words = [ph for t in ctx.slot_types.values() for ph, _ in t.phrases]
    grammar_words += [p for e in ctx.intents.values() for x in e for p in [x.source]]
    tok = Tokenizer.build(
        (" ".join(r[0]) for r in train_rows),
        min_count=2,
        always=[_words_of(w) for w in grammar_words],
    )
    tok.tags = sets["tags"]
    trained_vocab = len(tok.vocab)
    pretrained, vectors_note = None, None
    if word_vectors is not None:
        tok, pretrained, vectors_note = wvec.prepare(tok, word_vectors, extra_words)
    tr, va = _to_examples(tok, train_rows), _to_examples(tok, val_rows)
    log.warning(
        "text-intent: %d train, %d val, vocab %d, %d labels, %d tags; %s",
        len(tr),
        len(va),
        len(tok.vocab),
        len(sets["labels"]),
        len(sets["tags"]),
        sets["counts"],
    )
    model = TextClassifier(
        len(tok.vocab),
        len(sets["labels"]),
        len(sets["tags"]),
        emb=emb,
        hidden=hidden,
        dropout=0.3,
        pretrained=pretrained,
        learnt_vocab=trained_vocab,
    )
    hist = train(
        model,
        tr,
        va,
        epochs=epochs,
        batch_size=32,
        lr=3e-3,
        patience=3,
        word_dropout=0.1,
        seed=seed,
        max_seconds=max_seconds,
    )
    ev = evaluate(model, tok, sets, ctx, THRESHOLD)
    p, _ = predict(model, va)
    ev["validation_intent_accuracy"] = round(
        float((p.argmax(1) == np.array([e.label for e in va])).mean()), 4
    )
    train_s = round(time.perf_counter() - t0, 1)
    slots_meta = [
        {
            "name": n,
            "output": "slot_tags",
            "values": ctx.slot_values(n),
            "synonyms": dict(sorted(sets["table"][n].items())),
        }
        for n in ctx.slot_names()
    ]
    intent_meta = {
        "out_of_grammar": OUT_OF_GRAMMAR,
        "threshold": THRESHOLD,
        "slots": slots_meta,
        "intent_slots": {i: list(ctx.slots_of(i)) for i in ctx.intent_names},
    }
    training = {
        "data": [
            {
                "name": f"context {context} (phrasings sampled, {per_intent} per intent)",
                "licence": "project; phrasings follow HA intents templates (Apache-2.0)",
            },
            {"name": "HWU64 fold-1 train", "licence": "CC BY 4.0"},
            {"name": "SLURP devel+test text (minus HWU64 test sentences)", "licence": "CC BY 4.0"},
            {
                "name": "SST-2 train (4,000 sentences, as out-of-grammar)",
                "licence": "GLUE / Stanford Sentiment Treebank terms",
            },
            {
                "name": "Home Assistant en.json templates (two thirds of them) expanded by "
                "hassil, in-vocabulary sentences only",
                "licence": "Apache-2.0 (PyPI home-assistant-intents 2026.11.25)",
            },
        ],
        "real_intent_map": REAL_INTENTS,
        "ignored_intents": sorted(IGNORED),
        "counts": sets["counts"],
        "command": command,
        "commit": git_commit(),
        "seed": seed,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
        "train_seconds": train_s,
        "history": hist["history"],
        "architecture": f"{embedding_description(len(tok.vocab), emb, vectors_note)} → "
        f"biLSTM({hidden}) → "
        f"[mean+max pool → Linear({len(sets['labels'])}) → softmax `intent`; per token "
        f"Linear({len(sets['tags'])}) → softmax `slot_tags`]",
        "parameters": int(sum(q.numel() for q in model.parameters())),
        "word_vectors": vectors_note,
    }
    golden_texts = [
        "turn on the kitchen light",
        "set the living room lights to 50 percent",
        "what's the weather like tomorrow",
        "set a timer for five minutes",
        "please switch off the fan in the bedroom",
    ]
    paths = export_text(
        model,
        out,
        name,
        kind="text-intent",
        labels=sets["labels"],
        tokenizer=tok.to_meta(),
        output_names=["intent", "slot_tags"],
        output_shapes=[[1, len(sets["labels"])], [1, "T", len(sets["tags"])]],
        extra={"intent": intent_meta},
        training=training,
        evaluation=ev,
        golden_ids=[tok.encode(t) for t in golden_texts],
        golden_texts=golden_texts,
    )
    examples = []
    for t, (ip, tp, toks) in zip(golden_texts, _run(model, tok, golden_texts), strict=True):
        pi = int(ip.argmax())
        examples.append(
            {
                "text": t,
                "intent": sets["labels"][pi],
                "confidence": round(float(ip[pi]), 3),
                "slots": {
                    k: v["value"]
                    for k, v in decode_slots(
                        toks,
                        list(tp.argmax(-1)),
                        sets["tags"],
                        sets["table"],
                        intent_meta["intent_slots"].get(sets["labels"][pi], []),
                        tp,
                    ).items()
                },
            }
        )
    write_card(out, name, ctx, sets, tok, training, ev, examples)
    log.warning(
        "text-intent: %s",
        json.dumps(
            {k: ev["hwu64_test"][k] for k in ("intent_accuracy", "oog_rejection")}
            | {"slot_f1": ev["heldout_phrasings"]["slot_f1"]}
        ),
    )
    return {
        "paths": {k: str(v) for k, v in paths.items()},
        "train_seconds": train_s,
        "hwu64_test": {
            k: ev["hwu64_test"][k]
            for k in (
                "covered_n",
                "intent_accuracy",
                "understood_and_correct",
                "other_n",
                "oog_rejection",
            )
        },
        "heldout_phrasings": {
            k: ev["heldout_phrasings"][k]
            for k in ("n", "intent_accuracy", "command_acceptance", "slot_f1")
        },
        "ha_templates_heldout": {
            k: {"n": v["n"], "intent_accuracy": v["intent_accuracy"]}
            for k, v in ev.get("ha_templates_heldout", {}).items()
            if k != "rule"
        },
        "examples": examples,
    }


def _words_of(expr: str) -> str:
    """An expression's literal words (brackets, commas, slots and macros dropped)."""
    return " ".join(
        w
        for w in expr.replace(",", " ")
        .replace("[", " ")
        .replace("]", " ")
        .replace("(", " ")
        .replace(")", " ")
        .replace("|", " ")
        .split()
        if not w.startswith(("$", "@"))
    )


def write_card(
    out: Path,
    name: str,
    ctx: Context,
    sets: dict,
    tok: Tokenizer,
    training: dict,
    ev: dict,
    examples: list[dict],
) -> None:
    labels = sets["labels"]
    h = ev["hwu64_test"]
    m = np.array(h["confusion"])
    present = h["confusion_present"]
    td.plot_confusion(
        m[np.ix_(present, present)],
        [labels[i] for i in present],
        [labels[i] for i in present],
        f"{name}: HWU64 test (argmax)",
        out / f"{name}.confusion.png",
    )
    hp = ev["heldout_phrasings"]
    ha = ev.get("ha_templates_heldout")
    ha_rows = ""
    if ha:
        ha_rows = (
            "| intent accuracy, held-out Home Assistant templates | "
            f"**{ha['all']['intent_accuracy']:.4f}** (n={ha['all']['n']}); in-vocabulary subset "
            f"{ha['in_vocabulary']['intent_accuracy']:.4f} "
            f"(n={ha['in_vocabulary']['n']}) | every third HA en.json template per intent, never "
            "trained on, expanded by hassil with the context's areas and devices; argmax |\n"
        )
        ha_per = ", ".join(
            f"{k} {v['intent_accuracy']:.2f}" for k, v in ha["all"]["per_intent"].items()
        )
        ha_rows += f"| … per intent (held-out HA templates) | {ha_per} | |\n"
    per_intent_rows = [
        [k, v["n"], v["intent_accuracy"], v["command_acceptance"]]
        for k, v in hp["per_intent"].items()
    ]
    src_rows = [
        [k, REAL_INTENTS[k], v["n"], v["correct"]] for k, v in h["per_source_intent"].items()
    ]
    worst = ", ".join(
        f"{d['intent']} {d['rejected']:.2f} (n={d['n']})" for d in h["worst_other_intents"]
    )
    hist = "\n".join(
        f"| {x['epoch']} | {x['train_loss']} | {x['val_loss']} | {x['elapsed_s']} |"
        for x in training["history"]
    )
    ex = "\n".join(
        f"- `{e['text']}` → {e['intent']} ({e['confidence']}) {e['slots']}" for e in examples
    )
    trained = "every context word plus corpus words seen twice"
    wv = training.get("word_vectors")
    vocab_note = trained if wv is None else wvec.card_vocabulary_note(wv, trained)
    card = f"""# {name}

Intent and slots of a typed or transcribed command, for the context `{ctx.source}`.
Input `tokens` int64 `[1, T]` (tokenizer in `{name}.json`); outputs `intent` `[1, {len(labels)}]`
(softmax over {", ".join(labels)}) and `slot_tags` `[1, T, {len(sets["tags"])}]` (per-token softmax
over the BIO tags `tokenizer.tags`). Decoding tags into slot values: docs/models.md.
`understood` is false for `{OUT_OF_GRAMMAR}` or a confidence below {ev["threshold"]}.

## Figures

| figure | value | how |
|---|---|---|
| intent accuracy, HWU64 test, covered intents | **{h["intent_accuracy"]:.4f}** (n={h["covered_n"]}) | argmax == mapped intent; HWU64 test never trained on (SLURP copies removed) |
| understood and correct, same set | {h["understood_and_correct"]:.4f} | also confidence ≥ {ev["threshold"]} |
| out-of-grammar rejection, HWU64 test, other intents | **{h["oog_rejection"]:.4f}** (n={h["other_n"]}) | argmax `{OUT_OF_GRAMMAR}` or confidence < {ev["threshold"]} (argmax alone: {h["oog_argmax_rejection"]:.4f}) |
| slot F1, held-out context phrasings | **{hp["slot_f1"]:.4f}** (P {hp["slot_precision"]}, R {hp["slot_recall"]}; n={hp["n"]}) | decoded canonical value per slot vs the phrasing's |
| command acceptance, held-out context phrasings | {hp["command_acceptance"]:.4f} | intent right, confidence ≥ threshold, every slot right |
| intent accuracy, held-out context phrasings | {hp["intent_accuracy"]:.4f} | phrasings never drawn for training |
{ha_rows}
Covered HWU64 test intents (mapping `real_intent_map` in the metadata):

{td.markdown_table(["HWU64 intent", "hark intent", "n", "correct"], src_rows)}

Least rejected other intents: {worst}. Per-slot F1 (held-out phrasings): {hp["per_slot_f1"]}.

Held-out phrasings per intent:

{td.markdown_table(["intent", "n", "intent accuracy", "command acceptance"], per_intent_rows)}

![confusion](./{name}.confusion.png)

Examples (this model):

{ex}

## Data

| source | use | licence |
|---|---|---|
| context `{ctx.source}` | {training["counts"]["grammar"]} sampled phrasings with intent and BIO tags | project; phrasings follow Home Assistant's English sentence templates (PyPI home-assistant-intents, Apache-2.0) |
| HWU64 fold-1 train + SLURP devel/test text | {training["counts"]["real_in_grammar"]} real phrasings of covered intents (weight 2), and out-of-grammar utterances | CC BY 4.0 (Liu et al. 2019; Bastianelli et al. 2020) |
| SST-2 train (4,000 sentences) | out-of-grammar | GLUE / Stanford Sentiment Treebank terms |
| Home Assistant English templates (PyPI home-assistant-intents 2026.11.25, expanded by hassil 3.13.0) | {training["counts"].get("ha_templates", 0)} in-vocabulary expansions of two thirds of the templates; the other third is held out for evaluation | Apache-2.0 |
{wvec.card_data_row(training.get("word_vectors"))}
Out-of-grammar examples in all: {training["counts"]["out_of_grammar"]}. Ignored HWU64/SLURP intents
(neither command nor chatter): {", ".join(training["ignored_intents"])}. Real phrasings have no
timer, climate, volume or media examples: those intents are learnt from the context and HA
templates.

## Architecture and training

{training["architecture"]}; {training["parameters"]:,} trained parameters; vocabulary
{len(tok.vocab)}: {vocab_note}. Adam (lr 3e-3), batches of 32 equal-length sentences,
word dropout 0.1, dropout 0.3, 10 % validation split, early stopping (patience 3) on validation
loss; loss = intent cross-entropy + tag cross-entropy (unknown tags masked). One CPU thread;
{training["train_seconds"]} s in all (sampling, training, evaluation, export).

| epoch | train loss | val loss | elapsed s |
|---|---|---|---|
{hist}

Exported with PyTorch's legacy ONNX exporter (opset 17); onnxruntime checked against PyTorch on
`{name}.golden.json`. Command: `{training["command"]}`; commit `{training["commit"]}`.

## Limits

Real (HWU64/SLURP) phrasings cover only lights and plugs on/off and light colours; the other
intents are known from the context's phrasings and Home Assistant's templates, so unusual wordings
of them are less robust. HassNevermind has 33 phrasings and HA only 2 templates for it. Slot values outside the
context (a room it does not list) are not reported. Typed text only: no ASR errors in training.
"""  # noqa: E501
    (out / f"{name}.md").write_text(card, encoding="utf-8")
