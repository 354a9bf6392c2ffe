//! Audio files (WAV, FLAC, Ogg Vorbis, MP3, at any rate and channel count) decoded by symphonia.

use std::fs::File;
use std::path::Path;

use symphonia::core::codecs::audio::well_known::{
    CODEC_ID_FLAC, CODEC_ID_PCM_ALAW, CODEC_ID_PCM_F32LE, CODEC_ID_PCM_F64LE, CODEC_ID_PCM_MULAW,
    CODEC_ID_PCM_S8, CODEC_ID_PCM_S16LE, CODEC_ID_PCM_S24LE, CODEC_ID_PCM_S32LE, CODEC_ID_PCM_U8,
};
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::{AudioChunk, AudioError, AudioSource, check_rate, downmix_into, first_non_finite};

/// Streams mono chunks out of an audio file.
pub struct FileSource {
    origin: String,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    sample_rate: u32,
    channels: usize,
    expected_frames: Option<u64>,
    exact_length: bool,
    frames_decoded: u64,
    interleaved: Vec<f32>,
    finished: bool,
}

impl FileSource {
    /// Opens and probes `path`; fails with a message naming the file when it is not usable audio.
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let origin = path.display().to_string();
        let io_err = |source| AudioError::Io {
            origin: origin.clone(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let metadata = file.metadata().map_err(io_err)?;
        if metadata.is_dir() {
            return Err(AudioError::NotAudio {
                origin,
                detail: "it is a directory".into(),
            });
        }
        if metadata.len() == 0 {
            return Err(AudioError::EmptyFile { origin });
        }
        let stream = MediaSourceStream::new(Box::new(file), Default::default());
        let mut hint = Hint::new();
        if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                stream,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| AudioError::NotAudio {
                origin: origin.clone(),
                detail: e.to_string(),
            })?;
        let track =
            format
                .default_track(TrackType::Audio)
                .ok_or_else(|| AudioError::Unsupported {
                    origin: origin.clone(),
                    detail: "no audio track".into(),
                })?;
        let params = track
            .codec_params
            .as_ref()
            .and_then(|p| p.audio())
            .ok_or_else(|| AudioError::Unsupported {
                origin: origin.clone(),
                detail: "the track is not audio".into(),
            })?
            .clone();
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| AudioError::Unsupported {
                origin: origin.clone(),
                detail: e.to_string(),
            })?;
        let rate = params.sample_rate.ok_or_else(|| AudioError::Unsupported {
            origin: origin.clone(),
            detail: "the sample rate is not stated".into(),
        })?;
        let sample_rate = check_rate(&origin, rate)?;
        let channels = params.channels.as_ref().map_or(1, |c| c.count()).max(1);
        let exact_length = [
            CODEC_ID_FLAC,
            CODEC_ID_PCM_ALAW,
            CODEC_ID_PCM_F32LE,
            CODEC_ID_PCM_F64LE,
            CODEC_ID_PCM_MULAW,
            CODEC_ID_PCM_S8,
            CODEC_ID_PCM_S16LE,
            CODEC_ID_PCM_S24LE,
            CODEC_ID_PCM_S32LE,
            CODEC_ID_PCM_U8,
        ]
        .contains(&params.codec);
        Ok(Self {
            track_id: track.id,
            expected_frames: track.num_frames,
            origin,
            format,
            decoder,
            sample_rate,
            channels,
            exact_length,
            frames_decoded: 0,
            interleaved: Vec::new(),
            finished: false,
        })
    }

    /// The file's own sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The file's channel count (chunks are down-mixed to mono).
    pub fn channels(&self) -> usize {
        self.channels
    }

    fn end_of_stream(&mut self) -> Result<Option<AudioChunk>, AudioError> {
        self.finished = true;
        if let Some(expected) = self.expected_frames
            && self.exact_length
            && self.frames_decoded < expected
        {
            return Err(AudioError::Truncated {
                origin: self.origin.clone(),
                expected,
                decoded: self.frames_decoded,
            });
        }
        if self.frames_decoded == 0 {
            return Err(AudioError::NoAudio {
                origin: self.origin.clone(),
            });
        }
        Ok(None)
    }
}

impl AudioSource for FileSource {
    fn next_chunk(&mut self) -> Result<Option<AudioChunk>, AudioError> {
        if self.finished {
            return Ok(None);
        }
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return self.end_of_stream(),
                Err(SymphoniaError::IoError(e))
                    if e.kind() == std::io::ErrorKind::UnexpectedEof =>
                {
                    return self.end_of_stream();
                }
                Err(SymphoniaError::IoError(source)) => {
                    return Err(AudioError::Io {
                        origin: self.origin.clone(),
                        source,
                    });
                }
                Err(e) => {
                    return Err(AudioError::Corrupt {
                        origin: self.origin.clone(),
                        detail: e.to_string(),
                    });
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let decoded = self
                .decoder
                .decode(&packet)
                .map_err(|e| AudioError::Corrupt {
                    origin: self.origin.clone(),
                    detail: format!(
                        "{e} (after {:.3} s)",
                        self.frames_decoded as f64 / f64::from(self.sample_rate)
                    ),
                })?;
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let channels = decoded.spec().channels().count().max(1);
            self.interleaved.resize(decoded.samples_interleaved(), 0.0);
            decoded.copy_to_slice_interleaved(&mut self.interleaved);
            if let Some(at) = first_non_finite(&self.interleaved) {
                return Err(AudioError::NonFinite {
                    origin: self.origin.clone(),
                    index: self.frames_decoded + (at / channels) as u64,
                });
            }
            let mut samples = Vec::with_capacity(frames);
            downmix_into(&self.interleaved, channels, &mut samples);
            self.frames_decoded += frames as u64;
            return Ok(Some(AudioChunk {
                samples,
                sample_rate: self.sample_rate,
            }));
        }
    }

    fn origin(&self) -> &str {
        &self.origin
    }
}
