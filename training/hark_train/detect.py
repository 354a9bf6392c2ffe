"""The keyword detection rule, exactly as the Rust runtime applies it.

Mirrors ``KeywordDetector`` in ``src/models/keyword.rs`` so that the figures the training
pipeline reports describe what users get:

- every label's posterior is smoothed by a moving average over the last ``smoothing_frames``
  frames (over the frames seen so far while fewer have arrived), clamped to [0, 1];
- a label with a threshold is a candidate on a frame when its smoothed posterior is ``>=`` the
  threshold, it is *armed* (it has been below its threshold since it last fired) and it is not in
  its refractory period (``refractory_s`` rounded to frames since it last fired);
- of the candidates the one with the highest smoothed posterior fires; it is disarmed and its
  refractory period starts. A candidate that did not win stays armed and can fire on a later
  frame. The background label never fires.

``Detector`` is the frame-by-frame mirror (used for final figures and tested against the runtime
rule); ``label_detections`` is an exact vectorised version for one label on its own (every other
label without a threshold), used to sweep thresholds quickly for DET curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detection:
    frame: int
    label: int
    score: float


def refractory_frames(refractory_s: float, hop_s: float = 0.01) -> int:
    """Frames of the refractory period, rounded as the runtime does."""
    return int(round(refractory_s / hop_s))


class Detector:
    """Frame-by-frame detector; ``thresholds[i]`` is None for labels that never fire."""

    def __init__(
        self,
        thresholds: list[float | None],
        smoothing_frames: int,
        refractory: int,
    ) -> None:
        self.thresholds = list(thresholds)
        self.n = len(self.thresholds)
        self.window = max(1, int(smoothing_frames))
        self.refractory = int(refractory)
        self.reset()

    def reset(self) -> None:
        self.history = np.zeros((self.window, self.n), dtype=np.float32)
        self.sums = np.zeros(self.n, dtype=np.float32)
        self.last_fired: list[int | None] = [None] * self.n
        self.armed = [True] * self.n
        self.frame = 0

    def update(self, scores) -> Detection | None:
        scores = np.asarray(scores, dtype=np.float32)
        slot = self.frame % self.window
        filled = np.float32(min(self.frame + 1, self.window))
        best: tuple[int, float] | None = None
        for i in range(self.n):
            old = self.history[slot, i]
            self.history[slot, i] = scores[i]
            self.sums[i] = np.float32(self.sums[i] + (scores[i] - old))
            t = self.thresholds[i]
            if t is None:
                continue
            smoothed = float(min(max(self.sums[i] / filled, 0.0), 1.0))
            if smoothed < t:
                self.armed[i] = True
                continue
            last = self.last_fired[i]
            refr = last is not None and self.frame - last < self.refractory
            if self.armed[i] and not refr and (best is None or smoothed > best[1]):
                best = (i, smoothed)
        det = None
        if best is not None:
            i, s = best
            self.armed[i] = False
            self.last_fired[i] = self.frame
            det = Detection(self.frame, i, s)
        self.frame += 1
        return det

    def run(self, scores: np.ndarray) -> list[Detection]:
        """Detections over a ``[T, n_labels]`` posterior matrix (continuing the stream)."""
        out = []
        for row in np.asarray(scores, dtype=np.float32):
            d = self.update(row)
            if d is not None:
                out.append(d)
        return out


def smooth(scores: np.ndarray, smoothing_frames: int) -> np.ndarray:
    """Moving average over the last ``smoothing_frames`` frames (fewer at the start), clamped."""
    x = np.asarray(scores, dtype=np.float64)
    w = max(1, int(smoothing_frames))
    c = np.cumsum(x, axis=0)
    out = c.copy()
    out[w:] = c[w:] - c[:-w]
    counts = np.minimum(np.arange(1, len(x) + 1), w).astype(np.float64)
    out /= counts.reshape((-1,) + (1,) * (x.ndim - 1))
    return np.clip(out, 0.0, 1.0)


def runs_above(smoothed: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the runs of frames where ``smoothed >= threshold`` (end exclusive)."""
    above = np.asarray(smoothed) >= threshold
    if not above.any():
        return np.zeros(0, int), np.zeros(0, int)
    d = np.diff(above.astype(np.int8), prepend=0, append=0)
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def label_detections(smoothed: np.ndarray, threshold: float, refractory: int) -> np.ndarray:
    """Frames where one label fires, from its smoothed posterior (1-D), when it is the only
    label with a threshold: the rule of ``Detector`` for that case, vectorised over runs."""
    starts, ends = runs_above(smoothed, threshold)
    fires = []
    last = None
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        f = s if last is None else max(s, last + refractory)
        if f < e:
            fires.append(f)
            last = f
    return np.asarray(fires, dtype=int)


def count_fires(smoothed: np.ndarray, threshold: float, refractory: int) -> int:
    return len(label_detections(smoothed, threshold, refractory))
