//! Raw PCM from any reader (stdin in practice), so `arecord … | hark …` works.
//!
//! The format is given as `ENCODING:RATE[:CHANNELS]`, e.g. `s16le:16000` or `f32le:48000:2`.

use std::io::Read;
use std::str::FromStr;

use super::{AudioChunk, AudioError, AudioSource, check_rate, downmix_into, first_non_finite};

/// Sample encodings accepted on raw input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawEncoding {
    /// Unsigned 8-bit, offset 128.
    U8,
    /// Signed 16-bit little-endian.
    S16Le,
    /// Signed 24-bit little-endian, packed in 3 bytes.
    S24Le,
    /// Signed 32-bit little-endian.
    S32Le,
    /// IEEE float 32-bit little-endian.
    F32Le,
}

impl RawEncoding {
    /// Bytes per sample.
    pub fn width(self) -> usize {
        match self {
            RawEncoding::U8 => 1,
            RawEncoding::S16Le => 2,
            RawEncoding::S24Le => 3,
            RawEncoding::S32Le | RawEncoding::F32Le => 4,
        }
    }

    fn decode(self, b: &[u8]) -> f32 {
        match self {
            RawEncoding::U8 => (f32::from(b[0]) - 128.0) / 128.0,
            RawEncoding::S16Le => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0,
            RawEncoding::S24Le => {
                (i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) as f32 / 8_388_608.0
            }
            RawEncoding::S32Le => {
                (f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0) as f32
            }
            RawEncoding::F32Le => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        }
    }
}

/// A raw PCM layout: encoding, rate and channel count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFormat {
    /// Sample encoding.
    pub encoding: RawEncoding,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Interleaved channels.
    pub channels: usize,
}

impl FromStr for RawFormat {
    type Err = AudioError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let fail = |detail: &str| AudioError::RawFormat {
            spec: spec.to_string(),
            detail: detail.to_string(),
        };
        let parts: Vec<&str> = spec.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(fail("expected ENCODING:RATE[:CHANNELS], e.g. s16le:16000"));
        }
        let encoding = match parts[0].to_ascii_lowercase().as_str() {
            "u8" => RawEncoding::U8,
            "s16le" | "s16" => RawEncoding::S16Le,
            "s24le" | "s24" => RawEncoding::S24Le,
            "s32le" | "s32" => RawEncoding::S32Le,
            "f32le" | "f32" => RawEncoding::F32Le,
            _ => {
                return Err(fail(
                    "encoding must be one of u8, s16le, s24le, s32le, f32le",
                ));
            }
        };
        let sample_rate: u32 = parts[1]
            .parse()
            .map_err(|_| fail("the rate must be a whole number of Hz"))?;
        let sample_rate = check_rate(&format!("--raw {spec}"), sample_rate)?;
        let channels: usize = match parts.get(2) {
            Some(c) => c
                .parse()
                .ok()
                .filter(|&c| (1..=32).contains(&c))
                .ok_or_else(|| fail("channels must be between 1 and 32"))?,
            None => 1,
        };
        Ok(Self {
            encoding,
            sample_rate,
            channels,
        })
    }
}

/// Reads raw PCM from `reader` in blocks of about 100 ms.
pub struct RawSource<R: Read> {
    reader: R,
    origin: String,
    format: RawFormat,
    buffer: Vec<u8>,
    filled: usize,
    frames_read: u64,
    ended: bool,
}

impl<R: Read> RawSource<R> {
    /// Wraps `reader`; `origin` names it in messages (e.g. `stdin`).
    pub fn new(reader: R, origin: impl Into<String>, format: RawFormat) -> Self {
        let frame_bytes = format.encoding.width() * format.channels;
        let frames = (format.sample_rate as usize / 10).max(1);
        Self {
            reader,
            origin: origin.into(),
            format,
            buffer: vec![0; frames * frame_bytes],
            filled: 0,
            frames_read: 0,
            ended: false,
        }
    }
}

