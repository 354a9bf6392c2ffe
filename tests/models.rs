//! Models through tract: golden vectors exported by the Python pipeline replay within 1e-4,
//! streaming in any chunk size gives the same scores and detections, and broken or mismatched
//! models are refused with a clear error.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hark::models::keyword::{KeywordDetector, KeywordModel, KeywordStream};
use hark::models::{Graph, ModelError, ModelMetadata, read_f32, tensor_f32};
use tract_onnx::prelude::*;

const GOLDEN_TOLERANCE: f32 = 1e-4;

fn models_dir() -> PathBuf {
    common::fixtures().join("models")
}

struct Golden {
    inputs: Vec<(String, Vec<usize>, Vec<f32>)>,
    outputs: Vec<(String, Vec<usize>, Vec<f32>)>,
}

fn tensors(v: &serde_json::Value) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    common::golden::tensors(v).unwrap()
}

fn golden(name: &str) -> Golden {
    let text = std::fs::read_to_string(models_dir().join(format!("{name}.golden.json"))).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    Golden {
        inputs: tensors(&v["inputs"]),
        outputs: tensors(&v["outputs"]),
    }
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn load_graph(name: &str) -> (ModelMetadata, Graph) {
    let json = models_dir().join(format!("{name}.json"));
    let meta = ModelMetadata::load(&json).unwrap();
    let graph = Graph::load(&ModelMetadata::graph_path(&json), &meta).unwrap();
    (meta, graph)
}

#[test]
fn golden_vectors_replay_through_tract() {
    for name in ["keyword", "intent", "sentiment"] {
        let (meta, graph) = load_graph(name);
        let g = golden(name);
        // Feed inputs in metadata order.
        let inputs: TVec<TValue> = meta
            .io
            .inputs
            .iter()
            .map(|spec| {
                let (_, shape, data) = g.inputs.iter().find(|(n, _, _)| *n == spec.name).unwrap();
                tensor_f32(shape, data).unwrap().into_tvalue()
            })
            .collect();
        let outputs = graph.run(inputs).unwrap();
        for (spec, value) in meta.io.outputs.iter().zip(&outputs) {
            let (_, shape, want) = g.outputs.iter().find(|(n, _, _)| *n == spec.name).unwrap();
            assert_eq!(value.shape(), shape.as_slice(), "{name}/{}", spec.name);
            let mut got = Vec::new();
            read_f32(value, &mut got).unwrap();
            let diff = max_diff(&got, want);
            assert!(
                diff <= GOLDEN_TOLERANCE,
                "{name}/{}: off by {diff}",
                spec.name
            );
        }
    }
}

fn keyword_model() -> Arc<KeywordModel> {
    Arc::new(KeywordModel::load(&models_dir().join("keyword.json")).unwrap())
}

#[test]
fn streaming_chunk_sizes_give_identical_scores_and_detections() {
    let model = keyword_model();
    let g = golden("keyword");
    let (_, _, x) = g.inputs.iter().find(|(n, _, _)| n == "x").unwrap();
    let (_, _, want) = g.outputs.iter().find(|(n, _, _)| n == "scores").unwrap();
    let dim = model.feature_dim();
    let n_labels = model.labels().len();
    let mut reference: Option<Vec<(String, u64)>> = None;
    for chunk in [1usize, 7, 10, 32, 64] {
        let mut stream = KeywordStream::new(Arc::clone(&model)).unwrap();
        let mut detector = KeywordDetector::new(&model);
        detector.set_all_thresholds(0.3);
        let mut scores = Vec::new();
        let mut detections = Vec::new();
        for frames in x.chunks(chunk * dim) {
            let s = stream.push(frames).unwrap();
            for row in s.chunks(n_labels) {
                if let Some(d) = detector.update(row) {
                    detections.push((d.keyword, (d.end * 1000.0).round() as u64));
                }
            }
            scores.extend_from_slice(s);
        }
        assert!(max_diff(&scores, want) <= GOLDEN_TOLERANCE, "chunk {chunk}");
        match &reference {
            None => reference = Some(detections),
            Some(r) => assert_eq!(&detections, r, "chunk {chunk}"),
        }
    }
    assert!(
        !reference.unwrap().is_empty(),
        "the low threshold should produce detections"
    );
}

#[test]
fn skipped_frames_count_as_background_for_the_detector() {
    let model = keyword_model();
    let n = model.labels().len();
    let word = |score: f32| {
        let mut row = vec![0.0f32; n];
        row[0] = 1.0 - score;
        row[1] = score;
        row
    };
    // A word, 3 s of background, the same word: fed whole, or with the background skipped.
    let run = |skip: bool| {
        let mut d = KeywordDetector::new(&model);
        d.set_all_thresholds(0.5);
        let mut out = Vec::new();
        let mut feed = |d: &mut KeywordDetector, rows: &[Vec<f32>]| {
            for r in rows {
                if let Some(x) = d.update(r) {
                    out.push((
                        x.keyword,
                        (x.start * 1000.0).round(),
                        (x.end * 1000.0).round(),
                    ));
                }
            }
        };
        let burst: Vec<Vec<f32>> = (0..30)
            .map(|i| word(if i < 20 { 0.9 } else { 0.0 }))
            .collect();
        feed(&mut d, &burst);
        if skip {
            d.skip(300);
        } else {
            feed(&mut d, &vec![word(0.0); 300]);
        }
        feed(&mut d, &burst);
        out
    };
    let whole = run(false);
    assert_eq!(whole.len(), 2, "{whole:?}");
    assert_eq!(run(true), whole);
}

fn copy_model(dir: &Path, name: &str) -> PathBuf {
    for ext in ["json", "onnx"] {
        std::fs::copy(
            models_dir().join(format!("{name}.{ext}")),
            dir.join(format!("{name}.{ext}")),
        )
        .unwrap();
    }
    dir.join(format!("{name}.json"))
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn broken_or_mismatched_models_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let json = copy_model(dir.path(), "keyword");

    // Graph missing.
    std::fs::remove_file(json.with_extension("onnx")).unwrap();
    let err = KeywordModel::load(&json).err().unwrap();
    assert!(matches!(err, ModelError::Read { .. }), "{err}");
    assert!(err.to_string().contains("keyword.onnx"));

    // Graph corrupt.
    std::fs::write(json.with_extension("onnx"), b"definitely not protobuf").unwrap();
    let err = KeywordModel::load(&json).err().unwrap();
    assert!(matches!(err, ModelError::Graph { .. }), "{err}");

    // Metadata names an input the graph does not have.
    let json = copy_model(dir.path(), "keyword");
    edit_json(&json, |v| {
        v["io"]["inputs"][1]["name"] = "context".into();
        v["keyword"]["state"][0]["input"] = "context".into();
    });
    let err = KeywordModel::load(&json).err().unwrap();
    assert!(matches!(err, ModelError::Mismatch { .. }), "{err}");
    assert!(err.to_string().contains("context"), "{err}");

    // Metadata claims a different hidden size.
    let json = copy_model(dir.path(), "keyword");
    edit_json(&json, |v| {
        v["io"]["inputs"][2]["shape"][2] = 99.into();
        v["io"]["outputs"][2]["shape"][2] = 99.into();
        v["keyword"]["state"][1]["shape"][2] = 99.into();
    });
    let err = KeywordModel::load(&json).err().unwrap();
    assert!(matches!(err, ModelError::Mismatch { .. }), "{err}");

    // Metadata of another kind.
    let json = copy_model(dir.path(), "sentiment");
    std::fs::rename(&json, dir.path().join("keyword.json")).unwrap();
    std::fs::rename(json.with_extension("onnx"), dir.path().join("keyword.onnx")).unwrap();
    let err = KeywordModel::load(&dir.path().join("keyword.json"))
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("expected a keyword model"),
        "{err}"
    );

    // Missing metadata.
    let err = KeywordModel::load(&dir.path().join("nothing.json"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("nothing.json"), "{err}");
}

/// A shipped model's golden vectors replay through tract: outputs within 1e-4 absolute, or
/// 1e-4 relative where they exceed 1 (LSTM cell states reach tens on random inputs).
fn replay_shipped_golden(name: &str) {
    let checked = common::golden::replay_shipped_model(name).unwrap();
    assert!(checked > 0, "{name}: no outputs compared");
}

#[test]
fn shipped_keyword_model_replays_its_golden_vectors() {
    replay_shipped_golden("keyword");
}

#[test]
fn shipped_sentiment_model_replays_its_golden_vectors() {
    replay_shipped_golden("sentiment");
}

#[test]
fn shipped_intent_model_replays_its_golden_vectors() {
    replay_shipped_golden("intent");
}

#[test]
fn shipped_vad_model_replays_its_golden_vectors() {
    replay_shipped_golden("vad");
}

#[test]
fn shipped_phoneme_recogniser_replays_its_golden_vectors() {
    replay_shipped_golden("phonemes");
}

#[test]
fn shipped_wake_word_recogniser_replays_its_golden_vectors() {
    replay_shipped_golden("phonemes-wake");
}

/// The Rust grammar decoder finds the Python decoder's intent, slots and path scores on the
/// shipped context's graph and real phoneme log-probabilities of validation commands.
#[test]
fn shipped_grammar_decodes_match_python() {
    let cases = common::golden::replay_shipped_grammar().unwrap();
    assert!(cases >= 3, "{cases} cases");
}

/// The shipped intent model decodes its grammar, and a model whose grammar names a phoneme the
/// recogniser does not have, or a missing recogniser, is refused with the file named.
#[test]
fn intent_model_loads_its_grammar_and_refuses_a_broken_one() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let model = hark::models::utterance::IntentModel::load(&dir.join("intent.json")).unwrap();
    assert!(model.decodes_grammar());
    let tmp = common::edited_shipped_model(
        "intent.json",
        &["intent.onnx", "phonemes.onnx", "phonemes.json"],
        |meta| meta["intent"]["grammar"]["graph"]["chains"][1]["phones"] = serde_json::json!([999]),
    );
    let json = tmp.path().join("intent.json");
    let err = hark::models::utterance::IntentModel::load(&json)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("intent.json") && err.contains("phoneme 999"),
        "{err}"
    );
    std::fs::remove_file(tmp.path().join("phonemes.json")).unwrap();
    let err = hark::models::utterance::IntentModel::load(&json)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("phonemes.json"), "{err}");
}

