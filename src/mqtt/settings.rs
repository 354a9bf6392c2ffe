//! Configuration sections of the daemon: `[mqtt]`, `[site]` and `[homeassistant]`, and the broker
//! address they name.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// `[mqtt]`: the broker and how events reach it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// `"embedded"`, `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`.
    pub broker: String,
    /// Address of the embedded broker.
    pub embedded_listen: String,
    /// Client id; empty: `hark-<site id>`.
    pub client_id: String,
    /// User name; empty: none.
    pub username: String,
    /// Password.
    pub password: String,
    /// mqtts: CA certificate (PEM); empty: the system's roots.
    pub ca_file: String,
    /// mqtts: client certificate (PEM) for mutual TLS.
    pub client_cert: String,
    /// mqtts: the client certificate's key (PEM).
    pub client_key: String,
    /// Keep-alive, seconds.
    pub keep_alive_s: u64,
    /// First reconnection delay, seconds (doubles up to `reconnect_max_s`).
    pub reconnect_min_s: f64,
    /// Longest reconnection delay, seconds.
    pub reconnect_max_s: f64,
    /// Messages kept while the broker is away; when full the oldest is dropped and counted.
    pub outbox_capacity: usize,
    /// File the outbox is saved to (on shutdown and every second while it changes) and read
    /// back at start; empty: memory only.
    pub outbox_file: String,
    /// Events buffered between the audio thread and the MQTT task.
    pub event_channel: usize,
    /// On SIGINT/SIGTERM, seconds spent delivering what is queued before exiting.
    pub shutdown_timeout_s: f64,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            broker: "embedded".into(),
            embedded_listen: "127.0.0.1:1883".into(),
            client_id: String::new(),
            username: String::new(),
            password: String::new(),
            ca_file: String::new(),
            client_cert: String::new(),
            client_key: String::new(),
            keep_alive_s: 30,
            reconnect_min_s: 0.5,
            reconnect_max_s: 30.0,
            outbox_capacity: 10_000,
            outbox_file: String::new(),
            event_channel: 1_024,
            shutdown_timeout_s: 5.0,
        }
    }
}

/// `[site]`: which room this hark serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// The Hermes `siteId`, also in hark's topics (`hark/<id>/…`).
    pub id: String,
}

impl Default for SiteConfig {
    fn default() -> Self {
        Self {
            id: "default".into(),
        }
    }
}

/// `[homeassistant]`: MQTT discovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HomeAssistantConfig {
    /// Announce hark's entities; `false` removes them.
    pub discovery: bool,
    /// Home Assistant's discovery prefix.
    pub prefix: String,
}

impl Default for HomeAssistantConfig {
    fn default() -> Self {
        Self {
            discovery: true,
            prefix: "homeassistant".into(),
        }
    }
}

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerAddr {
    /// The in-process broker.
    Embedded,
    /// A broker over TCP or TLS.
    Remote {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
        /// `mqtts://`.
        tls: bool,
    },
}

/// A broker setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("broker {url:?}: {message} (use \"embedded\", mqtt://HOST[:PORT] or mqtts://HOST[:PORT])")]
pub struct BrokerUrlError {
    /// The setting.
    pub url: String,
    /// What is wrong.
    pub message: String,
}

impl BrokerAddr {
    /// Parses `embedded`, `mqtt://host[:port]` (1883) or `mqtts://host[:port]` (8883).
    pub fn parse(url: &str) -> Result<Self, BrokerUrlError> {
        let err = |message: &str| BrokerUrlError {
            url: url.to_string(),
            message: message.to_string(),
        };
        let url_t = url.trim();
        if url_t == "embedded" {
            return Ok(BrokerAddr::Embedded);
        }
        let (rest, tls) = if let Some(r) = url_t.strip_prefix("mqtt://") {
            (r, false)
        } else if let Some(r) = url_t.strip_prefix("mqtts://") {
            (r, true)
        } else {
            return Err(err("unknown scheme"));
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') || rest.contains('@') {
            return Err(err("give only host and port (credentials go in [mqtt])"));
        }
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = if let Some(h) = rest.strip_prefix('[') {
            // [v6]:port
            let (h, p) = h.split_once(']').ok_or_else(|| err("unclosed `[`"))?;
            let port = match p.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| err("bad port"))?,
                None if p.is_empty() => default_port,
                None => return Err(err("bad port")),
            };
            (h.to_string(), port)
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| err("bad port"))?),
                None => (rest.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(err("no host"));
        }
        if port == 0 {
            return Err(err("port 0"));
        }
        Ok(BrokerAddr::Remote { host, port, tls })
    }
}

