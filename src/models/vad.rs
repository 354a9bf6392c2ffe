//! A neural voice activity detector (Silero VAD's 16 kHz sequence graph) run by tract.
//!
//! The graph reads windows of raw audio (`window` new samples after the `context` last samples
//! of the previous window) and carries its LSTM state `h`, `c` from window to window; it answers
//! one speech probability per window. [`VadModel`] holds the optimised plan (shared);
//! [`VadStream`] is one audio stream's state: it buffers samples into windows and keeps the last
//! probability.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::graph::read_f32;
use super::{Graph, ModelError, ModelKind, ModelMetadata, VadSpec, tensor_f32};

/// Width of the LSTM state of the graph (`h` and `c` are `[1, 1, STATE]`).
const STATE: usize = 128;

/// A loaded VAD graph.
pub struct VadModel {
    meta: ModelMetadata,
    spec: VadSpec,
    graph: Graph,
}

impl VadModel {
    /// Loads `<name>.json` and its graph.
    pub fn load(json: &Path) -> Result<Self, ModelError> {
        let meta = ModelMetadata::load(json)?;
        if meta.kind != ModelKind::Vad {
            return Err(ModelError::Metadata {
                path: json.to_path_buf(),
                message: format!("expected a Vad model, found {:?}", meta.kind),
            });
        }
        let spec = meta.vad.clone().ok_or_else(|| ModelError::Metadata {
            path: json.to_path_buf(),
            message: "a vad model needs `vad`".into(),
        })?;
        let graph = Graph::load(&ModelMetadata::graph_path(json), &meta)?;
        Ok(Self { meta, spec, graph })
    }

    /// The metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.meta
    }

    /// How audio is windowed.
    pub fn spec(&self) -> &VadSpec {
        &self.spec
    }

    /// Runs the graph on `windows` (each `window + context` samples, row-major) from the state
    /// `h`, `c`; returns the probabilities and updates the state in place.
    pub fn run(
        &self,
        windows: &[f32],
        h: &mut Vec<f32>,
        c: &mut Vec<f32>,
    ) -> Result<Vec<f32>, ModelError> {
        let width = self.spec.window + self.spec.context;
        let n = windows.len() / width;
        let input = tensor_f32(&[n, width], &windows[..n * width])?;
        let ht = tensor_f32(&[1, 1, STATE], h)?;
        let ct = tensor_f32(&[1, 1, STATE], c)?;
        let out = self.graph.run(tvec![
            input.into_tvalue(),
            ht.into_tvalue(),
            ct.into_tvalue()
        ])?;
        let mut probs = Vec::with_capacity(n);
        read_f32(&out[0], &mut probs).map_err(|e| self.graph.run_error(e))?;
        read_f32(&out[1], h).map_err(|e| self.graph.run_error(e))?;
        read_f32(&out[2], c).map_err(|e| self.graph.run_error(e))?;
        if h.len() != STATE || c.len() != STATE {
            return Err(ModelError::Run {
                name: self.meta.name.clone(),
                message: format!(
                    "state of {} / {} values, expected {STATE}",
                    h.len(),
                    c.len()
                ),
            });
        }
        Ok(probs)
    }
}

/// One stream through a [`VadModel`].
pub struct VadStream {
    model: Arc<VadModel>,
    h: Vec<f32>,
    c: Vec<f32>,
    /// The `context` last samples of the previous window, then the new samples so far.
    window: Vec<f32>,
    probability: f32,
    windows_run: u64,
}

impl VadStream {
    /// A stream from silence.
    pub fn new(model: Arc<VadModel>) -> Self {
        let context = model.spec.context;
        let width = model.spec.window + context;
        let mut window = Vec::with_capacity(width);
        window.resize(context, 0.0);
        Self {
            model,
            h: vec![0.0; STATE],
            c: vec![0.0; STATE],
            window,
            probability: 0.0,
            windows_run: 0,
        }
    }

    /// Forgets everything heard.
    pub fn reset(&mut self) {
        self.h.iter_mut().for_each(|v| *v = 0.0);
        self.c.iter_mut().for_each(|v| *v = 0.0);
        self.window.clear();
        self.window.resize(self.model.spec.context, 0.0);
        self.probability = 0.0;
    }

    /// Feeds samples (at the model's rate); runs every window they complete.
    pub fn push(&mut self, mut samples: &[f32]) -> Result<(), ModelError> {
        let width = self.model.spec.window + self.model.spec.context;
        let context = self.model.spec.context;
        while !samples.is_empty() {
            let take = (width - self.window.len()).min(samples.len());
            self.window.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.window.len() == width {
                let probs = self.model.run(&self.window, &mut self.h, &mut self.c)?;
                let p = probs.first().copied().unwrap_or(0.0);
                if p.is_finite() && self.h.iter().chain(&self.c).all(|v| v.is_finite()) {
                    self.probability = p;
                } else {
                    tracing::warn!("voice activity model produced non-finite values; state reset");
                    self.reset();
                    continue;
                }
                self.windows_run += 1;
                self.window.drain(..width - context);
            }
        }
        Ok(())
    }

    /// The speech probability of the last complete window.
    pub fn probability(&self) -> f32 {
        self.probability
    }

    /// Whether the last complete window is speech.
    pub fn is_speech(&self) -> bool {
        self.probability > self.model.spec.threshold
    }

    /// Windows run so far.
    pub fn windows_run(&self) -> u64 {
        self.windows_run
    }
}
