//! Per-channel energy normalisation (PCEN) of log-mel frames, as specified in
//! `docs/frontend.md` ("PCEN") and computed by `features.pcen` in the Python reference.
//!
//! Per band, with `E` the floored mel energy (`exp` of the log-mel value):
//! `M[t] = (1 - s) M[t-1] + s E[t]` (started from `M[-1] = E[0]`) and
//! `P[t] = (E[t] / (eps + M[t])^alpha + delta)^root - delta^root`. The smoother is the only
//! state; it is carried across calls, so chunking never changes the output.

use serde::{Deserialize, Serialize};

use super::FrontEndError;

/// PCEN settings (`frontend.pcen` in a model's metadata).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PcenParams {
    /// Weight `s` of the newest frame in the per-band energy smoother, in (0, 1].
    pub smoothing: f64,
    /// Gain-normalisation exponent, in [0, 1].
    pub alpha: f64,
    /// Bias added before the root compression (> 0).
    pub delta: f64,
    /// Root-compression exponent, in (0, 1].
    pub root: f64,
    /// Keeps the division finite on digital silence (> 0).
    pub eps: f64,
}

impl PcenParams {
    /// Checks every setting's range.
    pub fn validate(&self) -> Result<(), FrontEndError> {
        let fail = |msg: String| Err(FrontEndError::Invalid(format!("pcen: {msg}")));
        let all = [self.smoothing, self.alpha, self.delta, self.root, self.eps];
        if all.iter().any(|v| !v.is_finite()) {
            return fail("values must be finite".into());
        }
        if !(self.smoothing > 0.0 && self.smoothing <= 1.0) {
            return fail(format!(
                "smoothing must be in (0, 1], got {}",
                self.smoothing
            ));
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return fail(format!("alpha must be in [0, 1], got {}", self.alpha));
        }
        if self.delta <= 0.0 {
            return fail(format!("delta must be > 0, got {}", self.delta));
        }
        if !(self.root > 0.0 && self.root <= 1.0) {
            return fail(format!("root must be in (0, 1], got {}", self.root));
        }
        if self.eps <= 0.0 {
            return fail(format!("eps must be > 0, got {}", self.eps));
        }
        Ok(())
    }
}

/// PCEN over a stream of log-mel frames; the smoother is carried between calls.
#[derive(Debug, Clone)]
pub struct Pcen {
    params: PcenParams,
    smooth: Vec<f64>,
    started: bool,
    offset: f64,
}

impl Pcen {
    /// A fresh stream over frames of `bands` values.
    pub fn new(params: PcenParams, bands: usize) -> Self {
        Self {
            params,
            smooth: vec![0.0; bands],
            started: false,
            offset: params.delta.powf(params.root),
        }
    }

    /// Forgets the stream: the next frame starts the smoother again.
    pub fn reset(&mut self) {
        self.started = false;
    }

    /// Replaces the log-mel `frame` by its PCEN values. The frame must have as many values as
    /// the stream has bands (extra values are left alone).
    pub fn apply(&mut self, frame: &mut [f32]) {
        let p = self.params;
        if !self.started {
            for (m, &x) in self.smooth.iter_mut().zip(frame.iter()) {
                *m = f64::from(x).exp();
            }
            self.started = true;
        }
        for (m, x) in self.smooth.iter_mut().zip(frame.iter_mut()) {
            let energy = f64::from(*x).exp();
            *m = (1.0 - p.smoothing) * *m + p.smoothing * energy;
            let gain = (p.eps + *m).powf(-p.alpha);
            *x = ((energy * gain + p.delta).powf(p.root) - self.offset) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> PcenParams {
        PcenParams {
            smoothing: 0.025,
            alpha: 0.98,
            delta: 2.0,
            root: 0.5,
            eps: 1e-6,
        }
    }

    #[test]
    fn a_steady_input_gives_the_steady_state_value() {
        let mut pcen = Pcen::new(params(), 2);
        let mut frame = [(-4.0f32), 1.0];
        for _ in 0..3 {
            frame = [-4.0, 1.0];
            pcen.apply(&mut frame);
        }
        for (i, &x) in [-4.0f64, 1.0].iter().enumerate() {
            let e = x.exp();
            let want = (e / (1e-6 + e).powf(0.98) + 2.0).sqrt() - 2f64.sqrt();
            assert!(
                (f64::from(frame[i]) - want).abs() < 1e-5,
                "{} vs {want}",
                frame[i]
            );
        }
    }

    #[test]
    fn level_changes_fade_out() {
        // 20 dB louder input: after the smoother settles the output is nearly the same.
        let run = |offset: f32| {
            let mut pcen = Pcen::new(params(), 1);
            let mut last = 0.0;
            for t in 0..400 {
                let mut f = [offset + if t % 50 < 10 { 2.0 } else { -3.0 }];
                pcen.apply(&mut f);
                last = f[0];
            }
            last
        };
        let quiet = run(0.0);
        let loud = run(20.0f32 * std::f32::consts::LN_10 / 10.0);
        assert!(
            (quiet - loud).abs() < 0.05 * quiet.abs().max(0.1),
            "{quiet} vs {loud}"
        );
    }

    #[test]
    fn chunking_does_not_change_the_output_and_reset_restarts() {
        let frames: Vec<f32> = (0..30).map(|i| ((i * 7) % 11) as f32 * 0.5 - 3.0).collect();
        let mut a = Pcen::new(params(), 3);
        let mut whole = frames.clone();
        for f in whole.chunks_mut(3) {
            a.apply(f);
        }
        a.reset();
        let mut again = frames.clone();
        for f in again.chunks_mut(3) {
            a.apply(f);
        }
        assert_eq!(whole, again);
    }

    #[test]
    fn settings_out_of_range_are_refused() {
        let mut p = params();
        p.smoothing = 0.0;
        assert!(p.validate().is_err());
        let mut p = params();
        p.root = 1.5;
        assert!(p.validate().is_err());
        let mut p = params();
        p.eps = f64::NAN;
        assert!(p.validate().is_err());
        params().validate().unwrap();
    }
}
