//! Wake → listen → understand: audio at the front-end's rate in, events out.
//!
//! Every 10 ms hop yields one feature frame and one voice-activity decision. The keyword model
//! streams over the frames (in chunks of a few frames, state carried). When a wake word fires,
//! the command is captured from a short pre-roll before the end of the wake word until trailing
//! silence, a maximum length, or a timeout when nothing is said; the intent and sentiment models
//! then run on it. A wake word the keyword model verifies (`keyword.verify`) is first a
//! candidate: it fires only once the phoneme recogniser has read the frames around it
//! ([`crate::models::verify`]), a fraction of a second later. `Mode::Command` treats the whole
//! input as one command; `Mode::Keyword` only spots keywords.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::features::{FeatureKind, FrontEnd, FrontEndError, FrontEndParams};
use crate::keyword_gate::{Admit, GateSettings, KeywordGate};
use crate::models::ModelError;
use crate::models::keyword::{Detection, KeywordDetector, KeywordStream};
use crate::models::set::{ModelSet, Normaliser};
use crate::models::utterance::{IntentResult, SentimentResult};
use crate::vad::{CommandVad, VadSettings};

/// What the pipeline does with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Wake word, then the command.
    Full,
    /// Keywords only.
    Keyword,
    /// The whole input is one command (no wake word).
    Command,
}

/// Timing of command capture.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSettings {
    /// Audio kept from before the end of the wake word, seconds.
    pub preroll_s: f64,
    /// Silence that ends a command, seconds.
    pub trailing_silence_s: f64,
    /// Shortest command, seconds.
    pub min_command_s: f64,
    /// Longest command, seconds.
    pub max_command_s: f64,
    /// Give up when nothing is said for this long after the wake word, seconds.
    pub no_speech_timeout_s: f64,
    /// Which detector ends a command.
    pub vad: VadChoice,
}

/// The voice activity detector that ends commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VadChoice {
    /// The neural detector (`vad` model) while a command is heard; the energy detector when no
    /// `vad` model is found.
    #[default]
    Silero,
    /// The energy detector alone.
    Energy,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        Self {
            preroll_s: 0.2,
            trailing_silence_s: 0.7,
            min_command_s: 0.3,
            max_command_s: 8.0,
            no_speech_timeout_s: 4.0,
            vad: VadChoice::Silero,
        }
    }
}

/// Errors of the pipeline.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The audio could not be turned into features.
    #[error(transparent)]
    FrontEnd(#[from] FrontEndError),
    /// The requested mode needs a model that is not loaded.
    #[error("{0}")]
    MissingModel(String),
    /// A keyword threshold names a label the model does not have, or is out of range.
    #[error("keyword threshold for {label:?}: {reason}")]
    Threshold {
        /// The label.
        label: String,
        /// What is wrong.
        reason: String,
    },
}

/// Audio kept before the first speech of a command (`--mode command`), seconds: what the
/// understanding models are evaluated with (0.2 s; training pads 0.05-0.4 s).
const COMMAND_LEAD_S: f64 = 0.2;
/// Audio kept after the last speech of a command, seconds (evaluated with 0.3 s; training pads
/// 0.15-0.6 s).
const COMMAND_TRAIL_S: f64 = 0.3;

/// Something the pipeline understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A wake word.
    Wake(Detection),
    /// A command word heard outside a command.
    Keyword(Detection),
    /// The meaning of a command.
    Intent {
        /// The decoded intent.
        result: IntentResult,
        /// Command start, seconds.
        start: f64,
        /// Command end, seconds.
        end: f64,
    },
    /// How the command was said.
    Sentiment {
        /// The decoded sentiment.
        result: SentimentResult,
        /// Command start, seconds.
        start: f64,
        /// Command end, seconds.
        end: f64,
    },
    /// A wake word was heard but no command followed.
    Timeout {
        /// When listening started, seconds.
        start: f64,
        /// When it gave up, seconds.
        end: f64,
    },
}

/// The keyword gate with its default settings, deciding once per front-end hop.
fn keyword_gate(params: &FrontEndParams, dim: usize, enabled: bool) -> KeywordGate {
    let defaults = GateSettings::default();
    let settings = GateSettings {
        enabled,
        vad: VadSettings {
            hop: params.hop_length,
            ..defaults.vad
        },
        ..defaults
    };
    KeywordGate::new(settings, params.sample_rate, dim)
}

