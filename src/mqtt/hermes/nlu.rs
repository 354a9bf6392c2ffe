//! `hermes/nlu/…`: text queries in, "not recognised" out.

use serde::{Deserialize, Serialize};

/// `hermes/nlu/query`: understand this text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NluQuery {
    /// The text.
    pub input: String,
    /// The room / device it concerns.
    #[serde(default = "default_site")]
    pub site_id: String,
    /// Request id, echoed in the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Only these intents may be answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_filter: Option<Vec<String>>,
    /// Session, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Wake word, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wakeword_id: Option<String>,
    /// Language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// Opaque data, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
}

pub(crate) fn default_site() -> String {
    "default".into()
}

/// `hermes/nlu/intentNotRecognized`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NluIntentNotRecognized {
    /// The text (empty for spoken commands).
    #[serde(default)]
    pub input: String,
    /// The room / device.
    pub site_id: String,
    /// Request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Opaque data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    /// The best guess, below the threshold (hark extension as in Rhasspy's `intent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<super::Intent>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn query_round_trips() {
        let q: NluQuery = serde_json::from_value(json!({
            "input": "turn on the light", "siteId": "kitchen", "id": "42",
            "intentFilter": ["HassTurnOn"], "sessionId": "s"
        }))
        .unwrap();
        assert_eq!(q.input, "turn on the light");
        assert_eq!(
            q.intent_filter.as_deref(),
            Some(&["HassTurnOn".to_string()][..])
        );
        let v = serde_json::to_value(&q).unwrap();
        assert_eq!(serde_json::from_value::<NluQuery>(v).unwrap(), q);
        let q: NluQuery = serde_json::from_str(r#"{"input":"x"}"#).unwrap();
        assert_eq!(q.site_id, "default");
        assert!(serde_json::from_str::<NluQuery>(r#"{"siteId":"x"}"#).is_err());
    }

    #[test]
    fn not_recognized_names() {
        let m = NluIntentNotRecognized {
            input: "".into(),
            site_id: "kitchen".into(),
            id: None,
            session_id: None,
            custom_data: None,
            intent: Some(super::super::Intent {
                intent_name: "HassTurnOn".into(),
                confidence_score: 0.25,
            }),
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            json!({"input": "", "siteId": "kitchen",
                   "intent": {"intentName": "HassTurnOn", "confidenceScore": 0.25}})
        );
        assert_eq!(
            serde_json::from_value::<NluIntentNotRecognized>(v).unwrap(),
            m
        );
    }
}
