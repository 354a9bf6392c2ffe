//! Text models: intent and slots of a sentence (`text-intent`) and its sentiment
//! (`text-sentiment`), with the decoding rules of `docs/models.md`.

use std::collections::BTreeMap;
use std::path::Path;

use tract_onnx::prelude::*;

use super::graph::read_f32;
use super::tokenizer::{Tokenizer, TokenizerSpec};
use super::utterance::{IntentResult, SentimentResult, SlotValue};
use super::{Graph, IntentSpec, ModelError, ModelKind, ModelMetadata, argmax};

/// One output of a graph: its shape and values.
type Output = (Vec<usize>, Vec<f32>);

struct TextGraph {
    meta: ModelMetadata,
    graph: Graph,
    tokenizer: Tokenizer,
}

impl TextGraph {
    fn load(json: &Path, kind: ModelKind) -> Result<Self, ModelError> {
        let meta = ModelMetadata::load(json)?;
        let wrong = |message: String| ModelError::Metadata {
            path: json.to_path_buf(),
            message,
        };
        if meta.kind != kind {
            return Err(wrong(format!(
                "expected a {kind:?} model, found {:?}",
                meta.kind
            )));
        }
        let spec: TokenizerSpec = serde_json::from_value(
            meta.tokenizer
                .clone()
                .ok_or_else(|| wrong("a text model needs `tokenizer`".into()))?,
        )
        .map_err(|e| wrong(format!("tokenizer: {e}")))?;
        let tokenizer = Tokenizer::new(spec).map_err(wrong)?;
        let graph = Graph::load(&ModelMetadata::graph_path(json), &meta)?;
        Ok(Self {
            meta,
            graph,
            tokenizer,
        })
    }

    /// Runs the graph on token ids; returns each output's values and its shape.
    fn run(&self, ids: &[i64]) -> Result<Vec<Output>, ModelError> {
        let x = Tensor::from_shape(&[1, ids.len()], ids).map_err(|e| self.graph.run_error(e))?;
        let outputs = self.graph.run(tvec![x.into_tvalue()])?;
        outputs
            .iter()
            .map(|o| {
                let mut v = Vec::new();
                read_f32(o, &mut v).map_err(|e| self.graph.run_error(e))?;
                Ok((o.shape().to_vec(), v))
            })
            .collect()
    }

    fn output_index(&self, name: &str) -> Result<usize, ModelError> {
        self.meta
            .io
            .outputs
            .iter()
            .position(|o| o.name == name)
            .ok_or_else(|| ModelError::Run {
                name: self.meta.name.clone(),
                message: format!("no `{name}` output"),
            })
    }
}

/// Sentence → intent and slots.
pub struct TextIntentModel {
    inner: TextGraph,
    spec: IntentSpec,
    tags: Vec<String>,
}

impl TextIntentModel {
    /// Loads `text-intent.json` and its graph.
    pub fn load(json: &Path) -> Result<Self, ModelError> {
        let inner = TextGraph::load(json, ModelKind::TextIntent)?;
        let wrong = |message: &str| ModelError::Metadata {
            path: json.to_path_buf(),
            message: message.to_string(),
        };
        let spec = inner
            .meta
            .intent
            .clone()
            .ok_or_else(|| wrong("missing `intent`"))?;
        let tags = inner
            .tokenizer
            .spec()
            .tags
            .clone()
            .ok_or_else(|| wrong("a text-intent tokenizer needs `tags`"))?;
        if tags.first().map(String::as_str) != Some("O") {
            return Err(wrong("the first tag must be \"O\""));
        }
        Ok(Self { inner, spec, tags })
    }

