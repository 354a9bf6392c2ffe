//! Streaming conversion of any input rate to the front-end's rate (16 kHz).
//!
//! An integer multiple of the target (32, 48, 96 kHz, …, up to 8 times) is decimated by
//! [`super::decimate::Decimator`], a FIR filter evaluated only at the kept samples (the cheapest
//! path, for the common 48 kHz microphones). Other rates whose ratio reduces to small integers
//! (8, 11.025, 22.05, 44.1 kHz, …) use rubato's synchronous FFT resampler, which is both fast and
//! clean; any other rate uses its sinc resampler. The resampler's start-up delay is trimmed, and
//! [`StreamResampler::finish`] flushes the tail so that the output holds `round(n_in · to / from)`
//! samples, aligned with the input.

use audioadapter_buffers::direct::InterleavedSlice;
use rubato::{
    Async, Fft, FixedAsync, FixedSync, Indexing, Resampler, SincInterpolationParameters,
    SincInterpolationType, WindowFunction,
};

use super::AudioError;
use super::decimate::Decimator;

/// Input frames per resampler call.
const CHUNK: usize = 1024;
/// Largest reduced input factor handled by the FFT resampler (44.1 kHz → 16 kHz is 441).
const MAX_FFT_FACTOR: u32 = 2048;

/// What does the work for one pair of rates.
enum Engine {
    /// The same rate in and out: samples pass through.
    Passthrough,
    /// An integer factor down, with its own delay trimming.
    Decimate(Decimator),
    /// rubato (FFT or sinc), fed from `pending`.
    Rubato(Box<dyn Resampler<f32>>),
}

/// A resampler for one mono stream.
pub struct StreamResampler {
    from: u32,
    to: u32,
    engine: Engine,
    pending: Vec<f32>,
    scratch_out: Vec<f32>,
    delay_left: usize,
    samples_in: u64,
    samples_out: u64,
    origin: String,
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz; `origin` names the stream in errors.
    pub fn new(from: u32, to: u32, origin: &str) -> Result<Self, AudioError> {
        let fail = |detail: String| AudioError::Resample {
            origin: origin.to_string(),
            from,
            to,
            detail,
        };
        let decimator = (to > 0 && from > to && from.is_multiple_of(to))
            .then(|| Decimator::new(from / to))
            .flatten();
        let engine = if from == to {
            Engine::Passthrough
        } else if let Some(d) = decimator {
            Engine::Decimate(d)
        } else if from / gcd(from, to) <= MAX_FFT_FACTOR {
            Engine::Rubato(Box::new(
                Fft::<f32>::new(from as usize, to as usize, CHUNK, 1, FixedSync::Input)
                    .map_err(|e| fail(e.to_string()))?,
            ))
        } else {
            let params = SincInterpolationParameters {
                sinc_len: 256,
                f_cutoff: None,
                oversampling_factor: 256,
                interpolation: SincInterpolationType::Cubic,
                window: WindowFunction::BlackmanHarris2,
            };
            Engine::Rubato(Box::new(
                Async::<f32>::new_sinc(
                    f64::from(to) / f64::from(from),
                    1.0,
                    &params,
                    CHUNK,
                    1,
                    FixedAsync::Input,
                )
                .map_err(|e| fail(e.to_string()))?,
            ))
        };
        let (delay_left, scratch_len, pending) = match &engine {
            Engine::Rubato(r) => (r.output_delay(), r.output_frames_max(), CHUNK * 2),
            _ => (0, 0, 0),
        };
        Ok(Self {
            from,
            to,
            engine,
            pending: Vec::with_capacity(pending),
            scratch_out: vec![0.0; scratch_len],
            delay_left,
            samples_in: 0,
            samples_out: 0,
            origin: origin.to_string(),
        })
    }

    /// Input rate in Hz.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// Output rate in Hz.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Output samples a stream of `n_in` input samples resamples to.
    pub fn expected_len(&self, n_in: u64) -> u64 {
        (n_in * u64::from(self.to) + u64::from(self.from) / 2) / u64::from(self.from)
    }

