//! Models: metadata, ONNX graphs run by tract, and what each kind of model computes.
//!
//! Loading is staged as in `docs/models.md`: the JSON metadata is read and checked first, then the
//! ONNX graph is checked against it (input and output names, fixed dimensions, element types),
//! then optimised into a runnable plan once. Anything that does not match is refused with an
//! error naming the file and the mismatch.

pub mod grammar;
mod graph;
pub mod keyword;
mod metadata;
pub mod set;
pub mod text;
pub mod tokenizer;
pub mod utterance;
pub mod vad;
pub mod verify;

pub use graph::{Graph, GraphState, read_f32, tensor_f32};
pub use metadata::{
    DType, Dim, FeatureName, GrammarAcceptance, GrammarJudge, GrammarSpec, IntentSpec, IoSpec,
    JudgeGate, JudgeInputs, KeywordSpec, ModelKind, ModelMetadata, SCHEMA, SlotSpec, StateSpec,
    TensorSpec, VadSpec, VerifySpec, VerifyWord,
};

use std::path::PathBuf;

/// Errors loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file of the model is missing or unreadable.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The metadata is malformed or inconsistent.
    #[error("{path}: invalid model metadata: {message}")]
    Metadata {
        /// The `.json` file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The ONNX graph does not match its metadata.
    #[error("{path}: the graph does not match its metadata: {message}")]
    Mismatch {
        /// The `.onnx` file.
        path: PathBuf,
        /// What differs.
        message: String,
    },
    /// tract could not load or optimise the graph.
    #[error("{path}: cannot load the ONNX graph: {message}")]
    Graph {
        /// The `.onnx` file.
        path: PathBuf,
        /// tract's message.
        message: String,
    },
    /// Inference failed.
    #[error("model {name}: inference failed: {message}")]
    Run {
        /// Model name.
        name: String,
        /// tract's message.
        message: String,
    },
    /// Audio models whose front-ends differ cannot share one feature stream.
    #[error(
        "models {first} and {second} use different audio front-ends ({detail}); retrain one of them with the other's front-end"
    )]
    FrontEndMismatch {
        /// One model.
        first: String,
        /// The other.
        second: String,
        /// Which parameters differ.
        detail: String,
    },
}

/// Index and value of the largest element (the first on ties; `(0, f32::MIN)` when empty).
pub(crate) fn argmax(values: &[f32]) -> (usize, f32) {
    values.iter().copied().enumerate().fold(
        (0, f32::MIN),
        |best, (i, v)| if v > best.1 { (i, v) } else { best },
    )
}
