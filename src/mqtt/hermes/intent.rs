//! `hermes/intent/<intentName>`: a recognised intent with its slots.

use serde::{Deserialize, Serialize};

use crate::models::utterance::IntentResult;

/// The intent itself: `intent.intentName`, `intent.confidenceScore`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// Intent name, e.g. `HassTurnOn`.
    pub intent_name: String,
    /// Confidence in 0–1.
    pub confidence_score: f32,
}

/// A slot's value: `{"kind": "Custom", "value": "kitchen"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotValue {
    /// Value kind (`Custom`, `Number`, …; hark's slots are `Custom`).
    #[serde(default = "custom")]
    pub kind: String,
    /// The value (a string for `Custom`, a number for `Number`, …).
    pub value: serde_json::Value,
}

fn custom() -> String {
    "Custom".into()
}

/// Where a slot was found in the input text (absent for spoken commands).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlotRange {
    /// Start character of the normalised value.
    pub start: usize,
    /// End character.
    pub end: usize,
    /// Start in the raw input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_start: Option<usize>,
    /// End in the raw input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_end: Option<usize>,
}

/// One slot: `slots[].slotName`, `.rawValue`, `.value.value`, `.entity`, `.confidence`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Slot {
    /// Slot (entity type) name.
    pub entity: String,
    /// The slot's name in the intent, e.g. `area`.
    pub slot_name: String,
    /// As heard.
    pub raw_value: String,
    /// Normalised value.
    pub value: SlotValue,
    /// Confidence in 0–1.
    #[serde(default = "one")]
    pub confidence: f32,
    /// Position in the input text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<SlotRange>,
}

fn one() -> f32 {
    1.0
}

/// `hermes/intent/<intentName>` (Hermes `NluIntent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NluIntent {
    /// The text understood (empty for spoken commands: hark has no transcript).
    #[serde(default)]
    pub input: String,
    /// The intent.
    pub intent: Intent,
    /// Its slots.
    #[serde(default)]
    pub slots: Vec<Slot>,
    /// Request id (from `hermes/nlu/query`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The room / device.
    pub site_id: String,
    /// Session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Opaque data passed through from the query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    /// The wake word that started the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wakeword_id: Option<String>,
    /// Language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

impl NluIntent {
    /// The message for an understood intent.
    pub fn from_result(result: &IntentResult, site_id: &str, input: &str) -> Self {
        let slots = result
            .slots
            .iter()
            .map(|(name, v)| Slot {
                entity: name.clone(),
                slot_name: name.clone(),
                raw_value: v.raw_value.clone(),
                value: SlotValue {
                    kind: custom(),
                    value: serde_json::Value::String(v.value.clone()),
                },
                confidence: v.confidence,
                range: None,
            })
            .collect();
        Self {
            input: input.to_string(),
            intent: Intent {
                intent_name: result.intent.clone(),
                confidence_score: result.confidence,
            },
            slots,
            id: None,
            site_id: site_id.to_string(),
            session_id: None,
            custom_data: None,
            wakeword_id: None,
            lang: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::utterance::SlotValue as HeardSlot;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn result() -> IntentResult {
        let mut slots = BTreeMap::new();
        slots.insert(
            "area".to_string(),
            HeardSlot {
                value: "kitchen".into(),
                raw_value: "the kitchen".into(),
                confidence: 0.875,
            },
        );
        IntentResult {
            intent: "HassTurnOn".into(),
            confidence: 0.5,
            understood: true,
            slots,
        }
    }

    #[test]
    fn intent_uses_reference_field_names() {
        let m = NluIntent::from_result(&result(), "kitchen", "");
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            json!({
                "input": "",
                "intent": {"intentName": "HassTurnOn", "confidenceScore": 0.5},
                "slots": [{"entity": "area", "slotName": "area", "rawValue": "the kitchen",
                           "value": {"kind": "Custom", "value": "kitchen"},
                           "confidence": 0.875}],
                "siteId": "kitchen"
            })
        );
        let back: NluIntent = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn reads_a_rhasspy_intent() {
        let text = r#"{"input":"turn on the kitchen light","intent":{"intentName":"HassTurnOn",
            "confidenceScore":1.0},"siteId":"default","id":null,"slots":[{"entity":"area",
            "value":{"kind":"Unknown","value":"kitchen"},"slotName":"area","rawValue":"kitchen",
            "confidence":1.0,"range":{"start":12,"end":19,"rawStart":12,"rawEnd":19}}],
            "sessionId":"abc","customData":null,"asrTokens":[],"asrConfidence":null,
            "rawInput":"turn on the kitchen light","wakewordId":null,"lang":null}"#;
        let m: NluIntent = serde_json::from_str(text).unwrap();
        assert_eq!(m.intent.intent_name, "HassTurnOn");
        assert!((m.intent.confidence_score - 1.0).abs() < 1e-6);
        assert_eq!(m.slots[0].value.value, json!("kitchen"));
        assert_eq!(m.slots[0].range.as_ref().map(|r| r.end), Some(19));
        assert_eq!(m.session_id.as_deref(), Some("abc"));
    }
}
