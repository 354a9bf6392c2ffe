//! `hermes/asr/textCaptured`: text another speech recogniser heard.

use serde::{Deserialize, Serialize};

/// `hermes/asr/textCaptured`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AsrTextCaptured {
    /// The transcript.
    pub text: String,
    /// Recogniser confidence.
    #[serde(default)]
    pub likelihood: f32,
    /// Seconds of audio.
    #[serde(default)]
    pub seconds: f32,
    /// The room / device.
    #[serde(default = "super::nlu::default_site")]
    pub site_id: String,
    /// Session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Wake word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wakeword_id: Option<String>,
    /// Language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rhasspy_text_captured() {
        let m: AsrTextCaptured = serde_json::from_str(
            r#"{"text":"what time is it","likelihood":0.9,"seconds":1.5,"siteId":"default",
                "sessionId":"s1","wakewordId":null,"asrTokens":null,"lang":null}"#,
        )
        .unwrap();
        assert_eq!(m.text, "what time is it");
        assert!((m.seconds - 1.5).abs() < 1e-6);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(serde_json::from_value::<AsrTextCaptured>(v).unwrap(), m);
        assert!(serde_json::from_str::<AsrTextCaptured>(r#"{"text":5}"#).is_err());
    }
}