    /// The metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.inner.meta
    }

    /// Understands a sentence.
    pub fn understand(&self, text: &str) -> Result<IntentResult, ModelError> {
        let tokens = self.inner.tokenizer.tokens(text);
        let ids = self.inner.tokenizer.ids(&tokens);
        if ids.is_empty() {
            return Ok(IntentResult {
                intent: self.spec.out_of_grammar.clone(),
                confidence: 0.0,
                understood: false,
                slots: BTreeMap::new(),
            });
        }
        let outputs = self.inner.run(&ids)?;
        let (_, intent_scores) = &outputs[self.inner.output_index("intent")?];
        let (best, confidence) = argmax(intent_scores);
        let intent = self.inner.meta.labels[best].clone();
        let understood = intent != self.spec.out_of_grammar && confidence >= self.spec.threshold;
        let mut slots = BTreeMap::new();
        if understood {
            let (_, tag_scores) = &outputs[self.inner.output_index("slot_tags")?];
            slots = self.decode_slots(&intent, &tokens[..ids.len()], tag_scores);
        }
        Ok(IntentResult {
            intent,
            confidence,
            understood,
            slots,
        })
    }

    /// BIO spans → canonical slot values (docs/models.md, "from slot_tags to slot values").
    fn decode_slots(
        &self,
        intent: &str,
        tokens: &[String],
        tag_scores: &[f32],
    ) -> BTreeMap<String, SlotValue> {
        let n_tags = self.tags.len();
        let best: Vec<(String, f32)> = tag_scores
            .chunks(n_tags)
            .take(tokens.len())
            .map(|row| {
                let (i, p) = argmax(row);
                (self.tags[i].clone(), p)
            })
            .collect();
        // Spans: (slot, first token, one past the last token).
        let mut spans: Vec<(String, usize, usize)> = Vec::new();
        for (i, (tag, _)) in best.iter().enumerate() {
            if let Some(slot) = tag.strip_prefix("B-") {
                spans.push((slot.to_string(), i, i + 1));
            } else if let Some(slot) = tag.strip_prefix("I-") {
                match spans.last_mut() {
                    Some((s, _, end)) if s == slot && *end == i => *end = i + 1,
                    _ => spans.push((slot.to_string(), i, i + 1)),
                }
            }
        }
        let allowed = self.spec.intent_slots.as_ref().and_then(|m| m.get(intent));
        let mut slots = BTreeMap::new();
        for (slot, start, end) in spans {
            if slots.contains_key(&slot) {
                continue;
            }
            if allowed.is_some_and(|names| !names.contains(&slot)) {
                continue;
            }
            let Some(spec) = self.spec.slots.iter().find(|s| s.name == slot) else {
                continue;
            };
            let raw = tokens[start..end].join(" ");
            let Some(value) = spec.synonyms.as_ref().and_then(|s| s.get(&raw)) else {
                continue;
            };
            let confidence =
                best[start..end].iter().map(|(_, p)| p).sum::<f32>() / (end - start) as f32;
            slots.insert(
                slot,
                SlotValue {
                    value: value.clone(),
                    raw_value: raw,
                    confidence,
                },
            );
        }
        slots
    }
}

/// Sentence → sentiment.
pub struct TextSentimentModel {
    inner: TextGraph,
}

impl TextSentimentModel {
    /// Loads `text-sentiment.json` and its graph.
    pub fn load(json: &Path) -> Result<Self, ModelError> {
        Ok(Self {
            inner: TextGraph::load(json, ModelKind::TextSentiment)?,
        })
    }

    /// The metadata.
    pub fn metadata(&self) -> &ModelMetadata {
        &self.inner.meta
    }

    /// The sentiment of a sentence.
    pub fn judge(&self, text: &str) -> Result<SentimentResult, ModelError> {
        let labels = &self.inner.meta.labels;
        let tokens = self.inner.tokenizer.tokens(text);
        let ids = self.inner.tokenizer.ids(&tokens);
        if ids.is_empty() {
            return Ok(SentimentResult {
                label: "neutral".into(),
                scores: labels
                    .iter()
                    .map(|l| (l.clone(), if l == "neutral" { 1.0 } else { 0.0 }))
                    .collect(),
            });
        }
        let outputs = self.inner.run(&ids)?;
        let (_, scores) = &outputs[self.inner.output_index("sentiment")?];
        let (best, _) = argmax(scores);
        Ok(SentimentResult {
            label: labels[best].clone(),
            scores: labels.iter().cloned().zip(scores.iter().copied()).collect(),
        })
    }
}

impl crate::daemon::TextUnderstanding for TextIntentModel {
    fn understand(&self, text: &str) -> Result<IntentResult, String> {
        TextIntentModel::understand(self, text).map_err(|e| e.to_string())
    }
}
