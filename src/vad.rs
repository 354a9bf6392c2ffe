//! Voice activity detection for endpointing commands.
//!
//! [`EnergyVad`] is an adaptive energy detector that runs all the time (it costs a few operations
//! per sample). [`CommandVad`] adds the neural detector of [`crate::models::vad`] while a command
//! is being heard: measured on commands over real noise and music, the energy detector lets the
//! background keep a command open until its maximum length in about a quarter of the cases, the
//! neural one almost never (`models/vad.md`). The neural detector is too costly to run always, so
//! it is switched on at the start of a command and warmed on the last half second of audio.
//!
//! The energy detector:
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

/// Holds a speech decision for `hops` hops after the raw decision falls, bridging the gaps
/// between syllables.
#[derive(Debug, Clone)]
struct Hangover {
    hops: usize,
    left: usize,
}

impl Hangover {
    fn new(hops: usize) -> Self {
        Self { hops, left: 0 }
    }

    /// The held decision for this hop's raw decision.
    fn update(&mut self, speech: bool) -> bool {
        if speech {
            self.left = self.hops;
            true
        } else if self.left > 0 {
            self.left -= 1;
            true
        } else {
            false
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
    hangover: Hangover,
    decisions: Vec<bool>,
}

impl EnergyVad {
    /// A detector with `settings`.
    pub fn new(settings: VadSettings) -> Self {
        Self {
            hangover: Hangover::new(settings.hangover_hops),
            settings,
            floor_db: -60.0,
            accumulated: 0.0,
            count: 0,
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
        self.hangover.update(loud)
    }

    /// Samples of the hop in progress.
    fn samples_into_hop(&self) -> usize {
        self.count
    }
}

/// Per-hop speech decisions for command capture: the energy detector, replaced by the neural
/// one while [`CommandVad::activate`]d.
pub struct CommandVad {
    energy: EnergyVad,
    neural: Option<NeuralGate>,
    hop: usize,
    decisions: Vec<bool>,
}

struct NeuralGate {
    stream: crate::models::vad::VadStream,
    active: bool,
    hangover: Hangover,
    /// The last samples heard, to warm the detector when it is switched on.
    recent: std::collections::VecDeque<f32>,
    recent_len: usize,
}

impl CommandVad {
    /// The energy detector alone.
    pub fn energy(settings: VadSettings) -> Self {
        Self {
            hop: settings.hop,
            energy: EnergyVad::new(settings),
            neural: None,
            decisions: Vec::new(),
        }
    }

    /// The energy detector, and `model` while a command is heard.
    pub fn with_model(
        settings: VadSettings,
        model: std::sync::Arc<crate::models::vad::VadModel>,
    ) -> Self {
        let rate = model.spec().sample_rate as usize;
        let hangover_hops = settings.hangover_hops;
        let vad_hop = settings.hop;
        let mut vad = Self::energy(settings);
        vad.neural = Some(NeuralGate {
            stream: crate::models::vad::VadStream::new(model),
            active: false,
            hangover: Hangover::new(hangover_hops),
            recent: std::collections::VecDeque::with_capacity(rate / 2 + vad_hop),
            recent_len: rate / 2,
        });
        vad
    }

    /// Whether a neural detector is available.
    pub fn has_model(&self) -> bool {
        self.neural.is_some()
    }

    /// Switches the neural detector on (from a fresh state, warmed on the recent audio).
    pub fn activate(&mut self) -> Result<(), crate::models::ModelError> {
        if let Some(g) = self.neural.as_mut() {
            g.stream.reset();
            let (a, b) = g.recent.as_slices();
            g.stream.push(a)?;
            g.stream.push(b)?;
            g.hangover.left = 0;
            g.hangover.update(g.stream.is_speech());
            g.active = true;
        }
        Ok(())
    }

    /// Back to the energy detector alone.
    pub fn deactivate(&mut self) {
        if let Some(g) = self.neural.as_mut() {
            g.active = false;
        }
    }

    /// Feeds samples; returns a decision for each hop they complete.
    pub fn push(&mut self, mut samples: &[f32]) -> Result<&[bool], crate::models::ModelError> {
        self.decisions.clear();
        while !samples.is_empty() {
            let take = (self.hop - self.energy.samples_into_hop()).min(samples.len());
            let (part, rest) = samples.split_at(take);
            samples = rest;
            let energy = self.energy.push(part).first().copied();
            if let Some(g) = self.neural.as_mut() {
                // `part` is at most one hop: the buffer never outgrows its capacity.
                g.recent.extend(part);
                let excess = g.recent.len().saturating_sub(g.recent_len);
                g.recent.drain(..excess);
                if g.active {
                    g.stream.push(part)?;
                }
            }
            let Some(energy) = energy else { continue };
            let decision = match self.neural.as_mut() {
                Some(g) if g.active => g.hangover.update(g.stream.is_speech()),
                _ => energy,
            };
            self.decisions.push(decision);
        }
        Ok(&self.decisions)
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
