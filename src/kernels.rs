//! Which compute kernels tract runs on this machine.
//!
//! tract-linalg probes the CPU once (architecture, NEON / AVX / FMA, fp16, dot product, SVE) and
//! then picks, per matrix product of an optimised model, a kernel written for that instruction set
//! (`arm64simd_*` NEON assembly on a Raspberry Pi 3/4/5, `fma_*` / `avx*` on a PC) or, failing
//! that, its portable Rust fallback (`generic_*`). [`report`] optimises a model the way hark does
//! and lists the kernels its matrix products ended up with, including those inside the LSTM's
//! scan loop, plus the element-wise kernels (sigmoid, tanh) the LSTM cells use. `hark bench`
//! prints it, and a test asserts that an aarch64 build runs NEON kernels, not the fallback.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::matmul::optimized::OptMatMul;
use tract_onnx::tract_core::ops::scan::OptScan;
use tract_onnx::tract_core::tract_linalg;
use tract_onnx::tract_core::tract_linalg::Func;

/// One matrix-product kernel chosen for a model.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct MatMulKernel {
    /// The kernel's name, e.g. `arm64simd_mmm_f32_64x1_gen`.
    pub name: String,
    /// The architecture it is written for; `None` for tract's portable fallback.
    pub arch: Option<String>,
}

impl MatMulKernel {
    /// Whether this is an architecture-specific kernel (NEON, AVX, ...), not the fallback.
    pub fn is_native(&self) -> bool {
        self.arch.is_some()
    }
}

/// The kernels tract selected on this machine for one model.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KernelReport {
    /// The instruction set tract detected, e.g. `aarch64` or `x86_64,sse,avx,fma,...`
    /// (`TRACT_CPU_ISA` edits it).
    pub isa: String,
    /// The kernels of the model's matrix products (in nested loops too), without repeats.
    pub matmul: Vec<MatMulKernel>,
    /// The f32 sigmoid kernel (LSTM gates).
    pub sigmoid: Option<String>,
    /// The f32 tanh kernel (LSTM cell).
    pub tanh: Option<String>,
}

impl KernelReport {
    /// One line for people: the instruction set, then every kernel.
    pub fn summary(&self) -> String {
        let matmul: Vec<&str> = self.matmul.iter().map(|k| k.name.as_str()).collect();
        format!(
            "isa {}; matmul {}; sigmoid {}; tanh {}",
            self.isa,
            if matmul.is_empty() {
                "-".to_string()
            } else {
                matmul.join(", ")
            },
            self.sigmoid.as_deref().unwrap_or("-"),
            self.tanh.as_deref().unwrap_or("-"),
        )
    }
}

/// The instruction set tract detected on this machine.
pub fn isa() -> String {
    format!("{:?}", tract_linalg::isa::native())
}

/// Loads and optimises the ONNX model at `path` as hark does, and reports the kernels chosen.
pub fn report(path: &Path) -> anyhow::Result<KernelReport> {
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .and_then(|m| m.into_optimized())
        .with_context(|| format!("cannot optimise {}", path.display()))?;
    let mut matmul = BTreeSet::new();
    collect_matmuls(&model, &mut matmul);
    let native = tract_linalg::isa::native();
    let routine = |func| {
        tract_linalg::routines::best_for(func, DatumType::F32, &native)
            .map(|r| r.name().to_string())
    };
    Ok(KernelReport {
        isa: isa(),
        matmul: matmul.into_iter().collect(),
        sigmoid: routine(Func::Sigmoid),
        tanh: routine(Func::Tanh),
    })
}

/// Adds the kernels of every optimised matrix product in `model` and in its scan bodies.
fn collect_matmuls(model: &TypedModel, out: &mut BTreeSet<MatMulKernel>) {
    for node in model.nodes() {
        if let Some(mm) = node.op_as::<OptMatMul>() {
            for k in &mm.mmm {
                out.insert(MatMulKernel {
                    name: k.name().to_string(),
                    arch: k.arch().map(|a| format!("{a:?}")),
                });
            }
        } else if let Some(scan) = node.op_as::<OptScan>() {
            collect_matmuls(scan.plan.model(), out);
        }
    }
}
