"""Home Assistant templates: held-out split and tagging of template expansions."""

from __future__ import annotations

import pytest

from hark_train.grammar import parse_context
from hark_train.textintent import IGNORE, match_tags, synonyms_table, tag_names
from hark_train.tokenizer import tokenize

CONTEXT = """
context:
  expressions:
    HassTurnOn:
      - "turn on [the] [$area:area] $device:name"
    HassStartTimer:
      - "timer for $minutes:minutes minutes and $seconds:seconds seconds"
  slots:
    area: [kitchen, living room]
    device:
      - value: light
        synonyms: [lights]
      - fan
    minutes: ["5", "20"]
    seconds: ["20", "30"]
"""


def test_match_tags_tags_unambiguous_phrases_only():
    ctx = parse_context(CONTEXT)
    tags, table = tag_names(ctx), synonyms_table(ctx)
    toks, ids = match_tags(
        tokenize("turn on the living room lights"), ["area", "name"], table, tags
    )
    assert [tags[i] for i in ids] == ["O", "O", "O", "B-area", "I-area", "B-name"]
    # "20" could be minutes or seconds: left out of the loss; "5" and "30" are tagged.
    toks, ids = match_tags(
        tokenize("timer for 20 minutes and 30 seconds"), ["minutes", "seconds"], table, tags
    )
    assert ids[2] == IGNORE and tags[ids[5]] == "B-seconds"
    toks, ids = match_tags(tokenize("5 minutes"), ["minutes", "seconds"], table, tags)
    assert tags[ids[0]] == "B-minutes"


def test_template_split_is_disjoint():
    pytest.importorskip("hassil")
    pytest.importorskip("home_assistant_intents")
    from hark_train.hass import ha_phrasings, templates

    assert templates("HassTurnOn")
    ctx = parse_context(CONTEXT)
    train = ha_phrasings(ctx, 100, split="train", pool=300)
    held = ha_phrasings(ctx, 100, split="eval", pool=300)
    assert train and held
    assert {i for i, _ in train} <= set(ctx.intents)
    # Sentences from different templates may coincide, but most do not.
    overlap = {t for _, t in train} & {t for _, t in held}
    assert len(overlap) < 0.2 * len(held)
