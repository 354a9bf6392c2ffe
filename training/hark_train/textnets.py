"""Text networks and their training loop (tokens → Embedding → biLSTM → softmax).

``TextClassifier`` reads token ids ``[B, T]`` (int64) and returns the softmax over labels
``[B, n_labels]`` of a mean+max pooled biLSTM and, when ``n_tags`` is given, the per-token softmax
over BIO slot tags ``[B, T, n_tags]``. With a ``pretrained`` table (word vectors,
hark_train.wordvectors) each token is read as its frozen pretrained vector next to an
``emb``-dimensional embedding that is learnt. Batches are made of sentences of one length, so no
padding or masking is needed and the exported graph (batch 1, any T) computes exactly what was
trained.
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)
IGNORE = -100


class TextClassifier(nn.Module):
    """Without ``pretrained``: ``Embedding(vocab_size, emb)`` → biLSTM. With ``pretrained``
    (``[vocab_size, D]`` word vectors, stored as float16 and never trained), each token reads its
    vector next to a learnt ``emb``-wide embedding that only the first ``learnt_vocab`` ids have
    (the words seen in training); ids from ``learnt_vocab`` on, words known only from the
    vectors, read the padding row (zeros, never trained) as their learnt part. Without
    ``pretrained``, ``learnt_vocab`` has no use and is ignored."""

    def __init__(
        self,
        vocab_size: int,
        n_labels: int,
        n_tags: int | None = None,
        emb: int = 64,
        hidden: int = 64,
        dropout: float = 0.3,
        pretrained: np.ndarray | None = None,
        learnt_vocab: int | None = None,
    ) -> None:
        super().__init__()
        width = emb
        self.learnt_vocab: int | None = None
        if pretrained is not None:
            if pretrained.shape[0] != vocab_size:
                raise ValueError(
                    f"pretrained table has {pretrained.shape[0]} rows for {vocab_size} tokens"
                )
            self.learnt_vocab = vocab_size if learnt_vocab is None else learnt_vocab
            if not 2 <= self.learnt_vocab <= vocab_size:
                raise ValueError(f"learnt_vocab {self.learnt_vocab} outside 2..{vocab_size}")
            table = torch.from_numpy(np.asarray(pretrained, dtype=np.float16))
            self.register_buffer("pretrained", table)
            width += pretrained.shape[1]
        self.embedding = nn.Embedding(self.learnt_vocab or vocab_size, emb, padding_idx=0)
        self.lstm = nn.LSTM(width, hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(4 * hidden, n_labels)
        self.tagger = nn.Linear(2 * hidden, n_tags) if n_tags else None

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.learnt_vocab is None:
            return self.embedding(tokens)
        learnt_ids = torch.where(tokens < self.learnt_vocab, tokens, torch.zeros_like(tokens))
        frozen = nn.functional.embedding(tokens, self.pretrained).float()
        return torch.cat([frozen, self.embedding(learnt_ids)], dim=-1)

    def logits(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        y, _ = self.lstm(self.drop(self.embed(tokens)))
        y = self.drop(y)
        pooled = torch.cat([y.mean(dim=1), y.amax(dim=1)], dim=-1)
        tags = self.tagger(y) if self.tagger is not None else None
        return self.head(pooled), tags

    def forward(self, tokens: torch.Tensor):
        z, t = self.logits(tokens)
        if t is None:
            return (torch.softmax(z, dim=-1),)
        return torch.softmax(z, dim=-1), torch.softmax(t, dim=-1)


def embedding_description(vocab_size: int, emb: int, vectors: dict | None) -> str:
    """The input layer in words, for cards: ``vectors`` is ``wordvectors.prepare``'s note."""
    if vectors is None:
        return f"Embedding({vocab_size}, {emb})"
    return (
        f"[GloVe {vectors['dimensions']}d word vectors ({vocab_size} × {vectors['dimensions']}, "
        f"float16, frozen) ‖ learnt Embedding({vectors['trained_vocab']}, {emb})]"
    )


