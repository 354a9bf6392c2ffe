//! Wake-word verification with the shipped keyword model and phoneme recogniser: the sample's
//! wake word is confirmed, a candidate the recogniser does not hear as the word is refused,
//! verification can be switched off, a candidate at the very end of the input is still judged,
//! the scores match the Python reference, and broken `keyword.verify` sections are refused.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hark::audio::{FileSource, read_all};
use hark::models::keyword::KeywordModel;
use hark::models::set::ModelSet;
use hark::pipeline::{CaptureSettings, Event, Mode, Pipeline};

fn shipped() -> PathBuf {
    common::shipped_models()
}

/// The shipped keyword model and recogniser copied into a folder of their own, the keyword
/// metadata changed by `edit`.
fn keyword_dir(edit: impl FnOnce(&mut serde_json::Value)) -> tempfile::TempDir {
    common::edited_shipped_model(
        "keyword.json",
        &["keyword.onnx", "phonemes-wake.onnx", "phonemes-wake.json"],
        edit,
    )
}

fn sample() -> Vec<f32> {
    let mut src = FileSource::open(&common::fixtures().join("frontend/speech.wav")).unwrap();
    let audio = read_all(&mut src).unwrap();
    assert_eq!(audio.sample_rate, 16_000);
    audio.samples
}

fn wakes(dir: &Path, audio: &[f32], verify: bool) -> Vec<hark::models::keyword::Detection> {
    let models = Arc::new(ModelSet::load(Some(dir), &[]).unwrap());
    let mut p = Pipeline::new(models, Mode::Keyword, CaptureSettings::default(), None)
        .unwrap()
        .with_wake_verification(verify);
    common::run_through(&mut p, audio)
        .into_iter()
        .filter_map(|e| match e {
            Event::Wake(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn verified_threshold(meta: &serde_json::Value, word: &str) -> f64 {
    meta["keyword"]["verify"]["words"][word]["threshold"]
        .as_f64()
        .unwrap()
}

#[test]
fn the_samples_wake_word_is_confirmed() {
    let dir = keyword_dir(|_| {});
    let found = wakes(dir.path(), &sample(), true);
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    assert_eq!(d.keyword, "computer");
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("keyword.json")).unwrap())
            .unwrap();
    let score = d
        .verification
        .expect("a verified wake word carries its score");
    assert!(score <= 0.0 && score >= verified_threshold(&meta, "computer"));
    // The word ends before the command does (the sample says it in its first second).
    assert!(d.end > d.start && d.end < 1.2, "{d:?}");
}

#[test]
fn a_candidate_the_recogniser_does_not_hear_as_the_word_is_refused() {
    // "computer" checked against the phonemes of "jarvis": the same candidate, no wake word.
    let dir = keyword_dir(|m| {
        let jarvis = m["keyword"]["verify"]["words"]["jarvis"]["phonemes"].clone();
        m["keyword"]["verify"]["words"]["computer"]["phonemes"] = jarvis;
    });
    assert!(wakes(dir.path(), &sample(), true).is_empty());
}

#[test]
fn without_verification_the_single_stage_threshold_rules() {
    let dir = keyword_dir(|_| {});
    let found = wakes(dir.path(), &sample(), false);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].verification.is_none(), "{found:?}");
    let model = KeywordModel::load(&dir.path().join("keyword.json")).unwrap();
    let single = model.spec().thresholds["computer"];
    assert!(found.iter().all(|d| d.score >= single), "{found:?}");
}

#[test]
fn a_candidate_at_the_end_of_the_input_is_still_judged() {
    let audio = sample();
    let dir = keyword_dir(|_| {});
    let full = wakes(dir.path(), &audio, true);
    // Cut just after the word: its verification window is incomplete when the input ends.
    let cut = ((full[0].end + 0.1) * 16_000.0) as usize;
    let found = wakes(dir.path(), &audio[..cut.min(audio.len())], true);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].verification.is_some());
}

#[test]
fn verification_scores_match_the_python_reference() {
    let cases = common::golden::replay_shipped_wake_verification().unwrap();
    assert!(cases >= 2, "{cases} cases");
}

fn load_error(dir: &Path) -> String {
    match KeywordModel::load(&dir.join("keyword.json")) {
        Ok(_) => panic!("loaded"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_verification_sections_are_refused_with_the_file_named() {
    let dir = keyword_dir(|m| m["keyword"]["verify"]["words"]["computer"]["phonemes"] = 999.into());
    let e = load_error(dir.path());
    assert!(e.contains("keyword.json"), "{e}");
    let dir = keyword_dir(|m| {
        m["keyword"]["verify"]["words"]["computer"]["phonemes"] = serde_json::json!([38, 999]);
    });
    let e = load_error(dir.path());
    assert!(
        e.contains("keyword.json") && e.contains("phoneme id 999"),
        "{e}"
    );
    let dir = keyword_dir(|m| {
        m["keyword"]["verify"]["words"]["computer"]["candidate_threshold"] = 1.5.into();
    });
    let e = load_error(dir.path());
    assert!(e.contains("candidate_threshold"), "{e}");
    let dir =
        keyword_dir(|m| m["keyword"]["verify"]["words"]["computer"]["threshold"] = 0.5.into());
    let e = load_error(dir.path());
    assert!(e.contains("at most 0"), "{e}");
    let dir = keyword_dir(|m| {
        m["keyword"]["verify"]["words"]["_background_"] = serde_json::json!(
            {"phonemes": [38], "candidate_threshold": 0.3, "threshold": -1.0}
        )
    });
    let e = load_error(dir.path());
    assert!(e.contains("not a keyword label"), "{e}");
    let dir = keyword_dir(|_| {});
    std::fs::remove_file(dir.path().join("phonemes-wake.json")).unwrap();
    let e = load_error(dir.path());
    assert!(e.contains("phonemes-wake.json"), "{e}");
}

#[test]
fn a_verified_wake_word_is_followed_by_its_command() {
    // Every shipped model: the command is captured from just before the end of the wake word,
    // although the wake word is only confirmed half a second after its candidate.
    let models = Arc::new(ModelSet::load(Some(&shipped()), &[]).unwrap());
    let mut p = Pipeline::new(models, Mode::Full, CaptureSettings::default(), None).unwrap();
    let events = common::run_through(&mut p, &sample());
    let Some(Event::Wake(wake)) = events.first() else {
        panic!("{events:?}");
    };
    assert!(wake.verification.is_some());
    let intent = events
        .iter()
        .find_map(|e| match e {
            Event::Intent { start, end, .. } => Some((*start, *end)),
            _ => None,
        })
        .expect("an intent event");
    let preroll = CaptureSettings::default().preroll_s;
    assert!(
        (intent.0 - (wake.end - preroll)).abs() < 0.1 && intent.1 > wake.end + 1.0,
        "{intent:?} after {wake:?}"
    );
}
