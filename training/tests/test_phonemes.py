"""Phoneme transcriptions for the auxiliary CTC loss: espeak-ng's ASCII output parsed into
phoneme symbols, the inventory and CTC target encoding, and the example/text pairing."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from hark_train.intent import example_texts, phoneme_targets
from hark_train.phonemes import BLANK, encode, inventory, parse, phonemize, phonemize_all


def test_parse_drops_stress_pauses_and_variant_digits() -> None:
    assert parse("t_'3:_n O2_n_D_@2 k_'I_tS_@_n l_'aI_t") == [
        "t", "3:", "n", "O", "n", "D", "@", "k", "I", "tS", "@", "n", "l", "aI", "t",
    ]  # fmt: skip
    assert parse("_:_!w ,a_:s d_I#_g") == ["w", "a", "s", "d", "I", "g"]
    assert parse("") == []


def test_parse_keeps_the_phonemes_written_as_digits() -> None:
    # "computer" and "monitor" in en-us: 3 is the r-coloured schwa, 0 the vowel of "lot".
    assert parse("k_@_m_p_j_'u:_t#_3") == ["k", "@", "m", "p", "j", "u:", "t", "3"]
    assert parse("m_'0_n_I_t#_3") == ["m", "0", "n", "I", "t", "3"]
    assert parse("'3:_l_i") == ["3:", "l", "i"]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_a_cache_from_another_parser_version_is_read_again(tmp_path: Path) -> None:
    cache = tmp_path / "ph.json"
    cache.write_text('{"computer": ["k", "@", "m", "p", "j", "u:", "t"]}')
    assert phonemize_all(["computer"], cache)["computer"][-1] == "3"
    assert phonemize_all(["computer"], cache)["computer"] == phonemize("computer")


def test_encode_reserves_zero_for_the_blank() -> None:
    inv = inventory([["t", "3:", "n"], ["O", "n"]])
    assert inv == ["3:", "O", "n", "t"]
    assert BLANK == 0
    assert encode(["t", "3:", "n", "O", "n"], inv) == [4, 1, 3, 2, 3]
    assert encode(["t", "unknown"], inv) == [4]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_phonemize_is_cached_and_tells_on_from_off(tmp_path: Path) -> None:
    on, off = phonemize("turn on the light"), phonemize("turn off the light")
    assert on != off and len(on) >= 8
    cache = tmp_path / "ph.json"
    got = phonemize_all(["turn on the light", "turn off the light"], cache)
    assert got["turn on the light"] == on
    assert cache.exists()
    # Read back from the cache without calling espeak-ng again.
    again = phonemize_all(["turn off the light"], cache)
    assert again["turn off the light"] == off


def test_example_texts_follow_the_order_of_the_examples() -> None:
    clips = [SimpleNamespace(text="turn on"), SimpleNamespace(text="stop")]
    assert example_texts(clips, 2, 6) == ["turn on", "turn on", "stop", "stop", None, None]
    with pytest.raises(ValueError):
        example_texts(clips, 2, 3)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_phoneme_targets_leave_unknown_speech_without_a_target(tmp_path: Path) -> None:
    targets, inv = phoneme_targets(["stop", None, "stop it"], tmp_path / "ph.json")
    assert targets[1] is None
    assert targets[0] and targets[2][: len(targets[0])] == targets[0]
    assert all(1 <= t <= len(inv) for t in targets[2])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_noisy_copies_add_noisier_training_examples_only(tmp_path: Path) -> None:
    import numpy as np

    from hark_train.audio import write_wav
    from hark_train.phoneme_model import PhonemeConfig, build_bank

    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    speech = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )
    noise = (0.1 * rng.standard_normal(32000)).astype(np.float32)
    write_wav(tmp_path / "a.wav", speech)
    write_wav(tmp_path / "noise.wav", noise)
    items = [(str(tmp_path / "a.wav"), "turn on", s) for s in ("train", "valid")]
    real = {"train_noise": [tmp_path / "noise.wav"]}

    def bank(n: int):
        cfg = PhonemeConfig(data=tmp_path, out=tmp_path, work=tmp_path / "w", noisy_copies=n)
        return build_bank(cfg, items, real)

    plain, noisy = bank(0), bank(2)
    assert [s for _, _, s in plain] == ["train", "train", "valid"]
    assert [s for _, _, s in noisy] == ["train"] * 4 + ["valid"]
    # The same seed draws the first copies alike; the extra ones bury the quiet padding in
    # noise, so their frames span a smaller range of levels than the clean copy's.
    np.testing.assert_allclose(plain[0][0].astype(np.float32), noisy[0][0].astype(np.float32))

    def level_range(f) -> float:
        level = f.astype(np.float32).max(1)
        return float(np.percentile(level, 95) - np.percentile(level, 5))

    ranges = [level_range(f) for f, _, _ in noisy]
    assert max(ranges[2:4]) < ranges[0] / 2, ranges
    assert len(list((tmp_path / "w").glob("bank-*.pkl"))) == 2


def test_an_exported_recogniser_loads_back_into_pytorch(tmp_path: Path) -> None:
    """``phonemes --init``: the exported graph's weights (ONNX gate order) back in PyTorch give
    the same log-probabilities, with the inventory and normalisation of the metadata."""
    import json

    import numpy as np
    import torch

    from hark_train.export import export_phonemes
    from hark_train.features import FrontEndParams
    from hark_train.nets import PhonemeRecogniser
    from hark_train.phoneme_model import load_exported

    torch.manual_seed(3)
    inv = ["a", "b", "k", "t"]
    model = PhonemeRecogniser(40, len(inv)).eval()
    for p in model.parameters():  # past the default init's symmetric ranges, per tensor
        p.data += 0.05 * torch.randn_like(p)
    mean = [0.1 * k for k in range(40)]
    std = [1.0 + 0.01 * k for k in range(40)]

    def export(net: PhonemeRecogniser, name: str) -> None:
        frontend = FrontEndParams(mean=mean, std=std)
        export_phonemes(
            net, tmp_path, name, frontend=frontend, inventory=inv, training={}, evaluation={}
        )

    export(model, "ph")
    back, got_inv, got_mean, got_std = load_exported(tmp_path / "ph.onnx")
    assert got_inv == inv
    np.testing.assert_allclose(got_mean, mean, rtol=1e-6)
    np.testing.assert_allclose(got_std, std, rtol=1e-6)
    x = torch.from_numpy(np.random.default_rng(1).standard_normal((1, 90, 40)).astype(np.float32))
    with torch.no_grad():
        np.testing.assert_allclose(back(x).numpy(), model(x).numpy(), atol=1e-5)
        for a, b in zip(back.state_dict().values(), model.state_dict().values(), strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-7)

    # A recogniser of another size is refused, naming the file.
    export(PhonemeRecogniser(40, len(inv), hidden=32).eval(), "narrow")
    with pytest.raises(ValueError, match=r"narrow\.onnx: LSTM layer 0 has 32 hidden units"):
        load_exported(tmp_path / "narrow.onnx")

    meta = json.loads((tmp_path / "ph.json").read_text())
    (tmp_path / "ph.json").write_text(json.dumps({**meta, "kind": "intent"}))
    with pytest.raises(ValueError, match="not a phoneme recogniser"):
        load_exported(tmp_path / "ph.onnx")


@pytest.mark.parametrize("lr", ["0", "-1e-3", "nan", "x"])
def test_phonemes_cli_refuses_a_bad_learning_rate(lr: str, capsys) -> None:
    from hark_train.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["phonemes", "--out", "/nonexistent", "--lr", lr])
    assert e.value.code == 2 and "--lr" in capsys.readouterr().err
