//! Streaming keyword spotting: the model run frame chunk by frame chunk with its state carried
//! ([`KeywordStream`]), and posterior smoothing, thresholds and a refractory period turning
//! per-frame scores into detections ([`KeywordDetector`]).

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::graph::{GraphState, read_f32};
use super::verify::WakeVerifier;
use super::{Graph, KeywordSpec, ModelError, ModelKind, ModelMetadata, tensor_f32};
use crate::features::FrontEndParams;

/// A loaded keyword model.
pub struct KeywordModel {
    meta: ModelMetadata,
    spec: KeywordSpec,
    graph: Graph,
    dim: usize,
    verifier: Option<WakeVerifier>,
}

impl KeywordModel {
    /// Loads `<dir>/<name>.json` and the graph beside it.
    pub fn load(json: &Path) -> Result<Self, ModelError> {
        let meta = ModelMetadata::load(json)?;
        let graph = Graph::load(&ModelMetadata::graph_path(json), &meta)?;
        Self::from_parts(meta, graph, json)
    }

    /// Builds the model from checked metadata and graph.
    pub fn from_parts(meta: ModelMetadata, graph: Graph, json: &Path) -> Result<Self, ModelError> {
        let wrong = |message: String| ModelError::Metadata {
            path: json.to_path_buf(),
            message,
        };
        if meta.kind != ModelKind::Keyword {
            return Err(wrong(format!(
                "expected a keyword model, found {:?}",
                meta.kind
            )));
        }
        let spec = meta
            .keyword
            .clone()
            .ok_or_else(|| wrong("missing `keyword`".into()))?;
        let dim = meta
            .feature_dim()
            .ok_or_else(|| wrong("missing front-end".into()))?;
        let verifier = match &spec.verify {
            Some(v) => Some(WakeVerifier::load(json, &meta, v)?),
            None => None,
        };
        Ok(Self {
            meta,
            spec,
            graph,
            dim,
            verifier,
        })
    }

    /// The phoneme verification of its wake words, when the metadata has one.
    pub fn verifier(&self) -> Option<&WakeVerifier> {
        self.verifier.as_ref()
    }

    /// The metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.meta
    }

    /// The keyword section of the metadata.
    pub fn spec(&self) -> &KeywordSpec {
        &self.spec
    }

    /// The front-end the model expects.
    pub fn frontend(&self) -> &FrontEndParams {
        // Audio models are checked to carry a front-end when loaded.
        self.meta
            .frontend
            .as_ref()
            .unwrap_or_else(|| unreachable!("checked at load"))
    }

    /// Width of a feature frame.
    pub fn feature_dim(&self) -> usize {
        self.dim
    }

    /// Output labels.
    pub fn labels(&self) -> &[String] {
        &self.meta.labels
    }
}

/// One stream through a keyword model; the state is carried between calls.
pub struct KeywordStream {
    model: Arc<KeywordModel>,
    state: GraphState,
    carried: Vec<TValue>,
    scores: Vec<f32>,
    resets: u64,
}

impl KeywordStream {
    /// A fresh stream (zero state).
    pub fn new(model: Arc<KeywordModel>) -> Result<Self, ModelError> {
        let state = model.graph.spawn()?;
        let mut stream = Self {
            model,
            state,
            carried: Vec::new(),
            scores: Vec::new(),
            resets: 0,
        };
        stream.reset()?;
        Ok(stream)
    }

    /// Back to the zero state.
    pub fn reset(&mut self) -> Result<(), ModelError> {
        self.carried = self
            .model
            .spec
            .state
            .iter()
            .map(|s| {
                Tensor::zero::<f32>(&s.shape)
                    .map(IntoTValue::into_tvalue)
                    .map_err(|e| self.model.graph.run_error(e))
            })
            .collect::<Result<_, _>>()?;
        Ok(())
    }

    /// Times the state was reset because the model produced non-finite values.
    pub fn non_finite_resets(&self) -> u64 {
        self.resets
    }