struct KeywordPath {
    stream: KeywordStream,
    detector: KeywordDetector,
    normaliser: Normaliser,
    gate: KeywordGate,
    pending: Vec<f32>,
    pending_frames: usize,
    first_pending: u64,
    /// Candidates waiting for the frames after them: (frame that fired, detection).
    candidates: Vec<(u64, Detection)>,
    /// Labels whose wake words wait for verification (none when it is off), and their recent
    /// smoothed posteriors (`verified.len()` per frame run, oldest first) with the frames they
    /// belong to: where a candidate's word peaks.
    verified: Vec<usize>,
    recent: VecDeque<f32>,
    recent_frames: VecDeque<u64>,
    recent_len: usize,
}

struct Capture {
    start: u64,
    frames: Vec<f32>,
    speech: Vec<bool>,
    speech_seen: bool,
    last_speech: u64,
}

/// A verified wake word ends where its smoothed posterior first reaches this share of its peak
/// (the peak itself comes later: the training targets run on past the end of the word).
const PEAK_SHARE: f32 = 0.9;

/// Frames processed per keyword-model call: 100 ms of added latency at most, which amortises
/// the per-call cost of the graph.
const KEYWORD_CHUNK: usize = 10;

/// The streaming pipeline over one input.
pub struct Pipeline {
    models: Arc<ModelSet>,
    mode: Mode,
    capture_settings: CaptureSettings,
    frontend: FrontEnd,
    params: FrontEndParams,
    vad: CommandVad,
    vad_decisions: VecDeque<bool>,
    keyword: Option<KeywordPath>,
    /// The last `history_len` raw frames (flat) and their VAD decisions, for the pre-roll.
    history: VecDeque<f32>,
    history_speech: VecDeque<bool>,
    history_len: usize,
    capture: Option<Capture>,
    whole: Option<Capture>,
    frame: u64,
    /// Frames of the current `push`, flat (reused, so frames cost no allocation).
    frame_buf: Vec<f32>,
    events: Vec<Event>,
    global_threshold: bool,
    /// Whether frames are kept in `history` (for the command pre-roll or wake verification).
    keep_history: bool,
}

impl Pipeline {
    /// A pipeline over `models` in `mode`.
    pub fn new(
        models: Arc<ModelSet>,
        mode: Mode,
        capture_settings: CaptureSettings,
        keyword_threshold: Option<f32>,
    ) -> Result<Self, PipelineError> {
        let (params, features) = models
            .frontend()
            .ok_or_else(|| PipelineError::MissingModel("no audio models are loaded".into()))?;
        match mode {
            Mode::Full | Mode::Keyword if models.keyword.is_none() => {
                return Err(PipelineError::MissingModel(
                    "this mode needs a keyword model (keyword.json)".into(),
                ));
            }
            Mode::Command if models.intent.is_none() && models.sentiment.is_none() => {
                return Err(PipelineError::MissingModel(
                    "command mode needs an intent or sentiment model".into(),
                ));
            }
            _ => {}
        }
        let kind: FeatureKind = features.kind();
        let frontend = FrontEnd::new(params.clone(), kind)?;
        let dim = frontend.dim();
        let keyword = match (&models.keyword, mode) {
            (Some(model), Mode::Full | Mode::Keyword) => {
                let mut detector = KeywordDetector::new(model);
                let verified: Vec<usize> = model.verifier().map_or(Vec::new(), |v| {
                    v.candidate_thresholds()
                        .filter_map(|(l, _)| detector.label_index(l))
                        .collect()
                });
                let recent_len = model
                    .verifier()
                    .map_or(0, |v| v.after_frames() + 2 * KEYWORD_CHUNK);
                if let Some(t) = keyword_threshold {
                    detector.set_all_thresholds(t);
                }
                Some(KeywordPath {
                    stream: KeywordStream::new(Arc::clone(model))?,
                    detector,
                    normaliser: Normaliser::new(model.frontend(), dim),
                    gate: keyword_gate(&params, dim, true),
                    pending: Vec::with_capacity(KEYWORD_CHUNK * dim),
                    pending_frames: 0,
                    first_pending: 0,
                    candidates: Vec::new(),
                    recent: VecDeque::with_capacity(recent_len * verified.len()),
                    recent_frames: VecDeque::with_capacity(recent_len),
                    verified,
                    recent_len,
                })
            }
            _ => None,
        };
        let hop_s = params.hop_length as f64 / f64::from(params.sample_rate);
        // Enough history for the pre-roll plus the keyword path's latency and smoothing, and for
        // a verification window (the same latency again, and the gate's held frames).
        let verify_frames = models
            .keyword
            .as_ref()
            .and_then(|m| m.verifier())
            .filter(|_| keyword.is_some())
            .map_or(0, |v| {
                v.before_frames() + v.after_frames() + (1.0 / hop_s) as usize
            });
        let history_len =
            (((capture_settings.preroll_s + 1.0) / hop_s).ceil() as usize).max(verify_frames);
        let keep_history = mode == Mode::Full || verify_frames > 0;
        let vad_settings = VadSettings {
            hop: params.hop_length,
            ..VadSettings::default()
        };
        let mut vad = match (&models.vad, capture_settings.vad) {
            (Some(model), VadChoice::Silero) if model.spec().sample_rate == params.sample_rate => {
                CommandVad::with_model(vad_settings, Arc::clone(model))
            }
            _ => CommandVad::energy(vad_settings),
        };
        if mode == Mode::Command {
            vad.activate()?;
        }
        Ok(Self {
            whole: (mode == Mode::Command).then(|| Capture {
                start: 0,
                frames: Vec::new(),
                speech: Vec::new(),
                speech_seen: false,
                last_speech: 0,
            }),
            models,
            mode,
            capture_settings,
            frontend,
            params,
            vad,
            vad_decisions: VecDeque::new(),
            keyword,
            history: VecDeque::with_capacity(history_len * dim),
            history_speech: VecDeque::with_capacity(history_len),
            history_len,
            capture: None,
            frame: 0,
            frame_buf: Vec::new(),
            events: Vec::new(),
            global_threshold: keyword_threshold.is_some(),
            keep_history,
        })
    }

