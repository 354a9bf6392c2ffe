//! Skipping the keyword model through silence.
//!
//! The keyword model is most of what hark costs while it waits for a wake word. In a quiet room it
//! would spend that on frames of silence, whose posteriors are all background. [`KeywordGate`]
//! watches a permissive energy detector (6 dB above the adaptive noise floor, down to -70 dBFS):
//! after [`GateSettings::idle_after_s`] without sound the model is paused with its state as it is
//! (by then it has settled on silence), and the frames that follow are only held, the last
//! [`GateSettings::preroll_s`] of them. When sound returns the held frames are run first, so the
//! model hears the word from before its start, as if it had never paused; the frames dropped from
//! the hold are reported so that detection times stay right.
//!
//! Constant sound (a television, music, a loud fan the floor cannot settle under) keeps the gate
//! open: the saving is for quiet rooms, and the model then runs on every frame as without it.

use std::collections::VecDeque;

use crate::vad::{EnergyVad, VadSettings};

/// When the keyword model may pause.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSettings {
    /// Whether the model pauses at all.
    pub enabled: bool,
    /// Silence after which the model pauses, seconds.
    pub idle_after_s: f64,
    /// Audio run before the first sound when the model resumes, seconds.
    pub preroll_s: f64,
    /// Energy detector deciding what is sound; its `hop` is the front-end hop.
    pub vad: VadSettings,
}

impl Default for GateSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            idle_after_s: 1.0,
            preroll_s: 0.5,
            vad: VadSettings {
                margin_db: 6.0,
                min_speech_dbfs: -70.0,
                hangover_hops: 30,
                ..VadSettings::default()
            },
        }
    }
}

/// What to do with the frame just offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Run it (the model is awake).
    Run,
    /// The gate kept it (the model is paused).
    Hold,
    /// Sound is back: run the held frames and this one, oldest first ([`KeywordGate::release`]).
    Resume,
}

/// Decides frame by frame whether the keyword model runs.
#[derive(Debug)]
pub struct KeywordGate {
    enabled: bool,
    vad: EnergyVad,
    sound: VecDeque<bool>,
    idle_after: u64,
    preroll: usize,
    dim: usize,
    quiet_for: u64,
    idle: bool,
    held: VecDeque<f32>,
    dropped: u64,
    frames_run: u64,
    frames_skipped: u64,
}

impl KeywordGate {
    /// A gate for frames of `dim` values every `settings.vad.hop` samples at `sample_rate`.
    pub fn new(settings: GateSettings, sample_rate: u32, dim: usize) -> Self {
        let hop_s = settings.vad.hop as f64 / f64::from(sample_rate);
        let preroll = (settings.preroll_s / hop_s).round().max(0.0) as usize;
        Self {
            enabled: settings.enabled,
            idle_after: (settings.idle_after_s / hop_s).round().max(1.0) as u64,
            preroll,
            dim,
            vad: EnergyVad::new(settings.vad),
            sound: VecDeque::new(),
            quiet_for: 0,
            idle: false,
            held: VecDeque::with_capacity(preroll * dim),
            dropped: 0,
            frames_run: 0,
            frames_skipped: 0,
        }
    }

    /// Feeds the audio that the front-end is about to turn into frames (one decision per hop).
    pub fn push_samples(&mut self, samples: &[f32]) {
        if self.enabled {
            self.sound.extend(self.vad.push(samples).iter().copied());
        }
    }

    /// Offers the next (normalised) frame. While paused the gate keeps a copy.
    pub fn admit(&mut self, frame: &[f32]) -> Admit {
        if !self.enabled {
            self.frames_run += 1;
            return Admit::Run;
        }
        // A frame without a decision yet (the detector's hop lags the window) counts as sound.
        let sound = self.sound.pop_front().unwrap_or(true);
        self.quiet_for = if sound { 0 } else { self.quiet_for + 1 };
        if !self.idle {
            self.frames_run += 1;
            return Admit::Run;
        }
        if sound {
            self.idle = false;
            self.held.extend(frame.iter().copied());
            return Admit::Resume;
        }
        if self.preroll == 0 {
            self.dropped += 1;
            self.frames_skipped += 1;
            return Admit::Hold;
        }
        if self.held.len() >= self.preroll * self.dim {
            self.held.drain(..self.dim);
            self.dropped += 1;
            self.frames_skipped += 1;
        }
        self.held.extend(frame.iter().copied());
        Admit::Hold
    }

