//! The `hark` binary end to end: `features` output in every format and from every source, and
//! a clear error (naming the file, stream or device, exit code non-zero, no panic) for each kind
//! of bad input.

mod common;

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hark::features::{FeatureMatrix, npy};

fn hark() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hark"));
    // Keep the developer's own configuration and log settings out of the tests.
    cmd.env("HARK_CONFIG", "/nonexistent/hark.toml")
        .env_remove("RUST_LOG")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

fn speech() -> PathBuf {
    common::fixtures().join("frontend/speech.wav")
}

fn read_npy(path: &Path) -> FeatureMatrix {
    npy::read_f32(File::open(path).unwrap()).unwrap()
}

fn max_diff(a: &FeatureMatrix, b: &FeatureMatrix) -> f32 {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols));
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Runs a command expected to fail; returns its stderr after checking the failure is clean.
fn fails(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        !output.status.success(),
        "expected failure, got success: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    assert!(stderr.contains("error:"), "no error line: {stderr}");
    stderr
}

fn succeeds(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "failed: {stderr}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn features_npy_matches_the_python_reference() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("speech.npy");
    succeeds(
        hark()
            .args(["features"])
            .arg(speech())
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap(),
    );
    let want = read_npy(&common::fixtures().join("frontend/speech.default.mfcc.npy"));
    assert!(max_diff(&read_npy(&out), &want) <= 1e-4);

    let mel = dir.path().join("mel.npy");
    succeeds(
        hark()
            .args(["features", "--mel"])
            .arg(speech())
            .arg("--out")
            .arg(&mel)
            .output()
            .unwrap(),
    );
    let want = read_npy(&common::fixtures().join("frontend/speech.default.logmel.npy"));
    assert!(max_diff(&read_npy(&mel), &want) <= 1e-4);
}

#[test]
fn features_flags_and_params_file_set_the_front_end() {
    let dir = tempfile::tempdir().unwrap();
    let params: serde_json::Value = serde_json::from_reader(
        File::open(common::fixtures().join("frontend/params.json")).unwrap(),
    )
    .unwrap();
    let alt = dir.path().join("alt.json");
    std::fs::write(&alt, params["alt"].to_string()).unwrap();
    let out = dir.path().join("alt.npy");
    succeeds(
        hark()
            .args(["features", "--params"])
            .arg(&alt)
            .arg(speech())
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap(),
    );
    let want = read_npy(&common::fixtures().join("frontend/speech.alt.mfcc.npy"));
    assert!(max_diff(&read_npy(&out), &want) <= 1e-4);

    let text = succeeds(
        hark()
            .args([
                "features", "--json", "--n-mfcc", "20", "--window", "hamming",
            ])
            .arg(speech())
            .output()
            .unwrap(),
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["kind"], "mfcc");
    assert_eq!(doc["cols"], 20);
    assert_eq!(doc["rows"], 243);
    assert_eq!(doc["params"]["window"], "hamming");
    assert_eq!(doc["frames"].as_array().unwrap().len(), 243);
    assert_eq!(doc["frames"][0].as_array().unwrap().len(), 20);

    let text = succeeds(hark().args(["features"]).arg(speech()).output().unwrap());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 243);
    assert_eq!(lines[0].split_whitespace().count(), 13);

    let err = fails(
        hark()
            .args(["features", "--n-fft", "128"])
            .arg(speech())
            .output()
            .unwrap(),
    );
    assert!(err.contains("n_fft"), "{err}");
}

