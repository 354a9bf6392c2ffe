//! Text models through tract: the shipped models' golden cases (tokenised by the Rust tokenizer
//! exactly as by the Python one) replay within 1e-4, and `hark text` answers in JSON for one
//! sentence or for each line of stdin.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

#[test]
fn shipped_text_models_replay_their_golden_cases() {
    for name in common::golden::SHIPPED_TEXT_MODELS {
        let cases = common::golden::replay_shipped_text_model(name).unwrap();
        assert!(cases > 0, "{name}: no golden cases");
    }
}

fn hark() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hark"));
    cmd.env("HARK_CONFIG", "/nonexistent/hark.toml")
        .env_remove("RUST_LOG")
        .args(["text", "--json", "--model-dir"])
        .arg(models())
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

#[test]
fn hark_text_answers_one_sentence_in_json() {
    let out = hark().arg("turn on the kitchen light").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["text"], "turn on the kitchen light");
    assert_eq!(doc["intent"]["intent"], "HassTurnOn");
    assert_eq!(doc["intent"]["slots"]["area"], "kitchen");
    assert_eq!(doc["intent"]["understood"], true);
    let confidence = doc["intent"]["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&confidence));
    let scores = doc["sentiment"]["scores"].as_object().unwrap();
    assert_eq!(scores.len(), 3);
}

#[test]
fn hark_text_reads_lines_from_stdin() {
    let mut child = hark()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("pause the music\n\nthanks, that's perfect\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["intent"]["intent"], "HassMediaPause");
    // An empty line has no token: out of grammar, neutral, as docs/models.md specifies.
    assert_eq!(lines[1]["intent"]["understood"], false);
    assert_eq!(lines[1]["intent"]["confidence"], 0.0);
    assert_eq!(lines[1]["sentiment"]["label"], "neutral");
    assert_eq!(lines[2]["sentiment"]["label"], "positive");
}