    /// Whether the model may pause now (after its pending frames have run).
    pub fn may_pause(&self) -> bool {
        self.enabled && !self.idle && self.quiet_for >= self.idle_after
    }

    /// Pauses the model; the frames that follow are held until sound returns.
    pub fn pause(&mut self) {
        self.idle = true;
        self.held.clear();
        self.dropped = 0;
    }

    /// After [`Admit::Resume`]: appends the held frames, the resuming one last, to `out` and
    /// returns how many frames were dropped before them (never run) and how many were appended.
    pub fn release(&mut self, out: &mut Vec<f32>) -> (u64, usize) {
        let held = self.held.len() / self.dim.max(1);
        out.extend(self.held.drain(..));
        self.frames_run += held as u64;
        let dropped = std::mem::take(&mut self.dropped);
        (dropped, held)
    }

    /// Frames the model ran, and frames it did not run (skipped, or held at the moment).
    pub fn counts(&self) -> (u64, u64) {
        let held = (self.held.len() / self.dim.max(1)) as u64;
        (self.frames_run, self.frames_skipped + held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: u32 = 16_000;

    fn gate(preroll_s: f64) -> KeywordGate {
        KeywordGate::new(
            GateSettings {
                idle_after_s: 0.1,
                preroll_s,
                ..GateSettings::default()
            },
            SR,
            2,
        )
    }

    fn hop(level: f32) -> Vec<f32> {
        (0..160)
            .map(|i| level * if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect()
    }

    /// Feeds one hop and offers its frame (value = hop index); returns the decision.
    fn step(g: &mut KeywordGate, i: usize, level: f32) -> Admit {
        g.push_samples(&hop(level));
        let a = g.admit(&[i as f32, i as f32]);
        if a == Admit::Run && g.may_pause() {
            g.pause();
        }
        a
    }

    #[test]
    fn pauses_in_silence_holds_the_preroll_and_resumes_on_sound() {
        let mut g = gate(0.03);
        let mut i = 0;
        // Quiet floor: the detector settles, then 0.1 s without sound pauses the model.
        let mut admits = Vec::new();
        for _ in 0..100 {
            admits.push(step(&mut g, i, 1e-4));
            i += 1;
        }
        assert!(admits.contains(&Admit::Hold), "never paused");
        let first_hold = admits.iter().position(|a| *a == Admit::Hold).unwrap();
        assert!(admits[first_hold..].iter().all(|a| *a == Admit::Hold));
        // Sound: resume, with the last 3 frames held (0.03 s) and the rest dropped.
        assert_eq!(step(&mut g, i, 0.3), Admit::Resume);
        let mut out = Vec::new();
        let (dropped, released) = g.release(&mut out);
        assert_eq!(released, 4);
        assert_eq!(out, vec![97.0, 97.0, 98.0, 98.0, 99.0, 99.0, 100.0, 100.0]);
        assert_eq!(dropped as usize + released, 101 - first_hold);
        let (run, skipped) = g.counts();
        assert_eq!(skipped, dropped); // nothing is held after the release
        assert_eq!(run as usize, first_hold + released);
        // While sound goes on the model runs.
        assert_eq!(step(&mut g, i + 1, 0.3), Admit::Run);
    }

    #[test]
    fn constant_sound_keeps_it_running_and_disabled_never_pauses() {
        let mut g = gate(0.5);
        for i in 0..300 {
            let level = if i % 20 < 10 { 0.3 } else { 0.05 };
            assert_eq!(step(&mut g, i, level), Admit::Run, "hop {i}");
        }
        let mut off = KeywordGate::new(
            GateSettings {
                enabled: false,
                ..GateSettings::default()
            },
            SR,
            2,
        );
        for i in 0..300 {
            assert_eq!(step(&mut off, i, 0.0), Admit::Run);
        }
        assert_eq!(off.counts(), (300, 0));
    }
}
