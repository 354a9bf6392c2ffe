//! Microphone capture through cpal.
//!
//! The cpal callback only converts the device's native samples to mono f32 and copies them into
//! a lock-free bounded ring buffer (rtrb); when the buffer is full the samples are dropped and
//! counted, and the count is logged by the reading side. A device that fails or disappears is
//! reported and re-opened by [`MicSource::next_chunk`], which keeps waiting rather than crashing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{Device, FromSample, SampleFormat, SizedSample, Stream};

use super::{AudioChunk, AudioError, AudioSource, check_rate};

/// How to open a capture device.
#[derive(Debug, Clone, PartialEq)]
pub struct MicOptions {
    /// `"default"`, a device index from [`list_input_devices`], a device id (`alsa:hw:1,0`) or
    /// a case-insensitive part of its name.
    pub device: String,
    /// Ring buffer between the callback and the reader, in milliseconds of audio.
    pub buffer_ms: u32,
    /// Wait between attempts to re-open a failed device.
    pub reopen_interval: Duration,
}

impl Default for MicOptions {
    fn default() -> Self {
        Self {
            device: "default".into(),
            buffer_ms: 2_000,
            reopen_interval: Duration::from_secs(2),
        }
    }
}

/// One capture device as listed by `hark devices`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// Position in the list (usable as `device = "N"`).
    pub index: usize,
    /// Stable identifier (`host:id`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Whether this is the host's default input.
    pub is_default: bool,
    /// Default capture configuration, e.g. `48000 Hz, 2 ch, i16`, when the device reports one.
    pub default_config: Option<String>,
}

fn device_id(device: &Device) -> String {
    device
        .id()
        .map(|id| id.to_string())
        .unwrap_or_else(|_| "unknown".into())
}

fn device_name(device: &Device) -> String {
    device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| device_id(device))
}

/// Lists the default host's capture devices.
pub fn list_input_devices() -> Result<Vec<DeviceInfo>, AudioError> {
    let host = cpal::default_host();
    let default_id = host.default_input_device().map(|d| device_id(&d));
    let devices = host.input_devices().map_err(|e| AudioError::Device {
        device: "*".into(),
        detail: format!("cannot enumerate input devices: {e}"),
    })?;
    Ok(devices
        .enumerate()
        .map(|(index, device)| {
            let id = device_id(&device);
            DeviceInfo {
                index,
                is_default: default_id.as_deref() == Some(id.as_str()),
                name: device_name(&device),
                default_config: device.default_input_config().ok().map(|c| {
                    format!(
                        "{} Hz, {} ch, {}",
                        c.sample_rate(),
                        c.channels(),
                        c.sample_format()
                    )
                }),
                id,
            }
        })
        .collect())
}

fn find_device(wanted: &str) -> Result<Device, AudioError> {
    let host = cpal::default_host();
    let not_found = |detail: String| AudioError::Device {
        device: wanted.to_string(),
        detail,
    };
    if wanted.is_empty() || wanted.eq_ignore_ascii_case("default") {
        return host.default_input_device().ok_or_else(|| {
            not_found("no default input device (is a microphone connected, and is the user in the `audio` group?)".into())
        });
    }
    let devices: Vec<Device> = host
        .input_devices()
        .map_err(|e| not_found(format!("cannot enumerate input devices: {e}")))?
        .collect();
    if let Ok(index) = wanted.parse::<usize>() {
        return devices.into_iter().nth(index).ok_or_else(|| {
            not_found(format!(
                "no input device with index {index} (see `hark devices`)"
            ))
        });
    }
    let lower = wanted.to_lowercase();
    if let Some(device) = devices
        .iter()
        .find(|d| device_id(d).eq_ignore_ascii_case(wanted))
        .or_else(|| {
            devices
                .iter()
                .find(|d| device_name(d).to_lowercase() == lower)
        })
        .or_else(|| {
            devices
                .iter()
                .find(|d| device_name(d).to_lowercase().contains(&lower))
        })
    {
        return Ok(device.clone());
    }
    if let Ok(id) = wanted.parse::<cpal::DeviceId>()
        && let Some(device) = host.device_by_id(&id)
    {
        return Ok(device);
    }
    Err(not_found(
        "no input device matches this name, id or index (see `hark devices`)".into(),
    ))
}

