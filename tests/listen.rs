//! `hark listen` and the pipeline behind it, on the tiny fixture models: event formats in every
//! mode, parallel runs in file order, overrides, mismatched models, degenerate audio, and a
//! two-hour stream through the keyword path with flat memory.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use hark::models::set::ModelSet;
use hark::pipeline::{CaptureSettings, Event, Mode, Pipeline};

fn hark() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hark"));
    cmd.env("HARK_CONFIG", "/nonexistent/hark.toml")
        .env("HARK_MODELS", "/nonexistent")
        .env_remove("RUST_LOG")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn models_dir() -> PathBuf {
    common::fixtures().join("models")
}

fn speech() -> PathBuf {
    common::fixtures().join("frontend/speech.wav")
}

fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn full_mode_emits_wake_then_intent_and_sentiment() {
    let out = hark()
        .args(["listen", "--json", "--threshold", "0.35", "--model-dir"])
        .arg(models_dir())
        .arg(speech())
        .output()
        .unwrap();
    let events = json_lines(&out);
    assert!(!events.is_empty());
    let wake = &events[0];
    assert_eq!(wake["type"], "wake");
    assert_eq!(wake["file"], speech().display().to_string());
    assert!(wake["keyword"] == "computer" || wake["keyword"] == "jarvis");
    let (start, end) = (
        wake["start"].as_f64().unwrap(),
        wake["end"].as_f64().unwrap(),
    );
    assert!(0.0 <= start && start < end && end <= 2.5, "{wake}");
    let score = wake["score"].as_f64().unwrap();
    assert!((0.35..=1.0).contains(&score));
    let intent = events
        .iter()
        .find(|e| e["type"] == "intent")
        .expect("an intent event");
    for key in [
        "intent",
        "slots",
        "confidence",
        "understood",
        "start",
        "end",
    ] {
        assert!(intent.get(key).is_some(), "intent lacks {key}: {intent}");
    }
    // The command is captured from a short pre-roll (0.2 s) before the end of the wake word.
    let command_start = intent["start"].as_f64().unwrap();
    assert!(
        command_start >= end - 0.25 && command_start <= end,
        "command starts at {command_start}, wake word ends at {end}"
    );
    let sentiment = events
        .iter()
        .find(|e| e["type"] == "sentiment")
        .expect("a sentiment event");
    let scores = sentiment["scores"].as_object().unwrap();
    assert_eq!(scores.len(), 3);
    let total: f64 = scores.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-3);
    assert!(scores.contains_key(sentiment["label"].as_str().unwrap()));
}

#[test]
fn command_mode_treats_each_file_as_one_command() {
    let files = ["speech.wav", "quiet_speech.wav", "tones_noise.wav"]
        .map(|f| common::fixtures().join("frontend").join(f));
    let out = hark()
        .args([
            "listen",
            "--json",
            "--mode",
            "command",
            "--jobs",
            "2",
            "--model-dir",
        ])
        .arg(models_dir())
        .args(&files)
        .output()
        .unwrap();
    let events = json_lines(&out);
    assert_eq!(events.len(), 6, "an intent and a sentiment per file");
    for (i, pair) in events.chunks(2).enumerate() {
        assert_eq!(
            pair[0]["file"],
            files[i].display().to_string(),
            "file order kept"
        );
        assert_eq!(pair[0]["type"], "intent");
        assert_eq!(pair[1]["type"], "sentiment");
    }
    // quiet_speech.wav has 0.3 s of digital silence before it: the command is trimmed to 0.2 s
    // before its speech.
    let quiet_start = events[2]["start"].as_f64().unwrap();
    assert!(quiet_start > 0.05, "start {quiet_start}");
}

#[test]
fn jobs_do_not_change_the_results() {
    let files: Vec<PathBuf> = (0..6)
        .map(|i| {
            common::fixtures()
                .join("frontend")
                .join(["speech.wav", "tones_noise.wav"][i % 2])
        })
        .collect();
    let run = |jobs: &str| {
        let out = hark()
            .args([
                "listen",
                "--json",
                "--mode",
                "keyword",
                "--threshold",
                "0.3",
            ])
            .args(["--jobs", jobs, "--model-dir"])
            .arg(models_dir())
            .args(&files)
            .output()
            .unwrap();
        json_lines(&out)
    };
    let one = run("1");
    assert!(!one.is_empty());
    assert_eq!(one, run("2"));
}