#[test]
fn raw_pcm_on_stdin_gives_the_same_frames_as_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("file.npy");
    succeeds(
        hark()
            .args(["features"])
            .arg(speech())
            .arg("--out")
            .arg(&from_file)
            .output()
            .unwrap(),
    );
    let mut reader = hound::WavReader::open(speech()).unwrap();
    let pcm: Vec<u8> = reader
        .samples::<i16>()
        .flat_map(|s| s.unwrap().to_le_bytes())
        .collect();
    let from_stdin = dir.path().join("stdin.npy");
    let mut child = hark()
        .args(["features", "-", "--raw", "s16le:16000", "--out"])
        .arg(&from_stdin)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&pcm).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(read_npy(&from_stdin), read_npy(&from_file));

    let err = fails(
        hark()
            .args(["features", "-"])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert!(err.contains("--raw"), "{err}");
    let err = fails(
        hark()
            .args(["features", "-", "--raw", "s16le:16000"])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert!(err.contains("stdin") && err.contains("no audio"), "{err}");
    let err = fails(
        hark()
            .args(["features", "-", "--raw", "s17le:16000"])
            .stdin(Stdio::null())
            .output()
            .unwrap(),
    );
    assert!(err.contains("s17le"), "{err}");
}

#[test]
fn other_rates_and_formats_are_resampled() {
    let text = succeeds(
        hark()
            .args(["features", "--json"])
            .arg(common::fixtures().join("formats/tone_44k1_stereo.flac"))
            .output()
            .unwrap(),
    );
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    // 0.5 s at 16 kHz = 8000 samples = 48 frames.
    assert_eq!(doc["rows"], 48);
}

fn write_bytes(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn bad_audio_files_give_one_clear_error_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let wav = std::fs::read(speech()).unwrap();
    let flac = std::fs::read(common::fixtures().join("formats/tone_44k1_stereo.flac")).unwrap();

    let mut cases: Vec<(PathBuf, &str)> = vec![
        (d.join("missing.wav"), "No such file"),
        (write_bytes(d, "empty.wav", b""), "empty"),
        (
            write_bytes(d, "notes.txt", b"turn on the kitchen light\n"),
            "not a recognised audio file",
        ),
        (
            write_bytes(d, "truncated.wav", &wav[..wav.len() / 2]),
            "truncated",
        ),
        (write_bytes(d, "header_only.wav", &wav[..44]), "truncated"),
        (
            write_bytes(d, "truncated.flac", &flac[..flac.len() / 2]),
            "truncated",
        ),
    ];
    // A WAV whose format chunk announces zero channels.
    let mut zero_channels = wav.clone();
    zero_channels[22] = 0;
    zero_channels[23] = 0;
    cases.push((write_bytes(d, "zero_channels.wav", &zero_channels), ""));
    // A FLAC whose audio frames are overwritten with garbage.
    let mut garbled = flac.clone();
    let len = garbled.len();
    for (i, b) in garbled[len / 3..len * 2 / 3].iter_mut().enumerate() {
        *b = (i * 131 % 251) as u8;
    }
    cases.push((write_bytes(d, "garbled.flac", &garbled), ""));
    // A well-formed WAV holding no samples.
    let silent = d.join("no_samples.wav");
    common::write_wav(&silent, &[], 16_000, 1, 16, false);
    cases.push((silent, "no audio samples"));
    // Unsupported rate.
    let slow = d.join("slow.wav");
    common::write_wav(
        &slow,
        &common::sine(200.0, 0.5, 2_000, 0.5),
        2_000,
        1,
        16,
        false,
    );
    cases.push((slow, "2000 Hz"));
    // NaN and infinity in float WAVs.
    for (name, value) in [("nan.wav", f32::NAN), ("inf.wav", f32::INFINITY)] {
        let mut tone = common::sine(440.0, 0.5, 16_000, 0.2);
        tone[2_000] = value;
        let path = d.join(name);
        common::write_wav(&path, &tone, 16_000, 1, 32, true);
        cases.push((path, "sample 2000 is not a finite number"));
    }
    for (path, expected) in cases {
        let err = fails(hark().arg("features").arg(&path).output().unwrap());
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            err.contains(&name),
            "{name}: error does not name the file: {err}"
        );
        assert!(
            err.contains(expected),
            "{name}: expected {expected:?} in {err}"
        );
        assert_eq!(err.lines().count(), 1, "{name}: one line expected: {err}");
    }
}

#[test]
fn audio_shorter_than_a_frame_gives_no_frames_and_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blip.wav");
    common::write_wav(
        &path,
        &common::sine(440.0, 0.5, 16_000, 0.01),
        16_000,
        1,
        16,
        false,
    );
    let output = hark()
        .args(["features", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("shorter than one analysis window"),
        "{stderr}"
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["rows"], 0);
}

#[test]
fn a_missing_device_is_a_clear_error() {
    let err = fails(
        hark()
            .args([
                "features",
                "--device",
                "no-such-microphone",
                "--duration",
                "1",
            ])
            .output()
            .unwrap(),
    );
    assert!(err.contains("no-such-microphone"), "{err}");
}

