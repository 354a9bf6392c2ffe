//! Helpers shared by the integration tests: test signals and WAV writing.

#![allow(dead_code)]

pub mod golden;

use std::path::{Path, PathBuf};

/// Feeds `audio` through `pipeline` in 0.1-s chunks (at 16 kHz) and ends the input; returns
/// every event.
pub fn run_through(
    pipeline: &mut hark::pipeline::Pipeline,
    audio: &[f32],
) -> Vec<hark::pipeline::Event> {
    let mut events = Vec::new();
    for chunk in audio.chunks(1_600) {
        events.extend(pipeline.push(chunk).unwrap());
    }
    events.extend(pipeline.finish().unwrap());
    events
}

/// The shipped models' folder.
pub fn shipped_models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// A folder holding the shipped files `others` and the shipped metadata `json` changed by
/// `edit` (for tests of what loading refuses).
pub fn edited_shipped_model(
    json: &str,
    others: &[&str],
    edit: impl FnOnce(&mut serde_json::Value),
) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for name in others {
        std::fs::copy(shipped_models().join(name), tmp.path().join(name)).unwrap();
    }
    let text = std::fs::read_to_string(shipped_models().join(json)).unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut meta);
    std::fs::write(tmp.path().join(json), meta.to_string()).unwrap();
    tmp
}

/// The repository's fixture folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A sine of `freq` Hz and `amplitude` lasting `seconds` at `rate` Hz.
pub fn sine(freq: f64, amplitude: f64, rate: u32, seconds: f64) -> Vec<f32> {
    let n = (seconds * f64::from(rate)).round() as usize;
    (0..n)
        .map(|i| {
            (amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                as f32
        })
        .collect()
}

/// Fits `a·sin + b·cos` at `freq` to `x` (sampled at `rate`, phase measured from `x[0]`);
/// returns the amplitude and the signal-to-residual ratio in dB.
pub fn fit_sine(x: &[f32], rate: u32, freq: f64) -> (f64, f64) {
    let (amplitude, snr, _) = fit_sine_phase(x, rate, freq);
    (amplitude, snr)
}

/// As [`fit_sine`], also returning the phase in radians (0 for a pure sine starting at `x[0]`).
pub fn fit_sine_phase(x: &[f32], rate: u32, freq: f64) -> (f64, f64, f64) {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let (mut ss, mut cc, mut sc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let (s, c) = (w * i as f64).sin_cos();
        let v = f64::from(v);
        ss += s * s;
        cc += c * c;
        sc += s * c;
        xs += v * s;
        xc += v * c;
    }
    let det = ss * cc - sc * sc;
    let a = (xs * cc - xc * sc) / det;
    let b = (xc * ss - xs * sc) / det;
    let (mut signal, mut residual) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let (s, c) = (w * i as f64).sin_cos();
        let fit = a * s + b * c;
        signal += fit * fit;
        residual += (f64::from(v) - fit).powi(2);
    }
    (
        (a * a + b * b).sqrt(),
        10.0 * (signal / residual.max(1e-300)).log10(),
        b.atan2(a),
    )
}

/// Writes `channels` identical copies of `mono` as a WAV with the given sample layout.
pub fn write_wav(path: &Path, mono: &[f32], rate: u32, channels: u16, bits: u16, float: bool) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in mono {
        for _ in 0..channels {
            if float {
                w.write_sample(s).unwrap();
            } else {
                let max = (1i64 << (bits - 1)) as f64;
                let v = (f64::from(s) * max).round().clamp(-max, max - 1.0) as i32;
                if bits == 8 {
                    w.write_sample(v as i8).unwrap();
                } else {
                    w.write_sample(v).unwrap();
                }
            }
        }
    }
    w.finalize().unwrap();
}
