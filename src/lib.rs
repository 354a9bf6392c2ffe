//! hark: an offline voice assistant daemon.
//!
//! Audio comes in from a microphone, a file or a pipe ([`audio`]), is resampled to 16 kHz and
//! turned into MFCC or log-mel frames by the shared front-end ([`features`]); configuration lives
//! in [`config`], the command line in [`cli`].

pub mod actions;
pub mod audio;
pub mod bench;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod features;
pub mod kernels;
pub mod keyword_gate;
pub mod listen;
pub mod logging;
pub mod models;
pub mod mqtt;
pub mod pipeline;
pub mod report;
pub mod vad;
