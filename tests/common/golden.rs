//! The checks against the Python pipeline's golden files, as functions that return what they
//! checked or what differed: the `#[test]`s call them, and so does `tests/main_thread.rs`, which
//! runs them without libtest's worker threads (for qemu hosts where a guest's threads hang).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use hark::audio::{AudioSource, FileSource, read_all};
use hark::features::{FeatureKind, FeatureMatrix, FrontEnd, FrontEndParams, Pcen, npy};
use hark::models::set::Normaliser;
use hark::models::tokenizer::{Tokenizer, TokenizerSpec};
use hark::models::{Graph, ModelMetadata, read_f32, tensor_f32};
use tract_onnx::prelude::*;

/// Largest absolute difference allowed between Rust and Python features.
pub const FEATURE_TOLERANCE: f32 = 1e-4;
/// Largest difference allowed on model outputs: absolute, or relative where they exceed 1 (LSTM
/// cell states reach tens on random inputs).
pub const GOLDEN_TOLERANCE: f32 = 1e-4;

/// The fixture audio names of the front-end parity files.
pub const FRONTEND_STEMS: [&str; 3] = ["speech", "quiet_speech", "tones_noise"];

fn shipped_models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn frontend_fixtures() -> PathBuf {
    super::fixtures().join("frontend")
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A named tensor of a golden file: name, shape, values.
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// The tensors of a golden file's `name -> {shape, data}` map.
pub fn tensors(v: &serde_json::Value) -> Result<Vec<NamedTensor>, String> {
    let map = v.as_object().ok_or("tensors: not a map")?;
    map.iter()
        .map(|(name, t)| {
            let shape: Vec<usize> = serde_json::from_value(t["shape"].clone()).map_err(err)?;
            let data: Vec<f32> = serde_json::from_value(t["data"].clone()).map_err(err)?;
            Ok((name.clone(), shape, data))
        })
        .collect()
}

/// The front-end parameter sets of the parity fixtures.
pub fn frontend_params() -> Result<BTreeMap<String, FrontEndParams>, String> {
    let file = File::open(frontend_fixtures().join("params.json")).map_err(err)?;
    serde_json::from_reader(file).map_err(err)
}

/// A reference feature matrix written by the Python front-end.
pub fn expected(stem: &str, set: &str, kind: &str) -> Result<FeatureMatrix, String> {
    let path = frontend_fixtures().join(format!("{stem}.{set}.{kind}.npy"));
    let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    npy::read_f32(file).map_err(err)
}

/// The samples of a fixture WAV (16 kHz).
pub fn samples(stem: &str) -> Result<Vec<f32>, String> {
    let path = frontend_fixtures().join(format!("{stem}.wav"));
    let mut source = FileSource::open(&path).map_err(err)?;
    if source.sample_rate() != 16_000 {
        return Err(format!("{stem}.wav is not 16 kHz"));
    }
    Ok(read_all(&mut source as &mut dyn AudioSource)
        .map_err(err)?
        .samples)
}

/// Largest absolute difference of two feature matrices of the same shape.
pub fn max_diff(a: &FeatureMatrix, b: &FeatureMatrix) -> Result<f32, String> {
    if (a.rows, a.cols) != (b.rows, b.cols) {
        return Err(format!(
            "shapes differ: {}x{} vs {}x{}",
            a.rows, a.cols, b.rows, b.cols
        ));
    }
    Ok(a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max))
}

fn within(what: &str, diff: f32) -> Result<(), String> {
    if diff <= FEATURE_TOLERANCE {
        Ok(())
    } else {
        Err(format!("{what} differs by {diff}"))
    }
}