/// Rate asked of devices that support it: the front-end's, so no resampling is needed.
const PREFERRED_RATE: u32 = 16_000;

/// A 16 kHz configuration with the fewest channels, when the device offers one.
fn preferred_config(device: &Device) -> Option<cpal::SupportedStreamConfig> {
    let format_rank = |f: SampleFormat| match f {
        SampleFormat::I16 => 0,
        SampleFormat::F32 => 1,
        SampleFormat::I32 => 2,
        _ => 3,
    };
    device
        .supported_input_configs()
        .ok()?
        .filter(|range| range.contains_rate(PREFERRED_RATE))
        .min_by_key(|range| (range.channels(), format_rank(range.sample_format())))
        .map(|range| range.with_sample_rate(PREFERRED_RATE))
}

/// State shared with the cpal callbacks.
struct Shared {
    overruns: AtomicU64,
    failed: AtomicBool,
    non_finite: AtomicU64,
}

/// Live capture from a microphone.
pub struct MicSource {
    options: MicOptions,
    origin: String,
    stream: Option<Stream>,
    consumer: Option<rtrb::Consumer<f32>>,
    shared: Arc<Shared>,
    sample_rate: u32,
    overruns_reported: u64,
    non_finite_reported: u64,
}

impl MicSource {
    /// Opens the device described by `options` and starts capturing.
    pub fn open(options: MicOptions) -> Result<Self, AudioError> {
        let mut source = Self {
            origin: options.device.clone(),
            options,
            stream: None,
            consumer: None,
            shared: Arc::new(Shared {
                overruns: AtomicU64::new(0),
                failed: AtomicBool::new(false),
                non_finite: AtomicU64::new(0),
            }),
            sample_rate: 0,
            overruns_reported: 0,
            non_finite_reported: 0,
        };
        source.start()?;
        Ok(source)
    }

    /// The capture rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Samples dropped so far because the ring buffer was full.
    pub fn overruns(&self) -> u64 {
        self.shared.overruns.load(Ordering::Relaxed)
    }

    fn start(&mut self) -> Result<(), AudioError> {
        let device = find_device(&self.options.device)?;
        let name = device_name(&device);
        let fail = |detail: String| AudioError::Device {
            device: name.clone(),
            detail,
        };
        let config = match preferred_config(&device) {
            Some(config) => config,
            None => device
                .default_input_config()
                .map_err(|e| fail(format!("no usable capture configuration: {e}")))?,
        };
        let rate = check_rate(&name, config.sample_rate())?;
        let channels = usize::from(config.channels()).max(1);
        let capacity = (rate as usize * self.options.buffer_ms as usize / 1000).max(1024);
        let (producer, consumer) = rtrb::RingBuffer::<f32>::new(capacity);
        self.shared.failed.store(false, Ordering::SeqCst);
        let stream = match config.sample_format() {
            SampleFormat::I8 => self.build::<i8>(&device, &config, channels, producer),
            SampleFormat::I16 => self.build::<i16>(&device, &config, channels, producer),
            SampleFormat::I24 => self.build::<cpal::I24>(&device, &config, channels, producer),
            SampleFormat::I32 => self.build::<i32>(&device, &config, channels, producer),
            SampleFormat::I64 => self.build::<i64>(&device, &config, channels, producer),
            SampleFormat::U8 => self.build::<u8>(&device, &config, channels, producer),
            SampleFormat::U16 => self.build::<u16>(&device, &config, channels, producer),
            SampleFormat::U24 => self.build::<cpal::U24>(&device, &config, channels, producer),
            SampleFormat::U32 => self.build::<u32>(&device, &config, channels, producer),
            SampleFormat::U64 => self.build::<u64>(&device, &config, channels, producer),
            SampleFormat::F32 => self.build::<f32>(&device, &config, channels, producer),
            SampleFormat::F64 => self.build::<f64>(&device, &config, channels, producer),
            other => return Err(fail(format!("sample format {other} is not supported"))),
        }
        .map_err(|e| fail(format!("cannot open the capture stream: {e}")))?;
        stream
            .play()
            .map_err(|e| fail(format!("cannot start capturing: {e}")))?;
        tracing::info!(device = %name, rate, channels, format = %config.sample_format(), "capturing");
        self.origin = name;
        self.sample_rate = rate;
        self.stream = Some(stream);
        self.consumer = Some(consumer);
        Ok(())
    }

