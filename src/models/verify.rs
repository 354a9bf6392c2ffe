//! A second opinion on wake words: the phoneme recogniser reads the frames around a candidate.
//!
//! A keyword model whose metadata has `keyword.verify` proposes a verified wake word as a
//! *candidate* at a low threshold; the pipeline then hands the raw front-end frames from
//! `window_before_s` before the candidate to `window_after_s` after it to [`WakeVerifier`], which
//! runs the phoneme recogniser over them and aligns the word's phonemes anywhere in the window
//! ([`spot_score`]). The wake word fires when the score reaches the word's threshold. The
//! Python reference is `training/hark_train/wake_verify.py`; `keyword.verify-golden.json` holds
//! cases both must score alike.

use std::collections::BTreeMap;
use std::path::Path;

use super::utterance::PhonemeModel;
use super::{ModelError, ModelMetadata};
use crate::models::metadata::VerifySpec;

/// The best alignment of `phonemes` (label ids; 0 is the CTC blank) to the row-major
/// `[frames, labels]` log-probabilities `logp` that starts and ends at any frame: CTC topology
/// (a blank may separate two phonemes and must separate a repeated one), each frame scored by
/// its state's log-probability minus the frame's largest. It is at most 0, 0 when the
/// recogniser's best reading contains the word, and `-inf` when the window is too short for it.
pub fn spot_score(logp: &[f32], labels: usize, phonemes: &[u16]) -> f64 {
    if phonemes.is_empty() || labels == 0 {
        return f64::NEG_INFINITY;
    }
    // States: p1, blank, p2, blank, ..., pn.
    let mut states = Vec::with_capacity(2 * phonemes.len() - 1);
    for (i, &p) in phonemes.iter().enumerate() {
        states.push(usize::from(p));
        if i + 1 < phonemes.len() {
            states.push(0);
        }
    }
    let n = states.len();
    let skip: Vec<bool> = (0..n)
        .map(|s| s >= 2 && states[s] != 0 && states[s] != states[s - 2])
        .collect();
    let mut score = vec![f64::NEG_INFINITY; n];
    let mut next = vec![f64::NEG_INFINITY; n];
    let mut best = f64::NEG_INFINITY;
    for row in logp.chunks_exact(labels) {
        let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        for s in 0..n {
            let mut c = score[s];
            if s >= 1 {
                c = c.max(score[s - 1]);
            }
            if skip[s] {
                c = c.max(score[s - 2]);
            }
            if s == 0 {
                c = c.max(0.0); // the word may start at any frame
            }
            next[s] = c + (f64::from(row[states[s]]) - top);
        }
        std::mem::swap(&mut score, &mut next);
        best = best.max(score[n - 1]);
    }
    best
}

/// What the recogniser made of a candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// [`spot_score`] of the word over the window.
    pub score: f64,
    /// Whether it reaches the word's threshold.
    pub accepted: bool,
}

/// One verified word.
#[derive(Debug, Clone)]
struct Word {
    phonemes: Vec<u16>,
    threshold: f64,
    candidate_threshold: f32,
}

/// The phoneme recogniser and the verified words of a keyword model.
pub struct WakeVerifier {
    recogniser: PhonemeModel,
    words: BTreeMap<String, Word>,
    before_frames: usize,
    after_frames: usize,
}

