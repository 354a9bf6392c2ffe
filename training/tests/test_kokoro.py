"""The Kokoro voice family: IPA rewriting, style blends, the catalogue, recogniser clips."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from hark_train import kokoro_engine as K
from hark_train import voices as V
from hark_train.synth import engine_installed

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")
needs_kokoro = pytest.mark.skipif(not engine_installed("kokoro"), reason="kokoro not installed")


@needs_espeak
def test_ipa_uses_kokoro_symbols():
    ipa = K.english_ipa("check the day, jump right now")
    for one in ("ʧ", "ʤ", "A", "ɹ", "W"):
        assert one in ipa, (one, ipa)
    for pair in ("tʃ", "dʒ", "eɪ", "aʊ"):
        assert pair not in ipa, (pair, ipa)
    # A text starting with dashes is text, not an espeak-ng option.
    assert K.english_ipa("-- but still") == K.english_ipa("but still") != ""


def test_catalogue_leaves_kokoro_out_unless_asked():
    assert "kokoro" in V.FAMILIES and "kokoro" not in V.DEFAULT_FAMILIES
    assert all(v.family != "kokoro" for v in V.catalogue())
    names = [v.name for v in V.catalogue(["kokoro"])]
    assert len(names) == len(V.KOKORO_STYLES) * (len(V.KOKORO_STYLES) + 1) // 2
    assert "jf_alpha" in names and "jf_alpha+jm_kumo" in names


@needs_kokoro
def test_blended_style_is_the_mean_and_unknown_styles_are_refused():
    a, b = K.style_table("jf_alpha"), K.style_table("jm_kumo")
    np.testing.assert_allclose(K.style_table("jf_alpha+jm_kumo"), (a + b) / 2, atol=1e-6)
    with pytest.raises(K.KokoroError):
        K.style_table("jf_alpha+nobody")


@needs_kokoro
@needs_espeak
def test_speed_changes_the_length():
    slow = K.speak("turn on the light", "jm_kumo", 0.8)
    fast = K.speak("turn on the light", "jm_kumo", 1.2)
    assert slow.dtype == np.float32 and np.isfinite(slow).all()
    assert len(slow) > 1.2 * len(fast)


@needs_kokoro
@needs_espeak
def test_recogniser_clips_are_synthesised_once(tmp_path):
    from hark_train.phoneme_model import PhonemeConfig, kokoro_items

    cfg = PhonemeConfig(data=tmp_path, out=tmp_path, work=tmp_path / "ph", tiny=True, jobs=1)
    cfg.progress = False
    items = kokoro_items(cfg, ["stop", "lights off"])
    assert 1 <= len(items) <= 4
    assert all(split == "train" and text in ("stop", "lights off") for _, text, split in items)
    assert all(Path(w).is_file() for w, _, _ in items)
    assert kokoro_items(cfg, ["stop", "lights off"]) == items  # from the cache
    cfg.kokoro_clips = 0
    assert kokoro_items(cfg, ["stop"]) == []


@needs_kokoro
@needs_espeak
def test_a_text_too_long_for_kokoro_is_refused_not_cut():
    with pytest.raises(K.KokoroError, match="more than"):
        K.speak("turn on the kitchen light " * 40, "jm_kumo")


def test_without_espeak_the_family_is_unavailable_with_a_reason(monkeypatch):
    monkeypatch.setattr(V.shutil, "which", lambda name: None)
    voices = V.catalogue(["kokoro"])
    assert voices and not any(v.available for v in voices)
    assert all("espeak-ng" in v.note or "not importable" in v.note for v in voices)


@needs_kokoro
@needs_espeak
def test_keyword_kokoro_plan_adds_a_family_and_leaves_the_others_as_they_were(tmp_path):
    """``keyword --kokoro``: the Kokoro clips are planned apart, so every other family's clips
    (and their synthesis cache) stay the same."""
    from hark_train import keyword as kw
    from hark_train.texts import data_dir

    data = data_dir()
    if not (data / "text").is_dir():
        pytest.skip("needs the text corpora of ../shared/data")
    cfg = kw.Config(data=data, out=tmp_path, work=tmp_path)
    base = kw.synthesis_plan(cfg)
    cfg.kokoro = True
    plan = kw.synthesis_plan(cfg)
    assert [c.key for c in plan[: len(base)]] == [c.key for c in base]
    added = plan[len(base) :]
    assert added and {c.voice.family for c in added} == {"kokoro"}
    labels = [c.label for c in added if c.kind == "keyword"]
    # PER_FAMILY clips per keyword, less the few draws that repeat a clip already planned.
    assert all(labels.count(w) >= 0.9 * kw.PER_FAMILY for w in kw.KEYWORDS)
    assert sum(c.kind != "keyword" for c in added) == kw.NEGATIVES // 6
    assert all(kw.split_of({"family": "kokoro", "voice": c.voice.name}) == "train" for c in added)


def test_keyword_sources_name_kokoro_only_when_it_was_trained_on():
    from hark_train import keyword as kw

    def row(family):
        return {
            "family": family,
            "voice": "v",
            "label": "computer",
            "split": "train",
            "duration": 1,
        }

    def sources(rows):
        return [s["name"] for s in kw.summarise_data(rows, {}, [])["sources"]]

    assert not any("Kokoro" in s for s in sources([row("espeak")]))
    with_kokoro = sources([row("espeak"), row("kokoro")])
    assert any("Kokoro-82M" in s for s in with_kokoro)
    assert "Apache-2.0" in str(kw.summarise_data([row("kokoro")], {}, [])["sources"])
