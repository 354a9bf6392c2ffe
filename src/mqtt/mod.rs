//! MQTT: the Hermes ontology, Home Assistant discovery, hark's own topics, the connection with
//! its outbox, and the optional embedded broker.
//!
//! hark's topics for a site `<siteId>`: `hark/<siteId>/status` (retained `online` / `offline`,
//! also the last will), `hark/<siteId>/wake`, `hark/<siteId>/intent` and
//! `hark/<siteId>/sentiment` (JSON with an `event_type`, as Home Assistant's event entities want).

#[cfg(feature = "embedded-broker")]
pub mod broker;
pub mod client;
pub mod discovery;
pub mod hermes;
pub mod outbox;
pub mod publish;
pub mod settings;

use serde::{Deserialize, Serialize};

pub use settings::{BrokerAddr, HomeAssistantConfig, MqttConfig, SiteConfig};

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// Payload (UTF-8 text or JSON for everything hark sends).
    pub payload: String,
    /// Retained by the broker.
    #[serde(default)]
    pub retain: bool,
    /// QoS 0 or 1.
    #[serde(default = "qos1")]
    pub qos: u8,
}

fn qos1() -> u8 {
    1
}

impl Message {
    /// A QoS 1, non-retained message.
    pub fn event(topic: impl Into<String>, payload: impl Into<String>) -> Self {
        Self {
            topic: topic.into(),
            payload: payload.into(),
            retain: false,
            qos: 1,
        }
    }

    /// A QoS 1, retained message.
    pub fn retained(topic: impl Into<String>, payload: impl Into<String>) -> Self {
        Self {
            retain: true,
            ..Self::event(topic, payload)
        }
    }
}

/// hark's own topics for one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteTopics {
    /// The site id, as given.
    pub site_id: String,
    base: String,
}

impl SiteTopics {
    /// Topics under `hark/<siteId>/`.
    pub fn new(site_id: &str) -> Self {
        Self {
            site_id: site_id.to_string(),
            base: format!("hark/{}", hermes::topic_level(site_id)),
        }
    }

    /// `hark/<siteId>/status`: retained `online` / `offline`.
    pub fn status(&self) -> String {
        format!("{}/status", self.base)
    }

    /// `hark/<siteId>/wake`.
    pub fn wake(&self) -> String {
        format!("{}/wake", self.base)
    }

    /// `hark/<siteId>/intent`.
    pub fn intent(&self) -> String {
        format!("{}/intent", self.base)
    }

    /// `hark/<siteId>/sentiment`.
    pub fn sentiment(&self) -> String {
        format!("{}/sentiment", self.base)
    }
}

/// Payload of the status topic while hark runs.
pub const ONLINE: &str = "online";
/// Payload of the status topic once hark has stopped (also its last will).
pub const OFFLINE: &str = "offline";
