"""Training streams: keywords land where the events say, and the targets follow them."""

import numpy as np

from hark_train.features import FrontEndParams, frame_count, log_mel
from hark_train.streams import (
    EARLY,
    IGNORE,
    LATE,
    Event,
    FastLogMel,
    StreamSpec,
    frame_targets,
    make_stream,
    speech_bounds,
    stream_log_mel,
    voiced_bounds,
)

SR = 16000


def _tone(freq, secs, pad=0.1):
    t = np.arange(int(secs * SR)) / SR
    x = np.sin(2 * np.pi * freq * t).astype(np.float32) * 0.5
    z = np.zeros(int(pad * SR), np.float32)
    return np.concatenate([z, x, z])


def _spec():
    kw = _tone(1000, 0.4)
    s, e = speech_bounds(kw)
    keywords = [[], [Event(kw, 1, "keyword", s, e)], [Event(_tone(2000, 0.3), 2, "keyword")]]
    keywords[2][0].speech_start, keywords[2][0].speech_end = speech_bounds(keywords[2][0].audio)
    neg = [Event(np.zeros(int(0.5 * SR), np.float32), 0, "sentence")]
    return StreamSpec(keywords, neg, p_keyword=0.7, p_real=0.0)


def test_speech_bounds_finds_the_tone():
    x = _tone(1000, 0.4, pad=0.2)
    s, e = speech_bounds(x)
    assert abs(s - 0.2 * SR) <= 160 and abs(e - 0.6 * SR) <= 160


def _noisy_word(rng, floor_db=-50.0, word_db=-20.0, start=0.7, end=1.3, tail_db=-30.0):
    """2 s of rumble + hiss at ``floor_db``, a voiced 'word' (harmonics of 150 Hz) from
    ``start`` to ``end`` whose last 0.15 s is 10 dB quieter (an unstressed last syllable)."""
    n = 2 * SR
    hiss = rng.standard_normal(n) * 10 ** (floor_db / 20)
    t = np.arange(n) / SR
    rumble = np.sin(2 * np.pi * 50 * t) * 10 ** ((floor_db + 20) / 20)
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 20))
    voice = voice / np.abs(voice).max()
    gain = np.zeros(n)
    a, b, c = int(start * SR), int((end - 0.15) * SR), int(end * SR)
    gain[a:b] = 10 ** (word_db / 20)
    gain[b:c] = 10 ** (tail_db / 20)
    return (hiss + rumble + voice * gain).astype(np.float32)


def test_voiced_bounds_finds_a_word_in_a_noisy_recording():
    rng = np.random.default_rng(5)
    x = _noisy_word(rng)
    s, e = voiced_bounds(x)
    assert abs(s - 0.7 * SR) <= 0.05 * SR
    assert abs(e - 1.3 * SR) <= 0.05 * SR, "the quiet last syllable belongs to the word"
    # Relative to the loudest frame alone, the rumble makes the whole clip look like speech.
    s2, e2 = speech_bounds(x)
    assert e2 - s2 > 1.5 * SR


def test_voiced_bounds_of_silence_and_of_a_short_clip():
    assert voiced_bounds(np.zeros(100, np.float32)) == (0, 100)
    s, e = voiced_bounds(np.zeros(SR, np.float32))
    assert 0 <= s <= e <= SR


def test_keywords_are_where_the_events_say_and_targets_align():
    rng = np.random.default_rng(3)
    spec = _spec()
    spec.noises = []
    audio, placed = make_stream(rng, spec, 20.0)
    assert len(placed) >= 3
    for p in placed:
        seg = audio[p.speech_start : p.speech_end]
        # The placed tone is loud where it was placed and quiet just after its end + gap.
        assert np.abs(seg).max() > 1e-3
        lo = p.speech_end + int(0.05 * SR)
        assert np.abs(audio[lo : lo + int(0.25 * SR)]).max() < 1e-3
    y = frame_targets(len(audio), placed)
    assert len(y) == frame_count(len(audio), FrontEndParams())
    for p in placed:
        fe = p.speech_end // 160
        assert (y[fe - EARLY : fe + LATE] == p.label).all()
        assert (y[p.speech_start // 160 : fe - EARLY] == IGNORE).all()
    assert (y == 0).mean() > 0.5
    labelled = {int(v) for v in np.unique(y) if v > 0}
    assert labelled == {p.label for p in placed}


def test_fast_and_block_logmel_match_reference():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(SR) * 0.1).astype(np.float32)
    ref = log_mel(x, FrontEndParams())
    np.testing.assert_allclose(FastLogMel()(x), ref, atol=2e-3)
    np.testing.assert_allclose(stream_log_mel(x, FrontEndParams(), block=7), ref, atol=1e-4)
