//! The one place that touches tract: loading an ONNX graph, checking it against its metadata,
//! and running it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tract_onnx::prelude::*;

use super::{DType, Dim, ModelError, ModelMetadata, TensorSpec};

/// An optimised, runnable graph.
pub struct Graph {
    name: String,
    path: PathBuf,
    plan: Arc<TypedRunnableModel>,
}

/// A running instance of a graph that keeps tract's scratch buffers between calls.
pub type GraphState = TypedSimpleState;

fn check_fact(spec: &TensorSpec, fact: &TypedFact) -> Result<(), String> {
    let want_type = match spec.dtype {
        DType::F32 => f32::datum_type(),
        DType::I64 => i64::datum_type(),
    };
    if fact.datum_type != want_type {
        return Err(format!(
            "{:?} is {:?} in the graph but {:?} in the metadata",
            spec.name, fact.datum_type, spec.dtype
        ));
    }
    let dims: Vec<&TDim> = fact.shape.iter().collect();
    if dims.len() != spec.shape.len() {
        return Err(format!(
            "{:?} has rank {} in the graph but {} in the metadata",
            spec.name,
            dims.len(),
            spec.shape.len()
        ));
    }
    for (i, (have, want)) in dims.iter().zip(&spec.shape).enumerate() {
        let ok = match (have.as_i64(), want) {
            (Some(v), Dim::Fixed(w)) => v == *w as i64,
            (None, Dim::Symbol(_)) => true,
            // A graph output may have a computed size tract cannot name; accept a concrete
            // value only where the metadata fixes one.
            (Some(_), Dim::Symbol(_)) => false,
            (None, Dim::Fixed(_)) => true,
        };
        if !ok {
            return Err(format!(
                "{:?} dimension {i} is {have} in the graph but {want:?} in the metadata",
                spec.name
            ));
        }
    }
    Ok(())
}

impl Graph {
    /// Loads `path` and checks it against `meta`.
    pub fn load(path: &Path, meta: &ModelMetadata) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path, meta)
    }

    /// Loads a graph held in memory; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path, meta: &ModelMetadata) -> Result<Self, ModelError> {
        let graph_err = |e: TractError| ModelError::Graph {
            path: path.to_path_buf(),
            message: format!("{e:#}"),
        };
        let mismatch = |message: String| ModelError::Mismatch {
            path: path.to_path_buf(),
            message,
        };
        let model = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(graph_err)?;
        let input_names: Vec<String> = model
            .input_outlets()
            .map_err(graph_err)?
            .iter()
            .map(|o| model.node(o.node).name.clone())
            .collect();
        let output_names: Vec<String> = model
            .output_outlets()
            .map_err(graph_err)?
            .iter()
            .map(|o| {
                model
                    .outlet_label(*o)
                    .map_or_else(|| model.node(o.node).name.clone(), str::to_string)
            })
            .collect();
        let want_inputs: Vec<&str> = meta.io.inputs.iter().map(|t| t.name.as_str()).collect();
        let want_outputs: Vec<&str> = meta.io.outputs.iter().map(|t| t.name.as_str()).collect();
        if input_names != want_inputs {
            return Err(mismatch(format!(
                "inputs are {input_names:?}, the metadata says {want_inputs:?}"
            )));
        }
        if output_names != want_outputs {
            return Err(mismatch(format!(
                "outputs are {output_names:?}, the metadata says {want_outputs:?}"
            )));
        }
        let typed = model.into_typed().map_err(graph_err)?;
        for (i, spec) in meta.io.inputs.iter().enumerate() {
            let fact = typed.input_fact(i).map_err(graph_err)?;
            check_fact(spec, fact).map_err(mismatch)?;
        }
        for (i, spec) in meta.io.outputs.iter().enumerate() {
            let fact = typed.output_fact(i).map_err(graph_err)?;
            check_fact(spec, fact).map_err(mismatch)?;
        }
        let plan = typed
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(graph_err)?;
        Ok(Self {
            name: meta.name.clone(),
            path: path.to_path_buf(),
            plan,
        })
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the graph came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A fresh running instance (for streaming use).
    pub fn spawn(&self) -> Result<GraphState, ModelError> {
        self.plan.spawn().map_err(|e| self.run_error(e))
    }

    /// Runs the graph once on `inputs` (in metadata order).
    pub fn run(&self, inputs: TVec<TValue>) -> Result<TVec<TValue>, ModelError> {
        self.plan.run(inputs).map_err(|e| self.run_error(e))
    }

    /// Runs a spawned instance.
    pub fn run_state(
        &self,
        state: &mut GraphState,
        inputs: TVec<TValue>,
    ) -> Result<TVec<TValue>, ModelError> {
        state.run(inputs).map_err(|e| self.run_error(e))
    }

    /// Wraps a tract error.
    pub fn run_error(&self, e: TractError) -> ModelError {
        ModelError::Run {
            name: self.name.clone(),
            message: format!("{e:#}"),
        }
    }
}

/// Builds an f32 tensor.
pub fn tensor_f32(shape: &[usize], data: &[f32]) -> Result<Tensor, ModelError> {
    Tensor::from_shape(shape, data).map_err(|e| ModelError::Run {
        name: "input".into(),
        message: format!("{e:#}"),
    })
}

/// Copies an f32 output into `out`.
pub fn read_f32(value: &TValue, out: &mut Vec<f32>) -> Result<(), TractError> {
    let view = value.try_as_plain_ram()?;
    out.clear();
    out.extend_from_slice(view.as_slice::<f32>()?);
    Ok(())
}
