//! Audio input: every source yields the same stream of mono f32 chunks tagged with their rate.
//!
//! Sources: audio files decoded by symphonia ([`FileSource`]), raw PCM from any reader such as
//! stdin ([`RawSource`]), and microphones through cpal ([`MicSource`]). Multi-channel audio is
//! down-mixed by averaging, samples are checked to be finite, and [`StreamResampler`] brings any
//! rate to the front-end's.

mod decimate;
mod file;
mod mic;
mod raw;
mod resample;

pub use file::FileSource;
pub use mic::{DeviceInfo, MicOptions, MicSource, list_input_devices};
pub use raw::{RawEncoding, RawFormat, RawSource};
pub use resample::{StreamResampler, ToRate};

/// Lowest input sample rate accepted, in Hz.
pub const MIN_SAMPLE_RATE: u32 = 4_000;
/// Highest input sample rate accepted, in Hz.
pub const MAX_SAMPLE_RATE: u32 = 384_000;

/// A block of mono samples in [-1, 1] at `sample_rate` Hz.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioChunk {
    /// Mono samples.
    pub samples: Vec<f32>,
    /// Their sample rate in Hz.
    pub sample_rate: u32,
}

/// Anything that produces audio chunks until it ends.
pub trait AudioSource {
    /// The next chunk, `Ok(None)` once the source has ended.
    fn next_chunk(&mut self) -> Result<Option<AudioChunk>, AudioError>;

    /// Where the audio comes from, for messages (a path, `stdin`, a device name).
    fn origin(&self) -> &str;
}

/// Errors of audio input, each naming the file, stream or device concerned.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("{origin}: {source}")]
    Io {
        /// File, stream or device.
        origin: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file has no bytes at all.
    #[error("{origin}: the file is empty")]
    EmptyFile {
        /// File path.
        origin: String,
    },
    /// The bytes are not in any audio format hark reads.
    #[error("{origin}: not a recognised audio file (WAV, FLAC, Ogg Vorbis or MP3): {detail}")]
    NotAudio {
        /// File path.
        origin: String,
        /// What the decoder said.
        detail: String,
    },
    /// An audio format or codec feature hark does not support.
    #[error("{origin}: unsupported audio: {detail}")]
    Unsupported {
        /// File, stream or device.
        origin: String,
        /// What is unsupported.
        detail: String,
    },
    /// The audio data is damaged.
    #[error("{origin}: corrupt audio data: {detail}")]
    Corrupt {
        /// File path.
        origin: String,
        /// What the decoder said.
        detail: String,
    },
    /// The file ends before the length its header declares.
    #[error(
        "{origin}: truncated or damaged: the header declares {expected} frames but only {decoded} could be read"
    )]
    Truncated {
        /// File path.
        origin: String,
        /// Frames the header promises.
        expected: u64,
        /// Frames actually present.
        decoded: u64,
    },
    /// The source holds no samples at all.
    #[error("{origin}: contains no audio samples")]
    NoAudio {
        /// File or stream.
        origin: String,
    },
    /// A NaN or infinite sample.
    #[error("{origin}: sample {index} is not a finite number (NaN or infinity)")]
    NonFinite {
        /// File, stream or device.
        origin: String,
        /// Index of the offending frame, from 0.
        index: u64,
    },
    /// The sample rate is outside what hark resamples.
    #[error(
        "{origin}: sample rate {rate} Hz is not supported (need {MIN_SAMPLE_RATE}–{MAX_SAMPLE_RATE} Hz)"
    )]
    UnsupportedRate {
        /// File, stream or device.
        origin: String,
        /// The rate found.
        rate: u32,
    },
    /// A `--raw` format specification could not be understood.
    #[error("invalid raw format {spec:?}: {detail}")]
    RawFormat {
        /// What the user wrote.
        spec: String,
        /// Why it is wrong.
        detail: String,
    },
    /// A capture device could not be found or used.
    #[error("audio device {device:?}: {detail}")]
    Device {
        /// The device asked for.
        device: String,
        /// What went wrong.
        detail: String,
    },
    /// The resampler could not be built or failed.
    #[error("{origin}: resampling from {from} Hz to {to} Hz failed: {detail}")]
    Resample {
        /// File, stream or device.
        origin: String,
        /// Input rate.
        from: u32,
        /// Output rate.
        to: u32,
        /// What rubato said.
        detail: String,
    },
}

/// Checks a rate against [`MIN_SAMPLE_RATE`]..=[`MAX_SAMPLE_RATE`].
pub fn check_rate(origin: &str, rate: u32) -> Result<u32, AudioError> {
    if (MIN_SAMPLE_RATE..=MAX_SAMPLE_RATE).contains(&rate) {
        Ok(rate)
    } else {
        Err(AudioError::UnsupportedRate {
            origin: origin.to_string(),
            rate,
        })
    }
}

/// Averages interleaved frames of `channels` samples into `out` (appending).
pub fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels <= 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

/// Returns the index of the first non-finite sample, if any.
pub fn first_non_finite(samples: &[f32]) -> Option<usize> {
    samples.iter().position(|s| !s.is_finite())
}

/// Reads a whole source into memory (mono samples and their rate).
///
/// Refuses a source whose rate changes midway or that holds no samples.
pub fn read_all(source: &mut dyn AudioSource) -> Result<AudioChunk, AudioError> {
    let mut all = AudioChunk {
        samples: Vec::new(),
        sample_rate: 0,
    };
    while let Some(chunk) = source.next_chunk()? {
        if all.sample_rate == 0 {
            all.sample_rate = chunk.sample_rate;
        } else if chunk.sample_rate != all.sample_rate {
            return Err(AudioError::Unsupported {
                origin: source.origin().to_string(),
                detail: format!(
                    "sample rate changes from {} Hz to {} Hz",
                    all.sample_rate, chunk.sample_rate
                ),
            });
        }
        all.samples.extend_from_slice(&chunk.samples);
    }
    if all.samples.is_empty() {
        return Err(AudioError::NoAudio {
            origin: source.origin().to_string(),
        });
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downmix_averages_channels() {
        let mut out = Vec::new();
        downmix_into(&[1.0, 0.0, 0.5, 0.5, -1.0, 1.0], 2, &mut out);
        assert_eq!(out, vec![0.5, 0.5, 0.0]);
        downmix_into(&[0.25], 1, &mut out);
        assert_eq!(out.last(), Some(&0.25));
    }

    #[test]
    fn rate_limits() {
        assert!(check_rate("x", 16_000).is_ok());
        let err = check_rate("x.wav", 1_000).unwrap_err().to_string();
        assert!(err.contains("x.wav") && err.contains("1000 Hz"), "{err}");
    }
}