#[test]
fn a_bad_file_is_reported_and_the_others_still_processed() {
    let out = hark()
        .args(["listen", "--json", "--mode", "command", "--model-dir"])
        .arg(models_dir())
        .arg("/nonexistent/a.wav")
        .arg(speech())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/a.wav"), "{stderr}");
    assert!(stderr.contains("1 of 2 files"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().count(),
        2,
        "the good file's events: {stdout}"
    );
}

fn copy_models(dir: &Path) {
    for entry in std::fs::read_dir(models_dir()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
}

#[test]
fn models_with_different_front_ends_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_models(dir.path());
    let json = dir.path().join("sentiment.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    v["frontend"]["fmax"] = 8000.0.into();
    std::fs::write(&json, v.to_string()).unwrap();
    let out = hark()
        .args(["listen", "--mode", "command", "--model-dir"])
        .arg(dir.path())
        .arg(speech())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("different audio front-ends") && stderr.contains("fmax"),
        "{stderr}"
    );
}

#[test]
fn missing_models_and_bad_thresholds_are_clear_errors() {
    let empty = tempfile::tempdir().unwrap();
    let out = hark()
        .args(["listen", "--model-dir"])
        .arg(empty.path())
        .arg(speech())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("no audio models"), "{stderr}");
    let out = hark()
        .args(["listen", "--threshold", "1.5", "--model-dir"])
        .arg(models_dir())
        .arg(speech())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--threshold"));
}

fn fixture_models() -> Arc<ModelSet> {
    Arc::new(ModelSet::load(Some(&models_dir()), &[]).unwrap())
}

fn run_pipeline(mode: Mode, audio: &[f32]) -> Vec<Event> {
    let mut p = Pipeline::new(
        fixture_models(),
        mode,
        CaptureSettings::default(),
        Some(0.35),
    )
    .unwrap();
    common::run_through(&mut p, audio)
}

#[test]
fn degenerate_audio_gives_sane_results() {
    // Shorter than one frame: no events, no error.
    assert!(run_pipeline(Mode::Keyword, &[0.1; 100]).is_empty());
    // Silence, clipping and DC offset run through every mode without errors or NaN.
    let silence = vec![0.0f32; 32_000];
    let clipped: Vec<f32> = common::sine(300.0, 4.0, 16_000, 2.0)
        .iter()
        .map(|s| s.clamp(-1.0, 1.0))
        .collect();
    let dc: Vec<f32> = common::sine(300.0, 0.2, 16_000, 2.0)
        .iter()
        .map(|s| s + 0.5)
        .collect();
    for audio in [&silence, &clipped, &dc] {
        for mode in [Mode::Full, Mode::Keyword, Mode::Command] {
            for event in run_pipeline(mode, audio) {
                if let Event::Intent { result, .. } = &event {
                    assert!(result.confidence.is_finite());
                }
                if let Event::Sentiment { result, .. } = &event {
                    assert!(result.scores.values().all(|v| v.is_finite()));
                }
            }
        }
    }
    // Command mode on silence still answers (out of grammar or not), it does not fail.
    let events = run_pipeline(Mode::Command, &silence);
    assert_eq!(events.len(), 2);
}

fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Two hours of generated speech, noise, tones and silence through the keyword path: memory
/// stays flat and the model never produces non-finite values.
#[test]
fn two_hour_stream_keeps_memory_flat() {
    let models = fixture_models();
    let mut p = Pipeline::new(
        Arc::clone(&models),
        Mode::Keyword,
        CaptureSettings::default(),
        None,
    )
    .unwrap();
    let mut speech_reader = hound::WavReader::open(speech()).unwrap();
    let speech: Vec<f32> = speech_reader
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32_768.0)
        .collect();
    let mut state = 12_345u32;
    let mut noise = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state as f32 / u32::MAX as f32) - 0.5
    };
    let block_s = 10usize;
    let blocks = 2 * 3_600 / block_s;
    let mut block = vec![0.0f32; 16_000 * block_s];
    let mut rss_after_warmup = None;
    let mut events = 0usize;
    for b in 0..blocks {
        let gain = [0.05, 0.3, 1.0, 0.0][b % 4];
        for (i, s) in block.iter_mut().enumerate() {
            let t = i as f32 / 16_000.0;
            *s = gain * speech[i % speech.len()]
                + 0.02 * noise()
                + 0.05 * ((b % 7) as f32 * 0.3) * (2.0 * std::f32::consts::PI * 220.0 * t).sin();
        }
        events += p.push(&block).unwrap().len();
        if b == blocks / 12 {
            rss_after_warmup = resident_kib();
        }
    }
    events += p.finish().unwrap().len();
    if let (Some(before), Some(after)) = (rss_after_warmup, resident_kib()) {
        let growth = after.saturating_sub(before);
        eprintln!("RSS after 10 min: {before} KiB, after 2 h: {after} KiB, {events} events");
        assert!(
            growth < 4 * 1024,
            "memory grew by {growth} KiB over the stream"
        );
    }
    assert_eq!(p.keyword_resets(), 0, "the state never went non-finite");
}

#[test]
fn per_keyword_thresholds_come_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hark.toml");
    std::fs::write(
        &config,
        "[keyword]\nthresholds = { computer = 0.3, jarvis = 0.3 }\n",
    )
    .unwrap();
    let run = |extra: &[&str], config: Option<&Path>| {
        let mut cmd = hark();
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        cmd.args(["listen", "--json", "--mode", "keyword", "--model-dir"])
            .arg(models_dir())
            .args(extra)
            .arg(speech())
            .output()
            .unwrap()
    };
    let from_config = json_lines(&run(&[], Some(&config)));
    assert!(
        !from_config.is_empty(),
        "lower thresholds fire on the tiny model"
    );
    assert_eq!(from_config, json_lines(&run(&["--threshold", "0.3"], None)));
    // The model's own thresholds (0.6) are stricter: fewer or no detections.
    assert!(json_lines(&run(&[], None)).len() < from_config.len());

    std::fs::write(&config, "[keyword]\nthresholds = { hal = 0.5 }\n").unwrap();
    let out = run(&[], Some(&config));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("hal") && stderr.contains("no such label"),
        "{stderr}"
    );
    std::fs::write(&config, "[keyword]\nthresholds = { computer = 1.5 }\n").unwrap();
    let out = run(&[], Some(&config));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("keyword.thresholds") && stderr.contains("hark.toml"),
        "{stderr}"
    );
}

#[test]
fn a_truncated_file_keeps_the_events_heard_before_the_damage() {
    let dir = tempfile::tempdir().unwrap();
    let wav = std::fs::read(speech()).unwrap();
    let cut = dir.path().join("cut.wav");
    std::fs::write(&cut, &wav[..wav.len() * 6 / 10]).unwrap();
    let run = |path: &Path| {
        hark()
            .args([
                "listen",
                "--json",
                "--mode",
                "keyword",
                "--threshold",
                "0.3",
                "--model-dir",
            ])
            .arg(models_dir())
            .arg(path)
            .output()
            .unwrap()
    };
    let out = run(&cut);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cut.wav") && stderr.contains("truncated"),
        "{stderr}"
    );
    let partial: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!partial.is_empty(), "events before the cut are reported");
    // They are the whole file's events up to the cut (1.4 s of 2.45 s).
    let whole = json_lines(&run(&speech()));
    let early: Vec<&serde_json::Value> = whole
        .iter()
        .filter(|e| e["end"].as_f64().unwrap() < 1.3)
        .collect();
    for (a, b) in early.iter().zip(&partial) {
        assert_eq!(a["keyword"], b["keyword"]);
        assert_eq!(a["end"], b["end"]);
    }
    assert_eq!(
        early.len(),
        partial
            .iter()
            .filter(|e| e["end"].as_f64().unwrap() < 1.3)
            .count()
    );
}

/// `hark listen --mode command` on the sample with the shipped intent model (grammar decoding),
/// its metadata edited by `edit`.
fn listen_with_shipped_intent(edit: impl FnOnce(&mut serde_json::Value)) -> Output {
    let tmp = common::edited_shipped_model(
        "intent.json",
        &["intent.onnx", "phonemes.onnx", "phonemes.json"],
        edit,
    );
    hark()
        .args(["listen", "--json", "--mode", "command", "--model-dir"])
        .arg(tmp.path())
        .arg(speech())
        .output()
        .unwrap()
}

