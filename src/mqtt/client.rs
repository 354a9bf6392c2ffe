//! The broker connection (rumqttc) and the outbox behind it.
//!
//! [`Link`] owns one connection at a time and the [`Outbox`]. Each connection is a fresh
//! rumqttc event loop with a clean session, polled on its own task; when it fails, the link waits
//! (backoff doubling from `reconnect_min_s` to `reconnect_max_s`) and starts a new one, and every
//! message not yet acknowledged is sent again, in order. QoS 1 messages leave the outbox only
//! when the broker's PUBACK arrives. The last will is a retained `offline` on the status topic.

use std::collections::VecDeque;
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, LastWill, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::outbox::{Outbox, OutboxStats};
use super::settings::MqttConfig;
use super::{Message, OFFLINE};

/// Messages sent on one connection before waiting for acknowledgements.
const WINDOW: usize = 32;
/// Largest inbound packet accepted by the client (bigger ones end the connection).
const MAX_PACKET: usize = 1 << 20;

/// Errors setting up the connection.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A TLS file could not be read.
    #[error("[mqtt] {key} = {path:?}: {source}")]
    TlsFile {
        /// The setting.
        key: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A setting is inconsistent.
    #[error("[mqtt] {0}")]
    Invalid(String),
}

/// rumqttc options for a remote broker (or the embedded one at `host:port`).
pub fn mqtt_options(
    cfg: &MqttConfig,
    host: &str,
    port: u16,
    tls: bool,
    client_id: &str,
    will_topic: &str,
) -> Result<MqttOptions, ClientError> {
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(cfg.keep_alive_s.max(5)))
        .set_clean_session(true)
        .set_max_packet_size(MAX_PACKET, MAX_PACKET)
        .set_inflight(WINDOW as u16 * 2)
        .set_last_will(LastWill::new(will_topic, OFFLINE, QoS::AtLeastOnce, true));
    if !cfg.username.is_empty() {
        o.set_credentials(cfg.username.clone(), cfg.password.clone());
    } else if !cfg.password.is_empty() {
        return Err(ClientError::Invalid(
            "`password` is set without `username`".into(),
        ));
    }
    let read = |key, path: &str| {
        std::fs::read(path).map_err(|source| ClientError::TlsFile {
            key,
            path: path.to_string(),
            source,
        })
    };
    let client_auth = match (cfg.client_cert.as_str(), cfg.client_key.as_str()) {
        ("", "") => None,
        (c, k) if !c.is_empty() && !k.is_empty() => {
            Some((read("client_cert", c)?, read("client_key", k)?))
        }
        _ => {
            return Err(ClientError::Invalid(
                "`client_cert` and `client_key` go together".into(),
            ));
        }
    };
    if tls {
        install_crypto_provider();
        if cfg.ca_file.is_empty() && client_auth.is_none() {
            o.set_transport(Transport::tls_with_default_config());
        } else if cfg.ca_file.is_empty() {
            return Err(ClientError::Invalid(
                "a client certificate needs `ca_file` too".into(),
            ));
        } else {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
                ca: read("ca_file", &cfg.ca_file)?,
                alpn: None,
                client_auth,
            }));
        }
    } else if client_auth.is_some() || !cfg.ca_file.is_empty() {
        return Err(ClientError::Invalid(
            "TLS files are set but the broker URL is not mqtts://".into(),
        ));
    }
    Ok(o)
}

fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Where a message in flight came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Outbox(u64),
    Control,
}

#[derive(Debug)]
struct InFlight {
    pkid: Option<u16>,
    origin: Origin,
}

struct Connection {
    client: AsyncClient,
    events: mpsc::Receiver<Result<Event, ConnectionError>>,
    task: tokio::task::JoinHandle<()>,
    connected: bool,
    inflight: VecDeque<InFlight>,
}

/// What happened on the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A connection is up (subscriptions requested, connect messages queued).
    Connected,
    /// The connection failed or ended; the link retries after a delay.
    Disconnected(String),
    /// A message arrived on a subscribed topic.
    Inbound {
        /// Topic.
        topic: String,
        /// Payload bytes.
        payload: Vec<u8>,
    },
    /// Nothing the caller needs to act on.
    Idle,
}

/// The connection with its outbox.
pub struct Link {
    options: MqttOptions,
    subscriptions: Vec<String>,
    outbox: Outbox,
    control: VecDeque<Message>,
    connect_messages: Vec<Message>,
    conn: Option<Connection>,
    reconnect_at: Instant,
    backoff: Duration,
    min_backoff: Duration,
    max_backoff: Duration,
    control_acked: u64,
    failures: u64,
}

