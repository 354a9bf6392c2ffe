//! `hark bench`: the cost of every stage, as a real-time factor (seconds of CPU per second of
//! audio, one thread), over a long synthetic stream, plus the peak memory of the process.
//!
//! The stream is a deterministic speech-like signal (a gliding harmonic voice in bursts, with
//! noise and pauses) at 48 kHz, so that resampling is part of the always-on path, as with most
//! USB microphones. The always-on path is also measured in a quiet room (the same voice 1.2 s in
//! every 10 s over noise at -60 dBFS), where the keyword model pauses through silence
//! (`keyword_gate`), and there with the pause switched off, for the ratio.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::audio::{AudioSource, FileSource, StreamResampler, ToRate};
use crate::features::FrontEnd;
use crate::models::keyword::KeywordStream;
use crate::models::set::{ModelSet, Normaliser};
use crate::models::{ModelKind, ModelMetadata};
use crate::pipeline::{CaptureSettings, Mode, Pipeline};

/// Cost of one stage.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageCost {
    /// Stage name.
    pub stage: String,
    /// Seconds spent.
    pub seconds: f64,
    /// Seconds of audio processed.
    pub audio_seconds: f64,
    /// `seconds / audio_seconds`.
    pub rtf: f64,
}

/// Everything `hark bench` measures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchReport {
    /// Per-stage costs over the stream.
    pub stages: Vec<StageCost>,
    /// Milliseconds per 3-second command for the understanding models.
    pub per_command_ms: Vec<(String, f64)>,
    /// Milliseconds per wake-word candidate for the phoneme verification (and its window's
    /// length in seconds), when the keyword model verifies its wake words.
    pub per_candidate_ms: Option<(f64, f64)>,
    /// Peak resident memory of the process, KiB (Linux).
    pub peak_rss_kib: Option<u64>,
    /// The kernels tract chose on this machine for the keyword model (NEON on a Raspberry Pi).
    pub kernels: Option<crate::kernels::KernelReport>,
}

/// Input rate of the benchmark stream.
pub const STREAM_RATE: u32 = 48_000;
const CHUNK_S: f64 = 0.1;

/// The deterministic speech-like test stream: 1.2 s of voice every 2 s over faint noise.
pub fn synthetic_stream(seconds: f64, rate: u32) -> Vec<f32> {
    speechlike_stream(seconds, rate, 2.0, 0.01)
}

/// A quiet room: the same voice 1.2 s in every 10 s, over noise at -60 dBFS RMS.
pub fn quiet_room_stream(seconds: f64, rate: u32) -> Vec<f32> {
    // Uniform noise in [-0.5, 0.5) has an RMS of 1/sqrt(12).
    speechlike_stream(seconds, rate, 10.0, 0.001 * 12f64.sqrt())
}

/// 1.2-s bursts of a gliding harmonic voice every `period_s`, over uniform noise of peak
/// `noise / 2`.
fn speechlike_stream(seconds: f64, rate: u32, period_s: f64, noise_amp: f64) -> Vec<f32> {
    let n = (seconds * f64::from(rate)) as usize;
    let mut state = 0x9e37_79b9_u32;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 / f64::from(rate);
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let noise = f64::from(state) / f64::from(u32::MAX) - 0.5;
        // 1.2 s bursts of voice every 2 s; f0 glides like intonation.
        let voiced = (t % period_s) < 1.2;
        let f0 = 110.0 + 50.0 * (2.0 * std::f64::consts::PI * 0.7 * t).sin();
        let voice: f64 = if voiced {
            (1..8)
                .map(|h| {
                    let h = f64::from(h);
                    (2.0 * std::f64::consts::PI * f0 * h * t).sin() / h
                })
                .sum()
        } else {
            0.0
        };
        out.push((0.15 * voice + noise_amp * noise) as f32);
    }
    out
}