    /// Feeds `frames` (row-major, a multiple of the feature width) and returns one row of
    /// posteriors per frame (row-major, one column per label).
    pub fn push(&mut self, frames: &[f32]) -> Result<&[f32], ModelError> {
        let dim = self.model.dim;
        let n = frames.len() / dim;
        self.scores.clear();
        if n == 0 {
            return Ok(&self.scores);
        }
        let x = tensor_f32(&[1, n, dim], &frames[..n * dim])?;
        let mut inputs: TVec<TValue> = tvec![x.into_tvalue()];
        inputs.extend(self.carried.drain(..));
        let mut outputs = self.model.graph.run_state(&mut self.state, inputs)?;
        read_f32(&outputs[0], &mut self.scores).map_err(|e| self.model.graph.run_error(e))?;
        let state_finite = outputs[1..].iter().all(|t| {
            t.try_as_plain_ram()
                .and_then(|v| v.as_slice::<f32>().map(|s| s.iter().all(|x| x.is_finite())))
                .unwrap_or(false)
        });
        if state_finite && self.scores.iter().all(|s| s.is_finite()) {
            self.carried.extend(outputs.drain(1..));
        } else {
            self.resets += 1;
            tracing::warn!(
                model = self.model.graph.name(),
                resets = self.resets,
                "keyword model produced non-finite values; its state was reset"
            );
            let n_labels = self.model.labels().len();
            let background = self
                .model
                .labels()
                .iter()
                .position(|l| *l == self.model.spec.background)
                .unwrap_or(0);
            for (i, s) in self.scores.iter_mut().enumerate() {
                *s = if i % n_labels == background { 1.0 } else { 0.0 };
            }
            self.reset()?;
        }
        Ok(&self.scores)
    }
}

/// A keyword heard in the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// The label.
    pub keyword: String,
    /// Whether it is a wake word (else a command word).
    pub wake: bool,
    /// Smoothed posterior when it fired.
    pub score: f32,
    /// The phoneme recogniser's alignment score (at most 0) of a verified wake word.
    pub verification: Option<f64>,
    /// Estimated start of the word, seconds from the stream start.
    pub start: f64,
    /// End of the frame that fired, seconds from the stream start.
    pub end: f64,
}

/// Longest word the onset search looks back over, in seconds.
const MAX_WORD_S: f64 = 1.5;

/// Turns per-frame posteriors into detections.
pub struct KeywordDetector {
    labels: Vec<String>,
    wake: Vec<bool>,
    thresholds: Vec<Option<f32>>,
    window: usize,
    history: Vec<f32>,
    sums: Vec<f32>,
    refractory_frames: u64,
    last_fired: Vec<Option<u64>>,
    armed: Vec<bool>,
    onset: Vec<Option<u64>>,
    frame: u64,
    hop_s: f64,
    win_s: f64,
    max_word_frames: u64,
}

impl KeywordDetector {
    /// A detector for `model`'s labels and defaults; wake words the model verifies fire at
    /// their (lower) candidate thresholds, to be confirmed by [`WakeVerifier`].
    pub fn new(model: &KeywordModel) -> Self {
        let mut detector = Self::single_stage(model);
        if let Some(v) = model.verifier() {
            for (label, t) in v.candidate_thresholds() {
                detector.set_threshold(label, t);
            }
        }
        detector
    }

    /// A detector with the model's own thresholds for every label, for running the keyword
    /// model without its verification.
    pub fn single_stage(model: &KeywordModel) -> Self {
        let spec = model.spec();
        let fe = model.frontend();
        let labels = model.labels().to_vec();
        let n = labels.len();
        let hop_s = fe.hop_length as f64 / f64::from(fe.sample_rate);
        Self {
            wake: labels.iter().map(|l| spec.wake_words.contains(l)).collect(),
            thresholds: labels
                .iter()
                .map(|l| {
                    if *l == spec.background {
                        None
                    } else {
                        spec.thresholds.get(l).copied()
                    }
                })
                .collect(),
            window: spec.smoothing_frames.max(1),
            history: vec![0.0; spec.smoothing_frames.max(1) * n],
            sums: vec![0.0; n],
            refractory_frames: (f64::from(spec.refractory_s) / hop_s).round() as u64,
            last_fired: vec![None; n],
            armed: vec![true; n],
            onset: vec![None; n],
            frame: 0,
            hop_s,
            win_s: fe.win_length as f64 / f64::from(fe.sample_rate),
            max_word_frames: (MAX_WORD_S / hop_s).round() as u64,
            labels,
        }
    }

