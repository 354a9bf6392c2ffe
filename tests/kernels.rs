//! The shipped keyword model runs on kernels written for this machine's instruction set (NEON
//! on aarch64, AVX/FMA on x86_64), not on tract's portable fallback. Under emulation (qemu) this
//! is what shows that a Raspberry Pi build exercises its NEON paths.

use std::path::Path;

#[test]
fn the_keyword_model_runs_on_native_kernels() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/keyword.onnx");
    let report = hark::kernels::report(&model).expect("the shipped keyword model optimises");
    // Shown with --nocapture, and by `hark bench`.
    println!("{}: {}", std::env::consts::ARCH, report.summary());
    assert!(
        !report.matmul.is_empty(),
        "no matrix product found: {report:?}"
    );
    if cfg!(any(target_arch = "aarch64", target_arch = "x86_64")) {
        let fallback: Vec<_> = report.matmul.iter().filter(|k| !k.is_native()).collect();
        assert!(
            fallback.is_empty(),
            "portable fallback kernels chosen: {fallback:?}"
        );
    }
    if cfg!(target_arch = "aarch64") {
        assert!(report.isa.starts_with("aarch64"), "{}", report.isa);
        for k in &report.matmul {
            assert!(k.name.starts_with("arm64"), "not a NEON kernel: {k:?}");
        }
        for k in [&report.sigmoid, &report.tanh] {
            let k = k.as_deref().unwrap_or("none");
            assert!(k.starts_with("arm64"), "not a NEON kernel: {k}");
        }
    }
}
