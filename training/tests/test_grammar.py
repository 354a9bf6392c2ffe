"""Context grammar: exact expansions of small grammars, sampling, and error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from hark_train.grammar import GrammarError, load_context, parse_context

REPO = Path(__file__).resolve().parents[2]


def ctx_of(expressions: str, slots: str = "", macros: str = "", extra: str = ""):
    text = "context:\n  expressions:\n" + expressions
    if slots:
        text += "  slots:\n" + slots
    if macros:
        text += "  macros:\n" + macros
    return parse_context(text + extra, "t.yaml")


def texts(ctx, intent=None):
    return [p.text for p in ctx.expand(intent)]


def test_optional_and_choice_exact_expansion():
    ctx = ctx_of('    A:\n      - "[please] (turn, switch) on"\n')
    assert texts(ctx) == ["turn on", "switch on", "please turn on", "please switch on"]
    assert ctx.count() == 4


def test_optional_alternatives_are_zero_or_one():
    ctx = ctx_of('    A:\n      - "x [a, b c] y"\n')
    assert texts(ctx) == ["x y", "x a y", "x b c y"]


def test_nested_groups_and_pipe_separator():
    ctx = ctx_of('    A:\n      - "(a [b | c], d)"\n')
    assert texts(ctx) == ["a", "a b", "a c", "d"]


def test_swapped_brackets_rhino_classic():
    ctx = ctx_of(
        '    A:\n      - "[turn, switch] on (the) light"\n',
        extra='brackets: "(optional) [choice]"\n',
    )
    assert texts(ctx) == [
        "turn on light",
        "turn on the light",
        "switch on light",
        "switch on the light",
    ]


def test_slots_values_synonyms_and_spans():
    ctx = ctx_of(
        '    HassTurnOn:\n      - "turn on [the] $area:area $device:name"\n',
        slots="    area: [kitchen]\n    device:\n      - light\n"
        "      - value: fan\n        synonyms: [ceiling fan]\n",
    )
    phrases = list(ctx.expand())
    assert [p.text for p in phrases] == [
        "turn on kitchen light",
        "turn on kitchen fan",
        "turn on kitchen ceiling fan",
        "turn on the kitchen light",
        "turn on the kitchen fan",
        "turn on the kitchen ceiling fan",
    ]
    p = phrases[2]
    assert p.intent == "HassTurnOn"
    assert p.slot_values() == {"area": "kitchen", "name": "fan"}
    for s in p.slots:
        assert p.text[s.start : s.end] == s.raw
    assert [(s.name, s.type, s.value, s.raw, s.start, s.end) for s in p.slots] == [
        ("area", "area", "kitchen", "kitchen", 8, 15),
        ("name", "device", "fan", "ceiling fan", 16, 27),
    ]
    assert ctx.slots_of("HassTurnOn") == {"area": "area", "name": "device"}
    assert ctx.slot_values("name") == ["light", "fan"]
    assert ctx.slot_synonyms("name") == {"light": "light", "fan": "fan", "ceiling fan": "fan"}


def test_slot_shorthand_and_macros():
    ctx = ctx_of(
        '    A:\n      - "@polite $color"\n',
        slots="    color: [red, blue]\n",
        macros='    polite: ["please", "could you"]\n',
    )
    assert texts(ctx) == ["please red", "please blue", "could you red", "could you blue"]
    assert ctx.expand().__next__().slots[0].name == "color"


def test_multiple_expressions_and_intents_in_file_order():
    ctx = ctx_of('    A:\n      - "a"\n      - "b"\n    B:\n      - "c"\n')
    assert [(p.intent, p.text) for p in ctx.expand()] == [("A", "a"), ("A", "b"), ("B", "c")]
    assert ctx.intent_names == ["A", "B"]
    assert texts(ctx, "B") == ["c"]


def test_sampling_is_seeded_unique_and_labelled():
    ctx = ctx_of(
        '    A:\n      - "[the] $n:x (on, off) [now, please, at once]"\n',
        slots="    n: [a, b, c, d, e, f, g]\n",
    )
    assert ctx.count() == 2 * 7 * 2 * 4
    s1 = ctx.sample(20, seed=3)
    s2 = ctx.sample(20, seed=3)
    assert s1 == s2
    assert len({p.text for p in s1}) == 20
    everything = set(texts(ctx))
    for p in s1:
        assert p.text in everything
        assert p.text[p.slots[0].start : p.slots[0].end] == p.slots[0].raw
    # Asking for more than there is returns the whole expansion.
    assert sorted(p.text for p in ctx.sample(1000, seed=0)) == sorted(everything)


@pytest.mark.parametrize(
    "body, line, column, token, message",
    [
        ('    A:\n      - "turn on [the light"\n', 4, 18, "[", "unbalanced '['"),
        ('    A:\n      - "turn on the light]"\n', 4, 27, "]", "unexpected ']'"),
        ('    A:\n      - "turn on (the] light"\n', 4, 22, "]", "closed by ']'"),
        ('    A:\n      - "turn on $colour:c"\n', 4, 18, "$colour:c", "undefined slot type"),
        ('    A:\n      - "turn on [the, ] light"\n', 4, 24, "]", "empty alternative"),
        ('    A:\n      - "turn () on"\n', 4, 16, ")", "empty alternative"),
        ("    A:\n      - turn on the light, lamp\n", 4, 26, ",", "',' outside brackets"),
        ('    A:\n      - "@nope on"\n', 4, 10, "@nope", "undefined macro"),
        ('    _out_of_grammar_:\n      - "x"\n', 3, None, "_out_of_grammar_", "reserved"),
        ('    A:\n      - "x"\n    A:\n      - "y"\n', 5, None, "A", "duplicate intent 'A'"),
    ],
)
def test_errors_name_line_column_and_token(body, line, column, token, message):
    with pytest.raises(GrammarError) as err:
        ctx_of(body)
    e = err.value
    assert message in str(e)
    assert (e.source, e.line, e.column, e.token) == ("t.yaml", line, column, token)
    assert str(e).startswith(f"t.yaml:{line}")


def test_slot_errors():
    with pytest.raises(GrammarError, match="duplicate value 'red'"):
        ctx_of('    A:\n      - "$c:c"\n', slots="    c: [red, red]\n")
    with pytest.raises(GrammarError, match="filled twice"):
        ctx_of('    A:\n      - "$c:x and $c:x"\n', slots="    c: [red]\n")
    with pytest.raises(GrammarError, match="means both"):
        ctx_of(
            '    A:\n      - "$c:x"\n',
            slots="    c:\n      - red\n      - value: blue\n        synonyms: [red]\n",
        )
    with pytest.raises(GrammarError, match="built-in slot type"):
        ctx_of('    A:\n      - "$pv.TwoDigitInteger:n"\n', slots="    c: [red]\n")
    with pytest.raises(GrammarError, match=r"t.yaml:6: slot type 'c' is empty"):
        ctx_of('    A:\n      - "$c:x"\n', slots="    c: []\n")


def test_structure_errors():
    with pytest.raises(GrammarError, match="missing top-level 'context:'"):
        parse_context('brackets: "[optional] (choice)"\n', "t.yaml")
    with pytest.raises(GrammarError, match="invalid YAML"):
        parse_context("context: [\n", "t.yaml")
    with pytest.raises(GrammarError, match="no 'expressions:'"):
        parse_context("context:\n  slots: {}\n", "t.yaml")
    # Alternatives may repeat a slot (only one is said).
    ctx = ctx_of('    A:\n      - "($c:x lights, lights $c:x)"\n', slots="    c: [red]\n")
    assert texts(ctx) == ["red lights", "lights red"]


def test_home_context_covers_the_home_assistant_intents():
    ctx = load_context(REPO / "config" / "contexts" / "home.yaml")
    for intent, slots in {
        "HassTurnOn": {"name", "area"},
        "HassTurnOff": {"name", "area"},
        "HassLightSet": {"area", "name", "brightness", "color"},
        "HassClimateSetTemperature": {"area", "temperature"},
        "HassSetVolume": {"volume_level"},
        "HassMediaPause": set(),
        "HassMediaUnpause": set(),
        "HassMediaNext": set(),
        "HassMediaPrevious": set(),
        "HassStartTimer": {"minutes", "seconds"},
        "HassCancelTimer": set(),
        "HassNevermind": set(),
        "HassGetState": {"name", "area"},
    }.items():
        assert intent in ctx.intents
        assert slots <= set(ctx.slots_of(intent)), intent
    for area in ("kitchen", "living room", "bedroom", "bathroom", "office", "hallway", "garage"):
        assert area in ctx.slot_values("area")
    for p in ctx.sample(300, seed=0):
        for s in p.slots:
            assert p.text[s.start : s.end] == s.raw


RHINO_STYLE = """
context:
  expressions:
    changeColor:
      - "[turn, make] (all) (the) lights $color:color"
      - "[change, set] (all) (the) lights to $color:color"
    changeState:
      - "@switch $state:state (all) (the) lights"
  slots:
    color:
      - "blue"
      - "green"
    state:
      - "on"
      - "off"
  macros:
    switch:
      - "turn"
      - "switch"
brackets: "(optional) [choice]"
"""


def test_rhino_style_context_with_parenthesised_optionals():
    ctx = parse_context(RHINO_STYLE, "rhino.yml")
    assert ctx.count("changeColor") == 2 * 2 * 2 * 2 * 2
    assert "make all the lights green" in texts(ctx, "changeColor")
    assert "set lights to blue" in texts(ctx, "changeColor")
    assert texts(ctx, "changeState")[:2] == ["turn on lights", "turn on the lights"]
    p = next(p for p in ctx.expand("changeState") if p.text == "switch off all the lights")
    assert p.slot_values() == {"state": "off"}
