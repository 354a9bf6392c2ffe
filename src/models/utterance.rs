//! Utterance-level audio models: speech to intent and slots, and the sentiment of the voice.
//!
//! Both read a whole captured command (normalised feature frames) at once and answer with class
//! posteriors; this module decodes them into Home Assistant–style results.

use std::collections::BTreeMap;
use std::path::Path;

use tract_onnx::prelude::*;

use super::grammar::{Decoded, GrammarDecoder};
use super::graph::read_f32;
use super::set::Normaliser;
use super::{
    GrammarAcceptance, GrammarSpec, Graph, IntentSpec, JudgeInputs, ModelError, ModelKind,
    ModelMetadata, argmax, tensor_f32,
};

/// An audio model with the front-end normalisation it was trained with.
struct UtteranceGraph {
    meta: ModelMetadata,
    graph: Graph,
    dim: usize,
    normaliser: Normaliser,
}

impl UtteranceGraph {
    fn load(json: &Path, kind: ModelKind) -> Result<Self, ModelError> {
        let meta = ModelMetadata::load(json)?;
        if meta.kind != kind {
            return Err(ModelError::Metadata {
                path: json.to_path_buf(),
                message: format!("expected a {kind:?} model, found {:?}", meta.kind),
            });
        }
        let graph = Graph::load(&ModelMetadata::graph_path(json), &meta)?;
        let dim = meta.feature_dim().ok_or_else(|| ModelError::Metadata {
            path: json.to_path_buf(),
            message: "missing front-end".into(),
        })?;
        let normaliser = Normaliser::new(meta.frontend().unwrap_or(&Default::default()), dim);
        Ok(Self {
            meta,
            graph,
            dim,
            normaliser,
        })
    }

    /// Runs on raw front-end `frames` (row-major; normalised here with the model's own
    /// statistics); returns each output's values.
    fn run(&self, frames: &[f32]) -> Result<Vec<Vec<f32>>, ModelError> {
        let n = frames.len() / self.dim;
        if n == 0 {
            return Err(ModelError::Run {
                name: self.meta.name.clone(),
                message: "no feature frames (the audio is shorter than one analysis window)".into(),
            });
        }
        let mut normalised = Vec::with_capacity(n * self.dim);
        // Each utterance is a stream of its own.
        let mut normaliser = self.normaliser.clone();
        normaliser.reset();
        for f in frames.chunks_exact(self.dim) {
            normaliser.apply(f, &mut normalised);
        }
        let x = tensor_f32(&[1, n, self.dim], &normalised)?;
        let outputs = self.graph.run(tvec![x.into_tvalue()])?;
        outputs
            .iter()
            .map(|o| {
                let mut v = Vec::new();
                read_f32(o, &mut v).map_err(|e| self.graph.run_error(e))?;
                Ok(v)
            })
            .collect()
    }
}

/// A slot value the model heard.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotValue {
    /// The value (one of the slot's values in the context).
    pub value: String,
    /// The words as heard or written (for audio models, the value itself).
    pub raw_value: String,
    /// Posterior of that value.
    pub confidence: f32,
}

/// What a command meant.
#[derive(Debug, Clone, PartialEq)]
pub struct IntentResult {
    /// The most likely intent (possibly the out-of-grammar label).
    pub intent: String,
    /// Its posterior.
    pub confidence: f32,
    /// True when the intent is in the grammar and its confidence reaches the threshold.
    pub understood: bool,
    /// Slots judged present.
    pub slots: BTreeMap<String, SlotValue>,
}

/// A phoneme recogniser: per-frame CTC log-probabilities (class 0 is the blank).
pub struct PhonemeModel {
    inner: UtteranceGraph,
}

impl PhonemeModel {
    /// Loads `<name>.json` and its graph.
    pub fn load(json: &Path) -> Result<Self, ModelError> {
        Ok(Self {
            inner: UtteranceGraph::load(json, ModelKind::Phonemes)?,
        })
    }

    /// The metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.inner.meta
    }

    /// Phonemes it tells apart (without the blank).
    pub fn phonemes(&self) -> usize {
        self.inner.meta.labels.len() - 1
    }

    /// Row-major `[frames, 1 + phonemes]` log-probabilities of raw front-end `frames`.
    pub fn log_probs(&self, frames: &[f32]) -> Result<Vec<f32>, ModelError> {
        let mut outputs = self.inner.run(frames)?;
        if outputs.is_empty() {
            return Err(ModelError::Run {
                name: self.inner.meta.name.clone(),
                message: "no output".into(),
            });
        }
        Ok(outputs.swap_remove(0))
    }
}

