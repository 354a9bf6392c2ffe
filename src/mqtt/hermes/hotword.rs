//! `hermes/hotword/…`: wake word detections and muting.

use serde::{Deserialize, Serialize};

/// `hermes/hotword/<wakewordId>/detected`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HotwordDetected {
    /// The room / device.
    pub site_id: String,
    /// The wake word model (hark: the keyword label).
    pub model_id: String,
    /// Model version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    /// `universal` or `personal`.
    #[serde(default = "universal")]
    pub model_type: String,
    /// Detection threshold in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_sensitivity: Option<f32>,
    /// Session, when one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Whether the ASR should send the captured audio (hark never does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_audio_captured: Option<bool>,
    /// Language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// hark: the detection score (not in the reference; ignored by others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
}

fn universal() -> String {
    "universal".into()
}

/// `hermes/hotword/toggleOn` and `hermes/hotword/toggleOff`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HotwordToggle {
    /// The site to (un)mute; absent or `default` in some senders.
    #[serde(default)]
    pub site_id: String,
    /// Why (e.g. `dialogueSession`, `ttsSay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn detected_round_trips_with_reference_names() {
        let m = HotwordDetected {
            site_id: "kitchen".into(),
            model_id: "computer".into(),
            model_version: None,
            model_type: "universal".into(),
            current_sensitivity: Some(0.5),
            session_id: None,
            send_audio_captured: None,
            lang: None,
            score: Some(0.75),
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            json!({"siteId":"kitchen","modelId":"computer","modelType":"universal",
                   "currentSensitivity":0.5,"score":0.75})
        );
        let back: HotwordDetected = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn toggle_reads_rhasspy_messages() {
        let t: HotwordToggle =
            serde_json::from_str(r#"{"siteId":"default","reason":"dialogueSession"}"#).unwrap();
        assert_eq!(t.site_id, "default");
        assert_eq!(t.reason.as_deref(), Some("dialogueSession"));
        let t: HotwordToggle = serde_json::from_str("{}").unwrap();
        assert_eq!(t.site_id, "");
        assert!(serde_json::from_str::<HotwordToggle>(r#"{"siteId":3}"#).is_err());
    }
}
