//! Model metadata (`<name>.json`), as specified in `docs/models.md`, and its consistency checks.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ModelError;
use crate::features::{FeatureKind, FrontEndParams};

/// The metadata schema version this runtime reads.
pub const SCHEMA: u32 = 1;

/// What a model computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Streaming keyword spotter.
    Keyword,
    /// Speech to intent and slots.
    Intent,
    /// Sentiment of the voice.
    Sentiment,
    /// Text to intent and slots.
    TextIntent,
    /// Sentiment of text.
    TextSentiment,
    /// Voice activity (speech probability of raw audio windows).
    Vad,
    /// Per-frame phoneme log-probabilities (CTC), for grammar decoding.
    Phonemes,
}

impl ModelKind {
    /// Whether the model reads audio features.
    pub fn is_audio(self) -> bool {
        matches!(
            self,
            ModelKind::Keyword | ModelKind::Intent | ModelKind::Sentiment | ModelKind::Phonemes
        )
    }

    /// The file stem models of this kind are shipped under.
    pub fn default_name(self) -> &'static str {
        match self {
            ModelKind::Keyword => "keyword",
            ModelKind::Intent => "intent",
            ModelKind::Sentiment => "sentiment",
            ModelKind::TextIntent => "text-intent",
            ModelKind::TextSentiment => "text-sentiment",
            ModelKind::Vad => "vad",
            ModelKind::Phonemes => "phonemes",
        }
    }
}

/// Which front-end output an audio model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureName {
    /// Cepstra.
    Mfcc,
    /// Log-mel energies.
    Logmel,
}

impl FeatureName {
    /// The front-end mode.
    pub fn kind(self) -> FeatureKind {
        match self {
            FeatureName::Mfcc => FeatureKind::Mfcc,
            FeatureName::Logmel => FeatureKind::LogMel,
        }
    }
}

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 64-bit integer.
    I64,
}

/// One dimension: fixed, or the symbolic time axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A symbol such as `"T"`.
    Symbol(String),
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TensorSpec {
    /// Name in the ONNX graph.
    pub name: String,
    /// Shape.
    pub shape: Vec<Dim>,
    /// Element type.
    pub dtype: DType,
}

/// Inputs and outputs of the graph, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IoSpec {
    /// Inputs.
    pub inputs: Vec<TensorSpec>,
    /// Outputs.
    pub outputs: Vec<TensorSpec>,
}

impl IoSpec {
    fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|t| t.name == name)
    }

    fn output(&self, name: &str) -> Option<&TensorSpec> {
        self.outputs.iter().find(|t| t.name == name)
    }
}

/// A state tensor carried from one chunk to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSpec {
    /// Graph input receiving the state.
    pub input: String,
    /// Graph output producing the next state.
    pub output: String,
    /// Shape.
    pub shape: Vec<usize>,
}

/// The `keyword` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeywordSpec {
    /// Carried state.
    pub state: Vec<StateSpec>,
    /// The "no keyword" label.
    pub background: String,
    /// Labels that wake hark.
    pub wake_words: Vec<String>,
    /// Per-label thresholds on the smoothed posterior.
    pub thresholds: BTreeMap<String, f32>,
    /// Moving-average length over posteriors, in frames.
    pub smoothing_frames: usize,
    /// Minimum time between two detections of one label, in seconds.
    pub refractory_s: f32,
    /// Wake words confirmed by a phoneme recogniser before they fire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifySpec>,
}

/// The `keyword.verify` section: which labels a phoneme recogniser confirms, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    /// Name of the phoneme recogniser (`<recogniser>.json` beside the keyword model).
    pub recogniser: String,
    /// Seconds read up to the candidate's frame.
    pub window_before_s: f32,
    /// Seconds read after it (the verdict waits for them).
    pub window_after_s: f32,
    /// Verified labels.
    pub words: BTreeMap<String, VerifyWord>,
}

/// One verified label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyWord {
    /// The word's phonemes as recogniser label ids (0 is the blank).
    pub phonemes: Vec<u16>,
    /// The same as symbols, for people.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Threshold of the keyword model's smoothed posterior that makes a candidate.
    pub candidate_threshold: f32,
    /// Lowest alignment score (at most 0) that confirms it.
    pub threshold: f64,
}

