//! Voice activity detection for endpointing commands: an adaptive energy detector.
//!
//! Each hop of audio (10 ms) gets its level in dBFS. A noise floor follows the quietest recent
//! levels (it drops at once, rises slowly), and a hop is speech when it stands `margin_db` above
//! the floor and above an absolute minimum. A short hangover bridges the gaps between syllables.
//! It needs no model and costs a few operations per sample; its limits (loud non-speech noise
//! counts as speech) are why the command capture also has a maximum length.

/// Settings of the energy detector.
#[derive(Debug, Clone, PartialEq)]
pub struct VadSettings {
    /// Samples per decision (the front-end hop).
    pub hop: usize,
    /// Level above the noise floor that counts as speech, in dB.
    pub margin_db: f32,
    /// Levels below this are never speech, in dBFS.
    pub min_speech_dbfs: f32,
    /// Decisions held after the level falls, in hops.
    pub hangover_hops: usize,
    /// How fast the floor rises towards louder levels (per hop, 0–1).
    pub floor_rise: f32,
}

impl Default for VadSettings {
    fn default() -> Self {
        Self {
            hop: 160,
            margin_db: 12.0,
            min_speech_dbfs: -55.0,
            hangover_hops: 15,
            floor_rise: 0.002,
        }
    }
}

/// Streaming energy VAD: feed samples, get one decision per hop.
#[derive(Debug, Clone)]
pub struct EnergyVad {
    settings: VadSettings,
    floor_db: f32,
    accumulated: f64,
    count: usize,
    hangover: usize,
    decisions: Vec<bool>,
}

impl EnergyVad {
    /// A detector with `settings`.
    pub fn new(settings: VadSettings) -> Self {
        Self {
            settings,
            floor_db: -60.0,
            accumulated: 0.0,
            count: 0,
            hangover: 0,
            decisions: Vec::new(),
        }
    }

    /// The current noise floor estimate, dBFS.
    pub fn floor_db(&self) -> f32 {
        self.floor_db
    }

    /// Feeds samples; returns the decisions of the hops completed by them.
    pub fn push(&mut self, samples: &[f32]) -> &[bool] {
        self.decisions.clear();
        for &s in samples {
            self.accumulated += f64::from(s) * f64::from(s);
            self.count += 1;
            if self.count == self.settings.hop {
                let mean = self.accumulated / self.count as f64;
                let db = (10.0 * mean.max(1e-12).log10()) as f32;
                let decision = self.decide(db);
                self.decisions.push(decision);
                self.accumulated = 0.0;
                self.count = 0;
            }
        }
        &self.decisions
    }

    fn decide(&mut self, db: f32) -> bool {
        let s = &self.settings;
        let loud = db > self.floor_db + s.margin_db && db > s.min_speech_dbfs;
        if db < self.floor_db {
            self.floor_db = 0.5 * (self.floor_db + db);
        } else if !loud {
            self.floor_db += s.floor_rise * 10.0 * (db - self.floor_db);
        } else {
            self.floor_db += s.floor_rise * (db - self.floor_db);
        }
        self.floor_db = self.floor_db.max(-100.0);
        if loud {
            self.hangover = s.hangover_hops;
            true
        } else if self.hangover > 0 {
            self.hangover -= 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(seconds: f32, amplitude: f32) -> Vec<f32> {
        (0..(seconds * 16_000.0) as usize)
            .map(|i| amplitude * (i as f32 * 0.07).sin())
            .collect()
    }

    fn noise(seconds: f32, amplitude: f32) -> Vec<f32> {
        let mut state = 1u32;
        (0..(seconds * 16_000.0) as usize)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                amplitude * ((state >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
            })
            .collect()
    }

    #[test]
    fn speech_stands_out_of_steady_noise() {
        let mut vad = EnergyVad::new(VadSettings::default());
        let quiet: Vec<bool> = vad.push(&noise(2.0, 0.01)).to_vec();
        assert!(
            quiet.iter().skip(50).all(|d| !d),
            "noise alone is not speech"
        );
        let loud: Vec<bool> = vad.push(&tone(0.5, 0.3)).to_vec();
        assert!(loud.iter().filter(|d| **d).count() >= 45);
        let after: Vec<bool> = vad.push(&noise(1.0, 0.01)).to_vec();
        let held = after.iter().take_while(|d| **d).count();
        assert_eq!(held, VadSettings::default().hangover_hops);
        assert!(after[held..].iter().all(|d| !d));
    }

    #[test]
    fn digital_silence_is_never_speech() {
        let mut vad = EnergyVad::new(VadSettings::default());
        assert!(vad.push(&[0.0; 16_000]).iter().all(|d| !d));
        assert!(vad.floor_db() < -90.0);
    }
}