    /// Replaces the model's default thresholds for the labels in `thresholds` (from the
    /// configuration's `[keyword] thresholds`); a global `--threshold` given to [`Pipeline::new`]
    /// still wins. Unknown labels and values outside (0, 1] are refused.
    pub fn with_keyword_thresholds(
        mut self,
        thresholds: &std::collections::BTreeMap<String, f32>,
    ) -> Result<Self, PipelineError> {
        for (label, &t) in thresholds {
            if !(t.is_finite() && t > 0.0 && t <= 1.0) {
                return Err(PipelineError::Threshold {
                    label: label.clone(),
                    reason: format!("must be in (0, 1], got {t}"),
                });
            }
            let Some(kw) = self.keyword.as_mut() else {
                continue;
            };
            if self.global_threshold {
                continue;
            }
            if !kw.detector.set_threshold(label, t) {
                return Err(PipelineError::Threshold {
                    label: label.clone(),
                    reason: "the keyword model has no such label".into(),
                });
            }
        }
        Ok(self)
    }

    /// Whether verified wake words wait for the phoneme recogniser (`[keyword] verify`; on by
    /// default). Off, they fire at the keyword model's own thresholds (thresholds set since
    /// stay).
    pub fn with_wake_verification(mut self, enabled: bool) -> Self {
        let Some(kw) = self.keyword.as_mut() else {
            return self;
        };
        let Some(model) = self.models.keyword.as_ref() else {
            return self;
        };
        if enabled || kw.verified.is_empty() {
            return self;
        }
        kw.verified.clear();
        self.keep_history = self.mode == Mode::Full;
        let single = KeywordDetector::single_stage(model);
        if let Some(v) = model.verifier() {
            for (label, candidate) in v.candidate_thresholds() {
                // Only where the candidate threshold is still in force.
                if kw.detector.threshold(label) == Some(candidate)
                    && let Some(t) = single.threshold(label)
                {
                    kw.detector.set_threshold(label, t);
                }
            }
        }
        self
    }

    /// Whether the keyword model pauses through silence (`[keyword] pause_in_silence`; on by
    /// default).
    pub fn with_keyword_gate(mut self, enabled: bool) -> Self {
        if let Some(kw) = self.keyword.as_mut() {
            kw.gate = keyword_gate(&self.params, self.frontend.dim(), enabled);
        }
        self
    }

    /// Frames the keyword model ran and frames it skipped in silence.
    pub fn keyword_frames(&self) -> (u64, u64) {
        self.keyword.as_ref().map_or((0, 0), |k| k.gate.counts())
    }

    /// The front-end parameters (its sample rate is the rate `push` expects).
    pub fn frontend_params(&self) -> &FrontEndParams {
        &self.params
    }