/// The checks of `keyword.verify` that need no recogniser.
fn check_verify(
    v: &VerifySpec,
    has_label: &dyn Fn(&str) -> bool,
    background: &str,
) -> Result<(), String> {
    for (name, secs) in [
        ("window_before_s", v.window_before_s),
        ("window_after_s", v.window_after_s),
    ] {
        if !(secs.is_finite() && (0.0..=10.0).contains(&secs)) {
            return Err(format!(
                "verify.{name} must be in [0, 10] seconds, got {secs}"
            ));
        }
    }
    if v.window_before_s + v.window_after_s < 0.3 {
        return Err("the verification window must be at least 0.3 s long".into());
    }
    for (label, w) in &v.words {
        if !has_label(label) || label == background {
            return Err(format!("verified word {label:?} is not a keyword label"));
        }
        if w.phonemes.is_empty() {
            return Err(format!("verified word {label:?} has no phonemes"));
        }
        if !(w.candidate_threshold.is_finite()
            && w.candidate_threshold > 0.0
            && w.candidate_threshold <= 1.0)
        {
            return Err(format!(
                "candidate_threshold of {label:?} must be in (0, 1], got {}",
                w.candidate_threshold
            ));
        }
        if !(w.threshold.is_finite() && w.threshold <= 0.0) {
            return Err(format!(
                "verification threshold of {label:?} must be a number at most 0, got {}",
                w.threshold
            ));
        }
    }
    Ok(())
}

/// A slot head of an intent model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotSpec {
    /// Slot name (Home Assistant's, e.g. `area`).
    pub name: String,
    /// Graph output of this head.
    pub output: String,
    /// Values; head index 0 means absent, index i means `values[i - 1]`.
    pub values: Vec<String>,
    /// Text models: every normalised phrase of the context → its canonical value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synonyms: Option<BTreeMap<String, String>>,
}

/// The `intent` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentSpec {
    /// The out-of-grammar label.
    pub out_of_grammar: String,
    /// Minimum confidence for `understood`.
    pub threshold: f32,
    /// Slot heads.
    pub slots: Vec<SlotSpec>,
    /// Text models: intent → the slots its phrasings can fill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_slots: Option<BTreeMap<String, Vec<String>>>,
    /// Text models: the context file it was trained from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Speech models: grammar decoding of the context against a phoneme recogniser, which then
    /// names the intent and the slots (the graph's own outputs only judge whether it was a
    /// command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grammar: Option<GrammarSpec>,
}

/// The `intent.grammar` section: the context as a phoneme graph and when a decode is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrammarSpec {
    /// File stem of the phoneme recogniser in the same folder (`phonemes`).
    pub phonemes: String,
    /// The context's phoneme graph.
    pub graph: super::grammar::PhonemeGraph,
    /// The posteriors are divided by this prior before the search (models built before it
    /// decode the posteriors as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<super::grammar::PhonemePrior>,
    /// How a decode is judged a command (models built before the judge have the two
    /// thresholds below instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<GrammarJudge>,
    /// Least per-frame log-probability gap of the best grammar path to the best free path
    /// (without a judge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_threshold: Option<f32>,
    /// Most out-of-grammar posterior of the intent graph (without a judge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_grammar_threshold: Option<f32>,
}

/// The `intent.grammar.judge` section: a decode is a command when
/// `sigmoid(bias + gap·g + out_of_grammar_logit·logit(p_oog) + intent_log_posterior·ln p_intent)`
/// reaches `threshold`. `g` is the decode's per-frame gap, `p_oog` the intent graph's
/// out-of-grammar posterior (clamped to `[1e-6, 1 - 1e-6]`) and `p_intent` its posterior of the
/// decoded intent (at least `1e-6`). The decode must also be at least `min_margin` per frame
/// better than any path of another meaning
/// ([`GrammarDecoder::margin`](super::grammar::GrammarDecoder::margin)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrammarJudge {
    /// Weight of the per-frame log-probability gap.
    pub gap: f32,
    /// Weight of the logit of the out-of-grammar posterior.
    pub out_of_grammar_logit: f32,
    /// Weight of the log posterior of the decoded intent.
    pub intent_log_posterior: f32,
    /// Bias of the score.
    pub bias: f32,
    /// Least score of a command, in (0, 1].
    pub threshold: f32,
    /// Least margin of a command, per frame (0, or absent: none is needed).
    #[serde(default)]
    pub min_margin: f32,
    /// Weight of the log of the decode's margin plus [`GrammarJudge::MARGIN_FLOOR`] (absent in
    /// judges written before it was measured: 0).
    #[serde(default)]
    pub margin_log: f32,
    /// Weight of the log of the recogniser's frame count (absent: 0).
    #[serde(default)]
    pub log_frames: f32,
    /// The gate against wrong commands; where present it replaces `min_margin` (judges fitted
    /// before it have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<JudgeGate>,
}

/// A second logistic score of a decode, fitted to tell commands decoded right from commands
/// decoded wrong: `bias + gap·g + margin_log·ln(margin + 0.01) + log_frames·ln(frames)` must
/// reach `threshold` (a logit, any finite number).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgeGate {
    /// Weight of the per-frame log-probability gap.
    pub gap: f32,
    /// Weight of the log of the decode's margin plus [`GrammarJudge::MARGIN_FLOOR`].
    pub margin_log: f32,
    /// Weight of the log of the recogniser's frame count.
    pub log_frames: f32,
    /// Bias of the gate's score.
    pub bias: f32,
    /// Least gate score of a command.
    pub threshold: f32,
}

