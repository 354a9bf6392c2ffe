//! What each pipeline event becomes on the wire: Hermes messages, hark's own topics (which Home
//! Assistant's event entities read) and the user's actions.
//!
//! | event | messages |
//! |---|---|
//! | wake word | `hermes/hotword/<keyword>/detected`, `hark/<siteId>/wake` |
//! | other keyword | `hark/<siteId>/keyword` |
//! | understood intent | `hermes/intent/<Intent>`, `hark/<siteId>/intent`, matching actions |
//! | intent below threshold | `hermes/nlu/intentNotRecognized` |
//! | sentiment | `hark/<siteId>/sentiment` |
//! | no command after the wake word | `hark/<siteId>/timeout` |

use serde_json::{Value, json};

use super::hermes::{
    HotwordDetected, Intent, NluIntent, NluIntentNotRecognized, NluQuery, Topic, topic_level,
};
use super::{Message, SiteTopics};
use crate::actions::Actions;
use crate::models::utterance::IntentResult;
use crate::pipeline::Event;

fn round(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// Turns events into messages for one site.
#[derive(Debug)]
pub struct Publisher {
    topics: SiteTopics,
    actions: Actions,
}

impl Publisher {
    /// A publisher for `topics`' site with these actions.
    pub fn new(topics: SiteTopics, actions: Actions) -> Self {
        Self { topics, actions }
    }

    /// The site's topics.
    pub fn topics(&self) -> &SiteTopics {
        &self.topics
    }

    /// The messages of one pipeline event, in publishing order.
    pub fn messages(&self, event: &Event) -> Vec<Message> {
        let site = &self.topics.site_id;
        match event {
            Event::Wake(d) => {
                let hermes = HotwordDetected {
                    site_id: site.clone(),
                    model_id: d.keyword.clone(),
                    model_version: None,
                    model_type: "universal".into(),
                    current_sensitivity: None,
                    session_id: None,
                    send_audio_captured: None,
                    lang: None,
                    score: Some(round(f64::from(d.score)) as f32),
                };
                vec![
                    Message::event(
                        Topic::HotwordDetected(topic_level(&d.keyword)).as_string(),
                        to_json(&hermes),
                    ),
                    Message::event(self.topics.wake(), {
                        let mut v = json!({"event_type": d.keyword,
                                           "score": round(f64::from(d.score)),
                                           "start": round(d.start), "end": round(d.end)});
                        if let Some(x) = d.verification {
                            v["verification"] = json!(round(x));
                        }
                        v.to_string()
                    }),
                ]
            }
            Event::Keyword(d) => vec![Message::event(
                format!("hark/{}/keyword", topic_level(site)),
                json!({"event_type": d.keyword, "score": round(f64::from(d.score)),
                       "start": round(d.start), "end": round(d.end)})
                .to_string(),
            )],
            Event::Intent { result, start, end } => {
                let mut out = self.intent_messages(result, "", None);
                if result.understood
                    && let Some(m) = out.iter_mut().find(|m| m.topic == self.topics.intent())
                    && let Ok(mut v) = serde_json::from_str::<Value>(&m.payload)
                {
                    v["start"] = json!(round(*start));
                    v["end"] = json!(round(*end));
                    m.payload = v.to_string();
                }
                out
            }
            Event::Sentiment { result, start, end } => {
                let scores: serde_json::Map<String, Value> = result
                    .scores
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(round(f64::from(*v)))))
                    .collect();
                vec![Message::event(
                    self.topics.sentiment(),
                    json!({"event_type": result.label, "scores": scores,
                           "start": round(*start), "end": round(*end)})
                    .to_string(),
                )]
            }
            Event::Timeout { start, end } => vec![Message::event(
                format!("hark/{}/timeout", topic_level(site)),
                json!({"start": round(*start), "end": round(*end)}).to_string(),
            )],
        }
    }

    /// The messages of an intent, spoken (`input` empty, no query) or from a text query (whose
    /// `id`, `sessionId`, `customData` and `siteId` are echoed as Hermes NLU does).
    pub fn intent_messages(
        &self,
        result: &IntentResult,
        input: &str,
        query: Option<&NluQuery>,
    ) -> Vec<Message> {
        let site = query.map_or(self.topics.site_id.as_str(), |q| q.site_id.as_str());
        let allowed = query
            .and_then(|q| q.intent_filter.as_ref())
            .is_none_or(|f| f.is_empty() || f.contains(&result.intent));
        if !(result.understood && allowed) {
            let m = NluIntentNotRecognized {
                input: input.to_string(),
                site_id: site.to_string(),
                id: query.and_then(|q| q.id.clone()),
                session_id: query.and_then(|q| q.session_id.clone()),
                custom_data: query.and_then(|q| q.custom_data.clone()),
                intent: Some(Intent {
                    intent_name: result.intent.clone(),
                    confidence_score: round(f64::from(result.confidence)) as f32,
                }),
            };
            return vec![Message::event(
                Topic::IntentNotRecognized.as_string(),
                to_json(&m),
            )];
        }
        let mut hermes = NluIntent::from_result(result, site, input);
        hermes.intent.confidence_score = round(f64::from(result.confidence)) as f32;
        for s in &mut hermes.slots {
            s.confidence = round(f64::from(s.confidence)) as f32;
        }
        if let Some(q) = query {
            hermes.id = q.id.clone();
            hermes.session_id = q.session_id.clone();
            hermes.custom_data = q.custom_data.clone();
            hermes.wakeword_id = q.wakeword_id.clone();
            hermes.lang = q.lang.clone();
        }
        let slots: serde_json::Map<String, Value> = result
            .slots
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.value.clone())))
            .collect();
        let mut out = vec![
            Message::event(
                Topic::Intent(topic_level(&result.intent)).as_string(),
                to_json(&hermes),
            ),
            Message::event(
                self.topics.intent(),
                json!({"event_type": result.intent, "slots": slots,
                       "confidence": round(f64::from(result.confidence))})
                .to_string(),
            ),
        ];
        out.extend(self.actions.messages(result, site));
        out
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising these plain structs cannot fail; an empty object is the harmless fallback.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::ActionConfig;
    use crate::models::keyword::Detection;
    use crate::models::utterance::{SentimentResult, SlotValue};
    use std::collections::BTreeMap;

    fn publisher() -> Publisher {
        let actions = Actions::new(&[ActionConfig {
            intent: "HassTurnOn".into(),
            slots: BTreeMap::from([("area".to_string(), "kitchen".to_string())]),
            topic: "home/{{ slots.area }}/light/set".into(),
            payload: "ON".into(),
            retain: false,
            qos: 1,
        }])
        .unwrap();
        Publisher::new(SiteTopics::new("kitchen"), actions)
    }

    fn intent(understood: bool) -> IntentResult {
        IntentResult {
            intent: "HassTurnOn".into(),
            confidence: 0.91234,
            understood,
            slots: BTreeMap::from([(
                "area".to_string(),
                SlotValue {
                    value: "kitchen".into(),
                    raw_value: "kitchen".into(),
                    confidence: 0.5,
                },
            )]),
        }
    }

    #[test]
    fn wake_word_messages() {
        let m = publisher().messages(&Event::Wake(Detection {
            keyword: "computer".into(),
            wake: true,
            score: 0.75,
            verification: None,
            start: 1.2,
            end: 1.71,
        }));
        assert_eq!(m[0].topic, "hermes/hotword/computer/detected");
        let v: Value = serde_json::from_str(&m[0].payload).unwrap();
        assert_eq!(v["siteId"], "kitchen");
        assert_eq!(v["modelId"], "computer");
        assert_eq!(m[1].topic, "hark/kitchen/wake");
        let v: Value = serde_json::from_str(&m[1].payload).unwrap();
        assert_eq!(v["event_type"], "computer");
        assert!((v["end"].as_f64().unwrap() - 1.71).abs() < 1e-9);
        assert!(v.get("verification").is_none());
        let m = publisher().messages(&Event::Wake(Detection {
            keyword: "computer".into(),
            wake: true,
            score: 0.75,
            verification: Some(-1.25),
            start: 1.2,
            end: 1.71,
        }));
        let v: Value = serde_json::from_str(&m[1].payload).unwrap();
        assert!((v["verification"].as_f64().unwrap() + 1.25).abs() < 1e-9);
    }

    #[test]
    fn understood_intent_goes_to_hermes_ha_and_actions() {
        let m = publisher().messages(&Event::Intent {
            result: intent(true),
            start: 1.0,
            end: 2.0,
        });
        let topics: Vec<&str> = m.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "hermes/intent/HassTurnOn",
                "hark/kitchen/intent",
                "home/kitchen/light/set"
            ]
        );
        let v: Value = serde_json::from_str(&m[0].payload).unwrap();
        assert_eq!(v["intent"]["intentName"], "HassTurnOn");
        assert!((v["intent"]["confidenceScore"].as_f64().unwrap() - 0.9123).abs() < 1e-4);
        assert_eq!(v["slots"][0]["slotName"], "area");
        assert_eq!(v["slots"][0]["value"]["value"], "kitchen");
        let v: Value = serde_json::from_str(&m[1].payload).unwrap();
        assert_eq!(v["event_type"], "HassTurnOn");
        assert_eq!(v["slots"]["area"], "kitchen");
        assert!((v["start"].as_f64().unwrap() - 1.0).abs() < 1e-9);
        assert_eq!(m[2].payload, "ON");
    }

    #[test]
    fn unsure_intent_is_not_recognized() {
        let m = publisher().messages(&Event::Intent {
            result: intent(false),
            start: 1.0,
            end: 2.0,
        });
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].topic, "hermes/nlu/intentNotRecognized");
        let v: Value = serde_json::from_str(&m[0].payload).unwrap();
        assert_eq!(v["siteId"], "kitchen");
    }

    #[test]
    fn text_queries_echo_their_ids_and_filters() {
        let q: NluQuery = serde_json::from_str(
            r#"{"input":"lights on","siteId":"hall","id":"7","sessionId":"s","intentFilter":["HassTurnOff"]}"#,
        )
        .unwrap();
        let p = publisher();
        let m = p.intent_messages(&intent(true), &q.input, Some(&q));
        assert_eq!(m[0].topic, "hermes/nlu/intentNotRecognized");
        let q2 = NluQuery {
            intent_filter: None,
            ..q
        };
        let m = p.intent_messages(&intent(true), &q2.input, Some(&q2));
        let v: Value = serde_json::from_str(&m[0].payload).unwrap();
        assert_eq!(v["id"], "7");
        assert_eq!(v["sessionId"], "s");
        assert_eq!(v["siteId"], "hall");
        assert_eq!(v["input"], "lights on");
    }

    #[test]
    fn sentiment_message() {
        let m = publisher().messages(&Event::Sentiment {
            result: SentimentResult {
                label: "positive".into(),
                scores: BTreeMap::from([
                    ("negative".to_string(), 0.1),
                    ("positive".to_string(), 0.9),
                ]),
            },
            start: 0.0,
            end: 1.0,
        });
        assert_eq!(m[0].topic, "hark/kitchen/sentiment");
        let v: Value = serde_json::from_str(&m[0].payload).unwrap();
        assert_eq!(v["event_type"], "positive");
        assert!((v["scores"]["positive"].as_f64().unwrap() - 0.9).abs() < 1e-4);
    }
}