/// Grammar decoding attached to an intent model.
struct Grammar {
    phonemes: PhonemeModel,
    decoder: GrammarDecoder,
    acceptance: GrammarAcceptance,
}

impl Grammar {
    fn load(json: &Path, spec: &GrammarSpec) -> Result<Self, ModelError> {
        let dir = json.parent().unwrap_or(Path::new("."));
        let phonemes = PhonemeModel::load(&dir.join(format!("{}.json", spec.phonemes)))?;
        let decoder = spec
            .decoder(phonemes.phonemes())
            .map_err(|e| ModelError::Metadata {
                path: json.to_path_buf(),
                message: format!("grammar: {e}"),
            })?;
        let acceptance = spec.acceptance().map_err(|message| ModelError::Metadata {
            path: json.to_path_buf(),
            message,
        })?;
        Ok(Self {
            phonemes,
            decoder,
            acceptance,
        })
    }
}

/// A speech-to-intent model: the intent graph alone, or (when its metadata has a `grammar`)
/// grammar decoding, judged with the intent graph's posteriors.
pub struct IntentModel {
    inner: UtteranceGraph,
    spec: IntentSpec,
    threshold: f32,
    grammar: Option<Grammar>,
}

impl IntentModel {
    /// Loads `<name>.json` and its graph.
    pub fn load(json: &Path) -> Result<Self, ModelError> {
        let inner = UtteranceGraph::load(json, ModelKind::Intent)?;
        let spec = inner
            .meta
            .intent
            .clone()
            .ok_or_else(|| ModelError::Metadata {
                path: json.to_path_buf(),
                message: "missing `intent`".into(),
            })?;
        let grammar = spec
            .grammar
            .as_ref()
            .map(|g| Grammar::load(json, g))
            .transpose()?;
        Ok(Self {
            threshold: spec.threshold,
            inner,
            spec,
            grammar,
        })
    }

    /// Whether intent and slots come from grammar decoding.
    pub fn decodes_grammar(&self) -> bool {
        self.grammar.is_some()
    }

    /// The phoneme recogniser behind grammar decoding, if any.
    pub fn phoneme_model(&self) -> Option<&PhonemeModel> {
        self.grammar.as_ref().map(|g| &g.phonemes)
    }

    /// The search of the context's phoneme graph, if any.
    pub fn grammar_decoder(&self) -> Option<&GrammarDecoder> {
        self.grammar.as_ref().map(|g| &g.decoder)
    }

    /// The metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.inner.meta
    }

    /// Overrides the confidence threshold of the intent graph's own decoding (a model with a
    /// grammar is judged by the grammar's thresholds instead).
    pub fn set_threshold(&mut self, threshold: f32) {
        self.threshold = threshold;
    }

    /// Understands one command from its raw front-end frames.
    pub fn understand(&self, frames: &[f32]) -> Result<IntentResult, ModelError> {
        let outputs = self.inner.run(frames)?;
        if let Some(grammar) = &self.grammar {
            let intent_scores = outputs.first().ok_or_else(|| ModelError::Run {
                name: self.inner.meta.name.clone(),
                message: "no intent posteriors".into(),
            })?;
            let logp = grammar.phonemes.log_probs(frames)?;
            let decoded = grammar.decoder.decode(&logp);
            return self.grammar_result(&decoded, &logp, intent_scores, grammar);
        }
        let names: Vec<&str> = self
            .inner
            .meta
            .io
            .outputs
            .iter()
            .map(|o| o.name.as_str())
            .collect();
        let find = |name: &str| names.iter().position(|n| *n == name).map(|i| &outputs[i]);
        let intent_scores = find("intent").ok_or_else(|| ModelError::Run {
            name: self.inner.meta.name.clone(),
            message: "no `intent` output".into(),
        })?;
        let (best, confidence) = argmax(intent_scores);
        let intent = self.inner.meta.labels[best].clone();
        let understood = intent != self.spec.out_of_grammar && confidence >= self.threshold;
        let mut slots = BTreeMap::new();
        if intent != self.spec.out_of_grammar {
            let allowed = self
                .spec
                .intent_slots
                .as_ref()
                .map(|m| m.get(&intent).cloned().unwrap_or_default());
            for slot in &self.spec.slots {
                if allowed.as_ref().is_some_and(|a| !a.contains(&slot.name)) {
                    continue;
                }
                let Some(scores) = find(&slot.output) else {
                    continue;
                };
                let (index, p) = argmax(scores);
                if index > 0 {
                    slots.insert(
                        slot.name.clone(),
                        SlotValue {
                            value: slot.values[index - 1].clone(),
                            raw_value: slot.values[index - 1].clone(),
                            confidence: p,
                        },
                    );
                }
            }
        }
        Ok(IntentResult {
            intent,
            confidence,
            understood,
            slots,
        })
    }
}