    fn build<T>(
        &self,
        device: &Device,
        config: &cpal::SupportedStreamConfig,
        channels: usize,
        mut producer: rtrb::Producer<f32>,
    ) -> Result<Stream, cpal::Error>
    where
        T: SizedSample + Send + 'static,
        f32: FromSample<T>,
    {
        let data_shared = Arc::clone(&self.shared);
        let error_shared = Arc::clone(&self.shared);
        let device_label = device_name(device);
        let scale = 1.0 / channels as f32;
        device.build_input_stream::<T, _, _>(
            config.config(),
            move |data: &[T], _| {
                let frames = data.len() / channels;
                let writable = producer.slots().min(frames);
                let dropped = frames - writable;
                if let Ok(chunk) = producer.write_chunk_uninit(writable) {
                    let mut bad = 0u64;
                    let mono = data.chunks_exact(channels).take(writable).map(|frame| {
                        let sum: f32 = frame.iter().map(|s| s.to_sample::<f32>()).sum();
                        let value = sum * scale;
                        if value.is_finite() {
                            value
                        } else {
                            bad += 1;
                            0.0
                        }
                    });
                    chunk.fill_from_iter(mono);
                    if bad > 0 {
                        data_shared.non_finite.fetch_add(bad, Ordering::Relaxed);
                    }
                }
                if dropped > 0 {
                    data_shared
                        .overruns
                        .fetch_add(dropped as u64, Ordering::Relaxed);
                }
            },
            move |err: cpal::Error| {
                tracing::warn!(device = %device_label, error = %err, "capture error");
                if matches!(
                    err.kind(),
                    cpal::ErrorKind::DeviceNotAvailable
                        | cpal::ErrorKind::StreamInvalidated
                        | cpal::ErrorKind::DeviceChanged
                ) {
                    error_shared.failed.store(true, Ordering::SeqCst);
                }
            },
            None,
        )
    }

    fn report_counters(&mut self) {
        let overruns = self.shared.overruns.load(Ordering::Relaxed);
        if overruns > self.overruns_reported {
            tracing::warn!(
                device = %self.origin,
                dropped = overruns - self.overruns_reported,
                total = overruns,
                "capture buffer full: samples dropped (processing is slower than real time)"
            );
            self.overruns_reported = overruns;
        }
        let bad = self.shared.non_finite.load(Ordering::Relaxed);
        if bad > self.non_finite_reported {
            tracing::warn!(device = %self.origin, count = bad - self.non_finite_reported,
                "device delivered non-finite samples; replaced by silence");
            self.non_finite_reported = bad;
        }
    }

    fn reopen(&mut self) {
        self.stream = None;
        self.consumer = None;
        tracing::warn!(device = %self.options.device, "capture device lost; re-opening");
        loop {
            match self.start() {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?self.options.reopen_interval,
                        "capture device unavailable");
                    std::thread::sleep(self.options.reopen_interval);
                }
            }
        }
    }
}

impl AudioSource for MicSource {
    /// Blocks until about 10 ms of audio is available (or the device must be re-opened).
    fn next_chunk(&mut self) -> Result<Option<AudioChunk>, AudioError> {
        let min_samples = (self.sample_rate as usize / 100).max(1);
        loop {
            if self.shared.failed.load(Ordering::SeqCst) {
                self.reopen();
            }
            self.report_counters();
            if let Some(consumer) = self.consumer.as_mut() {
                let available = consumer.slots();
                if available >= min_samples {
                    let mut samples = Vec::with_capacity(available);
                    if let Ok(chunk) = consumer.read_chunk(available) {
                        samples.extend(chunk);
                    }
                    return Ok(Some(AudioChunk {
                        samples,
                        sample_rate: self.sample_rate,
                    }));
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn origin(&self) -> &str {
        &self.origin
    }
}
