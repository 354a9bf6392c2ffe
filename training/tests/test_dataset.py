"""The synthetic dataset plan (deterministic, balanced, held-out families), the manifest
round trip, and a tiny end-to-end ``python -m hark_train synth`` run with espeak-ng."""

import json
import shutil

import pytest

from hark_train import dataset as D
from hark_train.__main__ import main
from hark_train.texts import NEGATIVE, contains_keyword
from hark_train.voices import Voice

HAVE_ESPEAK = shutil.which("espeak-ng") is not None


def _voices():
    vs = [Voice("espeak", f"en-us+m{i}", "espeak-ng") for i in range(1, 7)]
    vs += [Voice("flite", "kal", "flite"), Voice("flite", "slt", "flite")]
    vs += [Voice("piper", "joe", "piper", path="/x.onnx")]
    vs += [Voice("pico", "en-US", "pico2wave", available=False, note="missing")]
    return vs


@pytest.fixture()
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sst = tmp_path / "data" / "text" / "sst2"
    sst.mkdir(parents=True)
    lines = [f"a fine film number {i} with a good cast" for i in range(30)]
    lines += ["the computer was great", "hey jarvis nice", "no way", "stop it now"]
    (sst / "train.tsv").write_text(
        "sentence\tlabel\n" + "".join(f"{s}\t1\n" for s in lines), encoding="utf-8"
    )
    return tmp_path / "data"


def test_plan_is_deterministic_and_balanced(data):
    kw = dict(negatives=10, per_voice=1, per_family=6, data=data, holdout_families=["flite"])
    a = D.build_plan(_voices(), ["computer", "stop"], seed=5, **kw)
    b = D.build_plan(_voices(), ["computer", "stop"], seed=5, **kw)
    c = D.build_plan(_voices(), ["computer", "stop"], seed=6, **kw)
    assert [x.key for x in a] == [x.key for x in b]
    assert [x.key for x in a] != [x.key for x in c]
    keywords = [x for x in a if x.label != NEGATIVE]
    for w in ("computer", "stop"):
        fam = {}
        for x in keywords:
            if x.label == w:
                fam[x.voice.family] = fam.get(x.voice.family, 0) + 1
        # espeak: 6 voices x 1; flite: 2 voices x 3; piper: 1 voice x 6; pico: not installed.
        assert fam == {"espeak": 6, "flite": 6, "piper": 6}
    assert all(x.split == ("holdout" if x.voice.family == "flite" else "train") for x in a)
    negs = [x for x in a if x.label == NEGATIVE]
    assert len(negs) == 10
    assert {x.kind for x in negs} == {"confusable", "sentence"}
    for x in negs:
        assert not contains_keyword(x.text, ["computer", "stop"]), x.text
    assert len({x.key for x in a}) == len(a)
    for x in keywords:
        assert x.label in x.text and x.kind == "keyword"


def test_plan_needs_a_voice(data):
    with pytest.raises(ValueError):
        D.build_plan([Voice("pico", "en-US", "pico2wave", available=False)], ["go"], data=data)


def test_select_voices_subset_is_seeded():
    vs = _voices()
    a = D.select_voices(vs, 2, seed=1)
    assert a == D.select_voices(vs, 2, seed=1)
    assert sum(v.family == "espeak" for v in a) == 2
    assert all(v.available for v in a)
    assert len(D.select_voices(vs, None, 0)) == 9


def test_manifest_round_trip(tmp_path):
    spec = D.ClipSpec("hey computer", "computer", "keyword", _voices()[0], {"wpm": 150})
    rows = [
        D.manifest_row(spec, 0.812345, "clips/ab/x.wav"),
        D.manifest_row(spec, 1.0, "/abs/y.wav") | {"text": "ünïcode “quotes”"},
    ]
    D.write_jsonl(tmp_path / D.MANIFEST, rows)
    back = D.read_manifest(tmp_path / D.MANIFEST)
    assert back == [rows[0] | {"duration": 0.8123}, rows[1]]
    resolved = D.read_manifest(tmp_path / D.MANIFEST, resolve=True)
    assert resolved[0]["path"] == str((tmp_path / "clips/ab/x.wav").resolve())
    assert resolved[1]["path"] == "/abs/y.wav"
    assert set(back[0]) == {
        "path", "text", "label", "kind", "source", "family", "voice", "engine", "settings",
        "duration", "split", "key",
    }  # fmt: skip


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
def test_synth_cli_end_to_end(data, tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "synth", "--out", str(out), "--words", "yes", "jarvis", "--families", "espeak",
        "--max-voices-per-family", "2", "--negatives", "2", "--data", str(data),
        "--jobs", "1", "--no-progress", "--seed", "3", "--holdout-family", "espeak",
    ]  # fmt: skip
    assert main(args) == 0
    rows = D.read_manifest(out / D.MANIFEST, resolve=True)
    assert len(rows) == 2 * 2 + 2
    assert {r["label"] for r in rows} == {"yes", "jarvis", NEGATIVE}
    assert all(r["split"] == "holdout" and r["family"] == "espeak" for r in rows)
    for r in rows:
        assert (out / r["path"]).is_file() or r["path"].startswith(str(out))
        if r["label"] != NEGATIVE and r["text"] == r["label"]:
            assert 0.3 <= r["duration"] <= 1.5
    summary = json.loads((out / D.SUMMARY).read_text())
    assert summary["clips"] == 6 and summary["families"]["espeak"]["made_now"] == 6
    # Resumed: nothing is made again; the manifest is identical.
    first = (out / D.MANIFEST).read_text()
    assert main(args) == 0
    assert (out / D.MANIFEST).read_text() == first
    summary = json.loads((out / D.SUMMARY).read_text())
    assert summary["cached"] == 6 and summary["families"]["espeak"]["made_now"] == 0
    assert "6 clips" in capsys.readouterr().out


def test_voices_cli(capsys):
    assert main(["voices", "--families", "flite", "--json"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {r["voice"] for r in rows} == {"kal", "kal16", "awb", "rms", "slt"}
    assert all(set(r) == {"family", "voice", "engine", "available", "note"} for r in rows)
