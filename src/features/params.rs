//! Front-end parameters: the exact description of how audio becomes features.
//!
//! The same structure is written into every audio model's metadata, read by the Python reference
//! (`training/hark_train/features.py`) and documented in `docs/frontend.md`.

use serde::{Deserialize, Serialize};

use super::{FrontEndError, PcenParams};

/// Analysis window applied to each frame before the FFT (periodic forms, as
/// `scipy.signal.get_window(name, n, fftbins=True)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// `0.5 - 0.5·cos(2πn/N)`.
    Hann,
    /// `0.54 - 0.46·cos(2πn/N)`.
    Hamming,
    /// All ones.
    Rectangular,
}

impl WindowKind {
    /// The window's `len` coefficients.
    pub fn coefficients(self, len: usize) -> Vec<f64> {
        let n = len as f64;
        (0..len)
            .map(|i| {
                let phase = 2.0 * std::f64::consts::PI * i as f64 / n;
                match self {
                    WindowKind::Hann => 0.5 - 0.5 * phase.cos(),
                    WindowKind::Hamming => 0.54 - 0.46 * phase.cos(),
                    WindowKind::Rectangular => 1.0,
                }
            })
            .collect()
    }
}

impl std::str::FromStr for WindowKind {
    type Err = FrontEndError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "hann" => Ok(WindowKind::Hann),
            "hamming" => Ok(WindowKind::Hamming),
            "rectangular" => Ok(WindowKind::Rectangular),
            other => Err(FrontEndError::Invalid(format!(
                "unknown window {other:?} (expected hann, hamming or rectangular)"
            ))),
        }
    }
}

/// Every parameter of the MFCC / log-mel front-end. See `docs/frontend.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FrontEndParams {
    /// Rate the front-end works at, in Hz; other input is resampled to it.
    pub sample_rate: u32,
    /// Analysis window length in samples.
    pub win_length: usize,
    /// Hop between frames in samples.
    pub hop_length: usize,
    /// FFT size (≥ `win_length`); frames are zero-padded at the end.
    pub n_fft: usize,
    /// Window function.
    pub window: WindowKind,
    /// Pre-emphasis coefficient (0 disables it).
    pub preemphasis: f64,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lowest band edge in Hz.
    pub fmin: f64,
    /// Highest band edge in Hz.
    pub fmax: f64,
    /// Mel energies are floored here before the natural log.
    pub log_floor: f64,
    /// Number of cepstra kept (c0 included).
    pub n_mfcc: usize,
    /// Optional per-coefficient mean for normalisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<Vec<f64>>,
    /// Optional per-coefficient standard deviation for normalisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std: Option<Vec<f64>>,
    /// Optional per-channel energy normalisation of log-mel frames, before `mean`/`std`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcen: Option<PcenParams>,
}

impl Default for FrontEndParams {
    fn default() -> Self {
        Self {
            sample_rate: 16_000,
            win_length: 400,
            hop_length: 160,
            n_fft: 512,
            window: WindowKind::Hann,
            preemphasis: 0.97,
            n_mels: 40,
            fmin: 20.0,
            fmax: 7600.0,
            log_floor: 1e-6,
            n_mfcc: 13,
            mean: None,
            std: None,
            pcen: None,
        }
    }
}

