//! The streaming front-end: audio samples in, one feature vector per hop out.
//!
//! Feeding a signal in chunks of any size yields exactly the frames that feeding it whole yields:
//! pre-emphasis runs over the continuous stream and a frame is computed only once all of its
//! samples have arrived. All buffers are allocated when the front-end is built (the pending-sample
//! buffer grows to the largest chunk seen and then stays), so the per-frame path never allocates.
//! Arithmetic is done in f64 and the output rounded to f32, which keeps the Rust and Python
//! front-ends within 1e-4 of each other even in the quiet bands of loud frames.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::filters::{Dct, MelFilterbank};
use super::{FrontEndError, FrontEndParams};

/// Which features the front-end emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// Natural log of the mel band energies (`n_mels` values).
    LogMel,
    /// Orthonormal DCT-II of the log-mel values (`n_mfcc` values).
    Mfcc,
}

/// A matrix of frames: `rows` frames of `cols` coefficients, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix {
    /// Row-major values.
    pub data: Vec<f32>,
    /// Number of frames.
    pub rows: usize,
    /// Coefficients per frame.
    pub cols: usize,
}

impl FeatureMatrix {
    /// Frame `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// Streaming MFCC / log-mel extractor.
pub struct FrontEnd {
    params: FrontEndParams,
    kind: FeatureKind,
    window: Vec<f64>,
    filterbank: MelFilterbank,
    dct: Dct,
    fft: Arc<dyn RealToComplex<f64>>,
    fft_in: Vec<f64>,
    fft_out: Vec<Complex<f64>>,
    fft_scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
    log_mel: Vec<f64>,
    cepstra: Vec<f64>,
    output: Vec<f32>,
    normalisation: Option<(Vec<f64>, Vec<f64>)>,
    pending: Vec<f64>,
    skip: usize,
    previous_sample: f64,
    samples_seen: u64,
    frames_emitted: u64,
}

impl FrontEnd {
    /// Builds a front-end emitting `kind` features, after validating `params`.
    ///
    /// When `params` carries `mean`/`std`, their length must equal the emitted dimension.
    pub fn new(params: FrontEndParams, kind: FeatureKind) -> Result<Self, FrontEndError> {
        params.validate()?;
        let dim = match kind {
            FeatureKind::LogMel => params.n_mels,
            FeatureKind::Mfcc => params.n_mfcc,
        };
        let normalisation = match (&params.mean, &params.std) {
            (Some(mean), Some(std)) => {
                if mean.len() != dim {
                    return Err(FrontEndError::Invalid(format!(
                        "normalisation has {} coefficients but the front-end emits {dim}",
                        mean.len()
                    )));
                }
                Some((mean.clone(), std.clone()))
            }
            _ => None,
        };
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(params.n_fft);
        Ok(Self {
            window: params.window.coefficients(params.win_length),
            filterbank: MelFilterbank::new(&params),
            dct: Dct::new(params.n_mels, params.n_mfcc),
            fft_in: fft.make_input_vec(),
            fft_out: fft.make_output_vec(),
            fft_scratch: fft.make_scratch_vec(),
            fft,
            power: vec![0.0; params.n_bins()],
            log_mel: vec![0.0; params.n_mels],
            cepstra: vec![0.0; params.n_mfcc],
            output: vec![0.0; dim],
            normalisation,
            pending: Vec::with_capacity(params.win_length * 4),
            skip: 0,
            previous_sample: 0.0,
            samples_seen: 0,
            frames_emitted: 0,
            params,
            kind,
        })
    }

    /// The parameters in force.
    pub fn params(&self) -> &FrontEndParams {
        &self.params
    }

    /// The kind of features emitted.
    pub fn kind(&self) -> FeatureKind {
        self.kind
    }

    /// Coefficients per frame.
    pub fn dim(&self) -> usize {
        self.output.len()
    }

    /// Frames emitted since creation or the last [`reset`](Self::reset).
    pub fn frames_emitted(&self) -> u64 {
        self.frames_emitted
    }