/// Log-mel and MFCC of every fixture and parameter set against the Python reference; returns
/// the number of matrices compared.
pub fn frontend_matches_reference() -> Result<usize, String> {
    let sets = frontend_params()?;
    let mut checked = 0;
    for stem in FRONTEND_STEMS {
        let audio = samples(stem)?;
        for (set, params) in &sets {
            // Normalisation applies to the model's input (MFCC here); log-mel stays raw.
            let mut mel_params = params.clone();
            mel_params.mean = None;
            mel_params.std = None;
            let mut mel = FrontEnd::new(mel_params, FeatureKind::LogMel).map_err(err)?;
            let got = mel.compute_all(&audio).map_err(err)?;
            within(
                &format!("{stem}/{set} log-mel"),
                max_diff(&got, &expected(stem, set, "logmel")?)?,
            )?;
            let mut mfcc = FrontEnd::new(params.clone(), FeatureKind::Mfcc).map_err(err)?;
            let got = mfcc.compute_all(&audio).map_err(err)?;
            within(
                &format!("{stem}/{set} MFCC"),
                max_diff(&got, &expected(stem, set, "mfcc")?)?,
            )?;
            checked += 2;
        }
    }
    Ok(checked)
}

/// PCEN of the log-mel frames, through `Pcen` and through the model normaliser, against the
/// Python reference; returns the number of matrices compared.
pub fn pcen_matches_reference() -> Result<usize, String> {
    let file = File::open(frontend_fixtures().join("pcen.json")).map_err(err)?;
    let params: FrontEndParams = serde_json::from_reader(file).map_err(err)?;
    params.validate().map_err(err)?;
    let settings = params.pcen.ok_or("pcen.json has no pcen settings")?;
    let mut checked = 0;
    for stem in FRONTEND_STEMS {
        let audio = samples(stem)?;
        let mut fe = FrontEnd::new(params.clone(), FeatureKind::LogMel).map_err(err)?;
        let mel = fe.compute_all(&audio).map_err(err)?;
        let want = expected(stem, "default", "pcen")?;
        let mut pcen = Pcen::new(settings, mel.cols);
        let mut data = mel.data.clone();
        for row in data.chunks_mut(mel.cols) {
            pcen.apply(row);
        }
        let got = FeatureMatrix {
            data,
            ..mel.clone()
        };
        within(&format!("{stem}: PCEN"), max_diff(&got, &want)?)?;
        // The normaliser without mean/std is PCEN alone.
        let mut normaliser = Normaliser::new(&params, mel.cols);
        let mut data = Vec::new();
        for row in mel.data.chunks(mel.cols) {
            normaliser.apply(row, &mut data);
        }
        let got = FeatureMatrix { data, ..mel };
        within(&format!("{stem}: PCEN normaliser"), max_diff(&got, &want)?)?;
        checked += 2;
    }
    Ok(checked)
}

fn check_outputs(what: &str, got: &[f32], want: &[f32], relative: bool) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!(
            "{what}: {} values, expected {}",
            got.len(),
            want.len()
        ));
    }
    for (a, b) in got.iter().zip(want) {
        let allowed = if relative {
            GOLDEN_TOLERANCE * b.abs().max(1.0)
        } else {
            GOLDEN_TOLERANCE
        };
        if (a - b).abs() > allowed || !a.is_finite() {
            return Err(format!("{what}: {a} vs {b}"));
        }
    }
    Ok(())
}

/// A shipped audio model (`models/NAME.onnx`) replays its golden vectors through tract;
/// returns the number of output values compared.
pub fn replay_shipped_model(name: &str) -> Result<usize, String> {
    let json = shipped_models().join(format!("{name}.json"));
    let meta = ModelMetadata::load(&json).map_err(err)?;
    let graph = Graph::load(&ModelMetadata::graph_path(&json), &meta).map_err(err)?;
    let text = std::fs::read_to_string(shipped_models().join(format!("{name}.golden.json")))
        .map_err(err)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(err)?;
    let inputs = tensors(&v["inputs"])?;
    let outputs = tensors(&v["outputs"])?;
    let mut feeds: TVec<TValue> = tvec![];
    for spec in &meta.io.inputs {
        let (_, shape, data) = inputs
            .iter()
            .find(|(n, _, _)| *n == spec.name)
            .ok_or_else(|| format!("{name}: no golden input {}", spec.name))?;
        feeds.push(tensor_f32(shape, data).map_err(err)?.into_tvalue());
    }
    let got = graph.run(feeds).map_err(err)?;
    let mut checked = 0;
    for (spec, value) in meta.io.outputs.iter().zip(&got) {
        let (_, _, want) = outputs
            .iter()
            .find(|(n, _, _)| *n == spec.name)
            .ok_or_else(|| format!("{name}: no golden output {}", spec.name))?;
        let mut have = Vec::new();
        read_f32(value, &mut have).map_err(err)?;
        check_outputs(&format!("{name}: {}", spec.name), &have, want, true)?;
        checked += have.len();
    }
    Ok(checked)
}

