"""Labelled text corpora for the text models, plus the figures and card helpers they share.

- HWU64 fold 1 (``DATA/text/hwu64``): ``trainset/*.csv`` and ``testset/csv/*.csv`` (;-separated,
  ``scenario``, ``intent``, ``answer_annotation`` with ``[type : words]`` slots).
- SLURP devel+test (``DATA/text/slurp``): jsonl with ``sentence``, ``intent`` and
  ``sentence_annotation`` (same bracket syntax).
- SST-2 (``DATA/text/sst2``): ``train.tsv`` (``label``, ``sentence``) and ``dev.tsv`` (``label``,
  ``content`` or ``sentence``).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HWU_SUB = "hwu64/CrossValidation/autoGeneFromRealAnno/autoGene_2018_03_22-13_01_25_169/CrossValidation/KFold_1"  # noqa: E501
_ANNO = re.compile(r"\[\s*([a-z_]+)\s*:\s*([^\]]*?)\s*\]")


@dataclass
class Utterance:
    text: str
    intent: str  # "<scenario>_<intent>" as in SLURP, e.g. iot_hue_lighton
    entities: list[tuple[str, str, int, int]] = field(default_factory=list)  # type, words, span
    source: str = ""


def parse_annotation(anno: str) -> tuple[str, list[tuple[str, str, int, int]]]:
    """``"turn on [device_type : the lights]"`` → (``"turn on the lights"``, entity spans)."""
    out, ents, pos = [], [], 0
    last = 0
    for m in _ANNO.finditer(anno):
        before = anno[last : m.start()]
        out.append(before)
        pos += len(before)
        words = m.group(2)
        ents.append((m.group(1), words, pos, pos + len(words)))
        out.append(words)
        pos += len(words)
        last = m.end()
    out.append(anno[last:])
    return "".join(out), ents


def read_hwu64(data: Path, split: str) -> list[Utterance]:
    """HWU64 fold-1 ``train`` or ``test`` utterances with their slots."""
    root = Path(data) / "text" / HWU_SUB / ("trainset" if split == "train" else "testset/csv")
    out = []
    for f in sorted(root.glob("*.csv")):
        with open(f, encoding="utf-8", errors="replace", newline="") as fh:
            for row in csv.DictReader(fh, delimiter=";"):
                anno = row.get("answer_annotation") or row.get("answer_from_anno") or ""
                text, ents = parse_annotation(anno)
                if text.strip():
                    out.append(
                        Utterance(
                            text, f"{row['scenario']}_{row['intent']}", ents, f"hwu64-{split}"
                        )
                    )
    return out


def read_slurp(data: Path) -> list[Utterance]:
    out = []
    for f in sorted((Path(data) / "text" / "slurp").rglob("*.jsonl")):
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                r = json.loads(line)
                text, ents = parse_annotation(r.get("sentence_annotation") or r["sentence"])
                out.append(Utterance(text, r["intent"], ents, f"slurp-{f.stem}"))
    return out


def read_sst2(data: Path, split: str) -> list[tuple[str, int]]:
    """(sentence, label 0 negative / 1 positive); SST-2 is tokenised ("is n't"), kept as is."""
    path = Path(data) / "text" / "sst2" / f"{split}.tsv"
    out = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            s = row.get("sentence") or row.get("content") or ""
            if s.strip():
                out.append((s, int(row["label"])))
    return out


def detok_sst(s: str) -> str:
    """SST-2 tokenisation → plain text: "is n't" → "isn't", "it 's" → "it's"."""
    s = s.replace(" n't", "n't").replace(" 's", "'s").replace(" 're", "'re").replace(" 've", "'ve")
    return s.replace(" 'll", "'ll").replace(" 'd", "'d").replace(" 'm", "'m")


# Figures -------------------------------------------------------------------------------------


def confusion(y_true: list[int], y_pred: list[int], n: int) -> np.ndarray:
    m = np.zeros((n, n), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        m[t, p] += 1
    return m


def per_class(m: np.ndarray, labels: list[str]) -> dict[str, dict[str, float]]:
    out = {}
    for i, lab in enumerate(labels):
        tp = m[i, i]
        sup = m[i].sum()
        pred = m[:, i].sum()
        rec = tp / sup if sup else float("nan")
        prec = tp / pred if pred else float("nan")
        out[lab] = {
            "support": int(sup),
            "recall": round(float(rec), 4) if sup else None,
            "precision": round(float(prec), 4) if pred else None,
        }
    return out


def plot_confusion(m: np.ndarray, rows: list[str], cols: list[str], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * len(cols), 1.0 + 0.45 * len(rows)), dpi=100)
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(
                    j,
                    i,
                    str(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