impl crate::config::Config {
    /// Checks `[mqtt]`, `[site]`, `[homeassistant]` and `[[actions]]` (templates compiled).
    pub(crate) fn validate_daemon(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key, message: String| {
            Err(ConfigError::Invalid {
                origin: origin.to_string(),
                key,
                message,
            })
        };
        let m = &self.mqtt;
        if let Err(e) = BrokerAddr::parse(&m.broker) {
            return invalid("mqtt.broker", e.to_string());
        }
        if m.broker.trim() == "embedded" && m.embedded_listen.parse::<SocketAddr>().is_err() {
            return invalid(
                "mqtt.embedded_listen",
                format!(
                    "{:?} is not an address such as 127.0.0.1:1883",
                    m.embedded_listen
                ),
            );
        }
        if !(5..=65_535).contains(&m.keep_alive_s) {
            return invalid(
                "mqtt.keep_alive_s",
                format!(
                    "must be between 5 and 65535 seconds, got {}",
                    m.keep_alive_s
                ),
            );
        }
        for (key, v) in [
            ("mqtt.reconnect_min_s", m.reconnect_min_s),
            ("mqtt.reconnect_max_s", m.reconnect_max_s),
            ("mqtt.shutdown_timeout_s", m.shutdown_timeout_s),
        ] {
            if !(v.is_finite() && (0.01..=3600.0).contains(&v)) {
                return invalid(
                    key,
                    format!("must be between 0.01 and 3600 seconds, got {v}"),
                );
            }
        }
        if m.reconnect_min_s > m.reconnect_max_s {
            return invalid(
                "mqtt.reconnect_min_s",
                "must not exceed mqtt.reconnect_max_s".into(),
            );
        }
        for (key, v) in [
            ("mqtt.outbox_capacity", m.outbox_capacity),
            ("mqtt.event_channel", m.event_channel),
        ] {
            if !(1..=10_000_000).contains(&v) {
                return invalid(key, format!("must be between 1 and 10000000, got {v}"));
            }
        }
        let site = &self.site.id;
        if site.trim().is_empty() || site.contains(['/', '+', '#']) {
            return invalid(
                "site.id",
                format!("{site:?} must be non-empty, without `/`, `+` or `#`"),
            );
        }
        let prefix = &self.homeassistant.prefix;
        if prefix.trim().is_empty() || prefix.contains(['+', '#']) {
            return invalid(
                "homeassistant.prefix",
                format!("{prefix:?} must be a topic without `+` or `#`"),
            );
        }
        if let Err(e) = crate::actions::Actions::new(&self.actions) {
            return invalid("actions", e.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(BrokerAddr::parse("embedded").unwrap(), BrokerAddr::Embedded);
        assert_eq!(
            BrokerAddr::parse("mqtt://pi.local").unwrap(),
            BrokerAddr::Remote {
                host: "pi.local".into(),
                port: 1883,
                tls: false
            }
        );
        assert_eq!(
            BrokerAddr::parse("mqtts://10.0.0.2:8884/").unwrap(),
            BrokerAddr::Remote {
                host: "10.0.0.2".into(),
                port: 8884,
                tls: true
            }
        );
        assert_eq!(
            BrokerAddr::parse("mqtt://[::1]:1884").unwrap(),
            BrokerAddr::Remote {
                host: "::1".into(),
                port: 1884,
                tls: false
            }
        );
        for bad in [
            "http://x",
            "mqtt://",
            "mqtt://h:x",
            "mqtt://h:0",
            "mqtt://u:p@h",
            "x",
        ] {
            let e = BrokerAddr::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn daemon_sections_are_checked() {
        use crate::config::Config;
        use std::path::Path;
        let bad = |text: &str, key: &str| {
            let e = Config::from_toml(text, Path::new("h.toml"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains("h.toml"), "{e}");
        };
        bad("[mqtt]\nbroker = \"http://x\"\n", "mqtt.broker");
        bad("[mqtt]\nkeep_alive_s = 1\n", "mqtt.keep_alive_s");
        bad(
            "[mqtt]\nreconnect_min_s = 9\nreconnect_max_s = 1\n",
            "reconnect_min_s",
        );
        bad("[mqtt]\noutbox_capacity = 0\n", "mqtt.outbox_capacity");
        bad("[site]\nid = \"a/b\"\n", "site.id");
        bad(
            "[[actions]]\nintent = \"X\"\ntopic = \"{{ nope }}\"\n",
            "unknown variable",
        );
        let c = Config::from_toml(
            "[site]\nid = \"kitchen\"\n[mqtt]\nbroker = \"mqtt://pi:1884\"\n\n[[actions]]\nintent = \"HassTurnOn\"\nslots = { area = \"kitchen\" }\ntopic = \"home/kitchen/light/set\"\npayload = \"ON\"\n",
            Path::new("h.toml"),
        )
        .unwrap();
        assert_eq!(c.site.id, "kitchen");
        assert_eq!(c.actions.len(), 1);
    }
}
