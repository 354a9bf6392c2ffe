"""Contexts (intent grammars): parse a YAML context file and expand it into labelled phrasings.

A context is Picovoice Rhino's YAML layout (``context:`` → ``expressions:``, ``slots:``,
``macros:``), with two small hark extensions (slot values with synonyms, and ``brackets:``)::

    context:
      expressions:
        HassTurnOn:                       # intent → list of expressions
          - "[please] (turn, switch) on [the] $area:area $device:name"
          - "@polite $device:name on"
      slots:
        area: [kitchen, living room]      # slot type → values (Rhino: plain strings)
        device:
          - light                         # a canonical value, said as itself
          - value: fan                    # hark: canonical value + other ways to say it
            synonyms: [ceiling fan, fans]
      macros:                             # Rhino macros: @name = one of these phrases
        polite: ["please", "could you"]
    brackets: "[optional] (choice)"       # optional; this is the default

Expression syntax:

- words are said as written (case and punctuation kept in the phrase text);
- ``$slotType:slotName`` is one value of slot type ``slotType`` reported as slot ``slotName``
  (``$slotType`` alone means ``$slotType:slotType``);
- ``[a, b]`` is *optional*: nothing, or exactly one of the alternatives;
- ``(a, b)`` is a *choice*: exactly one of the alternatives;
- alternatives are separated by ``,`` (``|`` is accepted too) and may contain words, slots,
  macros and nested groups; ``@name`` is exactly one phrase of macro ``name``.

``brackets: "(optional) [choice]"`` swaps the two bracket meanings for a whole file.

Expansion yields ``Phrase(intent, text, slots)``; each ``SlotFill`` has the slot name, its type,
the canonical value, the raw words said and their character span ``text[start:end]``. Malformed
contexts raise ``GrammarError`` with the file, line, column and offending token.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

OUT_OF_GRAMMAR = "_out_of_grammar_"
DEFAULT_BRACKETS = "[optional] (choice)"
SWAPPED_BRACKETS = "(optional) [choice]"
_SPECIAL = set("[](),|$@")


class GrammarError(ValueError):
    """A malformed context: ``source:line:column: message (token 'x')``."""

    def __init__(
        self,
        message: str,
        source: str = "<context>",
        line: int | None = None,
        column: int | None = None,
        token: str | None = None,
    ) -> None:
        self.message, self.source, self.line, self.column, self.token = (
            message,
            source,
            line,
            column,
            token,
        )
        where = source
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        text = f"{where}: {message}"
        if token is not None:
            text += f" (token {token!r})"
        super().__init__(text)


# AST -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    text: str


@dataclass(frozen=True)
class Slot:
    type: str
    name: str


@dataclass(frozen=True)
class Seq:
    items: tuple


@dataclass(frozen=True)
class Group:
    alts: tuple  # of Seq
    optional: bool


@dataclass(frozen=True)
class SlotFill:
    name: str
    type: str
    value: str
    raw: str
    start: int
    end: int


@dataclass(frozen=True)
class Phrase:
    intent: str
    text: str
    slots: tuple[SlotFill, ...] = ()

    def slot_values(self) -> dict[str, str]:
        return {s.name: s.value for s in self.slots}


@dataclass
class SlotType:
    name: str
    values: list[str]  # canonical values, in file order
    phrases: list[tuple[str, str]]  # (phrase said, canonical value), in file order


@dataclass
class Expression:
    intent: str
    source: str  # the expression as written
    line: int
    tree: Seq


@dataclass
class Context:
    intents: dict[str, list[Expression]]
    slot_types: dict[str, SlotType]
    macros: dict[str, Group] = field(default_factory=dict)
    brackets: str = DEFAULT_BRACKETS
    source: str = "<context>"

    # --- structure ---

    @property
    def intent_names(self) -> list[str]:
        return list(self.intents)

    def slots_of(self, intent: str) -> dict[str, str]:
        """Slot name → slot type for the slots an intent's expressions can fill."""
        out: dict[str, str] = {}
        for e in self.intents[intent]:
            for s in _slots_in(e.tree):
                out.setdefault(s.name, s.type)
        return out

    def slot_names(self) -> dict[str, list[str]]:
        """Slot name → the slot types bound to it anywhere in the context (file order)."""
        out: dict[str, list[str]] = {}
        for intent in self.intents:
            for e in self.intents[intent]:
                for s in _slots_in(e.tree):
                    if s.type not in out.setdefault(s.name, []):
                        out[s.name].append(s.type)
        return out

    def slot_values(self, name: str) -> list[str]:
        """Canonical values a slot name can take (union over its types, first seen first)."""
        vals: list[str] = []
        for t in self.slot_names()[name]:
            for v in self.slot_types[t].values:
                if v not in vals:
                    vals.append(v)
        return vals

    def slot_synonyms(self, name: str) -> dict[str, str]:
        """Phrase said → canonical value for a slot name (over all its types)."""
        out: dict[str, str] = {}
        for t in self.slot_names()[name]:
            for phrase, value in self.slot_types[t].phrases:
                out.setdefault(phrase, value)
        return out

    # --- expansion ---

    def count(self, intent: str | None = None) -> int:
        """Number of phrasings (with multiplicity: one per path through the grammar)."""
        names = [intent] if intent else list(self.intents)
        return sum(_count(e.tree, self) for n in names for e in self.intents[n])

    def expand(self, intent: str | None = None) -> Iterator[Phrase]:
        """Every phrasing, in grammar order (expressions in file order; for a group: absent first,
        then each alternative in order; slot phrases in file order)."""
        names = [intent] if intent else list(self.intents)
        for n in names:
            for e in self.intents[n]:
                for pieces in _enum(e.tree, self):
                    yield _assemble(n, pieces)

    def sample(
        self,
        n: int,
        seed: int = 0,
        intent: str | None = None,
        power: float = 1.0,
        unique: bool = True,
    ) -> list[Phrase]:
        """``n`` seeded random phrasings. An expression is drawn with probability proportional to
        its number of phrasings raised to ``power`` (1: uniform over all phrasings; 0: every
        expression alike), then each group / slot by the counts beneath it. With ``unique``,
        duplicates are redrawn (and every phrasing is returned when there are at most ``n``)."""
        rng = np.random.default_rng(seed)
        names = [intent] if intent else list(self.intents)
        exprs = [e for nm in names for e in self.intents[nm]]
        counts = np.array([_count(e.tree, self) for e in exprs], dtype=np.float64)
        if unique and counts.sum() <= n:
            return (
                list(self.expand(intent))
                if intent
                else [p for nm in names for p in self.expand(nm)]
            )
        w = counts**power
        w /= w.sum()
        out, seen, tries = [], set(), 0
        while len(out) < n and tries < 50 * n:
            tries += 1
            e = exprs[int(rng.choice(len(exprs), p=w))]
            p = _assemble(e.intent, _draw(e.tree, self, rng))
            key = (p.intent, p.text)
            if unique and key in seen:
                continue
            seen.add(key)
            out.append(p)
        return out


