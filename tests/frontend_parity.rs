//! The Rust front-end against the Python reference's golden fixtures (`tests/fixtures/frontend`,
//! written by `python -m hark_train fixtures`): log-mel and MFCC agree within 1e-4 absolute, for
//! every parameter set, whether the audio is fed whole or in chunks; PCEN of the log-mel (the
//! keyword model's input) agrees within the same 1e-4. The comparisons live in
//! `common::golden`, shared with `tests/main_thread.rs`.

mod common;

use common::golden::{FEATURE_TOLERANCE, expected, frontend_params, max_diff, samples};
use hark::features::{FeatureKind, FeatureMatrix, FrontEnd};

#[test]
fn rust_matches_python_reference_on_every_fixture() {
    let sets = frontend_params().unwrap();
    assert!(sets.len() >= 3, "expected several parameter sets");
    let checked = common::golden::frontend_matches_reference().unwrap();
    assert_eq!(checked, 6 * sets.len());
}

#[test]
fn streaming_in_odd_chunks_matches_the_reference_too() {
    let sets = frontend_params().unwrap();
    let audio = samples("speech").unwrap();
    let want = expected("speech", "default", "mfcc").unwrap();
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
        assert!(
            max_diff(&got, &want).unwrap() <= FEATURE_TOLERANCE,
            "chunk {chunk}"
        );
    }
}

#[test]
fn pcen_matches_python_reference_frame_by_frame() {
    assert_eq!(common::golden::pcen_matches_reference().unwrap(), 6);
}