#[test]
fn configuration_errors_name_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[audio]\ndevice = \"hw:1\"\nbufer_ms = 100\n").unwrap();
    for args in [
        vec!["check-config", bad.to_str().unwrap()],
        vec!["--config", bad.to_str().unwrap(), "devices"],
    ] {
        let err = fails(hark().args(&args).output().unwrap());
        assert!(
            err.contains("bad.toml") && err.contains("bufer_ms"),
            "{err}"
        );
    }
    let out = succeeds(
        hark()
            .args(["check-config", "config/hark.toml"])
            .output()
            .unwrap(),
    );
    assert!(out.contains("config/hark.toml: OK"), "{out}");
    assert!(out.contains("buffer_ms = 2000"), "{out}");
    let out = succeeds(hark().args(["check-config"]).output().unwrap());
    assert!(out.contains("compiled-in defaults"), "{out}");
}

#[test]
fn check_config_never_prints_the_mqtt_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hark.toml");
    std::fs::write(
        &file,
        "[mqtt]\nusername = \"hark\"\npassword = \"s3cret-pw\"\n",
    )
    .unwrap();
    let out = succeeds(
        hark()
            .args(["check-config", file.to_str().unwrap()])
            .output()
            .unwrap(),
    );
    assert!(!out.contains("s3cret-pw"), "{out}");
    assert!(out.contains("username = \"hark\""), "{out}");
    assert!(out.contains("password = \"(set, not shown)\""), "{out}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.npy");
    let output = hark()
        .args(["--log-format", "json", "features"])
        .arg(speech())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let first = stderr.lines().next().expect("an info line");
    let v: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(v["level"], "INFO");
}

/// Capture through cpal from an ALSA `file` plugin device that replays the speech fixture: the
/// frames equal those of the file itself. Skipped where ALSA is not usable.
#[test]
fn microphone_capture_matches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("feed.raw");
    let mut reader = hound::WavReader::open(speech()).unwrap();
    let pcm: Vec<u8> = reader
        .samples::<i16>()
        .flat_map(|s| s.unwrap().to_le_bytes())
        .collect();
    std::fs::write(&raw, &pcm).unwrap();
    std::fs::write(
        dir.path().join(".asoundrc"),
        format!(
            "pcm.feed {{ type plug; slave {{ pcm {{ type file; slave.pcm \"null\"; file \"/dev/null\"; infile \"{}\"; format raw }} format S16_LE rate 16000 channels 1 }} }}\n",
            raw.display()
        ),
    )
    .unwrap();
    let config = dir.path().join("hark.toml");
    std::fs::write(&config, "[audio]\nbuffer_ms = 60000\n").unwrap();
    let out = dir.path().join("mic.npy");
    let output = hark()
        .env("HOME", dir.path())
        .arg("--config")
        .arg(&config)
        .args(["features", "--device", "feed", "--duration", "2", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains("audio device") {
        eprintln!("skipping: ALSA capture is not available here: {stderr}");
        return;
    }
    assert!(output.status.success(), "{stderr}");
    let got = read_npy(&out);
    let want = read_npy(&common::fixtures().join("frontend/speech.default.mfcc.npy"));
    assert_eq!(got.rows, 198, "2 s at 16 kHz");
    let prefix = FeatureMatrix {
        data: want.data[..198 * 13].to_vec(),
        rows: 198,
        cols: 13,
    };
    assert!(max_diff(&got, &prefix) <= 1e-4);
}

#[test]
fn an_error_names_each_cause_once() {
    use hark::models::ModelError;
    use hark::report::error_report;
    let missing = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
    let e = anyhow::Error::new(ModelError::Read {
        path: "models/phonemes-wake.json".into(),
        source: missing,
    })
    .context("loading the wake-word verifier");
    assert_eq!(
        error_report(&e),
        "loading the wake-word verifier: models/phonemes-wake.json: no such file"
    );
    let plain = anyhow::anyhow!("inner").context("outer");
    assert_eq!(error_report(&plain), "outer: inner");
}

#[test]
fn a_model_folder_without_the_verifier_metadata_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    for entry in std::fs::read_dir(&models).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name != "phonemes-wake.json" {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
        }
    }
    let out = hark()
        .args(["listen", "--model-dir"])
        .arg(dir.path())
        .arg(speech())
        .output()
        .unwrap();
    let err = fails(out);
    assert!(err.contains("phonemes-wake.json"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}