/// What the judge measures of one grammar decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JudgeInputs {
    /// The path's per-frame log-probability gap to the best unconstrained path (≤ 0).
    pub gap: f32,
    /// The intent graph's out-of-grammar posterior.
    pub p_oog: f32,
    /// The intent graph's posterior of the decoded intent.
    pub p_intent: f32,
    /// The decode's margin, where measured.
    pub margin: Option<f64>,
    /// The recogniser's output frames.
    pub frames: usize,
}

/// How a grammar decode is judged a command, as `intent.grammar` states it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GrammarAcceptance {
    /// The logistic judge; a decode's confidence is its score.
    Judge(GrammarJudge),
    /// Models built before the judge: the path's per-frame gap at least `gap` and the
    /// out-of-grammar posterior at most `out_of_grammar`; the confidence is `exp(gap)`.
    Thresholds { gap: f32, out_of_grammar: f32 },
}

impl GrammarSpec {
    /// The search of this graph over a recogniser with `phones` phonemes (and the blank),
    /// dividing by the prior when the spec has one.
    pub fn decoder(
        &self,
        phones: usize,
    ) -> Result<super::grammar::GrammarDecoder, super::grammar::GraphError> {
        let decoder = super::grammar::GrammarDecoder::new(self.graph.clone(), phones)?;
        match &self.prior {
            Some(prior) => decoder.with_prior(prior),
            None => Ok(decoder),
        }
    }

    /// The acceptance rule: a judge with finite weights and a threshold in (0, 1], or (without
    /// a judge) both thresholds, the gap at most 0 and the posterior in (0, 1].
    pub fn acceptance(&self) -> Result<GrammarAcceptance, String> {
        if let Some(j) = self.judge {
            let weights = [
                j.gap,
                j.out_of_grammar_logit,
                j.intent_log_posterior,
                j.margin_log,
                j.log_frames,
                j.bias,
            ];
            if !weights.iter().all(|w| w.is_finite()) {
                return Err("grammar judge weights and bias must be finite numbers".into());
            }
            if !(j.threshold.is_finite() && j.threshold > 0.0 && j.threshold <= 1.0) {
                return Err(format!(
                    "grammar judge threshold must be in (0, 1], got {}",
                    j.threshold
                ));
            }
            if !(j.min_margin.is_finite() && j.min_margin >= 0.0) {
                return Err(format!(
                    "grammar judge min_margin must be a number ≥ 0, got {}",
                    j.min_margin
                ));
            }
            if let Some(g) = j.gate {
                let numbers = [g.gap, g.margin_log, g.log_frames, g.bias, g.threshold];
                if !numbers.iter().all(|w| w.is_finite()) {
                    return Err(
                        "grammar judge gate weights, bias and threshold must be finite numbers"
                            .into(),
                    );
                }
            }
            return Ok(GrammarAcceptance::Judge(j));
        }
        let (Some(gap), Some(out_of_grammar)) = (self.gap_threshold, self.out_of_grammar_threshold)
        else {
            return Err(
                "grammar needs a `judge`, or both `gap_threshold` and `out_of_grammar_threshold`"
                    .into(),
            );
        };
        if !(gap.is_finite() && gap <= 0.0) {
            return Err("grammar gap_threshold must be a number ≤ 0".into());
        }
        if !(out_of_grammar.is_finite() && out_of_grammar > 0.0 && out_of_grammar <= 1.0) {
            return Err("grammar out_of_grammar_threshold must be in (0, 1]".into());
        }
        Ok(GrammarAcceptance::Thresholds {
            gap,
            out_of_grammar,
        })
    }
}

impl GrammarJudge {
    /// The out-of-grammar posterior is clamped to `[EPS, 1 - EPS]`, the intent posterior to at
    /// least `EPS`, before their logarithms.
    pub const EPS: f32 = 1e-6;
    /// Added to the margin before its logarithm: margins below it count alike.
    pub const MARGIN_FLOOR: f64 = 0.01;

    /// Whether the score reads the decode's margin (so it is measured before scoring).
    pub fn weighs_margin(&self) -> bool {
        self.margin_log != 0.0
    }

    /// `ln(margin + MARGIN_FLOOR)`, a missing or negative margin counting as 0.
    fn margin_term(margin: Option<f64>) -> f32 {
        (margin.unwrap_or(0.0).max(0.0) + Self::MARGIN_FLOOR).ln() as f32
    }

    /// `ln(frames)`, at least one frame.
    fn length_term(frames: usize) -> f32 {
        (frames.max(1) as f32).ln()
    }

    /// The judge's score in (0, 1) of a decode: its measurements `m` (a margin of `None`
    /// counts as 0).
    pub fn score(&self, m: &JudgeInputs) -> f32 {
        let q = m.p_oog.clamp(Self::EPS, 1.0 - Self::EPS);
        let z = self.bias
            + self.gap * m.gap
            + self.out_of_grammar_logit * (q.ln() - (1.0 - q).ln())
            + self.intent_log_posterior * m.p_intent.max(Self::EPS).ln()
            + self.margin_log * Self::margin_term(m.margin)
            + self.log_frames * Self::length_term(m.frames);
        1.0 / (1.0 + (-z).exp())
    }