# Counting, enumeration, sampling ---------------------------------------------------------------


def _slots_in(node) -> list[Slot]:
    if isinstance(node, Slot):
        return [node]
    if isinstance(node, Seq):
        return [s for it in node.items for s in _slots_in(it)]
    if isinstance(node, Group):
        return [s for a in node.alts for s in _slots_in(a)]
    return []


def _count(node, ctx: Context) -> int:
    if isinstance(node, Word):
        return 1
    if isinstance(node, Slot):
        return len(ctx.slot_types[node.type].phrases)
    if isinstance(node, Seq):
        return math.prod(_count(it, ctx) for it in node.items)
    return sum(_count(a, ctx) for a in node.alts) + (1 if node.optional else 0)


def _enum(node, ctx: Context) -> Iterator[list]:
    if isinstance(node, Word):
        yield [node.text]
    elif isinstance(node, Slot):
        for phrase, value in ctx.slot_types[node.type].phrases:
            yield [(node, phrase, value)]
    elif isinstance(node, Seq):
        yield from _enum_seq(node.items, ctx)
    else:
        if node.optional:
            yield []
        for a in node.alts:
            yield from _enum(a, ctx)


def _enum_seq(items, ctx) -> Iterator[list]:
    if not items:
        yield []
        return
    for head in _enum(items[0], ctx):
        for tail in _enum_seq(items[1:], ctx):
            yield head + tail


def _draw(node, ctx: Context, rng: np.random.Generator) -> list:
    if isinstance(node, Word):
        return [node.text]
    if isinstance(node, Slot):
        phrases = ctx.slot_types[node.type].phrases
        phrase, value = phrases[int(rng.integers(len(phrases)))]
        return [(node, phrase, value)]
    if isinstance(node, Seq):
        return [p for it in node.items for p in _draw(it, ctx, rng)]
    counts = [_count(a, ctx) for a in node.alts] + ([1] if node.optional else [])
    total = float(sum(counts))
    k = int(rng.choice(len(counts), p=[c / total for c in counts]))
    if k == len(node.alts):
        return []
    return _draw(node.alts[k], ctx, rng)