/// `hark listen` refuses the shipped intent model with its metadata edited by `edit`, with an
/// error naming `intent.json` and `word`.
fn assert_shipped_intent_refused(edit: impl FnOnce(&mut serde_json::Value), word: &str) {
    let out = listen_with_shipped_intent(edit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("intent.json") && stderr.contains(word),
        "{stderr}"
    );
}

/// The intent event of `listen_with_shipped_intent`.
fn shipped_intent_event(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    json_lines(&listen_with_shipped_intent(edit))
        .into_iter()
        .find(|e| e["type"] == "intent")
        .expect("an intent event")
}

/// A grammar decode is judged by the model's judge (its score is the confidence), and a model
/// built before the judge, with the two thresholds instead, still loads and is judged by them
/// (its confidence is exp(gap)); with neither, the model is refused.
#[test]
fn grammar_decodes_are_judged_by_the_judge_or_the_older_thresholds() {
    let judged = |threshold: f64| {
        shipped_intent_event(|m| m["intent"]["grammar"]["judge"]["threshold"] = threshold.into())
    };
    let lenient = judged(1e-6);
    let strict = judged(1.0);
    assert_eq!(lenient["intent"], strict["intent"]);
    assert_eq!(lenient["understood"], true, "{lenient}");
    assert_eq!(strict["understood"], false, "{strict}");
    let score = lenient["confidence"].as_f64().unwrap();
    assert!(score > 0.0 && score < 1.0, "{lenient}");
    // The gate is a second condition: a score the threshold accepts is refused when the gate's
    // score (of the gap, the margin and the length) falls short of its threshold.
    let gated = |threshold: f64| {
        shipped_intent_event(|m| {
            let j = &mut m["intent"]["grammar"]["judge"];
            j["threshold"] = 1e-6.into();
            j["gate"]["threshold"] = threshold.into();
        })
    };
    assert_eq!(gated(-1e6)["understood"], true);
    let refused = gated(1e6);
    assert_eq!(refused["understood"], false, "{refused}");
    assert_eq!(refused["intent"], lenient["intent"]);
    assert_shipped_intent_refused(
        |m| {
            m["intent"]["grammar"]["judge"]["gate"]
                .as_object_mut()
                .unwrap()
                .remove("margin_log");
        },
        "margin_log",
    );
    // A judge fitted before the gate: a score the threshold accepts is refused when another
    // meaning comes closer than `min_margin`.
    let margin = |min_margin: f64| {
        shipped_intent_event(|m| {
            let j = &mut m["intent"]["grammar"]["judge"];
            j.as_object_mut().unwrap().remove("gate");
            j["threshold"] = 1e-6.into();
            j["min_margin"] = min_margin.into();
        })
    };
    assert_eq!(margin(0.0)["understood"], true);
    let unclear = margin(0.999);
    assert_eq!(unclear["understood"], false, "{unclear}");
    assert_eq!(unclear["intent"], lenient["intent"]);
    assert_shipped_intent_refused(
        |m| {
            m["intent"]["grammar"]["judge"]["min_margin"] = (-0.5).into();
        },
        "min_margin",
    );

    let thresholds = |gap: f64| {
        shipped_intent_event(|m| {
            let g = m["intent"]["grammar"].as_object_mut().unwrap();
            g.remove("judge");
            g.insert("gap_threshold".into(), gap.into());
            g.insert("out_of_grammar_threshold".into(), 1.0.into());
        })
    };
    let fits = thresholds(-5.0);
    assert_eq!(fits["intent"], lenient["intent"]);
    assert_eq!(fits["understood"], true, "{fits}");
    let ratio = fits["confidence"].as_f64().unwrap();
    assert!(ratio > (-5.0f64).exp() && ratio <= 1.0, "{fits}");
    let strict_gap = ratio.ln() + 1e-3;
    assert_eq!(thresholds(strict_gap.min(0.0))["understood"], false);

    assert_shipped_intent_refused(
        |m| {
            m["intent"]["grammar"]
                .as_object_mut()
                .unwrap()
                .remove("judge");
        },
        "judge",
    );
}
