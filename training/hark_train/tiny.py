"""Tiny models for the runtime's tests: real networks, trained for a few steps, exported.

They exercise every part of the model contract (streaming state, slot heads, metadata, golden
vectors) at a size that can be committed, so that the Rust tests never rely on hand-written
outputs. They are not useful detectors: the real models are trained by ``keyword`` / ``intent``.

``python -m hark_train tiny-models --out tests/fixtures/models``
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .export import export_keyword, export_utterance, git_commit
from .features import FrontEndParams, mfcc, read_wav
from .nets import StreamingKeywordNet, UtteranceClassifier

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "tests" / "fixtures" / "models"
KEYWORD_LABELS = ["_background_", "computer", "jarvis"]
INTENT_LABELS = ["HassTurnOn", "HassTurnOff", "_out_of_grammar_"]
SLOTS = [
    {"name": "area", "output": "slot_area", "values": ["kitchen", "bedroom"]},
    {"name": "name", "output": "slot_name", "values": ["light", "fan"]},
]
SENTIMENT_LABELS = ["negative", "neutral", "positive"]


def _normalised_features(params: FrontEndParams) -> np.ndarray:
    """MFCC of the front-end fixtures, normalised with their own statistics (sets mean/std)."""
    frames = []
    for stem in ("speech", "quiet_speech", "tones_noise"):
        audio, _ = read_wav(REPO / "tests" / "fixtures" / "frontend" / f"{stem}.wav")
        frames.append(mfcc(audio, params))
    stacked = np.concatenate(frames)
    params.mean = [round(float(v), 4) for v in stacked.mean(axis=0)]
    params.std = [round(max(float(v), 1e-3), 4) for v in stacked.std(axis=0)]
    return ((stacked - np.array(params.mean)) / np.array(params.std)).astype(np.float32)


def _training(command: str) -> dict:
    return {
        "data": [
            {
                "name": "tests/fixtures/frontend (project-made espeak-ng speech)",
                "licence": "project",
            }
        ],
        "command": command,
        "commit": git_commit(REPO),
        "seed": 0,
        "note": "tiny test fixture trained for a few steps; not a usable model",
    }


def generate(out: Path = DEFAULT_OUT, steps: int = 30) -> list[Path]:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    params = FrontEndParams()
    feats = torch.from_numpy(_normalised_features(params))
    n_feat = feats.shape[1]
    command = "python -m hark_train tiny-models --out tests/fixtures/models"
    written: list[Path] = []

    # Keyword: frame targets from a fixed pattern, a few Adam steps.
    kw = StreamingKeywordNet(n_feat, len(KEYWORD_LABELS), conv_channels=8, kernel=3, hidden=12)
    opt = torch.optim.Adam(kw.parameters(), lr=0.01)
    x = feats[None]
    target = (torch.arange(x.shape[1]) // 50 % len(KEYWORD_LABELS))[None]
    for _ in range(steps):
        logits, *_ = kw.logits(x, *kw.initial_state(1))
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    paths = export_keyword(
        kw,
        out,
        "keyword",
        frontend=params,
        features="mfcc",
        labels=KEYWORD_LABELS,
        keyword={
            "background": "_background_",
            "wake_words": ["computer", "jarvis"],
            "thresholds": {"computer": 0.6, "jarvis": 0.6},
            "smoothing_frames": 5,
            "refractory_s": 1.0,
        },
        training=_training(command),
    )
    written += paths.values()

    # Intent: one utterance head per output, trained on random crops.
    heads = {"intent": len(INTENT_LABELS)}
    heads.update({s["output"]: len(s["values"]) + 1 for s in SLOTS})
    intent = UtteranceClassifier(n_feat, heads, hidden=8, layers=1)
    sentiment = UtteranceClassifier(n_feat, {"sentiment": 3}, hidden=8, layers=1)
    g = torch.Generator().manual_seed(0)
    for model in (intent, sentiment):
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(steps):
            start = int(torch.randint(0, feats.shape[0] - 100, (1,), generator=g))
            crop = feats[start : start + 100][None]
            outs = model.logits(crop)
            loss = sum(
                torch.nn.functional.cross_entropy(z, torch.tensor([start % z.shape[-1]]))
                for z in outs
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    paths = export_utterance(
        intent,
        out,
        "intent",
        kind="intent",
        frontend=params,
        features="mfcc",
        labels=INTENT_LABELS,
        output_names=list(heads),
        extra={
            "intent": {
                "out_of_grammar": "_out_of_grammar_",
                "threshold": 0.5,
                "slots": SLOTS,
            }
        },
        training=_training(command),
        n_features=n_feat,
    )
    written += paths.values()
    paths = export_utterance(
        sentiment,
        out,
        "sentiment",
        kind="sentiment",
        frontend=params,
        features="mfcc",
        labels=SENTIMENT_LABELS,
        output_names=["sentiment"],
        extra={},
        training=_training(command),
        n_features=n_feat,
    )
    written += paths.values()
    return written