def _assemble(intent: str, pieces: list) -> Phrase:
    text, fills = "", []
    for p in pieces:
        if text:
            text += " "
        if isinstance(p, str):
            text += p
        else:
            slot, phrase, value = p
            fills.append(
                SlotFill(slot.name, slot.type, value, phrase, len(text), len(text) + len(phrase))
            )
            text += phrase
    return Phrase(intent, text, tuple(fills))


# Parsing expressions -------------------------------------------------------------------------


class _Parser:
    def __init__(
        self,
        text: str,
        where: tuple[str, int, int],
        swapped: bool,
        ctx_slots: set[str],
        macros: dict[str, Group],
        macro_stack: tuple[str, ...] = (),
    ) -> None:
        self.text = text
        self.source, self.line, self.col0 = where
        self.optional_open = "(" if swapped else "["
        self.toks = self._lex(text)
        self.i = 0
        self.ctx_slots = ctx_slots
        self.macros = macros
        self.macro_stack = macro_stack

    def error(self, msg: str, pos: int | None, token: str | None) -> GrammarError:
        col = None if pos is None or self.col0 < 0 else self.col0 + pos + 1
        return GrammarError(msg, self.source, self.line, col, token)

    def _lex(self, text: str) -> list[tuple[str, str, int]]:
        toks, i = [], 0
        while i < len(text):
            c = text[i]
            if c.isspace():
                i += 1
            elif c in "[]()":
                toks.append((c, c, i))
                i += 1
            elif c in ",|":
                toks.append((",", c, i))
                i += 1
            elif c in "$@":
                j = i + 1
                while j < len(text) and (text[j].isalnum() or text[j] in "_.-:"):
                    j += 1
                toks.append((c, text[i:j], i))
                i = j
            else:
                j = i
                while j < len(text) and not text[j].isspace() and text[j] not in _SPECIAL:
                    j += 1
                toks.append(("w", text[i:j], i))
                i = j
        return toks

    def parse(self) -> Seq:
        seq = self._seq(top=True)
        if self.i < len(self.toks):
            kind, tok, pos = self.toks[self.i]
            raise self.error(f"unexpected {tok!r} (no group is open)", pos, tok)
        if not seq.items:
            raise self.error("empty expression", 0, self.text)
        return seq

    def _seq(self, top: bool) -> Seq:
        items = []
        while self.i < len(self.toks):
            kind, tok, pos = self.toks[self.i]
            if kind in "])" or kind == ",":
                if top and kind == ",":
                    raise self.error(
                        "',' outside brackets: alternatives go inside [..] or (..)", pos, tok
                    )
                break
            self.i += 1
            if kind == "w":
                items.append(Word(tok))
            elif kind == "$":
                items.append(self._slot(tok, pos))
            elif kind == "@":
                items.append(self._macro(tok, pos))
            else:
                items.append(self._group(kind, pos))
        self._check_repeats(items)
        return Seq(tuple(items))

    def _group(self, opener: str, pos: int) -> Group:
        closer = "]" if opener == "[" else ")"
        alts = []
        while True:
            start = self.toks[self.i][2] if self.i < len(self.toks) else len(self.text)
            alt = self._seq(top=False)
            if not alt.items:
                tok = self.toks[self.i][1] if self.i < len(self.toks) else opener
                raise self.error(f"empty alternative in '{opener}..{closer}'", start, tok)
            alts.append(alt)
            if self.i >= len(self.toks):
                raise self.error(f"unbalanced '{opener}': no matching '{closer}'", pos, opener)
            kind, tok, p = self.toks[self.i]
            self.i += 1
            if kind == ",":
                continue
            if kind != closer:
                raise self.error(
                    f"'{opener}' at column {self.col0 + pos + 1} closed by {tok!r}"
                    if self.col0 >= 0
                    else f"'{opener}' closed by {tok!r}",
                    p,
                    tok,
                )
            break
        return Group(tuple(alts), optional=opener == self.optional_open)

    def _slot(self, tok: str, pos: int) -> Slot:
        body = tok[1:]
        typ, _, name = body.partition(":")
        name = name or typ
        if not typ or not name or ":" in name:
            raise self.error("malformed slot: expected $slotType:slotName", pos, tok)
        if typ not in self.ctx_slots:
            if typ.startswith("pv."):
                raise self.error(
                    f"built-in slot type {typ!r} is not supported; list its values under slots:",
                    pos,
                    tok,
                )
            raise self.error(f"undefined slot type {typ!r}", pos, tok)
        return Slot(typ, name)

    def _macro(self, tok: str, pos: int) -> Group:
        name = tok[1:]
        if not name:
            raise self.error("malformed macro reference: expected @name", pos, tok)
        if name not in self.macros:
            raise self.error(f"undefined macro {name!r}", pos, tok)
        return self.macros[name]

    def _check_repeats(self, items) -> None:
        seen: dict[str, int] = {}
        for it in items:
            for s in {s.name for s in _slots_in(it)}:
                seen[s] = seen.get(s, 0) + 1
                if seen[s] > 1:
                    raise self.error(
                        f"slot {s!r} can be filled twice in one phrasing", None, f"${s}"
                    )