/// The voice activity detector streamed one window at a time, its state carried, gives the
/// probabilities of the whole-sequence run of the golden vectors.
#[test]
fn vad_stream_matches_the_sequence_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let model = Arc::new(hark::models::vad::VadModel::load(&dir.join("vad.json")).unwrap());
    let text = std::fs::read_to_string(dir.join("vad.golden.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let outputs = tensors(&v["outputs"]);
    let (_, _, want) = outputs
        .iter()
        .find(|(n, _, _)| n == "speech_probs")
        .unwrap();
    let mut source = hark::audio::FileSource::open(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/frontend/speech.wav"),
    )
    .unwrap();
    let speech = hark::audio::read_all(&mut source).unwrap().samples;
    let mut stream = hark::models::vad::VadStream::new(Arc::clone(&model));
    let mut got = Vec::new();
    for chunk in speech[..want.len() * 512].chunks(97) {
        let before = stream.windows_run();
        stream.push(chunk).unwrap();
        if stream.windows_run() > before {
            got.push(stream.probability());
        }
    }
    assert_eq!(got.len(), want.len());
    for (a, b) in got.iter().zip(want) {
        assert!((a - b).abs() <= GOLDEN_TOLERANCE, "{a} vs {b}");
    }
    assert!(got.iter().any(|p| *p > 0.9), "speech is found: {got:?}");
}

/// A non-finite model output resets the state: the scores of that call become background, the
/// reset is counted, and the next call runs from the zero state as a fresh stream would.
#[test]
fn non_finite_outputs_reset_the_stream_state() {
    let model = keyword_model();
    let dim = model.feature_dim();
    let n_labels = model.labels().len();
    let mut stream = KeywordStream::new(Arc::clone(&model)).unwrap();
    let bad = vec![f32::NAN; 3 * dim];
    let scores = stream.push(&bad).unwrap().to_vec();
    assert_eq!(stream.non_finite_resets(), 1);
    for row in scores.chunks(n_labels) {
        assert_eq!(row[0], 1.0, "background");
        assert!(row[1..].iter().all(|s| *s == 0.0));
    }
    let good = vec![0.1f32; 5 * dim];
    let after = stream.push(&good).unwrap().to_vec();
    let mut fresh = KeywordStream::new(Arc::clone(&model)).unwrap();
    let expected = fresh.push(&good).unwrap().to_vec();
    assert!(max_diff(&after, &expected) <= 1e-6);
    assert_eq!(stream.non_finite_resets(), 1);
}

/// The command detector follows the energy detector until switched on, then the neural one (with
/// the hangover), and back after `deactivate`; decisions stay one per hop throughout.
#[test]
fn command_vad_switches_between_detectors() {
    use hark::vad::{CommandVad, EnergyVad, VadSettings};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = Arc::new(hark::models::vad::VadModel::load(&dir.join("models/vad.json")).unwrap());
    let mut source =
        hark::audio::FileSource::open(&dir.join("tests/fixtures/frontend/speech.wav")).unwrap();
    let speech = hark::audio::read_all(&mut source).unwrap().samples;
    // Loud steady noise: the energy detector calls its onset speech; Silero does not.
    let noise: Vec<f32> = (0..16_000u32)
        .map(|i| 0.3 * (((i.wrapping_mul(2_654_435_761) >> 8) % 1000) as f32 / 1000.0 - 0.5))
        .collect();
    let mut audio = vec![0.0f32; 8_000];
    audio.extend(&noise);
    let mut energy = EnergyVad::new(VadSettings::default());
    let want_energy = energy.push(&audio).to_vec();
    assert!(
        want_energy[50..].iter().any(|d| *d),
        "the energy detector hears the noise"
    );
    let mut vad = CommandVad::with_model(VadSettings::default(), Arc::clone(&model));
    assert!(vad.has_model());
    assert_eq!(vad.push(&audio).unwrap(), want_energy.as_slice());
    vad.activate().unwrap();
    let neural_noise = vad.push(&noise).unwrap().to_vec();
    assert_eq!(neural_noise.len(), noise.len() / 160);
    let tail = &neural_noise[40..];
    assert!(tail.iter().all(|d| !d), "noise is not speech for Silero");
    let neural_speech = vad.push(&speech).unwrap().to_vec();
    assert_eq!(neural_speech.len(), speech.len() / 160);
    assert!(neural_speech.iter().filter(|d| **d).count() > neural_speech.len() / 2);
    vad.deactivate();
    // Back on the energy detector, whose hangover still holds the speech, then lets go.
    let after = vad.push(&vec![0.0f32; 3_200]).unwrap().to_vec();
    assert_eq!(after.len(), 20);
    assert!(!after[19], "{after:?}");
}

/// A change made to a copy of the shipped metadata.
type Edit = fn(&mut serde_json::Value);

/// A `vad` model whose metadata does not hold together is refused, naming the file and the
/// problem; one whose graph is missing names the graph.
#[test]
fn bad_vad_metadata_is_refused_clearly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("vad.json")).unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, Edit); 3] = [
        ("threshold", |v| v["vad"]["threshold"] = 1.5.into()),
        ("window", |v| v["vad"]["context"] = 600.into()),
        ("`vad`", |v| {
            v.as_object_mut().unwrap().remove("vad");
        }),
    ];
    for (want, change) in cases {
        let mut v = good.clone();
        change(&mut v);
        let path = tmp.path().join("vad.json");
        std::fs::write(&path, v.to_string()).unwrap();
        let err = hark::models::vad::VadModel::load(&path)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("vad.json") && err.contains(want),
            "{want}: {err}"
        );
    }
    let path = tmp.path().join("vad.json");
    std::fs::write(&path, good.to_string()).unwrap();
    let err = hark::models::vad::VadModel::load(&path)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("vad.onnx"), "{err}");
}

