//! `hark run`: the daemon. Audio (microphone, file or stdin) is read and understood on a
//! dedicated thread; events cross a bounded channel to a single-threaded tokio runtime that
//! speaks MQTT, so a slow or absent broker never stalls audio.
//!
//! - Microphone: the audio thread never waits; if the channel is full (the MQTT side stalled),
//!   the event is dropped, counted and logged. Files and stdin are not real time, so there the
//!   audio thread waits for room instead and nothing is dropped.
//! - With `--input`, the daemon exits once the input has ended and every message has been
//!   acknowledged by the broker (it keeps retrying while the broker is away).
//! - SIGINT / SIGTERM: audio stops, queued messages get `shutdown_timeout_s` to be delivered,
//!   `offline` is published, the connection closed, and what is left saved to the outbox file
//!   (if configured) or reported as lost.
//! - Inbound: `hermes/hotword/toggleOff|toggleOn` mute and unmute the wake word (the pipeline
//!   hears silence while muted, so timestamps stay true); `homeassistant/status` `online`
//!   re-announces discovery; with a [`TextUnderstanding`] hook, `hermes/nlu/query` and
//!   `hermes/asr/textCaptured` are answered with `hermes/intent/…` or
//!   `hermes/nlu/intentNotRecognized`. Malformed messages are logged and ignored.
//! - SIGHUP: the configuration file and the models are read again; the audio thread swaps its
//!   pipeline between two chunks (a command being heard is finished first; event times restart
//!   at 0). `[mqtt]` and `[site]` changes need a restart. A file or models that fail to load
//!   are refused with a warning and the running ones kept.

mod audio;
mod serve;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::sync::mpsc;

use crate::actions::Actions;
use crate::config::Config;
use crate::models::set::{ModelSet, default_model_dirs};
use crate::models::utterance::IntentResult;
use crate::mqtt::client::{Link, mqtt_options};
use crate::mqtt::discovery::{self, Labels};
use crate::mqtt::hermes::Topic;
use crate::mqtt::outbox::Outbox;
use crate::mqtt::publish::Publisher;
use crate::mqtt::{BrokerAddr, SiteTopics};
use crate::pipeline::{Event, Mode, Pipeline};

use audio::{AudioThread, spawn_audio};
use serve::Daemon;

/// Largest inbound payload handled; bigger ones are logged and ignored.
pub const MAX_INBOUND_BYTES: usize = 64 * 1024;

/// The hook through which text models answer `hermes/nlu/query` and `hermes/asr/textCaptured`.
///
/// When [`RunOptions::text`] is `None` hark does not subscribe to those topics.
pub trait TextUnderstanding: Send + Sync {
    /// Understands one sentence.
    fn understand(&self, text: &str) -> Result<IntentResult, String>;
}

/// What `hark run` was asked.
#[derive(Default)]
pub struct RunOptions {
    /// Audio file, or `-` for raw PCM on stdin; `None`: the microphone.
    pub input: Option<PathBuf>,
    /// Layout of raw PCM on stdin, e.g. `s16le:16000`.
    pub raw: Option<String>,
    /// Overrides `[mqtt] broker`.
    pub broker: Option<String>,
    /// Models in this directory replace the defaults of the same kind.
    pub model_dir: Option<PathBuf>,
    /// Overrides every keyword threshold.
    pub threshold: Option<f32>,
    /// Text understanding for Hermes NLU queries.
    pub text: Option<Arc<dyn TextUnderstanding>>,
    /// The configuration file, read again on SIGHUP.
    pub config_path: Option<PathBuf>,
}

/// Models and capture timing handed to the audio thread on SIGHUP.
pub(crate) type Reload = Arc<Mutex<Option<(Arc<ModelSet>, crate::pipeline::CaptureSettings)>>>;

