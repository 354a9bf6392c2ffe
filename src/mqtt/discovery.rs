//! Home Assistant MQTT discovery: one device per site with `event` entities for the wake word,
//! the intent and the sentiment, and an enum `sensor` holding the last sentiment.
//!
//! Configs are retained under `<prefix>/<component>/hark_<siteId>/<object>/config`; every entity's
//! availability follows `hark/<siteId>/status`. Event types come from the loaded models' labels.
//! With discovery disabled, empty retained payloads remove the entities.

use serde_json::{Value, json};

use super::{Message, OFFLINE, ONLINE, SiteTopics};

/// Labels of the loaded models, which become the entities' event types.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    /// Wake words.
    pub wake_words: Vec<String>,
    /// Intents (including the out-of-grammar label, if any).
    pub intents: Vec<String>,
    /// Sentiment classes.
    pub sentiments: Vec<String>,
}

/// One entity: component, object id, config.
fn entities(topics: &SiteTopics, labels: &Labels) -> Vec<(&'static str, &'static str, Value)> {
    let site = &topics.site_id;
    let node = node_id(site);
    let device = json!({
        "identifiers": [node],
        "name": format!("hark {site}"),
        "manufacturer": "hark",
        "model": "hark voice assistant",
        "sw_version": env!("CARGO_PKG_VERSION"),
    });
    let common = |object: &str, name: &str| {
        json!({
            "name": name,
            "unique_id": format!("{node}_{object}"),
            "availability_topic": topics.status(),
            "payload_available": ONLINE,
            "payload_not_available": OFFLINE,
            "device": device,
            "qos": 1,
        })
    };
    let mut out = Vec::new();
    let mut add = |component, object, name, topic: String, extra: Value| {
        let mut config = common(object, name);
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.insert("state_topic".into(), Value::String(topic));
            for (k, v) in e {
                c.insert(k.clone(), v.clone());
            }
        }
        out.push((component, object, config));
    };
    if !labels.wake_words.is_empty() {
        add(
            "event",
            "wake",
            "Wake word",
            topics.wake(),
            json!({"event_types": labels.wake_words, "icon": "mdi:microphone-message"}),
        );
    }
    if !labels.intents.is_empty() {
        add(
            "event",
            "intent",
            "Intent",
            topics.intent(),
            json!({"event_types": labels.intents, "icon": "mdi:comment-check"}),
        );
    }
    if !labels.sentiments.is_empty() {
        add(
            "event",
            "sentiment",
            "Sentiment",
            topics.sentiment(),
            json!({"event_types": labels.sentiments, "icon": "mdi:emoticon-outline"}),
        );
        add(
            "sensor",
            "last_sentiment",
            "Last sentiment",
            topics.sentiment(),
            json!({"device_class": "enum", "options": labels.sentiments,
                   "value_template": "{{ value_json.event_type }}",
                   "icon": "mdi:emoticon-outline"}),
        );
    }
    out
}

/// The device's node id: `hark_<siteId>` with characters Home Assistant does not allow replaced.
pub fn node_id(site_id: &str) -> String {
    let clean: String = site_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("hark_{clean}")
}

fn config_topic(prefix: &str, component: &str, site: &str, object: &str) -> String {
    format!(
        "{}/{component}/{}/{object}/config",
        prefix.trim_end_matches('/'),
        node_id(site)
    )
}

/// Retained discovery configs announcing the site's entities.
pub fn announce(prefix: &str, topics: &SiteTopics, labels: &Labels) -> Vec<Message> {
    entities(topics, labels)
        .into_iter()
        .map(|(component, object, config)| {
            Message::retained(
                config_topic(prefix, component, &topics.site_id, object),
                config.to_string(),
            )
        })
        .collect()
}

/// Empty retained configs that remove every entity hark may have announced for the site.
pub fn remove(prefix: &str, site_id: &str) -> Vec<Message> {
    [
        ("event", "wake"),
        ("event", "intent"),
        ("event", "sentiment"),
        ("sensor", "last_sentiment"),
    ]
    .into_iter()
    .map(|(component, object)| {
        Message::retained(config_topic(prefix, component, site_id, object), "")
    })
    .collect()
}

/// Home Assistant's birth topic: `<prefix>/status`; `online` there asks for a re-announcement.
pub fn birth_topic(prefix: &str) -> String {
    format!("{}/status", prefix.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Labels {
        Labels {
            wake_words: vec!["computer".into(), "jarvis".into()],
            intents: vec!["HassTurnOn".into(), "HassTurnOff".into()],
            sentiments: vec!["negative".into(), "neutral".into(), "positive".into()],
        }
    }

    #[test]
    fn announces_one_device_with_event_entities() {
        let topics = SiteTopics::new("living room");
        let msgs = announce("homeassistant", &topics, &labels());
        let names: Vec<&str> = msgs.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(
            names,
            [
                "homeassistant/event/hark_living_room/wake/config",
                "homeassistant/event/hark_living_room/intent/config",
                "homeassistant/event/hark_living_room/sentiment/config",
                "homeassistant/sensor/hark_living_room/last_sentiment/config",
            ]
        );
        assert!(msgs.iter().all(|m| m.retain && m.qos == 1));
        let wake: Value = serde_json::from_str(&msgs[0].payload).unwrap();
        assert_eq!(wake["state_topic"], "hark/living room/wake");
        assert_eq!(wake["event_types"], json!(["computer", "jarvis"]));
        assert_eq!(wake["availability_topic"], "hark/living room/status");
        assert_eq!(wake["payload_available"], "online");
        assert_eq!(wake["unique_id"], "hark_living_room_wake");
        assert_eq!(wake["device"]["identifiers"], json!(["hark_living_room"]));
        let sensor: Value = serde_json::from_str(&msgs[3].payload).unwrap();
        assert_eq!(sensor["device_class"], "enum");
        assert_eq!(sensor["value_template"], "{{ value_json.event_type }}");
        assert_eq!(
            sensor["options"],
            json!(["negative", "neutral", "positive"])
        );
    }

    #[test]
    fn missing_models_announce_nothing_for_them() {
        let l = Labels {
            wake_words: vec!["computer".into()],
            ..Labels::default()
        };
        assert_eq!(announce("ha", &SiteTopics::new("k"), &l).len(), 1);
    }

    #[test]
    fn removal_empties_every_config() {
        let msgs = remove("homeassistant/", "k");
        assert_eq!(msgs.len(), 4);
        assert!(msgs.iter().all(|m| m.retain && m.payload.is_empty()));
        assert_eq!(msgs[0].topic, "homeassistant/event/hark_k/wake/config");
        assert_eq!(birth_topic("homeassistant"), "homeassistant/status");
    }
}
