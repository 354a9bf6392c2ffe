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
    /// Pause the keyword model through silence (`[keyword] pause_in_silence`).
    pub keyword_gate: bool,
    /// Confirm verified wake words with the phoneme recogniser (`[keyword] verify`).
    pub wake_verification: bool,
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

/// What one input yielded: every event heard, in time order, and the error that cut it short.
///
/// An input that fails midway (a truncated or damaged file) still yields the events heard before
/// the failure, including a command in progress, so nothing already understood is lost.
#[derive(Debug)]
pub struct Outcome {
    /// Events heard.
    pub events: Vec<Event>,
    /// Why the input ended early, if it did.
    pub error: Option<ListenError>,
}

/// Runs any audio source through a fresh pipeline.
pub fn listen_source(
    source: &mut dyn AudioSource,
    models: &Arc<ModelSet>,
    options: &ListenOptions,
) -> Outcome {
    let origin = source.origin().to_string();
    let wrap = |source| ListenError::Pipeline {
        origin: origin.clone(),
        source,
    };
    let mut events = Vec::new();
    let pipeline = Pipeline::new(
        Arc::clone(models),
        options.mode,
        options.capture.clone(),
        options.keyword_threshold,
    )
    .and_then(|p| p.with_keyword_thresholds(&options.keyword_thresholds))
    .map(|p| {
        p.with_keyword_gate(options.keyword_gate)
            .with_wake_verification(options.wake_verification)
    });
    let mut pipeline = match pipeline {
        Ok(p) => p,
        Err(e) => {
            return Outcome {
                events,
                error: Some(wrap(e)),
            };
        }
    };
    let mut to_rate = ToRate::new(pipeline.frontend_params().sample_rate, &origin);
    let mut feed = || -> Result<(), ListenError> {
        while let Some(chunk) = source.next_chunk()? {
            let samples = to_rate.push(&chunk.samples, chunk.sample_rate)?;
            events.extend(pipeline.push(samples).map_err(wrap)?);
        }
        let tail = to_rate.finish()?;
        events.extend(pipeline.push(tail).map_err(wrap)?);
        Ok(())
    };
    let mut error = feed().err();
    // Whether the input ended or failed, finish what was heard.
    match pipeline.finish() {
        Ok(last) => events.extend(last),
        Err(e) => {
            error.get_or_insert(wrap(e));
        }
    }
    let (run, skipped) = pipeline.keyword_frames();
    tracing::debug!(input = %origin, run, skipped, "keyword model frames run and skipped");
    Outcome { events, error }
}

/// Runs one file.
pub fn listen_file(path: &Path, models: &Arc<ModelSet>, options: &ListenOptions) -> Outcome {
    match FileSource::open(path) {
        Ok(mut source) => listen_source(&mut source, models, options),
        Err(e) => Outcome {
            events: Vec::new(),
            error: Some(e.into()),
        },
    }
}
