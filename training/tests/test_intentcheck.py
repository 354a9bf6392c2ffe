"""intent-check's Python reference of grammar decoding, on the shipped model and sample: the
judge decides (its threshold flips the answer, not the decode), and a model built before the
judge is judged by its two thresholds, as the Rust runtime does (tests/listen.rs)."""

import copy
import json
from pathlib import Path

import pytest

from hark_train.audio import read_audio
from hark_train.intent import label_spec
from hark_train.intentcheck import _Grammar, _reference

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "models"
SAMPLE = REPO / "tests" / "fixtures" / "frontend" / "speech.wav"


@pytest.fixture(scope="module")
def shipped():
    pytest.importorskip("onnxruntime")
    import onnxruntime as ort

    from hark_train.grammar import load_context

    meta = json.loads((MODELS / "intent.json").read_text())
    if "grammar" not in meta["intent"]:
        pytest.skip("the shipped intent model has no grammar")
    spec = label_spec(load_context(REPO / "config" / "contexts" / "home.yaml"))
    sess = ort.InferenceSession(str(MODELS / "intent.onnx"))
    # The command after the wake word, as the runtime captures it from the sample.
    wav = read_audio(SAMPLE)[int(0.62 * 16000) :]
    return meta, spec, sess, wav


def _answer(shipped, edit):
    meta, spec, sess, wav = shipped
    grammar = copy.deepcopy(meta["intent"]["grammar"])
    edit(grammar)
    return _reference(sess, wav, meta, spec, _Grammar(MODELS, grammar))


def _threshold(value):
    def edit(g):
        g["judge"]["threshold"] = value

    return edit


def _older_rule(gap, oog):
    def edit(g):
        del g["judge"]
        g["gap_threshold"], g["out_of_grammar_threshold"] = gap, oog

    return edit


def test_the_judge_threshold_decides_not_the_decode(shipped):
    lenient = _answer(shipped, _threshold(1e-6))
    strict = _answer(shipped, _threshold(1.0))
    assert lenient["intent"] == strict["intent"] != "_out_of_grammar_"
    assert lenient["slots"] == strict["slots"]
    assert lenient["understood"] and not strict["understood"]


def test_a_model_before_the_judge_is_judged_by_its_two_thresholds(shipped):
    judged = _answer(shipped, _threshold(1e-6))
    fits = _answer(shipped, _older_rule(-1e9, 1.0))
    assert fits["intent"] == judged["intent"] and fits["understood"]
    # The gap is a log-probability difference to the best free path: never above 0.
    assert not _answer(shipped, _older_rule(1e-3, 1.0))["understood"]
    assert not _answer(shipped, _older_rule(-1e9, -1.0))["understood"]
