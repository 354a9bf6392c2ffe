//! The Rust front-end against the Python reference's golden fixtures (`tests/fixtures/frontend`,
//! written by `python -m hark_train fixtures`): log-mel and MFCC agree within 1e-4 absolute, for
//! every parameter set, whether the audio is fed whole or in chunks; PCEN of the log-mel (the
//! keyword model's input) agrees within the same 1e-4.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use hark::audio::{AudioSource, FileSource, read_all};
use hark::features::{FeatureKind, FeatureMatrix, FrontEnd, FrontEndParams, Pcen, npy};
use hark::models::set::Normaliser;

/// Largest absolute difference allowed between Rust and Python features.
const TOLERANCE: f32 = 1e-4;

fn load_params() -> BTreeMap<String, FrontEndParams> {
    let path = common::fixtures().join("frontend/params.json");
    serde_json::from_reader(File::open(path).unwrap()).unwrap()
}

fn expected(stem: &str, set: &str, kind: &str) -> FeatureMatrix {
    let path = common::fixtures().join(format!("frontend/{stem}.{set}.{kind}.npy"));
    npy::read_f32(File::open(&path).unwrap()).unwrap()
}

fn samples(stem: &str) -> Vec<f32> {
    let path = common::fixtures().join(format!("frontend/{stem}.wav"));
    let mut source = FileSource::open(Path::new(&path)).unwrap();
    assert_eq!(source.sample_rate(), 16_000);
    let audio = read_all(&mut source as &mut dyn AudioSource).unwrap();
    audio.samples
}

fn max_diff(a: &FeatureMatrix, b: &FeatureMatrix) -> f32 {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols), "shapes differ");
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn rust_matches_python_reference_on_every_fixture() {
    let sets = load_params();
    assert!(sets.len() >= 3, "expected several parameter sets");
    let mut checked = 0;
    for stem in ["speech", "quiet_speech", "tones_noise"] {
        let audio = samples(stem);
        for (set, params) in &sets {
            // Normalisation applies to the model's input (MFCC here); log-mel stays raw.
            let mut mel_params = params.clone();
            mel_params.mean = None;
            mel_params.std = None;
            let mut mel = FrontEnd::new(mel_params, FeatureKind::LogMel).unwrap();
            let got = mel.compute_all(&audio).unwrap();
            let diff = max_diff(&got, &expected(stem, set, "logmel"));
            assert!(diff <= TOLERANCE, "{stem}/{set} log-mel differs by {diff}");

            let mut mfcc = FrontEnd::new(params.clone(), FeatureKind::Mfcc).unwrap();
            let got = mfcc.compute_all(&audio).unwrap();
            let diff = max_diff(&got, &expected(stem, set, "mfcc"));
            assert!(diff <= TOLERANCE, "{stem}/{set} MFCC differs by {diff}");
            checked += 2;
        }
    }
    assert_eq!(checked, 6 * sets.len());
}

#[test]
fn streaming_in_odd_chunks_matches_the_reference_too() {
    let sets = load_params();
    let audio = samples("speech");
    let want = expected("speech", "default", "mfcc");
    let mut fe = FrontEnd::new(sets["default"].clone(), FeatureKind::Mfcc).unwrap();
    for chunk in [1, 13, 160, 333, 4096] {
        fe.reset();
        let mut data = Vec::new();
        for piece in audio.chunks(chunk) {
            fe.process(piece, |f| data.extend_from_slice(f)).unwrap();
        }
        let got = FeatureMatrix {
            rows: data.len() / 13,
            data,
            cols: 13,
        };
        assert!(max_diff(&got, &want) <= TOLERANCE, "chunk {chunk}");
    }
}

#[test]
fn pcen_matches_python_reference_frame_by_frame() {
    let path = common::fixtures().join("frontend/pcen.json");
    let params: FrontEndParams = serde_json::from_reader(File::open(path).unwrap()).unwrap();
    params.validate().unwrap();
    let settings = params.pcen.expect("pcen.json has pcen settings");
    for stem in ["speech", "quiet_speech", "tones_noise"] {
        let audio = samples(stem);
        let mut fe = FrontEnd::new(params.clone(), FeatureKind::LogMel).unwrap();
        let mel = fe.compute_all(&audio).unwrap();
        let want = expected(stem, "default", "pcen");
        // Through `Pcen` directly, and through the model normaliser (no mean/std: identity).
        let mut pcen = Pcen::new(settings, mel.cols);
        let mut data = mel.data.clone();
        for row in data.chunks_mut(mel.cols) {
            pcen.apply(row);
        }
        let got = FeatureMatrix {
            data,
            ..mel.clone()
        };
        let diff = max_diff(&got, &want);
        assert!(diff <= TOLERANCE, "{stem}: PCEN differs by {diff}");
        let mut normaliser = Normaliser::new(&params, mel.cols);
        let mut data = Vec::new();
        for row in mel.data.chunks(mel.cols) {
            normaliser.apply(row, &mut data);
        }
        let got = FeatureMatrix { data, ..mel };
        assert!(max_diff(&got, &want) <= TOLERANCE, "{stem}: normaliser");
    }
}