impl WakeVerifier {
    /// Loads the recogniser named in `spec` from the folder of the keyword model `json` and
    /// checks it against the keyword model's front-end and the words' phoneme ids.
    pub fn load(
        json: &Path,
        keyword: &ModelMetadata,
        spec: &VerifySpec,
    ) -> Result<Self, ModelError> {
        let wrong = |message: String| ModelError::Metadata {
            path: json.to_path_buf(),
            message: format!("keyword.verify: {message}"),
        };
        let dir = json.parent().unwrap_or(Path::new("."));
        let recogniser = PhonemeModel::load(&dir.join(format!("{}.json", spec.recogniser)))?;
        let (Some(a), Some(b)) = (keyword.frontend(), recogniser.metadata().frontend()) else {
            return Err(wrong(
                "the keyword model or the recogniser has no front-end".into(),
            ));
        };
        if keyword.features != recogniser.metadata().features || !a.same_features(b) {
            return Err(wrong(format!(
                "the recogniser {:?} reads other features than the keyword model",
                spec.recogniser
            )));
        }
        let labels = recogniser.phonemes() + 1;
        let mut words = BTreeMap::new();
        for (label, w) in &spec.words {
            if let Some(bad) = w
                .phonemes
                .iter()
                .find(|&&p| p == 0 || usize::from(p) >= labels)
            {
                return Err(wrong(format!(
                    "phoneme id {bad} of {label:?} is not one of the recogniser's {} phonemes",
                    labels - 1
                )));
            }
            words.insert(
                label.clone(),
                Word {
                    phonemes: w.phonemes.clone(),
                    threshold: w.threshold,
                    candidate_threshold: w.candidate_threshold,
                },
            );
        }
        let hop_s = a.hop_length as f64 / f64::from(a.sample_rate);
        Ok(Self {
            recogniser,
            words,
            before_frames: (f64::from(spec.window_before_s) / hop_s).round() as usize,
            after_frames: (f64::from(spec.window_after_s) / hop_s).round() as usize,
        })
    }

    /// Whether `label` is verified.
    pub fn covers(&self, label: &str) -> bool {
        self.words.contains_key(label)
    }

    /// Labels verified, with their candidate thresholds.
    pub fn candidate_thresholds(&self) -> impl Iterator<Item = (&str, f32)> {
        self.words
            .iter()
            .map(|(l, w)| (l.as_str(), w.candidate_threshold))
    }

    /// Frames read up to and including the candidate's frame.
    pub fn before_frames(&self) -> usize {
        self.before_frames
    }

    /// Frames read after the candidate's frame (the verdict waits for them).
    pub fn after_frames(&self) -> usize {
        self.after_frames
    }

    /// The verdict on `label` over raw front-end `frames` (row-major); `None` when `label` is
    /// not verified.
    pub fn verify(&self, label: &str, frames: &[f32]) -> Result<Option<Verdict>, ModelError> {
        let Some(word) = self.words.get(label) else {
            return Ok(None);
        };
        let logp = self.recogniser.log_probs(frames)?;
        let score = spot_score(&logp, self.recogniser.phonemes() + 1, &word.phonemes);
        Ok(Some(Verdict {
            score,
            accepted: score >= word.threshold,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log-probabilities over 4 labels (blank, a, b, c) where each frame says one label.
    fn says(seq: &[usize]) -> Vec<f32> {
        let mut out = Vec::new();
        for &k in seq {
            for l in 0..4 {
                out.push(if l == k { -0.05 } else { -4.0 });
            }
        }
        out
    }

    #[test]
    fn a_word_said_anywhere_in_the_window_scores_about_zero() {
        let lp = says(&[0, 3, 0, 1, 1, 0, 2, 0, 3, 0]);
        let s = spot_score(&lp, 4, &[1, 2]);
        assert!(s.abs() < 1e-9, "{s}");
    }

    #[test]
    fn a_missing_phoneme_costs_its_log_probability() {
        let lp = says(&[0, 1, 0, 3, 0]);
        let s = spot_score(&lp, 4, &[1, 2]);
        // One frame must be forced to say b instead of its best label: -4 - (-0.05).
        assert!((s - (-3.95)).abs() < 1e-6, "{s}");
    }

    #[test]
    fn a_repeated_phoneme_needs_a_blank_between() {
        let lp = says(&[1, 1, 1]);
        let with_blank = spot_score(&says(&[1, 0, 1]), 4, &[1, 1]);
        let without = spot_score(&lp, 4, &[1, 1]);
        assert!(with_blank.abs() < 1e-9);
        assert!((without - (-3.95)).abs() < 1e-6, "{without}");
    }

    #[test]
    fn a_window_shorter_than_the_word_scores_minus_infinity() {
        for s in [
            spot_score(&says(&[1]), 4, &[1, 2]),
            spot_score(&[], 4, &[1]),
        ] {
            assert!(s.is_infinite() && s < 0.0, "{s}");
        }
    }
}
