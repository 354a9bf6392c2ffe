//! The audio thread: reads the source, runs the pipeline, hands events to the MQTT side
//! without ever waiting on the network (microphone) or with back-pressure (files, stdin).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use tokio::sync::mpsc;

use super::{AudioMsg, Reload};
use crate::audio::{AudioSource, FileSource, MicSource, RawFormat, RawSource, ToRate};
use crate::config::Config;
use crate::models::set::ModelSet;
use crate::pipeline::{Event, Mode, Pipeline};

pub(super) struct AudioThread {
    pub(super) reload: Reload,
    pub(super) input: Option<PathBuf>,
    pub(super) raw: Option<String>,
    pub(super) config: Config,
    pub(super) models: Arc<ModelSet>,
    pub(super) threshold: Option<f32>,
    pub(super) tx: mpsc::Sender<AudioMsg>,
    pub(super) muted: Arc<AtomicBool>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) channel_full: Arc<AtomicU64>,
}

fn open_source(
    input: Option<&Path>,
    raw: Option<&str>,
    config: &Config,
) -> Result<Box<dyn AudioSource>> {
    match input {
        None => {
            if raw.is_some() {
                bail!("--raw describes stdin; give `--input -` to use it");
            }
            Ok(Box::new(MicSource::open(config.mic_options())?))
        }
        Some(p) if p.as_os_str() == "-" => {
            let Some(spec) = raw else {
                bail!("reading stdin needs its layout, e.g. --raw s16le:16000");
            };
            let format: RawFormat = spec.parse()?;
            Ok(Box::new(RawSource::new(
                std::io::stdin().lock(),
                "stdin",
                format,
            )))
        }
        Some(p) => {
            if raw.is_some() {
                bail!("--raw describes stdin; give `--input -` to use it");
            }
            Ok(Box::new(FileSource::open(p)?))
        }
    }
}

pub(super) fn spawn_audio(a: AudioThread) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("audio".into())
        .spawn(move || {
            let result = audio_loop(&a).map_err(|e| crate::report::error_report(&e));
            let _ = a.tx.blocking_send(AudioMsg::End(result));
        })
        .context("cannot start the audio thread")
}

fn audio_loop(a: &AudioThread) -> Result<()> {
    let mut source = open_source(a.input.as_deref(), a.raw.as_deref(), &a.config)?;
    let realtime = a.input.is_none();
    let origin = source.origin().to_string();
    tracing::info!(input = %origin, "listening");
    let mut pipeline = Pipeline::new(
        Arc::clone(&a.models),
        Mode::Full,
        a.config.capture_settings(),
        a.threshold,
    )?
    .with_keyword_thresholds(&a.config.keyword.thresholds)?
    .with_keyword_gate(a.config.keyword.pause_in_silence)
    .with_wake_verification(a.config.keyword.verify);
    let mut to_rate = ToRate::new(pipeline.frontend_params().sample_rate, &origin);
    let mut silence = Vec::new();
    let send = |events: Vec<Event>| -> Result<()> {
        for e in events {
            if realtime {
                if let Err(mpsc::error::TrySendError::Full(_)) = a.tx.try_send(AudioMsg::Event(e)) {
                    let n = a.channel_full.fetch_add(1, Ordering::SeqCst) + 1;
                    if n == 1 || n.is_multiple_of(100) {
                        tracing::warn!(dropped = n, "event channel full: event dropped");
                    }
                }
            } else if a.tx.blocking_send(AudioMsg::Event(e)).is_err() {
                bail!("the MQTT side has stopped");
            }
        }
        Ok(())
    };
    while !a.stop.load(Ordering::SeqCst) {
        let Some(chunk) = source.next_chunk()? else {
            break;
        };
        let swap = a.reload.lock().ok().and_then(|mut r| r.take());
        if let Some((models, capture)) = swap {
            send(pipeline.finish()?)?;
            pipeline = Pipeline::new(models, Mode::Full, capture, a.threshold)?
                .with_keyword_thresholds(&a.config.keyword.thresholds)?
                .with_keyword_gate(a.config.keyword.pause_in_silence)
                .with_wake_verification(a.config.keyword.verify);
            to_rate = ToRate::new(pipeline.frontend_params().sample_rate, &origin);
            tracing::info!("pipeline reloaded");
        }
        let samples = to_rate.push(&chunk.samples, chunk.sample_rate)?;
        let events = if a.muted.load(Ordering::SeqCst) {
            silence.clear();
            silence.resize(samples.len(), 0.0);
            pipeline.push(&silence)?
        } else {
            pipeline.push(samples)?
        };
        send(events)?;
    }
    let tail = to_rate.finish()?.to_vec();
    send(pipeline.push(&tail)?)?;
    send(pipeline.finish()?)?;
    Ok(())
}
