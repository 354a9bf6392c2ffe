"""realcheck: the octave spectrum it equalises with, and scoring through the shipped model."""

from pathlib import Path

import numpy as np
import pytest

from hark_train import realcheck
from hark_train.augment import EQ_KNOTS_HZ

SR = 16000
MODELS = Path(__file__).resolve().parents[2] / "models"


def test_octave_spectrum_peaks_at_the_tone():
    t = np.arange(SR) / SR
    tone = (0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    db = realcheck.octave_spectrum([tone])
    assert int(np.argmax(db)) == list(EQ_KNOTS_HZ).index(1000.0)
    assert db.max() - np.median(db) > 20


def test_variants_and_equalising_towards_a_reference():
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(SR).astype(np.float32) * 0.1 for _ in range(2)]
    # The reference is the same noise with its highs cut: equalising to it cuts them too.
    from scipy.signal import butter, sosfilt

    sos = butter(4, 2000, fs=SR, output="sos")
    dull = [sosfilt(sos, x).astype(np.float32) for x in clips]
    out = realcheck.variants(dull, clips)
    assert set(out) >= {"as recorded", "VTLP 0.85", "speed 0.9"}
    eq = out["equalised to the synthetic voices"]
    before, after = realcheck.octave_spectrum(clips), realcheck.octave_spectrum(eq)
    k4 = list(EQ_KNOTS_HZ).index(4000.0)
    assert after[k4] < before[k4] - 10
    assert all(len(a) == len(b) for a, b in zip(eq, clips, strict=True))


@pytest.mark.skipif(not (MODELS / "keyword.onnx").exists(), reason="no shipped keyword model")
def test_peaks_are_posteriors_of_the_shipped_model():
    pytest.importorskip("onnxruntime")
    from hark_train.crosscheck import KeywordReference

    ref = KeywordReference(MODELS)
    rng = np.random.default_rng(1)
    quiet = [rng.standard_normal(SR).astype(np.float32) * 1e-3]
    p = realcheck.peaks(ref, quiet, "computer")
    assert p.shape == (1,) and 0.0 <= p[0] < 0.5