/// Runs the daemon until the input ends (with `--input`) or a signal arrives.
pub fn run(config: &Config, options: RunOptions) -> Result<()> {
    if let Some(t) = options.threshold
        && !(t.is_finite() && (0.0..=1.0).contains(&t))
    {
        bail!("--threshold must be between 0 and 1, got {t}");
    }
    let broker_url = options
        .broker
        .clone()
        .unwrap_or_else(|| config.mqtt.broker.clone());
    let addr = BrokerAddr::parse(&broker_url)?;
    let models = Arc::new(ModelSet::load(
        options.model_dir.as_deref(),
        &default_model_dirs(),
    )?);
    for (kind, path) in &models.sources {
        tracing::info!(kind = kind.default_name(), model = %path.display(), "model loaded");
    }
    let mode = if models.keyword.is_some() {
        Mode::Full
    } else {
        bail!("`hark run` needs a keyword model (keyword.json) to hear the wake word")
    };
    // Fail before starting anything when the pipeline cannot be built.
    Pipeline::new(
        Arc::clone(&models),
        mode,
        config.capture_settings(),
        options.threshold,
    )?
    .with_keyword_thresholds(&config.keyword.thresholds)?;
    let topics = SiteTopics::new(&config.site.id);
    let actions = Actions::new(&config.actions)?;
    let publisher = Publisher::new(topics.clone(), actions);
    let labels = labels(&models);

    let (host, port, tls) = match &addr {
        BrokerAddr::Embedded => {
            let a = start_embedded(&config.mqtt.embedded_listen)?;
            let host = if a.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else {
                a.ip().to_string()
            };
            (host, a.port(), false)
        }
        BrokerAddr::Remote { host, port, tls } => (host.clone(), *port, *tls),
    };
    let client_id = if config.mqtt.client_id.is_empty() {
        format!(
            "hark-{}",
            discovery::node_id(&config.site.id).trim_start_matches("hark_")
        )
    } else {
        config.mqtt.client_id.clone()
    };
    let mqtt = mqtt_options(&config.mqtt, &host, port, tls, &client_id, &topics.status())?;
    let outbox_file =
        (!config.mqtt.outbox_file.is_empty()).then(|| PathBuf::from(&config.mqtt.outbox_file));
    let mut outbox = Outbox::new(config.mqtt.outbox_capacity, outbox_file);
    let restored = outbox.load()?;
    if restored > 0 {
        tracing::info!(
            messages = restored,
            "undelivered messages restored from the outbox file"
        );
    }
    let mut subscriptions = vec![
        Topic::HotwordToggleOn.as_string(),
        Topic::HotwordToggleOff.as_string(),
    ];
    if options.text.is_some() {
        subscriptions.push(Topic::NluQuery.as_string());
        subscriptions.push(Topic::AsrTextCaptured.as_string());
    }
    if config.homeassistant.discovery {
        subscriptions.push(discovery::birth_topic(&config.homeassistant.prefix));
    }
    let link = Link::new(mqtt, subscriptions, outbox, &config.mqtt);

    let (tx, rx) = mpsc::channel(config.mqtt.event_channel.max(1));
    let muted = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let channel_full = Arc::new(AtomicU64::new(0));
    let reload: Reload = Arc::new(Mutex::new(None));
    let audio = spawn_audio(AudioThread {
        reload: Arc::clone(&reload),
        input: options.input.clone(),
        raw: options.raw.clone(),
        config: config.clone(),
        models,
        threshold: options.threshold,
        tx,
        muted: Arc::clone(&muted),
        stop: Arc::clone(&stop),
        channel_full: Arc::clone(&channel_full),
    })?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut daemon = Daemon {
        config: config.clone(),
        config_path: options.config_path,
        model_dir: options.model_dir,
        reload,
        link,
        publisher,
        labels,
        topics,
        muted,
        text: options.text,
        events: 0,
    };
    let msgs = daemon.connect_messages();
    daemon.link.set_connect_messages(msgs);
    let outcome = runtime.block_on(daemon.serve(rx, &stop));
    if addr == BrokerAddr::Embedded {
        // The embedded broker ends with hark: give it a moment to forward what it has
        // acknowledged to its subscribers.
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::SeqCst);
    let full = channel_full.load(Ordering::SeqCst);
    if full > 0 {
        tracing::warn!(
            events = full,
            "events dropped because the MQTT side fell behind"
        );
    }
    // The audio thread may be blocked in a device or stdin read; it is not waited for then.
    if audio.is_finished() {
        let _ = audio.join();
    }
    outcome
}

#[cfg(feature = "embedded-broker")]
fn start_embedded(listen: &str) -> Result<std::net::SocketAddr> {
    Ok(crate::mqtt::broker::start(listen)?)
}

#[cfg(not(feature = "embedded-broker"))]
fn start_embedded(_listen: &str) -> Result<std::net::SocketAddr> {
    bail!(
        "this hark was built without the embedded broker (cargo feature `embedded-broker`); set [mqtt] broker = \"mqtt://HOST:PORT\" or pass --broker"
    )
}

fn labels(models: &ModelSet) -> Labels {
    let wake_words = models
        .keyword
        .as_ref()
        .and_then(|k| k.metadata().keyword.as_ref())
        .map(|k| k.wake_words.clone())
        .unwrap_or_default();
    let intents = models
        .intent
        .as_ref()
        .map(|m| {
            let oog = m
                .metadata()
                .intent
                .as_ref()
                .map(|i| i.out_of_grammar.clone());
            m.metadata()
                .labels
                .iter()
                .filter(|l| Some(*l) != oog.as_ref())
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let sentiments = models
        .sentiment
        .as_ref()
        .map(|m| m.metadata().labels.clone())
        .unwrap_or_default();
    Labels {
        wake_words,
        intents,
        sentiments,
    }
}

/// Arguments of `hark run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Read this audio file instead of the microphone, or `-` for raw PCM on stdin (with
    /// --raw); hark exits once it has ended and every event is delivered.
    #[arg(long, value_name = "FILE|-")]
    pub input: Option<PathBuf>,
    /// Raw PCM layout for stdin: ENCODING:RATE[:CHANNELS], e.g. s16le:16000.
    #[arg(long, value_name = "SPEC")]
    pub raw: Option<String>,
    /// Broker: `embedded`, mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (overrides [mqtt] broker).
    #[arg(long, value_name = "URL")]
    pub broker: Option<String>,
    /// Models in this directory replace the default ones of the same kind.
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Overrides every keyword threshold (0–1).
    #[arg(long)]
    pub threshold: Option<f32>,
}

impl RunArgs {
    /// The options, without a text-understanding hook.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            input: self.input.clone(),
            raw: self.raw.clone(),
            broker: self.broker.clone(),
            model_dir: self.model_dir.clone(),
            threshold: self.threshold,
            text: None,
            config_path: None,
        }
    }
}

pub(crate) enum AudioMsg {
    Event(Event),
    End(Result<(), String>),
}
