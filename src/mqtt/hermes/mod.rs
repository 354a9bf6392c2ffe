//! The Hermes protocol (Snips, Rhasspy) as serde types, one file per component, and typed topics.
//!
//! Field names are those of the Hermes reference (`siteId`, `sessionId`, `intent.intentName`,
//! `intent.confidenceScore`, `slots[].slotName` …), so Rhasspy and Snips skills read hark's
//! messages unchanged. Optional fields hark does not know are omitted when publishing and
//! accepted (or ignored) when reading.

pub mod asr;
pub mod hotword;
pub mod intent;
pub mod nlu;

pub use asr::AsrTextCaptured;
pub use hotword::{HotwordDetected, HotwordToggle};
pub use intent::{Intent, NluIntent, Slot, SlotRange, SlotValue};
pub use nlu::{NluIntentNotRecognized, NluQuery};

/// A Hermes topic hark publishes or subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// `hermes/hotword/<wakewordId>/detected`.
    HotwordDetected(String),
    /// `hermes/hotword/toggleOn`: listen for the wake word again.
    HotwordToggleOn,
    /// `hermes/hotword/toggleOff`: stop listening for the wake word (mute).
    HotwordToggleOff,
    /// `hermes/intent/<intentName>`.
    Intent(String),
    /// `hermes/nlu/intentNotRecognized`.
    IntentNotRecognized,
    /// `hermes/nlu/query`: text to understand.
    NluQuery,
    /// `hermes/asr/textCaptured`: text a speech recogniser heard.
    AsrTextCaptured,
}

impl Topic {
    /// The topic string.
    pub fn as_string(&self) -> String {
        match self {
            Topic::HotwordDetected(id) => format!("hermes/hotword/{id}/detected"),
            Topic::HotwordToggleOn => "hermes/hotword/toggleOn".into(),
            Topic::HotwordToggleOff => "hermes/hotword/toggleOff".into(),
            Topic::Intent(name) => format!("hermes/intent/{name}"),
            Topic::IntentNotRecognized => "hermes/nlu/intentNotRecognized".into(),
            Topic::NluQuery => "hermes/nlu/query".into(),
            Topic::AsrTextCaptured => "hermes/asr/textCaptured".into(),
        }
    }

    /// Parses a topic string; `None` for topics outside this set.
    pub fn parse(topic: &str) -> Option<Self> {
        let parts: Vec<&str> = topic.split('/').collect();
        match parts.as_slice() {
            ["hermes", "hotword", "toggleOn"] => Some(Topic::HotwordToggleOn),
            ["hermes", "hotword", "toggleOff"] => Some(Topic::HotwordToggleOff),
            ["hermes", "hotword", id, "detected"] if !id.is_empty() => {
                Some(Topic::HotwordDetected((*id).to_string()))
            }
            ["hermes", "intent", name] if !name.is_empty() => {
                Some(Topic::Intent((*name).to_string()))
            }
            ["hermes", "nlu", "intentNotRecognized"] => Some(Topic::IntentNotRecognized),
            ["hermes", "nlu", "query"] => Some(Topic::NluQuery),
            ["hermes", "asr", "textCaptured"] => Some(Topic::AsrTextCaptured),
            _ => None,
        }
    }
}

/// Makes a label safe as one MQTT topic level (no `/`, `+`, `#`, no empty level).
pub fn topic_level(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| match c {
            '/' | '+' | '#' | '\0' => '_',
            c => c,
        })
        .collect();
    if s.is_empty() { "_".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        for t in [
            Topic::HotwordDetected("computer".into()),
            Topic::HotwordToggleOn,
            Topic::HotwordToggleOff,
            Topic::Intent("HassTurnOn".into()),
            Topic::IntentNotRecognized,
            Topic::NluQuery,
            Topic::AsrTextCaptured,
        ] {
            assert_eq!(Topic::parse(&t.as_string()), Some(t.clone()), "{t:?}");
        }
        assert_eq!(
            Topic::Intent("HassTurnOn".into()).as_string(),
            "hermes/intent/HassTurnOn"
        );
        assert_eq!(Topic::parse("hermes/intent/"), None);
        assert_eq!(Topic::parse("hermes/intent/a/b"), None);
        assert_eq!(Topic::parse("hark/default/status"), None);
    }

    #[test]
    fn labels_become_single_levels() {
        assert_eq!(topic_level("a/b+c#"), "a_b_c_");
        assert_eq!(topic_level(""), "_");
        assert_eq!(topic_level("computer"), "computer");
    }
}