    /// Whether a decode with judge `score` and measurements `m` is a command: the score reaches
    /// the threshold and the decode passes the gate or, for a judge without one, its margin
    /// reaches `min_margin` (if any). The `margin` is asked for only where one of these reads
    /// it; a decode without a margin is then refused.
    pub fn accepts(
        &self,
        score: f32,
        m: &JudgeInputs,
        margin: impl FnOnce() -> Option<f64>,
    ) -> bool {
        if score < self.threshold {
            return false;
        }
        match self.gate {
            Some(g) => margin().is_some_and(|measured| {
                let z = g.bias
                    + g.gap * m.gap
                    + g.margin_log * Self::margin_term(Some(measured))
                    + g.log_frames * Self::length_term(m.frames);
                z >= g.threshold
            }),
            None => {
                self.min_margin <= 0.0
                    || margin().is_some_and(|measured| measured >= f64::from(self.min_margin))
            }
        }
    }
}

/// The `vad` section: how raw audio is cut into the graph's windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VadSpec {
    /// Sample rate of the audio, Hz.
    pub sample_rate: u32,
    /// New samples per window.
    pub window: usize,
    /// Samples of the previous window prepended to each window.
    pub context: usize,
    /// Speech when the probability is above this.
    pub threshold: f32,
}

/// Everything `<name>.json` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMetadata {
    /// Schema version.
    pub schema: u32,
    /// Kind.
    pub kind: ModelKind,
    /// Name.
    pub name: String,
    /// Classes of the main output.
    pub labels: Vec<String>,
    /// Audio models: which features they read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<FeatureName>,
    /// Audio models: the front-end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<FrontEndParams>,
    /// Graph inputs and outputs.
    pub io: IoSpec,
    /// Keyword models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<KeywordSpec>,
    /// Intent models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<IntentSpec>,
    /// Voice activity models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vad: Option<VadSpec>,
    /// Text models: the tokenizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<serde_json::Value>,
    /// How it was trained.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Its figures.
    #[serde(default)]
    pub evaluation: serde_json::Value,
}

fn shape_is(spec: &TensorSpec, want: &[Option<usize>]) -> bool {
    spec.shape.len() == want.len()
        && spec.shape.iter().zip(want).all(|(d, w)| match (d, w) {
            (Dim::Fixed(a), Some(b)) => a == b,
            (Dim::Symbol(_), None) => true,
            _ => false,
        })
}

fn describe(shape: &[Option<usize>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or("T".to_string(), |v| v.to_string()))
        .collect();
    format!("[{}]", dims.join(", "))
}