/// The shipped intent model's grammar (`models/intent.json`) decodes the phoneme
/// log-probabilities of `models/intent.grammar-golden.json` as the Python decoder did: same
/// intent and slots, same path scores within a relative 1e-9, and the grammar's judge gives the
/// same score within 1e-5 and the same verdict; returns the number of cases.
pub fn replay_shipped_grammar() -> Result<usize, String> {
    let json = shipped_models().join("intent.json");
    let meta = ModelMetadata::load(&json).map_err(err)?;
    let spec = meta
        .intent
        .and_then(|i| i.grammar)
        .ok_or("models/intent.json has no grammar")?;
    let phonemes = ModelMetadata::load(&shipped_models().join(format!("{}.json", spec.phonemes)))
        .map_err(err)?;
    let decoder = spec.decoder(phonemes.labels.len() - 1).map_err(err)?;
    let text = std::fs::read_to_string(shipped_models().join("intent.grammar-golden.json"))
        .map_err(err)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(err)?;
    let cases = v["cases"].as_array().ok_or("no cases")?;
    for case in cases {
        let what = case["text"].as_str().unwrap_or("?");
        let logp: Vec<f32> = case["logp"]["data"]
            .as_array()
            .ok_or("no logp")?
            .iter()
            .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
            .collect();
        let d = decoder.decode(&logp);
        let want_intent = case["intent"].as_str().map(str::to_string);
        if d.intent != want_intent {
            return Err(format!(
                "{what}: intent {:?}, Python {want_intent:?}",
                d.intent
            ));
        }
        let want_slots: BTreeMap<String, (String, String)> =
            serde_json::from_value(case["slots"].clone()).map_err(err)?;
        if d.slots != want_slots {
            return Err(format!(
                "{what}: slots {:?}, Python {want_slots:?}",
                d.slots
            ));
        }
        for (name, have, want) in [
            ("score", d.score, case["score"].as_f64()),
            ("free", d.free, case["free"].as_f64()),
        ] {
            let want = want.ok_or(format!("{what}: no {name}"))?;
            if (have - want).abs() > 1e-9 * want.abs().max(1.0) {
                return Err(format!("{what}: {name} {have} vs Python {want}"));
            }
        }
        if d.intent.is_some() {
            let judge = spec
                .judge
                .ok_or("models/intent.json has no grammar judge")?;
            let number = |key: &str| {
                case[key]
                    .as_f64()
                    .map(|x| x as f32)
                    .ok_or(format!("{what}: no {key}"))
            };
            let margin = decoder.margin(&logp, &d);
            let inputs = hark::models::JudgeInputs {
                gap: d.gap() as f32,
                p_oog: number("p_out_of_grammar")?,
                p_intent: number("p_intent")?,
                margin,
                frames: d.frames,
            };
            let have = judge.score(&inputs);
            let want = number("judge_score")?;
            if (have - want).abs() > 1e-5 {
                return Err(format!("{what}: judge score {have} vs Python {want}"));
            }
            // Models from before the margin have none in their cases.
            if let Some(want) = case.get("margin").and_then(serde_json::Value::as_f64) {
                let margin = margin.ok_or(format!("{what}: no margin"))?;
                if (margin - want).abs() > 1e-9 {
                    return Err(format!("{what}: margin {margin} vs Python {want}"));
                }
            }
            if case["understood"].as_bool() != Some(judge.accepts(have, &inputs, || margin)) {
                return Err(format!("{what}: understood differs from Python ({have})"));
            }
        }
    }
    Ok(cases.len())
}