    fn hop_s(&self) -> f64 {
        self.params.hop_length as f64 / f64::from(self.params.sample_rate)
    }

    fn frame_start(&self, frame: u64) -> f64 {
        frame as f64 * self.hop_s()
    }

    fn frame_end(&self, frame: u64) -> f64 {
        self.frame_start(frame) + self.params.win_length as f64 / f64::from(self.params.sample_rate)
    }

    fn seconds_to_frames(&self, s: f64) -> u64 {
        (s / self.hop_s()).round() as u64
    }

    /// Times the keyword model's state was reset after producing non-finite values.
    pub fn keyword_resets(&self) -> u64 {
        self.keyword
            .as_ref()
            .map_or(0, |k| k.stream.non_finite_resets())
    }

    /// Feeds audio at the front-end's sample rate; returns the events it completed.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<Event>, PipelineError> {
        self.vad_decisions
            .extend(self.vad.push(samples)?.iter().copied());
        if let Some(kw) = self.keyword.as_mut() {
            kw.gate.push_samples(samples);
        }
        let mut frames = std::mem::take(&mut self.frame_buf);
        frames.clear();
        let result = self
            .frontend
            .process(samples, |f| frames.extend_from_slice(f))
            .map_err(PipelineError::from)
            .and_then(|()| {
                let dim = self.frontend.dim();
                for frame in frames.chunks_exact(dim) {
                    let speech = self.vad_decisions.pop_front().unwrap_or(false);
                    self.on_frame(frame, speech)?;
                }
                Ok(())
            });
        self.frame_buf = frames;
        result?;
        Ok(std::mem::take(&mut self.events))
    }

    /// Ends the input: flushes the keyword path, verifies the candidates left with the frames
    /// there are, and finishes any command in progress.
    pub fn finish(&mut self) -> Result<Vec<Event>, PipelineError> {
        self.run_keyword_chunk()?;
        self.check_candidates(true)?;
        if self.capture.is_some() {
            self.end_capture()?;
        }
        if let Some(whole) = self.whole.take() {
            self.understand_whole(whole)?;
        }
        Ok(std::mem::take(&mut self.events))
    }

    fn on_frame(&mut self, frame: &[f32], speech: bool) -> Result<(), PipelineError> {
        let t = self.frame;
        self.frame += 1;
        if let Some(whole) = self.whole.as_mut() {
            whole.frames.extend_from_slice(frame);
            whole.speech.push(speech);
            return Ok(());
        }
        if let Some(kw) = self.keyword.as_mut() {
            let start = kw.pending.len();
            kw.normaliser.apply(frame, &mut kw.pending);
            match kw.gate.admit(&kw.pending[start..]) {
                Admit::Run => {
                    if kw.pending_frames == 0 {
                        kw.first_pending = t;
                    }
                    kw.pending_frames += 1;
                }
                Admit::Hold => kw.pending.truncate(start),
                Admit::Resume => {
                    // Nothing is pending while paused; the gate holds this frame after the
                    // ones it kept, and all of them run now.
                    kw.pending.truncate(start);
                    let (dropped, frames) = kw.gate.release(&mut kw.pending);
                    kw.detector.skip(dropped);
                    kw.first_pending = t + 1 - frames as u64;
                    kw.pending_frames = frames;
                }
            }
        }
        if let Some(c) = self.capture.as_mut() {
            c.frames.extend_from_slice(frame);
            c.speech.push(speech);
            if speech {
                c.speech_seen = true;
                c.last_speech = t;
            }
        }
        if self.keep_history {
            if self.history_speech.len() == self.history_len {
                self.history_speech.pop_front();
                self.history.drain(..frame.len());
            }
            self.history.extend(frame);
            self.history_speech.push_back(speech);
        }
        if self
            .keyword
            .as_ref()
            .is_some_and(|k| k.pending_frames >= KEYWORD_CHUNK || k.gate.may_pause())
        {
            self.run_keyword_chunk()?;
            if let Some(kw) = self.keyword.as_mut().filter(|k| k.gate.may_pause()) {
                kw.gate.pause();
            }
        }
        self.check_candidates(false)?;
        self.check_capture_end(t)
    }

    fn run_keyword_chunk(&mut self) -> Result<(), PipelineError> {
        let Some(kw) = self.keyword.as_mut() else {
            return Ok(());
        };
        if kw.pending_frames == 0 {
            return Ok(());
        }
        let n_labels = kw.detector.label_count();
        let first = kw.first_pending;
        let scores = kw.stream.push(&kw.pending)?;
        // Detections are rare: this vector allocates only when one fires.
        let mut detections = Vec::new();
        for (i, row) in scores.chunks(n_labels).enumerate() {
            if let Some(d) = kw.detector.update(row) {
                detections.push((first + i as u64, d));
            }
            if !kw.verified.is_empty() {
                if kw.recent_frames.len() == kw.recent_len {
                    kw.recent_frames.pop_front();
                    kw.recent.drain(..kw.verified.len());
                }
                kw.recent_frames.push_back(first + i as u64);
                for &l in &kw.verified {
                    kw.recent.push_back(kw.detector.smoothed(l));
                }
            }
        }
        kw.pending.clear();
        kw.pending_frames = 0;
        for (frame, d) in detections {
            self.on_detection(frame, d)?;
        }
        Ok(())
    }

    fn on_detection(&mut self, frame: u64, d: Detection) -> Result<(), PipelineError> {
        if self.capture.is_some() {
            return Ok(()); // a command is being heard; keywords inside it are part of it
        }
        if !d.wake {
            self.events.push(Event::Keyword(d));
            return Ok(());
        }
        let verified = self.models.keyword.as_ref().and_then(|m| m.verifier());
        if let (Some(kw), Some(v)) = (self.keyword.as_mut(), verified)
            && !kw.verified.is_empty()
            && v.covers(&d.keyword)
        {
            kw.candidates.push((frame, d));
            return Ok(());
        }
        self.wake(frame, d)
    }

    /// Verifies the candidates whose window is complete (all of them at the end of the input).
    fn check_candidates(&mut self, at_end: bool) -> Result<(), PipelineError> {
        let Some(kw) = self.keyword.as_mut() else {
            return Ok(());
        };
        if kw.candidates.is_empty() {
            return Ok(());
        }
        let models = Arc::clone(&self.models);
        let Some(verifier) = models.keyword.as_ref().and_then(|m| m.verifier()) else {
            return Ok(());
        };
        let (before, after) = (
            verifier.before_frames() as u64,
            verifier.after_frames() as u64,
        );
        let now = self.frame; // frames [.., now) are in the history
        let ready: Vec<(u64, Detection)> = if at_end {
            std::mem::take(&mut kw.candidates)
        } else {
            let (ready, waiting) = std::mem::take(&mut kw.candidates)
                .into_iter()
                .partition(|(f, _)| f + 1 + after <= now);
            kw.candidates = waiting;
            ready
        };
        let dim = self.frontend.dim();
        let oldest = now - self.history_speech.len() as u64;
        for (frame, d) in ready {
            if self.capture.is_some() {
                break; // an earlier candidate woke hark: the rest belong to its command
            }
            let lo = (frame + 1).saturating_sub(before).max(oldest);
            let hi = (frame + 1 + after).min(now);
            let (a, b) = ((lo - oldest) as usize * dim, (hi - oldest) as usize * dim);
            let window: Vec<f32> = self.history.range(a..b).copied().collect();
            let Some(verdict) = verifier.verify(&d.keyword, &window)? else {
                continue;
            };
            let score = verdict.score;
            if verdict.accepted {
                tracing::debug!(keyword = %d.keyword, score, "wake word verified");
                // The candidate fired on the way up; the word is taken to end where its
                // posterior has nearly risen to its peak, and the command starts from there.
                let (peak, at) = self
                    .peak_after(&d.keyword, frame, after)
                    .unwrap_or((d.score, frame));
                let d = Detection {
                    verification: Some(score),
                    score: peak,
                    end: self.frame_end(at),
                    ..d
                };
                self.wake(at, d)?;
            } else {
                tracing::debug!(keyword = %d.keyword, score, at = d.end, "wake candidate refused");
            }
        }
        Ok(())
    }

    /// The highest smoothed posterior of `label` over frames `frame ..= frame + after`, and
    /// the first of those frames where it reaches [`PEAK_SHARE`] of that.
    fn peak_after(&self, label: &str, frame: u64, after: u64) -> Option<(f32, u64)> {
        let kw = self.keyword.as_ref()?;
        let i = kw.detector.label_index(label)?;
        let slot = kw.verified.iter().position(|&l| l == i)?;
        let n = kw.verified.len();
        let values = || {
            kw.recent_frames
                .iter()
                .enumerate()
                .filter(|(_, f)| (frame..=frame + after).contains(f))
                .map(|(k, &f)| (kw.recent[k * n + slot], f))
        };
        let peak = values().map(|(v, _)| v).fold(f32::NEG_INFINITY, f32::max);
        let (_, at) = values().find(|&(v, _)| v >= PEAK_SHARE * peak)?;
        Some((peak, at))
    }

    /// A wake word fired at `frame`: the event, then the command from the pre-roll on.
    fn wake(&mut self, frame: u64, d: Detection) -> Result<(), PipelineError> {
        self.events.push(Event::Wake(d));
        if self.mode != Mode::Full
            || (self.models.intent.is_none() && self.models.sentiment.is_none())
        {
            return Ok(());
        }
        self.vad.activate()?;
        // Start the command at the pre-roll before the detecting frame, from history.
        let preroll = self.seconds_to_frames(self.capture_settings.preroll_s);
        let start = (frame + 1).saturating_sub(preroll);
        let oldest = self.frame - self.history_speech.len() as u64;
        let start = start.max(oldest);
        let mut c = Capture {
            start,
            frames: Vec::new(),
            speech: Vec::new(),
            speech_seen: false,
            last_speech: start,
        };
        let skip = (start - oldest) as usize;
        let dim = self.frontend.dim();
        c.frames.extend(self.history.iter().skip(skip * dim));
        c.speech.extend(self.history_speech.iter().skip(skip));
        // Speech after the wake word already heard (a verified wake word fires late).
        for (i, &speech) in c.speech.iter().enumerate() {
            let t = start + i as u64;
            if speech && t > frame {
                c.speech_seen = true;
                c.last_speech = t;
            }
        }
        self.capture = Some(c);
        Ok(())
    }

    fn check_capture_end(&mut self, t: u64) -> Result<(), PipelineError> {
        let Some(c) = self.capture.as_ref() else {
            return Ok(());
        };
        let s = &self.capture_settings;
        let elapsed = t + 1 - c.start;
        let silent_for = t - c.last_speech;
        let done = (c.speech_seen && silent_for >= self.seconds_to_frames(s.trailing_silence_s))
            || elapsed >= self.seconds_to_frames(s.max_command_s)
            || (!c.speech_seen && elapsed >= self.seconds_to_frames(s.no_speech_timeout_s));
        if done {
            self.end_capture()?;
        }
        Ok(())
    }

    fn end_capture(&mut self) -> Result<(), PipelineError> {
        let Some(c) = self.capture.take() else {
            return Ok(());
        };
        self.vad.deactivate();
        if !c.speech_seen {
            let end = self.frame_end(c.start + c.speech.len() as u64);
            self.events.push(Event::Timeout {
                start: self.frame_start(c.start),
                end,
            });
            return Ok(());
        }
        self.understand(c, true)
    }

    fn understand_whole(&mut self, whole: Capture) -> Result<(), PipelineError> {
        self.understand(whole, false)
    }

    /// Runs the understanding models on a captured command, trimmed to its speech.
    fn understand(&mut self, c: Capture, from_wake: bool) -> Result<(), PipelineError> {
        let dim = self.frontend.dim();
        let n = c.speech.len();
        if n == 0 {
            return Ok(());
        }
        let lead = self.seconds_to_frames(COMMAND_LEAD_S) as usize;
        let trail = self.seconds_to_frames(COMMAND_TRAIL_S) as usize;
        let first = c.speech.iter().position(|s| *s);
        let last = c.speech.iter().rposition(|s| *s);
        let (lo, hi) = match (first, last) {
            (Some(a), Some(b)) if !from_wake => (a.saturating_sub(lead), (b + trail + 1).min(n)),
            (Some(_), Some(b)) => (0, (b + trail + 1).min(n)),
            _ => (0, n),
        };
        let min_frames = self.seconds_to_frames(self.capture_settings.min_command_s) as usize;
        let (lo, hi) = if hi - lo < min_frames {
            (0, n)
        } else {
            (lo, hi)
        };
        let start = self.frame_start(c.start + lo as u64);
        let end = self.frame_end(c.start + hi as u64 - 1);
        let raw = &c.frames[lo * dim..hi * dim];
        if let Some(model) = &self.models.intent {
            let result = model.understand(raw)?;
            self.events.push(Event::Intent { result, start, end });
        }
        if let Some(model) = &self.models.sentiment {
            let result = model.judge(raw)?;
            self.events.push(Event::Sentiment { result, start, end });
        }
        Ok(())
    }
}
