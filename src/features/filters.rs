//! Fixed linear maps of the front-end: the mel filterbank and the orthonormal DCT-II.
//!
//! Both are built once per front-end. The filterbank is stored sparsely (each band keeps only its
//! non-zero span of FFT bins), which is what keeps a frame cheap.

use super::FrontEndParams;

/// HTK mel scale: `2595·log10(1 + f/700)`.
pub fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// One triangular mel band: weights for FFT bins `first_bin .. first_bin + weights.len()`.
#[derive(Debug, Clone)]
pub struct MelBand {
    /// Index of the first bin with a non-zero weight.
    pub first_bin: usize,
    /// Weights of consecutive bins starting at `first_bin`.
    pub weights: Vec<f64>,
}

/// The mel filterbank of `docs/frontend.md` (librosa's `filters.mel(htk=True, norm=None)`).
#[derive(Debug, Clone)]
pub struct MelFilterbank {
    bands: Vec<MelBand>,
    n_bins: usize,
}

impl MelFilterbank {
    /// Builds the filterbank for `params` (assumed valid).
    pub fn new(params: &FrontEndParams) -> Self {
        let n_bins = params.n_bins();
        let mel_min = hz_to_mel(params.fmin);
        let mel_max = hz_to_mel(params.fmax);
        let points = params.n_mels + 2;
        let edges: Vec<f64> = (0..points)
            .map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (points - 1) as f64))
            .collect();
        let bin_hz = f64::from(params.sample_rate) / params.n_fft as f64;
        let bands = (0..params.n_mels)
            .map(|m| {
                let (lo, centre, hi) = (edges[m], edges[m + 1], edges[m + 2]);
                let weights: Vec<(usize, f64)> = (0..n_bins)
                    .filter_map(|k| {
                        let f = k as f64 * bin_hz;
                        let rising = (f - lo) / (centre - lo);
                        let falling = (hi - f) / (hi - centre);
                        let w = rising.min(falling).max(0.0);
                        (w > 0.0).then_some((k, w))
                    })
                    .collect();
                match weights.first() {
                    Some(&(first_bin, _)) => MelBand {
                        first_bin,
                        weights: weights.iter().map(|&(_, w)| w).collect(),
                    },
                    None => MelBand {
                        first_bin: 0,
                        weights: Vec::new(),
                    },
                }
            })
            .collect();
        Self { bands, n_bins }
    }

    /// The bands, lowest first.
    pub fn bands(&self) -> &[MelBand] {
        &self.bands
    }

    /// The dense matrix (`n_mels` rows × `n_bins` columns), for inspection and tests.
    pub fn dense(&self) -> Vec<Vec<f64>> {
        self.bands
            .iter()
            .map(|band| {
                let mut row = vec![0.0; self.n_bins];
                row[band.first_bin..band.first_bin + band.weights.len()]
                    .copy_from_slice(&band.weights);
                row
            })
            .collect()
    }

    /// Applies the filterbank to a power spectrum of `n_bins` values, writing `n_mels` energies.
    pub fn apply(&self, power: &[f64], energies: &mut [f64]) {
        for (band, out) in self.bands.iter().zip(energies.iter_mut()) {
            let span = &power[band.first_bin..band.first_bin + band.weights.len()];
            *out = span.iter().zip(&band.weights).map(|(p, w)| p * w).sum();
        }
    }
}

/// Orthonormal DCT-II keeping the first `n_out` of `n_in` coefficients
/// (`scipy.fft.dct(x, type=2, norm="ortho")[:n_out]`).
#[derive(Debug, Clone)]
pub struct Dct {
    n_in: usize,
    /// Row-major `n_out × n_in` basis.
    basis: Vec<f64>,
}

impl Dct {
    /// Builds the basis.
    pub fn new(n_in: usize, n_out: usize) -> Self {
        let n = n_in as f64;
        let mut basis = Vec::with_capacity(n_in * n_out);
        for k in 0..n_out {
            let scale = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            for i in 0..n_in {
                let angle = std::f64::consts::PI * k as f64 * (2.0 * i as f64 + 1.0) / (2.0 * n);
                basis.push(scale * angle.cos());
            }
        }
        Self { n_in, basis }
    }

    /// Transforms `input` (`n_in` values) into `output` (`n_out` values).
    pub fn apply(&self, input: &[f64], output: &mut [f64]) {
        for (row, out) in self.basis.chunks_exact(self.n_in).zip(output.iter_mut()) {
            *out = row.iter().zip(input).map(|(b, x)| b * x).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 20.0, 440.0, 1000.0, 7600.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-9);
        }
        assert!((hz_to_mel(1000.0) - 999.985_6).abs() < 1e-3);
    }

    #[test]
    fn bands_are_triangles_that_peak_near_one() {
        let params = FrontEndParams::default();
        let bank = MelFilterbank::new(&params);
        assert_eq!(bank.bands().len(), 40);
        for band in bank.bands() {
            assert!(!band.weights.is_empty());
            let peak = band.weights.iter().cloned().fold(0.0, f64::max);
            assert!(peak > 0.3 && peak <= 1.0, "peak {peak}");
        }
        // Bands move upwards in frequency.
        let firsts: Vec<usize> = bank.bands().iter().map(|b| b.first_bin).collect();
        assert!(firsts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn dct_is_orthonormal() {
        let n = 8;
        let dct = Dct::new(n, n);
        for a in 0..n {
            for b in 0..n {
                let dot: f64 = (0..n)
                    .map(|i| dct.basis[a * n + i] * dct.basis[b * n + i])
                    .sum();
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-12);
            }
        }
        let mut out = [0.0; 8];
        dct.apply(&[1.0; 8], &mut out);
        assert!((out[0] - 8f64.sqrt()).abs() < 1e-12);
        assert!(out[1..].iter().all(|v| v.abs() < 1e-12));
    }
}