impl Link {
    /// A link that connects with `options`, subscribes to `subscriptions` on every connection
    /// and delivers `outbox`.
    pub fn new(
        options: MqttOptions,
        subscriptions: Vec<String>,
        outbox: Outbox,
        cfg: &MqttConfig,
    ) -> Self {
        let min_backoff = Duration::from_secs_f64(cfg.reconnect_min_s.clamp(0.01, 3600.0));
        Self {
            options,
            subscriptions,
            outbox,
            control: VecDeque::new(),
            connect_messages: Vec::new(),
            conn: None,
            reconnect_at: Instant::now(),
            backoff: min_backoff,
            min_backoff,
            max_backoff: Duration::from_secs_f64(cfg.reconnect_max_s.clamp(0.01, 3600.0))
                .max(min_backoff),
            control_acked: 0,
            failures: 0,
        }
    }

    /// Queues an event message (kept until acknowledged).
    pub fn enqueue(&mut self, msg: Message) {
        if let Some(dropped) = self.outbox.push(msg) {
            tracing::warn!(
                topic = %dropped.topic,
                dropped = self.outbox.stats().dropped,
                "outbox full: dropped the oldest message"
            );
        }
        self.pump();
    }

    /// Messages sent first on every new connection (status, discovery), before the outbox.
    pub fn set_connect_messages(&mut self, msgs: Vec<Message>) {
        self.connect_messages = msgs;
    }

    /// Queues a message for the current connection only (e.g. a re-announcement): sent before
    /// the outbox, not kept across connections.
    pub fn send_control(&mut self, msg: Message) {
        if self.is_connected() {
            self.control.push_back(msg);
            self.pump();
        }
    }