/// The shipped models through the pipeline in keyword mode, with the keyword model pausing in
/// silence or running throughout; returns the events and (frames run, frames skipped).
fn keyword_events(audio: &[f32], gate: bool) -> (Vec<hark::pipeline::Event>, (u64, u64)) {
    use hark::models::set::ModelSet;
    use hark::pipeline::{CaptureSettings, Mode, Pipeline};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let models = Arc::new(ModelSet::load(Some(&dir), &[]).unwrap());
    let mut p = Pipeline::new(models, Mode::Keyword, CaptureSettings::default(), Some(0.5))
        .unwrap()
        .with_keyword_gate(gate);
    let events = common::run_through(&mut p, audio);
    (events, p.keyword_frames())
}

#[test]
fn pausing_the_keyword_model_in_silence_hears_the_same_words() {
    use hark::audio::{AudioSource, FileSource, read_all};
    use hark::pipeline::Event;
    let path = common::fixtures().join("frontend/speech.wav");
    let mut source = FileSource::open(&path).unwrap();
    let speech = read_all(&mut source as &mut dyn AudioSource)
        .unwrap()
        .samples;
    // Three utterances 4 s apart in a quiet room: noise at -60 dBFS RMS under everything.
    let mut rng = 12345u64;
    let amplitude = 10f32.powf(-60.0 / 20.0) * 3f32.sqrt();
    let mut audio: Vec<f32> = (0..3 * (64_000 + speech.len()) + 32_000)
        .map(|_| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((rng >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * amplitude
        })
        .collect();
    for k in 0..3 {
        let at = 64_000 + k * (64_000 + speech.len());
        for (a, s) in audio[at..].iter_mut().zip(&speech) {
            *a += s;
        }
    }
    let (always, (run_all, skipped_none)) = keyword_events(&audio, false);
    let (paused, (run, skipped)) = keyword_events(&audio, true);
    assert_eq!(skipped_none, 0);
    assert_eq!(run + skipped, run_all);
    // Most of the silence is skipped (4 s gaps: 1 s to settle, 0.5 s held before sound).
    assert!(
        skipped as f64 > 0.3 * run_all as f64,
        "{run} run, {skipped} skipped"
    );
    let words = |ev: &[Event]| -> Vec<(String, f64, f32)> {
        ev.iter()
            .filter_map(|e| match e {
                Event::Wake(d) | Event::Keyword(d) => Some((d.keyword.clone(), d.end, d.score)),
                _ => None,
            })
            .collect()
    };
    let (a, b) = (words(&always), words(&paused));
    assert!(!a.is_empty(), "the sample has a wake word");
    assert_eq!(a.len(), b.len(), "{a:?} vs {b:?}");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        // The state the model paused with is close to, not exactly, the one it would have had:
        // a rising posterior may cross the threshold a frame or two apart.
        assert!((x.1 - y.1).abs() <= 0.031, "{x:?} vs {y:?}");
        assert!((x.2 - y.2).abs() <= 0.15, "{x:?} vs {y:?}");
    }
}