    /// Resamples `input`, appending what is ready to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.samples_in += input.len() as u64;
        let before = out.len();
        match &mut self.engine {
            Engine::Passthrough => out.extend_from_slice(input),
            Engine::Decimate(d) => d.process(input, out),
            Engine::Rubato(_) => return self.process_rubato(input, out),
        }
        self.samples_out += (out.len() - before) as u64;
        Ok(())
    }

    /// rubato takes fixed-size calls: input waits in `pending` until a whole call is there.
    fn process_rubato(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.pending.extend_from_slice(input);
        let mut start = 0;
        loop {
            let need = self.rubato_needs();
            if self.pending.len() - start < need {
                break;
            }
            let consumed = self.run(start, need, None, out)?;
            start += consumed;
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Flushes the stream's tail into `out`; the total output then has
    /// [`expected_len`](Self::expected_len) samples. The resampler is ready for a new stream.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let target = self.expected_len(self.samples_in);
        match &mut self.engine {
            Engine::Passthrough => {}
            Engine::Decimate(d) => {
                let before = out.len();
                d.finish(out);
                self.samples_out += (out.len() - before) as u64;
            }
            Engine::Rubato(_) => {
                let mut partial = self.pending.len();
                while self.samples_out < target {
                    let need = self.rubato_needs();
                    self.pending.resize(need.max(partial), 0.0);
                    self.run(0, partial, Some(partial), out)?;
                    self.pending.clear();
                    partial = 0;
                }
            }
        }
        if self.samples_out > target {
            let excess = (self.samples_out - target) as usize;
            out.truncate(out.len().saturating_sub(excess));
        }
        self.reset();
        Ok(())
    }

    /// Forgets the current stream.
    pub fn reset(&mut self) {
        match &mut self.engine {
            Engine::Passthrough => {}
            Engine::Decimate(d) => d.reset(),
            Engine::Rubato(r) => {
                r.reset();
                self.delay_left = r.output_delay();
            }
        }
        self.pending.clear();
        self.samples_in = 0;
        self.samples_out = 0;
    }

    /// Input frames rubato takes in its next call (0 for the other engines).
    fn rubato_needs(&self) -> usize {
        match &self.engine {
            Engine::Rubato(r) => r.input_frames_next(),
            _ => 0,
        }
    }

    /// Runs one resampler call on `pending[start..]`; returns the input frames consumed.
    fn run(
        &mut self,
        start: usize,
        frames: usize,
        partial_len: Option<usize>,
        out: &mut Vec<f32>,
    ) -> Result<usize, AudioError> {
        let (from, to) = (self.from, self.to);
        let origin = &self.origin;
        let fail = |detail: String| AudioError::Resample {
            origin: origin.clone(),
            from,
            to,
            detail,
        };
        let Engine::Rubato(resampler) = &mut self.engine else {
            return Ok(0);
        };
        let need = resampler.input_frames_next();
        let available = self.pending.len() - start;
        let input = InterleavedSlice::new(&self.pending[start..], 1, available)
            .map_err(|e| fail(e.to_string()))?;
        let out_len = self.scratch_out.len();
        let mut output = InterleavedSlice::new_mut(&mut self.scratch_out, 1, out_len)
            .map_err(|e| fail(e.to_string()))?;
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            partial_len,
            active_channels_mask: None,
        };
        let (consumed, produced) = resampler
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| fail(e.to_string()))?;
        let skip = self.delay_left.min(produced);
        self.delay_left -= skip;
        out.extend_from_slice(&self.scratch_out[skip..produced]);
        self.samples_out += (produced - skip) as u64;
        debug_assert!(frames <= need || partial_len.is_some());
        Ok(consumed)
    }
}

/// Brings a stream of chunks, whatever their rate, to one target rate.
///
/// A change of rate midway (e.g. a re-opened device) flushes the old resampler and starts a new
/// one, so no audio is lost.
pub struct ToRate {
    target: u32,
    origin: String,
    resampler: Option<StreamResampler>,
    out: Vec<f32>,
}

impl ToRate {
    /// Converts to `target` Hz; `origin` names the stream in errors.
    pub fn new(target: u32, origin: &str) -> Self {
        Self {
            target,
            origin: origin.to_string(),
            resampler: None,
            out: Vec::new(),
        }
    }

    /// Resamples `samples` (at `rate` Hz); returns what is ready at the target rate.
    pub fn push(&mut self, samples: &[f32], rate: u32) -> Result<&[f32], AudioError> {
        self.out.clear();
        if self
            .resampler
            .as_ref()
            .is_some_and(|r| r.from_rate() != rate)
            && let Some(mut old) = self.resampler.take()
        {
            old.finish(&mut self.out)?;
        }
        if self.resampler.is_none() {
            self.resampler = Some(StreamResampler::new(rate, self.target, &self.origin)?);
        }
        if let Some(r) = self.resampler.as_mut() {
            r.process(samples, &mut self.out)?;
        }
        Ok(&self.out)
    }

    /// Flushes the tail of the stream.
    pub fn finish(&mut self) -> Result<&[f32], AudioError> {
        self.out.clear();
        if let Some(mut r) = self.resampler.take() {
            r.finish(&mut self.out)?;
        }
        Ok(&self.out)
    }
}
