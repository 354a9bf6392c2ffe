//! The MQTT side of the daemon: events to messages, the link, signals, inbound messages.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::sync::mpsc;

use super::{AudioMsg, MAX_INBOUND_BYTES, Reload, TextUnderstanding, labels};
use crate::actions::Actions;
use crate::config::Config;
use crate::models::set::{ModelSet, default_model_dirs};
use crate::mqtt::client::{Link, Notice};
use crate::mqtt::discovery::{self, Labels};
use crate::mqtt::hermes::{AsrTextCaptured, HotwordToggle, NluQuery, Topic};
use crate::mqtt::publish::Publisher;
use crate::mqtt::{Message, ONLINE, SiteTopics};
use crate::pipeline::Event;

pub(super) struct Daemon {
    pub(super) config: Config,
    pub(super) config_path: Option<PathBuf>,
    pub(super) model_dir: Option<PathBuf>,
    pub(super) reload: Reload,
    pub(super) link: Link,
    pub(super) publisher: Publisher,
    pub(super) labels: Labels,
    pub(super) topics: SiteTopics,
    pub(super) muted: Arc<AtomicBool>,
    pub(super) text: Option<Arc<dyn TextUnderstanding>>,
    pub(super) events: u64,
}

impl Daemon {
    pub(super) async fn serve(
        &mut self,
        mut rx: mpsc::Receiver<AudioMsg>,
        stop: &AtomicBool,
    ) -> Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut sigint = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut sigterm = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut sighup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let mut save = tokio::time::interval(Duration::from_secs(1));
        let mut input_ended: Option<Result<(), String>> = None;
        let mut signalled = false;
        loop {
            if input_ended.is_some() && self.link.is_drained() {
                break;
            }
            tokio::select! {
                _ = sigint.recv() => { signalled = true; break; }
                _ = sigterm.recv() => { signalled = true; break; }
                _ = sighup.recv() => self.reload(),
                msg = rx.recv(), if input_ended.is_none() => match msg {
                    Some(AudioMsg::Event(e)) => self.on_event(&e),
                    Some(AudioMsg::End(r)) => {
                        if let Err(e) = &r {
                            tracing::error!("audio input failed: {e}");
                        } else {
                            tracing::info!(events = self.events, "input ended; delivering what is queued");
                        }
                        input_ended = Some(r);
                    }
                    None => input_ended = Some(Err("the audio thread ended".into())),
                },
                notice = self.link.next() => self.on_notice(notice),
                _ = save.tick() => self.save_outbox(),
            }
        }
        stop.store(true, Ordering::SeqCst);
        if signalled {
            tracing::info!("stopping: delivering what is queued");
            while let Ok(msg) = rx.try_recv() {
                if let AudioMsg::Event(e) = msg {
                    self.on_event(&e);
                }
            }
            let timeout = Duration::from_secs_f64(self.config.mqtt.shutdown_timeout_s);
            let _ = tokio::time::timeout(timeout, async {
                while !self.link.is_drained() {
                    let n = self.link.next().await;
                    self.on_notice(n);
                }
            })
            .await;
        }
        self.link
            .close(&self.topics.status(), Duration::from_secs(2))
            .await;
        self.save_outbox();
        let s = self.link.stats();
        let left = s.queued.saturating_sub(s.delivered + s.dropped);
        tracing::info!(
            events = self.events,
            queued = s.queued,
            delivered = s.delivered,
            dropped = s.dropped,
            undelivered = left,
            "MQTT summary"
        );
        if left > 0 {
            if self.config.mqtt.outbox_file.is_empty() {
                tracing::warn!(
                    messages = left,
                    "undelivered messages lost (no outbox_file)"
                );
            } else {
                tracing::warn!(messages = left, file = %self.config.mqtt.outbox_file, "undelivered messages saved for the next start");
            }
        }
        match input_ended {
            Some(Err(e)) => bail!("{e}"),
            _ => Ok(()),
        }
    }

    /// SIGHUP: reads the configuration and the models again.
    fn reload(&mut self) {
        let mut new = match &self.config_path {
            Some(p) => match Config::load(p) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("reload refused, configuration unchanged: {e}");
                    return;
                }
            },
            None => self.config.clone(),
        };
        if new.mqtt != self.config.mqtt || new.site != self.config.site {
            tracing::warn!("[mqtt] and [site] changes take effect after a restart");
            new.mqtt = self.config.mqtt.clone();
            new.site = self.config.site.clone();
        }
        let actions = match Actions::new(&new.actions) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("reload refused: {e}");
                return;
            }
        };
        let models = match ModelSet::load(self.model_dir.as_deref(), &default_model_dirs()) {
            Ok(m) if m.keyword.is_some() => m,
            Ok(_) => {
                tracing::warn!("reload refused: no keyword model found");
                return;
            }
            Err(e) => {
                tracing::warn!("reload refused: {e}");
                return;
            }
        };
        self.labels = labels(&models);
        if let Ok(mut slot) = self.reload.lock() {
            *slot = Some((Arc::new(models), new.capture_settings()));
        }
        self.publisher = Publisher::new(self.topics.clone(), actions);
        self.config = new;
        self.announce();
        tracing::info!("configuration and models reloaded");
    }

    fn save_outbox(&mut self) {
        if let Err(e) = self.link.outbox_mut().save() {
            tracing::warn!("{e}");
        }
    }

    fn on_event(&mut self, event: &Event) {
        self.events += 1;
        tracing::info!("{}", crate::report::event_line("event", event));
        for m in self.publisher.messages(event) {
            self.link.enqueue(m);
        }
    }

    /// Discovery configs (or their removal) followed by the retained `online` status.
    pub(super) fn connect_messages(&self) -> Vec<Message> {
        let ha = &self.config.homeassistant;
        let mut msgs = if ha.discovery {
            discovery::announce(&ha.prefix, &self.topics, &self.labels)
        } else {
            discovery::remove(&ha.prefix, &self.topics.site_id)
        };
        msgs.push(Message::retained(self.topics.status(), ONLINE));
        msgs
    }

    /// Sends the discovery configs again now, and on every later connection.
    fn announce(&mut self) {
        let msgs = self.connect_messages();
        self.link.set_connect_messages(msgs.clone());
        for m in msgs {
            self.link.send_control(m);
        }
    }

    fn on_notice(&mut self, notice: Notice) {
        match notice {
            Notice::Connected | Notice::Disconnected(_) | Notice::Idle => {}
            Notice::Inbound { topic, payload } => self.on_inbound(&topic, &payload),
        }
    }

    fn on_inbound(&mut self, topic: &str, payload: &[u8]) {
        if payload.len() > MAX_INBOUND_BYTES {
            tracing::warn!(%topic, bytes = payload.len(), "inbound message too large: ignored");
            return;
        }
        let config = self.config.clone();
        let ha = &config.homeassistant;
        if ha.discovery && topic == discovery::birth_topic(&ha.prefix) {
            if payload == ONLINE.as_bytes() {
                tracing::info!("Home Assistant is online: announcing again");
                self.announce();
            }
            return;
        }
        let site = self.topics.site_id.clone();
        match Topic::parse(topic) {
            Some(t @ (Topic::HotwordToggleOn | Topic::HotwordToggleOff)) => {
                let Some(m) = parse::<HotwordToggle>(topic, payload) else {
                    return;
                };
                if !m.site_id.is_empty() && m.site_id != site {
                    return;
                }
                let mute = t == Topic::HotwordToggleOff;
                self.muted.store(mute, Ordering::SeqCst);
                tracing::info!(
                    reason = m.reason.as_deref().unwrap_or(""),
                    "wake word {}",
                    if mute { "muted" } else { "unmuted" }
                );
            }
            Some(Topic::NluQuery) => {
                if let Some(q) = parse::<NluQuery>(topic, payload)
                    && q.site_id == site
                {
                    self.answer(q);
                }
            }
            Some(Topic::AsrTextCaptured) => {
                if let Some(t) = parse::<AsrTextCaptured>(topic, payload)
                    && t.site_id == site
                {
                    self.answer(NluQuery {
                        input: t.text,
                        site_id: t.site_id,
                        id: None,
                        intent_filter: None,
                        session_id: t.session_id,
                        wakeword_id: t.wakeword_id,
                        lang: t.lang,
                        custom_data: None,
                    });
                }
            }
            _ => tracing::debug!(%topic, "inbound message on an unexpected topic: ignored"),
        }
    }

    fn answer(&mut self, q: NluQuery) {
        let Some(text) = self.text.clone() else {
            return;
        };
        match text.understand(&q.input) {
            Ok(result) => {
                for m in self.publisher.intent_messages(&result, &q.input, Some(&q)) {
                    self.link.enqueue(m);
                }
            }
            Err(e) => tracing::warn!(input = %q.input, "text not understood: {e}"),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(topic: &str, payload: &[u8]) -> Option<T> {
    match serde_json::from_slice(payload) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(%topic, "malformed inbound message ignored: {e}");
            None
        }
    }
}