impl ModelMetadata {
    /// Reads and checks `<name>.json`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and checks metadata text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ModelError> {
        let meta: ModelMetadata = serde_json::from_str(text).map_err(|e| ModelError::Metadata {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        meta.validate().map_err(|message| ModelError::Metadata {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(meta)
    }

    /// The front-end of an audio model.
    pub fn frontend(&self) -> Option<&FrontEndParams> {
        self.frontend.as_ref()
    }

    /// Width of one feature frame for audio models.
    pub fn feature_dim(&self) -> Option<usize> {
        let fe = self.frontend.as_ref()?;
        Some(match self.features? {
            FeatureName::Mfcc => fe.n_mfcc,
            FeatureName::Logmel => fe.n_mels,
        })
    }

    fn validate_vad(&self) -> Result<(), String> {
        let spec = self.vad.as_ref().ok_or("a vad model needs `vad`")?;
        if spec.window == 0 || spec.context >= spec.window {
            return Err("vad: `window` must be positive and larger than `context`".into());
        }
        if !(spec.threshold.is_finite() && spec.threshold > 0.0 && spec.threshold < 1.0) {
            return Err("vad: threshold must be in (0, 1)".into());
        }
        if spec.sample_rate == 0 {
            return Err("vad: sample_rate must be positive".into());
        }
        let width = spec.window + spec.context;
        let names: Vec<&str> = self.io.inputs.iter().map(|t| t.name.as_str()).collect();
        let outs: Vec<&str> = self.io.outputs.iter().map(|t| t.name.as_str()).collect();
        if names != ["input", "h", "c"] || outs != ["speech_probs", "hn", "cn"] {
            return Err(
                "a vad graph takes `input`, `h`, `c` and gives `speech_probs`, `hn`, `cn`".into(),
            );
        }
        let input = self.io.input("input").ok_or("no `input`")?;
        if !shape_is(input, &[None, Some(width)]) || input.dtype != DType::F32 {
            return Err(format!("input `input` must be f32 [T, {width}]"));
        }
        Ok(())
    }

    /// Checks internal consistency; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.schema != SCHEMA {
            return Err(format!(
                "schema version {} (this hark reads version {SCHEMA})",
                self.schema
            ));
        }
        if self.labels.is_empty() {
            return Err("no labels".into());
        }
        let unique: HashSet<&String> = self.labels.iter().collect();
        if unique.len() != self.labels.len() {
            return Err("labels are not unique".into());
        }
        let has_label = |l: &str| self.labels.iter().any(|x| x == l);
        let n_labels = self.labels.len();
        if self.kind.is_audio() {
            let (Some(fe), Some(_)) = (&self.frontend, self.features) else {
                return Err(format!(
                    "an audio model ({:?}) needs `features` and `frontend`",
                    self.kind
                ));
            };
            fe.validate().map_err(|e| e.to_string())?;
            if fe.pcen.is_some() && self.features != Some(FeatureName::Logmel) {
                return Err("frontend `pcen` applies to log-mel features only".into());
            }
            let dim = self.feature_dim().unwrap_or(0);
            if let (Some(mean), Some(_)) = (&fe.mean, &fe.std)
                && mean.len() != dim
            {
                return Err(format!(
                    "frontend normalisation has {} coefficients but the model reads {dim}",
                    mean.len()
                ));
            }
            let x = self
                .io
                .input("x")
                .ok_or("audio models take their features as input `x`")?;
            let want = [Some(1), None, Some(dim)];
            if !shape_is(x, &want) || x.dtype != DType::F32 {
                return Err(format!("input `x` must be f32 {}", describe(&want)));
            }
        }
        if self.kind == ModelKind::Vad {
            return self.validate_vad();
        }
        if !self.kind.is_audio() {
            let tokens = self
                .io
                .input("tokens")
                .ok_or("text models take token ids as input `tokens`")?;
            if !shape_is(tokens, &[Some(1), None]) || tokens.dtype != DType::I64 {
                return Err("input `tokens` must be i64 [1, T]".into());
            }
            if self.tokenizer.is_none() {
                return Err("a text model needs `tokenizer`".into());
            }
        }
        match self.kind {
            ModelKind::Keyword => {
                let kw = self
                    .keyword
                    .as_ref()
                    .ok_or("a keyword model needs `keyword`")?;
                let scores = self
                    .io
                    .output("scores")
                    .ok_or("a keyword model outputs `scores`")?;
                let want = [Some(1), None, Some(n_labels)];
                if !shape_is(scores, &want) {
                    return Err(format!("output `scores` must be {}", describe(&want)));
                }
                if !has_label(&kw.background) {
                    return Err(format!(
                        "background label {:?} is not a label",
                        kw.background
                    ));
                }
                for l in kw.wake_words.iter().chain(kw.thresholds.keys()) {
                    if !has_label(l) {
                        return Err(format!("{l:?} is not one of the labels"));
                    }
                }
                for (l, t) in &kw.thresholds {
                    if !(t.is_finite() && *t > 0.0 && *t <= 1.0) {
                        return Err(format!("threshold of {l:?} must be in (0, 1], got {t}"));
                    }
                }
                if kw.smoothing_frames == 0 {
                    return Err("smoothing_frames must be at least 1".into());
                }
                if let Some(v) = &kw.verify {
                    check_verify(v, &has_label, &kw.background)?;
                }
                if !(kw.refractory_s.is_finite() && kw.refractory_s >= 0.0) {
                    return Err("refractory_s must be a non-negative number".into());
                }
                for s in &kw.state {
                    let want: Vec<Option<usize>> = s.shape.iter().map(|&d| Some(d)).collect();
                    for (name, spec) in [
                        (&s.input, self.io.input(&s.input)),
                        (&s.output, self.io.output(&s.output)),
                    ] {
                        let spec = spec.ok_or(format!("state tensor {name:?} is not in `io`"))?;
                        if !shape_is(spec, &want) {
                            return Err(format!(
                                "state tensor {name:?} must be {}",
                                describe(&want)
                            ));
                        }
                    }
                }
                if self.io.inputs.len() != 1 + kw.state.len()
                    || self.io.outputs.len() != 1 + kw.state.len()
                {
                    return Err("a keyword graph has `x` plus the state as inputs, `scores` plus the state as outputs".into());
                }
            }
            ModelKind::Intent | ModelKind::TextIntent => {
                let spec = self
                    .intent
                    .as_ref()
                    .ok_or("an intent model needs `intent`")?;
                if !has_label(&spec.out_of_grammar) {
                    return Err(format!(
                        "out-of-grammar label {:?} is not a label",
                        spec.out_of_grammar
                    ));
                }
                if !(spec.threshold.is_finite() && (0.0..=1.0).contains(&spec.threshold)) {
                    return Err("intent threshold must be in [0, 1]".into());
                }
                if let Some(g) = &spec.grammar {
                    g.acceptance()?;
                    if g.phonemes.is_empty() || g.phonemes.contains(['/', '\\']) {
                        return Err(
                            "grammar `phonemes` must be a file stem in the same folder".into()
                        );
                    }
                }
                if self.kind == ModelKind::Intent {
                    let out = self
                        .io
                        .output("intent")
                        .ok_or("an intent model outputs `intent`")?;
                    if !shape_is(out, &[Some(1), Some(n_labels)]) {
                        return Err(format!("output `intent` must be [1, {n_labels}]"));
                    }
                    for slot in &spec.slots {
                        let out = self.io.output(&slot.output).ok_or(format!(
                            "slot {:?}: output {:?} is not in `io`",
                            slot.name, slot.output
                        ))?;
                        let want = [Some(1), Some(slot.values.len() + 1)];
                        if !shape_is(out, &want) {
                            return Err(format!(
                                "slot {:?}: output {:?} must be {}",
                                slot.name,
                                slot.output,
                                describe(&want)
                            ));
                        }
                    }
                }
            }
            ModelKind::Sentiment => {
                let out = self
                    .io
                    .output("sentiment")
                    .ok_or("a sentiment model outputs `sentiment`")?;
                if !shape_is(out, &[Some(1), Some(n_labels)]) {
                    return Err(format!("output `sentiment` must be [1, {n_labels}]"));
                }
            }
            ModelKind::Vad => {}
            ModelKind::Phonemes => {
                if self.labels.first().map(String::as_str) != Some("<blank>") {
                    return Err("a phoneme recogniser's first label is the CTC `<blank>`".into());
                }
                let out = self
                    .io
                    .output("logp")
                    .ok_or("a phoneme recogniser outputs `logp`")?;
                if !shape_is(out, &[Some(1), None, Some(n_labels)]) {
                    return Err(format!("output `logp` must be [1, T, {n_labels}]"));
                }
            }
            ModelKind::TextSentiment => {
                let out = self
                    .io
                    .output("sentiment")
                    .ok_or("a text-sentiment model outputs `sentiment`")?;
                if !shape_is(out, &[Some(1), Some(n_labels)]) {
                    return Err(format!("output `sentiment` must be [1, {n_labels}]"));
                }
            }
        }
        Ok(())
    }

    /// The `.onnx` file beside a `.json` file.
    pub fn graph_path(json: &Path) -> PathBuf {
        json.with_extension("onnx")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/keyword.json"),
        )
        .unwrap()
    }

