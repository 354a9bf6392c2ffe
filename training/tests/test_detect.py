"""The detection rule (mirror of src/models/keyword.rs) and its vectorised single-label form."""

import numpy as np

from hark_train.detect import (
    Detector,
    count_fires,
    label_detections,
    refractory_frames,
    smooth,
)


def _scores(col1, col2=None):
    n = len(col1)
    s = np.zeros((n, 3), np.float32)
    s[:, 1] = col1
    if col2 is not None:
        s[:, 2] = col2
    s[:, 0] = 1 - s[:, 1:].sum(axis=1)
    return s


def test_fires_on_crossing_and_rearms_only_below():
    col = [0, 0.9, 0.9, 0.9, 0.2, 0.9, 0.9]
    d = Detector([None, 0.5, None], smoothing_frames=1, refractory=0)
    fired = [x.frame for x in d.run(_scores(col))]
    assert fired == [1, 5]


def test_refractory_blocks_then_fires_if_still_above():
    col = [0.9, 0.1, 0.9, 0.9, 0.9, 0.9, 0.1, 0.9]
    d = Detector([None, 0.5, None], smoothing_frames=1, refractory=4)
    fired = [x.frame for x in d.run(_scores(col))]
    # Frame 2 is within 4 frames of frame 0: blocked, still armed, fires at frame 4.
    assert fired == [0, 4]


def test_moving_average_counts_frames_seen_at_start():
    col = [0.8, 0.0, 0.0, 0.0]
    d = Detector([None, 0.5, None], smoothing_frames=3, refractory=0)
    # Frame 0: mean over 1 frame = 0.8 >= 0.5 -> fires.
    assert [x.frame for x in d.run(_scores(col))] == [0]
    s = smooth(np.array(col), 3)
    np.testing.assert_allclose(s, [0.8, 0.4, 0.8 / 3, 0.0], atol=1e-7)


def test_highest_label_wins_and_loser_stays_armed():
    a = [0.6, 0.6, 0.0]
    b = [0.3, 0.3, 0.0]
    d = Detector([None, 0.5, 0.25], smoothing_frames=1, refractory=0)
    got = [(x.frame, x.label) for x in d.run(_scores(a, b))]
    # Frame 0: label 1 wins; frame 1: label 2 (still armed, above its threshold) fires.
    assert got == [(0, 1), (1, 2)]


def test_vectorised_matches_frame_loop():
    rng = np.random.default_rng(0)
    for trial in range(20):
        col = np.clip(np.convolve(rng.random(600), np.ones(7) / 7, "same") * 1.3, 0, 1)
        sm = int(rng.integers(1, 8))
        refr = int(rng.integers(0, 60))
        t = float(rng.uniform(0.3, 0.9))
        d = Detector([None, t, None], sm, refr)
        loop = [x.frame for x in d.run(_scores(col))]
        vec = label_detections(smooth(col, sm), t, refr).tolist()
        assert loop == vec, trial
        assert count_fires(smooth(col, sm), t, refr) == len(loop)


def test_refractory_rounding():
    assert refractory_frames(1.0) == 100
    assert refractory_frames(0.255) == 26