impl<R: Read> AudioSource for RawSource<R> {
    fn next_chunk(&mut self) -> Result<Option<AudioChunk>, AudioError> {
        if self.ended {
            return Ok(None);
        }
        let frame_bytes = self.format.encoding.width() * self.format.channels;
        while self.filled < self.buffer.len() {
            match self.reader.read(&mut self.buffer[self.filled..]) {
                Ok(0) => {
                    self.ended = true;
                    break;
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(AudioError::Io {
                        origin: self.origin.clone(),
                        source,
                    });
                }
            }
        }
        let whole = self.filled / frame_bytes * frame_bytes;
        if self.ended && whole < self.filled {
            tracing::warn!(
                origin = %self.origin,
                bytes = self.filled - whole,
                "raw input ends with an incomplete frame; its bytes are ignored"
            );
        }
        if whole == 0 {
            if self.frames_read == 0 {
                return Err(AudioError::NoAudio {
                    origin: self.origin.clone(),
                });
            }
            self.ended = true;
            return Ok(None);
        }
        let width = self.format.encoding.width();
        let interleaved: Vec<f32> = self.buffer[..whole]
            .chunks_exact(width)
            .map(|b| self.format.encoding.decode(b))
            .collect();
        if let Some(at) = first_non_finite(&interleaved) {
            return Err(AudioError::NonFinite {
                origin: self.origin.clone(),
                index: self.frames_read + (at / self.format.channels) as u64,
            });
        }
        let mut samples = Vec::with_capacity(interleaved.len() / self.format.channels);
        downmix_into(&interleaved, self.format.channels, &mut samples);
        self.frames_read += samples.len() as u64;
        self.buffer.copy_within(whole..self.filled, 0);
        self.filled -= whole;
        Ok(Some(AudioChunk {
            samples,
            sample_rate: self.format.sample_rate,
        }))
    }

    fn origin(&self) -> &str {
        &self.origin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_formats() {
        let f: RawFormat = "s16le:16000".parse().unwrap();
        assert_eq!(f.encoding, RawEncoding::S16Le);
        assert_eq!((f.sample_rate, f.channels), (16_000, 1));
        let f: RawFormat = "F32LE:48000:2".parse().unwrap();
        assert_eq!((f.encoding, f.channels), (RawEncoding::F32Le, 2));
        for bad in [
            "s16le",
            "x9:16000",
            "s16le:fast",
            "s16le:16000:0",
            "s16le:100",
        ] {
            assert!(bad.parse::<RawFormat>().is_err(), "{bad}");
        }
    }

    #[test]
    fn decodes_and_downmixes() {
        let bytes: Vec<u8> = [16_384i16, -16_384, 32_767, 32_767]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let format = "s16le:8000:2".parse().unwrap();
        let mut src = RawSource::new(bytes.as_slice(), "test", format);
        let chunk = src.next_chunk().unwrap().unwrap();
        assert_eq!(chunk.sample_rate, 8_000);
        assert_eq!(chunk.samples.len(), 2);
        assert!(chunk.samples[0].abs() < 1e-6);
        assert!((chunk.samples[1] - 32_767.0 / 32_768.0).abs() < 1e-6);
        assert!(src.next_chunk().unwrap().is_none());
    }

    #[test]
    fn encodings_scale_to_unit_range() {
        assert!((RawEncoding::U8.decode(&[0]) + 1.0).abs() < 1e-6);
        assert!((RawEncoding::S24Le.decode(&[0, 0, 0x80]) + 1.0).abs() < 1e-6);
        assert!((RawEncoding::S32Le.decode(&i32::MIN.to_le_bytes()) + 1.0).abs() < 1e-6);
        assert!((RawEncoding::F32Le.decode(&0.25f32.to_le_bytes()) - 0.25).abs() < 1e-9);
    }

    #[test]
    fn empty_and_non_finite_input_are_errors() {
        let format: RawFormat = "f32le:16000".parse().unwrap();
        let mut empty = RawSource::new(&[][..], "stdin", format);
        assert!(matches!(
            empty.next_chunk(),
            Err(AudioError::NoAudio { .. })
        ));
        let bytes: Vec<u8> = [0.0f32, f32::NAN]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let mut nan = RawSource::new(bytes.as_slice(), "stdin", format);
        let err = nan.next_chunk().unwrap_err().to_string();
        assert!(err.contains("stdin") && err.contains("sample 1"), "{err}");
    }

    #[test]
    fn trailing_partial_frame_is_dropped() {
        let format: RawFormat = "s16le:16000".parse().unwrap();
        let mut src = RawSource::new(&[0u8, 0, 0][..], "stdin", format);
        assert_eq!(src.next_chunk().unwrap().unwrap().samples.len(), 1);
        assert!(src.next_chunk().unwrap().is_none());
    }
}
