//! Audio input: WAV in every common sample layout, FLAC, Ogg Vorbis and MP3, at several rates and
//! channel counts, all decoded to mono f32 with their rate; and resampling to 16 kHz that keeps a
//! tone's frequency and level.

mod common;

use hark::audio::{AudioError, AudioSource, FileSource, StreamResampler, read_all};

fn decode(path: &std::path::Path) -> (Vec<f32>, u32) {
    let mut src = FileSource::open(path).unwrap();
    let all = read_all(&mut src as &mut dyn AudioSource).unwrap();
    (all.samples, all.sample_rate)
}

#[test]
fn wav_sample_layouts_decode_to_the_same_signal() {
    let dir = tempfile::tempdir().unwrap();
    let tone = common::sine(1000.0, 0.5, 16_000, 0.25);
    for (bits, float) in [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ] {
        for channels in [1u16, 2] {
            let path = dir.path().join(format!("t{bits}{float}{channels}.wav"));
            common::write_wav(&path, &tone, 16_000, channels, bits, float);
            let (got, rate) = decode(&path);
            assert_eq!(rate, 16_000);
            assert_eq!(
                got.len(),
                tone.len(),
                "{bits}-bit float={float} ch={channels}"
            );
            let tol = if bits == 8 { 1.0 / 64.0 } else { 1e-4 };
            let worst = got
                .iter()
                .zip(&tone)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(worst <= tol, "{bits}-bit float={float}: off by {worst}");
        }
    }
}

#[test]
fn compressed_formats_decode_with_rate_and_length() {
    let dir = common::fixtures().join("formats");
    for (name, rate) in [
        ("tone_44k1_stereo.flac", 44_100),
        ("tone_22k05.ogg", 22_050),
        ("tone_48k.mp3", 48_000),
    ] {
        let (samples, got_rate) = decode(&dir.join(name));
        assert_eq!(got_rate, rate, "{name}");
        let seconds = samples.len() as f64 / f64::from(rate);
        assert!((0.45..0.6).contains(&seconds), "{name}: {seconds} s");
        let middle = &samples[samples.len() / 4..samples.len() * 3 / 4];
        let (amplitude, snr) = common::fit_sine(middle, rate, 1000.0);
        assert!(
            (amplitude - 0.5).abs() < 0.03,
            "{name}: amplitude {amplitude}"
        );
        assert!(snr > 25.0, "{name}: tone SNR {snr} dB");
    }
}

#[test]
fn resampling_keeps_frequency_level_and_length() {
    for rate in [
        8_000u32, 11_025, 22_050, 32_000, 44_100, 48_000, 16_000, 12_345,
    ] {
        for freq in [440.0, 1_000.0, 3_000.0] {
            if freq > 0.4 * f64::from(rate.min(16_000)) {
                continue; // keep away from the band edge
            }
            let seconds = 1.3;
            let input = common::sine(freq, 0.5, rate, seconds);
            let mut r = StreamResampler::new(rate, 16_000, "test").unwrap();
            let mut out = Vec::new();
            for piece in input.chunks(777) {
                r.process(piece, &mut out).unwrap();
            }
            r.finish(&mut out).unwrap();
            let expected = (input.len() as u64 * 16_000 + u64::from(rate) / 2) / u64::from(rate);
            assert_eq!(out.len() as u64, expected, "{rate} Hz: output length");
            // Judge the steady state, away from the abrupt start and end of the tone.
            let steady = &out[1_600..out.len() - 1_600];
            let (amplitude, snr) = common::fit_sine(steady, 16_000, freq);
            assert!(
                (amplitude - 0.5).abs() < 0.005,
                "{rate} Hz, {freq} Hz: amplitude {amplitude}"
            );
            assert!(snr >= 60.0, "{rate} Hz, {freq} Hz: SNR {snr:.1} dB");
            // The output is aligned with the input to within one output sample.
            let start = 1_600;
            let (_, _, phase) = common::fit_sine_phase(steady, 16_000, freq);
            let w = 2.0 * std::f64::consts::PI * freq / 16_000.0;
            let expected_phase = (w * start as f64).rem_euclid(2.0 * std::f64::consts::PI);
            let mut lag = (expected_phase - phase).rem_euclid(2.0 * std::f64::consts::PI);
            if lag > std::f64::consts::PI {
                lag -= 2.0 * std::f64::consts::PI;
            }
            let lag_samples = lag / w;
            assert!(
                lag_samples.abs() <= 1.0,
                "{rate} Hz, {freq} Hz: lags {lag_samples:.2} samples"
            );
        }
    }
}

#[test]
fn chunk_size_does_not_change_resampled_output() {
    let input = common::sine(700.0, 0.3, 44_100, 0.7);
    let run = |chunk: usize| {
        let mut r = StreamResampler::new(44_100, 16_000, "test").unwrap();
        let mut out = Vec::new();
        for piece in input.chunks(chunk) {
            r.process(piece, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        out
    };
    let whole = run(input.len());
    for chunk in [1, 100, 1024, 5000] {
        let got = run(chunk);
        assert_eq!(got.len(), whole.len());
        let worst = got
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-6, "chunk {chunk}: {worst}");
    }
}

#[test]
fn nan_in_a_float_wav_is_reported_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.wav");
    let mut tone = common::sine(440.0, 0.5, 16_000, 0.1);
    tone[1234] = f32::NAN;
    common::write_wav(&path, &tone, 16_000, 1, 32, true);
    let mut src = FileSource::open(&path).unwrap();
    let err = read_all(&mut src as &mut dyn AudioSource).unwrap_err();
    assert!(
        matches!(err, AudioError::NonFinite { index: 1234, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("nan.wav"));
}
