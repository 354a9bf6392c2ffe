//! The text models' tokenizer, exactly as `docs/models.md` specifies it (and as
//! `training/hark_train/tokenizer.py` implements it): lowercase, replacements, accents stripped
//! through NFKD, tokens as the matches of a regular expression, ids by vocabulary position.

use std::collections::HashMap;

use regex::Regex;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The `tokenizer` object of a text model's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenizerSpec {
    /// Lowercase first.
    pub lowercase: bool,
    /// Replacements applied in order after lowercasing.
    #[serde(default)]
    pub replace: serde_json::Map<String, serde_json::Value>,
    /// NFKD and drop combining marks.
    pub strip_accents: bool,
    /// Tokens are this expression's successive matches.
    pub pattern: String,
    /// Token of each id.
    pub vocab: Vec<String>,
    /// Padding token (id 0).
    pub pad: String,
    /// Unknown token (id 1).
    pub unknown: String,
    /// Tokens fed at most.
    pub max_tokens: usize,
    /// BIO tags of `slot_tags` (text-intent models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// A ready tokenizer.
#[derive(Debug, Clone)]
pub struct Tokenizer {
    spec: TokenizerSpec,
    replace: Vec<(String, String)>,
    pattern: Regex,
    ids: HashMap<String, i64>,
    unknown: i64,
}

impl Tokenizer {
    /// Builds a tokenizer; the message says what is wrong with a bad specification.
    pub fn new(spec: TokenizerSpec) -> Result<Self, String> {
        let pattern = Regex::new(&spec.pattern)
            .map_err(|e| format!("tokenizer pattern {:?}: {e}", spec.pattern))?;
        if spec.vocab.len() < 2 || spec.vocab[0] != spec.pad || spec.vocab[1] != spec.unknown {
            return Err(format!(
                "the vocabulary must start with {:?} and {:?}",
                spec.pad, spec.unknown
            ));
        }
        let mut replace = Vec::new();
        for (k, v) in &spec.replace {
            let v = v
                .as_str()
                .ok_or_else(|| format!("replacement for {k:?} is not a string"))?;
            replace.push((k.clone(), v.to_string()));
        }
        let ids: HashMap<String, i64> = spec
            .vocab
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as i64))
            .collect();
        if ids.len() != spec.vocab.len() {
            return Err("the vocabulary has duplicates".into());
        }
        if spec.max_tokens == 0 {
            return Err("max_tokens must be positive".into());
        }
        Ok(Self {
            unknown: 1,
            spec,
            replace,
            pattern,
            ids,
        })
    }

    /// The specification.
    pub fn spec(&self) -> &TokenizerSpec {
        &self.spec
    }

    /// Lowercasing, replacements and accent stripping.
    pub fn normalise(&self, text: &str) -> String {
        let mut t = if self.spec.lowercase {
            text.to_lowercase()
        } else {
            text.to_string()
        };
        for (from, to) in &self.replace {
            t = t.replace(from.as_str(), to);
        }
        if self.spec.strip_accents {
            t = t.nfkd().filter(|c| !is_combining_mark(*c)).collect();
        }
        t
    }

    /// The tokens of `text` (all of them, before `max_tokens`).
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let normalised = self.normalise(text);
        self.pattern
            .find_iter(&normalised)
            .map(|m| m.as_str().to_string())
            .collect()
    }

    /// Ids of the first `max_tokens` tokens.
    pub fn ids(&self, tokens: &[String]) -> Vec<i64> {
        tokens
            .iter()
            .take(self.spec.max_tokens)
            .map(|t| self.ids.get(t).copied().unwrap_or(self.unknown))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_the_python_golden_fixture() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/text/tokenizer_golden.json");
        let golden: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let spec: TokenizerSpec = serde_json::from_value(golden["tokenizer"].clone()).unwrap();
        let tok = Tokenizer::new(spec).unwrap();
        let cases = golden["cases"].as_array().unwrap();
        assert!(cases.len() >= 10);
        for case in cases {
            let text = case["text"].as_str().unwrap();
            assert_eq!(
                tok.normalise(text),
                case["normalised"].as_str().unwrap(),
                "{text:?}"
            );
            let tokens = tok.tokens(text);
            let want: Vec<String> = serde_json::from_value(case["tokens"].clone()).unwrap();
            assert_eq!(tokens, want, "{text:?}");
            let ids: Vec<i64> = serde_json::from_value(case["ids"].clone()).unwrap();
            assert_eq!(tok.ids(&tokens), ids, "{text:?}");
        }
    }

    #[test]
    fn bad_specifications_are_refused() {
        let spec = TokenizerSpec {
            lowercase: true,
            replace: Default::default(),
            strip_accents: true,
            pattern: "[a-z".into(),
            vocab: vec!["<pad>".into(), "<unk>".into()],
            pad: "<pad>".into(),
            unknown: "<unk>".into(),
            max_tokens: 64,
            tags: None,
        };
        assert!(
            Tokenizer::new(spec.clone())
                .unwrap_err()
                .contains("pattern")
        );
        let spec = TokenizerSpec {
            pattern: "[a-z]+".into(),
            vocab: vec!["x".into()],
            ..spec
        };
        assert!(Tokenizer::new(spec).unwrap_err().contains("vocabulary"));
    }
}
