"""The grammar decoder's judge (``hark_train.grammar_intent``): its measurements, the logistic
fit, the gate against wrong commands and the threshold that keeps at least a share of the
validation commands decoded right."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from hark_train.grammar_intent import (
    Judge,
    fit_judge,
    fit_logistic,
    judge_features,
    lowest_gate,
)


@dataclass
class _Phrase:
    intent: str
    slots: dict

    def slot_values(self) -> dict:
        return self.slots


@dataclass
class _Clip:
    kind: str
    phrase: _Phrase | None


def _decodes(rng, n, right: bool):
    """``n`` decodes of commands; right ones fit the graph and agree with the intent graph."""
    rows, clips = [], []
    for _ in range(n):
        phrase = _Phrase("HassTurnOn", {"area": "kitchen"})
        slots = phrase.slots if right else {"area": "garage"}
        rows.append(
            {
                "intent": "HassTurnOn",
                "slots": slots,
                "gap": float(rng.normal(-0.08 if right else -0.3, 0.05)),
                "p_oog": float(rng.uniform(0.0, 0.2) if right else rng.uniform(0.2, 0.9)),
                "p_intent": float(rng.uniform(0.5, 1.0) if right else rng.uniform(0.0, 0.5)),
                "margin": float(rng.uniform(0.02, 0.4) if right else rng.uniform(0.0, 0.02)),
                "frames": int(rng.integers(40, 120)),
            }
        )
        clips.append(_Clip("command", phrase))
    return rows, clips


def _margin(r: dict) -> float:
    return r["margin"]


def _chatter(rng, n):
    rows = [
        {
            "intent": "HassGetState",
            "slots": {},
            "gap": float(rng.normal(-0.5, 0.1)),
            "p_oog": float(rng.uniform(0.5, 1.0)),
            "p_intent": float(rng.uniform(0.0, 0.2)),
            "margin": float(rng.uniform(0.0, 0.5)),
            "frames": int(rng.integers(20, 200)),
        }
        for _ in range(n)
    ]
    return rows, [_Clip("chatter", None)] * n


def test_features_are_clamped_logits_and_logs() -> None:
    f = judge_features(-0.1, 0.2, 0.5, 0.09, 50)
    assert f[0] == pytest.approx(-0.1)
    assert f[1] == pytest.approx(np.log(0.2 / 0.8))
    assert f[2] == pytest.approx(np.log(0.5))
    assert f[3] == pytest.approx(np.log(0.1))
    assert f[4] == pytest.approx(np.log(50))
    assert np.all(np.isfinite(judge_features(-0.1, 1.0, 0.0, 0.0, 0)))
    assert np.all(np.isfinite(judge_features(-0.1, 0.0, 1.0, None, 1)))
    # No margin counts as margin 0.
    assert judge_features(-0.1, 0.2, 0.5, None, 9)[3] == pytest.approx(np.log(0.01))


def test_a_judge_of_three_measurements_still_reads() -> None:
    """Metadata written before the margin and the length were measured: they weigh 0."""
    old = {
        "gap": 8.0,
        "out_of_grammar_logit": -0.3,
        "intent_log_posterior": 0.5,
        "bias": 4.0,
        "threshold": 0.3,
        "min_margin": 0.04,
    }
    judge = Judge.from_meta(old)
    assert list(judge.weights[3:]) == [0.0, 0.0]
    r = {"intent": "X", "gap": -0.2, "p_oog": 0.1, "p_intent": 0.9, "margin": None, "frames": 30}
    z = 4.0 + 8.0 * -0.2 - 0.3 * np.log(0.1 / 0.9) + 0.5 * np.log(0.9)
    assert judge.score(r) == pytest.approx(1 / (1 + np.exp(-z)))
    # Its margin is read only where the score alone accepts.
    assert judge.needs_margin(r) == (judge.score(r) >= 0.3)


def test_a_judge_that_weighs_the_margin_needs_it_measured() -> None:
    judge = Judge(np.array([1.0, 0.0, 0.0, 0.5, 0.0]), 0.0, 0.5)
    r = {"intent": "X", "gap": -0.1, "p_oog": 0.1, "p_intent": 0.9, "margin": None, "frames": 9}
    assert judge.needs_margin(r)
    with pytest.raises(ValueError, match="margin"):
        judge.score(r)
    assert not judge.needs_margin({**r, "intent": None})


def test_logistic_fit_matches_the_known_separating_direction() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] - 0.5 * x[:, 1] + 0.3 > rng.logistic(size=400) * 0.2).astype(float)
    weights, bias = fit_logistic(x, y, np.ones(400), c=100.0)
    direction = weights / np.linalg.norm(weights)
    assert direction @ (np.array([1.0, -0.5]) / np.linalg.norm([1.0, -0.5])) > 0.98
    assert bias > 0.0
    # Weights shrink with a stronger penalty.
    w_small, _ = fit_logistic(x, y, np.ones(400), c=0.01)
    assert np.linalg.norm(w_small) < np.linalg.norm(weights)


def test_judge_keeps_the_share_asked_for_and_refuses_chatter() -> None:
    rng = np.random.default_rng(1)
    right, rc = _decodes(rng, 80, True)
    wrong, wc = _decodes(rng, 20, False)
    chat, cc = _chatter(rng, 40)
    real, _ = _chatter(rng, 200)
    judge = fit_judge(right + wrong + chat, rc + wc + cc, real, 0.85, _margin)
    assert judge.weights[0] > 0 and judge.weights[1] < 0 and judge.weights[2] > 0
    # Right decodes here stand clearer of other meanings than wrong ones and chatter.
    assert judge.weights[3] > 0
    # At least the share asked for; more where the real speech allows.
    assert np.mean([judge.accept(r) for r in right]) >= 0.85
    # Wrong decodes here have another meaning close by: the margin refuses them.
    assert not any(judge.accept(r) for r in wrong)
    assert np.mean([judge.accept(r) for r in chat + real]) < 0.02
    assert not judge.accept({**right[0], "intent": None})
    again = Judge.from_meta(judge.to_meta())
    assert again.score(right[0]) == pytest.approx(judge.score(right[0]), abs=1e-4)


def test_judge_needs_a_right_decode_and_a_sensible_share() -> None:
    rng = np.random.default_rng(2)
    wrong, wc = _decodes(rng, 10, False)
    with pytest.raises(ValueError, match="decoded right"):
        fit_judge(wrong, wc, [], 0.85, _margin)
    right, rc = _decodes(rng, 10, True)
    with pytest.raises(ValueError, match="keep"):
        fit_judge(right, rc, [], 1.5, _margin)


def test_judge_without_real_speech_fits_on_validation_alone() -> None:
    """No real data (``--data`` not given): chatter and wrong decodes are the only negatives."""
    rng = np.random.default_rng(3)
    right, rc = _decodes(rng, 60, True)
    chat, cc = _chatter(rng, 30)
    judge = fit_judge(right + chat, rc + cc, [], 0.85, _margin)
    assert 0.75 <= np.mean([judge.accept(r) for r in right]) <= 0.95
    assert not any(judge.accept(r) for r in chat)


def _with_margins(rows, rng, low: float, high: float):
    return [{**r, "margin": float(rng.uniform(low, high))} for r in rows]


def test_the_gate_keeps_its_share_and_refuses_close_meanings() -> None:
    rng = np.random.default_rng(4)
    right, rc = _decodes(rng, 200, True)
    right = _with_margins(right, rng, 0.02, 0.4)
    # Wrong decodes that look like commands, but another meaning was as near.
    close, cc = _decodes(rng, 40, True)
    close = [{**r, "slots": {"area": "garage"}} for r in _with_margins(close, rng, 0.0, 0.02)]
    real = _with_margins(_chatter(rng, 300)[0], rng, 0.0, 0.5)
    judge = fit_judge(
        right + close,
        rc + cc,
        real,
        keep=0.85,
        margin_of=lambda r: r["margin"],
        margin_keep=0.95,
        max_wrong=0.0,
    )
    # No wrong decode may pass: the gate refuses every close one and keeps at least 95% of the
    # right ones; it learnt that a wider margin means a right decode.
    gate = judge.gate
    assert gate is not None and judge.min_margin == 0.0
    assert gate.weights[1] > 0
    assert not any(judge.passes(r) for r in close)
    assert np.mean([judge.passes(r) for r in right]) >= 0.95 - 1e-9
    assert np.mean([judge.accept(r) for r in right]) >= 0.85
    # With a tolerated share of wrong decodes, the gate lets a few close ones through.
    tolerant = fit_judge(
        right + close, rc + cc, real, keep=0.85, margin_of=lambda r: r["margin"], max_wrong=0.02
    )
    assert tolerant.gate is not None
    through = sum(tolerant.passes(r) for r in close)
    kept = through + sum(tolerant.passes(r) for r in right)
    assert 0 < through <= 0.02 * kept
    # The runtime reads the gate from the metadata; a decode whose margin is unknown is an
    # error, not a guess.
    again = Judge.from_meta(judge.to_meta())
    assert again.gate is not None
    assert again.gate.to_meta() == gate.to_meta()
    assert [again.accept(r) for r in right + close] == [judge.accept(r) for r in right + close]
    passing = next(r for r in right if judge.accept(r))
    with pytest.raises(ValueError, match="margin"):
        judge.accept({**passing, "margin": None})
    # A judge from before the margin needs none.
    before = ("min_margin", "margin_log", "log_frames", "gate")
    old = {k: v for k, v in judge.to_meta().items() if k not in before}
    assert Judge.from_meta(old).gate is None
    assert Judge.from_meta(old).accept({**passing, "margin": None})


def test_a_judge_with_a_margin_gate_reads_as_before() -> None:
    """Judges fitted before the learnt gate refuse decodes below ``min_margin``."""
    judge = Judge(np.array([1.0, 0.0, 0.0, 0.0, 0.0]), 5.0, 0.5, min_margin=0.05)
    row = {"intent": "X", "gap": -0.1, "p_oog": 0.1, "p_intent": 0.9, "frames": 50}
    assert judge.accept({**row, "margin": 0.06})
    assert not judge.accept({**row, "margin": 0.04})
    assert "gate" not in judge.to_meta()
    assert Judge.from_meta(judge.to_meta()).min_margin == pytest.approx(0.05)


def test_the_threshold_falls_while_real_speech_stays_within_its_budget() -> None:
    rng = np.random.default_rng(5)
    right, rc = _decodes(rng, 200, True)
    right = _with_margins(right, rng, 0.02, 0.4)
    real = _with_margins(_chatter(rng, 400)[0], rng, 0.0, 0.5)
    measured: list[int] = []

    def margin_of(r):
        measured.append(id(r))
        return r["margin"]

    kept_only = fit_judge(right, rc, real[:100], 0.85, margin_of=margin_of)
    assert np.mean([kept_only.accept(r) for r in right]) == pytest.approx(0.85, abs=0.01)
    measured.clear()
    judge = fit_judge(right, rc, real, 0.85, margin_of=margin_of, real_fa=0.01)
    accepted_real = np.mean([judge.accept(r) for r in real])
    assert accepted_real <= 0.01
    assert judge.threshold < kept_only.threshold
    assert np.mean([judge.accept(r) for r in right]) > 0.85
    # Every real clip's margin is measured: the judge's score reads it.
    assert {id(r) for r in real} <= set(measured)


def test_the_gate_is_the_lowest_value_within_the_wrong_share() -> None:
    rights = [(v, True) for v in (0.10, 0.20, 0.30, 0.40)]
    # No wrong decode: no gate at all.
    assert lowest_gate(rights, cap=0.25, max_wrong=0.0) == -np.inf
    # Wrong decodes at 0.01 and 0.05: the lowest value above both that is one of the decodes'.
    assert lowest_gate(rights + [(0.01, False), (0.05, False)], 0.25, 0.0) == pytest.approx(0.10)
    # One wrong decode of five tolerated: only the lower one must go.
    assert lowest_gate(rights + [(0.01, False), (0.05, False)], 0.25, 0.2) == pytest.approx(0.05)
    # Never above the cap, even when wrong decodes reach the highest values.
    assert lowest_gate(rights + [(0.45, False)], 0.25, 0.0) == pytest.approx(0.25)


def test_commands_decoded_wrong_only_in_noise_still_raise_the_gate() -> None:
    """Clean validation commands are rarely decoded wrong; their copies in training noise show
    where wrong decodes lie, and the gate rises to refuse them."""
    rng = np.random.default_rng(6)
    right, rc = _decodes(rng, 200, True)
    right = _with_margins(right, rng, 0.02, 0.4)
    real = _with_margins(_chatter(rng, 300)[0], rng, 0.0, 0.5)
    clean = fit_judge(right, rc, real, 0.85, _margin)
    assert clean.gate is None and clean.min_margin == 0.0
    noisy_right, nrc = _decodes(rng, 100, True)
    noisy_right = _with_margins(noisy_right, rng, 0.02, 0.4)
    noisy_wrong, nwc = _decodes(rng, 30, False)
    noisy = (noisy_right + noisy_wrong, nrc + nwc)
    judge = fit_judge(right, rc, real, 0.85, _margin, noisy=noisy)
    assert judge.gate is not None
    passing = [r for r in right + noisy[0] if judge.passes(r)]
    wrong = sum(r["slots"] != {"area": "kitchen"} for r in passing)
    assert 0 < wrong <= 0.02 * len(passing)
