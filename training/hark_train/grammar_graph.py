"""A context compiled into a phoneme graph, and the decoder that finds a command's best path in it.

Speech-to-intent without a classifier per context: a phoneme recogniser (``phonemes.py``'s
espeak-ng inventory, CTC) turns a command into per-frame phoneme log-probabilities, and the
context's grammar says which phoneme sequences are commands. The best path through the grammar
names the intent (the expression it went through) and every slot value (the slot phrase it went
through); its score against the best unconstrained path says whether the command was in the grammar
at all. This is how Picovoice Rhino works, and it makes a new context a matter of compiling it.

The graph (``PhonemeGraph``, stored in the model metadata for the runtime):

- *junctions* are points between words; 0 is the start (before any frame), 1 the end;
- a *chain* goes from one junction to another through the phonemes of one word or slot phrase
  (ids ``1..P`` of the inventory, 0 is the CTC blank); a chain without phonemes is a run of
  blanks (the silence before the command); a slot phrase's chain carries its slot name, value and
  the words said;
- an *epsilon* joins two junctions without a sound (optional words, the ends of alternatives);
  the epsilon into each expression's first junction carries the intent.

The decoder is a Viterbi search with the CTC topology: each phoneme of a chain is a state with a
self-loop, followed by an optional blank state; two equal phonemes in a row need the blank between
them. Junctions are entered and left within a frame, in topological order.

Where it is used: ``grammar_intent`` compiles a context with it and stores the graph in the intent
model's metadata; the runtime's decoder (``src/models/grammar.rs``) is this one line for line and
replays its golden decodes; ``phoneme_model`` trains the recogniser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .grammar import Context, Group, Seq, Slot, Word
from .phonemes import encode, phonemize_all

START, END = 0, 1
_NEG = -1e30


@dataclass
class Chain:
    start: int
    end: int
    phones: list[int]
    #: (slot name, value, words said) for a slot phrase.
    slot: tuple[str, str, str] | None = None


@dataclass
class PhonemeGraph:
    junctions: int = 2
    chains: list[Chain] = field(default_factory=list)
    #: (from, to, intent or None)
    epsilons: list[tuple[int, int, str | None]] = field(default_factory=list)

    def junction(self) -> int:
        self.junctions += 1
        return self.junctions - 1

    def to_meta(self) -> dict[str, Any]:
        return {
            "junctions": self.junctions,
            "chains": [
                {"from": c.start, "to": c.end, "phones": c.phones}
                | ({"slot": list(c.slot)} if c.slot else {})
                for c in self.chains
            ],
            "epsilons": [
                {"from": a, "to": b} | ({"intent": i} if i is not None else {})
                for a, b, i in self.epsilons
            ],
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> PhonemeGraph:
        g = cls(junctions=int(meta["junctions"]))
        for c in meta["chains"]:
            slot = tuple(c["slot"]) if c.get("slot") else None
            g.chains.append(Chain(int(c["from"]), int(c["to"]), list(c["phones"]), slot))
        g.epsilons = [(int(e["from"]), int(e["to"]), e.get("intent")) for e in meta["epsilons"]]
        return g


def spoken_units(ctx: Context) -> set[str]:
    """Every word and slot phrase the context can say (what needs a pronunciation)."""
    out: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, Word):
            out.add(node.text)
        elif isinstance(node, Slot):
            out.update(p for p, _ in ctx.slot_types[node.type].phrases)
        elif isinstance(node, Seq):
            for it in node.items:
                walk(it)
        elif isinstance(node, Group):
            for a in node.alts:
                walk(a)

    for exprs in ctx.intents.values():
        for ex in exprs:
            walk(ex.tree)
    return out


def lexicon(ctx: Context, inventory: list[str], cache: Path | None = None) -> dict[str, list[int]]:
    """Phoneme ids of every word and slot phrase, as espeak-ng reads them."""
    units = sorted(spoken_units(ctx))
    known = phonemize_all(units, cache)
    return {u: encode(known[u], inventory) for u in units}


def compile_context(ctx: Context, lex: dict[str, list[int]]) -> PhonemeGraph:
    """The context's phoneme graph. ``lex`` gives the phoneme ids of every word and slot phrase
    (``lexicon``); one with none (no sound the recogniser knows) is an error, since it would
    match any silence."""
    mute = sorted(u for u in spoken_units(ctx) if not lex.get(u))
    if mute:
        raise ValueError(f"no phonemes the recogniser knows for {', '.join(map(repr, mute))}")
    g = PhonemeGraph()
    after_silence = g.junction()
    g.chains.append(Chain(START, after_silence, []))
    g.epsilons.append((START, after_silence, None))

    def comp(node, a: int) -> int:
        if isinstance(node, Word):
            b = g.junction()
            g.chains.append(Chain(a, b, lex[node.text]))
            return b
        if isinstance(node, Slot):
            b = g.junction()
            for phrase, value in ctx.slot_types[node.type].phrases:
                g.chains.append(Chain(a, b, lex[phrase], (node.name, value, phrase)))
            return b
        if isinstance(node, Seq):
            for it in node.items:
                a = comp(it, a)
            return a
        b = g.junction()
        for alt in node.alts:
            g.epsilons.append((comp(alt, a), b, None))
        if node.optional:
            g.epsilons.append((a, b, None))
        return b

    for intent, exprs in ctx.intents.items():
        for ex in exprs:
            first = g.junction()
            g.epsilons.append((after_silence, first, intent))
            g.epsilons.append((comp(ex.tree, first), END, None))
    return g


@dataclass
class PhonemePrior:
    """Scaled division of the recogniser's posteriors by their prior before the search:
    ``log p(k | frame) - scale * log_prior[k]``, the hybrid-recogniser rule. CTC training makes
    the blank win most frames (about 70% of the posterior mass), so a path through a grammar
    prefers skipping a phoneme to reading a weak one; dividing by the prior scores each phoneme by
    how much more likely the frame makes it than usual."""

    scale: float
    log_prior: np.ndarray

    def apply(self, logp: np.ndarray) -> np.ndarray:
        return logp - self.scale * self.log_prior

    @classmethod
    def estimate(cls, logps, scale: float) -> PhonemePrior:
        """The mean posterior of every label over all frames of ``logps`` (``[T, P + 1]`` each)."""
        frames = np.concatenate([np.asarray(lp, np.float64) for lp in logps])
        mean = np.exp(frames).mean(0)
        return cls(float(scale), np.log(np.maximum(mean, 1e-12)))

    def to_meta(self) -> dict[str, Any]:
        return {"scale": self.scale, "log_prior": [round(float(v), 6) for v in self.log_prior]}

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> PhonemePrior:
        return cls(float(meta["scale"]), np.asarray(meta["log_prior"], np.float64))


#: The margin of a decode no path of other meaning can follow (per frame).
MARGIN_CAP = 1.0


@dataclass
class Decoded:
    intent: str | None
    #: slot name → (value, words said)
    slots: dict[str, tuple[str, str]]
    #: log-probability of the best grammar path and of the best unconstrained path
    score: float
    free: float
    frames: int

    @property
    def gap(self) -> float:
        """Per-frame log-probability the grammar costs (≤ 0; near 0: the command fits)."""
        return (self.score - self.free) / max(self.frames, 1)


class Decoder:
    """Viterbi search of a ``PhonemeGraph`` over CTC log-probabilities ``[T, P + 1]``."""

    def __init__(self, g: PhonemeGraph, prior: PhonemePrior | None = None) -> None:
        self.g = g
        self.prior = prior
        sym: list[int] = []
        chain_of: list[int] = []
        preds: list[list[int]] = []  # per state: state ids, or ~junction for a junction
        j_preds: list[list[int]] = [[] for _ in range(g.junctions)]
        for ci, c in enumerate(g.chains):
            if not c.phones:
                s = len(sym)
                sym.append(0)
                chain_of.append(ci)
                preds.append([s, ~c.start])
                j_preds[c.end].append(s)
                continue
            prev_p = prev_b = -1
            for i, p in enumerate(c.phones):
                sp = len(sym)
                sym.append(p)
                chain_of.append(ci)
                pr = [sp]
                if i == 0:
                    pr.append(~c.start)
                else:
                    pr.append(prev_b)
                    if c.phones[i - 1] != p:
                        pr.append(prev_p)
                preds.append(pr)
                sb = len(sym)
                sym.append(0)
                chain_of.append(ci)
                preds.append([sb, sp])
                prev_p, prev_b = sp, sb
            j_preds[c.end] += [prev_p, prev_b]
        self.eps_intent: dict[tuple[int, int], str] = {}
        for a, b, intent in g.epsilons:
            j_preds[b].append(~a)
            if intent is not None:
                self.eps_intent[(a, b)] = intent
        self.intent_chains = _intent_chains(g)
        self.slot_chains: dict[tuple[str, str], list[int]] = {}
        for ci, c in enumerate(g.chains):
            if c.slot is not None:
                self.slot_chains.setdefault((c.slot[0], c.slot[1]), []).append(ci)
        n_s, n_j = len(sym), g.junctions
        self.n_s, self.n_j = n_s, n_j
        self.sym = np.array(sym, np.int64)
        self.chain_of = np.array(chain_of, np.int64)
        sentinel = n_s + n_j

        def enc(i: int) -> int:
            return i if i >= 0 else n_s + ~i

        width = max(len(p) for p in preds)
        self.s_pred = np.full((n_s, width), sentinel, np.int64)
        for s, pr in enumerate(preds):
            self.s_pred[s, : len(pr)] = [enc(i) for i in pr]
        level = self._levels(j_preds)
        self.levels = []
        for lv in range(int(level.max()) + 1):
            js = np.array([j for j in np.nonzero(level == lv)[0] if j_preds[j]], np.int64)
            if len(js) == 0:
                continue
            m = np.full((len(js), max(len(j_preds[j]) for j in js)), sentinel, np.int64)
            for r, j in enumerate(js):
                m[r, : len(j_preds[j])] = [enc(i) for i in j_preds[j]]
            self.levels.append((js, m))

    @staticmethod
    def _levels(j_preds: list[list[int]]) -> np.ndarray:
        """Each junction's depth over junction → junction epsilons (the graph is acyclic)."""
        n = len(j_preds)
        level = np.zeros(n, np.int64)
        for _ in range(n):
            changed = False
            for b, pr in enumerate(j_preds):
                for i in pr:
                    if i < 0 and level[b] <= level[~i]:
                        level[b] = level[~i] + 1
                        changed = True
            if not changed:
                return level
        raise ValueError("the phoneme graph has a cycle of epsilons")

    def _junctions(self, buf: np.ndarray) -> np.ndarray:
        bp = np.full(self.n_j, -1, np.int64)
        for js, m in self.levels:
            cand = buf[m]
            k = cand.argmax(1)
            v = cand[np.arange(len(js)), k]
            cur = buf[self.n_s + js]
            keep = v > cur
            buf[self.n_s + js] = np.where(keep, v, cur)
            bp[js] = np.where(keep, m[np.arange(len(js)), k], bp[js])
        return bp

    def margin(self, logp: np.ndarray, d: Decoded) -> float | None:
        """How much better per frame the decode ``d`` of ``logp`` is than the best path that means
        something else: another intent, or not one of ``d``'s slot values (each found by a search
        with that intent's or that value's chains closed). ``MARGIN_CAP`` when no such path
        reaches the end; ``None`` for a decode without an intent."""
        if d.intent is None:
            return None
        logp = np.asarray(logp, np.float64)
        if self.prior is not None:
            logp = self.prior.apply(logp)
        closed = [self.intent_chains[d.intent]]
        closed += [self.slot_chains[(name, value)] for name, (value, _) in sorted(d.slots.items())]
        other = max(self._best_score(logp, chains) for chains in closed)
        if other <= _NEG / 2:
            return MARGIN_CAP
        return float(min(MARGIN_CAP, max(0.0, (d.score - other) / max(len(logp), 1))))

    def _best_score(self, logp: np.ndarray, closed: list[int]) -> float:
        """The best path's score with the chains ``closed`` (prior already applied)."""
        shut = np.zeros(self.n_s)
        shut[np.isin(self.chain_of, closed)] = _NEG
        buf = np.full(self.n_s + self.n_j + 1, _NEG)
        buf[self.n_s + START] = 0.0
        self._junctions(buf)
        for t in range(len(logp)):
            buf, _ = self._step(buf, logp[t], shut)
            self._junctions(buf)
        return float(buf[self.n_s + END])

    def _step(self, buf: np.ndarray, row: np.ndarray, shut: np.ndarray | float = 0.0):
        """One frame of the search: each state's value from its best predecessor in ``buf``
        plus the frame's log-probability ``row`` of its class (``shut``: added per state,
        ``_NEG`` for a closed chain's); the junctions are left for ``_junctions``. Returns the
        new buffer and each state's best predecessor index."""
        cand = buf[self.s_pred]
        k = cand.argmax(1)
        nb = np.full_like(buf, _NEG)
        nb[: self.n_s] = cand[np.arange(self.n_s), k] + row[self.sym] + shut
        return nb, k

    def decode(self, logp: np.ndarray) -> Decoded:
        """The best path for the recogniser's log-probabilities ``[T, P + 1]`` (divided by the
        prior first, when the decoder has one)."""
        logp = np.asarray(logp, np.float64)
        if self.prior is not None:
            logp = self.prior.apply(logp)
        T = len(logp)
        n_s, n_j = self.n_s, self.n_j
        buf = np.full(n_s + n_j + 1, _NEG)
        buf[n_s + START] = 0.0
        j_bp = np.zeros((T + 1, n_j), np.int64)
        s_bp = np.zeros((T, n_s), np.int8)
        j_bp[0] = self._junctions(buf)
        for t in range(T):
            buf, s_bp[t] = self._step(buf, logp[t])
            j_bp[t + 1] = self._junctions(buf)
        score = float(buf[n_s + END])
        free = float(logp.max(axis=1).sum())
        if score <= _NEG / 2:
            return Decoded(None, {}, score, free, T)
        intent, chains = None, []
        node, t = n_s + END, T - 1
        while True:
            if node >= n_s:
                j = node - n_s
                src = int(j_bp[t + 1, j])
                if src < 0:
                    break
                if src >= n_s and (src - n_s, j) in self.eps_intent:
                    intent = self.eps_intent[(src - n_s, j)]
                node = src
            else:
                c = int(self.chain_of[node])
                if not chains or chains[-1] != c:
                    chains.append(c)
                node, t = int(self.s_pred[node, s_bp[t, node]]), t - 1
        slots = {}
        for c in reversed(chains):
            sl = self.g.chains[c].slot
            if sl is not None:
                slots[sl[0]] = (sl[1], sl[2])
        return Decoded(intent, slots, score, free, T)


def _intent_chains(g: PhonemeGraph) -> dict[str, list[int]]:
    """Per intent, the chains of its expressions: those reachable from the junctions its
    epsilons lead into (expressions share no junction but the end)."""
    leaving: dict[int, list[tuple[int | None, int]]] = {}
    for ci, c in enumerate(g.chains):
        leaving.setdefault(c.start, []).append((ci, c.end))
    for a, b, _ in g.epsilons:
        leaving.setdefault(a, []).append((None, b))
    out: dict[str, set[int]] = {}
    for _, b, intent in g.epsilons:
        if intent is None:
            continue
        chains = out.setdefault(intent, set())
        seen: set[int] = set()
        todo = [b]
        while todo:
            j = todo.pop()
            if j == END or j in seen:
                continue
            seen.add(j)
            for ci, nxt in leaving.get(j, []):
                if ci is not None:
                    chains.add(ci)
                todo.append(nxt)
    return {i: sorted(c) for i, c in out.items()}
