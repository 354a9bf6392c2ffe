//! The set of models a pipeline runs, found in model directories, with one shared front-end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::keyword::KeywordModel;
use super::utterance::{IntentModel, SentimentModel};
use super::{FeatureName, ModelError, ModelKind, ModelMetadata};
use crate::features::{FrontEndParams, Pcen};

/// What one model does to the shared front-end's frames before reading them: optional PCEN
/// (stateful, per stream), then per-coefficient normalisation.
#[derive(Debug, Clone)]
pub struct Normaliser {
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    pcen: Option<Pcen>,
}

impl Normaliser {
    /// From a front-end's `pcen` and `mean`/`std` (identity when both are absent).
    pub fn new(params: &FrontEndParams, dim: usize) -> Self {
        let pcen = params.pcen.map(|p| Pcen::new(p, dim));
        match (&params.mean, &params.std) {
            (Some(mean), Some(std)) => Self {
                mean: mean.iter().map(|&m| m as f32).collect(),
                inv_std: std.iter().map(|&s| (1.0 / s) as f32).collect(),
                pcen,
            },
            _ => Self {
                mean: vec![0.0; dim],
                inv_std: vec![1.0; dim],
                pcen,
            },
        }
    }

    /// Starts a new stream (PCEN's smoother restarts on the next frame).
    pub fn reset(&mut self) {
        if let Some(p) = self.pcen.as_mut() {
            p.reset();
        }
    }

    /// Appends the normalised `frame` to `out`: PCEN first when the model asks for it (its
    /// state carried from frame to frame), then `(x - mean) / std`.
    pub fn apply(&mut self, frame: &[f32], out: &mut Vec<f32>) {
        let start = out.len();
        out.extend_from_slice(frame);
        let row = &mut out[start..];
        if let Some(p) = self.pcen.as_mut() {
            p.apply(row);
        }
        for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.inv_std) {
            *x = (*x - m) * s;
        }
    }
}

/// Models found for each kind.
#[derive(Default)]
pub struct ModelSet {
    /// Keyword spotter.
    pub keyword: Option<Arc<KeywordModel>>,
    /// Speech to intent.
    pub intent: Option<Arc<IntentModel>>,
    /// Voice sentiment.
    pub sentiment: Option<Arc<SentimentModel>>,
    /// Voice activity detector that ends commands.
    pub vad: Option<Arc<crate::models::vad::VadModel>>,
    /// Where each loaded model came from.
    pub sources: Vec<(ModelKind, PathBuf)>,
}

/// Directories searched for the default models: `$HARK_MODELS` alone when it is set; otherwise,
/// in order, `./models`, `<binary>/../share/hark/models`, `/usr/share/hark/models`, and the source
/// tree's `models/`.
pub fn default_model_dirs() -> Vec<PathBuf> {
    if let Some(d) = std::env::var_os("HARK_MODELS") {
        return vec![PathBuf::from(d)];
    }
    let mut dirs = Vec::new();
    dirs.push(PathBuf::from("models"));
    if let Ok(exe) = std::env::current_exe()
        && let Some(bin) = exe.parent()
    {
        dirs.push(bin.join("../share/hark/models"));
    }
    dirs.push(PathBuf::from("/usr/share/hark/models"));
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
    dirs
}

/// The first directory of `dirs` holding `<kind>.json`.
fn find(dirs: &[PathBuf], kind: ModelKind) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| d.join(format!("{}.json", kind.default_name())))
        .find(|p| p.is_file())
}

impl ModelSet {
    /// Loads the audio models: each kind from `overrides` when present there, else from the
    /// first of `defaults` that has it. Refuses models whose front-ends disagree.
    pub fn load(overrides: Option<&Path>, defaults: &[PathBuf]) -> Result<Self, ModelError> {
        let mut set = ModelSet::default();
        let locate = |kind| {
            overrides
                .map(|d| d.join(format!("{}.json", ModelKind::default_name(kind))))
                .filter(|p| p.is_file())
                .or_else(|| find(defaults, kind))
        };
        if let Some(p) = locate(ModelKind::Keyword) {
            set.keyword = Some(Arc::new(KeywordModel::load(&p)?));
            set.sources.push((ModelKind::Keyword, p));
        }
        if let Some(p) = locate(ModelKind::Intent) {
            set.intent = Some(Arc::new(IntentModel::load(&p)?));
            set.sources.push((ModelKind::Intent, p));
        }
        if let Some(p) = locate(ModelKind::Sentiment) {
            set.sentiment = Some(Arc::new(SentimentModel::load(&p)?));
            set.sources.push((ModelKind::Sentiment, p));
        }
        if let Some(p) = locate(ModelKind::Vad) {
            set.vad = Some(Arc::new(crate::models::vad::VadModel::load(&p)?));
            set.sources.push((ModelKind::Vad, p));
        }
        set.check_frontends()?;
        Ok(set)
    }