    /// Forgets all buffered audio, as if freshly built.
    pub fn reset(&mut self) {
        self.pending.clear();
        self.skip = 0;
        self.previous_sample = 0.0;
        self.samples_seen = 0;
        self.frames_emitted = 0;
    }

    /// Feeds samples (at `params.sample_rate`); calls `on_frame` for each completed frame.
    ///
    /// A non-finite sample is refused before anything is buffered, so the stream state is left as
    /// it was before the call.
    pub fn process(
        &mut self,
        samples: &[f32],
        mut on_frame: impl FnMut(&[f32]),
    ) -> Result<(), FrontEndError> {
        if let Some(offset) = samples.iter().position(|s| !s.is_finite()) {
            return Err(FrontEndError::NonFiniteSample {
                index: self.samples_seen + offset as u64,
            });
        }
        self.samples_seen += samples.len() as u64;
        let a = self.params.preemphasis;
        let mut previous = self.previous_sample;
        self.pending.extend(samples.iter().map(|&s| {
            let x = f64::from(s);
            let y = x - a * previous;
            previous = x;
            y
        }));
        self.previous_sample = previous;

        let drop_now = self.skip.min(self.pending.len());
        self.skip -= drop_now;
        let mut start = drop_now;
        let (win, hop) = (self.params.win_length, self.params.hop_length);
        while self.skip == 0 && self.pending.len() - start >= win {
            self.compute_frame(start);
            on_frame(&self.output);
            self.frames_emitted += 1;
            start += hop;
            if start > self.pending.len() {
                self.skip = start - self.pending.len();
                start = self.pending.len();
            }
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Runs a whole signal through a fresh stream and collects the frames.
    pub fn compute_all(&mut self, samples: &[f32]) -> Result<FeatureMatrix, FrontEndError> {
        self.reset();
        let cols = self.dim();
        let mut data = Vec::with_capacity(self.params.frame_count(samples.len()) * cols);
        self.process(samples, |frame| data.extend_from_slice(frame))?;
        Ok(FeatureMatrix {
            rows: data.len() / cols.max(1),
            data,
            cols,
        })
    }

    fn compute_frame(&mut self, start: usize) {
        let win = self.params.win_length;
        let frame = &self.pending[start..start + win];
        for ((dst, &x), &w) in self.fft_in.iter_mut().zip(frame).zip(&self.window) {
            *dst = x * w;
        }
        self.fft_in[win..].fill(0.0);
        // Buffer sizes come from the plan itself, so the transform cannot fail.
        if self
            .fft
            .process_with_scratch(&mut self.fft_in, &mut self.fft_out, &mut self.fft_scratch)
            .is_err()
        {
            unreachable!("FFT buffers are sized by the plan");
        }
        for (p, c) in self.power.iter_mut().zip(&self.fft_out) {
            *p = c.norm_sqr();
        }
        self.filterbank.apply(&self.power, &mut self.log_mel);
        let floor = self.params.log_floor;
        for e in &mut self.log_mel {
            *e = e.max(floor).ln();
        }
        let values: &[f64] = match self.kind {
            FeatureKind::LogMel => &self.log_mel,
            FeatureKind::Mfcc => {
                self.dct.apply(&self.log_mel, &mut self.cepstra);
                &self.cepstra
            }
        };
        match &self.normalisation {
            Some((mean, std)) => {
                for (((out, v), m), s) in self.output.iter_mut().zip(values).zip(mean).zip(std) {
                    *out = ((v - m) / s) as f32;
                }
            }
            None => {
                for (out, v) in self.output.iter_mut().zip(values) {
                    *out = *v as f32;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_signal(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / 16_000.0;
                0.4 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
                    + 0.1 * (2.0 * std::f32::consts::PI * 3100.0 * t).sin()
                    + 0.01 * ((i * 7919 % 1000) as f32 / 1000.0 - 0.5)
            })
            .collect()
    }

    #[test]
    fn chunking_does_not_change_frames() {
        let signal = test_signal(16_000);
        for kind in [FeatureKind::Mfcc, FeatureKind::LogMel] {
            let mut fe = FrontEnd::new(FrontEndParams::default(), kind).unwrap();
            let whole = fe.compute_all(&signal).unwrap();
            assert_eq!(whole.rows, 98);
            for chunk in [1, 7, 159, 160, 161, 400, 1023, 5000] {
                fe.reset();
                let mut data = Vec::new();
                for piece in signal.chunks(chunk) {
                    fe.process(piece, |f| data.extend_from_slice(f)).unwrap();
                }
                assert_eq!(data, whole.data, "chunk size {chunk}");
            }
        }
    }

    #[test]
    fn hop_longer_than_window_streams_too() {
        let params = FrontEndParams {
            win_length: 200,
            hop_length: 330,
            n_fft: 256,
            ..Default::default()
        };
        let signal = test_signal(5_000);
        let mut fe = FrontEnd::new(params.clone(), FeatureKind::Mfcc).unwrap();
        let whole = fe.compute_all(&signal).unwrap();
        assert_eq!(whole.rows, params.frame_count(signal.len()));
        fe.reset();
        let mut data = Vec::new();
        for piece in signal.chunks(37) {
            fe.process(piece, |f| data.extend_from_slice(f)).unwrap();
        }
        assert_eq!(data, whole.data);
    }

    #[test]
    fn tone_energy_lands_in_the_right_band() {
        let signal: Vec<f32> = (0..4_000)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin())
            .collect();
        let params = FrontEndParams {
            preemphasis: 0.0,
            ..Default::default()
        };
        let mut fe = FrontEnd::new(params.clone(), FeatureKind::LogMel).unwrap();
        let m = fe.compute_all(&signal).unwrap();
        let row = m.row(5);
        let (loudest, _) =
            row.iter().enumerate().fold(
                (0, f32::MIN),
                |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
            );
        let bank = MelFilterbank::new(&params);
        let dense = bank.dense();
        let bin = (1000.0 * 512.0 / 16_000.0) as usize;
        let expected = (0..params.n_mels)
            .max_by(|&a, &b| dense[a][bin].total_cmp(&dense[b][bin]))
            .unwrap();
        assert_eq!(loudest, expected);
    }

    #[test]
    fn silence_sits_at_the_log_floor() {
        let mut fe = FrontEnd::new(FrontEndParams::default(), FeatureKind::LogMel).unwrap();
        let m = fe.compute_all(&[0.0; 1600]).unwrap();
        let floor = (1e-6f64).ln() as f32;
        assert!(m.data.iter().all(|v| (v - floor).abs() < 1e-6));
    }

    #[test]
    fn non_finite_samples_are_refused_with_their_position() {
        let mut fe = FrontEnd::new(FrontEndParams::default(), FeatureKind::Mfcc).unwrap();
        fe.process(&[0.0; 100], |_| {}).unwrap();
        let err = fe.process(&[0.0, 0.0, f32::NAN], |_| {}).unwrap_err();
        assert!(matches!(err, FrontEndError::NonFiniteSample { index: 102 }));
        // The refused chunk was not consumed, so the stream position is still 100.
        let err = fe.process(&[f32::INFINITY], |_| {}).unwrap_err();
        assert!(matches!(err, FrontEndError::NonFiniteSample { index: 100 }));
    }

    #[test]
    fn normalisation_must_match_the_output() {
        let params = FrontEndParams {
            mean: Some(vec![0.0; 40]),
            std: Some(vec![1.0; 40]),
            ..Default::default()
        };
        assert!(FrontEnd::new(params.clone(), FeatureKind::Mfcc).is_err());
        assert!(FrontEnd::new(params, FeatureKind::LogMel).is_ok());
    }

    #[test]
    fn short_audio_gives_no_frames() {
        let mut fe = FrontEnd::new(FrontEndParams::default(), FeatureKind::Mfcc).unwrap();
        let m = fe.compute_all(&[0.1; 399]).unwrap();
        assert_eq!(m.rows, 0);
    }
}