    /// Replaces every keyword's threshold (labels without one keep none).
    pub fn set_all_thresholds(&mut self, threshold: f32) {
        for t in self.thresholds.iter_mut().flatten() {
            *t = threshold;
        }
    }

    /// Sets one label's threshold; false when the label is unknown.
    pub fn set_threshold(&mut self, label: &str, threshold: f32) -> bool {
        match self.labels.iter().position(|l| l == label) {
            Some(i) => {
                self.thresholds[i] = Some(threshold);
                true
            }
            None => false,
        }
    }

    /// Index of `label` among the labels.
    pub fn label_index(&self, label: &str) -> Option<usize> {
        self.labels.iter().position(|l| l == label)
    }

    /// Smoothed posterior of label `i` after the last frame fed.
    pub fn smoothed(&self, i: usize) -> f32 {
        let filled = self.frame.clamp(1, self.window as u64) as f32;
        (self.sums.get(i).copied().unwrap_or(0.0) / filled).clamp(0.0, 1.0)
    }

    /// A label's threshold (`None` for the background or an unknown label).
    pub fn threshold(&self, label: &str) -> Option<f32> {
        self.thresholds[self.label_index(label)?]
    }

    /// Number of labels (columns of a posterior row).
    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    /// Forgets the stream (times restart from 0).
    pub fn reset(&mut self) {
        self.history.fill(0.0);
        self.sums.fill(0.0);
        self.last_fired.fill(None);
        self.armed.fill(true);
        self.onset.fill(None);
        self.frame = 0;
    }

    /// Advances over `frames` frames that were not run (silence the keyword gate skipped): they
    /// count as all-background posteriors, so smoothing, onsets and refractory times stay right.
    pub fn skip(&mut self, frames: u64) {
        if frames == 0 {
            return;
        }
        let n = self.labels.len();
        let fed = frames.min(self.window as u64);
        for _ in 0..fed {
            let slot = (self.frame % self.window as u64) as usize;
            for i in 0..n {
                let old = std::mem::replace(&mut self.history[slot * n + i], 0.0);
                self.sums[i] -= old;
            }
            self.frame += 1;
        }
        if frames > fed {
            // The whole smoothing window is background by now.
            self.sums.fill(0.0);
            self.frame += frames - fed;
        }
        self.armed.fill(true);
        self.onset.fill(None);
    }

    /// Feeds one frame of posteriors; returns a detection when one fires on this frame.
    pub fn update(&mut self, scores: &[f32]) -> Option<Detection> {
        let n = self.labels.len();
        let slot = (self.frame % self.window as u64) as usize;
        let filled = (self.frame + 1).min(self.window as u64) as f32;
        let mut best: Option<(usize, f32)> = None;
        for (i, &score) in scores.iter().enumerate().take(n) {
            let old = std::mem::replace(&mut self.history[slot * n + i], score);
            self.sums[i] += score - old;
            let Some(threshold) = self.thresholds[i] else {
                continue;
            };
            let smoothed = (self.sums[i] / filled).clamp(0.0, 1.0);
            // Onset: the first frame of the current run above half the threshold.
            if score >= 0.5 * threshold {
                let too_old = self.onset[i].is_some_and(|o| self.frame - o > self.max_word_frames);
                if self.onset[i].is_none() || too_old {
                    self.onset[i] = Some(self.frame);
                }
            } else if smoothed < 0.5 * threshold {
                self.onset[i] = None;
            }
            if smoothed < threshold {
                self.armed[i] = true;
                continue;
            }
            let refractory =
                self.last_fired[i].is_some_and(|f| self.frame - f < self.refractory_frames);
            if self.armed[i] && !refractory && best.is_none_or(|(_, s)| smoothed > s) {
                best = Some((i, smoothed));
            }
        }
        let detection = best.map(|(i, smoothed)| {
            self.armed[i] = false;
            self.last_fired[i] = Some(self.frame);
            let onset = self.onset[i].unwrap_or(self.frame);
            Detection {
                keyword: self.labels[i].clone(),
                wake: self.wake[i],
                score: smoothed,
                verification: None,
                start: onset as f64 * self.hop_s,
                end: self.frame as f64 * self.hop_s + self.win_s,
            }
        });
        self.frame += 1;
        detection
    }
}