    fn audio_metadata(&self) -> Vec<&ModelMetadata> {
        let mut all = Vec::new();
        if let Some(m) = &self.keyword {
            all.push(m.metadata());
        }
        if let Some(m) = &self.intent {
            all.push(m.metadata());
        }
        if let Some(m) = &self.sentiment {
            all.push(m.metadata());
        }
        all
    }

    fn check_frontends(&self) -> Result<(), ModelError> {
        let all = self.audio_metadata();
        let Some(first) = all.first() else {
            return Ok(());
        };
        for other in &all[1..] {
            let (Some(a), Some(b)) = (first.frontend(), other.frontend()) else {
                continue;
            };
            let detail = if first.features != other.features {
                Some(format!(
                    "{:?} vs {:?} features",
                    first.features, other.features
                ))
            } else if !a.same_features(b) {
                let ja = serde_json::to_value(strip(a)).unwrap_or_default();
                let jb = serde_json::to_value(strip(b)).unwrap_or_default();
                let differing: Vec<String> = ja
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, v)| jb.get(k.as_str()) != Some(v))
                    .map(|(k, v)| {
                        format!(
                            "{k} {v} vs {}",
                            jb.get(k.as_str()).unwrap_or(&serde_json::Value::Null)
                        )
                    })
                    .collect();
                Some(differing.join(", "))
            } else {
                None
            };
            if let Some(detail) = detail {
                return Err(ModelError::FrontEndMismatch {
                    first: first.name.clone(),
                    second: other.name.clone(),
                    detail,
                });
            }
        }
        Ok(())
    }

    /// The shared front-end (without normalisation) and the features it must emit.
    pub fn frontend(&self) -> Option<(FrontEndParams, FeatureName)> {
        let meta = self.audio_metadata().into_iter().next()?;
        Some((strip(meta.frontend()?), meta.features?))
    }
}

/// The text models, found like the audio ones.
#[derive(Default)]
pub struct TextModels {
    /// Sentence to intent.
    pub intent: Option<crate::models::text::TextIntentModel>,
    /// Sentence to sentiment.
    pub sentiment: Option<crate::models::text::TextSentimentModel>,
    /// Where each came from.
    pub sources: Vec<(ModelKind, PathBuf)>,
}

impl TextModels {
    /// Loads `text-intent` and `text-sentiment` from `overrides`, else from `defaults`.
    pub fn load(overrides: Option<&Path>, defaults: &[PathBuf]) -> Result<Self, ModelError> {
        let locate = |kind: ModelKind| {
            overrides
                .map(|d| d.join(format!("{}.json", kind.default_name())))
                .filter(|p| p.is_file())
                .or_else(|| find(defaults, kind))
        };
        let mut set = TextModels::default();
        if let Some(p) = locate(ModelKind::TextIntent) {
            set.intent = Some(crate::models::text::TextIntentModel::load(&p)?);
            set.sources.push((ModelKind::TextIntent, p));
        }
        if let Some(p) = locate(ModelKind::TextSentiment) {
            set.sentiment = Some(crate::models::text::TextSentimentModel::load(&p)?);
            set.sources.push((ModelKind::TextSentiment, p));
        }
        Ok(set)
    }

    /// Whether any text model is loaded.
    pub fn is_empty(&self) -> bool {
        self.intent.is_none() && self.sentiment.is_none()
    }
}

/// A front-end without its per-model normalisation and PCEN.
fn strip(params: &FrontEndParams) -> FrontEndParams {
    FrontEndParams {
        mean: None,
        std: None,
        pcen: None,
        ..params.clone()
    }
}
