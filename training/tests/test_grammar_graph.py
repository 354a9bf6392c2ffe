"""The context → phoneme graph compiler and its Viterbi decoder (hark_train.grammar_graph)."""

from __future__ import annotations

import numpy as np
import pytest

from hark_train.grammar import parse_context
from hark_train.grammar_graph import (
    MARGIN_CAP,
    Decoder,
    PhonemeGraph,
    PhonemePrior,
    compile_context,
    spoken_units,
)

CONTEXT = """
context:
  expressions:
    TurnOn:
      - "[please] turn on [the] $device:name"
      - "switch $device:name on"
    TurnOff:
      - "turn off [the] $device:name"
  slots:
    device:
      - light
      - value: fan
        synonyms: [ceiling fan]
"""


def _letters_lexicon(ctx):
    """A toy pronunciation: each letter is a phoneme."""
    units = sorted(spoken_units(ctx))
    alphabet = sorted({ch for u in units for ch in u if ch != " "})
    lex = {u: [alphabet.index(ch) + 1 for ch in u if ch != " "] for u in units}
    return lex, alphabet


def _compiled():
    """The test context's graph with the toy pronunciation, and its alphabet."""
    ctx = parse_context(CONTEXT)
    lex, alphabet = _letters_lexicon(ctx)
    return compile_context(ctx, lex), alphabet


