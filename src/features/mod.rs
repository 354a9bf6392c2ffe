//! The shared feature front-end (MFCC and log-mel), as specified in `docs/frontend.md`.
//!
//! [`FrontEndParams`] describes it, [`FrontEnd`] computes it frame by frame over a stream,
//! [`Pcen`] is the optional per-channel energy normalisation a model may ask for, and
//! [`npy`] reads and writes the feature matrices used for parity checks with the Python reference.

mod filters;
mod frontend;
pub mod npy;
mod params;
mod pcen;

pub use filters::{Dct, MelBand, MelFilterbank, hz_to_mel, mel_to_hz};
pub use frontend::{FeatureKind, FeatureMatrix, FrontEnd};
pub use params::{FrontEndParams, WindowKind};
pub use pcen::{Pcen, PcenParams};

/// Errors of the feature front-end.
#[derive(Debug, thiserror::Error)]
pub enum FrontEndError {
    /// The parameters cannot describe a working front-end.
    #[error("invalid front-end parameters: {0}")]
    Invalid(String),
    /// A NaN or infinite sample reached the front-end.
    #[error("sample {index} of the stream is not a finite number")]
    NonFiniteSample {
        /// Position of the sample in the stream, counted from 0.
        index: u64,
    },
}