# Loading ----------------------------------------------------------------------------------------


def _line(node) -> int:
    return node.start_mark.line + 1


def _col0(node) -> int:
    """Column (0-based) of the first character of a one-line scalar's text, -1 if unknown."""
    if node.start_mark.line != node.end_mark.line:
        return -1
    return node.start_mark.column + (1 if node.style in ("'", '"') else 0)


def _mapping(node, what: str, source: str) -> list[tuple]:
    if not isinstance(node, yaml.MappingNode):
        raise GrammarError(f"{what} must be a mapping", source, _line(node))
    seen: dict[str, int] = {}
    out = []
    for k, v in node.value:
        if not isinstance(k, yaml.ScalarNode) or not str(k.value).strip():
            raise GrammarError(f"bad key in {what}", source, _line(k))
        key = str(k.value)
        if key in seen:
            raise GrammarError(
                f"duplicate {what[:-1] if what.endswith('s') else what} "
                f"{key!r} (first at line {seen[key]})",
                source,
                _line(k),
                None,
                key,
            )
        seen[key] = _line(k)
        out.append((key, k, v))
    return out


def _scalars(node, what: str, source: str) -> list:
    if isinstance(node, yaml.ScalarNode):
        return [node]
    if not isinstance(node, yaml.SequenceNode):
        raise GrammarError(f"{what} must be a list", source, _line(node))
    if not node.value:
        raise GrammarError(f"{what} is empty", source, _line(node))
    return list(node.value)


