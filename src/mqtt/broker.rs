//! The embedded broker: rumqttd in-process (MQTT 3.1.1, plain TCP), for `broker = "embedded"`,
//! so a first run needs nothing else. Other MQTT clients on the machine (Home Assistant,
//! `mosquitto_sub`) connect to it like to any broker. Built with the `embedded-broker` feature
//! (on by default).

use std::collections::HashMap;
use std::net::SocketAddr;

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// The embedded broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The listen address is not an address.
    #[error("embedded broker: {0:?} is not an address such as 127.0.0.1:1883")]
    Address(String),
    /// Something else listens there.
    #[error(
        "embedded broker: cannot listen on {addr}: {source} (another broker? set [mqtt] broker = \"mqtt://{addr}\" to use it)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The broker thread could not be started.
    #[error("embedded broker: {0}")]
    Thread(std::io::Error),
}

/// Starts the broker on its own threads; it runs until the process exits.
pub fn start(listen: &str) -> Result<SocketAddr, BrokerError> {
    let addr: SocketAddr = listen
        .trim()
        .parse()
        .map_err(|_| BrokerError::Address(listen.to_string()))?;
    // rumqttd reports a taken port only in its log; find out first.
    drop(std::net::TcpListener::bind(addr).map_err(|source| BrokerError::Bind { addr, source })?);
    let server = ServerSettings {
        name: "hark".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: 60_000,
            max_payload_size: 1 << 20,
            max_inflight_count: 200,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 1_000,
            max_outgoing_packet_count: 200,
            max_segment_size: 16 << 20,
            max_segment_count: 4,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(HashMap::from([("hark".to_string(), server)])),
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("mqtt-broker".into())
        .spawn(move || {
            let mut broker = Broker::new(config);
            if let Err(e) = broker.start() {
                tracing::error!("embedded broker stopped: {e}");
            }
        })
        .map_err(BrokerError::Thread)?;
    tracing::info!(%addr, "embedded MQTT broker listening");
    Ok(addr)
}