def _posteriors(text: str, alphabet: list[str], noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Log-probabilities of an ideal recogniser hearing ``text`` (2 frames per letter, a blank
    after each), with Gaussian noise on the logits."""
    frames = [0, 0]
    for word in text.split():
        for ch in word:
            frames += [alphabet.index(ch) + 1] * 2 + [0]
    frames += [0, 0]
    z = np.full((len(frames), len(alphabet) + 1), np.log(0.01))
    z[np.arange(len(frames)), frames] = np.log(0.9)
    z += noise * np.random.default_rng(seed).standard_normal(z.shape)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


@pytest.mark.parametrize(
    ("said", "intent", "slots"),
    [
        ("please turn on the light", "TurnOn", {"name": ("light", "light")}),
        ("turn on ceiling fan", "TurnOn", {"name": ("fan", "ceiling fan")}),
        ("switch fan on", "TurnOn", {"name": ("fan", "fan")}),
        ("turn off the fan", "TurnOff", {"name": ("fan", "fan")}),
        ("turn off light", "TurnOff", {"name": ("light", "light")}),
    ],
)
def test_decoder_finds_the_said_command(said, intent, slots) -> None:
    ctx = parse_context(CONTEXT)
    lex, alphabet = _letters_lexicon(ctx)
    dec = Decoder(compile_context(ctx, lex))
    for noise in (0.0, 1.0):
        got = dec.decode(_posteriors(said, alphabet, noise))
        assert got.intent == intent
        assert got.slots == slots
    clean = dec.decode(_posteriors(said, alphabet))
    # The grammar path is the recogniser's own best path: it costs (almost) nothing.
    assert -0.05 < clean.gap <= 1e-9


def test_out_of_grammar_speech_costs_more_than_a_command() -> None:
    ctx = parse_context(CONTEXT)
    lex, alphabet = _letters_lexicon(ctx)
    dec = Decoder(compile_context(ctx, lex))
    inside = dec.decode(_posteriors("turn off the fan", alphabet)).gap
    outside = dec.decode(_posteriors("the fan off", alphabet)).gap
    assert outside < inside - 0.5


def test_graph_round_trips_through_metadata() -> None:
    g, alphabet = _compiled()
    again = PhonemeGraph.from_meta(g.to_meta())
    assert again == g
    z = _posteriors("switch light on", alphabet, 0.5)
    a, b = Decoder(g).decode(z), Decoder(again).decode(z)
    assert (a.intent, a.slots) == (b.intent, b.slots)
    assert abs(a.score - b.score) < 1e-9


def test_a_word_without_known_phonemes_is_a_clear_error() -> None:
    ctx = parse_context(CONTEXT)
    lex, _ = _letters_lexicon(ctx)
    lex["switch"] = []
    with pytest.raises(ValueError, match="'switch'"):
        compile_context(ctx, lex)


def test_the_prior_is_the_mean_posterior_and_round_trips() -> None:
    a = np.log(np.array([[0.7, 0.2, 0.1], [0.5, 0.25, 0.25]]))
    b = np.log(np.array([[0.9, 0.05, 0.05]]))
    prior = PhonemePrior.estimate([a, b], 0.8)
    np.testing.assert_allclose(np.exp(prior.log_prior), [0.7, 0.5 / 3, 0.4 / 3], atol=1e-12)
    again = PhonemePrior.from_meta(prior.to_meta())
    assert again.scale == 0.8
    np.testing.assert_allclose(again.log_prior, prior.log_prior, atol=1e-6)


def test_a_decoder_with_a_prior_decodes_the_divided_posteriors() -> None:
    g, alphabet = _compiled()
    z = _posteriors("turn off the fan", alphabet, 1.0, seed=3)
    prior = PhonemePrior.estimate([z, _posteriors("switch light on", alphabet)], 0.8)
    with_prior = Decoder(g, prior).decode(z)
    by_hand = Decoder(g).decode(z - 0.8 * prior.log_prior)
    assert (with_prior.intent, with_prior.slots) == (by_hand.intent, by_hand.slots)
    assert abs(with_prior.score - by_hand.score) < 1e-9
    assert abs(with_prior.free - by_hand.free) < 1e-9


def test_a_flat_prior_changes_no_decode() -> None:
    g, alphabet = _compiled()
    flat = PhonemePrior(0.8, np.full(len(alphabet) + 1, np.log(1 / (len(alphabet) + 1))))
    for said in ("please turn on the light", "switch fan on", "the fan off"):
        z = _posteriors(said, alphabet, 0.5)
        a, b = Decoder(g).decode(z), Decoder(g, flat).decode(z)
        assert (a.intent, a.slots) == (b.intent, b.slots)
        assert abs(a.gap - b.gap) < 1e-9


def _without(g: PhonemeGraph, intent: str | None = None, slot: tuple | None = None):
    """``g`` without an intent's epsilons or a slot value's chains."""
    out = PhonemeGraph.from_meta(g.to_meta())
    out.epsilons = [e for e in out.epsilons if intent is None or e[2] != intent]
    out.chains = [c for c in out.chains if slot is None or (c.slot or ())[:2] != slot]
    return out


def test_the_margin_is_the_distance_to_the_best_other_meaning() -> None:
    g, alphabet = _compiled()
    dec = Decoder(g)
    z = _posteriors("turn off the fan", alphabet, 1.0, seed=4)
    d = dec.decode(z)
    assert (d.intent, d.slots["name"][0]) == ("TurnOff", "fan")
    # Another meaning: another intent, or "turn off" with another name.
    others = [
        Decoder(_without(g, intent="TurnOff")).decode(z),
        Decoder(_without(g, slot=("name", "fan"))).decode(z),
    ]
    want = (d.score - max(o.score for o in others)) / len(z)
    assert 0 < want < MARGIN_CAP
    assert dec.margin(z, d) == pytest.approx(want, abs=1e-9)
    # "turn of the fan" is nearer to "turn on the fan" than a clean "turn off the fan" is.
    near = _posteriors("turn of the fan", alphabet, 1.0, seed=4)
    assert dec.margin(near, dec.decode(near)) < dec.margin(z, d)


def test_the_margin_is_capped_and_needs_an_intent() -> None:
    g, alphabet = _compiled()
    # Only "turn off the light" can be said: nothing else can follow it.
    alone = _without(_without(g, intent="TurnOn"), slot=("name", "fan"))
    z = _posteriors("turn off the light", alphabet)
    dec = Decoder(alone)
    assert dec.margin(z, dec.decode(z)) == MARGIN_CAP
    short = _posteriors("", alphabet)[:1]
    nothing = Decoder(g).decode(short)
    assert nothing.intent is None
    assert Decoder(g).margin(short, nothing) is None


def test_the_margin_reads_the_divided_posteriors() -> None:
    g, alphabet = _compiled()
    z = _posteriors("switch light on", alphabet, 1.0, seed=5)
    prior = PhonemePrior.estimate([z, _posteriors("turn off the fan", alphabet)], 0.8)
    with_prior = Decoder(g, prior)
    by_hand = Decoder(g)
    divided = z - 0.8 * prior.log_prior
    assert with_prior.margin(z, with_prior.decode(z)) == pytest.approx(
        by_hand.margin(divided, by_hand.decode(divided)), abs=1e-9
    )
