//! The golden checks without libtest: front-end parity with the Python reference and every
//! shipped model's golden vectors, run one after the other on the main thread.
//!
//! libtest runs each test on a thread of its own. Under qemu user emulation of an aarch64 Pi,
//! some hosts never schedule a guest's second thread, so the usual suites hang there while a
//! program that stays on its main thread runs (see `cross/ci.sh`). This target (`harness =
//! false`) is that program: `cargo test --test main_thread` runs it anywhere; `cross/ci.sh` runs
//! its aarch64 build under qemu.

mod common;

use std::process::ExitCode;
use std::time::Instant;

use common::golden;

type Check = Box<dyn Fn() -> Result<String, String>>;

fn checks() -> Vec<(String, Check)> {
    let mut list: Vec<(String, Check)> = vec![
        (
            "front-end: log-mel and MFCC match the Python reference".into(),
            Box::new(|| golden::frontend_matches_reference().map(|n| format!("{n} matrices"))),
        ),
        (
            "front-end: PCEN matches the Python reference".into(),
            Box::new(|| golden::pcen_matches_reference().map(|n| format!("{n} matrices"))),
        ),
    ];
    for name in golden::SHIPPED_AUDIO_MODELS {
        list.push((
            format!("models/{name}: golden vectors replay through tract"),
            Box::new(move || golden::replay_shipped_model(name).map(|n| format!("{n} values"))),
        ));
    }
    list.push((
        "models/intent: grammar decodes match the Python decoder".into(),
        Box::new(|| golden::replay_shipped_grammar().map(|n| format!("{n} cases"))),
    ));
    list.push((
        "models/keyword: wake-word verification scores match the Python reference".into(),
        Box::new(|| golden::replay_shipped_wake_verification().map(|n| format!("{n} cases"))),
    ));
    for name in golden::SHIPPED_TEXT_MODELS {
        list.push((
            format!("models/{name}: golden cases tokenise and replay"),
            Box::new(move || golden::replay_shipped_text_model(name).map(|n| format!("{n} cases"))),
        ));
    }
    list
}

fn main() -> ExitCode {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = 0;
    let mut ran = 0;
    for (name, check) in checks() {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let t0 = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(check))
            .unwrap_or_else(|_| Err("panicked".to_string()));
        let secs = t0.elapsed().as_secs_f64();
        match outcome {
            Ok(what) => println!("check {name} ... ok ({what}, {secs:.1} s)"),
            Err(why) => {
                failed += 1;
                println!("check {name} ... FAILED: {why}");
            }
        }
    }
    println!(
        "main-thread checks: {} passed, {failed} failed",
        ran - failed
    );
    if failed == 0 && ran > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