    fn edited(f: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&fixture()).unwrap();
        f(&mut v);
        v.to_string()
    }

    fn error_of(text: &str) -> String {
        ModelMetadata::parse(text, Path::new("m.json"))
            .unwrap_err()
            .to_string()
    }

    fn grammar_spec(acceptance: serde_json::Value) -> GrammarSpec {
        let mut v = serde_json::json!({
            "phonemes": "phonemes",
            "graph": {"junctions": 2, "chains": [], "epsilons": []}
        });
        for (k, x) in acceptance.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_grammar_decoder_takes_the_specs_prior_if_it_fits_the_recogniser() {
        use crate::models::grammar::GraphError;
        let plain = grammar_spec(serde_json::json!({}));
        assert!(plain.decoder(3).is_ok());
        let with_prior = grammar_spec(
            serde_json::json!({"prior": {"scale": 0.8, "log_prior": [-0.4, -2.0, -2.0, -2.0]}}),
        );
        assert!(with_prior.decoder(3).is_ok());
        assert_eq!(
            with_prior.decoder(5).err(),
            Some(GraphError::PriorLength {
                values: 4,
                classes: 6
            })
        );
    }

    #[test]
    fn a_grammar_is_judged_by_a_judge_or_by_both_thresholds() {
        let judge = serde_json::json!({"judge": {
            "gap": 10.0, "out_of_grammar_logit": -0.2, "intent_log_posterior": 0.5,
            "bias": 3.0, "threshold": 0.7
        }});
        assert!(matches!(
            grammar_spec(judge).acceptance(),
            Ok(GrammarAcceptance::Judge(_))
        ));
        let old = serde_json::json!({"gap_threshold": -0.2, "out_of_grammar_threshold": 0.3});
        assert!(matches!(
            grammar_spec(old).acceptance(),
            Ok(GrammarAcceptance::Thresholds { .. })
        ));
        let e = grammar_spec(serde_json::json!({"gap_threshold": -0.2}))
            .acceptance()
            .unwrap_err();
        assert!(
            e.contains("judge") && e.contains("out_of_grammar_threshold"),
            "{e}"
        );
        let bad = serde_json::json!({"judge": {
            "gap": 10.0, "out_of_grammar_logit": -0.2, "intent_log_posterior": 0.5,
            "bias": 3.0, "threshold": 1.5
        }});
        let e = grammar_spec(bad).acceptance().unwrap_err();
        assert!(e.contains("threshold") && e.contains("1.5"), "{e}");
        let bad = serde_json::json!({"judge": {
            "gap": 10.0, "out_of_grammar_logit": -0.2, "intent_log_posterior": 0.5,
            "bias": 3.0, "threshold": 0.5, "min_margin": -0.1
        }});
        let e = grammar_spec(bad).acceptance().unwrap_err();
        assert!(e.contains("min_margin") && e.contains("-0.1"), "{e}");
        // A judge from before the margin needs none.
        let old = serde_json::json!({"judge": {
            "gap": 10.0, "out_of_grammar_logit": -0.2, "intent_log_posterior": 0.5,
            "bias": 3.0, "threshold": 0.5
        }});
        match grammar_spec(old).acceptance() {
            Ok(GrammarAcceptance::Judge(j)) => {
                assert!(j.min_margin.abs() < f32::EPSILON);
                assert!(!j.weighs_margin() && j.log_frames.abs() < f32::EPSILON);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_judge_scores_fit_agreement_and_out_of_grammar_as_documented() {
        let j = GrammarJudge {
            gap: 10.0,
            out_of_grammar_logit: -0.5,
            intent_log_posterior: 0.5,
            bias: 2.0,
            threshold: 0.5,
            min_margin: 0.0,
            margin_log: 0.0,
            log_frames: 0.0,
            gate: None,
        };
        let at = |gap: f32, p_oog: f32, p_intent: f32| JudgeInputs {
            gap,
            p_oog,
            p_intent,
            margin: None,
            frames: 60,
        };
        let score = |j: &GrammarJudge, gap, p_oog, p_intent| j.score(&at(gap, p_oog, p_intent));
        // z = 2 + 10·(-0.1) - 0.5·logit(0.2) + 0.5·ln(0.6)
        let z: f32 = 2.0 - 1.0 - 0.5 * (0.2f32 / 0.8).ln() + 0.5 * 0.6f32.ln();
        let want = 1.0 / (1.0 + (-z).exp());
        assert!((score(&j, -0.1, 0.2, 0.6) - want).abs() < 1e-6);
        assert!(score(&j, -0.05, 0.1, 0.9) > score(&j, -0.3, 0.1, 0.9));
        assert!(score(&j, -0.1, 0.1, 0.9) > score(&j, -0.1, 0.9, 0.9));
        assert!(score(&j, -0.1, 0.1, 0.9) > score(&j, -0.1, 0.1, 0.01));
        // Posteriors of exactly 0 or 1 are clamped, not infinite.
        assert!(score(&j, -0.1, 1.0, 0.0).is_finite() && score(&j, -0.1, 0.0, 1.0).is_finite());
        assert!(
            score(&j, -0.05, 0.1, 0.9) >= j.threshold && score(&j, -1.0, 0.9, 0.01) < j.threshold
        );
        // Weighing neither the margin nor the length, the judge reads neither.
        assert!(!j.weighs_margin());
        let long = JudgeInputs {
            margin: Some(0.5),
            frames: 600,
            ..at(-0.1, 0.2, 0.6)
        };
        assert!((j.score(&long) - want).abs() < 1e-6);
        // z + 0.8·ln(margin + 0.01) + 0.3·ln(frames); no margin counts as 0.
        let full = GrammarJudge {
            margin_log: 0.8,
            log_frames: 0.3,
            ..j
        };
        assert!(full.weighs_margin());
        let z_full = |margin: f32| z + 0.8 * (margin + 0.01).ln() + 0.3 * 600f32.ln();
        let sig = |z: f32| 1.0 / (1.0 + (-z).exp());
        assert!((full.score(&long) - sig(z_full(0.5))).abs() < 1e-6);
        let unmeasured = JudgeInputs {
            margin: None,
            ..long
        };
        assert!((full.score(&unmeasured) - sig(z_full(0.0))).abs() < 1e-6);
        assert!(full.score(&long) > full.score(&unmeasured));
        // Without a least margin none is asked for; with one, it must be reached.
        assert!(j.accepts(0.6, &long, || panic!("no margin is needed")));
        let gated = GrammarJudge {
            min_margin: 0.05,
            ..j
        };
        assert!(!gated.accepts(0.4, &long, || panic!("the score refuses first")));
        assert!(gated.accepts(0.6, &long, || Some(0.06)));
        assert!(!gated.accepts(0.6, &long, || Some(0.04)));
        assert!(!gated.accepts(0.6, &long, || None));
    }

    #[test]
    fn the_gate_weighs_gap_margin_and_length_against_its_threshold() {
        let gate = JudgeGate {
            gap: 0.6,
            margin_log: 2.0,
            log_frames: 2.5,
            bias: -2.0,
            threshold: 1.5,
        };
        let j = GrammarJudge {
            gap: 10.0,
            out_of_grammar_logit: 0.0,
            intent_log_posterior: 0.0,
            bias: 2.0,
            threshold: 0.5,
            // A gate replaces the least margin.
            min_margin: 0.9,
            margin_log: 0.0,
            log_frames: 0.0,
            gate: Some(gate),
        };
        let m = JudgeInputs {
            gap: -0.2,
            p_oog: 0.1,
            p_intent: 0.9,
            margin: None,
            frames: 40,
        };
        let value = |margin: f64| -2.0 - 0.6 * 0.2 + 2.0 * (margin + 0.01).ln() + 2.5 * 40f64.ln();
        // The margin at which the gate's score reaches its threshold, and either side of it.
        let at = ((1.5 + 2.0 + 0.12 - 2.5 * 40f64.ln()) / 2.0).exp() - 0.01;
        assert!((value(at) - 1.5).abs() < 1e-9);
        assert!(j.accepts(0.6, &m, || Some(at * 1.01)));
        assert!(!j.accepts(0.6, &m, || Some(at * 0.99)));
        assert!(!j.accepts(0.6, &m, || None));
        assert!(!j.accepts(0.4, &m, || panic!("the score refuses first")));
        // A longer command passes with a narrower margin.
        let long = JudgeInputs { frames: 80, ..m };
        assert!(j.accepts(0.6, &long, || Some(at * 0.99)));
        // Read from the metadata, checked to be finite.
        let spec = serde_json::json!({"judge": {
            "gap": 10.0, "out_of_grammar_logit": 0.0, "intent_log_posterior": 0.0,
            "bias": 2.0, "threshold": 0.5,
            "gate": {"gap": 0.6, "margin_log": 2.0, "log_frames": 2.5, "bias": -2.0,
                     "threshold": 1.5}
        }});
        match grammar_spec(spec).acceptance() {
            Ok(GrammarAcceptance::Judge(read)) => assert_eq!(read.gate, Some(gate)),
            other => panic!("{other:?}"),
        }
        let bad = serde_json::json!({"judge": {
            "gap": 10.0, "out_of_grammar_logit": 0.0, "intent_log_posterior": 0.0,
            "bias": 2.0, "threshold": 0.5,
            "gate": {"gap": 0.6, "margin_log": 2.0, "log_frames": 2.5, "bias": -2.0,
                     "threshold": 1e39}
        }});
        let e = grammar_spec(bad).acceptance().unwrap_err();
        assert!(e.contains("gate"), "{e}");
    }

    #[test]
    fn fixture_metadata_is_valid() {
        let meta = ModelMetadata::parse(&fixture(), Path::new("keyword.json")).unwrap();
        assert_eq!(meta.kind, ModelKind::Keyword);
        assert_eq!(meta.feature_dim(), Some(13));
    }

    #[test]
    fn inconsistent_metadata_is_refused_with_the_reason() {
        let e = error_of(&edited(|v| v["schema"] = 2.into()));
        assert!(
            e.contains("m.json") && e.contains("schema version 2"),
            "{e}"
        );
        let e = error_of(&edited(|v| v["labels"] = serde_json::json!(["a", "b"])));
        assert!(e.contains("scores"), "{e}");
        let e = error_of(&edited(|v| v["keyword"]["thresholds"]["hal"] = 0.5.into()));
        assert!(e.contains("hal"), "{e}");
        let e = error_of(&edited(|v| v["frontend"]["n_mfcc"] = 20.into()));
        assert!(e.contains("normalisation") || e.contains("`x`"), "{e}");
        let e = error_of(&edited(|v| v["kind"] = "keyspotter".into()));
        assert!(e.contains("keyspotter"), "{e}");
        let e = error_of(&edited(|v| v["extra"] = 1.into()));
        assert!(e.contains("extra"), "{e}");
        let e = error_of(&edited(|v| {
            v.as_object_mut().unwrap().remove("frontend");
        }));
        assert!(e.contains("frontend"), "{e}");
        let e = error_of("{ not json");
        assert!(e.contains("m.json"), "{e}");
    }

    #[test]
    fn pcen_settings_are_read_checked_and_only_taken_with_log_mel() {
        let pcen = serde_json::json!({
            "smoothing": 0.025, "alpha": 0.98, "delta": 2.0, "root": 0.5, "eps": 1e-6
        });
        // The fixture model reads MFCC: PCEN is refused there.
        let e = error_of(&edited(|v| v["frontend"]["pcen"] = pcen.clone()));
        assert!(e.contains("pcen") && e.contains("log-mel"), "{e}");
        let mut bad = pcen.clone();
        bad["root"] = 2.0.into();
        let e = error_of(&edited(|v| v["frontend"]["pcen"] = bad));
        assert!(e.contains("root"), "{e}");
        let mut partial = pcen.clone();
        partial.as_object_mut().unwrap().remove("eps");
        let e = error_of(&edited(|v| v["frontend"]["pcen"] = partial));
        assert!(e.contains("eps"), "{e}");
        let params: FrontEndParams =
            serde_json::from_value(serde_json::json!({ "pcen": pcen })).unwrap();
        params.validate().unwrap();
        assert!((params.pcen.unwrap().smoothing - 0.025).abs() < 1e-12);
    }
}
