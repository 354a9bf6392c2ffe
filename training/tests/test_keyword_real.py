"""Real keyword recordings as training events: trimmed to the word, targets at its end."""

from pathlib import Path

import numpy as np
import soundfile as sf

from hark_train import realdata as rd
from hark_train.keyword import Config, real_keyword_events
from hark_train.streams import EARLY, LATE, Event, StreamSpec, frame_targets, make_stream

SR = 16000


def _recording(path: Path, rng, start=0.8, end=1.3):
    """2 s of hiss and rumble with a voiced 'word' from ``start`` to ``end``, as a FLAC file."""
    n = 2 * SR
    t = np.arange(n) / SR
    x = rng.standard_normal(n) * 10 ** (-50 / 20) + np.sin(2 * np.pi * 50 * t) * 0.03
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20))
    gain = np.zeros(n)
    gain[int(start * SR) : int(end * SR)] = 0.1 / np.abs(voice).max()
    sf.write(path, (x + voice * gain).astype(np.float32), SR, subtype="PCM_16")
    return rd.Clip(str(path), "computer", "someone", "computer")


def test_real_recordings_become_trimmed_events_whose_target_is_the_word_end(tmp_path):
    rng = np.random.default_rng(1)
    clips = [_recording(tmp_path / f"c{i}.flac", rng) for i in range(2)]
    cfg = Config(data=tmp_path, out=tmp_path, work=tmp_path, seed=3)
    events = real_keyword_events(cfg, clips, label=1, variants=3, rirs=[])
    assert len(events) == 6
    clean = events[0]
    # Trimmed to the word (0.5 s) plus 0.3 s each side, faded in and out.
    assert abs(len(clean.audio) - 1.1 * SR) <= 0.06 * SR
    assert abs(clean.speech_start - 0.3 * SR) <= 0.05 * SR
    assert abs(clean.speech_end - 0.8 * SR) <= 0.05 * SR
    assert clean.audio.dtype == np.int16 and abs(int(clean.audio[0])) < 200
    for ev in events:
        assert ev.label == 1 and ev.kind == "real"
        assert 0 < ev.speech_start < ev.speech_end <= len(ev.audio)
    # Same seed, same events: runs repeat.
    again = real_keyword_events(cfg, clips, label=1, variants=3, rirs=[])
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(events, again, strict=True))

    # In a stream, the label sits at the end of the real word.
    spec = StreamSpec([[], events], [Event(np.zeros(SR // 2, np.float32), 0, "sentence")])
    spec.p_keyword, spec.p_real = 0.9, 0.0
    audio, placed = make_stream(np.random.default_rng(2), spec, 12.0)
    y = frame_targets(len(audio), placed)
    assert placed
    for p in placed:
        fe = p.speech_end // 160
        assert (y[fe - EARLY : fe + LATE] == 1).all()
