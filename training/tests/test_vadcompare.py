"""The VAD comparison harness: the energy detector port, the endpointing rule, and the export of
the shipped VAD model (Silero's graph with metadata, golden vectors and card)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hark_train.vadcompare import HANGOVER_HOPS, endpoint, energy_vad, speech_end


def _tone(seconds: float, amp: float) -> np.ndarray:
    return (amp * np.sin(np.arange(int(seconds * 16000)) * 0.07)).astype(np.float32)


def _noise(seconds: float, amp: float, seed: int = 0) -> np.ndarray:
    return (amp * np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * 16000))).astype(
        np.float32
    )


def test_energy_vad_finds_a_tone_in_quiet_noise_with_its_hangover() -> None:
    x = np.concatenate([_noise(2.0, 0.01), _tone(0.5, 0.3), _noise(1.0, 0.01, 1)])
    d = energy_vad(x)
    assert not d[50:200].any()
    assert d[200:250].sum() >= 45
    after = d[250:]
    held = int(np.argmin(after)) if not after.all() else len(after)
    assert held == HANGOVER_HOPS
    assert not after[held:].any()


def test_endpoint_rule() -> None:
    hops = np.zeros(900, bool)
    hops[30:130] = True  # speech from 0.3 s to 1.3 s
    kind, end = endpoint(hops)
    assert kind == "ended" and abs(end - 1.3) < 0.011
    assert endpoint(np.zeros(900, bool)) == ("missed", None)
    on = np.zeros(900, bool)
    on[10:] = True
    assert endpoint(on) == ("runaway", None)


def test_speech_end_of_a_padded_tone() -> None:
    x = np.concatenate([_tone(1.0, 0.5), np.zeros(8000, np.float32)])
    assert abs(speech_end(x) - 1.0) < 0.011


def test_export_vad_writes_checked_metadata(tmp_path: Path) -> None:
    pytest.importorskip("silero_vad")
    pytest.importorskip("onnxruntime")
    from hark_train.vadcompare import export_vad

    paths = export_vad(tmp_path, {"clips": 1, "conditions": {}})
    meta = json.loads(paths["json"].read_text())
    assert meta["kind"] == "vad" and meta["vad"]["window"] == 512
    assert [i["name"] for i in meta["io"]["inputs"]] == ["input", "h", "c"]
    golden = json.loads(paths["golden"].read_text())
    probs = golden["outputs"]["speech_probs"]["data"]
    assert len(probs) == 6 and all(0.0 <= p <= 1.0 for p in probs)
    assert max(probs) > 0.9  # the fixture is speech
    assert "MIT" in (tmp_path / "vad.md").read_text()