fn write_wav(path: &Path, samples: &[f32], rate: u32) -> std::io::Result<()> {
    let data_len = (samples.len() * 2) as u32;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    w.write_all(b"RIFF")?;
    w.write_all(&(36 + data_len).to_le_bytes())?;
    w.write_all(b"WAVEfmt ")?;
    w.write_all(&16u32.to_le_bytes())?;
    w.write_all(&1u16.to_le_bytes())?;
    w.write_all(&1u16.to_le_bytes())?;
    w.write_all(&rate.to_le_bytes())?;
    w.write_all(&(rate * 2).to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&16u16.to_le_bytes())?;
    w.write_all(b"data")?;
    w.write_all(&data_len.to_le_bytes())?;
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32_767.0).round() as i16;
        w.write_all(&v.to_le_bytes())?;
    }
    w.flush()
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn stage(
    name: &str,
    audio_seconds: f64,
    f: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<StageCost> {
    let start = Instant::now();
    f()?;
    let seconds = start.elapsed().as_secs_f64();
    Ok(StageCost {
        stage: name.to_string(),
        seconds,
        audio_seconds,
        rtf: seconds / audio_seconds,
    })
}

/// Runs every stage over `seconds` of audio with `models`.
pub fn run(models: Arc<ModelSet>, seconds: f64, scratch: &Path) -> anyhow::Result<BenchReport> {
    let (params, features) = models
        .frontend()
        .ok_or_else(|| anyhow::anyhow!("no audio models are loaded"))?;
    let target = params.sample_rate;
    let stream48 = synthetic_stream(seconds, STREAM_RATE);
    let chunk48 = (CHUNK_S * f64::from(STREAM_RATE)) as usize;
    let chunk16 = (CHUNK_S * f64::from(target)) as usize;
    let mut stages = Vec::new();

    let wav = scratch.join("hark-bench.wav");
    write_wav(&wav, &stream48, STREAM_RATE)?;
    stages.push(stage("decode (WAV 48 kHz)", seconds, || {
        let mut src = FileSource::open(&wav)?;
        let mut n = 0usize;
        while let Some(chunk) = src.next_chunk()? {
            n += chunk.samples.len();
        }
        anyhow::ensure!(n == stream48.len(), "decoded {n} samples");
        Ok(())
    })?);
    let _ = std::fs::remove_file(&wav);

    let mut stream16 = Vec::with_capacity(stream48.len() / 3 + 1);
    stages.push(stage("resample 48 -> 16 kHz", seconds, || {
        let mut r = StreamResampler::new(STREAM_RATE, target, "bench")?;
        for c in stream48.chunks(chunk48) {
            r.process(c, &mut stream16)?;
        }
        r.finish(&mut stream16)?;
        Ok(())
    })?);

    let mut frames = Vec::new();
    let mut frontend = FrontEnd::new(params.clone(), features.kind())?;
    let dim = frontend.dim();
    stages.push(stage("front-end (features)", seconds, || {
        for c in stream16.chunks(chunk16) {
            frontend.process(c, |f| frames.extend_from_slice(f))?;
        }
        Ok(())
    })?);

    if let Some(model) = &models.keyword {
        let mut normaliser = Normaliser::new(model.frontend(), dim);
        let mut normalised = Vec::with_capacity(frames.len());
        for f in frames.chunks(dim) {
            normaliser.apply(f, &mut normalised);
        }
        let mut kw = KeywordStream::new(Arc::clone(model))?;
        stages.push(stage("keyword model (streaming)", seconds, || {
            for c in normalised.chunks(10 * dim) {
                kw.push(c)?;
            }
            Ok(())
        })?);
        let run_pipeline = |mode: Mode| -> anyhow::Result<()> {
            let mut p = Pipeline::new(Arc::clone(&models), mode, CaptureSettings::default(), None)?;
            let mut to_rate = ToRate::new(target, "bench");
            for c in stream48.chunks(chunk48) {
                p.push(to_rate.push(c, STREAM_RATE)?)?;
            }
            p.push(to_rate.finish()?)?;
            p.finish()?;
            Ok(())
        };
        stages.push(stage("always-on path (48 kHz in)", seconds, || {
            run_pipeline(Mode::Keyword)
        })?);
        stages.push(stage("whole pipeline (wake + command)", seconds, || {
            run_pipeline(Mode::Full)
        })?);
        let quiet48 = quiet_room_stream(seconds, STREAM_RATE);
        let run_quiet = |pause: bool| -> anyhow::Result<()> {
            let mut p = Pipeline::new(
                Arc::clone(&models),
                Mode::Keyword,
                CaptureSettings::default(),
                None,
            )?
            .with_keyword_gate(pause);
            let mut to_rate = ToRate::new(target, "bench");
            for c in quiet48.chunks(chunk48) {
                p.push(to_rate.push(c, STREAM_RATE)?)?;
            }
            p.push(to_rate.finish()?)?;
            p.finish()?;
            let (run, skipped) = p.keyword_frames();
            tracing::debug!(pause, run, skipped, "keyword frames in the quiet room");
            Ok(())
        };
        stages.push(stage(
            "always-on path, quiet room, model paused in silence",
            seconds,
            || run_quiet(true),
        )?);
        stages.push(stage(
            "always-on path, quiet room, model never paused",
            seconds,
            || run_quiet(false),
        )?);
    }

    // Understanding models on a 3-second command, repeated.
    let command_frames = (3.0 / (params.hop_length as f64 / f64::from(target))) as usize;
    let command = &frames[..(command_frames * dim).min(frames.len())];
    let repeats = 20;
    let mut per_command_ms = Vec::new();
    let mut per_candidate_ms = None;
    if let Some(model) = &models.intent {
        let start = Instant::now();
        for _ in 0..repeats {
            model.understand(command)?;
        }
        per_command_ms.push((
            "intent".into(),
            start.elapsed().as_secs_f64() * 1e3 / f64::from(repeats),
        ));
        if let (Some(phonemes), Some(decoder)) = (model.phoneme_model(), model.grammar_decoder()) {
            let start = Instant::now();
            let mut logp = Vec::new();
            for _ in 0..repeats {
                logp = phonemes.log_probs(command)?;
            }
            per_command_ms.push((
                "  of which phoneme recogniser".into(),
                start.elapsed().as_secs_f64() * 1e3 / f64::from(repeats),
            ));
            let start = Instant::now();
            for _ in 0..repeats {
                std::hint::black_box(decoder.decode(&logp));
            }
            per_command_ms.push((
                format!("  of which grammar search ({} states)", decoder.states()),
                start.elapsed().as_secs_f64() * 1e3 / f64::from(repeats),
            ));
            // The margin's searches run for every decode when the judge weighs the margin, else
            // only for a decode the judge's score accepts; measured here whatever the score, as
            // the most a command can cost.
            let decoded = decoder.decode(&logp);
            if decoded.intent.is_some() {
                let searches = 1 + decoded.slots.len();
                let start = Instant::now();
                for _ in 0..repeats {
                    std::hint::black_box(decoder.margin(&logp, &decoded));
                }
                per_command_ms.push((
                    format!("  and the margin's {searches} searches (when the judge reads it)"),
                    start.elapsed().as_secs_f64() * 1e3 / f64::from(repeats),
                ));
            }
        }
    }
    if let Some(verifier) = models.keyword.as_ref().and_then(|m| m.verifier()) {
        let window = verifier.before_frames() + verifier.after_frames();
        let frames_in = &frames[..(window * dim).min(frames.len())];
        if let Some((label, _)) = verifier.candidate_thresholds().next() {
            let start = Instant::now();
            for _ in 0..repeats {
                std::hint::black_box(verifier.verify(label, frames_in)?);
            }
            per_candidate_ms = Some((
                start.elapsed().as_secs_f64() * 1e3 / f64::from(repeats),
                (frames_in.len() / dim) as f64 * params.hop_length as f64 / f64::from(target),
            ));
        }
    }
    if let Some(model) = &models.sentiment {
        let start = Instant::now();
        for _ in 0..repeats {
            model.judge(command)?;
        }
        per_command_ms.push((
            "sentiment".into(),
            start.elapsed().as_secs_f64() * 1e3 / f64::from(repeats),
        ));
    }
    let peak_rss_kib = peak_rss_kib();
    let kernels = models
        .sources
        .iter()
        .find(|(kind, _)| *kind == ModelKind::Keyword)
        .map(|(_, json)| crate::kernels::report(&ModelMetadata::graph_path(json)))
        .transpose()?;
    Ok(BenchReport {
        stages,
        per_command_ms,
        per_candidate_ms,
        peak_rss_kib,
        kernels,
    })
}