impl IntentModel {
    /// The intent graph's posterior of `label`.
    fn posterior(&self, intent_scores: &[f32], label: &str) -> Result<f32, ModelError> {
        self.inner
            .meta
            .labels
            .iter()
            .position(|l| l == label)
            .and_then(|i| intent_scores.get(i).copied())
            .ok_or_else(|| ModelError::Run {
                name: self.inner.meta.name.clone(),
                message: format!("no posterior of {label:?}"),
            })
    }

    /// The result of a grammar decode of `logp`, accepted by the grammar's judge (or
    /// thresholds). With a judge the confidence is its score, and a decode the score accepts
    /// must also reach the judge's margin; with thresholds the confidence is `exp(gap)`, the
    /// per-frame likelihood ratio of the grammar path to the free one (1: the command fits
    /// perfectly).
    fn grammar_result(
        &self,
        d: &Decoded,
        logp: &[f32],
        intent_scores: &[f32],
        g: &Grammar,
    ) -> Result<IntentResult, ModelError> {
        let Some(intent) = d.intent.clone() else {
            return Ok(IntentResult {
                intent: self.spec.out_of_grammar.clone(),
                confidence: 0.0,
                understood: false,
                slots: BTreeMap::new(),
            });
        };
        let gap = d.gap() as f32;
        let p_oog = self.posterior(intent_scores, &self.spec.out_of_grammar)?;
        let (confidence, understood) = match g.acceptance {
            GrammarAcceptance::Judge(judge) => {
                // Measured before scoring where the score reads it, else only if the score
                // alone accepts.
                let early = judge.weighs_margin().then(|| g.decoder.margin(logp, d));
                let inputs = JudgeInputs {
                    gap,
                    p_oog,
                    p_intent: self.posterior(intent_scores, &intent)?,
                    margin: early.flatten(),
                    frames: d.frames,
                };
                let score = judge.score(&inputs);
                let accepted = judge.accepts(score, &inputs, || {
                    early.unwrap_or_else(|| g.decoder.margin(logp, d))
                });
                (score, accepted)
            }
            GrammarAcceptance::Thresholds {
                gap: least_gap,
                out_of_grammar,
            } => (gap.exp(), gap >= least_gap && p_oog <= out_of_grammar),
        };
        let slots = d
            .slots
            .iter()
            .map(|(name, (value, raw))| {
                (
                    name.clone(),
                    SlotValue {
                        value: value.clone(),
                        raw_value: raw.clone(),
                        confidence,
                    },
                )
            })
            .collect();
        Ok(IntentResult {
            intent,
            confidence,
            understood,
            slots,
        })
    }
}

/// How a command was said.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentResult {
    /// The most likely label.
    pub label: String,
    /// Posterior of every label.
    pub scores: BTreeMap<String, f32>,
}

/// A sentiment-of-the-voice model.
pub struct SentimentModel {
    inner: UtteranceGraph,
}

impl SentimentModel {
    /// Loads `<name>.json` and its graph.
    pub fn load(json: &Path) -> Result<Self, ModelError> {
        Ok(Self {
            inner: UtteranceGraph::load(json, ModelKind::Sentiment)?,
        })
    }

    /// The metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.inner.meta
    }

    /// Judges one utterance from its raw front-end frames.
    pub fn judge(&self, frames: &[f32]) -> Result<SentimentResult, ModelError> {
        let outputs = self.inner.run(frames)?;
        let scores = outputs.first().ok_or_else(|| ModelError::Run {
            name: self.inner.meta.name.clone(),
            message: "no output".into(),
        })?;
        let (best, _) = argmax(scores);
        Ok(SentimentResult {
            label: self.inner.meta.labels[best].clone(),
            scores: self
                .inner
                .meta
                .labels
                .iter()
                .cloned()
                .zip(scores.iter().copied())
                .collect(),
        })
    }
}