    /// True while connected.
    pub fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(|c| c.connected)
    }

    /// True when every queued message (events and per-connection ones) is acknowledged.
    pub fn is_drained(&self) -> bool {
        self.outbox.is_empty()
            && self.control.is_empty()
            && self.conn.as_ref().is_none_or(|c| c.inflight.is_empty())
    }

    /// Outbox counters.
    pub fn stats(&self) -> OutboxStats {
        self.outbox.stats()
    }

    /// Per-connection messages acknowledged (status, discovery), since start.
    pub fn control_acked(&self) -> u64 {
        self.control_acked
    }

    /// The outbox (to save it).
    pub fn outbox_mut(&mut self) -> &mut Outbox {
        &mut self.outbox
    }

    /// Waits for the next thing that happens on the link. Cancel-safe.
    pub async fn next(&mut self) -> Notice {
        let Some(conn) = self.conn.as_mut() else {
            tokio::time::sleep_until(self.reconnect_at).await;
            self.start();
            return Notice::Idle;
        };
        let received = conn.events.recv().await;
        match received {
            Some(Ok(event)) => self.on_event(event),
            Some(Err(e)) => self.fail(e.to_string()),
            None => self.fail("connection task ended".into()),
        }
    }

    fn start(&mut self) {
        let (client, mut eventloop) = rumqttc::AsyncClient::new(self.options.clone(), WINDOW * 2);
        let (tx, rx) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let r = eventloop.poll().await;
                let failed = r.is_err();
                if tx.send(r).await.is_err() || failed {
                    break;
                }
            }
        });
        let (host, port) = self.options.broker_address();
        tracing::debug!(%host, port, "connecting to the MQTT broker");
        self.conn = Some(Connection {
            client,
            events: rx,
            task,
            connected: false,
            inflight: VecDeque::new(),
        });
    }

    fn fail(&mut self, why: String) -> Notice {
        let was_connected = self.is_connected();
        if let Some(c) = self.conn.take() {
            c.task.abort();
        }
        self.control.clear();
        self.outbox.reset_sent();
        if was_connected {
            self.backoff = self.min_backoff;
        }
        self.reconnect_at = Instant::now() + self.backoff;
        let (host, port) = self.options.broker_address();
        if was_connected {
            self.failures = 0;
            tracing::warn!(%host, port, waiting = self.outbox.len(), "MQTT connection lost: {why}");
        } else {
            // The first failure and every tenth after it are warnings (wrong address,
            // credentials refused); the rest are debug.
            self.failures += 1;
            let retry_s = self.backoff.as_secs_f64();
            if self.failures == 1 || self.failures.is_multiple_of(10) {
                tracing::warn!(%host, port, retry_s, failures = self.failures, waiting = self.outbox.len(), "cannot connect to the MQTT broker: {why}");
            } else {
                tracing::debug!(%host, port, retry_s, "MQTT connection failed: {why}");
            }
        }
        self.backoff = (self.backoff * 2).min(self.max_backoff);
        Notice::Disconnected(why)
    }

    fn on_event(&mut self, event: Event) -> Notice {
        let Some(conn) = self.conn.as_mut() else {
            return Notice::Idle;
        };
        match event {
            Event::Incoming(Packet::ConnAck(_)) => {
                conn.connected = true;
                self.backoff = self.min_backoff;
                self.failures = 0;
                for topic in &self.subscriptions {
                    if let Err(e) = conn.client.try_subscribe(topic.clone(), QoS::AtLeastOnce) {
                        tracing::warn!(%topic, "cannot subscribe: {e}");
                    }
                }
                let (host, port) = self.options.broker_address();
                tracing::info!(%host, port, waiting = self.outbox.len(), "connected to the MQTT broker");
                self.control.extend(self.connect_messages.iter().cloned());
                self.pump();
                Notice::Connected
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                if let Some(f) = conn.inflight.iter_mut().find(|f| f.pkid.is_none()) {
                    f.pkid = Some(pkid);
                }
                if pkid == 0 {
                    // QoS 0: done once written.
                    if let Some(i) = conn.inflight.iter().position(|f| f.pkid == Some(0)) {
                        let f = conn.inflight.remove(i);
                        self.done(f.map(|f| f.origin));
                    }
                }
                self.pump();
                Notice::Idle
            }
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(i) = conn.inflight.iter().position(|f| f.pkid == Some(ack.pkid)) {
                    let f = conn.inflight.remove(i);
                    self.done(f.map(|f| f.origin));
                }
                self.pump();
                Notice::Idle
            }
            Event::Incoming(Packet::Publish(p)) => Notice::Inbound {
                topic: p.topic,
                payload: p.payload.to_vec(),
            },
            Event::Incoming(Packet::Disconnect) => self.fail("the broker disconnected".into()),
            _ => Notice::Idle,
        }
    }

    fn done(&mut self, origin: Option<Origin>) {
        match origin {
            Some(Origin::Outbox(seq)) => self.outbox.ack(seq),
            Some(Origin::Control) => self.control_acked += 1,
            None => {}
        }
    }

    /// Sends what the window allows: per-connection messages first, then the outbox in order.
    fn pump(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if !conn.connected {
            return;
        }
        while conn.inflight.len() < WINDOW {
            let (origin, msg) = if let Some(m) = self.control.pop_front() {
                (Origin::Control, m)
            } else if let Some((seq, m)) = self.outbox.next_unsent() {
                (Origin::Outbox(seq), m)
            } else {
                break;
            };
            let qos = if msg.qos == 0 {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            };
            match conn.client.try_publish(
                msg.topic.clone(),
                qos,
                msg.retain,
                msg.payload.clone().into_bytes(),
            ) {
                Ok(()) => conn.inflight.push_back(InFlight { pkid: None, origin }),
                Err(e) => {
                    // The request channel is full or closed: try again on the next event (or
                    // on the next connection).
                    tracing::debug!("publish request not accepted: {e}");
                    match origin {
                        Origin::Outbox(seq) => self.outbox.unsend(seq),
                        Origin::Control => self.control.push_front(msg),
                    }
                    break;
                }
            }
        }
    }

    /// Publishes the retained `offline` status (`status_topic`), waits for it to be acknowledged
    /// and disconnects; gives up after `timeout`.
    pub async fn close(&mut self, status_topic: &str, timeout: Duration) {
        if !self.is_connected() {
            return;
        }
        self.control
            .push_back(Message::retained(status_topic, OFFLINE));
        self.pump();
        let deadline = Instant::now() + timeout;
        while self.is_connected() && !self.is_drained() {
            if tokio::time::timeout_at(deadline, self.next())
                .await
                .is_err()
            {
                break;
            }
        }
        if let Some(c) = self.conn.as_mut() {
            let _ = c.client.try_disconnect();
            // Let the event loop write the DISCONNECT.
            let _ = tokio::time::timeout(Duration::from_millis(500), async {
                while let Some(Ok(_)) = c.events.recv().await {}
            })
            .await;
            c.task.abort();
        }
        self.conn = None;
    }
}
