//! Running the pipeline over audio files (`hark listen`), as fast as the CPU allows.

use std::path::Path;
use std::sync::Arc;

use crate::audio::{AudioError, AudioSource, FileSource, ToRate};
use crate::models::set::ModelSet;
use crate::pipeline::{CaptureSettings, Event, Mode, Pipeline, PipelineError};

/// How to listen.
#[derive(Debug, Clone)]
pub struct ListenOptions {
    /// Pipeline mode.
    pub mode: Mode,
    /// Command capture timing.
    pub capture: CaptureSettings,
    /// Overrides every keyword threshold.
    pub keyword_threshold: Option<f32>,
    /// Per-keyword thresholds (`[keyword] thresholds`).
    pub keyword_thresholds: std::collections::BTreeMap<String, f32>,
}

/// Errors of one file.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The audio could not be read.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// The pipeline failed.
    #[error("{origin}: {source}")]
    Pipeline {
        /// The file.
        origin: String,
        /// What failed.
        source: PipelineError,
    },
}

/// Runs any audio source through a fresh pipeline; returns every event in time order.
pub fn listen_source(
    source: &mut dyn AudioSource,
    models: &Arc<ModelSet>,
    options: &ListenOptions,
) -> Result<Vec<Event>, ListenError> {
    let origin = source.origin().to_string();
    let wrap = |source| ListenError::Pipeline {
        origin: origin.clone(),
        source,
    };
    let mut pipeline = Pipeline::new(
        Arc::clone(models),
        options.mode,
        options.capture.clone(),
        options.keyword_threshold,
    )
    .and_then(|p| p.with_keyword_thresholds(&options.keyword_thresholds))
    .map_err(wrap)?;
    let mut to_rate = ToRate::new(pipeline.frontend_params().sample_rate, &origin);
    let mut events = Vec::new();
    while let Some(chunk) = source.next_chunk()? {
        let samples = to_rate.push(&chunk.samples, chunk.sample_rate)?;
        events.extend(pipeline.push(samples).map_err(wrap)?);
    }
    let tail = to_rate.finish()?;
    events.extend(pipeline.push(tail).map_err(wrap)?);
    events.extend(pipeline.finish().map_err(wrap)?);
    Ok(events)
}

/// Runs one file.
pub fn listen_file(
    path: &Path,
    models: &Arc<ModelSet>,
    options: &ListenOptions,
) -> Result<Vec<Event>, ListenError> {
    let mut source = FileSource::open(path)?;
    listen_source(&mut source, models, options)
}
