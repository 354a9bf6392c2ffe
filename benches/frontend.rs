//! Front-end cost: seconds of CPU per second of audio (real-time factor = time per iteration /
//! 10 s of audio), for MFCC at 16 kHz, for 48 kHz audio resampled first, and for the resampler
//! alone as the baseline measured in the same run.
//!
//! Run with `cargo bench --bench frontend`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hark::audio::StreamResampler;
use hark::features::{FeatureKind, FrontEnd, FrontEndParams};

const SECONDS: f64 = 10.0;

/// A speech-like test signal: a few drifting harmonics plus noise (deterministic).
fn signal(rate: u32) -> Vec<f32> {
    let n = (SECONDS * f64::from(rate)) as usize;
    let mut state = 0x2545_f491_u32;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f0 = 120.0 + 40.0 * (2.0 * std::f64::consts::PI * 0.5 * t).sin();
            let voiced: f64 = (1..6)
                .map(|h| (2.0 * std::f64::consts::PI * f0 * f64::from(h) * t).sin() / f64::from(h))
                .sum();
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = f64::from(state) / f64::from(u32::MAX) - 0.5;
            (0.2 * voiced + 0.02 * noise) as f32
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let audio16 = signal(16_000);
    let audio48 = signal(48_000);
    let mut group = c.benchmark_group("frontend_10s");
    group.throughput(Throughput::Elements(SECONDS as u64));
    group.sample_size(30);

    let mut mfcc = FrontEnd::new(FrontEndParams::default(), FeatureKind::Mfcc).unwrap();
    group.bench_function("mfcc_16k", |b| {
        b.iter(|| {
            mfcc.reset();
            let mut sum = 0.0f32;
            for chunk in audio16.chunks(1_600) {
                mfcc.process(chunk, |f| sum += f[0]).unwrap();
            }
            black_box(sum)
        })
    });

    let mut logmel = FrontEnd::new(FrontEndParams::default(), FeatureKind::LogMel).unwrap();
    group.bench_function("logmel_16k", |b| {
        b.iter(|| {
            logmel.reset();
            let mut sum = 0.0f32;
            for chunk in audio16.chunks(1_600) {
                logmel.process(chunk, |f| sum += f[0]).unwrap();
            }
            black_box(sum)
        })
    });

    let mut resampler = StreamResampler::new(48_000, 16_000, "bench").unwrap();
    let mut resampled = Vec::with_capacity(4_800);
    group.bench_function("resample_48k_to_16k", |b| {
        b.iter(|| {
            resampler.reset();
            let mut n = 0;
            for chunk in audio48.chunks(4_800) {
                resampled.clear();
                resampler.process(chunk, &mut resampled).unwrap();
                n += resampled.len();
            }
            black_box(n)
        })
    });

    group.bench_function("resample_48k_then_mfcc", |b| {
        b.iter(|| {
            resampler.reset();
            mfcc.reset();
            let mut sum = 0.0f32;
            for chunk in audio48.chunks(4_800) {
                resampled.clear();
                resampler.process(chunk, &mut resampled).unwrap();
                mfcc.process(&resampled, |f| sum += f[0]).unwrap();
            }
            black_box(sum)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
