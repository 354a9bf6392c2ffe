"""Wake-word verification (hark_train.wake_verify): the free-start CTC word score against a brute
force over every alignment, the window and threshold rules, the card section, and the shipped
model's golden cases (which the Rust runtime replays too)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from hark_train.card import put_section
from hark_train.wake_verify import (
    SECTION,
    Candidates,
    card_section,
    detected,
    spot_score,
    threshold_at_fa,
    window,
)

MODELS = Path(__file__).resolve().parents[2] / "models"


def _collapse(path: list[int]) -> list[int]:
    """CTC: merge repeats, drop blanks."""
    out, prev = [], None
    for p in path:
        if p != prev and p != 0:
            out.append(p)
        prev = p
    return out


def brute_force(logp: np.ndarray, ids: list[int]) -> float:
    """Every segment, every label path over it that reads exactly ``ids`` and starts and ends on
    a phoneme of the word."""
    d = logp - logp.max(axis=1, keepdims=True)
    n_frames, n_labels = d.shape
    best = -np.inf
    for a in range(n_frames):
        for b in range(a + 1, n_frames + 1):
            for path in itertools.product(range(n_labels), repeat=b - a):
                if path[0] != ids[0] or path[-1] != ids[-1]:
                    continue
                if _collapse(list(path)) != ids:
                    continue
                best = max(best, float(sum(d[a + i, p] for i, p in enumerate(path))))
    return best


@pytest.mark.parametrize("ids", [[1, 2], [1, 1], [2, 1, 2]])
def test_spot_score_is_the_best_alignment_anywhere(ids) -> None:
    rng = np.random.default_rng(len(ids))
    for _ in range(3):
        logits = rng.normal(size=(6, 3)) * 2
        logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        assert spot_score(logp, ids) == pytest.approx(brute_force(logp, ids), abs=1e-9)


def test_a_word_said_scores_zero_and_a_short_window_minus_infinity() -> None:
    says = np.full((6, 3), -5.0)
    for t, k in enumerate([0, 1, 0, 2, 0, 0]):
        says[t, k] = -0.01
    assert spot_score(says, [1, 2]) == pytest.approx(0.0)
    assert spot_score(says[:1], [1, 2]) == -np.inf
    with pytest.raises(ValueError):
        spot_score(says, [])


def test_window_and_thresholds() -> None:
    assert window(1000, 500, 200, 50) == (301, 551)
    assert window(520, 10, 200, 50) == (0, 61)
    assert window(520, 500, 200, 50) == (301, 520)
    # Two hours, at most one false alarm: just above the second-highest negative.
    neg = np.array([-0.5, -1.0, -2.0, -9.0])
    t = threshold_at_fa(neg, 2.0, 0.5)
    assert -1.0 < t <= -1.0 + 2e-3
    assert threshold_at_fa(neg, 2.0, 10.0) == -np.inf
    clips = [
        Candidates(np.array([3]), np.array([-0.2])),
        Candidates(np.array([], int), np.array([])),
    ]
    assert detected(clips, t).tolist() == [True, False]


def test_the_card_section_replaces_an_earlier_one_and_keeps_the_hand_notes(tmp_path) -> None:
    verify = {
        "recogniser": "phonemes",
        "window_before_s": 2.0,
        "window_after_s": 0.5,
        "words": {
            "computer": {"symbols": ["k", "@"], "threshold": -3.3, "phonemes": [38, 2]},
            "jarvis": {"symbols": ["dZ"], "threshold": -3.5, "phonemes": [28]},
        },
    }
    ev = {
        "candidate_threshold": 0.3,
        "target_fa_per_hour": 0.5,
        "negatives_hours": 2.0,
        "wake_fa_per_hour_full_rule": 1.0,
        "words": {
            "computer": {
                "candidates_per_hour": 96.0,
                "fa_per_hour": 0.5,
                "real": {
                    "clips": 67,
                    "miss_rate": 0.25,
                    "miss_rate_at_0.1": 0.3,
                    "reach_candidate": 0.88,
                    "by_contributor": {"a": 0.1},
                },
                "holdout": {"clips": 60, "miss_rate": 0.0},
            },
            "jarvis": {"candidates_per_hour": 3.0, "fa_per_hour": 0.5},
        },
    }
    text = card_section(ev, verify)
    assert "**25.0%** of 67" in text and "no real clips" in text
    card = tmp_path / "keyword.md"
    card.write_text("# Card\n\n## Evaluation\n\nfigures\n\n## Notes on this build\n\nby hand\n")
    put_section(card, SECTION, text)
    put_section(card, SECTION, text)
    out = card.read_text()
    assert out.count(SECTION) == 1
    assert out.index("## Evaluation") < out.index(SECTION) < out.index("## Notes on this build")
    assert out.endswith("by hand\n")


def test_the_shipped_golden_cases_score_as_written() -> None:
    path = MODELS / "keyword.verify-golden.json"
    meta = json.loads((MODELS / "keyword.json").read_text())
    verify = meta["keyword"].get("verify")
    if verify is None or not path.exists():
        pytest.skip("the shipped keyword model has no verification")
    cases = json.loads(path.read_text())["cases"]
    assert len(cases) >= 2
    for c in cases:
        lp = np.array(c["logp"]["data"], np.float32).reshape(c["logp"]["shape"])
        ids = verify["words"][c["word"]]["phonemes"]
        assert spot_score(lp, ids) == pytest.approx(c["score"], rel=1e-12, abs=1e-12)
