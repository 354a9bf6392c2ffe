//! Decimation by a small integer factor (48 → 16 kHz, 32 → 16 kHz, …) with a linear-phase FIR
//! filter, computed only at the kept samples.
//!
//! The always-on path of a Raspberry Pi with a 48 kHz-only microphone spends more on resampling
//! with a general-purpose FFT resampler than on the keyword model; an integer factor needs only a
//! low-pass filter evaluated at every `factor`-th input sample. The filter is a Kaiser-windowed
//! sinc: passband to 0.475 of the output rate, 60 dB down from 0.525 of it, so that whatever
//! folds back lands above 0.475 of the output rate (7.6 kHz at 16 kHz: the front-end's highest
//! mel band ends there). Its delay, a whole number of output samples, is trimmed, so output
//! sample `j` is centred on input sample `j · factor`.

/// Largest factor handled here (beyond it the filter grows long).
pub(crate) const MAX_FACTOR: u32 = 8;

/// Passband edge and stopband start as fractions of the output rate.
const PASS: f64 = 0.475;
const STOP: f64 = 0.525;
/// Stopband attenuation, dB.
const ATTENUATION_DB: f64 = 60.0;

/// Streaming decimator for one mono channel.
#[derive(Debug, Clone)]
pub struct Decimator {
    factor: usize,
    taps: Vec<f32>,
    /// The last `taps.len() - 1` inputs (zeros before the stream), then the new ones.
    window: Vec<f32>,
    /// Input samples seen since the last kept one.
    phase: usize,
    /// Leading outputs still to drop (the filter's delay).
    delay_left: usize,
}

impl Decimator {
    /// A decimator by `factor` (2 ..= [`MAX_FACTOR`]).
    pub fn new(factor: u32) -> Option<Self> {
        if !(2..=MAX_FACTOR).contains(&factor) {
            return None;
        }
        let k = factor as usize;
        let mut decimator = Self {
            factor: k,
            taps: design(k),
            window: Vec::new(),
            phase: 0,
            delay_left: 0,
        };
        decimator.reset();
        Some(decimator)
    }

    /// Decimates `input`, appending the outputs it completes to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        let n = self.taps.len();
        let history = n - 1;
        self.window.extend_from_slice(input);
        // Input i (counted in `window`) completes an output when (phase + i) % factor == 0.
        let first = (self.factor - self.phase % self.factor) % self.factor;
        let mut i = first;
        while i < input.len() {
            let end = history + i + 1;
            let y = dot(&self.taps, &self.window[end - n..end]);
            if self.delay_left > 0 {
                self.delay_left -= 1;
            } else {
                out.push(y);
            }
            i += self.factor;
        }
        self.phase = (self.phase + input.len()) % self.factor;
        let keep_from = self.window.len() - history;
        self.window.drain(..keep_from);
    }

    /// Flushes the filter's delay with zeros, appending the last outputs to `out`, and starts a
    /// new stream.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        // Output j needs inputs up to j·factor + half: half zeros complete the last one.
        let zeros = vec![0.0; (self.taps.len() - 1) / 2];
        self.process(&zeros, out);
        self.reset();
    }

    /// Forgets the stream.
    pub fn reset(&mut self) {
        self.window.clear();
        self.window.resize(self.taps.len() - 1, 0.0);
        self.phase = 0;
        self.delay_left = (self.taps.len() - 1) / 2 / self.factor;
    }
}

/// Kaiser-windowed sinc low-pass for decimation by `k`, of odd length `2·k·m + 1` (so that its
/// delay is `m` output samples), normalised to unit gain at DC.
fn design(k: usize) -> Vec<f32> {
    let kf = k as f64;
    // Edges as fractions of the input rate.
    let pass = PASS / kf;
    let stop = STOP / kf;
    let transition = stop - pass;
    let beta = 0.1102 * (ATTENUATION_DB - 8.7);
    let estimate = (ATTENUATION_DB - 8.0) / (2.285 * 2.0 * std::f64::consts::PI * transition);
    let m = (estimate / (2.0 * kf)).ceil().max(1.0) as usize;
    let n = 2 * k * m + 1;
    let centre = (n - 1) as f64 / 2.0;
    let cutoff = (pass + stop) / 2.0;
    let i0_beta = bessel_i0(beta);
    let mut taps: Vec<f64> = (0..n)
        .map(|i| {
            let t = i as f64 - centre;
            let sinc = if t == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t)
            };
            let r = t / centre;
            let kaiser = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
            sinc * kaiser
        })
        .collect();
    let sum: f64 = taps.iter().sum();
    for t in &mut taps {
        *t /= sum;
    }
    taps.into_iter().map(|t| t as f32).collect()
}

/// Modified Bessel function of the first kind, order 0 (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..64 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Dot product in eight independent lanes, which the compiler turns into SIMD (NEON, SSE/AVX)
/// without reassociating any one sum.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    let mut lanes = [0.0f32; 8];
    for (x, y) in a8.iter().zip(b8) {
        for ((acc, &p), &q) in lanes.iter_mut().zip(x).zip(y) {
            *acc += p * q;
        }
    }
    let tail: f32 = a_rest.iter().zip(b_rest).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / rate).sin() as f32)
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
    }

    fn decimate(x: &[f32], k: u32, chunk: usize) -> Vec<f32> {
        let mut d = Decimator::new(k).unwrap();
        let mut out = Vec::new();
        for c in x.chunks(chunk) {
            d.process(c, &mut out);
        }
        d.finish(&mut out);
        out
    }

    #[test]
    fn passband_keeps_level_and_phase_and_stopband_is_60_db_down() {
        let x = tone(1000.0, 48_000.0, 48_000);
        let y = decimate(&x, 3, 480);
        let want = tone(1000.0, 16_000.0, 16_000);
        // Away from the edges, output j is input 3j filtered: the same tone, same phase.
        let diff: Vec<f32> = y[200..15_800]
            .iter()
            .zip(&want[200..15_800])
            .map(|(a, b)| a - b)
            .collect();
        assert!(rms(&diff) < 1e-3, "{}", rms(&diff));
        // 7.5 kHz is kept (0.1 dB), 9 kHz (folding to 7 kHz) is removed.
        let kept = decimate(&tone(7_500.0, 48_000.0, 48_000), 3, 1000);
        assert!((rms(&kept[500..15_500]) / (0.5f64).sqrt() - 1.0).abs() < 0.012);
        let folded = decimate(&tone(9_000.0, 48_000.0, 48_000), 3, 1000);
        let db = 20.0 * (rms(&folded[500..15_500]) / (0.5f64).sqrt()).log10();
        assert!(db < -55.0, "{db} dB");
    }

    #[test]
    fn chunking_does_not_change_the_output_and_lengths_add_up() {
        let x: Vec<f32> = (0..10_007)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let whole = decimate(&x, 3, x.len());
        for chunk in [1, 2, 3, 7, 160, 4096] {
            assert_eq!(decimate(&x, 3, chunk), whole, "chunk {chunk}");
        }
        // ceil(n / k) outputs, one per kept input (the caller trims to round(n / k)).
        assert_eq!(whole.len(), x.len().div_ceil(3));
        assert!(Decimator::new(1).is_none() && Decimator::new(9).is_none());
        for k in 2..=MAX_FACTOR {
            let d = Decimator::new(k).unwrap();
            assert_eq!((d.taps.len() - 1) % (2 * k as usize), 0);
        }
    }
}