def parse_context(text: str, source: str = "<context>") -> Context:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise GrammarError(
            f"invalid YAML: {getattr(e, 'problem', e)}",
            source,
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    if root is None:
        raise GrammarError("empty context file", source)
    top = dict((k, (kn, v)) for k, kn, v in _mapping(root, "top level", source))
    for k, (kn, _) in top.items():
        if k not in ("context", "brackets"):
            raise GrammarError(
                f"unknown top-level key {k!r} (expected context, brackets)",
                source,
                _line(kn),
                None,
                k,
            )
    if "context" not in top:
        raise GrammarError("missing top-level 'context:'", source, 1)
    brackets = DEFAULT_BRACKETS
    if "brackets" in top:
        bn = top["brackets"][1]
        brackets = str(getattr(bn, "value", ""))
        if brackets not in (DEFAULT_BRACKETS, SWAPPED_BRACKETS):
            raise GrammarError(
                f"brackets must be {DEFAULT_BRACKETS!r} or {SWAPPED_BRACKETS!r}",
                source,
                _line(bn),
                None,
                brackets,
            )
    swapped = brackets == SWAPPED_BRACKETS
    sections = {k: (kn, v) for k, kn, v in _mapping(top["context"][1], "context", source)}
    for k, (kn, _) in sections.items():
        if k not in ("expressions", "slots", "macros"):
            raise GrammarError(
                f"unknown key {k!r} in context (expected expressions, slots, macros)",
                source,
                _line(kn),
                None,
                k,
            )
    if "expressions" not in sections:
        raise GrammarError("context has no 'expressions:'", source, _line(top["context"][0]))

    # Slot types.
    slot_types: dict[str, SlotType] = {}
    if "slots" in sections and not (
        isinstance(sections["slots"][1], yaml.ScalarNode)
        and sections["slots"][1].value in ("", "null", "~")
    ):
        for name, _kn, vn in _mapping(sections["slots"][1], "slots", source):
            values, phrases, said = [], [], {}
            for item in _scalars(vn, f"slot type {name!r}", source):
                if isinstance(item, yaml.ScalarNode):
                    value, syns = str(item.value).strip(), []
                elif isinstance(item, yaml.MappingNode):
                    d = {k: v for k, _, v in _mapping(item, f"value of slot type {name!r}", source)}
                    if "value" not in d or set(d) - {"value", "synonyms"}:
                        raise GrammarError(
                            f"slot value of {name!r} must be a string or "
                            "{value: ..., synonyms: [...]}",
                            source,
                            _line(item),
                        )
                    value = str(d["value"].value).strip()
                    syns = (
                        [str(s.value).strip() for s in _scalars(d["synonyms"], "synonyms", source)]
                        if "synonyms" in d
                        else []
                    )
                else:
                    raise GrammarError(f"bad slot value in {name!r}", source, _line(item))
                if not value:
                    raise GrammarError(f"empty value in slot type {name!r}", source, _line(item))
                if value in values:
                    raise GrammarError(
                        f"duplicate value {value!r} in slot type {name!r}",
                        source,
                        _line(item),
                        None,
                        value,
                    )
                values.append(value)
                for phrase in [value] + syns:
                    if not phrase:
                        raise GrammarError(
                            f"empty synonym in slot type {name!r}", source, _line(item)
                        )
                    if any(c in _SPECIAL for c in phrase):
                        raise GrammarError(
                            f"slot phrase may not contain any of {''.join(sorted(_SPECIAL))}",
                            source,
                            _line(item),
                            None,
                            phrase,
                        )
                    key = " ".join(phrase.lower().split())
                    if key in said:
                        if said[key] != value:
                            raise GrammarError(
                                f"phrase {phrase!r} of slot type {name!r} means both "
                                f"{said[key]!r} and {value!r}",
                                source,
                                _line(item),
                                None,
                                phrase,
                            )
                        continue
                    said[key] = value
                    phrases.append((phrase, value))
            slot_types[name] = SlotType(name, values, phrases)

    # Macros (may use slots and earlier macros).
    macros: dict[str, Group] = {}
    if "macros" in sections:
        for name, _kn, vn in _mapping(sections["macros"][1], "macros", source):
            alts = []
            for item in _scalars(vn, f"macro {name!r}", source):
                p = _Parser(
                    str(item.value),
                    (source, _line(item), _col0(item)),
                    swapped,
                    set(slot_types),
                    macros,
                )
                alts.append(p.parse())
            macros[name] = Group(tuple(alts), optional=False)

    intents: dict[str, list[Expression]] = {}
    for name, kn, vn in _mapping(sections["expressions"][1], "intents", source):
        if name == OUT_OF_GRAMMAR:
            raise GrammarError(
                f"intent name {OUT_OF_GRAMMAR!r} is reserved", source, _line(kn), None, name
            )
        exprs = []
        for item in _scalars(vn, f"intent {name!r}", source):
            if not isinstance(item, yaml.ScalarNode):
                raise GrammarError(f"expression of {name!r} must be a string", source, _line(item))
            text = str(item.value)
            p = _Parser(text, (source, _line(item), _col0(item)), swapped, set(slot_types), macros)
            exprs.append(Expression(name, text, _line(item), p.parse()))
        intents[name] = exprs
    if not intents:
        raise GrammarError("context has no intents", source, _line(sections["expressions"][0]))
    ctx = Context(intents, slot_types, macros, brackets, source)
    _check_slot_names(ctx)
    return ctx


def _check_slot_names(ctx: Context) -> None:
    for name, types in ctx.slot_names().items():
        said: dict[str, tuple[str, str]] = {}
        for t in types:
            for phrase, value in ctx.slot_types[t].phrases:
                key = " ".join(phrase.lower().split())
                if key in said and said[key][1] != value:
                    raise GrammarError(
                        f"slot {name!r}: phrase {phrase!r} means {said[key][1]!r} in type "
                        f"{said[key][0]!r} but {value!r} in type {t!r}",
                        ctx.source,
                        None,
                        None,
                        phrase,
                    )
                said[key] = (t, value)


def load_context(path: str | Path) -> Context:
    path = Path(path)
    return parse_context(path.read_text(encoding="utf-8"), str(path))


def main(argv: list[str] | None = None) -> int:
    """``python -m hark_train.grammar FILE [--samples N]``: check a context, count its phrasings
    per intent and print a few seeded samples."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m hark_train.grammar")
    ap.add_argument("context", type=Path)
    ap.add_argument("--samples", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        ctx = load_context(args.context)
    except GrammarError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for intent in ctx.intents:
        slots = ", ".join(f"{n}:{t}" for n, t in ctx.slots_of(intent).items())
        print(
            f"{intent}: {len(ctx.intents[intent])} expressions, {ctx.count(intent)} phrasings"
            f"{'; slots ' + slots if slots else ''}"
        )
        for p in ctx.sample(args.samples, seed=args.seed, intent=intent):
            print(f"    {p.text}    {p.slot_values() or ''}")
    print(f"total: {ctx.count()} phrasings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