class TextEnsemble(nn.Module):
    """Several ``TextClassifier``s (labels only, no tagger) trained alike from different seeds, as
    one model whose output is the mean of the members' softmax outputs. Members reading word
    vectors share one copy of the frozen table, so each extra member costs only its learnt
    part. ``logits`` returns the log of the mean, so ``softmax(logits)`` is the exported output
    and ``predict`` works unchanged."""

    def __init__(self, members: list[TextClassifier]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        if any(m.tagger is not None for m in members):
            raise ValueError("ensemble members must not have a slot tagger")
        first = members[0]
        if first.learnt_vocab is not None:
            for m in members[1:]:
                if m.learnt_vocab != first.learnt_vocab or not torch.equal(
                    m.pretrained, first.pretrained
                ):
                    raise ValueError("ensemble members must read the same word vectors")
                m.pretrained = first.pretrained
        self.members = nn.ModuleList(members)

    def logits(self, tokens: torch.Tensor) -> tuple[torch.Tensor, None]:
        return torch.log(self._mean(tokens).clamp_min(1e-12)), None

    def _mean(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.stack([torch.softmax(m.logits(tokens)[0], dim=-1) for m in self.members]).mean(
            dim=0
        )

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor]:
        return (self._mean(tokens),)


@dataclass
class Example:
    ids: list[int]
    label: int
    tags: list[int] | None = None
    weight: float = 1.0
    # A teacher's label distribution to learn instead of the one-hot ``label`` (distillation).
    soft: list[float] | None = None


def batches(examples: list[Example], size: int, rng: np.random.Generator, shuffle: bool = True):
    """Batches of equal-length examples (no padding), in random order."""
    by_len: dict[int, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        by_len[len(ex.ids)].append(i)
    out = []
    for idx in by_len.values():
        idx = list(idx)
        if shuffle:
            rng.shuffle(idx)
        out += [idx[i : i + size] for i in range(0, len(idx), size)]
    if shuffle:
        rng.shuffle(out)
    for b in out:
        yield [examples[i] for i in b]


def _tensors(batch: list[Example], word_dropout: float, rng: np.random.Generator | None):
    x = np.array([ex.ids for ex in batch], dtype=np.int64)
    if word_dropout > 0 and rng is not None:
        drop = rng.random(x.shape) < word_dropout
        x = np.where(drop, 1, x)  # <unk>
    y = torch.tensor([ex.label for ex in batch])
    w = torch.tensor([ex.weight for ex in batch], dtype=torch.float32)
    tags = None
    if batch[0].tags is not None:
        tags = torch.tensor([ex.tags for ex in batch])
    return torch.from_numpy(x), y, w, tags


def _soft_targets(batch: list[Example], classes: int) -> torch.Tensor | None:
    """The batch's target distributions when any example has a teacher's, else None: one-hot
    rows for the examples that have none."""
    if all(ex.soft is None for ex in batch):
        return None
    rows = []
    for ex in batch:
        if ex.soft is not None:
            rows.append(ex.soft)
        else:
            one_hot = [0.0] * classes
            one_hot[ex.label] = 1.0
            rows.append(one_hot)
    return torch.tensor(rows, dtype=torch.float32)


def loss_of(model: TextClassifier, batch, word_dropout=0.0, rng=None, tag_weight: float = 1.0):
    x, y, w, tags = _tensors(batch, word_dropout, rng)
    z, t = model.logits(x)
    soft = _soft_targets(batch, z.shape[-1])
    if soft is None:
        per_example = nn.functional.cross_entropy(z, y, reduction="none")
    else:
        per_example = -(soft * nn.functional.log_softmax(z, dim=-1)).sum(-1)
    loss = (per_example * w).sum() / w.sum()
    if t is not None and tags is not None and (tags != IGNORE).any():
        loss = loss + tag_weight * nn.functional.cross_entropy(
            t.reshape(-1, t.shape[-1]), tags.reshape(-1), ignore_index=IGNORE
        )
    return loss


@torch.no_grad()
def predict(model: TextClassifier, examples: list[Example], size: int = 256):
    """(label probabilities [N, L], per-example tag argmax lists or None), in input order."""
    model.eval()
    probs: list[np.ndarray | None] = [None] * len(examples)
    tags: list[list[int] | None] = [None] * len(examples)
    index = {id(ex): i for i, ex in enumerate(examples)}
    for batch in batches(examples, size, np.random.default_rng(0), shuffle=False):
        x = torch.tensor([ex.ids for ex in batch], dtype=torch.int64)
        z, t = model.logits(x)
        p = torch.softmax(z, dim=-1).numpy()
        tt = t.argmax(dim=-1).numpy() if t is not None else None
        for j, ex in enumerate(batch):
            i = index[id(ex)]
            probs[i] = p[j]
            if tt is not None:
                tags[i] = tt[j].tolist()
    return np.stack(probs), tags


def train(
    model: TextClassifier,
    train_set: list[Example],
    val_set: list[Example],
    *,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 2e-3,
    patience: int = 2,
    word_dropout: float = 0.1,
    seed: int = 0,
    max_seconds: float | None = None,
    val_metric=None,
    lr_decay: float = 1.0,
) -> dict:
    """Adam with early stopping on the validation metric (default: minus the validation loss);
    the learning rate is multiplied by ``lr_decay`` after each epoch; the best epoch's weights are
    restored. Returns the history."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    best, best_state, bad = -math.inf, None, 0
    history = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        total, n = 0.0, 0
        for batch in batches(train_set, batch_size, rng):
            loss = loss_of(model, batch, word_dropout, rng)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            total += loss.item() * len(batch)
            n += len(batch)
        model.eval()
        with torch.no_grad():
            vl, vn = 0.0, 0
            for batch in batches(val_set, 256, rng, shuffle=False):
                vl += float(loss_of(model, batch)) * len(batch)
                vn += len(batch)
        score = val_metric(model) if val_metric else -vl / max(vn, 1)
        elapsed = time.perf_counter() - t0
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": round(total / max(n, 1), 4),
                "val_loss": round(vl / max(vn, 1), 4),
                "val_score": round(float(score), 4),
                "elapsed_s": round(elapsed, 1),
            }
        )
        log.warning("epoch %d: %s", epoch + 1, history[-1])
        if score > best:
            best, bad = score, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
        for g in opt.param_groups:
            g["lr"] *= lr_decay
        if max_seconds is not None and elapsed > max_seconds:
            log.warning("time budget of %.0f s reached; stopping", max_seconds)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return {
        "history": history,
        "best_val_score": round(float(best), 4),
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
