"""Speech-to-intent and voice-sentiment training: labels and slot targets from a context, the
runtime's decoding rule, masked pooling on padded batches, the out-of-grammar text filter, the
RAVDESS split, and export of the strided-convolution utterance network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from hark_train.export import export_utterance  # noqa: E402
from hark_train.features import FrontEndParams  # noqa: E402
from hark_train.grammar import OUT_OF_GRAMMAR, parse_context  # noqa: E402
from hark_train.intent import (  # noqa: E402
    decode,
    label_spec,
    mix_noise,
    oog_texts,
    pad_command,
    targets,
)
from hark_train.nets import UtteranceClassifier  # noqa: E402
from hark_train.voicesentiment import EMOTIONS, NEG, NEU, POS, ravdess, recall_scores  # noqa: E402

CONTEXT = """
context:
  expressions:
    TurnOn:
      - "turn on [the] $area:area $device:name"
      - "switch on [the] $device:name"
    Stop:
      - "(stop, halt) [it]"
  slots:
    area: [kitchen, {value: living room, synonyms: [lounge]}]
    device: [light, fan]
"""


@pytest.fixture(scope="module")
def ctx():
    return parse_context(CONTEXT, "test.yaml")


def test_label_spec_lists_intents_slots_and_what_each_intent_fills(ctx) -> None:
    spec = label_spec(ctx)
    assert spec["labels"] == ["TurnOn", "Stop", OUT_OF_GRAMMAR]
    assert spec["slots"] == [
        {"name": "area", "output": "slot_area", "values": ["kitchen", "living room"]},
        {"name": "name", "output": "slot_name", "values": ["light", "fan"]},
    ]
    assert spec["intent_slots"] == {"TurnOn": ["area", "name"], "Stop": []}


def test_targets_index_values_after_absent(ctx) -> None:
    spec = label_spec(ctx)
    by_text = {p.text: p for p in ctx.expand()}
    assert targets(by_text["turn on the lounge fan"], spec) == (0, [2, 2])
    assert targets(by_text["switch on light"], spec) == (0, [0, 1])
    assert targets(by_text["halt it"], spec) == (1, [0, 0])
    assert targets(None, spec) == (2, [0, 0])


def _one_hot(n: int, k: int, p: float = 0.9) -> np.ndarray:
    v = np.full(n, (1 - p) / (n - 1))
    v[k] = p
    return v


def test_decode_follows_the_runtime_rule(ctx) -> None:
    spec = label_spec(ctx)
    post = [
        np.stack([_one_hot(3, 0), _one_hot(3, 1), _one_hot(3, 2), _one_hot(3, 0, 0.4)]),
        np.stack([_one_hot(3, 1), _one_hot(3, 1), _one_hot(3, 1), _one_hot(3, 2)]),
        np.stack([_one_hot(3, 2), _one_hot(3, 2), _one_hot(3, 0), _one_hot(3, 1)]),
    ]
    got = decode(post, spec, threshold=0.5)
    assert got[0]["intent"] == "TurnOn" and got[0]["understood"]
    assert got[0]["slots"] == {"area": "kitchen", "name": "fan"}
    # A slot the intent cannot fill is dropped.
    assert got[1]["intent"] == "Stop" and got[1]["slots"] == {}
    assert got[2]["intent"] == OUT_OF_GRAMMAR and not got[2]["understood"]
    assert got[2]["slots"] == {}
    # Below the threshold: decoded but not understood.
    assert got[3]["intent"] == "TurnOn" and not got[3]["understood"]
    assert got[3]["slots"] == {"area": "living room", "name": "light"}


@pytest.mark.parametrize("conv", [0, 16])
def test_padded_batches_give_the_unpadded_result(conv: int) -> None:
    torch.manual_seed(0)
    model = UtteranceClassifier(
        10, {"a": 3, "b": 4}, hidden=6, layers=2, conv_channels=conv, stride=3 if conv else 1
    ).eval()
    xs = [torch.randn(1, t, 10) for t in (7, 31, 50)]
    x = torch.zeros(3, 50, 10)
    for i, xi in enumerate(xs):
        x[i, : xi.shape[1]] = xi[0]
    lens = torch.tensor([7, 31, 50])
    with torch.no_grad():
        batched = model.logits(x, lens)
        for i, xi in enumerate(xs):
            for h, z in enumerate(model.logits(xi)):
                np.testing.assert_allclose(batched[h][i].numpy(), z[0].numpy(), atol=1e-5)


def _export_tiny_intent(tmp_path: Path, labels: list[str], **kw):
    """A small strided intent network with heads ``intent`` and ``slot_area``, exported."""
    heads = {"intent": len(labels), "slot_area": 3}
    model = UtteranceClassifier(40, heads, hidden=8, layers=2, conv_channels=8, stride=3)
    paths = export_utterance(
        model,
        tmp_path,
        "intent",
        kind="intent",
        frontend=FrontEndParams(mean=[0.0] * 40, std=[1.0] * 40),
        features="logmel",
        labels=labels,
        output_names=list(heads),
        extra={"intent": {"out_of_grammar": OUT_OF_GRAMMAR, "threshold": 0.5, "slots": []}},
        training={"command": "test"},
        n_features=40,
        **kw,
    )
    return heads, paths


def test_strided_network_exports_and_matches(tmp_path: Path) -> None:
    torch.manual_seed(0)
    _, paths = _export_tiny_intent(tmp_path, ["A", "B", OUT_OF_GRAMMAR], golden_frames=37)
    meta = json.loads(paths["json"].read_text())
    assert [o["name"] for o in meta["io"]["outputs"]] == ["intent", "slot_area"]
    assert meta["features"] == "logmel"


def test_oog_texts_drop_the_contexts_own_commands(ctx, tmp_path: Path) -> None:
    from hark_train.textdata import HWU_SUB

    d = tmp_path / "text" / HWU_SUB / "trainset"
    d.mkdir(parents=True)
    rows = [
        ("weather_query", "what is the weather like in paris today"),
        ("qa_factoid", "turn on the kitchen light"),  # a command of the context
        ("qa_factoid", "please turn on the lounge fan now"),  # mostly the context's word pairs
        ("iot_hue_lighton", "lights on please in the hall"),  # a home-control scenario
        ("calendar_set", "remind me about the dentist on friday"),
    ]
    lines = ["scenario;intent;answer_annotation"]
    for label, t in rows:
        scen, intent = label.split("_", 1)
        lines.append(f"{scen};{intent};{t}")
    (d / "part.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = oog_texts(ctx, tmp_path, 10, seed=0)
    texts = {s for _, s in got}
    assert "turn on the kitchen light" not in texts
    assert "please turn on the lounge fan now" not in texts
    assert "lights on please in the hall" not in texts
    assert {"what is the weather like in paris today", "remind me about the dentist on friday"} <= (
        texts
    )


def test_padding_and_noise_at_speech_snr() -> None:
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(16000) / 5.0).astype(np.float32)
    y = pad_command(x, rng, pre=(0.2, 0.2), post=(0.7, 0.7))
    assert len(y) == 16000 + 3200 + 11200
    noise = rng.standard_normal(48000).astype(np.float32)
    noisy = mix_noise(y, float(np.mean(x.astype(np.float64) ** 2)), noise, 6.0, rng)
    added = noisy - y
    snr = 10 * np.log10(np.mean(x.astype(np.float64) ** 2) / np.mean(added.astype(np.float64) ** 2))
    assert abs(snr - 6.0) < 0.1


def test_ravdess_split_by_actor_and_emotion_map(tmp_path: Path) -> None:
    for actor in (1, 12, 13, 15, 19):
        d = tmp_path / "ravdess" / f"Actor_{actor:02d}"
        d.mkdir(parents=True)
        for emo in ("01", "03", "05"):
            (d / f"03-01-{emo}-01-01-01-{actor:02d}.flac").write_bytes(b"")
        (d / f"01-01-01-01-01-01-{actor:02d}.mp4").write_bytes(b"")  # video: ignored
    utts = ravdess(tmp_path)
    splits = {(u.group, u.split) for u in utts}
    assert splits == {
        ("actor01", "train"),
        ("actor12", "train"),
        ("actor13", "valid"),
        ("actor15", "test"),
    }
    assert sorted({u.label for u in utts}) == [NEG, NEU, POS]
    assert EMOTIONS["02"] == NEU and EMOTIONS["08"] == POS and EMOTIONS["07"] == NEG


def test_recall_scores_are_unweighted() -> None:
    r = recall_scores([0, 0, 0, 0, 1, 2], [0, 0, 0, 0, 0, 2])
    assert r["recall"] == {"negative": 1.0, "neutral": 0.0, "positive": 1.0}
    assert abs(r["uar"] - 2 / 3) < 1e-4


@pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None, reason="needs espeak-ng")
def test_tiny_intent_pipeline(tmp_path: Path) -> None:
    """``python -m hark_train intent --tiny``: synthesis, examples, one epoch, evaluation, export
    and the card, for a small context."""
    from hark_train.intent import IntentConfig, run
    from hark_train.texts import data_dir

    ctx_path = tmp_path / "ctx.yaml"
    ctx_path.write_text(CONTEXT, encoding="utf-8")
    cfg = IntentConfig(
        context=ctx_path,
        out=tmp_path / "models",
        work=tmp_path / "work" / "intent",
        data=data_dir(),
        jobs=1,
        progress=False,
        tiny=True,
    )
    meta = run(cfg)
    assert meta["kind"] == "intent" and meta["labels"] == ["TurnOn", "Stop", OUT_OF_GRAMMAR]
    assert meta["features"] == "logmel" and len(meta["frontend"]["mean"]) == 40
    assert meta["intent"]["intent_slots"] == {"TurnOn": ["area", "name"], "Stop": []}
    for cond in ("clean", "snr_6db"):
        assert 0.0 <= meta["evaluation"][cond]["command_acceptance"] <= 1.0
    for ext in (".onnx", ".golden.json", ".md"):
        assert (cfg.out / f"intent{ext}").exists()

    # Grammar decoding on top: a tiny phoneme recogniser from the same clips, then the context's
    # graph attached to the model (``python -m hark_train phonemes`` and ``grammar``).
    from hark_train import intent as intent_mod
    from hark_train.grammar_intent import attach
    from hark_train.phoneme_model import PhonemeConfig
    from hark_train.phoneme_model import run as train_phonemes
    from hark_train.synth import cache_path

    _, clips = intent_mod.context_clips(cfg)
    items = [
        (str(cache_path(cfg.work / "clips", c.item.key)), c.text, c.split)
        for c in clips
        if c.kind != "wake"
    ]
    pcfg = PhonemeConfig(
        data=data_dir(),
        out=tmp_path / "phonemes",
        work=tmp_path / "work" / "phonemes",
        items=items,
        tiny=True,
        progress=False,
    )
    ev = train_phonemes(pcfg)
    assert 0.0 <= ev["valid"]["phoneme_error_rate"]
    pmeta = json.loads((pcfg.out / "phonemes.json").read_text())
    assert pmeta["kind"] == "phonemes" and pmeta["labels"][0] == "<blank>"
    assert pmeta["io"]["outputs"][0]["shape"] == [1, "frames", len(pmeta["labels"])]
    assert pmeta["training"]["voice_spread"] is False
    assert "vocal-tract length 0.9–1.1" in (pcfg.out / "phonemes.md").read_text()
    # Training goes on from the exported recogniser (``phonemes --init``).
    from dataclasses import replace

    fcfg = replace(pcfg, out=tmp_path / "tuned", init=pcfg.out / "phonemes.onnx", lr=5e-4)
    train_phonemes(fcfg)
    fmeta = json.loads((fcfg.out / "phonemes.json").read_text())
    assert fmeta["training"]["init"] == str(pcfg.out / "phonemes.onnx")
    assert fmeta["labels"] == pmeta["labels"] and fmeta["frontend"] == pmeta["frontend"]
    assert "went on from the recogniser `phonemes.onnx`" in (fcfg.out / "phonemes.md").read_text()
    # Its checkpoint does not replace the one it went on from.
    assert (pcfg.work / "phonemes-s0-tuned-tiny.pt").exists()
    assert (pcfg.work / "phonemes-s0-tiny.pt").exists()
    (cfg.out / "intent.md").write_text(
        (cfg.out / "intent.md").read_text() + "\n## Notes on this build\n\nkept\n"
    )
    meta = attach(cfg, clips, intent_mod.real_sets(cfg), pcfg.out, force=True)
    assert meta["evaluation"]["grammar"]["used"] is True
    assert "command_acceptance" in meta["evaluation"]["grammar"]["network_validation"]
    g = meta["intent"]["grammar"]
    assert g["phonemes"] == "phonemes" and g["graph"]["junctions"] > 2
    assert g["prior"]["scale"] == 0.8 and len(g["prior"]["log_prior"]) == len(pmeta["labels"])
    assert meta["evaluation"]["grammar"]["prior_scale"] == 0.8
    j = g["judge"]
    assert "gap_threshold" not in g and 0.0 < j["threshold"] <= 1.0
    assert set(j) - {"gate"} == {
        "gap",
        "out_of_grammar_logit",
        "intent_log_posterior",
        "margin_log",
        "log_frames",
        "bias",
        "threshold",
        "min_margin",
    }
    # New judges gate on the learnt score (where the validation commands need one), not on the
    # margin alone.
    assert j["min_margin"] == 0.0
    if "gate" in j:
        assert set(j["gate"]) == {"gap", "margin_log", "log_frames", "bias", "threshold"}
    assert meta["evaluation"]["grammar"]["keep"] == 0.85
    assert meta["evaluation"]["grammar"]["margin_keep"] == 0.95
    assert meta["evaluation"]["grammar"]["max_wrong"] == 0.02
    noisy = meta["evaluation"]["grammar"]["validation_noisy"]
    assert noisy["commands"] == meta["evaluation"]["grammar"]["validation"]["commands"]
    assert 0.0 <= meta["evaluation"]["grammar"]["clean"]["wrong_acceptance"] <= 1.0
    assert 0.0 <= meta["evaluation"]["grammar"]["clean"]["command_acceptance"] <= 1.0
    golden = json.loads((cfg.out / "intent.grammar-golden.json").read_text())
    assert golden["cases"] and all(len(c["logp"]["shape"]) == 2 for c in golden["cases"])
    assert all(c["margin"] is None or c["margin"] >= 0 for c in golden["cases"])
    card = (cfg.out / "intent.md").read_text()
    assert "## Grammar decoding" in card and card.endswith("kept\n")
    assert "less 0.8 × the log of each phoneme's prior" in card
    for ext in ("onnx", "json"):
        assert (cfg.out / f"phonemes.{ext}").exists()


@pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None, reason="needs espeak-ng")
def test_tiny_sentiment_pipeline(tmp_path: Path) -> None:
    """``python -m hark_train sentiment --tiny``: RAVDESS split by actor, synthetic feedback,
    one round, evaluation per held-out set, export with the non-commercial licence stated."""
    from hark_train.texts import data_dir
    from hark_train.voicesentiment import LABELS, SentimentConfig, run

    data = data_dir()
    if not ravdess(data):
        pytest.skip("no RAVDESS in the data folder")
    cfg = SentimentConfig(
        data=data,
        out=tmp_path / "models",
        work=tmp_path / "work" / "sentiment",
        jobs=1,
        progress=False,
        tiny=True,
        members=2,
    )
    meta = run(cfg)
    assert meta["kind"] == "sentiment" and meta["labels"] == LABELS
    assert meta["training"]["architecture"]["members"] == 2
    assert [m["seed"] for m in meta["evaluation"]["members"]] == [0, 1]
    assert meta["features"] == "logmel" and len(meta["frontend"]["mean"]) == 40
    test = meta["evaluation"]["ravdess_test_actors"]["clean"]
    assert 0.0 <= test["uar"] <= 1.0 and test["n"] > 0
    assert "non-commercial" in meta["training"]["licence"]
    assert "CC BY-NC-SA" in (cfg.out / "sentiment.md").read_text()


def _fit_with(metrics, losses, min_rounds: int, patience: int):
    """Runs ``fit`` on a tiny model whose validation reports the scripted figures."""
    from types import SimpleNamespace

    from hark_train.intent import fit

    torch.manual_seed(0)
    model = UtteranceClassifier(4, {"a": 2}, hidden=4, layers=1)
    rng = np.random.default_rng(0)
    feats = [rng.standard_normal((12, 4)).astype(np.float16) for _ in range(8)]
    labels = np.array([0, 1] * 4)
    cfg = SimpleNamespace(
        lr=1e-3, seed=0, tiny=False, batches_per_round=1, batch=4, max_epochs=len(metrics),
        minutes=60.0, patience=patience, min_rounds=min_rounds, progress=False,
    )  # fmt: skip
    script = iter(zip(metrics, losses, strict=True))

    def validate(_model):
        m, v = next(script)
        return m, {"valid_loss": v}

    def loss_of(outs, idx):
        return torch.nn.functional.cross_entropy(outs[0], torch.from_numpy(labels[idx]))

    _, history = fit(model, feats, np.zeros(4), np.ones(4), loss_of, validate, cfg, "t")
    return history


def test_fit_waits_for_a_slow_start_and_counts_a_falling_loss_as_progress() -> None:
    flat = [0.0] * 12
    # Metric and loss flat: stops `patience` rounds after the warm-up, not before.
    assert len(_fit_with(flat, [5.0] * 12, min_rounds=5, patience=3)) == 8
    # A falling validation loss keeps it going while the metric is still zero.
    assert len(_fit_with(flat, [5.0 - 0.1 * i for i in range(12)], 2, 3)) == 12
    # A rising metric does too.
    assert len(_fit_with([0.01 * i for i in range(12)], [5.0] * 12, 2, 3)) == 12


def test_an_exported_model_continues_training_with_its_own_weights(tmp_path: Path) -> None:
    import onnxruntime as ort

    from hark_train.nets import utterance_state_from_onnx

    torch.manual_seed(1)
    heads, paths = _export_tiny_intent(tmp_path, ["A", "B", "C", OUT_OF_GRAMMAR])
    fresh = UtteranceClassifier(40, heads, hidden=8, layers=2, conv_channels=8, stride=3)
    fresh.load_state_dict(utterance_state_from_onnx(paths["onnx"], fresh))
    fresh.eval()
    x = np.random.default_rng(0).standard_normal((1, 61, 40)).astype(np.float32)
    sess = ort.InferenceSession(str(paths["onnx"]))
    want = sess.run(None, {sess.get_inputs()[0].name: x})
    with torch.no_grad():
        got = fresh(torch.from_numpy(x))
    for a, b in zip(want, got, strict=True):
        np.testing.assert_allclose(a, b.numpy(), atol=1e-5)
    # A network of another depth is refused, naming the file.
    shallow = UtteranceClassifier(40, heads, hidden=8, layers=1, conv_channels=8, stride=3)
    with pytest.raises(ValueError, match="intent.onnx"):
        utterance_state_from_onnx(paths["onnx"], shallow)


def test_ensemble_averages_its_members_softmax() -> None:
    from hark_train.nets import UtteranceEnsemble

    torch.manual_seed(0)
    members = [UtteranceClassifier(4, {"a": 3, "b": 2}, hidden=4, layers=1) for _ in range(3)]
    ens = UtteranceEnsemble(members).eval()
    for m in members:
        m.eval()
    x = torch.randn(2, 9, 4)
    with torch.no_grad():
        outs = ens(x)
        for h in range(2):
            want = torch.stack([m(x)[h] for m in members]).mean(dim=0)
            assert torch.allclose(outs[h], want, atol=1e-6)
            # ``logits`` is the log of the same average, so code written for one model agrees.
            assert torch.allclose(torch.softmax(ens.logits(x)[h], -1), want, atol=1e-6)
    assert len(ens.heads) == 2
    with pytest.raises(ValueError):
        UtteranceEnsemble([])


def test_sentiment_cli_refuses_fewer_than_one_member(capsys) -> None:
    from hark_train.__main__ import main

    with pytest.raises(SystemExit):
        main(["sentiment", "--out", "/nonexistent", "--members", "0"])
    assert "must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["-0.1", "nan", "inf", "x"])
def test_grammar_cli_refuses_a_bad_prior_scale(scale: str, capsys) -> None:
    from hark_train.__main__ import main

    with pytest.raises(SystemExit) as e:
        main(["grammar", "--context", "c.yaml", "--model-dir", ".", "--phonemes", ".",
              "--prior-scale", scale])  # fmt: skip
    assert e.value.code == 2 and "--prior-scale" in capsys.readouterr().err


def test_grammar_card_says_whether_the_runtime_uses_it() -> None:
    from hark_train.intent import grammar_card

    ev = {
        "used": False,
        "keep": 0.85,
        "judge_fit": {
            "validation_clips": 40,
            "real_non_command_clips": 30,
            "real_false_acceptance": 0.0,
        },
        "validation": {"command_acceptance": 0.6, "false_acceptance": 0.0},
        "network_validation": {"command_acceptance": 0.75},
        "clean": {
            "command_acceptance": 0.25,
            "acceptance_without_rejection": 0.6,
            "intent_accuracy": 0.9,
            "false_acceptance": 0.02,
        },
    }
    thresholds = {
        "judge": {
            "gap": 10.0,
            "out_of_grammar_logit": -0.2,
            "intent_log_posterior": 0.5,
            "bias": 3.0,
            "threshold": 0.68,
        }
    }
    text = grammar_card(ev, {"phonemes": "phonemes", **thresholds}, "intent")
    assert "measured, not used" in text and "60.0%" in text and "75.0%" in text
    assert "golden" not in text.lower()
    assert "must reach 0.68" in text and "keeps 85.0%" in text and "30 real" in text
    old = grammar_card(
        ev, {"phonemes": "p", "gap_threshold": -0.2, "out_of_grammar_threshold": 0.3}, "x"
    )
    assert "at least -0.2" in old and "at most 0.3" in old
    from hark_train.intent import measured_grammar

    unused = measured_grammar({**ev, "judge": thresholds["judge"]})
    assert unused == {"phonemes": "phonemes", **thresholds}
    assert "must reach 0.68" in grammar_card(ev, unused, "intent")
    older = measured_grammar({**ev, "thresholds": {"gap_threshold": -0.2}})
    assert older == {"phonemes": "phonemes", "gap_threshold": -0.2}
    graph = {"junctions": 3, "chains": [], "epsilons": []}
    used = grammar_card({**ev, "used": True}, {"phonemes": "p", "graph": graph, **thresholds}, "x")
    assert "what the runtime uses" in used and "x.grammar-golden.json" in used
    # The margin gate: its rule, and what the copies of the validation commands in noise gave.
    noisy = {
        **ev,
        "margin_keep": 0.95,
        "max_wrong": 0.02,
        "validation_noisy": {
            "commands": 40,
            "command_acceptance": 0.55,
            "wrong_acceptance": 0.025,
            "acceptance_without_rejection": 0.7,
        },
    }
    gated = {**thresholds["judge"], "min_margin": 0.04}
    text = grammar_card(noisy, {"phonemes": "p", "judge": gated}, "x")
    assert "must reach 0.04, the lowest margin at which at most 2.0%" in text
    assert "(40 copies, 70.0% of them decoded right)" in text
    assert "55.0% are understood and 2.5% accepted wrong" in text
    free = grammar_card(noisy, {"phonemes": "p", "judge": {**gated, "min_margin": 0.0}}, "x")
    assert "No minimum is set for its *margin*" in free
    gate = {"gap": 0.6, "margin_log": 2.2, "log_frames": -0.4, "bias": -2.0, "threshold": 1.7}
    learnt = grammar_card(
        noisy, {"phonemes": "p", "judge": {**gated, "min_margin": 0.0, "gate": gate}}, "x"
    )
    assert "pass a gate against wrong commands, a second score of its gap, its *margin*" in learnt
    formula = "-2.0 + 0.6 × gap + 2.2 × ln(margin + 0.01) − 0.4 × ln frames must reach 1.7."
    assert formula in learnt
    assert "at most 2.0% of the decodes that pass it" in learnt