impl FrontEndParams {
    /// Checks that the parameters describe a front-end that can be built.
    pub fn validate(&self) -> Result<(), FrontEndError> {
        let fail = |msg: String| Err(FrontEndError::Invalid(msg));
        if self.sample_rate == 0 {
            return fail("sample_rate must be positive".into());
        }
        if self.win_length == 0 || self.hop_length == 0 {
            return fail("win_length and hop_length must be positive".into());
        }
        if self.n_fft < self.win_length {
            return fail(format!(
                "n_fft ({}) must be at least win_length ({})",
                self.n_fft, self.win_length
            ));
        }
        if self.n_mels == 0 {
            return fail("n_mels must be positive".into());
        }
        if self.n_mfcc == 0 || self.n_mfcc > self.n_mels {
            return fail(format!(
                "n_mfcc ({}) must be between 1 and n_mels ({})",
                self.n_mfcc, self.n_mels
            ));
        }
        let nyquist = f64::from(self.sample_rate) / 2.0;
        if !(self.fmin >= 0.0 && self.fmin < self.fmax && self.fmax <= nyquist) {
            return fail(format!(
                "need 0 <= fmin < fmax <= sample_rate/2 ({nyquist}), got fmin {} fmax {}",
                self.fmin, self.fmax
            ));
        }
        if !(self.preemphasis.is_finite() && (0.0..1.0).contains(&self.preemphasis)) {
            return fail(format!(
                "preemphasis must be in [0, 1), got {}",
                self.preemphasis
            ));
        }
        if !(self.log_floor.is_finite() && self.log_floor > 0.0) {
            return fail(format!(
                "log_floor must be positive, got {}",
                self.log_floor
            ));
        }
        match (&self.mean, &self.std) {
            (None, None) => {}
            (Some(mean), Some(std)) => {
                if mean.len() != std.len() {
                    return fail(format!(
                        "mean has {} values but std has {}",
                        mean.len(),
                        std.len()
                    ));
                }
                if mean.iter().any(|m| !m.is_finite()) {
                    return fail("mean holds a non-finite value".into());
                }
                if std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                    return fail("std values must be positive and finite".into());
                }
            }
            _ => return fail("mean and std must be given together".into()),
        }
        if let Some(pcen) = &self.pcen {
            pcen.validate()?;
        }
        Ok(())
    }

    /// Number of FFT bins in the power spectrum (`n_fft / 2 + 1`).
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Frames produced by `n_samples` samples: `1 + (n - win) / hop`, or 0 when too short.
    pub fn frame_count(&self, n_samples: usize) -> usize {
        if n_samples < self.win_length {
            0
        } else {
            1 + (n_samples - self.win_length) / self.hop_length
        }
    }

    /// True when two front-ends compute the same features (normalisation and PCEN aside: both
    /// are applied per model).
    pub fn same_features(&self, other: &Self) -> bool {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        self.sample_rate == other.sample_rate
            && self.win_length == other.win_length
            && self.hop_length == other.hop_length
            && self.n_fft == other.n_fft
            && self.window == other.window
            && close(self.preemphasis, other.preemphasis)
            && self.n_mels == other.n_mels
            && close(self.fmin, other.fmin)
            && close(self.fmax, other.fmax)
            && close(self.log_floor, other.log_floor)
            && self.n_mfcc == other.n_mfcc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        FrontEndParams::default().validate().unwrap();
    }

    #[test]
    fn frame_count_boundaries() {
        let p = FrontEndParams::default();
        assert_eq!(p.frame_count(0), 0);
        assert_eq!(p.frame_count(399), 0);
        assert_eq!(p.frame_count(400), 1);
        assert_eq!(p.frame_count(559), 1);
        assert_eq!(p.frame_count(560), 2);
        assert_eq!(p.frame_count(16_000), 98);
    }

    #[test]
    fn invalid_parameters_are_named() {
        let mut p = FrontEndParams {
            n_fft: 256,
            ..Default::default()
        };
        let err = p.validate().unwrap_err().to_string();
        assert!(err.contains("n_fft"), "{err}");
        p.n_fft = 512;
        p.fmax = 9000.0;
        assert!(p.validate().unwrap_err().to_string().contains("fmax"));
        p.fmax = 7600.0;
        p.mean = Some(vec![0.0; 13]);
        assert!(p.validate().unwrap_err().to_string().contains("together"));
        p.std = Some(vec![0.0; 13]);
        assert!(p.validate().unwrap_err().to_string().contains("std"));
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = serde_json::from_str::<FrontEndParams>(r#"{"n_mels": 40, "nmfcc": 13}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nmfcc"), "{err}");
    }

    #[test]
    fn window_formulas() {
        let hann = WindowKind::Hann.coefficients(4);
        let expected = [0.0, 0.5, 1.0, 0.5];
        for (a, b) in hann.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12);
        }
        let hamming = WindowKind::Hamming.coefficients(4);
        assert!((hamming[0] - 0.08).abs() < 1e-12);
        assert!((hamming[2] - 1.0).abs() < 1e-12);
    }
}