/// A shipped text model replays its golden cases: the Rust tokenizer gives the Python one's
/// ids, and tract the Python outputs; returns the number of cases.
pub fn replay_shipped_text_model(name: &str) -> Result<usize, String> {
    let json = shipped_models().join(format!("{name}.json"));
    let meta = ModelMetadata::load(&json).map_err(err)?;
    let graph = Graph::load(&ModelMetadata::graph_path(&json), &meta).map_err(err)?;
    let spec: TokenizerSpec = serde_json::from_value(
        meta.tokenizer
            .clone()
            .ok_or("no tokenizer in the metadata")?,
    )
    .map_err(err)?;
    let tokenizer = Tokenizer::new(spec).map_err(err)?;
    let text = std::fs::read_to_string(shipped_models().join(format!("{name}.golden.json")))
        .map_err(err)?;
    let golden: serde_json::Value = serde_json::from_str(&text).map_err(err)?;
    let cases = golden["cases"].as_array().ok_or("no golden cases")?;
    if cases.is_empty() {
        return Err(format!("{name}: no golden cases"));
    }
    for case in cases {
        let text = case["text"].as_str().ok_or("a case without text")?;
        let want_ids: Vec<i64> =
            serde_json::from_value(case["inputs"]["tokens"]["data"].clone()).map_err(err)?;
        let ids = tokenizer.ids(&tokenizer.tokens(text));
        if ids != want_ids {
            return Err(format!(
                "{name}: tokenisation of {text:?}: {ids:?} vs {want_ids:?}"
            ));
        }
        let x = Tensor::from_shape(&[1, ids.len()], &ids).map_err(err)?;
        let outputs = graph.run(tvec![x.into_tvalue()]).map_err(err)?;
        for (spec, value) in meta.io.outputs.iter().zip(&outputs) {
            let want: Vec<f32> =
                serde_json::from_value(case["outputs"][&spec.name]["data"].clone()).map_err(err)?;
            let mut got = Vec::new();
            read_f32(value, &mut got).map_err(err)?;
            check_outputs(
                &format!("{name}/{}: {text:?}", spec.name),
                &got,
                &want,
                false,
            )?;
        }
    }
    Ok(cases.len())
}

/// Every shipped model with golden vectors: the audio ones and the text ones.
pub const SHIPPED_AUDIO_MODELS: [&str; 6] = [
    "keyword",
    "intent",
    "sentiment",
    "vad",
    "phonemes",
    "phonemes-wake",
];
/// The shipped text models.
pub const SHIPPED_TEXT_MODELS: [&str; 2] = ["text-intent", "text-sentiment"];

/// The shipped keyword model's wake-word verification (`keyword.verify` in `models/keyword.json`)
/// scores the recogniser outputs of `models/keyword.verify-golden.json` as the Python reference
/// did, within a relative 1e-9; returns the number of cases.
pub fn replay_shipped_wake_verification() -> Result<usize, String> {
    let meta = ModelMetadata::load(&shipped_models().join("keyword.json")).map_err(err)?;
    let spec = meta
        .keyword
        .and_then(|k| k.verify)
        .ok_or("models/keyword.json has no verification")?;
    let text = std::fs::read_to_string(shipped_models().join("keyword.verify-golden.json"))
        .map_err(err)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(err)?;
    let cases = v["cases"].as_array().ok_or("no cases")?;
    for (i, case) in cases.iter().enumerate() {
        let word = case["word"].as_str().ok_or("no word")?;
        let phonemes = &spec
            .words
            .get(word)
            .ok_or(format!("case {i}: {word:?} is not verified"))?
            .phonemes;
        let shape: Vec<usize> =
            serde_json::from_value(case["logp"]["shape"].clone()).map_err(err)?;
        let logp: Vec<f32> = serde_json::from_value(case["logp"]["data"].clone()).map_err(err)?;
        let want = case["score"]
            .as_f64()
            .ok_or(format!("case {i}: no score"))?;
        let have = hark::models::verify::spot_score(&logp, shape[1], phonemes);
        if (have - want).abs() > 1e-9 * want.abs().max(1.0) {
            return Err(format!("case {i} ({word}): score {have} vs Python {want}"));
        }
    }
    Ok(cases.len())
}
